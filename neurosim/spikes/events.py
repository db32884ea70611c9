"""Spike events: the one recorder every simulation uses, and conversions between events
``(times, indices)`` and per-neuron trains.

Recorded spikes are events, not a dense steps x neurons array: per step, the
indices of the neurons that fired (uint32) and where inside the step they fired
(uint16 fraction of dt). That is 6 bytes per spike, and a spike time resolution
of dt / 65536 (15 ns at dt = 1 ms), far below any model's own error.
"""
import numpy as np

from .. import validation as check

_FRACTION_STEPS = 65536  # sub-step resolution of stored spike times


class SpikeRecorder:
    """Collects spike events step by step; the one spike-event recorder (neuron models and network probes).

    Recording a step is one list append; the arrays are converted in blocks, so
    the per-step cost does not depend on the storage format.

    Parameters
    ----------
    n_neurons : int
        Number of neurons that can spike (indices 0 .. n_neurons - 1).
    dt : float
        Step length in seconds.
    t0 : float
        Time of the start of step 0, in seconds.
    exact : bool
        Store spike times as float64 seconds (16 bytes per spike with the
        index) instead of a uint16 fraction of dt (6 bytes per spike).
    n_trials : int, optional
        With a batch of trials: recorded indices are flat, ``trial * n_neurons + neuron``,
        and :meth:`events` returns ``(times, indices, trials)``.
    """

    _FLUSH = 4096  # steps buffered before conversion

    def __init__(self, n_neurons, dt, t0=0.0, exact=False, n_trials=None):
        self.n_neurons = check.check_int("n_neurons", n_neurons, low=1, high=check.MAX_INDEX)
        self.dt = check.positive("dt", dt)
        self.t0 = check.check_number("t0", t0)
        self.exact = check.check_bool("exact", exact)
        self.n_trials = None if n_trials is None else check.check_int("n_trials", n_trials, low=1)
        if self.n_trials is not None:  # flat indices trial * n_neurons + neuron are stored as uint32
            check.check_int("n_trials * n_neurons", self.n_trials * self.n_neurons, high=check.MAX_INDEX)
        self._pending = []  # (step, indices, offsets) not yet converted
        self._chunks = []  # converted blocks: (steps float64 per spike or times, indices, fractions or None)

    def record(self, step, indices, offsets):
        """Record the neurons ``indices`` spiking ``offsets`` seconds after the start of ``step``.

        Parameters
        ----------
        step : int
            Step number (>= 0); the step starts at ``t0 + step * dt``.
        indices : array_like of int, shape (k,)
            Neurons that fired (flat ``trial * n_neurons + neuron`` with ``n_trials``).
        offsets : array_like of float, shape (k,)
            Seconds after the start of the step, >= 0 (usually < dt).

        Every argument is checked here (ValueError/TypeError naming it); simulation loops, which
        produce valid arrays, call the unchecked ``_record``. The arrays are kept by reference
        until converted: do not modify them afterwards.
        """
        step = check.check_int("step", step, low=0)
        indices = check.index_array("indices", indices, self.n_neurons * (self.n_trials or 1))
        offsets = check.real_array("offsets", offsets, ndim=1)
        if offsets.shape != indices.shape:
            raise ValueError(f"offsets must have one entry per spike, the shape of indices {indices.shape}, "
                             f"got {offsets.shape}")
        _check_offsets(offsets)
        self._record(step, indices, offsets)

    def _record(self, step, indices, offsets):
        """Unchecked :meth:`record`, for simulation loops that produce valid arrays."""
        if len(indices) == 0:
            return
        self._pending.append((step, indices, offsets))
        if len(self._pending) >= self._FLUSH:
            self._flush()

    def _record_many(self, steps, indices, offsets):
        """Unchecked: record the spikes of many steps at once (arrays of equal length, steps ascending).

        Gives the same events as one :meth:`_record` per step (a compiled runtime files a block this way).
        """
        if len(indices) == 0:
            return
        self._pending.append((0, np.asarray(indices), np.asarray(offsets, dtype=float)))
        self._flush(np.asarray(steps, dtype=np.float64))

    def _record_stored(self, chunk):
        """Unchecked: append spikes already converted to this recorder's stored form, as :meth:`_flush` makes
        it (exact: ``(times, int64 indices)``; else ``(float64 steps, uint32 indices, uint16 fractions)``),
        steps ascending; a compiled runtime converts its spike log this way in one pass."""
        self._flush()
        if len(chunk[1]):
            self._chunks.append(chunk)

    def _flush(self, many_steps=None):
        pending = self._pending
        if not pending:
            return
        counts = [len(i) for _, i, _ in pending]
        steps = np.repeat(np.array([s for s, _, _ in pending], dtype=np.float64), counts)
        if many_steps is not None:  # the last entry came from _record_many: its own step per spike
            steps[steps.size - many_steps.size:] = many_steps
        indices = np.concatenate([np.asarray(i) for _, i, _ in pending])
        offsets = np.concatenate([np.asarray(o, dtype=float) for _, _, o in pending])
        if indices.size:  # the values record() left for here; nothing is stored unless all are valid
            n = self.n_neurons * (self.n_trials or 1)
            lo, hi = int(indices.min()), int(indices.max())
            if lo < 0 or hi >= n:
                self._pending = []
                raise ValueError(f"SpikeRecorder.record: indices must be in [0, {n}), got values in [{lo}, {hi}] "
                                 f"(recorded steps {int(steps[0])}..{int(steps[-1])}, now dropped)")
            try:
                _check_offsets(offsets)
            except ValueError as err:
                self._pending = []
                raise ValueError(f"SpikeRecorder.record: {err} (recorded steps {int(steps[0])}..{int(steps[-1])}, "
                                 "now dropped)") from None
        indices = indices.astype(np.int64 if self.exact else np.uint32)
        if self.exact:
            self._chunks.append((self.t0 + steps * self.dt + offsets, indices))
        else:
            frac = np.rint(offsets * (_FRACTION_STEPS / self.dt))
            np.clip(frac, 0, _FRACTION_STEPS - 1, out=frac)
            self._chunks.append((steps, indices, frac.astype(np.uint16)))
        self._pending = []

    @property
    def n_spikes(self):
        """Total number of recorded spikes."""
        return sum(c[1].size for c in self._chunks) + sum(len(i) for _, i, _ in self._pending)

    @property
    def nbytes(self):
        """Bytes held by the converted spikes (pending steps excluded)."""
        return sum(a.nbytes for c in self._chunks for a in c)

    def checkpoint(self):
        """An opaque marker of what is recorded now; :meth:`rollback` returns to it."""
        self._flush()
        return list(self._chunks)

    def rollback(self, marker):
        """Forget everything recorded after :meth:`checkpoint` returned ``marker``."""
        self._pending = []
        self._chunks = list(marker)

    def events(self):
        """All spikes as ``(times, indices)`` (``(times, indices, trials)`` with ``n_trials``), sorted by time.

        Returns
        -------
        times : ndarray of float64, shape (n_spikes,)
            Spike times in seconds.
        indices : ndarray of int64, shape (n_spikes,)
            Index of the neuron that fired each spike.
        trials : ndarray of int64, shape (n_spikes,)
            Trial of each spike (only with ``n_trials``).
        """
        self._flush()
        if not self._chunks:
            times, indices = np.zeros(0), np.zeros(0, dtype=np.int64)
        elif self.exact:
            times = np.concatenate([c[0] for c in self._chunks])
            indices = np.concatenate([c[1] for c in self._chunks])
        else:
            steps = np.concatenate([c[0] for c in self._chunks])
            frac = np.concatenate([c[2] for c in self._chunks]).astype(np.float64) / _FRACTION_STEPS
            times = self.t0 + (steps + frac) * self.dt
            indices = np.concatenate([c[1] for c in self._chunks]).astype(np.int64)
        order = np.argsort(times, kind="stable")  # same-time spikes keep recording order
        times, indices = times[order], indices[order]
        if self.n_trials is None:
            return times, indices
        trials, indices = np.divmod(indices, self.n_neurons)
        return times, indices, trials


