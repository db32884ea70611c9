"""Spike trains: generation (regular, Poisson), conversion (events <-> per-neuron <-> binned), statistics.

Spike times are in seconds. A set of trains is a list with one array per
neuron, or events ``(times, indices)``; most functions accept both.
"""
import numpy as np

from . import _validate as check
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


# ---- conversion ----------------------------------------------------------------
def _as_trains(spike_times, n_neurons=None):
    """List of float arrays from a list of trains, one train, or (times, indices) events."""
    if isinstance(spike_times, tuple):  # a tuple is (times, indices), as in isi_rate
        return from_events(*spike_times, n_neurons=n_neurons)
    if isinstance(spike_times, np.ndarray) and spike_times.ndim == 1:
        return [np.asarray(spike_times, dtype=float)]
    return [check.finite_array("spike_times", s).ravel() for s in spike_times]


def to_events(spike_times):
    """Per-neuron spike trains -> events ``(times, indices)`` sorted by time.

    Parameters
    ----------
    spike_times : list of array_like
        One array of spike times (s) per neuron.

    Returns
    -------
    times : ndarray of float, (S,)
    indices : ndarray of int64, (S,)
    """
    trains = [check.finite_array("spike_times", s).ravel() for s in spike_times]
    times = np.concatenate(trains) if trains else np.zeros(0)
    indices = np.repeat(np.arange(len(trains), dtype=np.int64), [len(s) for s in trains])
    order = np.argsort(times, kind="stable")
    return times[order], indices[order]


def from_events(times, indices, n_neurons=None):
    """Events ``(times, indices)`` -> list of per-neuron sorted spike-time arrays.

    ``n_neurons`` defaults to ``max(indices) + 1``.
    """
    times = check.finite_array("times", times).ravel()
    indices = np.asarray(indices, dtype=np.int64).ravel()
    if times.shape != indices.shape:
        raise ValueError(f"times {times.shape} and indices {indices.shape} must have the same shape")
    if indices.size and indices.min() < 0:
        raise ValueError("indices must be >= 0")
    n = (int(indices.max()) + 1 if indices.size else 0) if n_neurons is None else int(n_neurons)
    if indices.size and indices.max() >= n:
        raise ValueError(f"indices must be < n_neurons={n}, got {indices.max()}")
    return split_by_neuron(times, indices, n)


def bin_spikes(spike_times, T, dt):
    """Spike trains -> dense array with one row per time ``k * dt``; each spike adds 1/dt.

    A spike at time t goes to the nearest grid time ``rint(t / dt) * dt``, so
    ``dt * binned.sum(axis=0)`` counts spikes and the PSC-filtered binned train
    (:func:`neurosim.synapses.filter_binned`) equals the exact filter of spikes on the grid.

    Parameters
    ----------
    spike_times : list of arrays, one array, or (times, indices) events
        Spike times in seconds.
    T : float
        Duration (s); rows are ``0, dt, ..., T - dt``; later spikes are dropped.
    dt : float
        Bin width in seconds.

    Returns
    -------
    ndarray, shape (steps, n_neurons)
    """
    steps = check.n_steps(T, dt)
    trains = _as_trains(spike_times)
    out = np.zeros((steps, len(trains)))
    for i, s in enumerate(trains):
        k = np.rint(np.asarray(s) / dt).astype(np.int64)
        k = k[(k >= 0) & (k < steps)]
        out[:, i] = np.bincount(k, minlength=steps) / dt
    return out


def unbin_spikes(binned, dt):
    """Dense binned array (steps, N) (spikes of height 1/dt) -> list of N spike-time arrays.

    A bin holding m spikes (value m/dt) yields m spikes at time ``k * dt``.
    """
    binned = check.finite_array("binned", binned)
    binned = binned.reshape(len(binned), -1)
    counts = np.rint(binned * dt).astype(np.int64)
    if np.any(counts < 0):
        raise ValueError("binned must be >= 0")
    return [np.repeat(np.arange(len(binned)) * dt, counts[:, i]) for i in range(binned.shape[1])]


