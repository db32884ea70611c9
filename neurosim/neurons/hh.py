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

Spikes are upward crossings of ``threshold`` (0 mV), located inside the step
by a cubic Hermite interpolant built from V and dV/dt at both ends of the step.
:class:`HHState` is the per-step state (``step(I, t0) -> (indices, offsets)``)
that ``simulate`` and HH populations in :class:`neurosim.Network` run on.
"""
import numpy as np

from .. import _validate as check
from ..spikes import SimulationResult, SpikeRecorder
from .hh_kinetics import _MS_PER_S, _ROW, DT_WARN, METHODS, _warn_dt, rate_functions, steady_state  # noqa: F401
from .hh_steppers import STEPPERS, CrossingDetector

class HodgkinHuxley:
    """Hodgkin-Huxley neuron model (squid giant axon, 6.3 degC).

    Parameters
    ----------
    C : float
        Membrane capacitance in uF/cm^2 (> 0).
    g_Na, g_K, g_L : float
        Maximal sodium, potassium and leak conductances in mS/cm^2 (> 0).
    E_Na, E_K, E_L : float
        Reversal potentials in mV.
    threshold : float
        Spike detection threshold in mV: a spike is an upward crossing.

    Attributes
    ----------
    V_rest : float
        Resting potential in mV (no input; -64.996 mV with the defaults).
    """

    def __init__(self, C=1.0, g_Na=120.0, g_K=36.0, g_L=0.3, E_Na=50.0, E_K=-77.0, E_L=-54.387, threshold=0.0):
        self.C = check.positive("C", C)
        self.g_Na = check.positive("g_Na", g_Na)
        self.g_K = check.positive("g_K", g_K)
        self.g_L = check.positive("g_L", g_L)
        for name, value in (("E_Na", E_Na), ("E_K", E_K), ("E_L", E_L), ("threshold", threshold)):
            check.finite_array(name, value)
            if np.ndim(value) != 0:
                raise ValueError(f"{name} must be a scalar in mV, got shape {np.shape(value)}")
        self.E_Na, self.E_K, self.E_L, self.threshold = float(E_Na), float(E_K), float(E_L), float(threshold)
        self.V_rest = self._rest()

    def __repr__(self):
        return (f"HodgkinHuxley(C={self.C}, g_Na={self.g_Na}, g_K={self.g_K}, g_L={self.g_L}, "
                f"E_Na={self.E_Na}, E_K={self.E_K}, E_L={self.E_L}, threshold={self.threshold})")

    def ionic_current(self, V, m, h, n):
        """Total ionic current g_Na m^3 h (V - E_Na) + g_K n^4 (V - E_K) + g_L (V - E_L) in uA/cm^2."""
        return (self.g_Na * m**3 * h * (V - self.E_Na) + self.g_K * n**4 * (V - self.E_K)
                + self.g_L * (V - self.E_L))

    def _rest(self):
        from scipy.optimize import brentq

        def current(V):  # net ionic current with gates at steady state
            return float(self.ionic_current(V, *(x[()] for x in steady_state(V))))

        grid = np.linspace(-100.0, 0.0, 201)
        vals = np.array([current(v) for v in grid])
        sign = np.flatnonzero(np.diff(np.sign(vals)) != 0)
        if sign.size == 0:
            return float(self.E_L)
        i = sign[0]
        return brentq(current, grid[i], grid[i + 1], xtol=1e-12)

    def initial_state(self, n, V0=None):
        """State (4, n): V (mV) and gates at their steady values for V (default: at rest)."""
        V = np.full(n, self.V_rest) if V0 is None else np.broadcast_to(V0, (n,)).astype(float)
        return np.vstack([V, *steady_state(V)])

    def _state(self, n, V0=None):
        """Internal (5, n) state: m, n, h, V, ones."""
        V, m, h, n_gate = self.initial_state(n, V0)
        return np.vstack([m, n_gate, h, V, np.ones(n)])

    # ---- simulation ----------------------------------------------------------------
    def simulate(self, I, T, dt=1e-5, method="rk4", record_v=False, record_gates=False, V0=None):
        """Simulate N neurons for T seconds.

        Parameters
        ----------
        I : float, array_like (N,) or (steps, N)
            Input current in uA/cm^2: one neuron, constant per neuron, or one row
            per step (held constant within each step); steps = T / dt.
        T : float
            Duration in seconds; a multiple of ``dt``.
        dt : float
            Step in seconds (default 1e-5 = 0.01 ms). Warns above ``DT_WARN[method]``.
        method : {"rk4", "exp_midpoint", "exp_ab2", "exp_euler"}
            Integrator; see the module docstring for their accuracy. Errors at dt = 0.01 ms
            (10th spike at 10 uA/cm^2 vs the reference): rk4 3e-7 ms, exp_ab2 0.016 ms,
            exp_midpoint 0.018 ms, exp_euler 0.69 ms.
        record_v, record_gates : bool
            Also return ``t`` (steps,) and ``V`` (steps, N) in mV / gates ``m``, ``h``,
            ``n`` (steps, N), each at the end of every step.
        V0 : float or array_like (N,), optional
            Initial potential in mV with gates at steady state; default: rest.

        Returns
        -------
        SimulationResult
            ``spike_times`` (list of N arrays, s), ``events()``, ``rates(t_start)``
            and the recorded traces.
        """
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        steps = check.n_steps(T, dt)
        _warn_dt(method, dt, stacklevel=3)
        I = check.finite_array("I", I)
        if I.ndim == 0:
            I = I.reshape(1)
        if I.ndim > 2 or (I.ndim == 2 and I.shape[0] != steps):
            raise ValueError(f"I must be a scalar, (N,) or (steps, N) = ({steps}, N) in uA/cm^2, got shape {I.shape}")
        n = I.shape[-1]
        state = HHState(self, n, dt, method, V0, warn=False)
        I_bar = (I + self.g_L * self.E_L) / self.C  # input + leak drive, mV/ms
        traces = {}
        if record_v:
            traces["V"] = np.empty((steps, n))
        if record_gates:
            for name in "mhn":
                traces[name] = np.empty((steps, n))
        out = [(traces[k], state.Y[_ROW[k]]) for k in "Vmhn" if k in traces]
        recorder = SpikeRecorder(n, dt)
        advance = state._advance
        for k in range(steps):
            idx, offsets = advance(I_bar if I.ndim == 1 else I_bar[k])
            if idx.size:
                recorder.record(k, idx, offsets)
            for arr, row in out:
                arr[k] = row
        t = dt * np.arange(1, steps + 1) if traces else None
        return SimulationResult(recorder, T, t=t, **traces)

    def reference(self, I, T, rtol=1e-10, atol=1e-10, method="DOP853", V0=None):
        """High-accuracy spike times from ``scipy.integrate.solve_ivp`` (independent oracle).

        Each neuron is integrated on its own with adaptive steps; spikes are
        located by solve_ivp's event finder on the dense output.

        Parameters
        ----------
        I : float or array_like (N,)
            Constant input currents in uA/cm^2.
        T : float
            Duration in seconds.
        rtol, atol : float
            Tolerances of the solver (atol in mV / gate units).
        method : str
            A solve_ivp method with dense output, e.g. "DOP853" or "Radau".
        V0 : float, optional
            Initial potential (mV), gates at steady state; default: rest.

        Returns
        -------
        list of ndarray
            Spike times in seconds, one array per input.
        """
        from scipy.integrate import solve_ivp

        T = check.positive("T", T)
        I = check.finite_array("I", I).reshape(-1)
        y0 = self.initial_state(1, V0)[:, 0]
        result = []
        for Ii in I:
            sol = solve_ivp(self._scalar_rhs(float(Ii)), (0.0, T * _MS_PER_S), y0, method=method,
                            rtol=rtol, atol=atol, events=self._crossing_event())
            if sol.status != 0:
                raise RuntimeError(f"solve_ivp failed for I={Ii}: {sol.message}")
            result.append(sol.t_events[0] / _MS_PER_S)
        return result

    def _crossing_event(self):
        def crossing(t, y):
            return y[0] - self.threshold

        crossing.direction = 1.0
        return crossing

    def _scalar_rhs(self, I):
        """Right-hand side (ms units) written out with scalar math: independent of the vectorized kernel."""
        from math import exp, expm1

        C, gNa, gK, gL, ENa, EK, EL = self.C, self.g_Na, self.g_K, self.g_L, self.E_Na, self.E_K, self.E_L

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
    V0 : float or array_like (n,), optional
        Initial potential in mV, gates at their steady values; default: rest.

    Attributes
    ----------
    V : ndarray (n,)
        Membrane potential in mV (a live view, updated in place each step; ``v`` is the same array).
    m, h, n : ndarray (n,)
        Gating variables (live views).
    """

    def __init__(self, model, n, dt, method="rk4", V0=None, warn=True):
        if not isinstance(model, HodgkinHuxley):
            raise TypeError(f"model must be a HodgkinHuxley, got {type(model).__name__}")
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {method!r}")
        self.model, self.method, self.n_neurons = model, method, int(n)
        self.dt = check.positive("dt", dt)
        if warn:
            _warn_dt(method, self.dt, stacklevel=3)
        if V0 is not None:
            V0 = check.finite_array("V0", V0)
            if V0.ndim > 1 or V0.size not in (1, n):
                raise ValueError(f"V0 must be a scalar or shape ({n},) in mV, got shape {V0.shape}")
        h = self.dt * _MS_PER_S
        self.Y = model._state(n, V0)
        R = _ROW
        self.V = self.v = self.Y[R["V"]]
        self.m, self.h, self.n = self.Y[R["m"]], self.Y[R["h"]], self.Y[R["n"]]
        self._stepper = STEPPERS[method](model, n, h)
        self._coeffs = self._stepper.coeffs
        self._detector = CrossingDetector(model.threshold, n, h)
        self._I_bar = None  # input (mV/ms) the current coefficients hold; None before the first step
        self._dI = np.empty(n)
        self._leak = model.g_L * model.E_L

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
        I_bar = np.add(I, self._leak)  # a new array each step: the coefficient cache keys on identity
        I_bar /= self.model.C
        if I_bar.shape != self.V.shape:
            if I_bar.ndim > 1 or I_bar.size != 1:
                raise ValueError(f"I must be a scalar or shape ({self.V.size},) in uA/cm^2, got shape {I_bar.shape}")
            I_bar = np.full(self.V.shape, I_bar.item())
        return self._advance(I_bar)

    def _advance(self, I_bar):
        """One step with ``I_bar = (I + g_L E_L) / C`` (mV/ms). Pass the same object for an unchanged input."""
        c, det, Y, V = self._coeffs, self._detector, self.Y, self.V
        if self._I_bar is None:  # first step: coefficients and dV/dt of the initial state
            c(Y, I_bar)
            det.prime(V, c.aV, c.bV)
        elif I_bar is not self._I_bar:  # new input: a_V (and so dV/dt) shift by the change in I_bar
            np.subtract(I_bar, c.P[2], out=self._dI)
            c.set_input(I_bar, self._dI)
            det.f += self._dI
        self._I_bar = I_bar
        self._stepper(Y, I_bar)
        c(Y, I_bar)  # coefficients at the end of the step = start of the next; dV/dt for spike location
        return det.locate(V, c.aV, c.bV, self.dt)
