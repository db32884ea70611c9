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
from ..inputs import CurrentInputRuntime, PoissonDrive, drive_seeds, source_runtime
from ..connections import jump_scale, per_post
from ..populations import _Base, _flat
from .events import csr_rows, fan_out
from ..connections import check_per_synapse_delays, rows_by_pre
from ..probes import EVENT_KINDS, add_lagged
from ..changes import built_from
from ..plan import Operation, Plan
from ..runtime import Runtime, check_drive, _advance_filter, _prepare_population

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

    def arrays(self):
        return {"v": self.state.v, "refractory_end": self.state.refractory_end}

    def value(self, kind):
        if kind == "current":  # the synapse stages live here in precise mode
            total = np.zeros(self.N)
            for x in self.state.x:
                total += x[-1]
            return total
        return super().value(kind)

    def snapshot_extra(self):
        # queued event arrays are never modified in place: copying the lists is enough
        return [x.copy() for x in self.state.x], {k: list(v) for k, v in self.queue.items()}

    def restore_extra(self, extra):
        for x, y in zip(self.state.x, extra[0]):
            np.copyto(x, y)
        self.queue = {k: list(v) for k, v in extra[1].items()}


class PreciseConnection:
    """One connection in precise mode: CSR rows (pre-major, already / tau_s), delay, target group."""

    def __init__(self, conn, dt, B, group, target):
        self.conn = conn
        self.rows = csr_rows(conn.matrix(), jump_scale(conn))
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
        file_events(queue, tgt, np.repeat(arrival, lengths), self.group, inc, self.dt, first_step)