# ---- generation ----------------------------------------------------------------
def regular_spikes(rate, T, phase=0.0):
    """Regular spike trains: neuron i fires at ``(phase_i + m) / rate_i`` for m = 0, 1, ... < T.

    Parameters
    ----------
    rate : float or array_like (N,)
        Rates in Hz (>= 0; 0 gives no spikes).
    T : float
        Duration in seconds.
    phase : float or array_like (N,)
        Fraction of an interval before the first spike, in [0, 1).

    Returns
    -------
    list of N ndarrays of spike times (s)
    """
    T = check.positive("T", T)
    rate = np.atleast_1d(check.finite_array("rate", rate))
    phase = np.broadcast_to(check.finite_array("phase", phase), rate.shape)
    if np.any(rate < 0) or np.any(phase < 0) or np.any(phase >= 1):
        raise ValueError("rate must be >= 0 Hz and phase in [0, 1)")
    out = []
    for r, p in zip(rate, phase):
        out.append(np.zeros(0) if r == 0 else (p + np.arange(int(np.ceil(T * r - p)))) / r)
    return [s[s < T] for s in out]


def poisson_spikes(rate, T, n=None, rng=None, dt=None, rate_max=None):
    """Poisson spike trains, homogeneous or with a time-varying rate.

    Parameters
    ----------
    rate : float, array_like, or callable
        * float or (N,) -- constant rates in Hz;
        * (steps,) or (steps, N) with ``dt`` -- piecewise-constant rate, row k
          holding on ``[k dt, (k+1) dt)`` (exact: Poisson counts per bin);
        * callable ``rate(t) -> Hz`` (vectorized over a 1-D array of times,
          returning (len(t),) or (len(t), N)) with ``rate_max`` -- by thinning.
    T : float
        Duration in seconds.
    n : int, optional
        Number of trains when ``rate`` does not say (default 1).
    rng : int or numpy.random.Generator, optional
    dt : float, optional
        Bin width (s) of an array of rates over time.
    rate_max : float, optional
        Upper bound (Hz) of a callable rate; required for callables.

    Returns
    -------
    list of N ndarrays of sorted spike times (s) in [0, T)
    """
    T = check.positive("T", T)
    rng = check.as_rng(rng)
    if n is not None and (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1):
        raise ValueError(f"n must be a whole number >= 1 (the number of trains), got {n!r}")
    if callable(rate):
        if rate_max is None:
            raise ValueError("a callable rate needs rate_max (Hz), an upper bound for thinning")
        rate_max = check.positive("rate_max", rate_max)
        trains = poisson_spikes(rate_max, T, n=1 if n is None else n, rng=rng)
        out = []
        for i, cand in enumerate(trains):
            r = np.asarray(rate(cand), dtype=float)
            r = r if r.ndim < 2 else r[:, i]
            if np.any(r > rate_max * (1 + 1e-12)):
                raise ValueError(f"rate(t) exceeded rate_max={rate_max} Hz (max {r.max()} Hz)")
            out.append(cand[rng.random(cand.size) * rate_max < r])
        return out
    rate = check.finite_array("rate", rate)
    if np.any(rate < 0):
        raise ValueError("rate must be >= 0 Hz")
    if dt is not None:  # piecewise-constant rate over time
        dt = check.positive("dt", dt)
        r = rate.reshape(len(rate), -1) if rate.ndim else rate.reshape(1, 1)
        steps = check.n_steps(T, dt)
        if r.shape[0] != steps:
            raise ValueError(f"rate with dt must have T/dt = {steps} rows, got shape {rate.shape}")
        N = r.shape[1] if n is None else n
        if r.shape[1] not in (1, N):
            raise ValueError(f"rate of shape {rate.shape} has {r.shape[1]} columns, which does not match n={n}")
        r = np.broadcast_to(r, (steps, N))
        counts = rng.poisson(r * dt)
        out = []
        for i in range(N):
            k = np.repeat(np.arange(steps), counts[:, i])
            out.append(np.sort((k + rng.random(k.size)) * dt))
        return out
    rate = np.atleast_1d(rate)
    N = rate.size if n is None else int(n)
    if rate.size not in (1, N):
        raise ValueError(f"rate of shape {rate.shape} does not match n={n}")
    rate = np.broadcast_to(rate.ravel(), (N,))
    counts = rng.poisson(rate * T)
    return [np.sort(rng.uniform(0.0, T, c)) for c in counts]


# ---- statistics ----------------------------------------------------------------
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
    from .synapses import PSCFilter

    synapse = PSCFilter(0.05) if synapse is None else synapse
    return synapse.filter(_as_trains(spike_times, n_neurons), t)


__all__ = ["isi_rate", "split_by_neuron", "to_events", "from_events", "bin_spikes", "unbin_spikes",
           "regular_spikes", "poisson_spikes", "count_rate", "isi", "cv", "filtered_rate"]
