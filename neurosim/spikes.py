"""Spike trains: firing-rate estimates (more utilities are added by the synapses issue)."""
import numpy as np

from .result import split_by_neuron


def isi_rate(spike_times, n_neurons=None, t_start=0.0):
    """Firing rate (Hz) of each neuron from its inter-spike intervals.

    The rate is ``(k - 1) / (t_last - t_first)`` over the k spikes at or after
    ``t_start``: the mean inverse ISI, which does not depend on where the
    simulation window cuts the spike train. Fewer than two spikes give 0.

    Parameters
    ----------
    spike_times : list of arrays, or tuple (times, indices)
        Spike times in seconds, one array per neuron, or events.
    n_neurons : int, optional
        Needed with events; defaults to ``max(indices) + 1``.
    t_start : float
        Ignore spikes before this time (s), e.g. an onset transient.

    Returns
    -------
    ndarray, shape (n_neurons,)
    """
    if isinstance(spike_times, tuple):
        times, indices = (np.asarray(a) for a in spike_times)
        if n_neurons is None:
            n_neurons = int(indices.max()) + 1 if indices.size else 0
    else:
        spike_times = [np.asarray(s, dtype=float) for s in spike_times]
        n_neurons = len(spike_times)
        times = np.concatenate(spike_times) if spike_times else np.zeros(0)
        indices = np.repeat(np.arange(n_neurons), [len(s) for s in spike_times])
    keep = times >= t_start
    times, indices = times[keep], indices[keep]
    order = np.lexsort((times, indices))
    times, indices = times[order], indices[order]
    counts = np.bincount(indices, minlength=n_neurons)
    rates = np.zeros(n_neurons)
    last = np.cumsum(counts) - 1
    first = last - counts + 1
    ok = counts >= 2
    span = np.zeros(n_neurons)
    span[ok] = times[last[ok]] - times[first[ok]]
    ok &= span > 0  # spikes closer than the stored time resolution carry no interval
    rates[ok] = (counts[ok] - 1) / span[ok]
    return rates


__all__ = ["isi_rate", "split_by_neuron"]
