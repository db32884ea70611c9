"""The result object a single-neuron-model ``simulate`` returns."""
import numpy as np

from .. import validation as check
from .events import _FRACTION_STEPS, SpikeRecorder, split_by_neuron
from .stats import rates_from_chunks


class SimulationResult:
    """What a neuron model's ``simulate`` returns.

    Attributes
    ----------
    n_neurons : int
    dt : float
        Step in seconds.
    T : float
        Simulated duration in seconds.
    t : ndarray, shape (steps,), or None
        Times (s) at the end of each step, when traces were recorded.
    traces : dict of str -> ndarray (steps, n_neurons)
        Recorded state variables (e.g. ``"v"``); also available as attributes.
    """

    def __init__(self, recorder, T, t=None, **traces):
        self._recorder = recorder
        self.n_neurons = recorder.n_neurons
        self.dt = recorder.dt
        self.T = float(T)
        self.t = t
        self.traces = traces
        self._spike_times = None

    def __getattr__(self, name):
        traces = self.__dict__.get("traces", {})
        if name in traces:
            return traces[name]
        raise AttributeError(
            f"{type(self).__name__} has no attribute {name!r}"
            + (" (traces are recorded only when asked, e.g. record_v=True)" if name in ("v", "V", "m", "h", "n") else "")
        )

    @property
    def n_spikes(self):
        """Total number of spikes of all neurons."""
        return self._recorder.n_spikes

    def events(self):
        """All spikes as ``(times, indices)`` sorted by time; see :meth:`SpikeRecorder.events`."""
        return self._recorder.events()

    @property
    def spike_times(self):
        """List of ``n_neurons`` float arrays: each neuron's spike times in seconds."""
        if self._spike_times is None:
            times, indices = self.events()
            self._spike_times = split_by_neuron(times, indices, self.n_neurons)
        return self._spike_times

    def rates(self, t_start=0.0):
        """Firing rate of each neuron in Hz from its inter-spike intervals after ``t_start``.

        See :func:`neurosim.isi_rate`.
        """

        t_start = check.check_number("t_start", t_start, low=0.0)
        if self.T is not None and not t_start < self.T:
            raise ValueError(f"t_start must be in [0, T) = [0, {self.T!r}) s, got {t_start!r}")
        return rates_from_chunks(_chunks(self._recorder, max(CHUNK, self.n_neurons)), self.n_neurons, t_start)


CHUNK = 1 << 20  # spikes per chunk: bounded scratch memory, few enough Python iterations


def no_neurons(T, dt, steps, traces=()):
    """The result of simulating zero neurons (an input of shape (0,)): no spikes, traces (steps, 0).

    Parameters
    ----------
    T, dt : float
        Duration and step (s).
    steps : int
        Steps of the run (the length of ``t`` and of each trace).
    traces : iterable of str
        Names of the recorded traces; none means ``t`` is not recorded either.
    """
    recorder = SpikeRecorder(1, dt)
    recorder.n_neurons = 0   # nothing can be recorded; the public constructor wants >= 1 neuron
    traces = {name: np.empty((steps, 0)) for name in traces}
    t = dt * np.arange(1, steps + 1) if traces else None
    return SimulationResult(recorder, T, t=t, **traces)


def _chunks(rec, size):
    """The recorder's spikes as ``(times, indices)`` chunks of about ``size`` spikes, without sorting.

    Times are computed exactly as ``SpikeRecorder.events`` does.
    """
    if not hasattr(rec, "_fractions"):  # another recorder: its sorted events, one chunk
        yield rec.events()
        return
    if not rec._steps:
        return
    steps = np.array([s for s, _ in rec._steps], dtype=np.float64)
    counts = np.array([n for _, n in rec._steps], dtype=np.int64)
    ends = np.cumsum(counts)
    i = 0
    while i < len(steps):
        j = int(np.searchsorted(ends, (ends[i - 1] if i else 0) + size, side="left")) + 1
        j = min(max(j, i + 1), len(steps))
        frac = np.concatenate(rec._fractions[i:j]).astype(np.float64) / _FRACTION_STEPS
        times = rec.t0 + (np.repeat(steps[i:j], counts[i:j]) + frac) * rec.dt
        yield times, np.concatenate(rec._indices[i:j]).astype(np.intp)
        i = j
