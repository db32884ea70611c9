"""Spike-train statistics: rates (ISI, count, filtered), inter-spike intervals, CV."""
import numpy as np

from .. import _validate as check
from ..synapses import PSCFilter
from .events import _as_trains


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
        times = check.finite_array("times", spike_times[0]).ravel()
        indices = np.asarray(spike_times[1], dtype=np.int64).ravel()
        if times.shape != indices.shape:
            raise ValueError(f"times {times.shape} and indices {indices.shape} must have the same shape")
        if indices.size and indices.min() < 0:
            raise ValueError(f"indices must be >= 0, got {indices.min()}")
        if n_neurons is None:
            n_neurons = int(indices.max()) + 1 if indices.size else 0
        elif indices.size and indices.max() >= n_neurons:
            raise ValueError(f"indices must be < n_neurons={n_neurons}, got {indices.max()}")
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


def count_rate(spike_times, T, t_start=0.0, n_neurons=None):
    """Firing rate (Hz) of each neuron: spikes in ``[t_start, T)`` divided by ``T - t_start``."""
    T = check.positive("T", T)
    if not 0 <= t_start < T:
        raise ValueError(f"t_start must be in [0, T={T}), got {t_start!r}")
    trains = _as_trains(spike_times, n_neurons)
    return np.array([np.count_nonzero((s >= t_start) & (s < T)) for s in trains]) / (T - t_start)


def isi(spike_times, n_neurons=None):
    """Inter-spike intervals (s): a list with one array per neuron (``np.diff`` of its sorted times)."""
    return [np.diff(np.sort(s)) for s in _as_trains(spike_times, n_neurons)]


def cv(spike_times, n_neurons=None):
    """Coefficient of variation of the ISIs (std / mean) per neuron; NaN with fewer than 2 intervals.

    About 1 for a Poisson process, 0 for a regular train.
    """
    out = []
    for d in isi(spike_times, n_neurons):
        out.append(np.std(d) / np.mean(d) if d.size >= 2 and np.mean(d) > 0 else np.nan)
    return np.array(out)


def filtered_rate(spike_times, t, synapse=None, n_neurons=None):
    """Rate estimate (Hz) by PSC filtering: ``sum_p h(t - t_p)`` with a unit-area kernel.

    Parameters
    ----------
    spike_times : list of arrays, one array, or (times, indices) events
    t : array_like (T,)
        Times (s) to evaluate at.
    synapse : PSCFilter, optional
        Default ``PSCFilter(0.05)`` (50 ms exponential).

    Returns
    -------
    ndarray, shape (T, N)
    """

    synapse = PSCFilter(0.05) if synapse is None else synapse
    return synapse.filter(_as_trains(spike_times, n_neurons), t)
