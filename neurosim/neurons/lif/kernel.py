"""Exact LIF membrane with exponential and alpha PSC currents between input events (precise timing).

Normalized LIF (as everywhere in neurosim)::

    tau_m dv/dt = J + s(t) - v,     spike when v reaches 1, then v = 0 for tau_ref,

with s the sum of the synaptic currents. Each synapse group (one PSC filter,
:class:`neurosim.PSCFilter`) keeps the cascade stages of :class:`neurosim.PSCState`:
stage 0 jumps by ``w / tau_s`` per spike of weight w, and the last stage is the
current (n = 0: one stage; n = 1, alpha: two). Between events everything is
linear, so from a state ``(v, x)`` at time 0 the state at time u is

    v(u) = J + (v - J) e^(-u/tau_m) + sum_g [ x_cur R1(u) + x_0 R2(u) (alpha only) ],

where R1 is the membrane response to a unit exponential current and R2 the
response to the alpha stage (``x0 (u/tau_s) e^(-u/tau_s)``):

    R1(u) = (u/tau_m) e^(-u/tau_m) E1(u d),          E1(z) = (e^z - 1)/z,
    R2(u) = u^2/(tau_m tau_s) e^(-u/tau_m) E2(u d),  E2(z) = (z e^z - e^z + 1)/z^2,

with ``d = 1/tau_m - 1/tau_s``. Written this way, tau_s = tau_m (d = 0: E1 = 1,
E2 = 1/2) and nearly equal time constants need no special case: E1, E2 use
series near 0 and never cancel.

Threshold crossings are located without missing any: an upper bound of v over
an interval (the sum of the maxima of the terms above, each of which has a
known shape) excludes intervals where v cannot reach 1; an interval where v
ends at or above 1 and the lower bound of dv/dt is positive holds exactly one
crossing, refined by safeguarded Halley steps; any other interval is split (earliest
first), so a v that peaks above 1 and falls back inside a step is found too.
"""
import math

import numpy as np

from ...errors import SimulationError

ROOT_TOL = 1e-13  # s: the refinement stops when its step is below this (the contract is 1e-12 s)
_SPLIT = 8  # sub-intervals per split in the crossing search
_MIN_PIECE = 1e-14  # s: an interval this short that is still undecided touches 1 within rounding
_MAX_ROUNDS = 2000


_E2_SERIES = [1.0 / (math.factorial(k) * (k + 2)) for k in range(16)]


def _e2_series(z):
    """sum z^k / (k! (k+2)) = (z e^z - e^z + 1)/z^2 for |z| < 0.5, with as many terms as max |z| needs."""
    zmax = float(np.abs(z).max()) if z.size else 0.0
    terms = next((k for k in range(1, len(_E2_SERIES)) if zmax ** k / math.factorial(k) < 1e-17), len(_E2_SERIES))
    acc = np.full_like(z, _E2_SERIES[terms - 1])
    for c in reversed(_E2_SERIES[:terms - 1]):
        acc = acc * z + c
    return acc


