"""Probes: what a Network records while it runs.

A :class:`Probe` is a description (target, kind, sampling); its data live in
the network's runtime and are read through ``probe.data``.

Kinds
-----
"spikes"
    Spike events of a population or source; ``data`` is ``(times, indices)``,
    or ``(times, indices, trials)`` with a batch.
"v"
    Membrane voltage of a population (normalized for LIF, mV for
    HodgkinHuxley, the declared "v" of a :class:`neurosim.NeuronModel`), sampled at ``t``.
any declared state variable
    Of a population, by the name its model declares (``model.state_variables()``):
    "w" of an adaptive neuron, "m", "h", "n" of Hodgkin-Huxley, "refractory_end" of LIF
    (absolute time in s); sampled like "v".
"current"
    Synaptic current into a population (normalized input J, or uA/cm^2 for
    HodgkinHuxley, from all its connections; bias and injected currents
    excluded), sampled at ``t``.
"filtered"
    The population's spike train filtered by ``synapse`` (unit-area kernel, so
    in Hz), spikes placed on the step boundary where they are delivered.
"rate"
    The population rate in Hz per neuron (Brian2's ``PopulationRateMonitor``):
    spikes counted in bins ``[k * bin, (k + 1) * bin)`` (:func:`neurosim.population_rate`),
    divided by ``bin`` and by n; optionally smoothed by ``synapse``
    (:func:`neurosim.filter_binned`). ``data`` has shape (bins,), or (bins, B)
    with a batch, whole bins up to the network's time only; ``t`` holds the bin
    centres ``(k + 0.5) * bin``. Computed from the recorded spike events when read.
"weights"
    The learned weights of a connection with ``plasticity`` (target: the Connection),
    sampled like "v": shape (samples, post.n, pre.n) for a dense connection, or
    (samples, S) for a sparse one (its S synapses in the canonical CSR order of
    ``conn.weights``), with a trial axis after the samples in a batch.
"filtered_mean"
    The mean over each sampling interval of the spike train filtered by
    ``synapse``, with every spike placed at its exact time inside its step
    (exact integral of the filter, not a sample): a read-out that does not
    depend on where spikes fall relative to the grid.

Sampled kinds record at the end of every ``sample_every`` seconds (default
every step); ``t`` holds the sample times in seconds. ``data`` has shape
(samples, n), or (samples, B, n) with a batch.

Recorded data grow with the run. To run long with bounded memory, run in
chunks and read, reduce and :meth:`Probe.clear` the data after each chunk (as
Nengo's ``Simulator.clear_probes``); a probe's state (a filter, the running
mean) is kept, so the data after ``clear`` continue where they stopped.
"""
import numpy as np

from .. import validation as check
from ..spikes import SpikeRecorder, split_by_neuron
from ..synapses import PSCFilter, PSCState
from .plan import Stateful
from .views import events_of

KINDS = ("spikes", "v", "current", "filtered", "filtered_mean", "rate", "weights")
EVENT_KINDS = ("spikes", "rate")  # recorded as spike events (SpikeBuffer), not sampled


