"""Hodgkin-Huxley (1952) squid-axon neurons, vectorized over N neurons.

    C dV/dt = I - g_Na m^3 h (V - E_Na) - g_K n^4 (V - E_K) - g_L (V - E_L)
    dx/dt   = alpha_x(V) (1 - x) - beta_x(V) x,        x in {m, h, n}

Units: V in mV, I in uA/cm^2, C in uF/cm^2, conductances in mS/cm^2. The
alpha/beta rate functions are the classic ones, per millisecond; internally
everything is integrated in ms (``dt_ms = dt * 1e3``, converted once in
``simulate``), while every public time (T, dt, spike times, ``t``) is in seconds.

Each equation has the quasi-linear form ``dy/dt = a(Y) - b(Y) y`` (for V:
``a = (I + sum g E)/C``, ``b = sum g / C``; for a gate: ``a = alpha``,
``b = alpha + beta``). All three integrators are built on one routine that
fills ``a`` and ``b`` for the whole (4, N) state at once.

Methods (errors against ``reference`` at dt = 0.01 ms; see docs/hh.md):

``"rk4"`` (default)
    Classic 4th-order Runge-Kutta; input held constant within a step.
``"exp_midpoint"``
    Second-order exponential integrator: an exponential-Euler half step gives
    the midpoint state; its coefficients then drive the full exponential step.
``"exp_ab2"``
    Second-order exponential Adams-Bashforth: one coefficient evaluation per
    step (like exponential Euler), extrapolated to the middle of the step.
``"exp_euler"``
    Exponential Euler with coefficients frozen at the start of the step
    (as Brian2's ``exponential_euler`` and GENESIS): fast, first order.

``simulate`` runs the numba-compiled form of these steppers
(:mod:`neurosim.neurons.hh.compiled`, many steps per call) when numba is importable
(``backend="auto"``), else the numpy steppers; ``backend="numpy"`` or the environment
variable ``NEUROSIM_BACKEND=numpy`` forces numpy.

Spikes are upward crossings of ``threshold`` (0 mV), located inside the step
by a cubic Hermite interpolant built from V and dV/dt at both ends of the step.
:class:`HHState` is the per-step state (``step(I, t0) -> (indices, offsets)``)
that ``simulate`` and HH populations in :class:`neurosim.Network` run on.
"""
import numpy as np

from ... import validation as check
from ...spikes import SimulationResult, SpikeRecorder
from ...spikes.result import no_neurons
import warnings

from ...errors import SimulationError
from ...progress import Progress
from ...signals import as_input
from .._limits import MAX_RECORD_BYTES, MAX_STEPS, check_work, flag, n_steps
from .kinetics import (_MS_PER_S, _ROW, DT_STABLE, DT_WARN, METHODS, V_RANGE, _warn_dt,  # noqa: F401
                          rate_functions, steady_state)
from .steppers import STEPPERS
from ..crossings import CrossingDetector
from ..noise import NoiseDraws
from ..base import Declares, StateVar


_REF_STEP = 1e-5  # s; a lower bound on the work of reference(): about one solver step per 0.01 ms


def _gate(name, x):
    """A gating variable: real, finite, in [0, 1]."""
    x = check.real_array(name, x)
    if x.size and (x.min() < 0 or x.max() > 1):
        raise ValueError(f"{name} is a gating variable and must be in [0, 1], got values in "
                         f"[{x.min()!r}, {x.max()!r}]")
    return x


def _check_v0(v0, n):
    """Initial potential: a finite scalar or shape (n,) in mV."""
    v0 = check.real_array("v0", v0)
    if v0.ndim > 1 or v0.size not in (1, n):
        raise ValueError(f"v0 must be a scalar or shape ({n},) in mV, got shape {v0.shape}")
    return v0


def _v0_alias(v0, V0):
    """Accept the old spelling ``V0=`` with a DeprecationWarning."""
    if V0 is None:
        return v0
    if v0 is not None:
        raise TypeError("give v0 (V0 is its deprecated spelling), not both")
    warnings.warn("V0= is deprecated, use v0= (initial potential in mV)", DeprecationWarning, stacklevel=3)
    return check.finite_array("V0", V0)


