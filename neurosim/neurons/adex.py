"""The adaptive exponential integrate-and-fire neuron (AdEx; Brette & Gerstner 2005), in SI units.

    C dV/dt = -g_L (V - E_L) + g_L Delta_T exp((V - V_T) / Delta_T) - w + J
    tau_w dw/dt = a (V - E_L) - w

When V reaches V_peak: V <- V_reset, w <- w + b, and V is held at V_reset for tau_ref (w keeps
relaxing). Spike times are located inside the step (see :mod:`neurosim.neurons.resetting`).
"""
import numpy as np

from .. import validation as check
from ..errors import SimulationError
from .base import StateVar, _parameter
from .resetting import ResettingModel, check_range

pF, nS, mV, ms, pA = 1e-12, 1e-9, 1e-3, 1e-3, 1e-12

#: Naud et al. (2008), Table 1: parameters and step current I (A) of each firing pattern.
#: V_peak is left at its default V_T + 5 Delta_T (Brian2's Naud example cuts at 0 mV instead;
#: the patterns are the same, each interval ~0.13 ms longer: the upswing from -40 to 0 mV).
NAUD_2008 = {
    "tonic": dict(C=200 * pF, g_L=10 * nS, E_L=-70 * mV, V_T=-50 * mV, Delta_T=2 * mV, a=2 * nS,
                  tau_w=30 * ms, b=0 * pA, V_reset=-58 * mV, I=500 * pA),
    "adapting": dict(C=200 * pF, g_L=12 * nS, E_L=-70 * mV, V_T=-50 * mV, Delta_T=2 * mV, a=2 * nS,
                     tau_w=300 * ms, b=60 * pA, V_reset=-58 * mV, I=500 * pA),
    "initial_burst": dict(C=130 * pF, g_L=18 * nS, E_L=-58 * mV, V_T=-50 * mV, Delta_T=2 * mV, a=4 * nS,
                          tau_w=150 * ms, b=120 * pA, V_reset=-50 * mV, I=400 * pA),
    "regular_bursting": dict(C=200 * pF, g_L=10 * nS, E_L=-58 * mV, V_T=-50 * mV, Delta_T=2 * mV, a=2 * nS,
                             tau_w=120 * ms, b=100 * pA, V_reset=-46 * mV, I=210 * pA),
    "delayed_accelerating": dict(C=200 * pF, g_L=12 * nS, E_L=-70 * mV, V_T=-50 * mV, Delta_T=2 * mV,
                                 a=-10 * nS, tau_w=300 * ms, b=0 * pA, V_reset=-58 * mV, I=300 * pA),
    "delayed_regular_bursting": dict(C=100 * pF, g_L=10 * nS, E_L=-65 * mV, V_T=-50 * mV, Delta_T=2 * mV,
                                     a=-10 * nS, tau_w=90 * ms, b=30 * pA, V_reset=-47 * mV, I=110 * pA),
    "transient": dict(C=100 * pF, g_L=10 * nS, E_L=-65 * mV, V_T=-50 * mV, Delta_T=2 * mV, a=10 * nS,
                      tau_w=90 * ms, b=100 * pA, V_reset=-47 * mV, I=180 * pA),
    "irregular": dict(C=100 * pF, g_L=12 * nS, E_L=-60 * mV, V_T=-50 * mV, Delta_T=2 * mV, a=-11 * nS,
                      tau_w=130 * ms, b=30 * pA, V_reset=-48 * mV, I=160 * pA),
}

# Above this many Delta_T past V_peak the exponential is held: the neuron has spiked by then, and
# RK4's trial stages of a step that crosses the peak must not overflow.
_EXP_CAP = 20.0


