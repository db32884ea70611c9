"""Hodgkin-Huxley neurons: the model (:mod:`.model`), channel kinetics (:mod:`.kinetics`) and integrators (:mod:`.steppers`;
:mod:`.compiled` is their numba form, imported only when numba is)."""
from .kinetics import DT_STABLE, DT_WARN, METHODS, V_RANGE, _warn_dt, rate_functions, steady_state  # noqa: F401
from .model import HHState, HodgkinHuxley  # noqa: F401