class SynapseShape:
    """Constants of one PSC group (tau_s, order n in {0, 1}) seen by a membrane with tau_m.

    ``tau_m`` is a number, or one value per neuron (M,): then ``d``, ``peak1`` and ``peak2`` are per
    neuron too, and :meth:`r1`, :meth:`r2` take ``idx``, the neurons (any shape, broadcast with u) whose
    constants apply.
    """

    def __init__(self, tau_s, n, tau_m):
        if n not in (0, 1):
            raise ValueError(f"precise timing handles PSC order n = 0 (exponential) or 1 (alpha), got n = {n}")
        self.tau_s, self.n = float(tau_s), int(n)
        self.per_neuron = isinstance(tau_m, np.ndarray)
        if not self.per_neuron:
            tau_m = float(tau_m)
            self.tau_m = tau_m
            self.d = 1.0 / tau_m - 1.0 / tau_s
            self._inv_md = 1.0 / (tau_m * self.d) if self.d != 0.0 else None
            # peak time of R1 (membrane response to a decaying exponential current)
            if abs(tau_m - tau_s) <= 1e-12 * tau_m:
                self.peak1 = tau_m
            else:
                self.peak1 = tau_m * tau_s * math.log(tau_m / tau_s) / (tau_m - tau_s)
            self.peak2 = self._find_peak2() if n == 1 else None
            return
        tau_m = np.asarray(tau_m, dtype=float)
        self.tau_m = tau_m
        self.d = 1.0 / tau_m - 1.0 / tau_s
        with np.errstate(divide="ignore"):
            self._inv_md = np.where(self.d != 0.0, 1.0 / (tau_m * self.d), np.inf)
        near = np.abs(tau_m - tau_s) <= 1e-12 * tau_m
        with np.errstate(divide="ignore", invalid="ignore"):
            self.peak1 = np.where(near, tau_m, tau_m * tau_s * np.log(tau_m / tau_s) / (tau_m - tau_s))
        self.peak2 = self._find_peak2_per_neuron() if n == 1 else None

    def params(self, idx):
        """``(tau_m, d, 1/(tau_m d))`` of the neurons ``idx`` (the numbers themselves when not per neuron)."""
        if not self.per_neuron:
            return self.tau_m, self.d, self._inv_md
        if idx is None:
            return self.tau_m, self.d, self._inv_md
        return self.tau_m[idx], self.d[idx], self._inv_md[idx]

    def peak(self, idx=None, which=1):
        """Peak time of R1 (``which=1``) or R2 (2) for the neurons ``idx``."""
        p = self.peak1 if which == 1 else self.peak2
        return p[idx] if self.per_neuron and idx is not None else p

    def r1(self, u, em, idx=None):
        """Membrane response at u to a unit current that decays with tau_s (``em = exp(-u/tau_m)``).

        ``(u/tau_m) em E1(u d) = em expm1(u d) / (tau_m d)``: expm1 keeps every digit for small u d;
        for u d > 1 the equal ``(e^(-u/tau_s) - em) / (tau_m d)`` cannot overflow.
        """
        if self.per_neuron:
            return self._r1_per_neuron(u, em, idx)
        if self.d == 0.0:
            return (u / self.tau_m) * em
        z = u * self.d
        if self.d < 0:
            return em * np.expm1(z) * self._inv_md
        big = z > 1.0
        out = em * np.expm1(np.minimum(z, 1.0))
        if big.any():
            out = np.where(big, np.exp(-u / self.tau_s) - em, out)
        return out * self._inv_md

    def _r1_per_neuron(self, u, em, idx):
        tm, d, inv_md = self.params(idx)
        z = u * d
        with np.errstate(invalid="ignore", over="ignore"):
            out = em * np.expm1(np.minimum(z, 1.0))
            big = z > 1.0
            if np.any(big):
                out = np.where(big, np.exp(-u / self.tau_s) - em, out)
            out = out * inv_md
            zero = d == 0.0
            if np.any(zero):
                out = np.where(zero, (u / tm) * em, out)
        return out

    def r2(self, u, em, idx=None):
        """Membrane response at u to a unit alpha stage 0 (current ``(u/tau_s) e^(-u/tau_s)``).

        ``u^2/(tau_m tau_s) em E2(u d)``: the series of E2 for |u d| < 0.5, else the closed form
        ``(z e^(-u/tau_s) - e^(-u/tau_s) + em) / (tau_m tau_s d^2)`` (z = u d; no overflow, little cancellation).
        """
        tm, d, _ = self.params(idx)
        z = u * d
        small = np.abs(z) < 0.5
        if np.all(small):
            return (u * u / (tm * self.tau_s)) * em * _e2_series(np.asarray(z, dtype=float))
        es = np.exp(-u / self.tau_s)
        with np.errstate(divide="ignore", invalid="ignore"):
            big = (z * es - es + em) / (tm * self.tau_s * d * d)
        if not np.any(small):
            return big
        zs = np.where(small, z, 0.0)
        return np.where(small, (u * u / (tm * self.tau_s)) * em * _e2_series(zs), big)

    def _find_peak2(self):
        # R2 rises while its current (u/tau_s) e^(-u/tau_s) exceeds it; the peak is after the current's (tau_s)
        from scipy.optimize import brentq

        def slope(u):
            u = np.array([u])
            return float(((u / self.tau_s) * np.exp(-u / self.tau_s) - self.r2(u, np.exp(-u / self.tau_m)))[0])

        lo, hi = self.tau_s, 2.0 * (self.tau_s + self.tau_m)
        while slope(hi) > 0:
            hi *= 2.0
        return brentq(slope, lo, hi, xtol=1e-15, rtol=1e-14)

    def _find_peak2_per_neuron(self):
        """:meth:`_find_peak2` for every neuron at once: the same bracket, bisected to 1e-15 s (vectorized)."""
        tm = self.tau_m

        def slope(u):
            return (u / self.tau_s) * np.exp(-u / self.tau_s) - self.r2(u, np.exp(-u / tm))

        lo, hi = np.full(tm.shape, self.tau_s), 2.0 * (self.tau_s + tm)
        for _ in range(64):  # the bracket's upper end, doubled where R2 still rises
            up = slope(hi) > 0
            if not up.any():
                break
            hi = np.where(up, 2.0 * hi, hi)
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            rising = slope(mid) > 0
            lo, hi = np.where(rising, mid, lo), np.where(rising, hi, mid)
            if np.all(hi - lo <= np.maximum(1e-15, 1e-14 * hi)):
                break
        return 0.5 * (lo + hi)


