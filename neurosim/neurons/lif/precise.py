"""Precise spike timing: LIF neurons whose spike times do not depend on dt.

The idea is NEST's ``iaf_psc_exp_ps`` / ``iaf_psc_alpha_ps`` (Morrison et al.
2007; Hanuschkin et al. 2010). Spikes travel as events with exact times (a
step index and an offset inside the step). Within a step, every neuron is
integrated exactly from one incoming event to the next (closed forms in
:mod:`neurosim.neurons.lif.kernel`). Refractory periods end at their exact
times. Threshold crossings are found by a bracketing search that cannot miss
a crossing, even when v peaks above 1 and falls back inside a step. They are
then refined to 1e-13 s. The step dt only decides how often the loop runs.
Spike times agree across dt to within rounding.

:class:`PreciseLIFState` holds the run state of one population (flattened over
an optional batch axis) and advances it by one step, given the events that
arrive in that step. :func:`precise_feedforward` drives it for a feed-forward
population fed by given spike trains.

Cost: every neuron takes one closed-form update per step. Only neurons with
events in the step, a refractory period ending in it, or a possible crossing
(an upper bound of v reaches 1) go through the event-by-event loop. The loop
is vectorized over those neurons: round r handles the r-th segment of each one.
"""
import numpy as np

from .kernel import MembraneKernel, _sub
from .model import _at, _tiled
from ...synapses.conductance import is_conductance

_BOUND_MARGIN = 1e-12  # a neuron counts as quiet to the step end when its bound is below 1 - this
_NO_EVENTS = (np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0))


