"""Leaky integrate-and-fire neurons in normalized units, simulated exactly.

Below threshold ``tau_m dv/dt = J - v``. When v reaches 1 the neuron spikes,
v is held at 0 for ``tau_ref`` seconds, then integrates again from 0.
For input that is constant over each step the update is exact: v decays with
exp(-dt/tau_m), and both the spike time and the end of the refractory period
are located inside the step, so rates match the analytic curve at any dt.

Physical units: see :class:`LIFUnits`.
"""
import warnings

import numpy as np

from ... import validation as check
from ...spikes import SimulationResult, SpikeRecorder
from ...spikes.result import no_neurons
from ..rates import lif_rate_unchecked, lif_rate  # noqa: F401  (lif_rate re-exported: neurosim.neurons.lif.lif_rate)
from ...signals import as_input
from .. import noise as noise_mod
from ..._optional import numba_enabled
from ..base import Declares, StateVar
from .._limits import MAX_RECORD_BYTES, MAX_STEPS, check_work, flag, n_steps


_WORDS_FROM = 16384  # population size from which the threshold test scans 8-byte words (measured crossover ~12k)
_EMPTY = np.zeros(0)  # shared "no spike times" result (size 0: nothing to mutate)
_NOISE_BLOCK = 1 << 16  # random numbers per kind drawn at once (512 kB: stays in cache), whole steps
_MAX_NOISE_DRAWS = 64  # spikes in one step a white-noise neuron may fire (tau_ref >= dt / this)


