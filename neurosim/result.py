"""Spike events recorded during a simulation, and the result object returned by ``simulate``.

Spikes are stored as events, not as a dense steps x neurons array: per step, the
indices of the neurons that fired (uint32) and where inside the step they fired
(uint16 fraction of dt). That is 6 bytes per spike, and a spike time resolution
of dt / 65536 (15 ns at dt = 1 ms), far below any model's own error.
"""
import numpy as np

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
        from .spikes import isi_rate

        times, indices = self.events()
        return isi_rate((times, indices), n_neurons=self.n_neurons, t_start=t_start)
