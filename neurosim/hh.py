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
import warnings

import numpy as np
from scipy.special import exprel

from . import _validate as check
from .result import SimulationResult, SpikeRecorder

_MS_PER_S = 1e3  # rate functions are per ms; the public interface is in seconds

# Rate-function arguments, one row each, as A = SLOPE * V + OFFSET:
#   0 alpha_m = 1 / exprel(-(V + 40)/10)           (removable singularity at -40 mV)
#   1 alpha_n = 0.1 / exprel(-(V + 55)/10)         (removable singularity at -55 mV)
#   2 alpha_h = 0.07 exp(-(V + 65)/20)
#   3 (unused: keeps the exponentials contiguous in the kernel's buffer)
#   4 beta_m  = 4 exp(-(V + 65)/18)
#   5 beta_n  = 0.125 exp(-(V + 65)/80)
#   6 beta_h  = 1 / (1 + exp(-(V + 35)/10))
# Constant factors of plain exponentials are folded into the offsets (log).
_SLOPE = np.array([-0.1, -0.1, -1 / 20, 0.0, -1 / 18, -1 / 80, -0.1])[:, None]
_OFFSET = np.array([-4.0, -5.5, -3.25 + np.log(0.07), 0.0, -65 / 18 + np.log(4.0), -0.8125 + np.log(0.125), -3.5])[:, None]
_EXPREL_SCALE = np.array([1.0, 0.1])[:, None]  # alpha_m, alpha_n = scale / exprel(A)
_TINY = 1e-300
# Internal state layout (5, N): rows m, n, h, V and a constant row of ones, so that
# the rate arguments are one matrix product SO @ state[3:5]. Public order is V, m, h, n.
_ROW = {"m": 0, "n": 1, "h": 2, "V": 3}

METHODS = ("rk4", "exp_midpoint", "exp_ab2", "exp_euler")
# dt (s) above which simulate() warns: beyond these the f-I curve is off by more
# than ~1 % (exponential methods) or RK4 nears its stability limit (it
# diverges at dt = 0.1 ms). Measured against ``reference``; see docs/hh.md.
DT_WARN = {"rk4": 5e-5, "exp_midpoint": 5e-5, "exp_ab2": 5e-5, "exp_euler": 1e-5}


def _warn_dt(method, dt, stacklevel):
    if dt > DT_WARN[method]:
        warnings.warn(f"dt={dt:g} s is too large for method {method!r} to be accurate "
                      f"(rate error above ~1 % or unstable); use dt <= {DT_WARN[method]:g} s", UserWarning,
                      stacklevel=stacklevel)


def rate_functions(V):
    """The six HH rate functions at membrane potential ``V``.

    Finite and smooth everywhere: alpha_m and alpha_n are written with
    ``exprel(x) = (e^x - 1)/x`` so their removable singularities are exact
    (alpha_m(-40) = 1/ms, alpha_n(-55) = 0.1/ms) and raise no warnings.

    Parameters
    ----------
    V : float or array_like
        Membrane potential in mV, any shape.

    Returns
    -------
    dict of str -> ndarray
        ``alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n`` in 1/ms, each the shape of V.
    """
    V = check.finite_array("V", V)
    R = _rates(V.ravel())
    rows = {"alpha_m": 0, "alpha_n": 1, "alpha_h": 2, "beta_m": 4, "beta_n": 5, "beta_h": 6}
    return {name: R[i].reshape(V.shape) for name, i in rows.items()}


def _rates(V):
    """(7, N) array of rates (rows as in _SLOPE) for a 1-D V, allocating."""
    A = _SLOPE * V + _OFFSET
    R = np.exp(A)
    R[0:2] = _EXPREL_SCALE / exprel(A[0:2])
    R[6] = 1.0 / (1.0 + R[6])
    return R


def steady_state(V):
    """Steady-state gates ``(m_inf, h_inf, n_inf)`` at potential ``V`` (mV)."""
    r = rate_functions(V)
    return tuple(r["alpha_" + x] / (r["alpha_" + x] + r["beta_" + x]) for x in "mhn")


