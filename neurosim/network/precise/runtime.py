"""The runtime of ``Network(timing="precise")``: spikes travel with their exact times.

It differs from the grid runtime (:class:`neurosim.network.runtime.Runtime`) in three places:

* LIF populations are :class:`PreciseLIFRuntime` s. Each integrates its neurons
  exactly between the incoming events of a step (:class:`neurosim.neurons.lif.PreciseLIFState`).
  It keeps its own synapse stages, one group per distinct PSC filter.
* A spike at time t reaches its targets at ``t + delay`` exactly. The connection
  turns it into one event per nonzero weight (target, arrival offset, group,
  ``w / tau_s``) and files it in the target's queue under the step of arrival.
  Delays between populations must be at least dt, so every event that arrives
  in a step was emitted in an earlier one (as in NEST). Sources know their
  spikes in advance, so any delay >= 0 works for them.
* Spike probes record the exact times. Filtered probes add each spike at its exact
  time (lagged). ``v`` and ``current`` probes sample the state at step boundaries.

Everything else is inherited: transactions (prepare, then commit), Ctrl-C held to
the step boundary, snapshots, reset/store/restore, and the batch axis (flat
``trial * n + i`` indices).
"""
import numpy as np

from ...neurons.lif import LIF, PreciseLIFState
from ...synapses.conductance import Conductance
from ..inputs import CurrentInputRuntime, PoissonRuntime, PoissonSource, SpikeSourceRuntime
from ..populations import _Base, _flat
from .events import csr_rows, fan_out
from ..probes import EVENT_KINDS, add_lagged
from ..changes import built_from
from ..runtime import Runtime, _accumulate_mean, _invalid_message, _take_samples

_DELAY_TOL = 1e-9  # relative: a delay of dt (1 - 1e-9) counts as dt
_MAX_BLOCK = 64  # grid steps integrated at once at most


class PreciseLIFRuntime(_Base):
    """A LIF population in precise mode: exact in-step events, synapse stages kept here.

    ``J`` holds only the bias and the injected currents. The synaptic currents are
    stages of the precise state. Incoming events wait in ``queue`` (arrival step ->
    list of event tuples) until their step.
    """

    def __init__(self, pop, B, dt, synapses, inputs):
        super().__init__(pop, B, dt, [], inputs)
        self.state = PreciseLIFState(pop.model, self.N, dt, synapses, v0=_flat(pop.normalized.v0, B, pop.n))
        self.queue = {}
        self.times = np.zeros(0)

    def step(self, k, t0, steps=1):
        """Advance over ``steps`` grid steps from step k at once (J constant over them); (indices, offsets)."""
        dt = self.state.dt
        waiting = []
        for s in range(k, k + steps):
            for tg, off, grp, inc in self.queue.pop(s, ()):
                waiting.append((tg, off + (s - k) * dt if s > k else off, grp, inc))
        events = None
        if len(waiting) > 1:  # each piece holds one synapse group: keep them grouped (a stable sort)
            waiting.sort(key=lambda piece: int(piece[2][0]))
        if waiting:
            events = waiting[0] if len(waiting) == 1 else tuple(np.concatenate(a) for a in zip(*waiting))
        idx, times = self.state.step(self.input(), t0, events, None if steps == 1 else steps * dt)
        self.times = times
        return idx, times - t0

    def value(self, kind):
        if kind == "v":
            return self.state.v
        if kind == "current":
            total = np.zeros(self.N)
            for x in self.state.x:
                total += x[-1]
            return total
        raise KeyError(kind)

    def snapshot(self):
        s = self.state
        # queued event arrays are never modified in place: copying the lists is enough
        return (s.v.copy(), s.refractory_end.copy(), [x.copy() for x in s.x],
                {k: list(v) for k, v in self.queue.items()})

    def restore(self, snap):
        s = self.state
        np.copyto(s.v, snap[0])
        np.copyto(s.refractory_end, snap[1])
        for x, y in zip(s.x, snap[2]):
            np.copyto(x, y)
        self.queue = {k: list(v) for k, v in snap[3].items()}


