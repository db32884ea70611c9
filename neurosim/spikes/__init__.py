"""Spike trains as events ``(times, indices)`` or per-neuron lists (times in seconds):
recording, conversion, generation and statistics."""
from .events import SpikeRecorder, from_events, split_by_neuron, to_events
from .result import SimulationResult
from .stats import count_rate, cv, filtered_rate, isi, isi_rate, population_rate
from .trains import bin_spikes, poisson_spikes, regular_spikes, unbin_spikes

__all__ = ["SpikeRecorder", "SimulationResult", "isi_rate", "split_by_neuron", "to_events", "from_events",
           "bin_spikes", "unbin_spikes", "regular_spikes", "poisson_spikes", "count_rate", "isi", "cv",
           "filtered_rate", "population_rate"]