#: the constructor's parameters, each a number or one value per neuron
PARAMETERS = ("C", "g_Na", "g_K", "g_L", "E_Na", "E_K", "E_L", "threshold")


class HodgkinHuxley(Declares):
    """Hodgkin-Huxley neuron model (squid giant axon, 6.3 degC).

    Parameters (numbers, or arrays of shape (n,) with one value per neuron)
    ----------
    C : float or array_like (n,)
        Membrane capacitance in uF/cm^2 (> 0).
    g_Na, g_K, g_L : float or array_like (n,)
        Maximal sodium, potassium and leak conductances in mS/cm^2 (> 0).
    E_Na, E_K, E_L : float or array_like (n,)
        Reversal potentials in mV.
    threshold : float or array_like (n,)
        Spike detection threshold in mV: a spike is an upward crossing.

    Any parameter may be an array with one value per neuron (a heterogeneous population, as
    Brian2's per-neuron parameters or PyNN's parameter arrays); all such arrays have the same
    length n, and a simulation or population using the model then has exactly n neurons
    (:meth:`check_population`; in a network with a batch, every trial gets the same n values).

    Attributes
    ----------
    V_rest : float or ndarray (n,)
        Resting potential in mV (no input; -64.996 mV with the defaults); per neuron when the
        parameters are.
    per_neuron : int or None
        The length of the per-neuron parameters, None when all are numbers.
    """

    # the state a network allocates, probes, snapshots and restores for every HH neuron (initial
    # values None: at rest, the gates at their steady state for the initial voltage)
    state = {"v": StateVar.builtin(None, "mV", "membrane voltage"),
             "m": StateVar.builtin(None, "1", "sodium activation gate"),
             "h": StateVar.builtin(None, "1", "sodium inactivation gate"),
             "n": StateVar.builtin(None, "1", "potassium activation gate")}

    def __init__(self, C=1.0, g_Na=120.0, g_K=36.0, g_L=0.3, E_Na=50.0, E_K=-77.0, E_L=-54.387, threshold=0.0):
        self.C = check.per_neuron("C", C)
        self.g_Na = check.per_neuron("g_Na", g_Na)
        self.g_K = check.per_neuron("g_K", g_K)
        self.g_L = check.per_neuron("g_L", g_L)
        for name, value in (("E_Na", E_Na), ("E_K", E_K), ("E_L", E_L), ("threshold", threshold)):
            setattr(self, name, check.per_neuron(name, value, low=None))
        sizes = sorted({x.size for x in self._values() if isinstance(x, np.ndarray)})
        if len(sizes) > 1:
            given = ", ".join(f"{k}: {np.size(v)}" for k, v in zip(PARAMETERS, self._values())
                              if isinstance(v, np.ndarray))
            raise ValueError(f"HodgkinHuxley parameters given per neuron must all have the same length, got {given}")
        self.V_rest = self._rest()

    def __repr__(self):
        return "HodgkinHuxley(" + ", ".join(f"{k}={v!r}" for k, v in zip(PARAMETERS, self._values())) + ")"

    def _values(self):
        return tuple(getattr(self, k) for k in PARAMETERS)

    @property
    def per_neuron(self):
        """Number of neurons the per-neuron parameters describe, or None when all are scalars."""
        return check.per_neuron_size(*self._values())

    def check_population(self, n):
        """Refuse per-neuron parameters whose length is not ``n`` (a population or simulation of n neurons)."""
        check.check_per_neuron("HodgkinHuxley", self.per_neuron, n)

    def _tiled(self, name, n):
        """Parameter ``name`` for ``n`` neurons: a float, or its per-neuron array repeated over the trials of a
        batch (``n`` a multiple of :attr:`per_neuron`, trial-major)."""
        x = getattr(self, name)
        return x if not isinstance(x, np.ndarray) else np.tile(x, n // x.size)

    def _column(self, name):
        """Parameter ``name`` as an array broadcasting along the neuron axis: shape (1,) or (per_neuron,)."""
        return np.atleast_1d(np.asarray(getattr(self, name), dtype=float))

    def ionic_current(self, V, m, h, n):
        """Total ionic current g_Na m^3 h (V - E_Na) + g_K n^4 (V - E_K) + g_L (V - E_L) in uA/cm^2.

        ``V`` in mV, the gates ``m``, ``h``, ``n`` in [0, 1]; scalars or arrays that broadcast together
        (and, with per-neuron parameters (n,), against them along the last axis).
        """
        V = check.real_array("V", V)
        m, h, n = (_gate(name, x) for name, x in (("m", m), ("h", h), ("n", n)))
        try:
            np.broadcast_shapes(V.shape, m.shape, h.shape, n.shape, (self.per_neuron,) if self.per_neuron else ())
        except ValueError:
            raise ValueError(f"V, m, h, n of shapes {V.shape}, {m.shape}, {h.shape}, {n.shape} do not broadcast "
                             f"together and against the {self.per_neuron} per-neuron parameters (last axis)") from None
        return self._ionic_current(V, m, h, n)

    def _ionic_current(self, V, m, h, n):
        """Unchecked :meth:`ionic_current`."""
        return (self.g_Na * m**3 * h * (V - self.E_Na) + self.g_K * n**4 * (V - self.E_K)
                + self.g_L * (V - self.E_L))

    def _rest(self):
        """Resting potential(s): the first zero in [-100, 0] mV of the net ionic current with the gates at steady
        state (E_L where there is none), found for all neurons at once. A float, or (per_neuron,) per neuron."""
        grid = np.linspace(-100.0, 0.0, 201)
        size = self.per_neuron or 1

        def current(V):  # (k, size) potentials -> net ionic current, gates at steady state
            return self._ionic_current(V, *steady_state(V))

        vals = current(np.repeat(grid[:, None], size, axis=1))
        change = np.diff(np.sign(vals), axis=0) != 0
        found = change.any(axis=0)
        i = np.argmax(change, axis=0)
        lo, hi = grid[i], grid[i + 1]
        f_lo = vals[i, np.arange(size)]
        # bisection to full precision (the midpoint stops moving), vectorized over the neurons
        for _ in range(80):
            mid = 0.5 * (lo + hi)
            if not np.any((mid > lo) & (mid < hi)):
                break
            f_mid = current(mid[None, :])[0]
            same = np.sign(f_mid) == np.sign(f_lo)
            lo, f_lo = np.where(same, mid, lo), np.where(same, f_mid, f_lo)
            hi = np.where(same, hi, mid)
        rest = np.where(found, 0.5 * (lo + hi), np.broadcast_to(self.E_L, (size,)))
        if self.per_neuron is None:
            return float(rest[0])
        rest.flags.writeable = False
        return rest

    def initial_state(self, n, v0=None):
        """State (4, n): V (mV) and gates at their steady values for V (default: at rest).

        ``v0``: a scalar or shape (n,) in mV.
        """
        n = check.count_int("n", n)
        self.check_population(n)
        if v0 is not None:
            v0 = _check_v0(v0, n)
        return self._initial_state(n, v0)

    def _initial_state(self, n, v0=None):
        V = np.broadcast_to(self._tiled("V_rest", n), (n,)) if v0 is None else np.broadcast_to(v0, (n,))
        V = V.astype(float)
        return np.vstack([V, *steady_state(V)])

    def _state(self, n, v0=None):
        """Internal (5, n) state: m, n, h, V, ones."""
        V, m, h, n_gate = self._initial_state(n, v0)
        return np.vstack([m, n_gate, h, V, np.ones(n)])

    # ---- simulation ----------------------------------------------------------------
    def simulate(self, I, T, dt=1e-5, method="rk4", record_v=False, record_gates=False, v0=None, noise=0.0,
                 rng=None, max_steps=MAX_STEPS, max_record_bytes=MAX_RECORD_BYTES, V0=None, progress=False,
                 backend="auto"):
        """Simulate N neurons for T seconds.

        Parameters
        ----------
        I : float, array_like (N,) or (steps, N), neurosim.TimedArray, or callable f(t) -> (N,)
            Input current in uA/cm^2: one neuron (or one per value of per-neuron parameters), constant
            per neuron, one row per step,
            samples on their own grid, or a function of time (s) evaluated at the start
            of each step; held constant within each step (see :mod:`neurosim.signals`).
        T : float
            Duration in seconds; a multiple of ``dt``.
        dt : float
            Step in seconds (default 1e-5 = 0.01 ms). Warns above ``DT_WARN[method]``.
        method : {"rk4", "exp_midpoint", "exp_ab2", "exp_euler"}
            Integrator; see the module docstring for their accuracy. Errors at dt = 0.01 ms
            (10th spike at 10 uA/cm^2 vs the reference): rk4 3e-7 ms, exp_ab2 0.016 ms,
            exp_midpoint 0.018 ms, exp_euler 0.69 ms.
        record_v, record_gates : bool
            Also return ``t`` (steps,) and ``v`` (steps, N) in mV (``V`` is an alias) / gates
            ``m``, ``h``, ``n`` (steps, N), each at the end of every step.
        v0 : float or array_like (N,), optional
            Initial potential in mV with gates at steady state; default: rest.
            (``V0=`` is the old spelling, deprecated.)
        noise : float
            Current-noise intensity D >= 0 in uA/cm^2 * sqrt(s): the input is ``I + D xi(t)``
            with xi unit white noise, so the charge it injects over a time t has std
            ``D sqrt(t)``. Each step holds ``D / sqrt(dt) * N(0, 1)``, drawn independently.
        rng : int, numpy.random.Generator or SeedSequence, optional
            For the noise.
        max_steps, max_record_bytes : int
            Limits on T/dt and on the recorded traces; a larger run is refused before it starts.
        progress : bool
            Show a progress line on stderr (:class:`neurosim.progress.Progress`).
        backend : {"auto", "numpy", "numba"}
            ``"numba"`` runs the compiled step loop (:mod:`neurosim.neurons.hh.compiled`, many steps per
            call), ``"numpy"`` the vectorized numpy steppers; ``"auto"`` (default) is numba when it is
            importable, unless the environment sets ``NEUROSIM_BACKEND=numpy`` (the rule of
            :class:`neurosim.Network`). Both give the same spikes (spike times agree to rounding level).

        Returns
        -------
        SimulationResult
            ``spike_times`` (list of N arrays, s), ``events()``, ``rates(t_start)``
            and the recorded traces.

        With per-neuron parameters (n,), N must be n: neuron i has the parameters' i-th values.

        Raises
        ------
        neurosim.SimulationError
            When the state leaves the valid range (non-finite, or V outside [-150, 100] mV),
            e.g. rk4 at dt = 0.1 ms; the message names the method, dt and the largest dt known to work.
        """
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        compiled = _use_numba(backend)
        v0 = _v0_alias(v0, V0)
        steps = n_steps(T, dt)
        record_v = flag("record_v", record_v)
        record_gates = flag("record_gates", record_gates)
        _warn_dt(method, dt, stacklevel=3)
        inp = as_input(I, steps, dt, name="I")
        n = (self.per_neuron or 1) if inp.n is None else inp.n
        self.check_population(n)
        inp.broadcast(n)
        check_work(steps, n, int(record_v) + 3 * int(record_gates), max_steps, max_record_bytes)
        if n == 0:  # I of shape (0,): no neurons, an empty result of the right shapes
            return no_neurons(T, dt, steps, (["v", "V"] if record_v else []) + (list("mhn") if record_gates else []))
        state = HHState(self, n, dt, method, v0=v0, warn=False, noise=noise, rng=rng)
        traces = {}
        if record_v:
            traces["v"] = np.empty((steps, n))
        if record_gates:
            for name in "mhn":
                traces[name] = np.empty((steps, n))
        out = [(traces["v" if k == "V" else k], state.Y[_ROW[k]]) for k in "Vmhn" if ("v" if k == "V" else k) in traces]
        recorder = SpikeRecorder(n, dt)
        fixed = inp.constant and state._noise_std == 0
        I_bar = (inp.at(0) + state._leak) / state._C if fixed else None  # input + leak drive, mV/ms
        bar = Progress(steps * dt, "Hodgkin-Huxley", enabled=flag("progress", progress), unit=" s")
        with bar, np.errstate(over="ignore", invalid="ignore"):  # a diverging step overflows; the range check raises
            if compiled:
                self._run_compiled(state, inp, steps, fixed, I_bar, recorder, traces, bar)
            else:
                self._run(state, inp, steps, fixed, I_bar, recorder, out, bar)
        t = dt * np.arange(1, steps + 1) if traces else None
        if record_v:
            traces["V"] = traces["v"]  # the old spelling, the same array
        return SimulationResult(recorder, T, t=t, **traces)

    @staticmethod
    def _run(state, inp, steps, fixed, I_bar, recorder, out, bar):
        for k in range(steps):
            if fixed:
                idx, offsets = state._advance(I_bar, changed=k == 0)
            else:
                idx, offsets = state._advance(state._drive(inp.at(k)), changed=True)
            if idx.size:
                recorder._record(k, idx, offsets)
            for arr, row in out:
                arr[k] = row
            if (k & 255) == 255 and bar.due():
                bar.update((k + 1) * bar.total / steps)

    @staticmethod
    def _run_compiled(state, inp, steps, fixed, I_bar, recorder, traces, bar):
        """``_run`` on the compiled kernel: blocks of steps per call, the drive of each step computed as in
        ``_run`` (same input samples, same noise draws in the same order)."""
        from .compiled import CompiledRun

        runner = CompiledRun(state)
        block = 4096 if fixed else 256  # steps per call: a progress update (and a Ctrl-C) between calls
        const_row = I_bar[None, :] if fixed else None
        rows = None if fixed else np.empty((block, state.n_neurons))
        k = 0
        while k < steps:
            m = min(block, steps - k)
            if fixed:
                runner.advance(const_row, True, k == 0, k, m, traces, recorder)
            else:
                for j in range(m):
                    rows[j] = state._drive(inp.at(k + j))
                runner.advance(rows[:m], False, True, k, m, traces, recorder)
            k += m
            if bar.due():
                bar.update(k * bar.total / steps)

    def reference(self, I, T, rtol=1e-10, atol=1e-10, method="DOP853", v0=None, V0=None, max_steps=MAX_STEPS):
        """High-accuracy spike times from ``scipy.integrate.solve_ivp`` (independent oracle).

        Each neuron is integrated on its own with adaptive steps; spikes are
        located by solve_ivp's event finder on the dense output.

        Parameters
        ----------
        I : float or array_like (N,)
            Constant input currents in uA/cm^2. With per-neuron parameters (n,), N is n (a scalar
            is given to every neuron) and input i is integrated with neuron i's parameters.
        T : float
            Duration in seconds.
        rtol, atol : float
            Tolerances of the solver (atol in mV / gate units).
        method : str
            A solve_ivp method with dense output, e.g. "DOP853" or "Radau".
        v0 : float, optional
            Initial potential (mV), gates at steady state; default: rest (``V0=`` deprecated).
        max_steps : int
            Limit on the estimated solver steps (T / 0.01 ms per input); a longer run is refused up front.

        Returns
        -------
        list of ndarray
            Spike times in seconds, one array per input.
        """
        from scipy.integrate import solve_ivp

        rtol = check.check_number("rtol", rtol, low=1e-14, high=1.0)  # NaN or 0 would never finish
        atol = check.check_number("atol", atol, low=1e-14, high=1.0)
        T = check.positive("T", T)
        I = check.finite_array("I", I).reshape(-1)
        if self.per_neuron is not None:
            if I.size == 1:
                I = np.repeat(I, self.per_neuron)
            self.check_population(I.size)
        max_steps = check.check_int("max_steps", max_steps, low=1)
        # the solver needs at least ~one step per 0.01 ms of a spiking trace: refuse a run that cannot finish
        check.check_work(f"reference: T={T:g} s for {I.size} input(s)", T / _REF_STEP * max(I.size, 1),
                         max_steps, "max_steps", unit="solver steps (estimate)")
        v0 = _v0_alias(v0, V0)
        if v0 is not None:
            v0 = check.check_number("v0", v0)
        y0 = self._initial_state(I.size, v0)
        columns = np.broadcast_arrays(*(self._column(k) for k in PARAMETERS), I)[:-1]
        result = []
        for i, Ii in enumerate(I):  # one adaptive solve per input: the oracle, not a hot path
            params = dict(zip(PARAMETERS, (float(c[i]) for c in columns)))
            sol = solve_ivp(self._scalar_rhs(float(Ii), params), (0.0, T * _MS_PER_S), y0[:, i], method=method,
                            rtol=rtol, atol=atol, events=_crossing_event(params["threshold"]))
            if sol.status != 0:
                raise RuntimeError(f"solve_ivp failed for I={Ii}: {sol.message}")
            result.append(sol.t_events[0] / _MS_PER_S)
        return result

    def _scalar_rhs(self, I, params=None):
        """Right-hand side (ms units) written out with scalar math: independent of the vectorized kernel.
        ``params``: one neuron's {name: float} (default: this model's, all numbers)."""
        from math import exp, expm1

        p = dict(zip(PARAMETERS, self._values())) if params is None else params
        C, gNa, gK, gL, ENa, EK, EL = (p[k] for k in ("C", "g_Na", "g_K", "g_L", "E_Na", "E_K", "E_L"))

        def x_over_expm1(x):  # x / (e^x - 1), limit 1 at x = 0
            return 1.0 - 0.5 * x if abs(x) < 1e-8 else x / expm1(x)

        def rhs(t, y):
            V, m, h, n = y
            am = x_over_expm1(-(V + 40.0) / 10.0)
            bm = 4.0 * exp(-(V + 65.0) / 18.0)
            ah = 0.07 * exp(-(V + 65.0) / 20.0)
            bh = 1.0 / (1.0 + exp(-(V + 35.0) / 10.0))
            an = 0.1 * x_over_expm1(-(V + 55.0) / 10.0)
            bn = 0.125 * exp(-(V + 65.0) / 80.0)
            I_ion = gNa * m**3 * h * (V - ENa) + gK * n**4 * (V - EK) + gL * (V - EL)
            return [(I - I_ion) / C, am * (1 - m) - bm * m, ah * (1 - h) - bh * h, an * (1 - n) - bn * n]

        return rhs


def _crossing_event(threshold):
    def crossing(t, y):
        return y[0] - threshold

    crossing.direction = 1.0
    return crossing


def _use_numba(backend):
    """True when ``backend`` ("auto", "numpy" or "numba") selects the compiled kernel (the rule of ``Network``)."""
    import os

    from ..._optional import numba_available, require_numba

    backend = check.check_choice("backend", backend, ("auto", "numpy", "numba"))  # as NeuronModel.simulate
    if backend == "numba":
        require_numba()  # ImportError naming the [fast] extra
    if backend == "auto":
        return os.environ.get("NEUROSIM_BACKEND") != "numpy" and numba_available()
    return backend == "numba"


class HHState:
    """Mutable state of N Hodgkin-Huxley neurons and the step that advances it.

    The per-step interface of :meth:`HodgkinHuxley.simulate` (which runs on it)
    and of HH populations in :class:`neurosim.Network`; the counterpart of
    :class:`neurosim.LIFState`.

    Parameters
    ----------
    model : HodgkinHuxley
    n : int
        Number of neurons.
    dt : float
        Step in seconds. Warns above ``neurosim.neurons.hh.DT_WARN[method]``.
    method : {"rk4", "exp_midpoint", "exp_ab2", "exp_euler"}
        Integrator (see :mod:`neurosim.neurons.hh`).
    v0 : float or array_like (n,), optional
        Initial potential in mV, gates at their steady values; default: rest (``V0=`` deprecated).
    noise : float
        Current-noise intensity in uA/cm^2 * sqrt(s) (see :meth:`HodgkinHuxley.simulate`).
    rng : int, Generator, SeedSequence, or a list of them (one per trial, trial-major blocks)
        For the noise (see :class:`neurosim.neurons.noise.NoiseDraws`).
    trials : int
        With per-neuron model parameters (p,): the state holds ``trials`` blocks of p neurons each
        (a network's batch, trial-major), so ``n`` must be ``trials * p``. Default 1.

    Attributes
    ----------
    V : ndarray (n,)
        Membrane potential in mV (a live view, updated in place each step; ``v`` is the same array).
    m, h, n : ndarray (n,)
        Gating variables (live views).
    """

    def __init__(self, model, n, dt, method="rk4", v0=None, warn=True, noise=0.0, rng=None, V0=None, trials=1):
        if not isinstance(model, HodgkinHuxley):
            raise TypeError(f"model must be a HodgkinHuxley, got {type(model).__name__}")
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        v0 = _v0_alias(v0, V0)
        self.model, self.method = model, method
        self.n_neurons = check.count_int("n", n)
        trials = check.check_int("trials", trials, low=1)
        if self.n_neurons % trials:
            raise ValueError(f"n={self.n_neurons} must be a multiple of trials={trials}")
        model.check_population(self.n_neurons // trials)
        # the parameters for all n neurons: floats, or per-neuron arrays repeated over the trials
        self.params = {k: model._tiled(k, self.n_neurons) for k in PARAMETERS + ("V_rest",)}
        self.dt = check.positive("dt", dt)
        if check.check_bool("warn", warn):
            _warn_dt(method, self.dt, stacklevel=3)
        if v0 is not None:
            v0 = _check_v0(v0, self.n_neurons)
        n = self.n_neurons
        h = self.dt * _MS_PER_S
        self.Y = model._state(n, v0)
        R = _ROW
        self.V = self.v = self.Y[R["V"]]
        self.m, self.h, self.n = self.Y[R["m"]], self.Y[R["h"]], self.Y[R["n"]]
        self._stepper = STEPPERS[method](self.params, n, h)
        self._coeffs = self._stepper.coeffs
        self._detector = CrossingDetector(self.params["threshold"], n, h)
        self._primed = False
        self._dI = np.empty(n)
        p = self.params
        self._leak, self._C = p["g_L"] * p["E_L"], p["C"]
        self.noise = check.positive("noise", noise, allow_zero=True)
        # current noise D xi(t) held over a step: D / sqrt(dt) N(0, 1) uA/cm^2 (dt in s)
        self._noise_std = self.noise / np.sqrt(self.dt)
        if not isinstance(rng, (list, tuple)):
            check.as_rng(rng)  # validated even when unused (no noise)
        self.draws = NoiseDraws(rng, self.n_neurons) if self.noise > 0 else None
        self._block = None

    def snapshot(self):
        """Copies of everything that carries one step to the next, as declared by each part.

        The state Y (m, n, h, V); the coefficient buffers and which one is current (exp_ab2
        extrapolates from the previous step's); the crossing detector's last voltage, slope and
        side of threshold; exp_ab2's previous input. Work arrays filled anew each step are not state.
        """
        c, d, s = self._coeffs, self._detector, self._stepper
        return {"Y": self.Y.copy(), "KK": c.KK.copy(), "P": c.P.copy(), "current": c.current,
                "was_above": d.was_above.copy(), "V": d.V.copy(), "f": d.f.copy(), "primed": self._primed,
                "I_prev": None if getattr(s, "I_prev", None) is None else s.I_prev.copy()}

    def restore(self, snap):
        """Put back a :meth:`snapshot` (into the same arrays: views made once stay valid)."""
        c, d, s = self._coeffs, self._detector, self._stepper
        for name, target in (("Y", self.Y), ("KK", c.KK), ("P", c.P), ("was_above", d.was_above), ("V", d.V),
                             ("f", d.f)):
            if name in snap:  # a network restores Y from its declared state (v, m, h, n) itself
                np.copyto(target, snap[name])
        c.select(snap["current"])
        self._primed = snap["primed"]
        if hasattr(s, "I_prev"):
            s.I_prev = None if snap["I_prev"] is None else snap["I_prev"].copy()

    def draw(self):
        """Draw the next step's noise now (the network runtime does this before its commit)."""
        if self.draws is not None:
            self._block = self.draws.block(1)[0][0]

    def _drive(self, I):
        """``(I + noise + g_L E_L) / C`` in mV/ms for this step, a new array."""
        I_bar = np.add(I, self._leak)
        if self._noise_std:
            if self._block is None:
                self.draw()
            I_bar = I_bar + self._noise_std * self._block
            self._block = None
        I_bar /= self._C
        return I_bar

    def step(self, I, t0=0.0):
        """Advance all neurons by dt with input ``I`` (uA/cm^2, scalar or (n,)) held constant.

        Parameters
        ----------
        I : float or ndarray (n,)
            Input current in uA/cm^2 during this step.
        t0 : float
            Time (s) at the start of the step (only for symmetry with ``LIFState.step``;
            the HH equations are autonomous).

        Returns
        -------
        indices : ndarray of int
            Neurons whose V crossed ``model.threshold`` upwards during the step.
        offsets : ndarray of float
            Crossing times in seconds after ``t0`` (cubic Hermite interpolation).
        """
        I = check.real_array("I", I)
        check.check_number("t0", t0)
        return self._step(I, t0)

    def _step(self, I, t0=0.0):
        """Unchecked :meth:`step` (I a finite float or array), for simulation loops."""
        I_bar = self._drive(I)
        if I_bar.shape != self.V.shape:
            if I_bar.ndim > 1 or I_bar.size != 1:
                raise ValueError(f"I must be a scalar or shape ({self.V.size},) in uA/cm^2, got shape {I_bar.shape}")
            I_bar = np.full(self.V.shape, I_bar.item())
        return self._advance(I_bar)

    def _advance(self, I_bar, changed=True):
        """One step with ``I_bar = (I + g_L E_L) / C`` (mV/ms).

        ``changed=False`` promises the values equal the previous step's (skips a pass);
        the values are copied, so an array changed in place is seen whenever changed=True.
        """
        c, det, Y, V = self._coeffs, self._detector, self.Y, self.V
        if not self._primed:  # first step: coefficients and dV/dt of the initial state
            c(Y, I_bar)
            det.prime(V, c.aV, c.bV)
            self._primed = True
        elif changed:  # a_V (and so dV/dt) shift by the change in I_bar
            np.subtract(I_bar, c.P[2], out=self._dI)
            c.set_input(I_bar, self._dI)
            det.f += self._dI
        self._stepper(Y, I_bar)
        c(Y, I_bar)  # coefficients at the end of the step = start of the next; dV/dt for spike location
        lo, hi = V.min(), V.max()
        if not (lo >= V_RANGE[0] and hi <= V_RANGE[1]):  # also catches NaN (comparisons are False)
            self._diverged(lo, hi)
        return det.locate(V, c.aV, c.bV, self.dt)

    def _diverged(self, lo, hi):
        m = self.method
        raise SimulationError(
            f"Hodgkin-Huxley state left its valid range (V in [{lo:.4g}, {hi:.4g}] mV, allowed "
            f"[{V_RANGE[0]:g}, {V_RANGE[1]:g}] mV, finite) with method={m!r}, dt={self.dt:g} s. "
            f"The largest dt known to work for {m!r} is {DT_WARN[m]:g} s (rate error < ~1 %; it stays "
            f"bounded up to {DT_STABLE[m]:g} s); use a smaller dt, method='exp_ab2', or a smaller input current")
