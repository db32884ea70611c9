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

from ..interrupts import HeldInterrupt
from ..progress import Progress
from .changes import built_from
from .connections import ConnectionRuntime, FusedPropagation, SynapseGroup
from .inputs import CurrentInputRuntime, PoissonRuntime, PoissonSource, SpikeSourceRuntime
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
        self.sources = {s: (PoissonRuntime if isinstance(s, PoissonSource) else SpikeSourceRuntime)(s, dt, B)
                        for s in net.sources}
        self.conns = [(c, ConnectionRuntime(c, dt, B)) for c in net.connections]
        grouped = {}  # (post, synapse) -> connection runtimes, in order
        for c, rt in self.conns:
            grouped.setdefault((c.post, c.synapse), []).append(rt)
        # one buffer for the state of every group, so fused propagation can address them all
        sizes = [(syn.n + 1) * B * post.n for post, syn in grouped]
        self.arena = np.zeros(sum(sizes))
        self.groups, offsets, start = [], {}, 0
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
            by_target[pop] = self.pops[pop]
        by_target.update(self.sources)
        self.emitters = by_target  # target description -> runtime with .spiked
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

    def set_weights(self, conn):
        """Rebuild the propagation of ``conn`` from its new weights; synapse states and queued spikes stay."""
        i = next(i for i, (c, _) in enumerate(self.conns) if c is conn)
        old = self.conns[i][1]
        new = ConnectionRuntime(conn, self.dt, self.B)
        new.group = old.group
        if old.plastic is not None:  # learned weights restart from the new ones; traces and arrivals go on
            new.plastic.continue_from(old.plastic)
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
            if not rt.dense and not rt.lagged and rt.cut is None and into[id(rt.group)] == 1 and rt.plastic is None:
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

    def _loop(self, steps, progress, sampled, held):
        dt = self.dt
        pops = list(self.pops.values())
        prepared = [rt for rt in pops if rt.inputs or rt.needs_prepare]
        groups = self.groups
        sources = list(self.sources.items())
        conns = [(rt, self.emitters[c.pre]) for c, rt in self.conns if not getattr(rt, "fused", False)]
        fused = [(f, self.emitters[next(c.pre for c, rt in self.conns if rt is members[0])])
                 for f, members in self.fused]
        spike_probes = [(buf.recorder, self.emitters[p.target], buf.start_step) for p, buf in self.buffers.items()
                        if p.kind in EVENT_KINDS and p.target in self.pops]
        filtered = [(buf, self.emitters[p.target]) for p, buf in sampled if buf.state is not None]
        means = [(buf, self.emitters[p.target], p.every) for p, buf in sampled if p.kind == "filtered_mean"]
        sample = [(buf, p.every, buf.state.current if p.kind == "filtered" else None,
                   None if p.kind in ("filtered", "filtered_mean") else
                   (self.plastic_runtime(p.target) if p.kind == "weights" else self.pops[p.target], p.kind))
                  for p, buf in sampled]
        plastic = [(rt.plastic, self.emitters[c.pre], self.pops[c.post]) for c, rt in self.conns
                   if rt.plastic is not None]
        k0 = self.step
        for k in range(k0, k0 + steps):
            t0 = k * dt
            m = k + 1
            # ---- prepare: may raise, changes nothing committed
            for rt in prepared:
                rt.prepare(k, t0)
            emitted = [(src, rt) + rt.emit(m) for src, rt in sources]
            # ---- commit
            try:
                any_spikes = False
                for rt in pops:
                    idx, offsets = rt.step(k, t0)
                    rt.spiked, rt.offsets = idx, offsets
                    if idx.size:
                        any_spikes = True
                for rec, rt, start in spike_probes:
                    if rt.spiked.size and k >= start:
                        rec._record(k, rt.spiked, rt.offsets)
                for src, rt, idx, times in emitted:
                    rt.spiked = idx
                    if idx.size:
                        rt.offsets = times - t0
                        self._record_source(src, idx, times)
                        any_spikes = True
                for g in groups:
                    g.advance_and_deliver(m)
                for buf, _ in filtered:
                    buf.state.advance()
                if any_spikes:
                    for f, pre in fused:
                        if pre.spiked.size:
                            f.scatter(pre.spiked)
                    for rt, pre in conns:
                        sp = pre.spiked
                        if sp.size:
                            if rt.cut is None and not rt.lagged:  # delay < dt: the next boundary
                                rt.scatter(sp, rt.group.x0)
                            else:
                                rt.deliver(sp, pre.offsets, m, dt)
                    for buf, pre in filtered:
                        sp = pre.spiked
                        if sp.size:
                            if buf.probe.kind == "filtered":
                                np.add.at(buf.state.x[0], sp, buf.state.inv_tau)
                            else:
                                add_lagged(buf.state, sp, dt - getattr(pre, "offsets", 0.0))
                if plastic:
                    self.plasticity_step(k, plastic)
                for buf, pre, every in means:
                    _accumulate_mean(buf, pre.spiked, dt)
                _take_samples(sample, m)
                self.step = m
            except BaseException as err:
                self.failed = _invalid_message(err, t0)
                raise
            if held.pending:
                raise KeyboardInterrupt
            if (m & 255) == 0 and progress.due():
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


def _take_samples(sample, m):
    """Record the sampled probes due after step m: a population value, a signal, or the accumulated mean."""
    for buf, every, signal_, source in sample:
        if m % every == 0 and m > buf.start_step:
            if source is not None:
                value = source[0].value(source[1])
            elif signal_ is not None:
                value = signal_
            else:
                value = buf.sum * (1.0 / every)
                buf.sum[:] = 0.0
            buf.record(m, value)


def _invalid_message(err, t0):
    """Why a runtime refuses to continue after an exception inside a step's commit."""
    return (f"the network's state is invalid after {type(err).__name__} in the step at "
            f"t={t0:g} s: {err}; call net.reset() or net.restore()")


def _accumulate_mean(buf, spiked, dt):
    """Add this step's exact mean of the filtered signal to ``buf.sum`` (spikes already added with their lags).

    Summing the cascade ``tau dx_k/dt = x_(k-1) - x_k`` (x_0 jumps 1/tau per
    spike) gives ``integral x_n dt = spikes - tau * delta(sum_k x_k)`` over the step.
    """
    state, mean = buf.state, buf.mean
    tau = buf.probe.synapse.tau_s
    np.subtract(buf.total, state.x[0] if state.synapse.n == 0 else state.x.sum(axis=0), out=mean)
    buf.total -= mean  # total = the new sum of stages
    mean *= tau
    if spiked.size:
        np.add.at(mean, spiked, 1.0)
    mean *= 1.0 / dt
    buf.sum += mean


def _record_times(recorder, idx, times, dt):
    """Record spikes at absolute times (s) into a SpikeRecorder (step + offset within the step)."""
    steps = np.floor(times / dt + 1e-9).astype(np.int64)
    for s in np.unique(steps):
        sel = steps == s
        recorder._record(int(s), idx[sel], np.maximum(times[sel] - s * dt, 0.0))