class PreciseConnection:
    """One connection in precise mode: CSR rows (pre-major, already / tau_s), delay, target group."""

    def __init__(self, conn, dt, B, group, target):
        self.conn = conn
        self.rows = csr_rows(conn.matrix(), 1.0 / conn.synapse.tau_s)
        self.delay, self.dt, self.B = float(conn.delay), dt, B
        self.n_pre, self.n_post = conn.pre.n, conn.post.n
        self.group, self.target = group, target

    def send(self, spiked, times, first_step):
        """File the events of presynaptic spikes (flat indices, absolute times in s) in the target's queue.

        ``first_step`` is the earliest step that can still receive them (rounding never files an event
        in a step that has already run).
        """
        if self.B > 1:
            trials, j = np.divmod(spiked, self.n_pre)
        else:
            trials, j = None, spiked
        arrival = times + self.delay
        step = np.maximum(np.floor(arrival / self.dt).astype(np.int64), first_step)
        offset = np.clip(arrival - step * self.dt, 0.0, np.nextafter(self.dt, 0.0))
        tgt, off, inc = fan_out(self.rows, j, offset)
        if tgt.size == 0:
            return
        lengths = self.rows[0][j + 1] - self.rows[0][j]
        if trials is not None:
            tgt = tgt + np.repeat(trials * self.n_post, lengths)
        queue = self.target.queue
        if step.size == 1 or (step[1:] >= step[:-1]).all():
            # spikes come ordered by time, so their events are already grouped by step: cut, do not sort
            grp = np.full(tgt.size, self.group, dtype=np.int64)
            cuts = np.flatnonzero(step[1:] != step[:-1]) + 1
            ends = np.cumsum(lengths)
            a = 0
            for c, b in zip([0] + cuts.tolist(), ends[cuts - 1].tolist() + [tgt.size]):  # (np.r_ is slow)
                if b > a:
                    queue.setdefault(int(step[c]), []).append((tgt[a:b], off[a:b], grp[a:b], inc[a:b]))
                a = b
            return
        steps = np.repeat(step, lengths)
        first, last = int(steps.min()), int(steps.max())
        grp = np.full(tgt.size, self.group, dtype=np.int64)
        if first == last:
            queue.setdefault(first, []).append((tgt, off, grp, inc))
            return
        order = np.argsort(steps, kind="stable")
        steps, tgt, off, grp, inc = steps[order], tgt[order], off[order], grp[order], inc[order]
        cuts = np.flatnonzero(steps[1:] != steps[:-1]) + 1
        for a, b in zip([0] + cuts.tolist(), cuts.tolist() + [steps.size]):
            queue.setdefault(int(steps[a]), []).append((tgt[a:b], off[a:b], grp[a:b], inc[a:b]))


