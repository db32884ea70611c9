"""Spike events: the one recorder every simulation uses, and conversions between events
``(times, indices)`` and per-neuron trains.

Recorded spikes are events, not a dense steps x neurons array: per step, the
indices of the neurons that fired (uint32) and where inside the step they fired
(uint16 fraction of dt). That is 6 bytes per spike, and a spike time resolution
of dt / 65536 (15 ns at dt = 1 ms), far below any model's own error.
"""
import numpy as np

from .. import _validate as check

_FRACTION_STEPS = 65536  # sub-step resolution of stored spike times


class SpikeRecorder:
    """Collects spike events step by step.

    Parameters
    ----------
    n_neurons : int
        Number of neurons that can spike (indices 0 .. n_neurons - 1).
    dt : float
        Step length in seconds.
    t0 : float
        Time of the start of step 0, in seconds.
    """

    def __init__(self, n_neurons, dt, t0=0.0):
        self.n_neurons = int(n_neurons)
        self.dt = float(dt)
        self.t0 = float(t0)
        self._steps = []
        self._indices = []
        self._fractions = []

    def record(self, step, indices, offsets):
        """Record the neurons ``indices`` spiking ``offsets`` seconds after the start of ``step``."""
        if len(indices) == 0:
            return
        frac = np.rint(np.asarray(offsets) * (_FRACTION_STEPS / self.dt))
        np.clip(frac, 0, _FRACTION_STEPS - 1, out=frac)
        self._steps.append((step, len(indices)))
        self._indices.append(np.asarray(indices, dtype=np.uint32))
        self._fractions.append(frac.astype(np.uint16))

    @property
    def n_spikes(self):
        """Total number of recorded spikes."""
        return sum(n for _, n in self._steps)

    def events(self):
        """All spikes as ``(times, indices)``, sorted by time.

        Returns
        -------
        times : ndarray of float64, shape (n_spikes,)
            Spike times in seconds.
        indices : ndarray of int64, shape (n_spikes,)
            Index of the neuron that fired each spike.
        """
        if not self._steps:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        steps = np.array([s for s, _ in self._steps], dtype=np.float64)
        counts = np.array([n for _, n in self._steps])
        frac = np.concatenate(self._fractions).astype(np.float64) / _FRACTION_STEPS
        times = self.t0 + (np.repeat(steps, counts) + frac) * self.dt
        indices = np.concatenate(self._indices).astype(np.int64)
        order = np.argsort(times, kind="stable")
        return times[order], indices[order]


def split_by_neuron(times, indices, n_neurons):
    """Turn events into one sorted array of spike times per neuron.

    Parameters
    ----------
    times : ndarray, shape (n_spikes,)
        Spike times in seconds.
    indices : ndarray of int, shape (n_spikes,)
        Neuron index of each spike, in ``[0, n_neurons)``.
    n_neurons : int

    Returns
    -------
    list of ndarray
        ``n_neurons`` float arrays of spike times in seconds, each sorted.
    """
    order = np.lexsort((times, indices))
    counts = np.bincount(indices, minlength=n_neurons)
    return np.split(np.asarray(times)[order], np.cumsum(counts)[:-1])


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