class LIF(Declares):
    """Leaky integrate-and-fire neuron model (normalized: threshold 1, reset 0).

    Parameters
    ----------
    tau_m : float or array_like (n,)
        Membrane time constant in seconds (> 0). Also called tau_RC.
    tau_ref : float or array_like (n,)
        Absolute refractory period in seconds (>= 0).

    Either parameter may be an array with one value per neuron (heterogeneous
    populations, as Brian2's per-neuron parameters or PyNN's parameter arrays); a
    population or simulation of n neurons then needs exactly n values
    (:meth:`check_population`). The analytic functions broadcast against them.
    """

    # the state a network allocates, probes, snapshots and restores for every LIF neuron
    state = {"v": StateVar.builtin(0.0, "1", "membrane voltage, normalized: reset 0, threshold 1"),
             "refractory_end": StateVar.builtin(-np.inf, "s",
                                                "absolute time from which the neuron integrates again")}

    def __init__(self, tau_m=0.02, tau_ref=0.002):
        self.tau_m = check.per_neuron("tau_m", tau_m)
        self.tau_ref = check.per_neuron("tau_ref", tau_ref, allow_low=True)
        sizes = {np.size(x) for x in (self.tau_m, self.tau_ref) if isinstance(x, np.ndarray)}
        if len(sizes) > 1:
            raise ValueError(f"tau_m and tau_ref given per neuron must have the same length, got {sorted(sizes)}")

    def __repr__(self):
        return f"LIF(tau_m={self.tau_m!r}, tau_ref={self.tau_ref!r})"

    @property
    def per_neuron(self):
        """Number of neurons the per-neuron parameters describe, or None when all are scalars."""
        return _per_neuron_size(self.tau_m, self.tau_ref)

    def check_population(self, n):
        """Refuse per-neuron parameters whose length is not ``n`` (a population or simulation of n neurons)."""
        _check_per_neuron("LIF", self.per_neuron, n)

    def _max_rate(self):
        """1/tau_ref (inf where tau_ref = 0), a float or per-neuron array."""
        with np.errstate(divide="ignore"):
            return 1.0 / np.asarray(self.tau_ref) if isinstance(self.tau_ref, np.ndarray) else (
                np.inf if self.tau_ref == 0 else 1.0 / self.tau_ref)

    # ---- analytic tuning curve -------------------------------------------------
    def rate(self, J):
        """Analytic firing rate G(J) = 1 / (tau_ref - tau_m ln(1 - 1/J)) in Hz.

        Parameters
        ----------
        J : float or array_like
            Normalized input current (threshold at J = 1), real. Any shape; +inf
            (rate 1/tau_ref) and -inf (rate 0) are valid, NaN is not.

        Returns
        -------
        ndarray of float, the shape of J (broadcast against per-neuron parameters (n,))
            0 for J <= 1, approaching 1/tau_ref as J -> inf.
        """
        J = check.real_array("J", J, finite=False)
        if np.isnan(J).any():
            raise ValueError("J must not contain NaN")
        J, tau_m, tau_ref = self._broadcast("J", J)
        rates = np.zeros(J.shape)
        above = J > 1
        rates[above] = lif_rate_unchecked(J[above] - 1.0, tau_m[above], tau_ref[above])
        return rates

    def _broadcast(self, name, x):
        """``x`` and the parameters broadcast together (per-neuron parameters run along the last axis)."""
        try:
            return np.broadcast_arrays(x, np.asarray(self.tau_m, dtype=float), np.asarray(self.tau_ref, dtype=float))
        except ValueError:
            raise ValueError(f"{name} of shape {x.shape} does not broadcast against the {self.per_neuron} "
                             f"per-neuron parameters (its last axis must be {self.per_neuron} or 1)") from None

    def inverse_rate(self, rate):
        """Input J that gives firing rate ``rate`` (Hz); the inverse of :meth:`rate`.

        Parameters
        ----------
        rate : float or array_like
            Rates in Hz, in [0, 1/tau_ref). A rate of 0 maps to the threshold J = 1.

        Returns
        -------
        ndarray, same shape as ``rate``
        """
        rate = check.finite_array("rate", rate)
        rate, tau_m, tau_ref = self._broadcast("rate", rate)
        max_rate = np.broadcast_to(self._max_rate(), rate.shape)
        if np.any(rate < 0) or np.any(rate >= max_rate):
            raise ValueError(f"rate must be in [0, 1/tau_ref) = [0, {np.min(self._max_rate()):g}) Hz, got {rate}")
        J = np.ones(rate.shape)
        pos = rate > 0
        # 1/(J-1) = expm1((1/r - tau_ref)/tau_m)  (the rate formula solved for J)
        J[pos] = 1.0 + 1.0 / np.expm1((1.0 / rate[pos] - tau_ref[pos]) / tau_m[pos])
        return J

    def gain_bias(self, max_rates, intercepts):
        """Per-neuron gain and bias so that J = gain * x + bias (Nengo-style populations).

        A neuron starts firing at x = intercept (J = 1 there) and fires at
        ``max_rate`` at x = 1.

        Parameters
        ----------
        max_rates : array_like, shape (N,)
            Rates in Hz at x = 1, in (0, 1/tau_ref).
        intercepts : array_like, shape (N,)
            Values of x where firing starts, in [-1, 1).

        Returns
        -------
        gain, bias : ndarray, shape (N,)
        """
        max_rates = check.finite_array("max_rates", max_rates)
        intercepts = check.finite_array("intercepts", intercepts)
        if max_rates.ndim > 1 or intercepts.ndim > 1:
            raise ValueError(f"max_rates and intercepts must be numbers or 1-D arrays (one per neuron), got shapes "
                             f"{max_rates.shape} and {intercepts.shape}")
        if max_rates.size != intercepts.size and max_rates.ndim and intercepts.ndim:
            raise ValueError(f"max_rates and intercepts must have the same length (one per neuron), got "
                             f"{max_rates.size} and {intercepts.size}")
        top = self._max_rate()
        if np.any(max_rates <= 0) or np.any(max_rates >= top):
            raise ValueError(f"max_rates must be in (0, 1/tau_ref) = (0, {np.min(top):g}) Hz, got {max_rates}")
        if np.any(intercepts >= 1) or np.any(intercepts < -1):
            raise ValueError(f"intercepts must be in [-1, 1), got {intercepts}")
        J_max = self.inverse_rate(max_rates)
        gain = (J_max - 1.0) / (1.0 - intercepts)
        bias = 1.0 - gain * intercepts
        return gain, bias

    # ---- simulation ------------------------------------------------------------
    def simulate(self, J, T, dt=1e-3, rng=None, v0=None, record_v=False, noise=0.0, tau_noise=None,
                 max_steps=MAX_STEPS, max_record_bytes=MAX_RECORD_BYTES):
        """Simulate N neurons for T seconds with exact, sub-step spike timing.

        Parameters
        ----------
        J : float, array_like (N,) or (steps, N), neurosim.TimedArray, or callable f(t) -> (N,)
            Normalized input: a scalar (one neuron), constant per neuron, one row per
            step, samples on their own grid, or a function of time (s) evaluated at
            the start of each step. Held constant within each step; see
            :mod:`neurosim.signals` for what holds between samples.
        T : float
            Duration in seconds; a multiple of ``dt``.
        dt : float
            Step in seconds. Without noise, accuracy does not depend on it for step-wise constant input.
        rng : int, numpy.random.Generator or SeedSequence, optional
            For ``v0="uniform"`` and the noise.
        v0 : None, "uniform", float or array_like (N,)
            Initial voltage: 0 (default), uniform in [0, 1), or given values (< 1).
        record_v : bool
            Also return ``t`` (steps,) and ``v`` (steps, N): the voltage at the end of each step.
        noise : float
            sigma >= 0, the stationary standard deviation of the free membrane (normalized
            units): ``dv/dt = (J - v)/tau_m + sigma sqrt(2/tau_m) xi`` (Brian2's convention),
            stepped exactly; threshold crossings inside a step are drawn from the
            Brownian-bridge probability. See :mod:`neurosim.neurons.noise`.
        tau_noise : float, optional
            Coloured noise: an Ornstein-Uhlenbeck input current with this time constant (s),
            scaled so that the free membrane's stationary std is still ``noise``.
            With noise the steps run compiled (numba) when numba is importable and the environment
            variable NEUROSIM_BACKEND is not "numpy", with the numpy step's spikes (the same draws).
        max_steps, max_record_bytes : int
            Limits on T/dt and on the recorded traces; a larger run is refused before it starts.

        Returns
        -------
        SimulationResult
            ``spike_times`` (list of N arrays, s), ``events()``, and ``t``, ``v`` when recorded.
        """
        steps = n_steps(T, dt)
        record_v = flag("record_v", record_v)
        J = as_input(J, steps, dt, name="J")
        n = (1 if self.per_neuron is None else self.per_neuron) if J.n is None else J.n
        J.broadcast(n)
        self.check_population(n)
        check_work(steps, n, int(record_v), max_steps, max_record_bytes)
        rng = check.as_rng(rng)
        if n == 0:  # J of shape (0,): no neurons, an empty result of the right shapes
            return no_neurons(T, dt, steps, ["v"] if record_v else [])
        state = LIFState(self, n, dt, v0=self._initial_v(v0, n, rng), noise=noise, tau_noise=tau_noise, rng=rng)
        recorder = SpikeRecorder(n, dt)
        v_trace = np.empty((steps, n)) if record_v else None
        if state.sigma > 0 and state.spikes_per_step <= _MAX_NOISE_DRAWS and numba_enabled():
            from .compiled import simulate_noisy
            simulate_noisy(state, J, steps, recorder, v_trace)
            t = dt * np.arange(1, steps + 1) if record_v else None
            return SimulationResult(recorder, T, t=t, **({"v": v_trace} if record_v else {}))
        J_const = J.at(0) if J.constant else None
        J_decayed = J_const * state.one_minus_decay if J.constant else None
        for k in range(steps):
            J_step = J_const if J_const is not None else np.broadcast_to(J.at(k), (n,))
            idx, offsets = state._step(J_step, k * dt, J_decayed)
            recorder._record(k, idx, offsets)
            if v_trace is not None:
                v_trace[k] = state.v
        traces = {"v": v_trace} if record_v else {}
        t = dt * np.arange(1, steps + 1) if record_v else None
        return SimulationResult(recorder, T, t=t, **traces)

    def _initial_v(self, v0, n, rng):
        if v0 is None:
            return np.zeros(n)
        if isinstance(v0, str):
            if v0 != "uniform":
                raise ValueError(f"v0 must be None, 'uniform' or numbers, got {v0!r}")
            return rng.uniform(0.0, 1.0, size=n)
        v0 = check.finite_array("v0", v0)
        if v0.ndim > 1 or v0.size not in (1, n):
            raise ValueError(f"v0 must be a scalar or shape ({n},), got shape {v0.shape}")
        if np.any(v0 >= 1):
            raise ValueError("v0 must be below the threshold 1")
        return np.broadcast_to(v0, (n,)).astype(float)