class PreciseSynapseDelays(PreciseConnection):
    """A connection with per-synapse delays in precise mode: each synapse's event arrives at t + its delay."""

    def __init__(self, conn, dt, B, group, target):
        self.conn = conn
        indptr, indices, data, self.delays = rows_by_pre(conn.matrix(), conn.delays)
        self.rows = (indptr, indices, data * per_post(jump_scale(conn), indices))
        self.delay, self.dt, self.B = float(self.delays.min()) if self.delays.size else 0.0, dt, B
        self.n_pre, self.n_post = conn.pre.n, conn.post.n
        self.group, self.target = group, target

    def send(self, spiked, times, first_step):
        j = spiked if self.B == 1 else spiked % self.n_pre
        indptr, indices, data = self.rows
        starts = indptr[j]
        lengths = indptr[j + 1] - starts
        total = int(lengths.sum())
        if total == 0:
            return
        ends = np.cumsum(lengths)
        pos = np.arange(total) + np.repeat(starts - (ends - lengths), lengths)
        arrival = np.repeat(times, lengths) + self.delays[pos]
        tgt, inc = indices[pos], data[pos]
        if self.B > 1:
            tgt = tgt + np.repeat((spiked // self.n_pre) * self.n_post, lengths)
        file_events(self.target.queue, tgt, arrival, self.group, inc, self.dt, first_step)


def _precise_link(conn, dt, B, group, target):
    if conn.delays is None:
        return PreciseConnection(conn, dt, B, group, target)
    check_per_synapse_delays(conn)
    return PreciseSynapseDelays(conn, dt, B, group, target)


def file_events(queue, tgt, arrival, group, inc, dt, first_step):
    """File events (targets, absolute arrival times (s), increments) of one synapse group in a target's queue,
    by step of arrival (never before ``first_step``)."""
    if tgt.size == 0:
        return
    step = np.maximum(np.floor(arrival / dt).astype(np.int64), first_step)
    off = np.clip(arrival - step * dt, 0.0, np.nextafter(dt, 0.0))
    grp = np.full(tgt.size, group, dtype=np.int64)
    order = np.argsort(step, kind="stable")
    step, tgt, off, grp, inc = step[order], tgt[order], off[order], grp[order], inc[order]
    cuts = (step[1:] != step[:-1]).nonzero()[0] + 1
    for a, b in zip([0] + cuts.tolist(), cuts.tolist() + [step.size]):
        queue.setdefault(int(step[a]), []).append((tgt[a:b], off[a:b], grp[a:b], inc[a:b]))


class PreciseRuntime(Runtime):
    """Runtime for ``timing="precise"`` (see the module docstring). Same public interface as :class:`Runtime`."""

    def __init__(self, net):
        self.dt, self.batched = net.dt, net.batch is not None
        B = self.B = net.batch or 1
        self.step = 0
        self.failed = None
        dt = self.dt
        _check_precise(net)
        self.sources = {s: source_runtime(s, dt, B) for s in net.sources}
        self.groups, self.pops = [], {}
        self.links = []  # (pre description, PreciseConnection)
        self.drives = []  # PoissonDrive of each connection from an independent-per-target source
        for pop in net.populations:
            incoming = [c for c in net.connections if c.post is pop]
            # Delta last: PreciseLIFState numbers its PSC groups first
            synapses = sorted(dict.fromkeys(c.synapse for c in incoming), key=lambda syn: syn.tau_s is None)
            inputs = [CurrentInputRuntime(inp, B, self.batched) for inp in pop.inputs]
            rt = self.pops[pop] = PreciseLIFRuntime(pop, B, dt, synapses, inputs)
            for c in incoming:
                if getattr(c.pre, "independent_per_target", False):
                    check_drive(c, grid=False)
                    drive = PoissonDrive(c, dt, B, drive_seeds(c.pre, net.connections.index(c)), jump_scale(c),
                                         precise=True)
                    drive.group, drive.target, drive.target_name = synapses.index(c.synapse), rt, pop.name
                    self.drives.append(drive)
                    continue
                self.links.append((c.pre, _precise_link(c, dt, B, synapses.index(c.synapse), rt)))
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
                new = _precise_link(conn, self.dt, self.B, link.group, link.target)
                self.links[i] = (pre, new)
                out = self._out[id(self.emitters[pre])]
                out[out.index(link)] = new

    @property
    def timing(self):
        return "precise"

    def make_plan(self, sampled=None):
        """The plan of one run: the grid plan's phases, with events carried at their exact times.

        Sources file their spikes of the block in the targets' queues before the neurons step
        (a source's delay may be < dt); populations integrate a block of steps at once between
        the events; their spikes are filed in the queues of their targets.
        """
        if sampled is None:
            sampled = [(p, b) for p, b in self.buffers.items() if p.kind not in EVENT_KINDS]
        dt, ops = self.dt, []
        for pop, rt in self.pops.items():
            if rt.inputs:
                ops.append(Operation("prepare", f"inputs of {pop.name!r}", _prepare_population(rt, dt)))
        for src, rt in self.sources.items():
            ops.append(Operation("prepare", f"draw the spikes of {src.name!r}", _draw_block(rt)))
        for d in self.drives:  # independent-per-target Poisson drives: counts with exact times
            name = f"the drive of {d.source.name!r} to {d.target_name!r}"
            ops.append(Operation("prepare", f"draw {name}", _draw_drive(d)))
            ops.append(Operation("deliver", f"file {name} at its exact times", _file_drive(d, dt)))
        for src, rt in self.sources.items():
            ops.append(Operation("deliver", f"file the spikes of {src.name!r} at their exact times",
                                 self._send_source(src, rt)))
        for pop, rt in self.pops.items():
            ops.append(Operation("neurons", f"integrate {pop.name!r} ({type(pop.model).__name__}) exactly "
                                 "between events", _step_precise(rt, dt)))
        ops += self._spike_probe_ops()
        filtered = [(p, buf, self.emitters[p.target]) for p, buf in sampled if buf.state is not None]
        for p, buf, _ in filtered:
            ops.append(Operation("synapses", f"advance the filter of {p!r}", _advance_filter(buf)))
        for pop, rt in self.pops.items():
            if self._out[id(rt)]:
                ops.append(Operation("propagate", f"file the spikes of {pop.name!r} at their exact arrival times",
                                     _send_population(rt, self._out[id(rt)])))
        for p, buf, pre in filtered:
            ops.append(Operation("propagate", f"spikes of {p.target.name!r} into the filter of {p!r} (exact times)",
                                 _filter_exact(buf, pre, dt)))
        return Plan("precise", ops + self._record_ops(sampled), block=self._block_steps(sampled))

    def _send_source(self, src, rt):
        out = self._out[id(rt)]

        def send(k, m):
            rt.spiked, rt.times = rt.pending
            if rt.spiked.size:
                self._record_source(src, rt.spiked, rt.times)
                for link in out:
                    link.send(rt.spiked, rt.times, k)
        return send

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


def _draw_drive(d):
    def draw(k, m):  # the block's counts and exact times, per step (prepare phase)
        parts = []
        for j in range(k, m):
            d.prepare(j)
            parts.append(d.events(j))
        d.pending_events = parts[0] if len(parts) == 1 else tuple(np.concatenate(a) for a in zip(*parts))
    return draw


def _file_drive(d, dt):
    def file(k, m):
        tgt, arrival, inc = d.pending_events
        file_events(d.target.queue, tgt, arrival, d.group, inc, dt, k)
    return file


def _check_precise(net):
    """Refuse what precise mode does not handle, with the reason and the way out."""
    for pop in net.populations:
        if not isinstance(pop.model, LIF):
            raise ValueError(f"timing='precise' needs an exact spike-time method, which LIF populations have; "
                             f"{pop.name!r} is a {type(pop.model).__name__}, which has none "
                             f"(use timing='grid' for it)")
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
        if c.plasticity is not None:
            raise ValueError(f"timing='precise' cannot run the STDP of the connection {c.pre.name!r} -> "
                             f"{c.post.name!r}: its events carry the weight they were sent with, and learning "
                             "would need it read at arrival; use timing='grid', whose STDP applies every "
                             "update at the exact spike and arrival times")
        if c.synapse.n > 1:
            raise ValueError(f"timing='precise' handles exponential (n=0) and alpha (n=1) synapses; the connection "
                             f"{c.pre.name!r} -> {c.post.name!r} has {c.synapse!r} (use timing='grid' for n >= 2)")
        if c.pre in net.populations and c.delay_bounds[0] < net.dt * (1 - _DELAY_TOL):
            raise ValueError(f"timing='precise' needs delays >= dt between populations (as NEST does): the "
                             f"connection {c.pre.name!r} -> {c.post.name!r} has delay={c.delay_bounds[0]!r} s "
                             f"< dt={net.dt!r} s")


# ---- the precise plan's own operations (the others are the grid plan's) -----------------------------
def _draw_block(rt):
    def draw(k, m):  # spikes in (k dt, m dt]
        parts = [rt.emit(j) for j in range(k + 1, m + 1)]
        rt.pending = parts[0] if len(parts) == 1 else tuple(np.concatenate(a) for a in zip(*parts))
    return draw


def _step_precise(rt, dt):
    def step(k, m):
        rt.spiked, rt.offsets = rt.step(k, k * dt, m - k)
    return step


def _send_population(rt, out):
    def send(k, m):
        if rt.spiked.size:
            for link in out:
                link.send(rt.spiked, rt.times, m)
    return send


def _filter_exact(buf, pre, dt):
    def add(k, m):
        if pre.spiked.size:
            add_lagged(buf.state, pre.spiked, m * dt - pre.times)
    return add
