"""Leaky integrate-and-fire neurons: the model and its exact grid step (:mod:`.model`), and the exact
event-driven integrator of precise timing (:mod:`.precise`, closed forms in :mod:`.kernel`)."""
from .model import *  # noqa: F401,F403
from .model import LIF, LIFState, LIFUnits, lif_rate  # noqa: F401
from .precise import PreciseLIFState  # noqa: F401