class LIFState:
    """Mutable state of N LIF neurons and the exact step that advances it.

    ``neurosim.Network`` uses this same step for its LIF populations.

    Parameters
    ----------
    model : LIF
        Per-neuron parameters (arrays of length m) are repeated for ``n / m`` trials (trial-major);
        n must be a multiple of m.
    n : int
        Number of neurons.
    dt : float
        Step in seconds.
    v0 : ndarray (n,), optional
        Initial voltages (default 0).
    noise, tau_noise : float
        Membrane noise: stationary std of the free membrane (normalized) and, for
        coloured noise, the OU current's time constant (s); see :meth:`LIF.simulate`.
    rng : int, Generator, SeedSequence, or a list of them (one per trial, trial-major blocks of n / B)
        Source of the noise (see :class:`neurosim.neurons.noise.NoiseDraws`).

    Notes
    -----
    Without noise, the step keeps a short list of the refractory neurons instead
    of scanning ``refractory_end`` every step. After writing ``refractory_end``
    (or ``v``) from outside, call :meth:`forget_refractory`; stepping with a
    ``t0`` earlier than the previous one rebuilds the list by itself.
    """

    def __init__(self, model, n, dt, v0=None, noise=0.0, tau_noise=None, rng=None):
        if not isinstance(model, LIF):
            raise TypeError(f"model must be a neurosim.LIF, got {type(model).__name__}")
        self.model = model
        n = check.check_int("n", n, low=1)
        check.check_alloc("n", n, 4 * n)  # v, refractory_end and, with noise, two scratch arrays (float64)
        self.dt = check.positive("dt", dt)
        if v0 is None:
            self.v = np.zeros(n)
        else:
            v0 = check.finite_array("v0", v0)
            if v0.ndim > 1 or v0.size not in (1, n):
                raise ValueError(f"v0 must be a scalar or shape ({n},), got shape {v0.shape}")
            self.v = np.broadcast_to(v0, (n,)).astype(float)  # a copy: the state owns it
        self.refractory_end = np.full(n, -np.inf)  # absolute time (s) each neuron may integrate again
        self._refr, self._refr_t0 = None, -np.inf  # candidates for refractory neurons (see _refractory)
        self._above = None  # threshold test buffer, padded to whole 8-byte words (see _above_threshold)
        if n >= _WORDS_FROM:
            self._above = np.zeros(-(-n // 8) * 8, dtype=bool)
            self._above_words, self._above_bytes = self._above.view(np.uint64), self._above.reshape(-1, 8)
        # per-neuron parameters: one value per neuron, repeated per trial (n = B * len, trial-major)
        self.tau_m, self.tau_ref = (_tiled(x, n, name) for x, name in ((model.tau_m, "tau_m"),
                                                                        (model.tau_ref, "tau_ref")))
        self.min_tau_ref = float(np.min(self.tau_ref))
        self.decay = np.exp(-self.dt / self.tau_m)
        self.one_minus_decay = -np.expm1(-self.dt / self.tau_m)
        self.sigma, self.tau_noise = noise_mod.check_noise(noise, tau_noise)
        if self.sigma > 0 and self.tau_noise is not None and isinstance(self.tau_m, np.ndarray):
            raise ValueError("coloured membrane noise (tau_noise) with a per-neuron tau_m is not supported yet: its "
                             "exact joint step is written for one tau_m (use white noise, or one population per "
                             "value)")
        self.eta = None
        self._block = None  # this step's draws when drawn ahead (draw())
        for i, r in enumerate(rng if isinstance(rng, (list, tuple)) else [rng]):
            check.as_rng(r, name="rng" if not isinstance(rng, (list, tuple)) else f"rng[{i}]")  # even when unused
        if self.sigma > 0:
            self.draws = noise_mod.NoiseDraws(rng, n)
            self.step_std = self.sigma * np.sqrt(-np.expm1(-2.0 * self.dt / self.tau_m))
            self.bridge_rate = 2.0 * self.sigma**2 / self.tau_m  # bridge variance per second integrated
            self.bridge_var = 2.0 * self.sigma**2 * self.dt / self.tau_m
            self._a, self._x = np.empty(n), np.empty(n)  # scratch of the noisy step
            # every number a step may use is drawn ahead, a fixed count per neuron (the unused ones are
            # discarded), so a compiled step consumes the same streams: white noise needs one normal and
            # one uniform for the step plus one of each per further spike that fits in the step
            # (a spike every tau_ref at most); coloured noise two normals (v and eta), no uniforms
            self.spikes_per_step = _spikes_per_step(self.dt, self.min_tau_ref)
            if self.tau_noise is None:
                if self.spikes_per_step > _MAX_NOISE_DRAWS:
                    raise ValueError(f"white membrane noise needs tau_ref >= dt / {_MAX_NOISE_DRAWS} "
                                     f"(got tau_ref = {self.min_tau_ref!r} s, dt = {self.dt!r} s): each step draws "
                                     f"one normal and one uniform per neuron for every spike that fits in the step; "
                                     f"use a smaller dt or a longer tau_ref")
                self.draws_per_step = (self.spikes_per_step, self.spikes_per_step)
            else:
                self.draws_per_step = (2, 0)
            check.check_alloc("n", n, sum(self.draws_per_step) * n)  # one step's draws, at the least
            # steps drawn at once: fixed by the (per-trial) population size, never by the backend or the run
            self.draw_steps = max(1, _NOISE_BLOCK // (sum(self.draws_per_step) * self.draws.n))
            self._buf, self._buf_pos = None, 0
            if self.tau_noise is not None:
                self.Phi, self.L = noise_mod.coloured_noise_transition(self.sigma, model.tau_m, self.tau_noise, self.dt)
                s_eta = self.sigma * np.sqrt((model.tau_m + self.tau_noise) / self.tau_noise)
                self.eta = s_eta * self.draws.block(1)[0][0]  # the noise current starts stationary

    def draw(self):
        """Draw the next step's random numbers now (the network runtime does this before its commit)."""
        if self.sigma > 0:
            z, u = self.take_draws(1)
            self._block = z[0], u[0]

    def take_draws(self, steps):
        """The random numbers of the next steps, at most ``steps`` (at least one): standard normals
        ``(s, K_n, n)`` and uniforms ``(s, K_u, n)``, ``(K_n, K_u) = draws_per_step``.

        They come from blocks of ``draw_steps`` steps drawn at once; a caller that steps
        one by one and one that takes many steps per call consume the same numbers.
        Read only: the arrays are shared with snapshots.
        """
        if self._buf is None or self._buf_pos == self.draw_steps:
            self._buf = self.draws.steps(self.draw_steps, *self.draws_per_step)
            self._buf_pos = 0
        a = self._buf_pos
        b = min(self.draw_steps, a + steps)
        self._buf_pos = b
        return self._buf[0][a:b], self._buf[1][a:b]

    def draw_blocks(self, z_out, u_out):
        """Draw whole blocks of ``draw_steps`` steps into ``z_out`` (B draw_steps, K_n, n) and ``u_out``
        (B draw_steps, K_u, n), C-contiguous float64, consuming the generators exactly as B calls of
        :meth:`take_draws` that each take a whole block would (the same numbers, in the same place).

        Only when no drawn steps are left to hand out (``draws_left() == draw_steps``).
        """
        if self._buf is not None and self._buf_pos < self.draw_steps:
            raise ValueError(f"draw_blocks: {self.draw_steps - self._buf_pos} drawn steps are still to be taken")
        ds = self.draw_steps
        if z_out.shape[0] % ds or u_out.shape[0] != z_out.shape[0]:
            raise ValueError(f"draw_blocks: {z_out.shape[0]} steps is not a whole number of blocks of {ds}")
        for b in range(0, z_out.shape[0], ds):
            self.draws.steps(ds, *self.draws_per_step, out=(z_out[b:b + ds], u_out[b:b + ds]))
        self._buf, self._buf_pos = None, 0

    def give_back(self, steps):
        """Hand the last ``steps`` steps of draws out again at the next :meth:`take_draws` (a caller that took
        them, from the current block, and ran fewer steps)."""
        if not 0 <= steps <= self._buf_pos:
            raise ValueError(f"steps must be in [0, {self._buf_pos}] (taken from the current block), got {steps}")
        self._buf_pos -= steps

    def draws_left(self):
        """Steps :meth:`take_draws` can hand out before it draws the next block (the block size if none is drawn)."""
        return self.draw_steps - self._buf_pos if self._buf is not None and self._buf_pos < self.draw_steps \
            else self.draw_steps

    def noise_state(self):
        """The noise's run state (generators, coloured current, drawn numbers), for a snapshot."""
        return (self.draws.state(), None if self.eta is None else self.eta.copy(), self._block, self._buf,
                self._buf_pos)

    def set_noise_state(self, state):
        """Restore what :meth:`noise_state` returned."""
        gens, eta, self._block, self._buf, self._buf_pos = state
        self.draws.set_state(gens)
        if eta is not None:
            np.copyto(self.eta, eta)

    def step(self, J, t0, J_decayed=None):
        """Advance all neurons from ``t0`` to ``t0 + dt`` with input J held constant.

        Parameters
        ----------
        J : float or ndarray, shape (n,)
            Input during this step (finite).
        t0 : float
            Time (s) at the start of the step (finite).
        J_decayed : ndarray (n,), optional
            ``J * (1 - exp(-dt/tau_m))`` when the caller has it precomputed (constant input).

        Returns
        -------
        indices : ndarray of int
            Neurons that spiked (a neuron appears again for each extra spike in the step).
        offsets : ndarray of float
            Spike times in seconds after ``t0``.

        Raises
        ------
        TypeError, ValueError
            J or J_decayed not real, finite, scalar or shape (n,); t0 not a finite number.
        """
        n = self.v.size
        J = np.broadcast_to(check.scalar_or_shape("J", J, n), (n,))
        t0 = check.check_number("t0", t0)
        if J_decayed is not None:
            J_decayed = check.scalar_or_shape("J_decayed", J_decayed, n)
        return self._step(J, t0, J_decayed)

    def _step(self, J, t0, J_decayed=None):
        """:meth:`step` without input checks (the runtime's per-step call): J a float array (n,)."""
        if self.sigma > 0:
            return self._step_noisy(J, t0, J_decayed)
        v = self.v
        # exact solution of tau_m dv/dt = J - v over the whole step
        v *= self.decay
        v += J_decayed if J_decayed is not None else J * self.one_minus_decay
        return self._step_updated(J, t0)

    def step_conductance(self, J, g, g_E, t0):
        """Advance one step with conductance input held constant over it (exact for that input).

        In normalized units, ``tau_m dv/dt = J - v + sum_k g_k (E_k - v)`` with g in units of
        the leak conductance is the leaky membrane ``tau_eff dv/dt = J_eff - v`` with
        ``tau_eff = tau_m / (1 + g)`` and ``J_eff = (J + g_E) / (1 + g)``, ``g = sum_k g_k``,
        ``g_E = sum_k g_k E_k``: so this is :meth:`step` with those per-neuron values
        (physically ``tau_eff = C/(g_L + g)``, ``V_inf = (g_L E_L + g E + I)/(g_L + g)``).

        Parameters
        ----------
        J : ndarray (n,)
            Current input (normalized), held over the step.
        g, g_E : ndarray (n,)
            Total conductance (units of g_L, >= 0) and its sum weighted by the reversal
            potentials (normalized voltage).
        t0 : float
            Time (s) at the start of the step.

        Returns
        -------
        indices, offsets : as :meth:`step`
        """
        n = self.v.size
        J = np.broadcast_to(check.scalar_or_shape("J", J, n), (n,))
        g = np.array(np.broadcast_to(check.scalar_or_shape("g", g, n), (n,)))  # a copy: the step overwrites it
        if np.any(g < 0):
            raise ValueError("g must be >= 0 (a conductance, in units of the leak conductance)")
        g_E = np.broadcast_to(check.scalar_or_shape("g_E", g_E, n), (n,))
        if self.sigma > 0:
            raise ValueError("conductance input with membrane noise is not supported (its exact step is written "
                             "for a fixed tau_m)")
        return self._step_conductance(J, g, g_E, check.check_number("t0", t0))

    def _step_conductance(self, J, g, g_E, t0):
        """:meth:`step_conductance` without checks; ``g`` is overwritten (scratch)."""
        if not hasattr(self, "_J_eff"):
            n = self.v.size
            self._neg_dt_tau = -self.dt / np.broadcast_to(self.tau_m, (n,))  # -dt / tau_m (leak only)
            self._J_eff, self._decay_eff, self._J_decayed = np.empty(n), np.empty(n), np.empty(n)
        total = np.add(g, 1.0, out=g)  # (g_L + g) / g_L
        J_eff = np.add(J, g_E, out=self._J_eff)
        J_eff /= total
        decay = np.multiply(total, self._neg_dt_tau, out=self._decay_eff)
        np.exp(decay, out=decay)  # exp(-dt / tau_eff), tau_eff = tau_m / total
        # J_eff (1 - exp(-dt/tau_eff)); 1 - exp rather than expm1: 1e-16 absolute, one pass fewer
        J_decayed = np.subtract(1.0, decay, out=self._J_decayed)
        J_decayed *= J_eff
        leak = self.tau_m, self.decay
        # the LIF step with tau_eff: decay per neuron, tau_eff for the few refractory and spiking neurons
        self.tau_m, self.decay = _Ratio(leak[0], total), decay
        try:
            return self._step(J_eff, t0, J_decayed)
        finally:
            self.tau_m, self.decay = leak

    def _step_updated(self, J, t0, above=None):
        """The rest of :meth:`_step` once ``v`` holds the free update: refractory neurons, spikes, resets.

        ``J`` is only indexed here (``J[idx]`` for the few refractory and spiking
        neurons), so the runtime may pass an object that computes those entries
        on demand instead of the full array. ``above``: the neurons with v > 1 after
        the free update (ascending), when the caller found them in the same pass
        (:func:`neurosim.neurons.fused.lif_free_update`); else they are searched here.
        """
        tau_m = self.tau_m
        t1 = t0 + self.dt
        v = self.v
        # neurons refractory during part of the step: v = 0 until refractory_end, then integrate from 0
        refr, ends = self._refractory(t0)
        free = None  # neurons integrating again from inside this step
        if refr.size:
            v[refr] = 0.0
            done = ends < t1  # the period ends inside this step: only these few need the exponential
            if np.count_nonzero(done):  # (ndarray.any goes through a slower Python wrapper)
                free = refr[done]
                v[free] = J[free] * -np.expm1((ends[done] - t1) / _at(tau_m, free))
                refr = refr[~done]
        if above is None:
            spiked = self._above_threshold(v)
        else:  # the candidates still above threshold (refractory ones were set to 0 above)
            spiked = above[v[above] > 1.0]
            if free is not None:  # those integrating again may cross as well
                spiked = _merge_sorted(spiked, free[v[free] > 1.0])
        if spiked.size == 0:
            self._refr = refr
            return spiked, _EMPTY
        # neurons refractory at the end of this step: next step's candidates (see _refractory)
        self._refr = np.concatenate((refr, spiked))
        start = np.maximum(self.refractory_end[spiked], t0)  # when each spiking neuron began integrating
        if self.min_tau_ref < self.dt:  # refractory periods may end inside the step: spikes may repeat
            return self._spike_passes_exact(J, t0, spiked, start)
        # one spike per neuron at most: the first pass of _spike_passes_exact, without its loop
        Js, vs = J[spiked], v[spiked]
        u = self._time_to_end(Js, vs, t1 - start, spiked)
        spike_time = t1 - u
        self.refractory_end[spiked] = spike_time + _at(self.tau_ref, spiked)
        v[spiked] = 0.0
        return spiked, spike_time - t0

    def _step_updated_compiled(self, J, t0, above):
        """:meth:`_step_updated` with the index bookkeeping compiled (:mod:`neurosim.neurons.fused`): the
        refractory pass, the spikers' refractory list, start times and reset each in one pass over their
        lists; the exponentials and logarithms stay numpy's (the same calls on the same values), so the
        spikes, offsets and states are bit-identical (tested). For one tau_m (a number) and tau_ref >= dt
        (one spike per step at most); otherwise it is :meth:`_step_updated`."""
        tau_m = self.tau_m
        if self.min_tau_ref < self.dt or isinstance(tau_m, (np.ndarray, _Ratio)):
            return self._step_updated(J, t0, above)
        from ..fused import lif_refractory, lif_reset, lif_spikers
        t1 = t0 + self.dt
        v = self.v
        refr = self._refr
        self._refr_t0, last_t0 = t0, self._refr_t0
        if refr is None or t0 < last_t0:  # as _refractory: a full scan (the kernel filters it again)
            refr = (self.refractory_end > t0).nonzero()[0]
        keep, free = np.empty(refr.size, dtype=np.int64), np.empty(refr.size, dtype=np.int64)
        ends, spiked = np.empty(refr.size), np.empty(above.size, dtype=np.int64)
        n_keep, n_free, n_spiked = lif_refractory(v, self.refractory_end, refr, t0, t1, above, keep, free, ends,
                                                  spiked)
        spiked = spiked[:n_spiked]
        if n_free:  # integrating again from the end of their period, as in _step_updated
            free, ends = free[:n_free], ends[:n_free]
            v[free] = J[free] * -np.expm1((ends - t1) / tau_m)
            spiked = _merge_sorted(spiked, free[v[free] > 1.0])
        if spiked.size == 0:
            self._refr = keep[:n_keep]
            return spiked, _EMPTY
        new_refr = np.empty(n_keep + spiked.size, dtype=np.int64)
        new_refr[:n_keep] = keep[:n_keep]
        start, vs = np.empty(spiked.size), np.empty(spiked.size)
        lif_spikers(v, self.refractory_end, spiked, t0, new_refr, start, vs)
        self._refr = new_refr
        u = self._time_to_end(J[spiked], vs, t1 - start, spiked)
        spike_time = t1 - u
        per_neuron = isinstance(self.tau_ref, np.ndarray)
        lif_reset(v, self.refractory_end, spiked, spike_time, 0.0 if per_neuron else float(self.tau_ref),
                  self.tau_ref if per_neuron else _EMPTY, per_neuron)
        return spiked, spike_time - t0

    def _above_threshold(self, v):
        """Indices (ascending) of the neurons with v > 1.

        ``nonzero`` on a boolean array costs about 0.3 ns per element even when
        nearly all are False; for large populations, finding the nonzero 8-byte
        words first and expanding only those is twice as fast.
        """
        if self._above is None:
            # .nonzero()[0] rather than np.flatnonzero: same result, less Python overhead per step
            return (v > 1.0).nonzero()[0]
        np.greater(v, 1.0, out=self._above[:v.size])  # the padding stays False
        words = (self._above_words != 0).nonzero()[0]
        rows, cols = self._above_bytes[words].nonzero()
        return words[rows] * 8 + cols

    def _refractory(self, t0):
        """Indices of the neurons with ``refractory_end > t0``, and their ``refractory_end``.

        A full scan costs a pass over N; instead the previous step's list (those
        refractory at its end, plus its spikers) is filtered, which is exact as
        long as time moves forward and only the step writes ``refractory_end``
        (``forget_refractory()`` after writing it from outside).
        """
        refr = self._refr
        self._refr_t0, last_t0 = t0, self._refr_t0
        if refr is None or t0 < last_t0:
            refr = (self.refractory_end > t0).nonzero()[0]
            return refr, self.refractory_end[refr]
        ends = self.refractory_end[refr]
        keep = ends > t0
        return refr[keep], ends[keep]

    def forget_refractory(self):
        """Call after changing ``refractory_end`` or ``v`` from outside the step (e.g. a restore)."""
        self._refr = None

    def _time_to_end(self, Js, vs, since, idx):
        """Time (s) from the threshold crossing to the end of the step, from v(t1) = J + (1 - J) exp(-u/tau_m),
        at most ``since`` (the time integrated in this step), for the neurons ``idx``."""
        tau_m = _at(self.tau_m, idx)
        if np.count_nonzero(Js > vs) == Js.size:  # the usual case: no division by zero to guard against
            return np.minimum(tau_m * np.log1p((vs - 1.0) / (Js - vs)), since)
        with np.errstate(divide="ignore", invalid="ignore"):
            u = tau_m * np.log1p((vs - 1.0) / (Js - vs))
        # v above J means it started above threshold (user's v0 or a drop in J): spike at once
        return np.where(Js > vs, np.minimum(u, since), since)

    def _spike_passes_exact(self, J, t0, spiked, start):
        """Spike times of ``spiked`` (above threshold at the end of the step, integrating since ``start``),
        their reset, and the further spikes of neurons whose refractory period ends inside the step."""
        t1 = t0 + self.dt
        v = self.v
        all_idx, all_offsets = [], []
        while spiked.size:
            tau_m, tau_ref = _at(self.tau_m, spiked), _at(self.tau_ref, spiked)
            Js, vs = J[spiked], v[spiked]
            u = self._time_to_end(Js, vs, t1 - start, spiked)
            spike_time = t1 - u
            all_idx.append(spiked)
            all_offsets.append(spike_time - t0)
            self.refractory_end[spiked] = spike_time + tau_ref
            # refractory periods shorter than the rest of the step: integrate again, maybe spike again
            rest = u - tau_ref
            v[spiked] = np.where(rest > 0, Js * -np.expm1(-np.maximum(rest, 0.0) / tau_m), 0.0)
            again = v[spiked] > 1.0
            spiked, start = spiked[again], spike_time[again] + _at(tau_ref, again)
        if len(all_idx) == 1:
            return all_idx[0], all_offsets[0]
        return np.concatenate(all_idx), np.concatenate(all_offsets)

    def _step_noisy(self, J, t0, J_decayed=None):
        """One step with membrane noise (see :mod:`neurosim.neurons.noise`): exact OU update,
        spikes at grid crossings and, for white noise, at Brownian-bridge crossings inside the step."""
        dt = self.dt
        t1 = t0 + dt
        n = self.v.size
        if self._block is None:
            self.draw()
        normals, uniforms = self._block
        self._block = None
        v = self.v
        white = self.eta is None
        Jb = np.broadcast_to(J, (n,))
        refr = (self.refractory_end > t0).nonzero()[0]
        if white:  # noise.ou_step in place (J (1 - decay) precomputed)
            a = np.subtract(1.0, v, out=self._a)  # distance below threshold at the start of the step
            v *= self.decay
            v += J_decayed if J_decayed is not None else Jb * self.one_minus_decay
            v += np.multiply(normals[0], self.step_std, out=self._x)
        else:  # coloured: exact joint step of (v - J, eta)
            (p00, p01), (_, p11) = self.Phi
            (l00, _), (l10, l11) = self.L
            z, z2 = normals
            v_start = v.copy()
            x = v - Jb
            v[:] = Jb + p00 * x + p01 * self.eta + l00 * z
            self.eta *= p11
            self.eta += l10 * z + l11 * z2
        if refr.size:  # held at 0 until refractory_end, then integrate for the rest of the step
            r = np.maximum(t1 - self.refractory_end[refr], 0.0)
            # (white: the step's normal, unused by the full-step update these neurons discard)
            v[refr] = self._free(Jb[refr], np.zeros(refr.size), r, refr, normals[0][refr] if white else None)
            if white:
                a[refr] = 1.0
            else:
                v_start[refr] = 0.0
        if white:
            # (1 - v0)(1 - v1) < 0 when v1 is above threshold; the bridge probability exp(-2 x / var)
            # is below e^-50 beyond x = 25 var, so only the few neurons below that bound are examined
            x = np.subtract(1.0, v, out=self._x)
            x *= a
            cand = (x < 25.0 * self.bridge_var).nonzero()[0]
            if cand.size == 0:
                return cand, np.zeros(0)
            var = _at(self.bridge_var, cand)
            if refr.size:  # integrated only since their refractory period ended
                ends = self.refractory_end[cand]
                var = np.where(ends > t0, _at(self.bridge_rate, cand) * np.maximum(t1 - ends, 0.0), var)
            with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
                p = np.exp(-2.0 * x[cand] / var)
            sel = (uniforms[0][cand] < p).nonzero()[0]
            spiked = cand[sel]
            v0s = 1.0 - a[spiked]
        else:
            spiked = (v > 1.0).nonzero()[0]
            v0s = v_start[spiked]
        if spiked.size == 0:
            return spiked, np.zeros(0)
        start = np.maximum(self.refractory_end[spiked], t0)
        return self._spike_passes(Jb, t0, spiked, v0s, v[spiked], start, normals, uniforms)

    def _spike_passes(self, J, t0, spiked, v0s, v1s, s0, normals, uniforms):
        """Spike times of the neurons ``spiked`` (which crossed between v0s at time s0 and v1s at the end
        of the step), their reset and refractory period, and any further spikes inside the step."""
        tau_ref = self.tau_ref
        t1 = t0 + self.dt
        white = self.eta is None
        all_idx, all_offsets = [], []
        k = 0  # spikes so far: the (k+1)-th integration after a spike uses the step's draws k+1 (white noise)
        while True:
            k += 1
            # crossing time: linear between the end points when v1 is above, mid-segment for a bridge crossing
            with np.errstate(divide="ignore", invalid="ignore"):
                frac = np.where(v1s > 1.0, (1.0 - v0s) / (v1s - v0s), 0.5)
            frac = np.clip(np.nan_to_num(frac), 0.0, 1.0)
            spike_time = s0 + frac * (t1 - s0)
            all_idx.append(spiked)
            all_offsets.append(spike_time - t0)
            end = spike_time + _at(tau_ref, spiked)
            self.refractory_end[spiked] = end
            rest = np.maximum(t1 - end, 0.0)
            z = None
            if white:  # beyond the drawn count the rest is 0 (a spike every tau_ref at most): z is unused
                z = normals[k][spiked] if k < len(normals) else _check_rest(rest, 0.0)
            v_new = self._free(J[spiked], np.zeros(spiked.size), rest, spiked, z)
            self.v[spiked] = v_new
            again = rest > 0  # refractory period over before the end of the step: may spike again
            if not again.any():
                break
            ids, ve, s0 = spiked[again], v_new[again], end[again]
            vs = np.zeros(ids.size)
            crossed = ve > 1.0
            if white:
                var = _at(self.bridge_rate, ids) * rest[again]
                crossed |= uniforms[k][ids] < noise_mod.bridge_crossing_probability(vs, ve, 1.0, var)
            sel = crossed.nonzero()[0]
            if sel.size == 0:
                break
            spiked, v0s, v1s, s0 = ids[sel], vs[sel], ve[sel], s0[sel]
        if len(all_idx) == 1:
            return all_idx[0], all_offsets[0]
        return np.concatenate(all_idx), np.concatenate(all_offsets)

    def _free(self, J, v0, r, idx, z):
        """Free membrane after r seconds (array) from v0 with noise z (standard normals);
        coloured noise holds eta at its value at the end of the step (error O(r / tau_noise))."""
        d = np.exp(-r / _at(self.tau_m, idx))
        if self.eta is None:
            return noise_mod.ou_step(v0, J, d, self.sigma, z)
        Jn = J + self.eta[idx]
        return Jn + (v0 - Jn) * d


_per_neuron_size = check.per_neuron_size  # shared with the other models (neurosim.validation)
_check_per_neuron = check.check_per_neuron


def _spikes_per_step(dt, tau_ref):
    """Most spikes a neuron can fire in one step of dt: one, plus one per tau_ref that fits (with a margin
    for rounding); a large number for tau_ref = 0."""
    if tau_ref <= 0:
        return 1 << 30
    return max(1, int(np.ceil(dt / tau_ref * (1.0 + 1e-9))))


def _check_rest(rest, z):
    """``z`` when no time is left after the refractory periods (``rest`` all 0); else an internal error."""
    if np.any(rest > 0):
        from ...errors import SimulationError
        raise SimulationError("internal: a neuron spiked more often in one step than its refractory period allows")
    return z


def _tiled(x, n, name):
    """A parameter for n state entries: a float as is, or its per-neuron values repeated per trial."""
    if not isinstance(x, np.ndarray):
        return x
    if n % x.size:
        raise ValueError(f"{name} has {x.size} per-neuron values, which does not match {n} neurons")
    return np.tile(x, n // x.size)


class _Ratio:
    """``a[idx] / b[idx]`` on demand (tau_eff of the indexed neurons; ``a`` may be a number)."""

    __slots__ = ("a", "b")

    def __init__(self, a, b):
        self.a, self.b = a, b

    def __getitem__(self, idx):
        return _at(self.a, idx) / self.b[idx]


def _merge_sorted(a, b):
    """The ascending union of ``a`` (ascending, unique) and ``b`` (few, any order, maybe repeated): what
    ``_above_threshold`` returns when the free update found ``a`` and the refractory pass set ``b``."""
    if b.size == 0:
        return a
    b = np.unique(b)
    pos = np.searchsorted(a, b)
    present = a[np.minimum(pos, a.size - 1)] == b if a.size else np.zeros(b.size, dtype=bool)
    if present.all():
        return a
    return np.insert(a, pos[~present], b[~present])


def _at(x, idx):
    """``x[idx]`` for a per-neuron array, ``x`` for a number."""
    return x[idx] if isinstance(x, (np.ndarray, _Ratio)) else x


class LIFUnits:
    """Convert a physical LIF neuron to the normalized form and back.

    The physical model is ``C dV/dt = -g_L (V - V_L) + I`` with threshold
    ``V_th`` and reset ``V_reset``. With ``v = (V - V_reset)/(V_th - V_reset)``
    it becomes ``tau_m dv/dt = J - v`` with ``tau_m = C / g_L`` and
    ``J = (V_L - V_reset + I / g_L) / (V_th - V_reset)``.

    Parameters
    ----------
    C : float or array_like (n,)
        Membrane capacitance in farads (> 0).
    g_L : float or array_like (n,), optional
        Leak conductance in siemens (> 0). Give either ``g_L`` or ``R``.
    R : float or array_like (n,), optional
        Membrane resistance in ohms (= 1/g_L).
    V_L : float or array_like (n,)
        Leak reversal potential in volts.
    V_th, V_reset : float or array_like (n,)
        Threshold and reset potentials in volts (V_th > V_reset for every neuron).
    tau_ref : float or array_like (n,)
        Refractory period in seconds.

    Every parameter may be given per neuron (arrays of one length n). The normalized unit is
    then per neuron too: neuron i's current unit is ``g_L[i] (V_th[i] - V_reset[i])`` and its
    voltage unit ``V_th[i] - V_reset[i]``, so every conversion below works along the last axis
    (one value per neuron), and a network converts weights, currents, biases and probes of
    such a population per postsynaptic neuron (row i of a (post, pre) matrix by neuron i's factor).

    Examples
    --------
    >>> units = LIFUnits(C=200e-12, g_L=10e-9, V_L=-0.07, V_th=-0.05, V_reset=-0.07, tau_ref=0.002)
    >>> model = units.model()                      # LIF(tau_m=0.02, tau_ref=0.002)
    >>> J = units.current_to_J(0.5e-9)             # 0.5 nA -> normalized input
    """

    def __init__(self, C, g_L=None, R=None, V_L=-0.065, V_th=-0.05, V_reset=-0.065, tau_ref=0.002):
        self.C = check.per_neuron("C", C)
        if (g_L is None) == (R is None):
            raise ValueError("give exactly one of g_L (siemens) or R (ohms)")
        if g_L is None:
            with np.errstate(over="ignore", divide="ignore"):
                g_L = 1.0 / check.per_neuron("R", R)
            if not np.all(np.isfinite(g_L)):  # a subnormal R: 1/R overflows
                bad = int(np.flatnonzero(~np.isfinite(np.atleast_1d(g_L)))[0])
                raise ValueError(f"R must be at least {1 / np.finfo(float).max:g} ohm (1/R is the leak "
                                 f"conductance), got {float(np.atleast_1d(R)[bad]):g} at index {bad}")
        self.g_L = check.per_neuron("g_L", g_L)
        self.V_L = check.per_neuron("V_L", V_L, low=None)
        self.V_th = check.per_neuron("V_th", V_th, low=None)
        self.V_reset = check.per_neuron("V_reset", V_reset, low=None)
        self.tau_ref = check.per_neuron("tau_ref", tau_ref, allow_low=True)
        sizes = {x.size for x in (self.C, self.g_L, self.V_L, self.V_th, self.V_reset, self.tau_ref)
                 if isinstance(x, np.ndarray)}
        if len(sizes) > 1:
            raise ValueError(f"C, g_L (or R), V_L, V_th, V_reset and tau_ref given per neuron must have the same "
                             f"length, got {sorted(sizes)}")
        bad = ~(np.asarray(self.V_th) > np.asarray(self.V_reset))
        if bad.any():
            i = int(np.flatnonzero(bad)[0]) if bad.ndim else None
            at = "" if i is None else f" (neuron {i})"
            raise ValueError(f"V_th must be above V_reset{at}, got V_th={_item(self.V_th, i)!r}, "
                             f"V_reset={_item(self.V_reset, i)!r}")
        self._warn_implausible()

    def _warn_implausible(self):
        """Warn on values no real neuron has: most often mV or ms numbers passed as volts or seconds."""
        gap = self.span
        if not (1e-3 <= np.min(gap) and np.max(gap) <= 0.2):
            warnings.warn(f"V_th - V_reset = {np.min(gap):g}..{np.max(gap):g} V is outside the plausible 1-200 mV; potentials are in "
                          f"volts (e.g. V_th=-0.05, not -50)", UserWarning, stacklevel=3)
        if np.max(self.tau_ref) > 0.1:
            warnings.warn(f"tau_ref = {np.max(self.tau_ref):g} s is above 0.1 s; times are in seconds (2 ms is 0.002)",
                          UserWarning, stacklevel=3)
        if not (1e-4 <= np.min(self.tau_m) and np.max(self.tau_m) <= 1.0):
            warnings.warn(f"tau_m = C/g_L = {np.min(self.tau_m):g}..{np.max(self.tau_m):g} s is outside the plausible 0.1 ms - 1 s; C is in farads "
                          f"and g_L in siemens", UserWarning, stacklevel=3)

    @property
    def tau_m(self):
        """Membrane time constant C / g_L in seconds (per neuron when C or g_L is)."""
        return self.C / self.g_L

    @property
    def span(self):
        """The voltage unit ``V_th - V_reset`` in volts (per neuron when either is)."""
        return self.V_th - self.V_reset

    @property
    def current_unit(self):
        """The current unit ``g_L (V_th - V_reset)`` in amperes: J = 1 above the leak offset (per neuron when
        any of its parameters is). An added current I is ``I / current_unit`` in normalized units."""
        return self.g_L * self.span

    @property
    def per_neuron(self):
        """Number of neurons the per-neuron parameters describe, or None when all are numbers."""
        return _per_neuron_size(self.C, self.g_L, self.V_L, self.V_th, self.V_reset, self.tau_ref)

    def uniform_tau_m(self):
        """``tau_m`` as a number when it is the same for every neuron (e.g. C and g_L both per neuron in
        proportion), else the per-neuron array."""
        return _collapse(self.tau_m)

    def check_population(self, n):
        """Refuse per-neuron parameters whose length is not ``n``."""
        _check_per_neuron("LIFUnits", self.per_neuron, n)

    def model(self):
        """The equivalent normalized :class:`LIF`."""
        return LIF(tau_m=self.uniform_tau_m(), tau_ref=self.tau_ref)

    # the conversions: any shape; with per-neuron parameters (n,) the last axis is the neuron axis
    def current_to_J(self, current):
        """Input current in amperes (finite, any shape; last axis n with per-neuron parameters) -> normalized J."""
        current = self._along_neurons("current", check.real_array("current", current, dtype=None))
        return check.finite_result("current", current, lambda: (self.V_L - self.V_reset + current / self.g_L)
                                   / self.span, "the normalized input J")

    def J_to_current(self, J):
        """Normalized input J (finite, any shape; last axis n with per-neuron parameters) -> current in amperes."""
        J = self._along_neurons("J", check.real_array("J", J, dtype=None))
        return check.finite_result("J", J, lambda: ((J * self.span) - self.V_L + self.V_reset)
                                   * self.g_L, "the current in amperes")

    def v_to_voltage(self, v):
        """Normalized voltage (finite, any shape; last axis n with per-neuron parameters) -> volts."""
        v = self._along_neurons("v", check.real_array("v", v, dtype=None))
        return check.finite_result("v", v, lambda: self.V_reset + v * self.span, "the voltage")

    def voltage_to_v(self, V):
        """Membrane potential in volts (finite, any shape; last axis n with per-neuron parameters) -> normalized."""
        V = self._along_neurons("V", check.real_array("V", V, dtype=None))
        return check.finite_result("V", V, lambda: (V - self.V_reset) / self.span, "the normalized voltage")

    def _along_neurons(self, name, x):
        """Refuse an array whose last axis does not match the per-neuron parameters (it would broadcast wrongly)."""
        n = self.per_neuron
        if n is not None and x.ndim and x.shape[-1] not in (1, n):
            raise ValueError(f"{name} of shape {x.shape} does not match the {n} per-neuron parameters of these "
                             f"LIFUnits: its last axis must be {n} (one value per neuron) or 1")
        return x


def _collapse(x):
    """A per-neuron array whose values are all equal, up to the rounding of a division (4 ulp), as that
    number: it then needs no per-neuron path (C and g_L per neuron in proportion give one tau_m)."""
    if isinstance(x, np.ndarray) and x.size and np.all(np.abs(x - x[0]) <= 4 * np.finfo(float).eps * abs(x[0])):
        return float(x[0])
    return x


def _item(x, i):
    return float(x[i]) if isinstance(x, np.ndarray) and i is not None else x
