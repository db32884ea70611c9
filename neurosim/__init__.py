"""neurosim: spiking neuron models, synapses, spike trains and tuning curves.

Time is in seconds at every public interface. LIF neurons use normalized units
(threshold 1, reset 0; see ``LIFUnits`` for physical units); Hodgkin-Huxley
uses mV and uA/cm^2.
"""
from .lif import LIF, LIFState, LIFUnits
from .result import SimulationResult, SpikeRecorder
from .spikes import isi_rate
from .tuning import tuning_curve

__version__ = "0.1.0"