class AdEx(ResettingModel):
    """Adaptive exponential integrate-and-fire neuron (Brette & Gerstner 2005), SI units.

    Parameters (numbers, or arrays of shape (n,) with one value per neuron)
    ----------
    C : float
        Membrane capacitance (F), > 0.
    g_L : float
        Leak conductance (S), > 0.
    E_L, V_T : float
        Leak reversal and exponential threshold (V).
    Delta_T : float
        Slope factor (V), > 0.
    a : float
        Subthreshold adaptation (S); negative values are allowed (Naud et al.'s resonant patterns).
    tau_w : float
        Adaptation time constant (s), > 0.
    b : float
        Spike-triggered adaptation increment (A).
    V_reset : float
        Reset potential (V), < V_peak.
    V_peak : float, optional
        Spike cut (V), > V_T; default V_T + 5 Delta_T.
    tau_ref : float
        Refractory period (s), >= 0: V is held at V_reset while w keeps relaxing.

    The defaults are Brette & Gerstner's regular-spiking cell. The input ``J`` is a current in
    amperes. State: ``v`` (V; starts at E_L, or at a population's ``v0``), ``w`` (A; starts at 0)
    and ``ref`` (s of refractoriness left). Naud et al. (2008)'s patterns:
    :meth:`preset` and :data:`NAUD_2008` (with their step currents).

    Numerics: RK4 with every spike located inside its step and the reset applied there
    (:mod:`neurosim.neurons.resetting`). At the default dt = 0.1 ms, spike times of Naud's patterns
    agree with scipy's solve_ivp (rtol 1e-12) to within 1 us over 500 ms (tests/neurosim/
    test_adex_izhikevich.py; docs/models.md has the error against dt).

    Examples
    --------
    >>> import neurosim
    >>> model = neurosim.AdEx.preset("adapting")
    >>> rate = neurosim.tuning_curve(model, [500e-12], T=1.0)   # Hz, at 500 pA
    """

    state = {"v": StateVar(-70.6e-3, "V"), "w": StateVar(0.0, "A"), "ref": StateVar(0.0, "s")}
    input_unit = "A"
    default_dt = 1e-4

    def __init__(self, C=281 * pF, g_L=30 * nS, E_L=-70.6 * mV, V_T=-50.4 * mV, Delta_T=2 * mV, a=4 * nS,
                 tau_w=144 * ms, b=80.5 * pA, V_reset=-70.6 * mV, V_peak=None, tau_ref=0.0):
        if V_peak is None:  # the common cut V_T + 5 Delta_T (checked values first)
            try:
                V_peak = _frozen(np.asarray(_parameter("V_T", V_T)) + 5.0 * np.asarray(_parameter("Delta_T", Delta_T)))
            except TypeError:
                V_peak = 0.0  # V_T or Delta_T is not numeric: the checks below name it
        super().__init__(C=C, g_L=g_L, E_L=E_L, V_T=V_T, Delta_T=Delta_T, a=a, tau_w=tau_w, b=b,
                         V_reset=V_reset, V_peak=V_peak, tau_ref=tau_ref)

    def _validate(self):
        super()._validate()
        for name in ("C", "g_L", "Delta_T", "tau_w"):
            check_range(self, name, low=0.0, low_open=True, what="> 0")
        check_range(self, "tau_ref", low=0.0, what=">= 0")
        if np.any(np.asarray(self.V_peak) <= self.V_T):
            raise ValueError(f"AdEx: V_peak must be > V_T, got V_peak={self.V_peak!r}, V_T={self.V_T!r}")
        if np.any(np.asarray(self.V_reset) >= self.V_peak):
            raise ValueError(f"AdEx: V_reset must be < V_peak, got V_reset={self.V_reset!r}, "
                             f"V_peak={self.V_peak!r}")

    @classmethod
    def preset(cls, name, **overrides):
        """Naud et al. (2008)'s firing pattern ``name`` (a key of :data:`NAUD_2008`).

        The pattern appears under its step current ``NAUD_2008[name]["I"]`` (A), starting at rest.
        Keyword arguments override parameters (e.g. ``tau_ref=2e-3``).
        """
        check.check_choice("name", name, tuple(NAUD_2008))
        params = {k: v for k, v in NAUD_2008[name].items() if k != "I"}
        params.update(overrides)
        return cls(**params)

    def initial_state(self, shape, v0=None):
        """Fresh state: v = E_L (or ``v0``), w = 0, not refractory."""
        state = super().initial_state(shape, v0)
        if v0 is None:
            state["v"][...] = self.E_L
        return state

    def step(self, dt, J, v, w, ref):
        """Advance every neuron by ``dt`` s (state updated in place); returns ``(spiked, offsets)``."""
        return self._step(dt, J, v, w, ref)

    # ---- hooks of the RK4 step ------------------------------------------------------------------
    def _coefficients(self):
        C, g_L, DT, tau_w = (np.asarray(x, dtype=float) for x in (self.C, self.g_L, self.Delta_T, self.tau_w))
        return {"g_C": g_L / C, "inv_C": 1.0 / C, "DT": DT, "inv_DT": 1.0 / DT, "V_T": self.V_T, "E_L": self.E_L,
                "x_cap": (np.asarray(self.V_peak) - self.V_T) / DT + _EXP_CAP, "a": self.a, "b": self.b,
                "tau_w": tau_w, "inv_tau_w": 1.0 / tau_w, "v_reset": self.V_reset, "v_peak": self.V_peak,
                "tau_ref": self.tau_ref,
                "dt_max": 0.5 * float(np.min(np.minimum(C / g_L, tau_w)))}

    def _rhs(self, v, w, J, p):
        x = np.minimum((v - p["V_T"]) * p["inv_DT"], p["x_cap"])
        u = v - p["E_L"]
        dv = p["g_C"] * (p["DT"] * np.exp(x) - u) + (J - w) * p["inv_C"]
        dw = (p["a"] * u - w) * p["inv_tau_w"]
        return dv, dw

    def _stiffness(self, v, p):
        x = np.minimum((v - p["V_T"]) * p["inv_DT"], p["x_cap"])
        return p["g_C"] * (np.exp(x) + 1.0) + p["inv_tau_w"]

    def _after_spike(self, w, p):
        return w + p["b"]

    def _refractory_w(self, w, h, p):
        w_inf = p["a"] * (p["v_reset"] - p["E_L"])  # V held at V_reset: w relaxes exactly
        return w_inf + (w - w_inf) * np.exp(-h * p["inv_tau_w"])

    def _check_dt(self, dt, v):
        # RK4 is stable on the linear subthreshold dynamics for |lambda dt| < 2.78; keep a margin.
        limit = self._params()["dt_max"]
        if dt > limit:
            raise SimulationError(f"AdEx: dt={dt:g} s is too large for its RK4 step (stable and accurate "
                                  f"for dt <= min(C/g_L, tau_w)/2 = {limit:g} s); use a smaller dt")


def _frozen(value):
    arr = np.asarray(value, dtype=float)
    if arr.ndim == 0:
        return float(arr)
    arr = arr.copy()
    arr.setflags(write=False)
    return arr