class _Coefficients:
    """Preallocated buffers and the in-place routine filling ``a`` and ``b`` for a (5, N) state.

    Linear maps are small matrix products (numpy's broadcasting of a (k, 1)
    column against (N,) rows is ~3x slower than one BLAS call here), buffers
    are laid out so every ufunc works on contiguous rows, and views are made
    once: at N ~ 1000 the per-call overhead dominates.
    """

    def __init__(self, model, n):
        self.SO = np.hstack([_SLOPE, _OFFSET])  # A = SO @ [V; 1]
        self.A = A = np.empty((7, n))
        # two coefficient buffers: exp_ab2 keeps the previous step's while filling the next
        self.KK = np.empty((2, 8, n))  # rows 0-3: a (m, n, h, V); rows 4-7: b
        # P rows: m^3 h, n^4, I_bar, 1; then [a_V; b_V] = G @ P in one product
        self.P = P = np.ones((4, n))
        self.G = np.array([[model.g_Na * model.E_Na, model.g_K * model.E_K, model.C, 0.0],
                           [model.g_Na, model.g_K, 0.0, model.g_L]]) / model.C
        self.X = np.empty((2, n))
        self.mh = np.empty(n)
        self._views = [(A[0:2], K[0:2], K[1], A[2:7], K[2:7], K[6], K[4:7], K[0:3], P[0:2], P[0], P[1], P[2], K[3:8:4])
                       for K in self.KK]
        self._I = None
        self._state_views = {}
        self.select(0)

    def select(self, i):
        """Fill buffer ``i`` (0 or 1) from now on; ``K``, ``a``, ``b``, ``aV``, ``bV`` refer to it."""
        self.current = i
        self.K = K = self.KK[i]
        self.a, self.b = K[:4], K[4:]
        self.aV, self.bV = K[3], K[7]
        self._v = self._views[i]

    def set_input(self, I_bar, dI):
        """Switch the current buffer's coefficients to input ``I_bar`` (a_V shifts by ``dI = I_bar - old``)."""
        self.aV += dI
        np.copyto(self.P[2], I_bar)
        self._I = I_bar

    def __call__(self, Y, I_bar):
        """Fill a, b (ms units) for state Y (5, N); ``I_bar = (I + g_L E_L) / C`` (N,) in mV/ms."""
        views = self._state_views.get(id(Y))
        if views is None or views[0] is not Y:
            views = self._state_views[id(Y)] = (Y, Y[3:5], Y[0:2], Y[0], Y[2])
        _, V1, mn, m, h = views
        A02, K01, K1, A27, K27, K6, Kb, Ka, P01, P0, P1, PI, KV = self._v
        X = self.X
        if I_bar is not self._I:  # constant input: copied once, not every call
            np.copyto(PI, I_bar)
            self._I = I_bar
        np.matmul(self.SO, V1, out=self.A)
        # alpha = A / expm1(A) (x 0.1 for n). A is either exactly 0 or |A| >~ 1e-32
        # (rounding residue of SLOPE*V + OFFSET), so adding 1e-300 only turns 0/0
        # into tiny/tiny = the limit 1; scipy's exprel is 5x slower here.
        np.add(A02, _TINY, out=X)
        np.expm1(X, out=K01)
        np.divide(X, K01, out=K01)
        K1 *= 0.1
        np.exp(A27, out=K27)  # alpha_h, (unused), beta_m, beta_n, beta_h's exponential
        K6 += 1.0
        np.reciprocal(K6, out=K6)
        Kb += Ka  # gate b = alpha + beta
        # m^3 h and n^4 as (m^2 * mh, n^2 * n^2)
        np.multiply(mn, mn, out=P01)
        np.multiply(m, h, out=self.mh)
        P0 *= self.mh
        P1 *= P1
        np.matmul(self.G, self.P, out=KV)


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


from ._hh_steppers import HHState  # noqa: E402  (it uses _Coefficients)