def _check_offsets(offsets):
    """Offsets (s after the start of a step) must be finite and >= 0 (a runtime taking several steps
    at once passes offsets > dt)."""
    if offsets.size and not (offsets.min() >= 0 and offsets.max() < np.inf):  # NaN fails both
        bad = offsets[~(np.isfinite(offsets) & (offsets >= 0))][0]
        raise ValueError(f"offsets must be finite and >= 0 s (after the start of the step), got {bad!r}")


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
    if n_neurons == 0:
        return []
    order = np.lexsort((times, indices))
    counts = np.bincount(indices, minlength=n_neurons)
    return np.split(np.asarray(times)[order], np.cumsum(counts)[:-1])


def _as_trains(spike_times, n_neurons=None):
    """List of float arrays from a list of trains, one train, or (times, indices) events."""
    _check_spike_times(spike_times)
    if isinstance(spike_times, tuple):  # a tuple is (times, indices), as in isi_rate
        return from_events(*spike_times, n_neurons=n_neurons)
    if isinstance(spike_times, np.ndarray) and spike_times.ndim == 1:
        return [check.finite_array("spike_times", spike_times)]
    return [check.finite_array("spike_times", s).ravel() for s in spike_times]


def _check_spike_times(spike_times):
    """TypeError unless ``spike_times`` is a list/tuple/array (of trains or events)."""
    if not isinstance(spike_times, (list, tuple, np.ndarray)):
        raise TypeError(f"spike_times must be a list of per-neuron arrays of spike times (s), one array "
                        f"or a (times, indices) tuple, got {type(spike_times).__name__}")


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
    _check_spike_times(spike_times)
    trains = [check.finite_array("spike_times", s).ravel() for s in spike_times]
    times = np.concatenate(trains) if trains else np.zeros(0)
    indices = np.repeat(np.arange(len(trains), dtype=np.int64), [len(s) for s in trains])
    order = np.argsort(times, kind="stable")
    return times[order], indices[order]


def from_events(times, indices, n_neurons=None):
    """Events ``(times, indices)`` -> list of per-neuron sorted spike-time arrays.

    ``n_neurons`` defaults to ``max(indices) + 1``.
    """
    times = check.real_array("times", times, ndim=1)
    indices = check.index_array("indices", indices)
    if times.shape != indices.shape:
        raise ValueError(f"times {times.shape} and indices {indices.shape} must have the same shape")
    n = ((int(indices.max()) + 1 if indices.size else 0) if n_neurons is None
         else check.check_int("n_neurons", n_neurons, low=0, high=check.MAX_INDEX))
    if indices.size and indices.max() >= n:
        raise ValueError(f"indices must be < n_neurons={n}, got {indices.max()}")
    return split_by_neuron(times, indices, n)
