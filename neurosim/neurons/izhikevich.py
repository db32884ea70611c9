"""Izhikevich (2003)'s simple model, in its published units.

    dv/dt = 0.04 v^2 + 5 v + 140 - u + I      (v in mV, t in ms)
    du/dt = a (b v - u)

When v reaches 30 mV: v <- c, u <- u + d. Time is in seconds at the interface (dt, T, spike
times) and converted to ms inside. Spike times are located inside the step
(:mod:`neurosim.neurons.resetting`).
"""
import numpy as np

from .. import validation as check
from ..errors import SimulationError
from .base import StateVar
from .resetting import ResettingModel, check_range

#: Izhikevich (2003), Fig. 2: (a, b, c, d) of the cortical cell classes.
IZHIKEVICH_2003 = {
    "RS": (0.02, 0.2, -65.0, 8.0),   # regular spiking
    "IB": (0.02, 0.2, -55.0, 4.0),   # intrinsically bursting
    "CH": (0.02, 0.2, -50.0, 2.0),   # chattering
    "FS": (0.1, 0.2, -65.0, 2.0),    # fast spiking
    "LTS": (0.02, 0.25, -65.0, 2.0),  # low-threshold spiking
}


class Izhikevich(ResettingModel):
    """Izhikevich (2003)'s simple spiking model, a, b, c, d in the published units.

    Parameters (numbers, or arrays of shape (n,) with one value per neuron)
    ----------
    a : float
        Recovery rate (1/ms), > 0.
    b : float
        Sensitivity of u to v (dimensionless).
    c : float
        Reset of v (mV), < v_peak.
    d : float
        Increment of u at a spike (mV/ms, as published).
    v_peak : float
        Spike cut (mV), 30 as published.

    The input ``J`` is Izhikevich's I (dimensionless, in mV/ms as the equation reads; e.g. 10).
    State: ``v`` (mV; starts at -65, or at a population's ``v0``) and ``u`` (starts at b v).
    Presets: ``Izhikevich.preset("RS")`` (also IB, CH, FS, LTS; :data:`IZHIKEVICH_2003`).

    Numerics: RK4 in ms with every spike located inside its step and the reset applied there.
    Izhikevich's own code (two Euler half-steps of 0.5 ms for v) is a different, coarser
    discretization; this one converges to the ODE (at the default dt = 0.1 ms, spike times agree
    with scipy's solve_ivp to within 1 us over 500 ms).

    Examples
    --------
    >>> import neurosim
    >>> rates = neurosim.tuning_curve(neurosim.Izhikevich.preset("RS"), [5.0, 10.0], T=1.0)
    """

    state = {"v": StateVar(-65.0, "mV"), "u": StateVar(-13.0, "mV/ms")}
    input_unit = "mV/ms"
    default_dt = 1e-4

    def __init__(self, a=0.02, b=0.2, c=-65.0, d=8.0, v_peak=30.0):
        super().__init__(a=a, b=b, c=c, d=d, v_peak=v_peak)

    def _validate(self):
        super()._validate()
        check_range(self, "a", low=0.0, low_open=True, what="> 0 (1/ms)")
        if np.any(np.asarray(self.c) >= self.v_peak):
            raise ValueError(f"Izhikevich: c (the reset) must be < v_peak, got c={self.c!r}, "
                             f"v_peak={self.v_peak!r}")

    @classmethod
    def preset(cls, name):
        """Izhikevich (2003)'s cell class ``name``: "RS", "IB", "CH", "FS" or "LTS"."""
        check.check_choice("name", name, tuple(IZHIKEVICH_2003))
        a, b, c, d = IZHIKEVICH_2003[name]
        return cls(a=a, b=b, c=c, d=d)

    def initial_state(self, shape, v0=None):
        """Fresh state: v = -65 mV (or ``v0``), u = b v (rest of the recovery variable)."""
        state = super().initial_state(shape, v0)
        state["u"][...] = self.b * state["v"]
        return state

    def step(self, dt, J, v, u):
        """Advance every neuron by ``dt`` s (state updated in place); returns ``(spiked, offsets)``."""
        return self._step(dt, J, v, u)

    # ---- hooks of the RK4 step (derivatives per second: the equation is per ms) ---------------------
    def _coefficients(self):
        a = np.asarray(self.a, dtype=float)
        return {"a_per_s": 1e3 * a, "b": self.b, "d": self.d, "v_reset": self.c, "v_peak": self.v_peak,
                "a_max": float(np.max(a))}

    def _rhs(self, v, u, J, p):
        vc = np.minimum(v, _V_CAP)  # past the peak: keep RK4's trial stages finite
        dv = 1e3 * ((0.04 * vc + 5.0) * vc + 140.0 - u + J)
        du = p["a_per_s"] * (p["b"] * v - u)
        return dv, du

    def _stiffness(self, v, p):
        return 1e3 * np.abs(0.08 * np.minimum(v, _V_CAP) + 5.0) + p["a_per_s"]

    def _after_spike(self, u, p):
        return u + p["d"]

    def _check_dt(self, dt, v):
        # RK4's stability on the linearized v-equation (rate 0.08 v + 5 per ms, most negative at
        # the lowest v) and on u (rate a per ms) needs |rate dt| < 2.78; keep a margin.
        dt_ms = 1e3 * dt
        rate = max(-(0.08 * float(np.min(v)) + 5.0), self._params()["a_max"], 1e-300)
        if rate * dt_ms > 1.0:
            raise SimulationError(f"Izhikevich: dt={dt:g} s is too large for its RK4 step at v = "
                                  f"{float(np.min(v)):g} mV (stable for dt <= {1e-3 / rate:g} s); use a smaller dt")


_V_CAP = 1e4  # mV
