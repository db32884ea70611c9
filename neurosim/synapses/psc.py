"""Post-synaptic current (PSC) filters.

A spike train a(t) = sum_p w_p delta(t - t_p) becomes a current by convolution
with the unit-area kernel

    h(t) = t^n exp(-t/tau_s) / (n! tau_s^(n+1))   for t >= 0, else 0.

n = 0 is the exponential synapse, n = 1 the alpha synapse. Because h has area
1, one spike of weight w delivers a total charge (time integral of current) w.

Three ways to apply it, all giving the same numbers:

* :meth:`PSCFilter.kernel` -- the formula;
* :meth:`PSCFilter.filter` -- the exact sum of kernels at any times;
* :meth:`PSCFilter.make_state` -- a state-space filter for simulations: a cascade
  of n + 1 identical exponential stages, advanced with the exact matrix
  exponential, so it is exact (not an approximation) for spikes that arrive on
  step boundaries. Spikes inside a step can be added exactly too, with ``lag``
  (the time from the spike to the step boundary): stage k then receives
  ``w * h_k(lag)``, the value that stage would have reached.
"""
import math

import numpy as np

from .. import validation as check

_CHUNK = 1 << 22  # elements of the (times x spikes) table in one go of filter()


MAX_ORDER = 1000  # a cascade of n + 1 stages per neuron; no synapse needs more


