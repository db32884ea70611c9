"""Synapse kinds: what a spike does to its target.

One module per kind: ``psc`` (current-based PSC filters h(t) = t^n e^(-t/tau_s) / (n! tau_s^(n+1))
and their exact step-to-step filtering), ``conductance`` (conductance-based synapses, g (E_rev - V));
``delta`` (voltage jumps, NEST's ``iaf_psc_delta``); ``plasticity`` (STDP of a connection's weights).
"""
from .delta import Delta
from .psc import PSCFilter, PSCState, filter_binned
from .conductance import Conductance
from .plasticity import STDP

__all__ = ["Delta", "PSCFilter", "PSCState", "filter_binned", "Conductance", "STDP"]