class Probe:
    """A recording of one quantity of one population or source (a description).

    Attributes
    ----------
    target : Population or source
    kind : str
        One of :data:`KINDS`.
    sample_every : float or None
        Seconds between samples, a multiple of the network's dt (None: every step).
    synapse : PSCFilter or None
        Filter of a ``"filtered"`` / ``"filtered_mean"`` probe.
    start : float
        Time (s) from which it records (the network's time when it was added).
    network : Network
        The network whose runtime holds the data.
    """

    def __init__(self, network, target, kind, sample_every, synapse, start, bin=None, normalized=False, indices=None):
        self.indices = indices  # a subgroup's neurons (pop[a:b]), selected when the data are read
        self.value_shape = (getattr(target, "n", 0),)  # one sample (without the trial axis)
        if not isinstance(kind, str):
            raise TypeError(f"kind must be a string, got {type(kind).__name__}")
        if _weights_probe(target, kind):
            W = target.matrix()
            self.value_shape = W.shape if isinstance(W, np.ndarray) else (_synapse_count(W),)
        declared = _declared_state(target)
        if kind not in KINDS and kind not in declared:
            extra = f", or a state variable of {type(target.model).__name__}: {declared}" if declared else ""
            raise ValueError(f"kind must be one of {KINDS}{extra}, got {kind!r}")
        if kind == "v" and declared and "v" not in declared:
            raise ValueError(f"kind 'v': {type(target.model).__name__} declares no state variable 'v' "
                             f"(its state: {declared})")
        if not isinstance(normalized, (bool, np.bool_)):
            raise TypeError(f"normalized must be True or False, got {normalized!r}")
        self.normalized = bool(normalized)
        if kind in ("v", "current") and not hasattr(target, "model"):
            raise ValueError(f"kind {kind!r} needs a neuron population, {target.name!r} is a spike source")
        self.network, self.target, self.kind, self.sample_every = network, target, kind, sample_every
        self.start = start
        self.synapse = None
        self.every = 1  # steps between samples
        if sample_every is not None:
            # a whole number of steps: a value between two step counts is an error, not rounded
            self.every = check.n_steps(sample_every, network.dt, T_name="sample_every")
        if synapse is not None and not isinstance(synapse, PSCFilter):
            raise TypeError(f"synapse must be a PSCFilter or None, got {synapse!r} ({type(synapse).__name__})")
        if synapse is not None and kind not in ("filtered", "filtered_mean", "rate"):
            raise ValueError(f"synapse applies to 'filtered', 'filtered_mean' and 'rate' probes only, not {kind!r}")
        if kind in ("filtered", "filtered_mean"):
            self.synapse = PSCFilter(0.005) if synapse is None else synapse
        self.bin = None
        if kind == "rate":
            self.bin = network.dt if bin is None else check.positive("bin", bin)
            if self.bin < network.dt * (1 - 1e-9):
                raise ValueError(f"bin must be >= dt = {network.dt:g} s, got {bin!r}")
            self.synapse = synapse
        elif bin is not None:
            raise ValueError(f"bin applies to 'rate' probes only, not {kind!r}")

    def __repr__(self):
        return f"Probe({self.target.name!r}, {self.kind!r})"

    @property
    def n(self):
        """Neurons recorded: the target's, or the subgroup's (values per sample for "weights")."""
        if self.kind == "weights":
            return int(np.prod(self.value_shape))
        return self.target.n if self.indices is None else int(self.indices.size)

    @property
    def data(self):
        """``(times, indices[, trials])`` for spikes; otherwise an array (samples, n) or (samples, B, n).

        For a population built from ``LIFUnits``, "v" is in volts and "current" in amperes
        unless the probe was made with ``normalized=True``.
        """
        values = self.network._probe_data(self)[0]
        units = getattr(self.target, "units", None)
        if units is not None and not self.normalized and self.kind in ("v", "current"):
            # in the parent's neurons (last axis), before a subgroup selects some: units may be per neuron
            if self.kind == "v":
                values = units.v_to_voltage(values)
            else:
                values = values * units.current_unit  # an added current: no leak offset
        if self.indices is not None and self.kind != "rate":  # a subgroup: its neurons of the parent's record
            values = events_of(values, self.indices, self.target.n) if self.kind == "spikes" \
                else values[..., self.indices]
        return values

    @property
    def t(self):
        """Sample times in seconds, shape (samples,) (not for spike probes)."""
        if self.kind == "spikes":
            raise AttributeError("spike probes hold events; use data = (times, indices)")
        return self.network._probe_data(self)[1]

    def clear(self):
        """Forget the data recorded so far (not the probe's filter state); later runs record on.

        ``data`` then holds what was recorded after this call, so a long run
        done in chunks, each read and cleared, keeps memory to one chunk.
        ``"rate"`` probes bin every spike since their start and cannot be
        cleared (ValueError). A snapshot taken by ``store`` keeps the data it saw.
        """
        if self.kind == "rate":
            raise ValueError("clear: a 'rate' probe bins every spike since its start and cannot be cleared; "
                             "use a 'spikes' probe and bin the cleared chunks yourself")
        runtime = self.network.runtime
        if runtime is not None and self in runtime.buffers:
            runtime.buffers[self].clear()

    @property
    def spike_times(self):
        """Spikes as one array of times (s) per neuron (spike probes only; with a batch, one list per trial)."""
        events = self.data
        if len(events) == 2:
            return split_by_neuron(events[0], events[1], self.n)
        times, indices, trials = events
        return [split_by_neuron(times[trials == b], indices[trials == b], self.n)
                for b in range(self.network.batch)]