class PreciseLIFState:
    """Run state of M LIF neurons with exact in-step event handling.

    Parameters
    ----------
    model : LIF
        Normalized LIF (threshold 1, reset 0); per-neuron tau_m and tau_ref (n,) are repeated for
        the M / n trials (trial-major).
    size : int
        Number of neurons M (a batch of B trials of n neurons is M = B * n, trial-major).
    dt : float
        Step in seconds.
    synapses : list of PSCFilter
        One synapse group per distinct filter; events name their group by position.
        Orders n = 0 and n = 1 only.
    v0 : ndarray (M,), optional
        Initial voltages (default 0).

    Attributes
    ----------
    v : ndarray (M,)
        Voltage at the current step boundary.
    refractory_end : ndarray (M,)
        Absolute time (s) until which each neuron is held at 0.
    x : list of ndarray (n_g + 1, M)
        Synapse stages per group (stage 0 first, the current last), as in :class:`neurosim.PSCState`.
    """

    def __init__(self, model, size, dt, synapses=(), v0=None):
        from ...synapses.delta import Delta

        self.model, self.dt, self.size = model, float(dt), int(size)
        synapses = list(synapses)
        # a Delta synapse has no stages: its events (group index len(PSC groups), so it must come last)
        # jump v at their exact times
        self.delta = None
        if synapses and isinstance(synapses[-1], Delta):
            self.delta = len(synapses) - 1
            synapses = synapses[:-1]
        for syn in synapses:
            if isinstance(syn, Delta):
                raise ValueError("a Delta synapse must be the last of the synapse groups")
        self.tau_ref = _tiled(model.tau_ref, self.size, "tau_ref")  # per neuron: repeated per trial
        for syn in synapses:
            if is_conductance(syn):
                raise ValueError(f"precise timing refuses the conductance synapse {syn!r}: the membrane's time "
                                 "constant then varies between events, so the crossing has no closed form")
            if syn.n > 1:
                raise ValueError(f"precise timing handles exponential (n=0) and alpha (n=1) synapses only, got {syn!r}")
        self.synapses = synapses
        # a per-neuron tau_m (repeated per trial): every closed form and bound with each neuron's own constants
        self.kernel = MembraneKernel(_tiled(model.tau_m, self.size, "tau_m"), [(s.tau_s, s.n) for s in self.synapses])
        self.v = np.zeros(self.size) if v0 is None else np.array(v0, dtype=float).reshape(self.size)
        self.refractory_end = np.full(self.size, -np.inf)
        self.x = [np.zeros((s.n + 1, self.size)) for s in self.synapses]
        self._coef_cache = {}

    def _constants(self, h):
        """Coefficients of the update over a length h shared by every neuron without events (cached)."""
        c = self._coef_cache.get(h)
        if c is not None:
            return c
        k = self.kernel
        if k.per_neuron:  # one value per neuron (M,) of each coefficient
            one = np.full(self.size, float(h))
            tm = k.tau_m
            dm = np.exp(-one / tm)
            coef = []
            for g in k.groups:
                u1 = np.minimum(one, g.peak1)
                c = dict(es=float(np.exp(-h / g.tau_s)), cross=h / g.tau_s, r1=g.r1(one, dm),
                         r1max=g.r1(u1, np.exp(-u1 / tm)))
                if g.n == 1:
                    u2 = np.minimum(one, g.peak2)
                    c.update(r2=g.r2(one, dm), r2max=g.r2(u2, np.exp(-u2 / tm)))
                coef.append(c)
            if len(self._coef_cache) > 8:
                self._coef_cache.clear()
            self._coef_cache[h] = (dm, coef)
            return dm, coef
        one = np.array([h])
        dm = float(np.exp(-h / k.tau_m))
        coef = []
        for g in k.groups:
            em = np.exp(-one / k.tau_m)
            u1 = np.minimum(one, g.peak1)
            c = dict(es=float(np.exp(-h / g.tau_s)), cross=h / g.tau_s, r1=float(g.r1(one, em)[0]),
                     r1max=float(g.r1(u1, np.exp(-u1 / k.tau_m))[0]))
            if g.n == 1:
                u2 = np.minimum(one, g.peak2)
                c.update(r2=float(g.r2(one, em)[0]), r2max=float(g.r2(u2, np.exp(-u2 / k.tau_m))[0]))
            coef.append(c)
        if len(self._coef_cache) > 8:
            self._coef_cache.clear()
        self._coef_cache[h] = (dm, coef)
        return dm, coef

    def step(self, J, t0, events=None, h=None):
        """Advance all neurons from ``t0`` to ``t0 + h`` (default h = dt).

        Parameters
        ----------
        J : ndarray (M,)
            Constant input (bias plus injected current) during the step.
        t0 : float
            Time at the start of the step (s).
        events : tuple (target, offset, group, increment), optional
            Synaptic events arriving in the step: target neuron (int, < M), offset after
            ``t0`` in ``[0, h)`` (s), synapse group (int), and the jump of that group's
            stage 0 (``weight / tau_s``).
        h : float, optional
            Length of this step (s); the runtime passes several grid steps at once when
            nothing needs the state in between.

        Returns
        -------
        indices : ndarray of int
            Neurons that spiked (repeated for each spike), ordered by time.
        times : ndarray
            Exact spike times (s).
        """
        target, offset, group, inc = _NO_EVENTS if events is None else events
        all_events = (target, offset, group, inc)
        jumps = None
        if self.delta is not None and target.size:
            isd = group == self.delta
            if isd.any():  # the jumps: (targets, increments, lags); the rest go to the PSC stages
                jumps = (target[isd], inc[isd], (self.dt if h is None else h) - offset[isd])
                keep = ~isd
                target, offset, group, inc = target[keep], offset[keep], group[keep], inc[keep]
        h = self.dt if h is None else h
        t1 = t0 + h
        dm, coef = self._constants(h)
        v, ref = self.v, self.refractory_end
        # 1. every neuron as if it received nothing and stayed below threshold: v at the end of the
        #    step, and an upper bound of v over the step
        vJ = v - J
        a = vJ * dm
        ub = np.maximum(vJ, a)
        ub += J
        vnew = a
        vnew += J
        for x, c, g in zip(self.x, coef, self.kernel.groups):
            cur = x[-1]
            vnew += cur * c["r1"]
            ub += np.maximum(cur, 0.0) * c["r1max"]
            if g.n == 1:
                vnew += x[0] * c["r2"]
                ub += np.maximum(x[0], 0.0) * c["r2max"]
        # 2. the events, by superposition (exact while no spike intervenes): each adds its response to
        #    v at the step end, and its peak response to the bound
        pending = []
        by_group = []  # (group, targets, increments, lags) of the events, split once
        if target.size:
            kernel = self.kernel
            G = len(kernel.groups)
            cuts = None
            if G > 1 and (group[1:] >= group[:-1]).all():  # grouped already (the runtime files them so): slices
                cuts = np.searchsorted(group, np.arange(G + 1)).tolist()
            for gi, g in enumerate(kernel.groups):
                if G == 1:
                    sel = slice(None)
                elif cuts is not None:
                    sel = slice(cuts[gi], cuts[gi + 1])
                else:
                    sel = (group == gi).nonzero()[0]
                tg, w, lag = target[sel], inc[sel], h - offset[sel]
                if tg.size == 0:
                    continue
                by_group.append((gi, tg, w, lag))
                ti = tg if kernel.per_neuron else None  # per-neuron tau_m: the targets' constants
                tm = kernel.tm(ti)
                em = np.exp(-lag / tm)
                resp = g.r1 if g.n == 0 else g.r2
                r = resp(lag, em, ti)
                tpeak = g.peak(ti, 1 if g.n == 0 else 2)
                if np.any(h > tpeak):  # some responses peak inside the step (lags never exceed h)
                    peak = np.minimum(lag, tpeak)
                    rp = resp(peak, np.exp(-peak / tm), ti)
                else:  # every response still rises at the step end: its peak over the step is r
                    rp = r
                wp = np.maximum(w, 0.0)
                np.add.at(vnew, tg, w * r)
                np.add.at(ub, tg, wp * rp)
                pending.append((gi, tg, wp, lag))
        if jumps is not None:  # a jump w at lag before the step end: w e^(-lag/tau_m) at the end, w at its peak
            tg, w, lag = jumps
            # arrivals while refractory (up to the period's end, as on NEST's grid) are discarded; neurons whose
            # period ends inside the step go through the exact loop, which checks each arrival itself
            ok = ref[tg] < t1 - lag - 1e-9 * self.dt
            tg, w, lag = tg[ok], w[ok], lag[ok]
            wp = np.maximum(w, 0.0)
            np.add.at(vnew, tg, w * np.exp(-lag / self.kernel.tm(tg if self.kernel.per_neuron else None)))
            np.add.at(ub, tg, wp)
            pending.append((self.delta, tg, wp, lag))
        # 3. neurons that need the event-by-event loop: a possible crossing, or a refractory end inside
        special = (ub >= 1.0).nonzero()[0]
        if special.size:
            special = special[~self._no_interior_peak(special, v, vnew, J, h, pending)]
        refr = (ref > t0).nonzero()[0]
        if refr.size:
            mask = np.zeros(self.size, dtype=bool)  # the sorted union, without union1d's sort
            mask[special] = True
            mask[refr] = True
            special = mask.nonzero()[0]
            special = special[ref[special] < t1]  # held at 0 all step: only their synapses change
        if special.size:
            saved = (v[special], J[special], ref[special] - t0, [x[:, special] for x in self.x])
        # 4. commit: v, refractory neurons at 0, stages decayed plus each event with its exact lag
        v[...] = vnew
        v[refr] = 0.0
        for x, c in zip(self.x, coef):
            if x.shape[0] == 2:
                x[1] += x[0] * c["cross"]
            x *= c["es"]
        for gi, tg, w, lag in by_group:
            lag = lag / self.synapses[gi].tau_s
            x, w = self.x[gi], w * np.exp(-lag)
            np.add.at(x[0], tg, w)
            if x.shape[0] == 2:
                np.add.at(x[1], tg, w * lag)
        if special.size == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        # 5. the exact loop over the events of the special neurons, from their state at t0
        local = np.full(self.size, -1, dtype=np.int64)  # neuron -> position in `special`
        local[special] = np.arange(special.size)
        target, offset, group, inc = all_events
        pos = local[target]
        mine = pos >= 0
        ev = (pos[mine], offset[mine], group[mine], inc[mine])
        sv, sref, idx, times = self._event_loop(*saved, ev, h, _at(self.tau_ref, special), special)
        v[special] = sv
        ref[special] = sref + t0
        return special[idx], times + t0

    def _no_interior_peak(self, cand, v, vend, J, h, pending):
        """Candidates that cannot cross after all: below 1 at both ends, and J + an upper bound of the
        synaptic current (their events included) below 1, so no interior maximum reaches 1."""
        kernel = self.kernel
        high = J[cand] + kernel.current_upper_bound([x[:, cand] for x in self.x], h)
        if pending:
            extra = np.zeros(self.size)
            for gi, tg, wp, lag in pending:
                if gi == self.delta:  # a positive jump can lift v over 1 whatever the current: no bound here
                    np.add.at(extra, tg, np.where(wp > 0, np.inf, 0.0))
                    continue
                g = kernel.groups[gi]
                if g.n == 0:
                    np.add.at(extra, tg, wp)  # the current jumps by the stage-0 increment
                else:
                    us = np.minimum(lag, g.tau_s)  # alpha current of a jump peaks tau_s after it
                    np.add.at(extra, tg, wp * (us / g.tau_s) * np.exp(-us / g.tau_s))
            high += extra[cand]
        return (v[cand] < 1.0) & (vend[cand] < 1.0) & (high < 1.0)

    def _event_loop(self, v, J, ref, xs, events, h, tau_ref, neurons):
        """Integrate the given neurons through their events, refractory ends and spikes of one step.

        All times are relative to the step start. Round r advances every unfinished neuron to its
        next stop: its next event, the end of its refractory period, a threshold crossing, or h.
        A neuron is finished early when it stays refractory to the end, or when an upper bound of v
        over the rest of the step, all its remaining events included, is below 1: then v(h) is the
        superposition of its free evolution and the responses to those events.

        Returns
        -------
        v, ref : ndarray (m,)
            Voltage at h and refractory end (relative) per neuron.
        idx, times : ndarray
            Local indices and relative times of the spikes, ordered by time.
        """
        kernel = self.kernel  # tau_ref: a number, or one per neuron of this call (m,)
        # neurons (m,): the state's indices of these neurons, for a per-neuron tau_m's constants
        gid = neurons if kernel.per_neuron else None
        loc, off, grp, inc = events
        order = np.lexsort((off, loc))
        loc, off, grp, inc = loc[order], off[order], grp[order], inc[order]
        m, E = v.size, loc.size
        count = np.bincount(loc, minlength=m)
        start = np.cumsum(count) - count
        tail_v, tail_ub, tail_i = self._event_tails(loc, off, grp, inc, h, start + count, _sub(gid, loc))
        tau = np.zeros(m)
        ptr = np.zeros(m, dtype=np.int64)
        v = v.copy()
        spk_i, spk_t = [], []
        act = np.arange(m)
        first = True  # the step's own bounds already failed for these neurons at the start
        while act.size:
            has = ptr[act] < count[act]
            e = np.where(has, start[act] + ptr[act], E)  # E: the empty tail
            ta, ra = tau[act], ref[act]
            refr = ra > ta
            anyr = bool(refr.any())  # usually False: skip the refractory masks then
            va, Ja = v[act], J[act]
            xa = [x[:, act] for x in xs]
            # finished: refractory to the end, or no crossing possible in the rest of the step
            if first:
                quiet = done = np.zeros(act.size, dtype=bool)
                first = False
            else:
                rest = h - ta
                v_end, ub_rest = kernel.voltage_and_upper_bound(va, Ja, xa, rest, _sub(gid, act))
                v_end += tail_v[e]
                quiet = ub_rest + tail_ub[e] < 1.0 - _BOUND_MARGIN
                # or: below 1 at both ends and no interior maximum can reach 1
                quiet |= (va < 1.0) & (v_end < 1.0 - _BOUND_MARGIN) & (
                    Ja + kernel.current_upper_bound(xa, rest) + tail_i[e] < 1.0 - _BOUND_MARGIN)
                if anyr:
                    quiet &= ~refr
                    done = (refr & (ra >= h)) | quiet
                else:
                    done = quiet
            if done.any():
                d = act[done]
                v[d] = 0.0
                if quiet.any():
                    q = quiet.nonzero()[0]
                    v[act[q]] = v_end[q]
                keep = ~done
                act, has, e, ta, ra, refr, va, Ja = (a[keep] for a in (act, has, e, ta, ra, refr, va, Ja))
                xa = [x[:, keep] for x in xa]
                if act.size == 0:
                    break
            nxt = np.where(has, off[np.minimum(e, E - 1)] if E else h, h)
            stop = np.where(refr, np.minimum(nxt, ra), nxt) if anyr else nxt
            L = stop - ta
            u = np.full(act.size, np.nan)
            integ = (~refr).nonzero()[0] if anyr else np.arange(act.size)
            if integ.size:
                if integ.size == act.size:  # the common case: nobody refractory, no copies
                    vL, ub = kernel.voltage_and_upper_bound(va, Ja, xa, L, _sub(gid, act))
                else:
                    vL, ub = kernel.voltage_and_upper_bound(va[integ], Ja[integ], [x[:, integ] for x in xa], L[integ],
                                                            _sub(gid, act[integ]))
                hit = (ub >= 1.0).nonzero()[0]
                if hit.size:
                    cand = integ[hit]
                    u[cand] = kernel.first_crossing(va[cand], Ja[cand], [x[:, cand] for x in xa], L[cand], ub[hit],
                                                    vL[hit], _sub(gid, act[cand]))
            crossed = ~np.isnan(u)
            adv = np.where(crossed, u, L)
            vn, xn = kernel.evolve(va, Ja, xa, adv, _sub(gid, act))
            vn[(refr | crossed) if anyr else crossed] = 0.0
            v[act] = vn
            for x, y in zip(xs, xn):
                x[:, act] = y
            tau[act] = np.where(crossed, ta + adv, stop)
            if crossed.any():
                c = act[crossed]
                spk_i.append(c)
                spk_t.append(tau[c])
                ref[c] = tau[c] + _at(tau_ref, c)
            apply = has & ~crossed & (nxt <= stop)
            if apply.any():
                a, ea = act[apply], e[apply]
                ga = grp[ea]
                for gi, x in enumerate(xs):
                    sel = ga == gi
                    x[0, a[sel]] += inc[ea[sel]]  # one event per neuron per round: no repeated indices
                if self.delta is not None:
                    sel = (ga == self.delta).nonzero()[0]
                    if sel.size:
                        # a jump at ta: discarded while refractory (ta <= the period's end, as on NEST's grid),
                        # else added to v; reaching 1 fires at ta
                        aj, ta_j = a[sel], off[ea[sel]]
                        free = ref[aj] < ta_j - 1e-9 * self.dt  # an arrival at the end (up to rounding) too
                        aj, ta_j = aj[free], ta_j[free]
                        v[aj] += inc[ea[sel][free]]
                        fire = v[aj] >= 1.0
                        if fire.any():
                            c, tc = aj[fire], ta_j[fire]
                            v[c] = 0.0
                            ref[c] = tc + _at(tau_ref, c)
                            spk_i.append(c)
                            spk_t.append(tc)
                ptr[a] += 1
            # a neuron refractory past the step end is done (its later events only move its stages)
            act = act[((tau[act] < h) | (ptr[act] < count[act])) & (ref[act] < h)]
        if not spk_i:
            return v, ref, np.zeros(0, dtype=np.int64), np.zeros(0)
        idx, times = np.concatenate(spk_i), np.concatenate(spk_t)
        o = np.argsort(times, kind="stable")
        return v, ref, idx[o], times[o]

    def _event_tails(self, loc, off, grp, inc, h, ends, neurons=None):
        """Per sorted event e: the sums over the events from e to the end of its neuron's list of
        (a) their responses in v at h, (b) their peak responses in v and (c) the peaks of their
        currents (both for bounds). Index E (past the last event) holds 0."""
        kernel = self.kernel
        resp, peak, cur = np.zeros(loc.size + 1), np.zeros(loc.size + 1), np.zeros(loc.size + 1)
        lag = h - off
        up = np.zeros(loc.size + 1)  # positive jumps (Delta): no bound on the current can exclude a crossing
        if self.delta is not None:
            sel = (grp == self.delta).nonzero()[0]
            resp[sel] = inc[sel] * np.exp(-lag[sel] / kernel.tm(_sub(neurons, sel)))
            peak[sel] = np.maximum(inc[sel], 0.0)
            up[sel] = inc[sel] > 0
        for gi, g in enumerate(kernel.groups):
            sel = (grp == gi).nonzero()[0] if len(kernel.groups) > 1 or self.delta is not None else slice(0, loc.size)
            lg = lag[sel]
            ni = _sub(neurons, sel)  # per-neuron tau_m: the event targets' constants
            tm = kernel.tm(ni)
            r = g.r1 if g.n == 0 else g.r2
            tpeak = g.peak(ni, 1 if g.n == 0 else 2)
            rl = r(lg, np.exp(-lg / tm), ni)
            resp[sel] = inc[sel] * rl
            if np.any(h > tpeak):
                lp = np.minimum(lg, tpeak)
                rl = r(lp, np.exp(-lp / tm), ni)
            peak[sel] = np.maximum(inc[sel], 0.0) * rl  # when h <= the peak time, each response peaks at h
            us = np.minimum(lg, g.tau_s)
            cur[sel] = np.maximum(inc[sel], 0.0) * (1.0 if g.n == 0 else (us / g.tau_s) * np.exp(-us / g.tau_s))
        out = []
        for a in (resp, peak, cur, up):
            c = np.cumsum(a[::-1])[::-1]  # c[e] = sum of a[e:]; c[E] = 0
            c[:-1] -= c[ends[loc]]  # minus what follows the neuron's last event
            out.append(c)
        out[2][out[3] > 0.5] = np.inf  # counts are exact in float: a positive jump remains
        return out[:3]
