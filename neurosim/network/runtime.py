"""The runtime of a :class:`~neurosim.network.description.Network`: everything that changes per step.

The description (populations, connections, sources, probes) holds parameters
only. The first ``run`` builds a :class:`Runtime` from it, which owns the
neuron and synapse states, delay ring buffers, random streams, probe buffers
and the clock (Nengo's builder/simulator split).

Batch axis: with ``batch=B`` every state is flat over ``B * n`` (trial-major),
so a population's arrays are ``(B, n)`` views; weights are shared by all trials.

A step is a transaction:

1. *prepare*: everything that may fail or draws random numbers (user input
   functions, Poisson blocks, noise), computed into scratch; no committed state changes.
2. *commit*: advance neurons and synapses, propagate spikes, append probe
   records, advance the clock. Only the simulator's own arithmetic runs here;
   Ctrl-C (SIGINT) is held back until the step is committed.

So an exception raised in a step (including KeyboardInterrupt) leaves the
runtime at the last committed step boundary: ``net.t`` is the time of all
state, and ``run`` continues exactly as an uninterrupted run would. If the
commit itself fails (e.g. a Hodgkin-Huxley population leaves its valid range),
the runtime is marked invalid and refuses to continue until ``reset`` or ``restore``.
"""
import numpy as np

from .._optional import numba_enabled
from ..interrupts import HeldInterrupt
from ..progress import Progress
from .changes import built_from
from .connections import FusedPropagation, SynapseGroup, connection_runtime, jump_scale
from .inputs import CurrentInputRuntime, PoissonDrive, drive_seeds, source_runtime
from .plan import Operation, Plan, transform_name
from .populations import runtime_class
from .probes import EVENT_KINDS, RateBuffer, SampleBuffer, SpikeBuffer, add_lagged