def _weights_probe(target, kind):
    """True for a "weights" probe of a plastic connection; ValueError for any other kind or target of it."""
    is_conn = hasattr(target, "plasticity")
    if not is_conn and kind != "weights":
        return False
    if not is_conn:
        raise ValueError(f"kind 'weights' records a connection's learned weights: the target must be a "
                         f"Connection with plasticity, got {getattr(target, 'name', target)!r}")
    if kind != "weights":
        raise ValueError(f"a Connection records kind 'weights' only, got {kind!r}")
    if target.plasticity is None:
        raise ValueError(f"kind 'weights': the connection {target.pre.name!r} -> {target.post.name!r} has no "
                         "plasticity, so its weights do not change; read conn.weights")
    return True


def _synapse_count(W):
    """Synapses of a sparse weight matrix (stored entries after summing duplicates)."""
    C = W.tocsr(copy=True)
    C.sum_duplicates()
    return int(C.nnz)


def _declared_state(target):
    """The state variable names a population's model declares ([] for sources)."""
    model = getattr(target, "model", None)
    return list(model.state_variables()) if hasattr(model, "state_variables") else []


class ProbeData:
    """``net.data[probe]`` -> ``probe.data``."""

    def __getitem__(self, probe):
        if not isinstance(probe, Probe):
            raise TypeError(f"net.data is indexed by Probe objects, got {type(probe).__name__}")
        return probe.data


class SpikeBuffer(Stateful):
    """Runtime buffer of a spike probe: a :class:`neurosim.SpikeRecorder` with exact (float64) times."""

    state = None

    def __init__(self, probe, dt, B, batched):
        self.probe = probe
        self.start_step = int(round(probe.start / dt))
        self.recorder = SpikeRecorder(probe.target.n, dt, exact=True, n_trials=B if batched else None)

    def data(self):
        return self.recorder.events(), None

    def snapshot_extra(self):  # the recorded events (immutable chunks: a checkpoint is a list of references)
        return self.recorder.checkpoint()

    def restore_extra(self, extra):
        self.recorder.rollback(extra)

    def bytes_per_sample(self):
        return 0

    def clear(self):
        self.recorder.rollback([])


class RateBuffer(SpikeBuffer):
    """Runtime buffer of a "rate" probe: the spike events, binned when read (O(spikes))."""

    def data(self):
        from ..spikes.stats import population_rate

        probe = self.probe
        B = probe.network.batch
        T = probe.network.t
        if T < probe.bin * (1 - 1e-9):
            shape = (0,) if B is None else (0, B)
            return np.zeros(shape), np.zeros(0)
        events = self.recorder.events()
        if probe.indices is not None:
            events = events_of(events, probe.indices, probe.target.n)
        t, values = population_rate(events, probe.n, T, probe.bin, n_trials=B)
        if probe.synapse is not None and t.size:
            from ..synapses import filter_binned

            values = filter_binned(probe.synapse, values, probe.bin)
        return values, t