class PreciseRuntime(Runtime):
    """Runtime for ``timing="precise"`` (see the module docstring). Same public interface as :class:`Runtime`."""

    def __init__(self, net):
        self.dt, self.batched = net.dt, net.batch is not None
        B = self.B = net.batch or 1
        self.step = 0
        self.failed = None
        dt = self.dt
        _check_precise(net)
        self.sources = {s: (PoissonRuntime if isinstance(s, PoissonSource) else SpikeSourceRuntime)(s, dt, B)
                        for s in net.sources}
        self.groups, self.pops = [], {}
        self.links = []  # (pre description, PreciseConnection)
        for pop in net.populations:
            incoming = [c for c in net.connections if c.post is pop]
            synapses = list(dict.fromkeys(c.synapse for c in incoming))
            inputs = [CurrentInputRuntime(inp, B, self.batched) for inp in pop.inputs]
            rt = self.pops[pop] = PreciseLIFRuntime(pop, B, dt, synapses, inputs)
            for c in incoming:
                self.links.append((c.pre, PreciseConnection(c, dt, B, synapses.index(c.synapse), rt)))
        self.emitters = dict(self.pops)
        self.emitters.update(self.sources)
        # outgoing links of each emitting runtime
        self._out = {id(rt): [link for pre, link in self.links if pre is d] for d, rt in self.emitters.items()}
        self.buffers = {}
        for probe in net.probes:
            self.add_probe(probe)
        # spikes of sources at t = 0
        for src, rt in self.sources.items():
            idx, times = rt.emit(0)
            if idx.size:
                self._record_source(src, idx, times)
                for link in self._out[id(rt)]:
                    link.send(idx, times, 0)
                for probe, buf in self.buffers.items():
                    if buf.state is not None and probe.target is src:
                        add_lagged(buf.state, idx, np.zeros(idx.size))
                        if probe.kind == "filtered_mean":  # spikes before the first step: all their charge follows
                            np.add.at(buf.total, idx, buf.state.inv_tau)
            rt.spiked = idx[:0]
        self.built_from = built_from(net)

    def set_weights(self, conn):
        """New CSR rows for ``conn``; events already queued keep the weights they were sent with."""
        for i, (pre, link) in enumerate(self.links):
            if link.conn is conn:
                new = PreciseConnection(conn, self.dt, self.B, link.group, link.target)
                self.links[i] = (pre, new)
                out = self._out[id(self.emitters[pre])]
                out[out.index(link)] = new

    def _loop(self, steps, progress, sampled, held):
        dt = self.dt
        pops = list(self.pops.items())
        prepared = [rt for _, rt in pops if rt.inputs]
        sources = list(self.sources.items())
        spike_probes = [(buf.recorder, self.emitters[p.target], buf.start_step) for p, buf in self.buffers.items()
                        if p.kind in EVENT_KINDS and p.target in self.pops]
        filtered = [(buf, self.emitters[p.target]) for p, buf in sampled if buf.state is not None]
        means = [(buf, self.emitters[p.target]) for p, buf in sampled if p.kind == "filtered_mean"]
        sample = [(buf, p.every, buf.state.current if p.kind == "filtered" else None,
                   None if p.kind in ("filtered", "filtered_mean") else (self.pops[p.target], p.kind))
                  for p, buf in sampled]
        block = self._block_steps(sampled)
        k, end = self.step, self.step + steps
        while k < end:
            # a block of grid steps integrated at once: aligned to multiples of `block`, so an interrupted
            # and continued run takes the same blocks as an uninterrupted one
            kend = min(end, (k // block + 1) * block)
            nb, t0, m = kend - k, k * dt, kend
            t1 = kend * dt
            # ---- prepare: may raise, changes nothing committed
            for rt in prepared:
                rt.prepare(k, t0)
            emitted = []
            for src, rt in sources:  # spikes in (t0, t1]
                parts = [rt.emit(j) for j in range(k + 1, kend + 1)]
                emitted.append((src, rt) + (parts[0] if nb == 1 else tuple(np.concatenate(a) for a in zip(*parts))))
            # ---- commit
            try:
                for src, rt, idx, times in emitted:
                    rt.spiked, rt.times = idx, times
                    if idx.size:
                        self._record_source(src, idx, times)
                for _, rt in sources:  # before the populations: a source with delay < dt may reach this block
                    if rt.spiked.size:
                        for link in self._out[id(rt)]:
                            link.send(rt.spiked, rt.times, k)
                for _, rt in pops:
                    rt.spiked, rt.offsets = rt.step(k, t0, nb)
                for rec, rt, start in spike_probes:
                    if rt.spiked.size and k >= start:
                        rec._record(k, rt.spiked, rt.offsets)
                for _, rt in pops:
                    if rt.spiked.size:
                        for link in self._out[id(rt)]:
                            link.send(rt.spiked, rt.times, m)
                for buf, pre in filtered:
                    buf.state.advance()
                    if pre.spiked.size:
                        add_lagged(buf.state, pre.spiked, t1 - pre.times)
                for buf, pre in means:
                    _accumulate_mean(buf, pre.spiked, dt)
                _take_samples(sample, m)
                self.step = k = m
            except BaseException as err:
                self.failed = _invalid_message(err, t0)
                raise
            if progress.due():
                progress.update((m - end + steps) * dt, f"t = {m * dt:.3f} s")
            if held.pending:
                raise KeyboardInterrupt

    def _block_steps(self, sampled):
        """Grid steps integrated at once: all of them up to the shortest delay between populations.

        Events that arrive inside a block were all emitted before it (delays >= block), so a
        block is as exact as single steps. Sampled probes and injected currents need every step.
        """
        if sampled or any(rt.inputs for rt in self.pops.values()):
            return 1
        delays = [link.delay for pre, link in self.links if pre in self.pops]
        if not delays:
            return _MAX_BLOCK
        return int(max(1, min(_MAX_BLOCK, np.floor(min(delays) / self.dt * (1 + _DELAY_TOL)))))


def _check_precise(net):
    """Refuse what precise mode does not handle, with the reason and the way out."""
    for pop in net.populations:
        if not isinstance(pop.model, LIF):
            raise ValueError(f"timing='precise' needs an exact spike-time method, which LIF populations have; "
                             f"{pop.name!r} is a {type(pop.model).__name__}, which has none "
                             f"(use timing='grid' for it)")
        if pop.model.per_neuron is not None:
            raise ValueError(f"timing='precise' has no per-neuron parameters yet: {pop.name!r} has an LIF with "
                             "parameters per neuron, and its closed-form event integrator is written for one tau_m "
                             "per population (use timing='grid', or one population per value)")
        if pop.noise is not None:
            raise ValueError(f"timing='precise' cannot honour the noise of {pop.name!r}: spike times of a noisy "
                             "membrane have no closed form between events, and ignoring the noise would be "
                             "silently wrong (use timing='grid', whose noise step is exact)")
    for c in net.connections:
        if isinstance(c.synapse, Conductance):
            raise ValueError(f"timing='precise' refuses the conductance synapse {c.synapse!r} of {c.pre.name!r} -> "
                             f"{c.post.name!r}: a conductance makes the membrane's time constant vary between "
                             "events, so there is no closed form to locate the threshold crossing exactly (as "
                             "NEST's precise '_ps' models have no conductance variant); use timing='grid'")
        if c.synapse.n > 1:
            raise ValueError(f"timing='precise' handles exponential (n=0) and alpha (n=1) synapses; the connection "
                             f"{c.pre.name!r} -> {c.post.name!r} has {c.synapse!r} (use timing='grid' for n >= 2)")
        if c.pre in net.populations and c.delay < net.dt * (1 - _DELAY_TOL):
            raise ValueError(f"timing='precise' needs delays >= dt between populations (as NEST does): the "
                             f"connection {c.pre.name!r} -> {c.post.name!r} has delay={c.delay!r} s < dt={net.dt!r} s")