class Runtime:
    """Per-step state of a network, built from its description.

    Attributes
    ----------
    step : int
        Committed steps; the time is ``step * dt``.
    B : int
        Trials (1 without a batch).
    pops : dict Population -> population runtime (see :mod:`neurosim.network.populations`)
    """

    def __init__(self, net):
        self.dt, self.batched = net.dt, net.batch is not None
        B = self.B = net.batch or 1
        self.step = 0
        self.failed = None  # message after a failed commit
        dt = self.dt
        self.sources = {s: source_runtime(s, dt, B) for s in net.sources}
        self.conns = [(c, self._conn_runtime(c, i)) for i, c in enumerate(net.connections)]
        for _, rt in self.conns:
            if hasattr(rt, "use_backend"):  # a convolution's event grid: compiled unless backend="numpy"
                rt.use_backend(net._backend_request)
        self.drives = [rt for _, rt in self.conns if isinstance(rt, PoissonDrive)]
        grouped = {}  # (post, synapse) -> connection runtimes, in order
        for c, rt in self.conns:
            grouped.setdefault((c.post, c.synapse), []).append(rt)
        # one buffer for the state of every group, so fused propagation can address them all
        sizes = [(syn.n + 1) * B * post.n for post, syn in grouped]
        self.arena = np.zeros(sum(sizes))
        self.groups, offsets, start = [], {}, 0
        self._group_keys = list(grouped)  # (post, synapse) of each group, for the plan's names
        for ((post, syn), members), size in zip(grouped.items(), sizes):
            group = SynapseGroup(syn, B * post.n, dt, max(rt.reach for rt in members),
                                 out=self.arena[start:start + size])
            for rt in members:
                rt.group = group
            offsets[id(group)] = start
            self.groups.append(group)
            start += size
        self.fused = self._fuse(offsets)
        self.pops, by_target = {}, {}
        for pop in net.populations:
            groups = [g for (post, _), g in zip(grouped, self.groups) if post is pop]
            inputs = [CurrentInputRuntime(inp, B, self.batched) for inp in pop.inputs]
            self.pops[pop] = runtime_class(pop.model)(pop, B, dt, groups, inputs)
            if hasattr(self.pops[pop], "use_backend"):  # user model or HH step: compiled unless backend="numpy"
                self.pops[pop].use_backend(net._backend_request)
            by_target[pop] = self.pops[pop]
        by_target.update(self.sources)
        self.emitters = by_target  # target description -> runtime with .spiked
        self.backend_request = net._backend_request
        self.buffers = {}
        for probe in net.probes:
            self.add_probe(probe)
        # spikes of sources at t = 0 arrive before the first step
        for src, rt in self.sources.items():
            idx, times = rt.emit(0)
            rt.spiked = idx
            if idx.size:
                self._record_source(src, idx, times)
                for c, crt in self.conns:
                    if crt.plastic is not None and c.pre is src:  # STDP sees them at their arrival
                        crt.plastic.receive(idx, times)
        self._propagate(0, [rt for rt in self.sources.values() if rt.spiked.size])
        for rt in self.sources.values():
            rt.spiked = rt.spiked[:0]
        self._offsets = offsets
        self.built_from = built_from(net)

    # ---- parameters assigned between runs (neurosim.network.changes) ------------------
    def set_bias(self, pop, bias):
        self.pops[pop].set_bias(bias)

    def set_rate(self, src):
        self.sources[src].set_rate(src, self.step)
        for d in self.drives:
            if d.source is src:
                d.set_rate(src, self.step)

    def _conn_runtime(self, c, index):
        """The propagation of connection ``c`` (the ``index``-th of the network): spikes, or a per-target drive."""
        if getattr(c.pre, "independent_per_target", False):
            check_drive(c, grid=True)
            return PoissonDrive(c, self.dt, self.B, drive_seeds(c.pre, index), jump_scale(c))
        return connection_runtime(c, self.dt, self.B)

    def set_weights(self, conn):
        """Rebuild the propagation of ``conn`` from its new weights; synapse states and queued spikes stay."""
        i = next(i for i, (c, _) in enumerate(self.conns) if c is conn)
        old = self.conns[i][1]
        new = self._conn_runtime(conn, i)
        new.group = old.group
        if old.plastic is not None:  # learned weights restart from the new ones; traces and arrivals go on
            new.plastic.continue_from(old.plastic)
        if isinstance(old, PoissonDrive):  # its streams continue; blocks are drawn anew from the new weights
            for g_new, g_old in zip(new._gens, old._gens):
                g_new.bit_generator.state = g_old.bit_generator.state
            new._origin = self.step
            self.drives[self.drives.index(old)] = new
        self.conns[i] = (conn, new)
        if getattr(old, "fused", False):  # fused tables hold the old rows: fuse again from the new ones
            for _, rt in self.conns:
                rt.fused = False
            self.fused = self._fuse(self._offsets)

    @property
    def t(self):
        return self.step * self.dt

    def _fuse(self, offsets):
        """FusedPropagation per presynaptic emitter with >= 2 fusable connections into distinct groups."""
        into = {}
        for c, rt in self.conns:
            into[id(rt.group)] = into.get(id(rt.group), 0) + 1
        by_pre = {}
        for c, rt in self.conns:
            # only groups fed by this one connection: their additions keep the order of separate scatters
            # (a batched convolution keeps its own dense path for busy steps: not fused)
            if (not rt.dense and not rt.lagged and rt.cut is None and into[id(rt.group)] == 1
                    and rt.plastic is None and getattr(rt, "conv", None) is None):
                by_pre.setdefault(id(c.pre), []).append(rt)
        fused = []
        for members in by_pre.values():
            if len(members) < 2 or len({id(rt.group) for rt in members}) < len(members):
                continue
            pairs = [(rt, offsets[id(rt.group)]) for rt in members]
            if FusedPropagation.worth_it(pairs):
                fused.append((FusedPropagation(pairs, self.arena, self.B), members))
                for rt in members:
                    rt.fused = True
        return fused

    # ---- probes ------------------------------------------------------------------
    def add_probe(self, probe):
        if probe.kind == "current" and any(g.state.decay is None for g in self.pops[probe.target].groups):
            raise ValueError(f"probe 'current' of {probe.target.name!r}: it receives Delta (voltage-jump) "
                             "synapses, whose current is a sum of Dirac pulses; probe 'v' instead")
        cls = {"spikes": SpikeBuffer, "rate": RateBuffer}.get(probe.kind, SampleBuffer)
        self.buffers[probe] = cls(probe, self.dt, self.B, self.batched)

    def probe_data(self, probe):
        return self.buffers[probe].data()

    def _record_source(self, src, idx, times):
        for probe, buf in self.buffers.items():
            if probe.target is src and probe.kind in EVENT_KINDS:
                keep = times >= buf.start_step * self.dt - 1e-12 * self.dt
                _record_times(buf.recorder, idx[keep], times[keep], self.dt)

    # ---- snapshots -----------------------------------------------------------------
    def snapshot(self):
        """Everything needed to continue from this step: copies of states, references to immutable records."""
        return {
            "step": self.step,
            "pops": [rt.snapshot() for rt in self.pops.values()],
            "groups": [g.snapshot() for g in self.groups],
            "sources": [rt.snapshot() for rt in self.sources.values()],
            "plastic": [learn.snapshot() for learn in self._learning()],
            "drives": [d.snapshot() for d in self.drives],
            "buffers": [b.snapshot() for b in self.buffers.values()],
            "probes": list(self.buffers),
            # the parameters the state was run with: after restore, the description's current ones (bias,
            # weights, rates assigned since) are applied again at the next run
            "built_from": self.built_from,
        }

    def restore(self, snap):
        for rt, s in zip(self.pops.values(), snap["pops"]):
            rt.restore(s)
        for g, s in zip(self.groups, snap["groups"]):
            g.restore(s)
        for rt, s in zip(self.sources.values(), snap["sources"]):
            rt.restore(s)
        for learn, s in zip(self._learning(), snap.get("plastic", [])):
            learn.restore(s)
        for d, s in zip(self.drives, snap.get("drives", ())):
            d.restore(s)
        saved = dict(zip(snap["probes"], snap["buffers"]))
        for probe, buf in list(self.buffers.items()):
            if probe in saved:
                buf.restore(saved[probe])
            else:  # added after the snapshot: starts empty
                self.add_probe(probe)
        self.built_from = snap.get("built_from", self.built_from)
        self.step = snap["step"]
        self.failed = None

    # ---- running -------------------------------------------------------------------
    def run(self, steps, progress=False):
        """Advance by ``steps`` steps, one committed step at a time (``progress``: a line on stderr)."""
        if self.failed:
            raise RuntimeError(self.failed)
        sampled = [(p, b) for p, b in self.buffers.items() if p.kind not in EVENT_KINDS]
        for _, buf in sampled:
            buf.open(self.step, steps)
        with Progress(steps * self.dt, "simulated", enabled=progress, unit=" s") as bar:  # ends the line on errors
            try:
                with HeldInterrupt() as held:
                    self._loop(steps, bar, sampled, held)
            finally:
                for _, buf in sampled:
                    buf.close()

    @property
    def timing(self):
        return "grid"

    def make_plan(self, sampled=None):
        """The plan of one run (:mod:`neurosim.network.plan`): grid timing, one step per pass.

        ``sampled``: the sampled probes' ``(probe, buffer)`` pairs (default: all of them).
        """
        if sampled is None:
            sampled = [(p, b) for p, b in self.buffers.items() if p.kind not in EVENT_KINDS]
        dt, ops = self.dt, []
        names = {rt: d.name for d, rt in self.emitters.items()}
        for pop, rt in self.pops.items():
            if rt.inputs or rt.needs_prepare:
                ops.append(Operation("prepare", f"inputs of {pop.name!r}", _prepare_population(rt, dt)))
        for src, rt in self.sources.items():
            ops.append(Operation("prepare", f"draw the spikes of {src.name!r}", _draw_source(rt)))
        for pop, rt in self.pops.items():
            ops.append(Operation("neurons", f"step {pop.name!r} ({type(pop.model).__name__})", _step_grid(rt, dt)))
        ops += self._spike_probe_ops()
        for src, rt in self.sources.items():
            ops.append(Operation("emit", f"emit the spikes of {src.name!r}", self._emit_source(src, rt)))
        for (post, syn), g in zip(self._group_keys, self.groups):
            ops.append(Operation("synapses", f"advance {syn!r} into {post.name!r} and deliver",
                                 _advance_group(g)))
        for c, rt in self.conns:  # independent-per-target Poisson drives: counts drawn, then delivered
            if isinstance(rt, PoissonDrive):
                ops.append(Operation("prepare", f"draw the drive of {c.pre.name!r} to {c.post.name!r}",
                                     _prepare_drive(rt)))
                ops.append(Operation("synapses", f"deliver the drive of {c.pre.name!r} to {c.post.name!r}",
                                     _deliver_drive(rt)))
        filtered = [(p, buf, self.emitters[p.target]) for p, buf in sampled if buf.state is not None]
        for p, buf, _ in filtered:
            ops.append(Operation("synapses", f"advance the filter of {p!r}", _advance_filter(buf)))
        for f, members in self.fused:
            pre = self.emitters[next(c.pre for c, rt in self.conns if rt is members[0])]
            ops.append(Operation("propagate", f"spikes of {names[pre]!r} into {len(members)} groups (fused)",
                                 _propagate_fused(f, pre)))
        for c, rt in self.conns:
            if not getattr(rt, "fused", False):
                ops.append(Operation("propagate", f"spikes of {c.pre.name!r} to {c.post.name!r} "
                                     f"({transform_name(c.weights)}, delay {_delay_text(c)} s)",
                                     _propagate(rt, self.emitters[c.pre], dt)))
        for p, buf, pre in filtered:
            ops.append(Operation("propagate", f"spikes of {p.target.name!r} into the filter of {p!r}",
                                 _filter_spikes(buf, pre, dt, self._compiled_adds(buf.state.x[0]))))
        for c, rt in self.conns:
            if rt.plastic is not None:
                ops.append(Operation("plasticity", f"STDP of {c.name!r}",
                                     _plasticity(self, rt.plastic, self.emitters[c.pre], self.pops[c.post])))
        return Plan("grid", ops + self._record_ops(sampled))

    def _compiled_adds(self, target):
        """Whether spikes are added into the probe array ``target`` by a compiled loop instead of
        ``np.add.at`` (the same additions, in the same order): under backend "auto" with numba, for arrays of
        at least :data:`neurosim.neurons.fused.FUSED_MIN` entries (where ``np.add.at``'s per-call and
        per-index costs show)."""
        if getattr(self, "backend_request", "numpy") == "numpy" or not numba_enabled():  # (runtimes not built
            # by Runtime.__init__, e.g. the precise one, keep np.add.at)
            return False
        from ..neurons import fused
        return target.size >= fused.FUSED_MIN and target.dtype == np.float64 and target.ndim == 1

    def _spike_probe_ops(self):
        """Record the spikes of probed populations (phase emit); sources record their own."""
        return [Operation("emit", f"record the spikes of {probe.target.name!r}",
                          _record_spikes(buf.recorder, self.emitters[probe.target], buf.start_step))
                for probe, buf in self.buffers.items() if probe.kind in EVENT_KINDS and probe.target in self.pops]

    def _record_ops(self, sampled):
        """The sampled probes' operations (phase record): running means first, then the samples."""
        ops = [Operation("record", f"accumulate the mean of {p!r}",
                         _accumulate(buf, self.emitters[p.target], self.dt, self._compiled_adds(buf.sum)))
               for p, buf in sampled if p.kind == "filtered_mean"]
        for p, buf in sampled:
            source = None if p.kind in ("filtered", "filtered_mean") else \
                (self.plastic_runtime(p.target) if p.kind == "weights" else self.pops[p.target], p.kind)
            signal_ = buf.state.current if p.kind == "filtered" else None
            ops.append(Operation("record", f"sample {p!r}", _sample(buf, p.every, signal_, source)))
        return ops

    def _emit_source(self, src, rt):
        dt = self.dt

        def emit(k, m):
            idx, times = rt.pending
            rt.spiked = idx
            if idx.size:
                rt.offsets = times - k * dt
                self._record_source(src, idx, times)
        return emit

    def _loop(self, steps, progress, sampled, held):
        """Execute the plan ``steps`` times (blocks of ``plan.block`` steps), one transaction per pass."""
        plan = self.plan = self.make_plan(sampled)
        prepare, commit, block, dt = plan.prepare, plan.commit, plan.block, self.dt
        k0 = k = self.step
        end, report = k0 + steps, k0 + 256
        while k < end:
            # blocks aligned to multiples of `block`: an interrupted and continued run takes the same blocks
            m = k + 1 if block == 1 else min(end, (k // block + 1) * block)
            for op in prepare:  # may raise: nothing committed changes
                op(k, m)
            try:
                for op in commit:
                    op(k, m)
                self.step = k = m
            except BaseException as err:
                self.failed = _invalid_message(err, k * dt)
                raise
            if held.pending:
                raise KeyboardInterrupt
            if m >= report:
                report = m + 256
                if progress.due():
                    progress.update((m - k0) * dt, f"t = {m * dt:.3f} s")

    def plasticity_step(self, k, plastic):
        """The plasticity phase of step k, after propagation: STDP updates from this step's spikes.

        ``plastic``: (STDPRuntime, presynaptic emitter, postsynaptic population runtime) per plastic
        connection. Pure arithmetic on the connections' own state (part of the step's commit).
        """
        for learn, pre, post in plastic:
            sp, po = pre.spiked, post.spiked
            learn.step(k, sp, pre.offsets if sp.size else None, po, post.offsets if po.size else None)

    def plastic_runtime(self, conn):
        """The :class:`neurosim.synapses.plasticity.STDPRuntime` of a plastic connection (None if not built)."""
        return next((rt.plastic for c, rt in getattr(self, "conns", ()) if c is conn), None)

    def _learning(self):
        """The STDP run states, in connection order (precise timing has none: it refuses plasticity)."""
        return [rt.plastic for _, rt in getattr(self, "conns", ()) if rt.plastic is not None]

    def _propagate(self, m, spiking):
        for c, rt in self.conns:
            pre = self.emitters[c.pre]
            if pre in spiking:  # emitted at t = m dt: an offset of dt in the step before
                rt.deliver(pre.spiked, np.full(pre.spiked.size, self.dt), m, self.dt)
        for probe, buf in self.buffers.items():
            if buf.state is not None and self.emitters[probe.target] in spiking:
                np.add.at(buf.state.x[0], self.emitters[probe.target].spiked, buf.state.inv_tau)
                if probe.kind == "filtered_mean":  # spikes before the first step: all their charge follows
                    np.add.at(buf.total, self.emitters[probe.target].spiked, buf.state.inv_tau)


def check_drive(conn, grid):
    """Refuse what a Poisson drive independent per target does not carry (it would be dropped otherwise);
    ``grid``: grid timing (precise timing places every count at its exact time anyway)."""
    why = []
    if conn.plasticity is not None:
        why.append("plasticity (its trains are drawn per synapse as counts, with no spikes for STDP to pair)")
    if grid and conn.placement != "boundary":
        why.append(f"placement={conn.placement!r} (its counts enter at the step boundary)")
    if conn.delays is not None:
        why.append("per-synapse delays (it takes one delay per connection)")
    if why:
        raise ValueError(f"connection {conn.name!r} from a Poisson source with independent_per_target=True cannot "
                         f"have {' or '.join(why)}")


def _delay_text(conn):
    """A connection's delay for the plan's names: one value, or the range of its per-synapse delays."""
    lo, hi = conn.delay_bounds
    return f"{lo:g}" if lo == hi else f"{lo:g}..{hi:g}"


# ---- the grid plan's operations: each returns fn(k, m) over the runtime objects it closes over ----------
def _prepare_population(rt, dt):
    def prepare(k, m):
        rt.prepare(k, k * dt)
    return prepare


def _draw_source(rt):
    def draw(k, m):
        rt.pending = rt.emit(m)
    return draw


def _prepare_drive(drive):
    def prepare(k, m):
        drive.prepare(k)
    return prepare


def _deliver_drive(drive):
    def deliver(k, m):
        drive.deliver(k)
    return deliver


def _step_grid(rt, dt):
    def step(k, m):
        rt.spiked, rt.offsets = rt.step(k, k * dt)
    return step


def _record_spikes(recorder, rt, start):
    def record(k, m):
        if rt.spiked.size and k >= start:
            recorder._record(k, rt.spiked, rt.offsets)
    return record


def _advance_group(group):
    def advance(k, m):
        group.advance_and_deliver(m)
    return advance


def _advance_filter(buf):
    def advance(k, m):
        buf.state.advance()
    return advance


def _propagate_fused(f, pre):
    def propagate(k, m):
        if pre.spiked.size:
            f.scatter(pre.spiked)
    return propagate


def _propagate(rt, pre, dt):
    def propagate(k, m):
        sp = pre.spiked
        if sp.size:
            if rt.cut is None and not rt.lagged:  # delay < dt: the next boundary
                rt.scatter(sp, rt.group.x0)
            else:
                rt.deliver(sp, pre.offsets, m, dt)
    return propagate


def _filter_spikes(buf, pre, dt, compiled=False):
    def add(k, m):
        sp = pre.spiked
        if sp.size:
            if buf.probe.kind == "filtered":
                np.add.at(buf.state.x[0], sp, buf.state.inv_tau)
            else:
                add_lagged(buf.state, sp, dt - getattr(pre, "offsets", 0.0), compiled)
    return add


def _accumulate(buf, pre, dt, compiled=False):
    """``compiled``: the spikes added by :func:`neurosim.neurons.fused.add_at` (the same additions)."""
    if compiled:
        from ..neurons.fused import add_at
        value, none = 1.0 / dt, np.zeros(0)

        def accumulate(k, m):
            sp = pre.spiked
            if sp.size:
                add_at(buf.sum, sp, none, value, True)
        return accumulate

    def accumulate(k, m):
        _accumulate_mean(buf, pre.spiked, dt)
    return accumulate


def _sample(buf, every, signal_, source):
    entry = [(buf, every, signal_, source)]

    def sample(k, m):
        _take_samples(entry, m)
    return sample



def _plasticity(runtime, learn, pre, post):
    def plasticity(k, m):
        runtime.plasticity_step(k, [(learn, pre, post)])
    return plasticity


def _take_samples(sample, m):
    """Record the sampled probes due after step m: a population value, a signal, or the accumulated mean."""
    for buf, every, signal_, source in sample:
        if m % every == 0 and m > buf.start_step:
            if source is not None:
                value = source[0].value(source[1])
            elif signal_ is not None:
                value = signal_
            else:
                value = _filtered_mean(buf, buf.dt, every)
            buf.record(m, value)


def _invalid_message(err, t0):
    """Why a runtime refuses to continue after an exception inside a step's commit."""
    return (f"the network's state is invalid after {type(err).__name__} in the step at "
            f"t={t0:g} s: {err}; call net.reset() or net.restore()")


def _accumulate_mean(buf, spiked, dt):
    """Add this step's spikes to ``buf.sum`` (1/dt each); the filter's part is added at the sample.

    Summing the cascade ``tau dx_k/dt = x_(k-1) - x_k`` (x_0 jumps 1/tau per
    spike) gives ``integral x_n dt = spikes - tau * delta(sum_k x_k)`` over a step. Over the steps
    between two samples the second term telescopes to ``tau * (S_last - S_now)``, ``S`` the sum of
    the stages (``buf.total`` holds ``S_last``), so :func:`_filtered_mean` adds it once per sample
    and a step costs only its spikes (not three passes over every neuron).
    """
    if spiked.size:
        np.add.at(buf.sum, spiked, 1.0 / dt)


def _filtered_mean(buf, dt, every):
    """The mean of the filtered signal over the steps since the last sample; restarts the sums."""
    state = buf.state
    now = state.x[0] if state.synapse.n == 0 else state.x.sum(axis=0)
    value = buf.mean
    np.subtract(buf.total, now, out=value)
    value *= buf.probe.synapse.tau_s / dt
    value += buf.sum
    value *= 1.0 / every
    np.copyto(buf.total, now)
    buf.sum[:] = 0.0
    return value


def _record_times(recorder, idx, times, dt):
    """Record spikes at absolute times (s) into a SpikeRecorder (step + offset within the step)."""
    steps = np.floor(times / dt + 1e-9).astype(np.int64)
    for s in np.unique(steps):
        sel = steps == s
        recorder._record(int(s), idx[sel], np.maximum(times[sel] - s * dt, 0.0))