class SampleBuffer(Stateful):
    """Runtime buffer of a sampled probe: one preallocated block per run call, filled sample by sample.

    Memory is the recorded data (samples x B x n floats) plus a few bytes per block.
    """

    def __init__(self, probe, dt, B, batched):
        self.probe, self.dt = probe, dt
        self.start_step = int(round(probe.start / dt))
        self.shape = (B,) + tuple(probe.value_shape) if batched else tuple(probe.value_shape)
        self.blocks = []  # [values (samples, *shape), steps (samples,), filled]
        self.state = None
        if probe.kind in ("filtered", "filtered_mean"):
            self.state = PSCState(probe.synapse, B * probe.target.n, dt)
        if probe.kind == "filtered_mean":
            self.total = np.zeros(B * probe.target.n)  # sum of the filter's stages at the end of the last step
            self.sum = np.zeros(B * probe.target.n)  # integral of the filtered signal since the last sample
            self.mean = np.empty(B * probe.target.n)

    def bytes_per_sample(self):
        return 8 * int(np.prod(self.shape)) + 8

    def open(self, k0, steps):
        """Allocate the block for steps ``k0 .. k0 + steps - 1`` (samples at the ends of steps m % every == 0)."""
        every = self.probe.every
        first = -(-(max(k0, self.start_step) + 1) // every) * every
        count = max(0, (k0 + steps - first) // every + 1) if first <= k0 + steps else 0
        self.blocks.append([np.empty((count,) + self.shape), np.empty(count, dtype=np.int64), 0])

    def close(self):
        """Trim an unfilled block (after an interruption), so memory stays the recorded data."""
        if self.blocks:
            block = self.blocks[-1]
            values, steps, filled = block
            if filled < len(steps):
                block[0], block[1] = values[:filled].copy(), steps[:filled].copy()

    def clear(self):
        """Drop the recorded samples; inside a run, keep the open block's unfilled rest for the next samples."""
        if self.blocks:
            values, steps, filled = self.blocks[-1]
            self.blocks = [[values[filled:], steps[filled:], 0]] if filled < len(steps) else []

    def record(self, m, value):
        block = self.blocks[-1]
        i = block[2]
        block[0][i] = value.reshape(self.shape)
        block[1][i] = m
        block[2] = i + 1

    def data(self):
        parts = [(v[:f], s[:f]) for v, s, f in self.blocks if f]
        if not parts:
            return np.zeros((0,) + self.shape), np.zeros(0)
        values = np.concatenate([p[0] for p in parts])
        return values, np.concatenate([p[1] for p in parts]) * self.dt

    def arrays(self):
        """The declared state: the filter's stages x, and the running integral of a "filtered_mean" probe."""
        if self.state is None:
            return {}
        if self.probe.kind == "filtered_mean":
            return {"x": self.state.x, "total": self.total, "sum": self.sum}
        return {"x": self.state.x}

    def snapshot_extra(self):
        # blocks are filled only up to their count and never rewritten, so references suffice
        return [list(b) for b in self.blocks]

    def restore_extra(self, extra):
        self.blocks = [list(b) for b in extra]


def add_lagged(state, indices, lag, compiled=False):
    """Add unit spikes to a :class:`PSCState` at flat ``indices``, each ``lag`` seconds before now.

    Stage k of the cascade gets ``h_k(lag)``, the value it would have reached
    had the spike been added at its exact time (``PSCState.add`` with a per-spike lag).
    ``compiled``: a first-order filter's additions by :func:`neurosim.neurons.fused.add_at` (the same
    additions in the same order as ``np.add.at``; numba must be importable).
    """
    syn = state.synapse
    if syn.n == 0:
        values = np.exp(-lag * state.inv_tau) * state.inv_tau
        if compiled and values.shape == indices.shape:
            from ..neurons.fused import add_at
            add_at(state.x[0], indices, values, 0.0, False)
        else:
            np.add.at(state.x[0], indices, values)
        return
    for order in range(syn.n + 1):
        np.add.at(state.x[order], indices, syn._kernel(lag, order))
