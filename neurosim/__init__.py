"""neurosim: spiking neuron models, synapses, spike trains and tuning curves.

Time is in seconds at every public interface. LIF neurons use normalized units
(threshold 1, reset 0); Hodgkin-Huxley uses mV, ms-free seconds and uA/cm^2.
"""
__version__ = "0.1.0"
