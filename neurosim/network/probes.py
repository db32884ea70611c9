"""Probes: what a Network records while it runs.

Kinds
-----
"spikes"
    Spike events of a population or source; ``data`` is ``(times, indices)``.
"v"
    Membrane voltage of a population (normalized for LIF, mV for
    HodgkinHuxley), sampled at ``t``.
"current"
    Synaptic current into a population (normalized input J, or uA/cm^2 for
    HodgkinHuxley, from all its connections; bias and injected currents
    excluded), sampled at ``t``.
"filtered"
    The population's spike train filtered by ``synapse`` (unit-area kernel, so
    in Hz), spikes placed on the step boundary where they are delivered.

Sampled kinds record at the end of every ``sample_every`` seconds (default
every step); ``t`` holds the sample times in seconds.
"""
import numpy as np

from .. import _validate as check
from ..spikes import split_by_neuron
from ..synapses import PSCFilter, PSCState

KINDS = ("spikes", "v", "current", "filtered")


class Probe:
    """A recording of one quantity of one population or source.

    Attributes
    ----------
    target : Population or source
    kind : str
        One of ``"spikes"``, ``"v"``, ``"current"``, ``"filtered"``.
    sample_every : float or None
        Seconds between samples (None: every step).
    synapse : PSCFilter or None
        Filter of a ``"filtered"`` probe.
    """

    def __init__(self, target, kind, sample_every, synapse, dt, step):
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if kind in ("v", "current") and not hasattr(target, "model"):
            raise ValueError(f"kind {kind!r} needs a neuron population, {target.name!r} is a spike source")
        self.target, self.kind, self.sample_every = target, kind, sample_every
        self.synapse = None
        self._every = 1
        if sample_every is not None:
            self._every = max(1, int(round(check.positive("sample_every", sample_every) / dt)))
        if kind == "spikes":
            self._recorder = _EventLog(target.n, dt)
        else:
            self._samples, self._t = [], []
        if kind == "filtered":
            self.synapse = PSCFilter(0.005) if synapse is None else synapse
            if not isinstance(self.synapse, PSCFilter):
                raise TypeError(f"synapse must be a PSCFilter, got {type(synapse).__name__}")
            self._state = PSCState(self.synapse, target.n, dt)
        self._dt = dt

    def __repr__(self):
        return f"Probe({self.target.name!r}, {self.kind!r})"

    @property
    def data(self):
        """``(times, indices)`` for spikes; otherwise an array (samples, n)."""
        if self.kind == "spikes":
            return self._recorder.events()
        if not self._samples:
            return np.zeros((0, self.target.n))
        return np.array(self._samples)

    @property
    def t(self):
        """Sample times in seconds, shape (samples,) (not for spike probes)."""
        if self.kind == "spikes":
            raise AttributeError("spike probes hold events; use data = (times, indices)")
        return np.array(self._t)

    @property
    def spike_times(self):
        """Spikes as one array of times (s) per neuron (spike probes only)."""
        times, indices = self.data
        return split_by_neuron(times, indices, self.target.n)

    def _sample(self, value, t):
        self._samples.append(np.array(value, dtype=float))
        self._t.append(t)


class ProbeData:
    """``net.data[probe]`` -> ``probe.data``."""

    def __getitem__(self, probe):
        if not isinstance(probe, Probe):
            raise TypeError(f"net.data is indexed by Probe objects, got {type(probe).__name__}")
        return probe.data


class _EventLog:
    """Spike events as float64 times; cheaper per step than a SpikeRecorder (one list append)."""

    def __init__(self, n, dt):
        self.n_neurons, self.dt = n, dt
        self._pending = []  # (step, indices, offsets) of recent steps
        self._times, self._indices = [], []

    def record(self, step, indices, offsets):
        self._pending.append((step, indices, offsets))
        if len(self._pending) >= 4096:
            self._flush()

    def _flush(self):
        if self._pending:
            counts = [len(i) for _, i, _ in self._pending]
            steps = np.repeat(np.array([s for s, _, _ in self._pending], dtype=np.float64), counts)
            offsets = np.concatenate([np.asarray(o, dtype=float) for _, _, o in self._pending])
            self._times.append(steps * self.dt + offsets)
            self._indices.append(np.concatenate([np.asarray(i, dtype=np.int64) for _, i, _ in self._pending]))
            self._pending = []

    @property
    def n_spikes(self):
        return sum(t.size for t in self._times) + sum(len(i) for _, i, _ in self._pending)

    def events(self):
        """``(times, indices)`` sorted by time (stable: same-time spikes keep recording order)."""
        self._flush()
        if not self._times:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        times, indices = np.concatenate(self._times), np.concatenate(self._indices)
        order = np.argsort(times, kind="stable")
        return times[order], indices[order]
