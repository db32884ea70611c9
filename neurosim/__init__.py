"""neurosim: spiking neuron models, synapses, spike trains and tuning curves.

Time is in seconds at every public interface. LIF neurons use normalized units
(threshold 1, reset 0; see ``LIFUnits`` for physical units); Hodgkin-Huxley
uses mV and uA/cm^2.
"""
from .neurons.lif import LIF, LIFState, LIFUnits, lif_rate
from .neurons.rates import siegert_rate
from .signals import TimedArray
from .spikes import SimulationResult, SpikeRecorder
from .spikes import (bin_spikes, count_rate, cv, filtered_rate, from_events, isi, isi_rate, poisson_spikes,
                     population_rate, regular_spikes, to_events, unbin_spikes)
from .synapses import Delta, PSCFilter, PSCState, filter_binned
from .synapses import Conductance
from .synapses.plasticity import STDP
from .network.connections import Connection, synaptic_weight
from .network.transforms import Convolution
from .network.description import Network, Population
from .network.probes import Probe
from .neurons.tuning import tuning_curve
from .neurons.hh import HHState, HodgkinHuxley
from .neurons.base import NeuronModel, StateVar
from .neurons.adex import AdEx
from .neurons.izhikevich import Izhikevich
from .neurons.integrate import IF
from .neurons.fit import LIFFit, fit_lif
from .errors import SimulationError
from . import connectors

__all__ = [
    "LIF", "LIFState", "LIFUnits", "lif_rate", "siegert_rate", "TimedArray",
    "SimulationResult", "SpikeRecorder",
    "bin_spikes", "count_rate", "cv", "filtered_rate", "from_events", "isi", "isi_rate", "poisson_spikes",
    "population_rate", "regular_spikes", "to_events", "unbin_spikes",
    "Delta", "PSCFilter", "PSCState", "filter_binned", "Conductance", "STDP",
    "Connection", "Convolution", "synaptic_weight", "Network", "Population", "Probe",
    "tuning_curve", "HHState", "HodgkinHuxley", "NeuronModel", "StateVar", "AdEx", "Izhikevich", "IF", "LIFFit",
    "fit_lif", "SimulationError", "connectors",
]

__version__ = "0.2.0"