class PSCFilter:
    """Unit-area PSC kernel ``t^n exp(-t/tau_s) / (n! tau_s^(n+1))``.

    Parameters
    ----------
    tau_s : float
        Synaptic time constant in seconds (> 0).
    n : int
        Order (>= 0): 0 exponential, 1 alpha, n a cascade of n + 1 exponentials.
    """

    def __init__(self, tau_s=0.005, n=0):
        self.tau_s = check.positive("tau_s", tau_s)
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
            raise TypeError(f"n must be an integer >= 0 (the kernel's order), got {n!r}")
        if not 0 <= n <= MAX_ORDER:
            raise ValueError(f"n must be an integer in [0, {MAX_ORDER}] (the kernel's order; its state has n + 1 "
                             f"stages per neuron), got {n!r}")
        self.n = int(n)

    def __repr__(self):
        return f"PSCFilter(tau_s={self.tau_s!r}, n={self.n!r})"

    def __eq__(self, other):
        return isinstance(other, PSCFilter) and (self.tau_s, self.n) == (other.tau_s, other.n)

    def __hash__(self):
        return hash((PSCFilter, self.tau_s, self.n))

    def kernel(self, t, order=None):
        """Kernel value h(t) in 1/s; 0 for t < 0.

        Parameters
        ----------
        t : float or array_like
            Time since the spike in seconds, any shape.
        order : int, optional
            Evaluate the kernel of another order (used for the cascade stages).

        Returns
        -------
        ndarray, same shape as ``t``
        """
        t = check.real_array("t", t, finite=False)
        if np.isnan(t).any():
            raise ValueError("t must not contain NaN (times in seconds; +-inf are allowed)")
        if order is not None:
            order = check.check_int("order", order, low=0)
        return self._kernel(t, self.n if order is None else int(order))

    def _kernel(self, t, n):
        """``kernel`` for a float array ``t`` already checked (used in the inner loop of ``filter``)."""
        x = np.maximum(t, 0.0) / self.tau_s
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            if n <= 170:  # n! is a finite float
                h = x**n * np.exp(-x) / (math.factorial(n) * self.tau_s)
            else:  # in logs: math.factorial(10**12) would never finish, and x**n overflows
                from scipy.special import gammaln, xlogy

                h = np.exp(xlogy(n, x) - x - gammaln(n + 1.0)) / self.tau_s
        return np.where(t >= 0, np.nan_to_num(h), 0.0)

    def filter(self, spike_times, t, weights=None):
        """Exact filtered spike train: ``y(t) = sum_p w_p h(t - t_p)``.

        Parameters
        ----------
        spike_times : array_like (S,) or list of array_like
            Spike times in seconds of one train, or a list of trains.
        t : array_like, shape (T,)
            Times (s) at which to evaluate.
        weights : float or array_like (S,), optional
            Weight of each spike (default 1) for one train; a float or one
            number per train for a list of trains.

        Returns
        -------
        ndarray, shape (T,) for one train, (T, len(list)) for a list
        """
        t = check.finite_array("t", t)
        if t.ndim > 1:
            raise ValueError(f"t must be a scalar or 1-D array of times (s), got shape {t.shape}")
        t = t.ravel()
        if isinstance(spike_times, (list, tuple)) and (len(spike_times) == 0 or np.ndim(spike_times[0]) == 1):
            w = 1.0 if weights is None else check.real_array("weights", weights)
            if np.ndim(w) > 1 or np.size(w) not in (1, len(spike_times)):
                raise ValueError(f"weights for a list of {len(spike_times)} trains must be a number or one per "
                                 f"train, got shape {np.shape(w)}")
            w = np.broadcast_to(w, (len(spike_times),))
            out = np.empty((t.size, len(spike_times)))
            for i, train in enumerate(spike_times):
                out[:, i] = self.filter(train, t, w[i])
            return out
        ts = check.finite_array("spike_times", spike_times).ravel()
        w = check.finite_array("weights", 1.0 if weights is None else weights)
        if w.ndim > 1 or w.size not in (1, ts.size):
            raise ValueError(f"weights must be a number or one per spike, shape ({ts.size},), got shape {w.shape}")
        w = np.broadcast_to(w, ts.shape)
        out = np.zeros(t.size)
        if ts.size == 0:
            return out
        rows = max(1, _CHUNK // ts.size)
        for a in range(0, t.size, rows):  # bounded memory for long trains
            out[a:a + rows] = self._kernel(t[a:a + rows, None] - ts[None, :], self.n) @ w
        return out

    def transition(self, dt):
        """Exact ``(n+1, n+1)`` matrix advancing the cascade stages by ``dt`` seconds.

        ``A[i, j] = (dt/tau)^(i-j) / (i-j)! * exp(-dt/tau)`` for i >= j: the matrix
        exponential of the cascade, computed in closed form.
        """
        dt = check.positive("dt", dt)
        x = dt / self.tau_s
        A = np.zeros((self.n + 1, self.n + 1))
        for i in range(self.n + 1):
            for j in range(i + 1):
                A[i, j] = x ** (i - j) / math.factorial(i - j) * math.exp(-x)
        return A

    def make_state(self, n_targets, dt):
        """A :class:`PSCState` filtering ``n_targets`` inputs with step ``dt`` (s)."""
        return PSCState(self, n_targets, dt)


class PSCState:
    """Discrete-time state of a PSC filter for many targets at once.

    ``x[k]`` (shape (n_targets,)) is stage k of the cascade; ``x[n]`` is the
    current. Stage 0 obeys ``tau dx0/dt = -x0`` and jumps by ``w / tau`` per
    spike of weight w; stage k obeys ``tau dxk/dt = x(k-1) - xk``.

    Parameters
    ----------
    synapse : PSCFilter
    n_targets : int
    dt : float
        Step in seconds.
    """

    def __init__(self, synapse, n_targets, dt):
        if not isinstance(synapse, PSCFilter):
            raise TypeError(f"synapse must be a PSCFilter, got {type(synapse).__name__}")
        self.synapse = synapse
        self.dt = check.positive("dt", dt)
        self.n_targets = check.check_int("n_targets", n_targets, low=1)
        check.check_alloc("n_targets", self.n_targets, 2 * (synapse.n + 1) * self.n_targets)  # x and its buffer
        self.A = synapse.transition(dt)
        self.decay = float(self.A[0, 0])
        self.x = np.zeros((synapse.n + 1, self.n_targets))
        self._buffer = np.empty_like(self.x)  # for the cascade product: no allocation per step
        self.inv_tau = 1.0 / synapse.tau_s

    @property
    def current(self):
        """The filtered current, shape (n_targets,) (a view; copy to keep it)."""
        return self.x[-1]

    def advance(self):
        """Let the state decay over one step of ``dt`` (no new input)."""
        if self.synapse.n == 0:
            self.x *= self.decay
        else:
            # x is shared by reference with the network, so update it in place
            np.matmul(self.A, self.x, out=self._buffer)
            self.x[...] = self._buffer

    def add(self, increment, lag=None):
        """Add spikes of total weight ``increment`` (per target) arriving now.

        Parameters
        ----------
        increment : float or ndarray (n_targets,)
            Summed weights of the spikes (charge they deliver).
        lag : float, optional
            The spikes happened ``lag`` seconds ago (0 <= lag): the stages get the
            exact values they would have now, ``increment * h_k(lag)``.

        Raises
        ------
        TypeError, ValueError
            ``increment`` not real, finite, a number or shape (n_targets,); ``lag`` not a finite number >= 0.
        """
        increment = check.scalar_or_shape("increment", increment, self.n_targets)
        if lag is not None:
            lag = check.positive("lag", lag, allow_zero=True)
        self._add(increment, lag)

    def _add(self, increment, lag=None):
        """:meth:`add` without input checks (increment a float or float array (n_targets,))."""
        if lag is None or lag == 0:
            self.x[0] += increment * self.inv_tau
            return
        for k in range(self.synapse.n + 1):
            self.x[k] += increment * float(self.synapse._kernel(np.float64(lag), k))

    def step(self, increment=0.0, lag=None):
        """Advance one step, then add spikes arriving at the new time; return the current.

        With increments ``inc[j]`` for spikes at ``j * dt``, the value returned
        at step k is ``sum_j inc[j] h((k - j) dt)`` exactly. ``increment`` and
        ``lag`` are checked as in :meth:`add`, before the state changes.
        """
        increment = check.scalar_or_shape("increment", increment, self.n_targets)
        if lag is not None:
            lag = check.positive("lag", lag, allow_zero=True)
        return self._step(increment, lag)

    def _step(self, increment=0.0, lag=None):
        """:meth:`step` without input checks (the per-step call of :func:`filter_binned`)."""
        self.advance()
        self._add(increment, lag)
        return self.x[-1]


def filter_binned(synapse, binned, dt):
    """Filter a binned spike train with the exact state-space step.

    Parameters
    ----------
    synapse : PSCFilter
    binned : array_like, shape (steps,) or (steps, N)
        Spike train with spikes of height 1/dt (e.g. from :func:`neurosim.bin_spikes`);
        row k holds spikes at time ``k * dt``.
    dt : float
        Bin width in seconds.

    Returns
    -------
    ndarray, same shape as ``binned``
        Current at times ``k * dt``; equals ``synapse.filter`` at those times.
    """
    if not isinstance(synapse, PSCFilter):
        raise TypeError(f"synapse must be a PSCFilter, got {type(synapse).__name__}")
    binned = check.finite_array("binned", binned)
    if binned.ndim not in (1, 2) or binned.size == 0:
        raise ValueError(f"binned must have shape (steps,) or (steps, N) with steps, N >= 1, got {binned.shape}")
    flat = binned.reshape(len(binned), -1)
    state = PSCState(synapse, flat.shape[1], dt)
    out = np.empty_like(flat)
    for k in range(len(flat)):
        out[k] = state._step(flat[k] * dt)
    return out.reshape(binned.shape)


__all__ = ["PSCFilter", "PSCState", "filter_binned"]