class MembraneKernel:
    """Closed-form evolution, bounds and crossing search for LIF neurons with PSC groups.

    Parameters
    ----------
    tau_m : float or ndarray (M,)
        Membrane time constant (s), or one per neuron.
    synapses : list of (tau_s, n)
        One entry per synapse group, in the order of the state arrays.

    State layout used by every method: ``v`` and ``J`` arrays of one shape, and
    ``xs``, a list with one array of shape ``(n_g + 1,) + v.shape`` per group
    (stage 0 first, the current last), as in :class:`neurosim.PSCState`. With a
    per-neuron tau_m every method takes ``idx``: the neurons (indices into the M, the
    shape of v) the arrays belong to; None means all M in order.
    """

    def __init__(self, tau_m, synapses):
        self.per_neuron = isinstance(tau_m, np.ndarray)
        self.tau_m = np.asarray(tau_m, dtype=float) if self.per_neuron else float(tau_m)
        self.groups = [SynapseShape(tau, n, self.tau_m) for tau, n in synapses]

    def tm(self, idx=None):
        """tau_m of the neurons ``idx`` (the number when it is not per neuron)."""
        return self.tau_m[idx] if self.per_neuron and idx is not None else self.tau_m

    # ---- evolution -----------------------------------------------------------------
    def evolve(self, v, J, xs, u, idx=None):
        """State after ``u`` seconds (arrays broadcast with ``u``), no events in between."""
        em = np.exp(-u / self.tm(idx))
        vn = J + (v - J) * em
        new = []
        for g, x in zip(self.groups, xs):
            es = np.exp(-u / g.tau_s)
            vn = vn + x[-1] * g.r1(u, em, idx)
            if g.n == 0:
                new.append((x[0] * es)[None])
            else:
                vn = vn + x[0] * g.r2(u, em, idx)
                new.append(np.stack([x[0] * es, (x[1] + x[0] * (u / g.tau_s)) * es]))
        return vn, new

    def voltage(self, v, J, xs, u, idx=None):
        """v(u) only (cheaper than :meth:`evolve`)."""
        em = np.exp(-u / self.tm(idx))
        vn = J + (v - J) * em
        for g, x in zip(self.groups, xs):
            vn = vn + x[-1] * g.r1(u, em, idx)
            if g.n == 1:
                vn = vn + x[0] * g.r2(u, em, idx)
        return vn

    def voltage_and_current(self, v, J, xs, u, idx=None):
        """v(u) and the synaptic current at u, sharing the exponentials."""
        em = np.exp(-u / self.tm(idx))
        vn = J + (v - J) * em
        cur = 0.0
        for g, x in zip(self.groups, xs):
            es = np.exp(-u / g.tau_s)
            vn = vn + x[-1] * g.r1(u, em, idx)
            if g.n == 0:
                cur = cur + x[0] * es
            else:
                vn = vn + x[0] * g.r2(u, em, idx)
                cur = cur + (x[1] + x[0] * (u / g.tau_s)) * es
        return vn, cur

    # ---- bounds over [0, h] ----------------------------------------------------------
    def upper_bound(self, v, J, xs, h, idx=None):
        """An upper bound of v over [0, h]: the sum of the maxima of the terms of v(u)."""
        return self._bound(v, J, xs, h, np.maximum, idx=idx)

    def lower_bound(self, v, J, xs, h, idx=None):
        """A lower bound of v over [0, h]: the sum of the minima of the terms of v(u)."""
        return self._bound(v, J, xs, h, np.minimum, idx=idx)

    def _bound(self, v, J, xs, h, pick, em=None, r1=None, idx=None):
        """Sum over the terms of v(u) of each term's extreme (``pick`` = np.maximum or np.minimum).

        ``em = exp(-h/tau_m)`` and ``r1`` (per group, R1 at h) may be passed when the caller has them.
        """
        vJ = v - J
        tm = self.tm(idx)
        if em is None:
            em = np.exp(-h / tm)
        bound = J + pick(vJ, vJ * em)
        hmax = np.max(h) if np.size(h) else 0.0
        for gi, (g, x) in enumerate(zip(self.groups, xs)):
            # R1, R2 are 0 at u = 0 and rise to their peaks: the extreme is 0 or the coefficient times the peak
            peak1 = g.peak(idx, 1)
            if np.all(hmax <= peak1):  # still rising at h: the peak over [0, h] is at h
                r = r1[gi] if r1 is not None else g.r1(h, em, idx)
            else:
                u1 = np.minimum(h, peak1)
                r = g.r1(u1, np.exp(-u1 / tm), idx)
            bound = bound + pick(x[-1], 0.0) * r
            if g.n == 1:
                u2 = np.minimum(h, g.peak(idx, 2))
                bound = bound + pick(x[0], 0.0) * g.r2(u2, np.exp(-u2 / tm), idx)
        return bound

    def voltage_and_upper_bound(self, v, J, xs, u, idx=None):
        """:meth:`voltage` at u and :meth:`upper_bound` over [0, u], sharing the exponentials."""
        em = np.exp(-u / self.tm(idx))
        vn = J + (v - J) * em
        r1 = []
        for g, x in zip(self.groups, xs):
            r = g.r1(u, em, idx)
            r1.append(r)
            vn = vn + x[-1] * r
            if g.n == 1:
                vn = vn + x[0] * g.r2(u, em, idx)
        return vn, self._bound(v, J, xs, u, np.maximum, em, r1, idx)

    def current_upper_bound(self, xs, h):
        """An upper bound of the synaptic current over [0, h].

        At an interior maximum of v, dv/dt = 0 gives v = J + current: so where v < 1 at both ends and
        J + this bound < 1, v stays below 1 in between, however loose :meth:`upper_bound` is.
        """
        high = 0.0
        for g, x in zip(self.groups, xs):
            cur = x[-1]
            high = high + np.where(cur > 0, cur, cur * np.exp(-h / g.tau_s))
            if g.n == 1:
                us = np.minimum(h, g.tau_s)
                high = high + np.maximum(x[0], 0.0) * (us / g.tau_s) * np.exp(-us / g.tau_s)
        return high

    def current_lower_bound(self, xs, h):
        """A lower bound of the synaptic current over [0, h]."""
        low = 0.0
        for g, x in zip(self.groups, xs):
            es = np.exp(-h / g.tau_s)
            cur = x[-1]
            low = low + np.where(cur > 0, cur * es, cur)  # a decaying term's minimum is at an end
            if g.n == 1:
                us = np.minimum(h, g.tau_s)  # (u/tau_s) e^(-u/tau_s) is 0 at 0 and rises to tau_s
                low = low + np.minimum(x[0], 0.0) * (us / g.tau_s) * np.exp(-us / g.tau_s)
        return low

    # ---- crossing search ---------------------------------------------------------------
    def first_crossing(self, v, J, xs, L, ub=None, vb=None, idx=None):
        """Time of the first threshold crossing (v = 1) in [0, L] for each neuron; NaN where none.

        Parameters
        ----------
        v, J : ndarray (c,)
            Voltage at the start of the interval and constant input.
        xs : list of ndarray (n_g + 1, c)
            Synapse stages at the start.
        L : ndarray (c,)
            Interval lengths (s).
        ub : ndarray (c,), optional
            :meth:`upper_bound` over [0, L] when the caller has it.
        vb : ndarray (c,), optional
            :meth:`voltage` at L when the caller has it.
        idx : ndarray of int (c,), optional
            The neurons (with a per-neuron tau_m).

        Returns
        -------
        ndarray (c,)
            Crossing times after the start (s), refined to :data:`ROOT_TOL`; 0 where v >= 1 already.
        """
        if not self.per_neuron:
            idx = None
        elif idx is None:
            idx = np.arange(v.size)
        out = np.where(v >= 1.0, 0.0, np.nan)
        if vb is None:
            vb = self.voltage(v, J, xs, L, idx)
        keep, resolved = self._classify(v, J, xs, L, vb, ub, idx)
        keep &= v < 1.0
        resolved &= keep
        if resolved.any():  # the common case: one rising crossing in the whole interval
            r = resolved.nonzero()[0]
            out[r] = self._refine(v[r], J[r], [x[:, r] for x in xs], L[r], vb[r], _sub(idx, r))
        pid = (keep & ~resolved).nonzero()[0]
        if pid.size == 0:
            return out
        # the rest: pieces (owner, start offset a, length h, state at a, v at the end), split earliest first
        pv, pJ, px, ph, pvb = v[pid], J[pid], [x[:, pid] for x in xs], L[pid], vb[pid]
        pa = np.zeros(pid.size)
        resolved = np.zeros(pid.size, dtype=bool)
        sel = slice(None)
        brackets = []  # (owner, a, h, v, J, xs, vb) of resolved first pieces
        for _ in range(_MAX_ROUNDS):  # each round splits the earliest undecided piece of every owner
            pid, pa, ph, pv, pJ, pvb, resolved = (a[sel] for a in (pid, pa, ph, pv, pJ, pvb, resolved))
            px = [x[:, sel] for x in px]
            if pid.size == 0:
                break
            # pieces are kept sorted by (owner, start): the first of each owner decides
            first = np.ones(pid.size, dtype=bool)
            first[1:] = pid[1:] != pid[:-1]
            done = first & resolved
            if done.any():
                brackets.append((pid[done], pa[done], ph[done], pv[done], pJ[done],
                                 [x[:, done] for x in px], pvb[done]))
                finished = np.isin(pid, pid[done])
            else:
                finished = np.zeros(pid.size, dtype=bool)
            split = first & ~resolved & ~finished
            rest = ~finished & ~split
            if not split.any():
                sel = rest
                continue
            sp_id, sp_a, sp_h = pid[split], pa[split], ph[split] / _SPLIT
            k = np.arange(_SPLIT + 1)
            u = sp_h[:, None] * k[None, :]  # (s, K+1) points inside each split piece
            sx = [x[:, split][:, :, None] for x in px]
            vp, xp = self.evolve(pv[split][:, None], pJ[split][:, None], sx, u,
                                 None if idx is None else idx[sp_id][:, None])
            # sub-piece j runs from point j to point j + 1
            nv = vp[:, :-1].ravel()
            nvb = vp[:, 1:].ravel()
            nx = [x[:, :, :-1].reshape(x.shape[0], -1) for x in xp]
            nJ = np.repeat(pJ[split], _SPLIT)
            nh = np.repeat(sp_h, _SPLIT)
            nid = np.repeat(sp_id, _SPLIT)
            na = (sp_a[:, None] + u[:, :-1]).ravel()
            nkeep, nres = self._classify(nv, nJ, nx, nh, nvb, None, _sub(idx, nid))
            tiny = nkeep & ~nres & (nh < _MIN_PIECE)
            if tiny.any():  # undecidable within rounding: a touch of the threshold counts if v(end) >= 1
                nres = nres | (tiny & (nvb >= 1.0))
                nkeep = nkeep & (nres | ~tiny)
            # merge: the untouched pieces and the new ones, sorted by (owner, start)
            pid = np.concatenate([pid[rest], nid[nkeep]])
            pa = np.concatenate([pa[rest], na[nkeep]])
            ph = np.concatenate([ph[rest], nh[nkeep]])
            pv = np.concatenate([pv[rest], nv[nkeep]])
            pJ = np.concatenate([pJ[rest], nJ[nkeep]])
            pvb = np.concatenate([pvb[rest], nvb[nkeep]])
            resolved = np.concatenate([resolved[rest], nres[nkeep]])
            px = [np.concatenate([x[:, rest], y[:, nkeep]], axis=1) for x, y in zip(px, nx)]
            sel = np.lexsort((pa, pid))
        else:  # pragma: no cover - near a maximum the bounds tighten as h^2, so a few rounds suffice
            raise SimulationError(f"precise threshold search undecided after {_MAX_ROUNDS} rounds for "
                                  f"{np.unique(pid).size} neurons (v grazing the threshold); use timing='grid'")
        for bid, ba, bh, bv, bJ, bx, bvb in brackets:
            out[bid] = ba + self._refine(bv, bJ, bx, bh, bvb, _sub(idx, bid))
        return out

    def _classify(self, v, J, xs, h, vb, ub=None, idx=None):
        """(keep, resolved): keep = v may reach 1 in the piece; resolved = exactly one rising crossing."""
        if ub is None:
            ub = self.upper_bound(v, J, xs, h, idx)
        tm = self.tm(idx)
        keep = (ub >= 1.0) | (vb >= 1.0)
        low_i = self.current_lower_bound(xs, h)
        # the tests below only drop pieces below 1 at both ends: skip them when there are none
        if (keep & (v < 1.0) & (vb < 1.0)).any():
            high_i = self.current_upper_bound(xs, h)
            # no interior maximum can reach 1: v = J + I there (see current_upper_bound) ...
            below = J + high_i < 1.0
            # ... or two lines through the ends with the extreme slopes stay below 1. Near a maximum
            # the slopes are small, so this bound tightens as h^2 where the sum of maxima only does as h.
            up = np.maximum((J + high_i - self.lower_bound(v, J, xs, h, idx)) / tm, 0.0)  # max dv/dt
            down = np.maximum((ub - J - low_i) / tm, 0.0)  # max -dv/dt
            with np.errstate(invalid="ignore", divide="ignore"):
                t = np.clip((vb - v + h * down) / (up + down), 0.0, h)
            two_lines = np.where(up + down > 0, v + t * up, np.maximum(v, vb))
            below |= two_lines < 1.0
            keep &= ~((v < 1.0) & (vb < 1.0) & below)
        rising = J + low_i - ub > 0  # tau_m dv/dt > 0 on the whole piece
        return keep, keep & (vb >= 1.0) & rising

    def _refine(self, v, J, xs, h, vb, gidx=None):
        """Root of v(u) = 1 in [0, h] where v rises monotonically from v < 1 to vb >= 1: Halley kept in the bracket."""
        # first guess: the first root of the parabola through v(0), v'(0) and v(h) (one step fewer
        # than the chord on a typical 1 ms piece); the chord where it fails
        slope0 = J - v
        for g, s in zip(self.groups, xs):
            slope0 = slope0 + s[-1]
        slope0 = slope0 / self.tm(gidx)
        a = 1.0 - v
        c = (vb - v - slope0 * h) / (h * h)
        with np.errstate(divide="ignore", invalid="ignore"):
            x = 2.0 * a / (slope0 + np.sqrt(slope0 * slope0 + 4.0 * c * a))
        bad = ~((x >= 0.0) & (x <= h))
        if bad.any():
            x = np.where(bad, h * np.clip(a / np.maximum(vb - v, 1e-300), 0.0, 1.0), x)
        # the working set shrinks only when some neuron converges (few neurons, so each numpy call counts)
        idx, xa, lo, hi, Ja, vJ, xs_a = np.arange(v.size), x, np.zeros(v.size), h.copy(), J, v - J, xs
        ga = gidx  # the neurons of the working set (per-neuron tau_m), else None
        for _ in range(100):
            # v(xa) and the synaptic current there, as voltage_and_current computes them
            tm = self.tm(ga)
            em = np.exp(-xa / tm)
            vx = Ja + vJ * em
            cur = dcur = 0.0  # the synaptic current and its derivative
            for g, s in zip(self.groups, xs_a):
                es = np.exp(-xa / g.tau_s)
                vx = vx + s[-1] * g.r1(xa, em, ga)
                if g.n == 0:
                    term = s[0] * es
                    dcur = dcur - term / g.tau_s
                else:
                    vx = vx + s[0] * g.r2(xa, em, ga)
                    term = (s[1] + s[0] * (xa / g.tau_s)) * es
                    dcur = dcur + (s[0] * es - term) / g.tau_s
                cur = cur + term
            f = vx - 1.0
            below = f < 0
            lo = np.where(below, xa, lo)
            hi = np.where(below, hi, xa)
            # Halley's step (cubic convergence: usually two iterations): tau_m v' = J + I - v, tau_m v'' = I' - v'
            slope = (Ja + cur - vx) / tm
            with np.errstate(divide="ignore", invalid="ignore"):
                t = f / slope
                nx = xa - t / (1.0 - 0.5 * t * ((dcur - slope) / tm) / slope)
            # outside the bracket (or NaN): bisect instead
            nx = np.where((nx > lo) & (nx < hi), nx, 0.5 * (lo + hi))
            exact = f == 0
            converged = (np.abs(nx - xa) < ROOT_TOL) | (hi - lo < ROOT_TOL) | exact
            x[idx] = np.where(exact, xa, nx)
            if converged.all():
                break
            if converged.any():
                k = (~converged).nonzero()[0]
                idx, nx, lo, hi, Ja, vJ = idx[k], nx[k], lo[k], hi[k], Ja[k], vJ[k]
                xs_a = [s[:, k] for s in xs_a]
                ga = _sub(ga, k)
            xa = nx
        return x


def _sub(idx, sel):
    """``idx[sel]``, or None when there is no per-neuron index."""
    return None if idx is None else idx[sel]
