"""Precise spike timing in networks: the runtime of ``Network(timing="precise")`` (:mod:`.runtime`), synaptic
events with exact arrival times (:mod:`.events`), and :func:`precise_feedforward` (no network needed).

The exact LIF integrator itself lives beside the grid one, in :mod:`neurosim.neurons.lif`.
"""
from .feedforward import precise_feedforward  # noqa: F401
from .runtime import PreciseRuntime  # noqa: F401
