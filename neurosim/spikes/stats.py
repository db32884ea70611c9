"""Spike-train statistics: rates (ISI, count, filtered), inter-spike intervals, CV."""

import numpy as np

from .. import validation as check
from ..synapses import PSCFilter
from . import _order
from .events import _as_trains


def _trains(spike_times, n_neurons=None):
    """Checked :func:`_as_trains`: spike_times a list/tuple/array, n_neurons None or an int >= 1."""
    if not isinstance(spike_times, (list, tuple, np.ndarray)):
        raise TypeError(f"spike_times must be a list of arrays, one array, or (times, indices) events; "
                        f"got {type(spike_times).__name__}")
    if n_neurons is not None:
        n_neurons = check.count_int("n_neurons", n_neurons, limit=check.MAX_INDEX)
    return _as_trains(spike_times, n_neurons)


def isi_rate(spike_times, n_neurons=None, t_start=0.0):
    """Firing rate (Hz) of each neuron from its inter-spike intervals.

    The rate is ``(k - 1) / (t_last - t_first)`` over the k spikes at or after
    ``t_start``: the mean inverse ISI, which does not depend on where the
    simulation window cuts the spike train. Fewer than two spikes give 0.
    Time and memory are O(spikes + neurons): counts, first and last times per
    neuron, no sorting.

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
    t_start = check.check_number("t_start", t_start, low=0.0)
    if not isinstance(spike_times, (list, tuple, np.ndarray)):
        raise TypeError(f"spike_times must be a list of arrays or (times, indices) events, got {type(spike_times).__name__}")
    if n_neurons is not None:
        n_neurons = check.count_int("n_neurons", n_neurons, limit=check.MAX_INDEX)
    if isinstance(spike_times, tuple):
        times = check.finite_array("times", spike_times[0]).ravel()
        indices = _indices("indices", spike_times[1])
        if times.shape != indices.shape:
            raise ValueError(f"times {times.shape} and indices {indices.shape} must have the same shape")
        if n_neurons is None:
            n_neurons = int(indices.max()) + 1 if indices.size else 0
        n_neurons = check.count_int("n_neurons", n_neurons, low=0, limit=check.MAX_INDEX)
        if indices.size and indices.max() >= n_neurons:
            raise ValueError(f"indices must be < n_neurons={n_neurons}, got {indices.max()}")
        return rates_from_chunks([(times, indices)], n_neurons, t_start)
    trains = [check.finite_array("spike_times", s).ravel() for s in spike_times]
    n_neurons = len(trains)
    times = np.concatenate(trains) if trains else np.zeros(0)
    indices = np.repeat(np.arange(n_neurons), [len(s) for s in trains])
    return rates_from_chunks([(times, indices)], n_neurons, t_start)


def _indices(name, indices):
    """Neuron indices as intp, refusing negatives (which would wrap) and non-integers."""
    arr = np.asarray(indices)
    if arr.size and arr.dtype.kind not in "iu":
        if arr.dtype.kind == "f" and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)):
            arr = arr.astype(np.int64)
        else:
            raise TypeError(f"{name} must be integers, got dtype {arr.dtype}")
    arr = arr.astype(np.intp, copy=False).ravel()
    if arr.size and arr.min() < 0:
        raise ValueError(f"{name} must be >= 0, got {arr.min()}")
    return arr


def rates_from_chunks(chunks, n_neurons, t_start=-np.inf):
    """ISI rates (Hz) from spike events given in chunks ``(times, indices)``, in O(spikes + neurons).

    Any order of spikes within and across chunks. Per chunk, the first and last
    time of each neuron come from plain scatter assignments (one arbitrary spike
    per neuron), merged with ``minimum``/``maximum``; then the few spikes earlier
    or later than what the scatter kept are found with one gather and fixed with
    ``ufunc.at`` (none for spikes in time order except same-step repeats).

    Parameters
    ----------
    chunks : iterable of (ndarray float, ndarray intp)
        Spike times (s) and neuron indices; no checks (internal callers). Give
        chunks of at least ``n_neurons`` spikes: each costs O(n_neurons) too.
    n_neurons : int
    t_start : float
        Spikes before this time are ignored.

    Returns
    -------
    ndarray (n_neurons,)
    """
    counts = np.zeros(n_neurons, dtype=np.int64)
    first = np.full(n_neurons, np.inf)
    last = np.full(n_neurons, -np.inf)
    scratch = np.empty(n_neurons)
    for times, idx in chunks:
        if t_start > -np.inf:
            keep = times >= t_start
            if not keep.all():
                times, idx = times[keep], idx[keep]
        if times.size == 0:
            continue
        counts += np.bincount(idx, minlength=n_neurons)
        for merge, fill, beyond in ((np.maximum, -np.inf, np.greater), (np.minimum, np.inf, np.less)):
            target = last if merge is np.maximum else first
            scratch.fill(fill)
            scratch[idx] = times
            merge(target, scratch, out=target)
            miss = beyond(times, target[idx]).nonzero()[0]
            if miss.size:
                merge.at(target, idx[miss], times[miss])
    rates = np.zeros(n_neurons)
    ok = counts >= 2
    span = last[ok] - first[ok]
    good = span > 0  # spikes closer than the stored time resolution carry no interval
    sel = ok.nonzero()[0][good]
    rates[sel] = (counts[sel] - 1) / span[good]
    return rates


def count_rate(spike_times, *args, n_neurons=None, T=None, t_start=0.0):
    """Firing rate (Hz) of each neuron: spikes in ``[t_start, T)`` divided by ``T - t_start``.

    Parameters
    ----------
    spike_times : list of arrays, one array, or (times, indices) events
        Spike times in seconds.
    n_neurons : int, optional
        Number of neurons of events (default ``max(indices) + 1``).
    T : float
        End of the counting window (s), keyword.
    t_start : float
        Start of the window (s), keyword.

    Call as ``count_rate(spike_times, n_neurons, T=..., t_start=...)`` (n_neurons
    positional or keyword). The old order ``count_rate(spike_times, T, t_start,
    n_neurons)`` still works with a DeprecationWarning: it is recognized by T not
    being given as a keyword.

    Returns
    -------
    ndarray (n_neurons,)
    """
    v = _order.resolve("count_rate", args, dict(n_neurons=n_neurons, T=T, t_start=t_start), "T", "n_neurons",
                       ("T", "t_start", "n_neurons"), "count_rate(spikes, n_neurons, T=1.0)")
    n_neurons, T, t_start = v["n_neurons"], v["T"], v["t_start"]
    T = check.positive("T", T)
    t_start = check.check_number("t_start", t_start, low=0.0)
    if not t_start < T:
        raise ValueError(f"t_start must be in [0, T={T}), got {t_start!r}")
    trains = _trains(spike_times, n_neurons)
    if not trains:
        return np.zeros(0)
    times = np.concatenate(trains)
    owner = np.repeat(np.arange(len(trains)), [len(tr) for tr in trains])
    inside = (times >= t_start) & (times < T)
    return np.bincount(owner[inside], minlength=len(trains)) / (T - t_start)


def population_rate(events, n_neurons, T, bin, n_trials=None):
    """Population rate in Hz per neuron in bins ``[k*bin, (k+1)*bin)`` (Brian2's ``PopulationRateMonitor``).

    A spike at t counts in bin ``floor(t / bin)`` (within 1e-9 of a bin's start
    counts in that bin); the counts are divided by ``bin`` and by ``n_neurons``.
    Only whole bins in ``[0, T)`` are returned: a last partial bin is left out.

    Parameters
    ----------
    events : (times, indices) or (times, indices, trials)
        Spike times in seconds (shape (spikes,)); ``trials`` (int) with a batch.
    n_neurons : int
        Neurons of the population (the divisor).
    T : float
        Duration (s): ``floor(T / bin)`` bins.
    bin : float
        Bin width (s).
    n_trials : int, optional
        Number of trials with ``trials`` given (default ``max(trials) + 1``).

    Returns
    -------
    t : ndarray (bins,)
        Bin centres ``(k + 0.5) * bin`` in seconds.
    rate : ndarray (bins,), or (bins, n_trials) with trials
        Hz per neuron.
    """
    if not isinstance(events, (tuple, list)) or len(events) not in (2, 3):
        raise TypeError(f"events must be (times, indices) or (times, indices, trials), got {type(events).__name__}")
    n_neurons = check.count_int("n_neurons", n_neurons, limit=check.MAX_INDEX)
    T = check.positive("T", T)
    bin = check.positive("bin", bin)
    if n_trials is not None:
        n_trials = check.count_int("n_trials", n_trials, limit=check.MAX_INDEX)
    times = check.real_array("events times", events[0], ndim=1)
    rows = int(np.floor(T / bin + 1e-9))
    check.check_work("population_rate: T/bin", rows * (1 if n_trials is None else n_trials), limit_name="bin", unit="bins")
    k = np.floor(times / bin + 1e-9).astype(np.int64)
    keep = (k >= 0) & (k < rows)
    if len(events) == 2:
        counts = np.bincount(k[keep], minlength=rows)[:rows].astype(float)
    else:
        trials = check.index_array("events trials", events[2])
        if trials.shape != times.shape:
            raise ValueError(f"events trials must have the shape of times {times.shape}, got {trials.shape}")
        B = int(trials.max()) + 1 if n_trials is None and trials.size else (n_trials or 1)
        B = check.count_int("n_trials", B, limit=check.MAX_INDEX)
        if trials.size and trials.max() >= B:
            raise ValueError(f"events trials must be < n_trials={B}, got {int(trials.max())}")
        flat = trials[keep] * rows + k[keep]
        counts = np.bincount(flat, minlength=B * rows)[:B * rows].reshape(B, rows).T.astype(float)
    return (np.arange(rows) + 0.5) * bin, counts / (bin * n_neurons)


def isi(spike_times, n_neurons=None):
    """Inter-spike intervals (s): a list with one array per neuron (``np.diff`` of its sorted times)."""
    return [np.diff(np.sort(s)) for s in _trains(spike_times, n_neurons)]


def cv(spike_times, n_neurons=None):
    """Coefficient of variation of the ISIs (std / mean) per neuron; NaN with fewer than 2 intervals.

    About 1 for a Poisson process, 0 for a regular train.
    """
    out = []
    for d in isi(spike_times, n_neurons):
        out.append(np.std(d) / np.mean(d) if d.size >= 2 and np.mean(d) > 0 else np.nan)
    return np.array(out)


def filtered_rate(spike_times, *args, n_neurons=None, t=None, synapse=None):
    """Rate estimate (Hz) by PSC filtering: ``sum_p h(t - t_p)`` with a unit-area kernel.

    Call as ``filtered_rate(spike_times, n_neurons, t=..., synapse=...)`` (what, how many,
    then time). The old order ``filtered_rate(spike_times, t, synapse, n_neurons)`` still
    works with a DeprecationWarning: it is recognized by t not being given as a keyword.

    Parameters
    ----------
    spike_times : list of arrays, one array, or (times, indices) events
    n_neurons : int, optional
        Number of neurons of events.
    t : array_like (T,)
        Times (s) to evaluate at (keyword).
    synapse : PSCFilter, optional
        Default ``PSCFilter(0.05)`` (50 ms exponential).

    Returns
    -------
    ndarray, shape (T, N)
    """
    v = _order.resolve("filtered_rate", args, dict(n_neurons=n_neurons, t=t, synapse=synapse), "t", "n_neurons",
                       ("t", "synapse", "n_neurons"), "filtered_rate(spikes, n_neurons, t=np.arange(0, 1, 1e-3))")
    n_neurons, t, synapse = v["n_neurons"], v["t"], v["synapse"]
    synapse = PSCFilter(0.05) if synapse is None else synapse
    if not isinstance(synapse, PSCFilter):
        raise TypeError(f"synapse must be a PSCFilter, got {type(synapse).__name__}")
    return synapse.filter(_trains(spike_times, n_neurons), t)
