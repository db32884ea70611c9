"""Precise timing compiled with numba: the exact LIF step of :class:`neurosim.neurons.lif.PreciseLIFState`
and the delivery of events at their exact arrival times, for ``Network(timing="precise", backend="numba")``.

The numpy precise runtime (:mod:`neurosim.network.precise.runtime`) already integrates a whole block of grid
steps at once (up to the shortest delay between populations: every event that arrives inside a block was
emitted before it). Here each block of a population is one compiled call of :func:`precise_step`, which
does, neuron by neuron, what :meth:`PreciseLIFState.step <neurosim.neurons.lif.PreciseLIFState.step>` does
over whole arrays:

1. every neuron's free evolution over the block from the cached step constants, with its events added by
   superposition (responses at the block end, peak responses to the upper bound);
2. the neurons that may cross (bound >= 1 and an interior maximum not excluded) or whose refractory period
   ends inside the block go through the exact event loop: segment by segment between their events,
   refractory end and threshold crossings, with the crossing search of
   :meth:`neurosim.neurons.lif.kernel.MembraneKernel.first_crossing` (the bound tests of ``_classify``,
   the split of undecided pieces into 8, earliest first, and the safeguarded Halley refinement of
   ``_refine`` to ``ROOT_TOL``);
3. the synapse stages of every neuron are committed as in numpy (decayed, plus each event with its lag).

The closed forms R1, R2 (and the E2 series) are those of :class:`neurosim.neurons.lif.kernel.SynapseShape`,
written for one number: the numpy kernel evaluates them on arrays, which a compiled per-neuron loop cannot
call. tests/neurosim/test_precise_compiled.py checks each against the numpy kernel to rounding, and the
networks against the numpy backend (same neurons fire, times within 1e-12 s).

Events of connections with one delay are filed by :func:`file_spikes` (PreciseConnection.send: the fan-out and
the step of arrival, numpy's formulas) into the target population's pending events, from which
:func:`take_events` hands each block its own. Sources, Poisson drives, per-synapse delays, probes and injected
currents run as on numpy around the compiled calls (one per block and population).

Where the numpy event loop skips the rest of a step for a neuron whose bound stays below 1 (it then adds the
remaining events by superposition), this loop integrates the remaining segments: the same value to rounding,
and no crossing can be found where v stays below 1.
"""
import math

import numpy as np
from numba import njit

from ...errors import SimulationError
from ...neurons.lif.kernel import _E2_SERIES, _MAX_ROUNDS, _MIN_PIECE, _SPLIT, ROOT_TOL
from ...neurons.lif.precise import PreciseLIFState
from ..precise.runtime import PreciseConnection, PreciseLIFRuntime, PreciseRuntime, _precise_link
from ..._optional import fresh_kernel_cache

fresh_kernel_cache()  # before any cached kernel loads: drop caches older than their sources

# per-group integer columns: order n (0 or 1), row of stage 0 in the stacked stages
GI_N, GI_ROW = range(2)
# per-group float columns: the SynapseShape constants
GP_TAU_S, GP_D, GP_INV_MD, GP_PEAK1, GP_PEAK2 = range(5)
GP_COLS = 5
# per-group step constants (PreciseLIFState._constants): es, cross, r1, r1max, r2, r2max
CF_ES, CF_CROSS, CF_R1, CF_R1MAX, CF_R2, CF_R2MAX = range(6)
CF_COLS = 6

_E2 = np.array(_E2_SERIES)
_E2_FACT = np.array([float(math.factorial(k)) for k in range(len(_E2_SERIES))])
_STACK = 1024  # pieces of the crossing search held at once (each split adds at most 8 per level)


# ---- the closed forms of SynapseShape, for one number --------------------------------------------------
@njit(cache=True, error_model="numpy")
def _e2_series(z):
    """SynapseShape's E2 series with the number of terms its array version takes for max |z| = |z|."""
    za = abs(z)
    terms = _E2.size
    for k in range(1, _E2.size):
        if za ** k / _E2_FACT[k] < 1e-17:
            terms = k
            break
    acc = _E2[terms - 1]
    for j in range(terms - 2, -1, -1):
        acc = acc * z + _E2[j]
    return acc


@njit(cache=True, error_model="numpy")
def r1(u, em, tau_m, p):
    """:meth:`SynapseShape.r1 <neurosim.neurons.lif.kernel.SynapseShape.r1>` at one u (``p``: the group's
    float row: tau_s, d, 1 / (tau_m d), peaks)."""
    d = p[GP_D]
    if d == 0.0:
        return (u / tau_m) * em
    z = u * d
    if d < 0 or z <= 1.0:
        return em * math.expm1(z) * p[GP_INV_MD]
    return (math.exp(-u / p[GP_TAU_S]) - em) * p[GP_INV_MD]


@njit(cache=True, error_model="numpy")
def r2(u, em, tau_m, p):
    """:meth:`SynapseShape.r2 <neurosim.neurons.lif.kernel.SynapseShape.r2>` at one u."""
    d, tau_s = p[GP_D], p[GP_TAU_S]
    z = u * d
    if abs(z) < 0.5:
        return (u * u / (tau_m * tau_s)) * em * _e2_series(z)
    es = math.exp(-u / tau_s)
    return (z * es - es + em) / (tau_m * tau_s * d * d)


# ---- MembraneKernel for one neuron: stages x (R,) stacked by group ------------------------------------
@njit(cache=True, error_model="numpy")
def evolve(v, J, x, u, tau_m, gi, gp, out):
    """MembraneKernel.evolve: v after u seconds; the stages after u into ``out`` (may be ``x``)."""
    em = math.exp(-u / tau_m)
    vn = J + (v - J) * em
    for g in range(gi.shape[0]):
        p = gp[g]
        r = gi[g, GI_ROW]
        es = math.exp(-u / p[GP_TAU_S])
        if gi[g, GI_N] == 0:
            vn = vn + x[r] * r1(u, em, tau_m, p)
            out[r] = x[r] * es
        else:
            x0, x1 = x[r], x[r + 1]
            vn = vn + x1 * r1(u, em, tau_m, p)
            vn = vn + x0 * r2(u, em, tau_m, p)
            out[r] = x0 * es
            out[r + 1] = (x1 + x0 * (u / p[GP_TAU_S])) * es
    return vn


@njit(cache=True, error_model="numpy")
def bound(v, J, x, h, tau_m, gi, gp, upper):
    """MembraneKernel.upper_bound (``upper``) or lower_bound of v over [0, h]."""
    vJ = v - J
    em = math.exp(-h / tau_m)
    b = J + (max(vJ, vJ * em) if upper else min(vJ, vJ * em))
    for g in range(gi.shape[0]):
        p = gp[g]
        r = gi[g, GI_ROW]
        n = gi[g, GI_N]
        if h <= p[GP_PEAK1]:
            rr = r1(h, em, tau_m, p)
        else:
            u1 = p[GP_PEAK1]
            rr = r1(u1, math.exp(-u1 / tau_m), tau_m, p)
        cur = x[r + n]
        b = b + (max(cur, 0.0) if upper else min(cur, 0.0)) * rr
        if n == 1:
            u2 = min(h, p[GP_PEAK2])
            b = b + (max(x[r], 0.0) if upper else min(x[r], 0.0)) * r2(u2, math.exp(-u2 / tau_m), tau_m, p)
    return b


@njit(cache=True, error_model="numpy")
def voltage_bound_stages(v, J, x, u, tau_m, gi, gp, out):
    """MembraneKernel.voltage_and_upper_bound over [0, u] and the stages at u (into ``out``, not ``x``): one
    set of exponentials for the three (v(u) is :func:`evolve`'s, term for term)."""
    em = math.exp(-u / tau_m)
    vJ = v - J
    vn = J + vJ * em
    b = J + max(vJ, vJ * em)
    for g in range(gi.shape[0]):
        p = gp[g]
        r = gi[g, GI_ROW]
        es = math.exp(-u / p[GP_TAU_S])
        rr = r1(u, em, tau_m, p)
        rb = rr if u <= p[GP_PEAK1] else r1(p[GP_PEAK1], math.exp(-p[GP_PEAK1] / tau_m), tau_m, p)
        if gi[g, GI_N] == 0:
            vn = vn + x[r] * rr
            b = b + max(x[r], 0.0) * rb
            out[r] = x[r] * es
        else:
            x0, x1 = x[r], x[r + 1]
            vn = vn + x1 * rr
            vn = vn + x0 * r2(u, em, tau_m, p)
            b = b + max(x1, 0.0) * rb
            u2 = min(u, p[GP_PEAK2])
            b = b + max(x0, 0.0) * r2(u2, math.exp(-u2 / tau_m), tau_m, p)
            out[r] = x0 * es
            out[r + 1] = (x1 + x0 * (u / p[GP_TAU_S])) * es
    return vn, b


@njit(cache=True, error_model="numpy")
def current_bound(x, h, gi, gp, upper):
    """MembraneKernel.current_upper_bound (``upper``) or current_lower_bound over [0, h]."""
    out = 0.0
    for g in range(gi.shape[0]):
        p = gp[g]
        r = gi[g, GI_ROW]
        n = gi[g, GI_N]
        tau_s = p[GP_TAU_S]
        cur = x[r + n]
        if upper:
            out = out + (cur if cur > 0 else cur * math.exp(-h / tau_s))
        else:
            out = out + (cur * math.exp(-h / tau_s) if cur > 0 else cur)
        if n == 1:
            us = min(h, tau_s)
            x0 = max(x[r], 0.0) if upper else min(x[r], 0.0)
            out = out + x0 * (us / tau_s) * math.exp(-us / tau_s)
    return out


@njit(cache=True, error_model="numpy")
def classify(v, J, x, h, vb, ub, tau_m, gi, gp):
    """MembraneKernel._classify for one piece: (keep, resolved)."""
    keep = (ub >= 1.0) or (vb >= 1.0)
    low_i = current_bound(x, h, gi, gp, False)
    if keep and v < 1.0 and vb < 1.0:
        high_i = current_bound(x, h, gi, gp, True)
        below = J + high_i < 1.0
        up = max((J + high_i - bound(v, J, x, h, tau_m, gi, gp, False)) / tau_m, 0.0)
        down = max((ub - J - low_i) / tau_m, 0.0)
        if up + down > 0:
            t = min(max((vb - v + h * down) / (up + down), 0.0), h)
            two_lines = v + t * up
        else:
            two_lines = max(v, vb)
        below = below or two_lines < 1.0
        if below:
            keep = False
    rising = J + low_i - ub > 0
    return keep, keep and vb >= 1.0 and rising


@njit(cache=True, error_model="numpy")
def refine(v, J, x, h, vb, tau_m, gi, gp):
    """MembraneKernel._refine for one piece: the root of v(u) = 1 in [0, h] (v rises from v < 1 to vb >= 1)."""
    slope0 = J - v
    for g in range(gi.shape[0]):
        slope0 = slope0 + x[gi[g, GI_ROW] + gi[g, GI_N]]
    slope0 = slope0 / tau_m
    a = 1.0 - v
    c = (vb - v - slope0 * h) / (h * h)
    disc = slope0 * slope0 + 4.0 * c * a
    xa = 2.0 * a / (slope0 + math.sqrt(disc)) if disc >= 0 else np.nan
    if not (xa >= 0.0 and xa <= h):
        xa = h * min(max(a / max(vb - v, 1e-300), 0.0), 1.0)
    lo, hi, vJ = 0.0, h, v - J
    result = xa
    for _ in range(100):
        em = math.exp(-xa / tau_m)
        vx = J + vJ * em
        cur = 0.0
        dcur = 0.0
        for g in range(gi.shape[0]):
            p = gp[g]
            r = gi[g, GI_ROW]
            tau_s = p[GP_TAU_S]
            es = math.exp(-xa / tau_s)
            if gi[g, GI_N] == 0:
                vx = vx + x[r] * r1(xa, em, tau_m, p)
                term = x[r] * es
                dcur = dcur - term / tau_s
            else:
                vx = vx + x[r + 1] * r1(xa, em, tau_m, p)
                vx = vx + x[r] * r2(xa, em, tau_m, p)
                term = (x[r + 1] + x[r] * (xa / tau_s)) * es
                dcur = dcur + (x[r] * es - term) / tau_s
            cur = cur + term
        f = vx - 1.0
        if f < 0:
            lo = xa
        else:
            hi = xa
        slope = (J + cur - vx) / tau_m
        t = f / slope
        nx = xa - t / (1.0 - 0.5 * t * ((dcur - slope) / tau_m) / slope)
        if not (nx > lo and nx < hi):
            nx = 0.5 * (lo + hi)
        exact = f == 0
        result = xa if exact else nx
        if abs(nx - xa) < ROOT_TOL or hi - lo < ROOT_TOL or exact:
            break
        xa = nx
    return result


@njit(cache=True, error_model="numpy")
def first_crossing(v, J, x, L, ub, vb, tau_m, gi, gp, st_f, st_x):
    """MembraneKernel.first_crossing for one neuron: the first time in [0, L] where v reaches 1, NaN if none.

    The undecided pieces are split into 8 earliest first, as the array version does for every neuron at once:
    a stack whose top is the earliest piece. ``st_f`` (_STACK, 5) and ``st_x`` (_STACK + _SPLIT + 1, R) are
    scratch.
    """
    if v >= 1.0:
        return 0.0
    keep, resolved = classify(v, J, x, L, vb, ub, tau_m, gi, gp)
    if not keep:
        return np.nan
    if resolved:
        return refine(v, J, x, L, vb, tau_m, gi, gp)
    pv = np.empty(_SPLIT + 1)
    px = st_x[_STACK:]
    # piece: start a, length h, v at a, v at the end, resolved?
    st_f[0, 0], st_f[0, 1], st_f[0, 2], st_f[0, 3], st_f[0, 4] = 0.0, L, v, vb, 0.0
    st_x[0, :] = x
    top = 1
    rounds = 0
    while top > 0:
        top -= 1
        a, h, v0, vb0 = st_f[top, 0], st_f[top, 1], st_f[top, 2], st_f[top, 3]
        if st_f[top, 4] != 0.0:
            return a + refine(v0, J, st_x[top], h, vb0, tau_m, gi, gp)
        rounds += 1
        if rounds > _MAX_ROUNDS:
            raise SimulationError("precise threshold search undecided (v grazing the threshold); use timing='grid'")
        hs = h / _SPLIT
        for k in range(_SPLIT + 1):
            pv[k] = evolve(v0, J, st_x[top], hs * k, tau_m, gi, gp, px[k])
        for j in range(_SPLIT - 1, -1, -1):  # pushed latest first: the earliest is on top
            nv, nvb = pv[j], pv[j + 1]
            ub_j = bound(nv, J, px[j], hs, tau_m, gi, gp, True)
            nkeep, nres = classify(nv, J, px[j], hs, nvb, ub_j, tau_m, gi, gp)
            if nkeep and not nres and hs < _MIN_PIECE:  # undecidable within rounding: a touch counts if v(end) >= 1
                nres = nvb >= 1.0
                nkeep = nres
            if not nkeep:
                continue
            if top >= _STACK:
                raise SimulationError("precise threshold search: too many undecided pieces; use timing='grid'")
            st_f[top, 0], st_f[top, 1], st_f[top, 2], st_f[top, 3] = a + hs * j, hs, nv, nvb
            st_f[top, 4] = 1.0 if nres else 0.0
            st_x[top, :] = px[j]
            top += 1
    return np.nan


# ---- PreciseLIFState.step, neuron by neuron -------------------------------------------------------------
@njit(cache=True, error_model="numpy")
def _event_loop(v, J, ref, x, ev_off, ev_grp, ev_inc, lo, hi, h, tau_m, tau_ref, gi, gp, st_f, st_x, xn,
                out_i, out_t, count, i, t0, dt):
    """PreciseLIFState._event_loop for one neuron from its state at the block start (times relative to it):
    segment by segment to its next event, refractory end, crossing or h. Spikes are appended at ``count``;
    returns (v at h, refractory end, count, out_i, out_t). ``xn`` (R,): scratch."""
    tau = 0.0
    e = lo
    while True:
        has = e < hi
        nxt = ev_off[e] if has else h
        refr = ref > tau
        stop = min(nxt, ref) if refr else nxt
        L = stop - tau
        u = np.nan
        if refr:  # held at 0: only the stages move
            evolve(v, J, x, L, tau_m, gi, gp, x)
            v = 0.0
        else:
            vL, ub = voltage_bound_stages(v, J, x, L, tau_m, gi, gp, xn)
            if ub >= 1.0:
                u = first_crossing(v, J, x, L, ub, vL, tau_m, gi, gp, st_f, st_x)
            if np.isnan(u):
                x[:] = xn
                v = vL
            else:
                evolve(v, J, x, u, tau_m, gi, gp, x)
                v = 0.0
        crossed = not np.isnan(u)
        adv = u if crossed else L
        tau = tau + adv if crossed else stop
        if crossed:
            if count >= out_i.size:
                grown_i = np.empty(2 * out_i.size, dtype=np.int64)
                grown_t = np.empty(2 * out_i.size)
                grown_i[:count] = out_i[:count]
                grown_t[:count] = out_t[:count]
                out_i, out_t = grown_i, grown_t
            out_i[count] = i
            out_t[count] = tau + t0
            count += 1
            ref = tau + tau_ref
        if has and not crossed and nxt <= stop:
            g = ev_grp[e]
            if g < gi.shape[0]:
                x[gi[g, GI_ROW]] += ev_inc[e]
            elif ref < nxt - 1e-9 * dt:
                # a Delta jump (group G): discarded while refractory (up to the period's end, as on NEST's
                # grid), else added to v; reaching 1 fires at the jump
                v += ev_inc[e]
                if v >= 1.0:
                    v = 0.0
                    ref = nxt + tau_ref
                    if count >= out_i.size:
                        grown_i = np.empty(2 * out_i.size, dtype=np.int64)
                        grown_t = np.empty(2 * out_i.size)
                        grown_i[:count] = out_i[:count]
                        grown_t[:count] = out_t[:count]
                        out_i, out_t = grown_i, grown_t
                    out_i[count] = i
                    out_t[count] = nxt + t0
                    count += 1
            e += 1
        if not ((tau < h or e < hi) and ref < h):
            break
    return v, ref, count, out_i, out_t


@njit(cache=True, error_model="numpy")
def _response(lag, h, tau_m, n, p):
    """One event's response in v at the block end and its peak over the block (PreciseLIFState.step, 2.)."""
    em = math.exp(-lag / tau_m)
    if n == 0:
        rr = r1(lag, em, tau_m, p)
        tpeak = p[GP_PEAK1]
        if h > tpeak:  # some responses peak inside the block (lags never exceed h)
            pk = min(lag, tpeak)
            return rr, r1(pk, math.exp(-pk / tau_m), tau_m, p)
        return rr, rr
    rr = r2(lag, em, tau_m, p)
    tpeak = p[GP_PEAK2]
    if h > tpeak:
        pk = min(lag, tpeak)
        return rr, r2(pk, math.exp(-pk / tau_m), tau_m, p)
    return rr, rr


@njit(cache=True, error_model="numpy")
def precise_step(v, ref, X, J, t0, h, dt, dm, cf, tau_m, tau_ref, gi, gp, tgt, off, grp, inc, out_i, out_t):  # noqa: C901
    """Advance M neurons from t0 to t0 + h (PreciseLIFState.step), pass by pass in
    numpy's order (the free update group by group, then the events group by group), each pass a loop over
    the neurons or the events; the exact loop runs neuron by neuron for the few that need it.

    Parameters
    ----------
    v, ref : ndarray (M,)
        Voltages and absolute refractory ends (s), updated in place.
    X : ndarray (R, M)
        Synapse stages of every group stacked (group g from row ``gi[g, GI_ROW]``), updated in place.
    J : ndarray (M,)
        Constant input during the block.
    dm, cf : ndarray (P,), ndarray (G, P, CF_COLS)
        PreciseLIFState._constants(h): P = 1 (one tau_m) or M (per neuron).
    tau_m, tau_ref : ndarray (P,), ndarray (1,) or (M,)
        Membrane time constants and refractory periods (s).
    gi, gp : ndarray (G, 2), ndarray (G, P, GP_COLS)
        The groups' order and row; their SynapseShape constants (per neuron when tau_m is).
    dt : float
        The grid step (the tolerance of a jump's arrival at the end of a refractory period).
    tgt, off, grp, inc : ndarray (E,)
        The events of the block: target, offset in [0, h), group, stage-0 jump (group G: a Delta jump of v).
    out_i, out_t : ndarray
        Spike buffers (grown when full).

    Returns
    -------
    count, out_i, out_t
        Spikes (neuron, absolute time): neuron by neuron, each neuron's in time order.
    """
    M = v.size
    E = tgt.size
    R = X.shape[0]
    G = gi.shape[0]
    t1 = t0 + h
    per = tau_m.size > 1  # per-neuron tau_m: neuron i's constants at position i, else at 0
    per_ref = tau_ref.size > 1
    # 1. every neuron as if it received nothing and stayed below threshold: v at h and an upper bound
    vnew = np.empty(M)
    ub = np.empty(M)
    if per:
        for i in range(M):
            vJ = v[i] - J[i]
            a = vJ * dm[i]
            ub[i] = max(vJ, a) + J[i]
            vnew[i] = a + J[i]
    else:
        d0 = dm[0]
        for i in range(M):
            vJ = v[i] - J[i]
            a = vJ * d0
            ub[i] = max(vJ, a) + J[i]
            vnew[i] = a + J[i]
    for g in range(G):
        rc = gi[g, GI_ROW] + gi[g, GI_N]
        if per:
            for i in range(M):
                cur = X[rc, i]
                vnew[i] += cur * cf[g, i, CF_R1]
                ub[i] += max(cur, 0.0) * cf[g, i, CF_R1MAX]
        else:
            c1, c1m = cf[g, 0, CF_R1], cf[g, 0, CF_R1MAX]
            for i in range(M):
                cur = X[rc, i]
                vnew[i] += cur * c1
                ub[i] += max(cur, 0.0) * c1m
        if gi[g, GI_N] == 1:
            r0 = gi[g, GI_ROW]
            if per:
                for i in range(M):
                    x0 = X[r0, i]
                    vnew[i] += x0 * cf[g, i, CF_R2]
                    ub[i] += max(x0, 0.0) * cf[g, i, CF_R2MAX]
            else:
                c2, c2m = cf[g, 0, CF_R2], cf[g, 0, CF_R2MAX]
                for i in range(M):
                    x0 = X[r0, i]
                    vnew[i] += x0 * c2
                    ub[i] += max(x0, 0.0) * c2m
    # 2. the events by superposition, group by group: responses at h, peak responses to the bound
    for g in range(G):
        n = gi[g, GI_N]
        p0, tm0 = gp[g, 0], tau_m[0]  # one tau_m: the constants stay in registers
        for e in range(E):
            if grp[e] != g:
                continue
            if per:
                rr, rp = _response(h - off[e], h, tau_m[tgt[e]], n, gp[g, tgt[e]])
            else:
                rr, rp = _response(h - off[e], h, tm0, n, p0)
            w = inc[e]
            vnew[tgt[e]] += w * rr
            ub[tgt[e]] += max(w, 0.0) * rp
    # the Delta jumps: w e^(-lag/tau_m) at the end, w at its peak; arrivals while refractory (up to the
    # period's end) are discarded; neurons whose period ends inside go through the exact loop, which checks
    # each arrival itself
    for e in range(E):
        if grp[e] != G:
            continue
        t = tgt[e]
        lag = h - off[e]
        if ref[t] < t1 - lag - 1e-9 * dt:
            w = inc[e]
            vnew[t] += w * math.exp(-lag / tau_m[t if per else 0])
            ub[t] += max(w, 0.0)
    # 3. who needs the exact loop: a possible crossing whose interior maximum is not excluded, or a
    #    refractory period that ends inside the block (one pass marks both: 1 candidate, 2 refractory end)
    mark = np.zeros(M, dtype=np.int8)
    nc = 0
    nr = 0
    for i in range(M):
        r_i = ref[i]
        if r_i > t0:
            if r_i < t1:
                mark[i] = 2
                nr += 1
        elif ub[i] >= 1.0:
            mark[i] = 1
            nc += 1
    local = np.full(M, -1, dtype=np.int64) if nc + nr else np.empty(0, dtype=np.int64)
    ns = nr
    if nc:
        cand = np.empty(nc, dtype=np.int64)
        c = 0
        for i in range(M):
            if mark[i] == 1:
                cand[c] = i
                local[i] = c
                c += 1
        extra = np.zeros(nc)
        for e in range(E):  # their events' peak currents
            c = local[tgt[e]]
            if c < 0:
                continue
            g = grp[e]
            wp = max(inc[e], 0.0)
            if g == G:  # a positive jump can lift v over 1 whatever the current: no bound excludes it
                if wp > 0 and ref[tgt[e]] < t1 - (h - off[e]) - 1e-9 * dt:
                    extra[c] = np.inf
            elif gi[g, GI_N] == 0:
                extra[c] += wp
            else:
                tau_s = gp[g, 0, GP_TAU_S]
                us = min(h - off[e], tau_s)
                extra[c] += wp * (us / tau_s) * math.exp(-us / tau_s)
        xl = np.empty(R)
        for c in range(nc):
            i = cand[c]
            local[i] = -1
            for r in range(R):
                xl[r] = X[r, i]
            high = J[i] + current_bound(xl, h, gi, gp[:, i if per else 0], True) + extra[c]
            if v[i] < 1.0 and vnew[i] < 1.0 and high < 1.0:
                mark[i] = 0  # cannot cross after all
            else:
                ns += 1
    # their state at t0, for the exact loop
    sid = np.empty(ns, dtype=np.int64)
    sv = np.empty(ns)
    sx = np.empty((ns, R))
    if ns:
        q = 0
        for i in range(M):
            if mark[i] != 0:
                sid[q] = i
                sv[q] = v[i]
                for r in range(R):
                    sx[q, r] = X[r, i]
                local[i] = q
                q += 1
    # 4. commit: v (0 while refractory), the stages decayed plus each event with its exact lag
    for i in range(M):
        v[i] = 0.0 if ref[i] > t0 else vnew[i]
    for g in range(G):
        r0 = gi[g, GI_ROW]
        es = cf[g, 0, CF_ES]  # tau_s only: the same for every neuron
        if gi[g, GI_N] == 1:
            cross = cf[g, 0, CF_CROSS]
            for i in range(M):
                x1 = X[r0 + 1, i] + X[r0, i] * cross
                X[r0 + 1, i] = x1 * es
        for i in range(M):
            X[r0, i] *= es
    for g in range(G):
        r0 = gi[g, GI_ROW]
        n = gi[g, GI_N]
        tau_s = gp[g, 0, GP_TAU_S]
        for e in range(E):
            if grp[e] != g:
                continue
            lag = (h - off[e]) / tau_s
            w = inc[e] * math.exp(-lag)
            X[r0, tgt[e]] += w
            if n == 1:
                X[r0 + 1, tgt[e]] += w * lag
    if ns == 0:
        return 0, out_i, out_t
    # 5. the exact loop of the special neurons from their state at t0, through their events in offset order
    #    (the numpy loop's lexsort((offset, neuron)))
    start = np.zeros(ns + 1, dtype=np.int64)
    for e in range(E):
        if mark[tgt[e]] != 0:
            start[local[tgt[e]] + 1] += 1
    for q in range(ns):
        start[q + 1] += start[q]
    fill = start[:ns].copy()
    ne = start[ns]
    s_off, s_grp, s_inc = np.empty(ne), np.empty(ne, dtype=np.int64), np.empty(ne)
    for e in range(E):
        if mark[tgt[e]] != 0:
            q = local[tgt[e]]
            k = fill[q]
            s_off[k], s_grp[k], s_inc[k] = off[e], grp[e], inc[e]
            fill[q] = k + 1
    for q in range(ns):  # a stable insertion sort per neuron (few events each)
        for k in range(start[q] + 1, start[q + 1]):
            o, g_, w = s_off[k], s_grp[k], s_inc[k]
            r = k - 1
            while r >= start[q] and s_off[r] > o:
                s_off[r + 1], s_grp[r + 1], s_inc[r + 1] = s_off[r], s_grp[r], s_inc[r]
                r -= 1
            s_off[r + 1], s_grp[r + 1], s_inc[r + 1] = o, g_, w
    st_f = np.empty((_STACK, 5))
    st_x = np.empty((_STACK + _SPLIT + 1, R))  # the pieces, then the points of a split
    xn = np.empty(R)
    xl = np.empty(R)
    count = 0
    for q in range(ns):
        i = sid[q]
        for r in range(R):
            xl[r] = sx[q, r]
        j = i if per else 0
        vi, re, count, out_i, out_t = _event_loop(sv[q], J[i], ref[i] - t0, xl, s_off, s_grp, s_inc, start[q],
                                                  start[q + 1], h, tau_m[j], tau_ref[i if per_ref else 0], gi,
                                                  gp[:, j], st_f, st_x, xn, out_i, out_t, count, i, t0, dt)
        v[i] = vi
        ref[i] = re + t0
    return count, out_i, out_t


class CompiledPreciseLIFState(PreciseLIFState):
    """:class:`PreciseLIFState` whose step is :func:`precise_step` (PSC groups of order 0 and 1, Delta jumps;
    tau_m and tau_ref one per population or per neuron)."""

    def __init__(self, model, size, dt, synapses=(), v0=None):
        super().__init__(model, size, dt, synapses, v0)
        groups = self.kernel.groups
        rows = np.cumsum([0] + [g.n + 1 for g in groups])
        self.X = np.zeros((int(rows[-1]), self.size))
        self.x = [self.X[rows[k]:rows[k + 1]] for k in range(len(groups))]  # views: the numpy code reads them
        self.gi = np.array([[g.n, rows[k]] for k, g in enumerate(groups)], dtype=np.int64).reshape(-1, 2)
        # per group, the SynapseShape constants of each neuron (P = M with a per-neuron tau_m, else 1)
        P = self.size if self.kernel.per_neuron else 1
        self.tau_m = np.broadcast_to(self.kernel.tau_m, (P,)).astype(float)
        self.tau_ref_arr = np.atleast_1d(np.asarray(self.tau_ref, dtype=float))
        self.gp = np.zeros((len(groups), P, GP_COLS))
        for k, g in enumerate(groups):
            inv_md = np.where(np.isfinite(g._inv_md), g._inv_md, 0.0) if P > 1 else (g._inv_md or 0.0)
            for col, value in ((GP_TAU_S, g.tau_s), (GP_D, g.d), (GP_INV_MD, inv_md), (GP_PEAK1, g.peak1),
                               (GP_PEAK2, 0.0 if g.peak2 is None else g.peak2)):
                self.gp[k, :, col] = value
        self._cf = {}
        self._out = (np.empty(max(self.size, 16), dtype=np.int64), np.empty(max(self.size, 16)))

    def _packed(self, h):
        got = self._cf.get(h)
        if got is None:
            dm, coef = self._constants(h)
            P = self.tau_m.size
            cf = np.zeros((len(coef), P, CF_COLS))
            for k, c in enumerate(coef):
                for col, key in ((CF_ES, "es"), (CF_CROSS, "cross"), (CF_R1, "r1"), (CF_R1MAX, "r1max"),
                                 (CF_R2, "r2"), (CF_R2MAX, "r2max")):
                    if key in c:
                        cf[k, :, col] = c[key]
            if len(self._cf) > 8:
                self._cf.clear()
            got = self._cf[h] = (np.broadcast_to(dm, (P,)).astype(float), cf)
        return got

    def step(self, J, t0, events=None, h=None):
        """As :meth:`PreciseLIFState.step`, compiled."""
        h = self.dt if h is None else float(h)
        dm, cf = self._packed(h)
        if events is None:
            tgt, off, grp, inc = _NO_EVENTS
        else:
            tgt, off, grp, inc = (np.ascontiguousarray(a, dtype=t) for a, t in
                                  zip(events, (np.int64, float, np.int64, float)))
        J = np.ascontiguousarray(np.broadcast_to(J, (self.size,)), dtype=float)
        count, oi, ot = precise_step(self.v, self.refractory_end, self.X, J, float(t0), h, self.dt, dm, cf, self.tau_m,
                                     self.tau_ref_arr, self.gi, self.gp, tgt, off, grp, inc, *self._out)
        self._out = (oi, ot)
        if count == 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        idx, times = oi[:count].copy(), ot[:count].copy()
        if count > 1:
            o = np.argsort(times, kind="stable")
            idx, times = idx[o], times[o]
        return idx, times


_NO_EVENTS = (np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0, dtype=np.int64), np.zeros(0))


# ---- event delivery: PreciseConnection.send and the target's queue, compiled ------------------------------
@njit(cache=True)
def file_spikes(q_step, q_tgt, q_off, q_grp, q_inc, n, spiked, times, first_step, indptr, indices, data, delay, dt,
                B, n_pre, n_post, group):
    """PreciseConnection.send: the events of presynaptic spikes (flat indices, absolute times) appended to a
    target's pending events ``q_*[:n]`` (step of arrival, target, offset, group, increment), with numpy's
    formulas (step = max(floor((t + delay) / dt), first_step), offset clipped into [0, dt)).

    Returns the new count and the (maybe grown) arrays.
    """
    last = np.nextafter(dt, 0.0)
    for s in range(spiked.size):
        f = spiked[s]
        trial = f // n_pre if B > 1 else 0
        j = f - trial * n_pre
        arrival = times[s] + delay
        step = max(np.int64(math.floor(arrival / dt)), first_step)
        offset = min(max(arrival - step * dt, 0.0), last)
        lo, hi = indptr[j], indptr[j + 1]
        if n + hi - lo > q_step.size:
            size = max(2 * q_step.size, n + hi - lo)
            q_step, q_tgt, q_off = _grown_i(q_step, size, n), _grown_i(q_tgt, size, n), _grown_f(q_off, size, n)
            q_grp, q_inc = _grown_i(q_grp, size, n), _grown_f(q_inc, size, n)
        for e in range(lo, hi):
            q_step[n], q_tgt[n], q_off[n], q_grp[n], q_inc[n] = step, indices[e] + trial * n_post, offset, group, data[e]
            n += 1
    return n, q_step, q_tgt, q_off, q_grp, q_inc


@njit(cache=True)
def _grown_i(a, size, n):
    out = np.empty(size, dtype=np.int64)
    out[:n] = a[:n]
    return out


@njit(cache=True)
def _grown_f(a, size, n):
    out = np.empty(size)
    out[:n] = a[:n]
    return out


@njit(cache=True)
def take_events(q_step, q_tgt, q_off, q_grp, q_inc, n, k, steps, dt):
    """The pending events that arrive in steps k .. k + steps - 1, offsets from step k (as
    PreciseLIFRuntime.step shifts them: ``off + (s - k) dt``); the others stay, in order. Returns
    (events (tgt, off, grp, inc), the count left)."""
    m = 0
    for e in range(n):
        if q_step[e] < k + steps:
            m += 1
    tgt, off, grp, inc = np.empty(m, dtype=np.int64), np.empty(m), np.empty(m, dtype=np.int64), np.empty(m)
    a = 0
    left = 0
    for e in range(n):
        s = q_step[e]
        if s < k + steps:
            tgt[a], grp[a], inc[a] = q_tgt[e], q_grp[e], q_inc[e]
            off[a] = q_off[e] + (s - k) * dt if s > k else q_off[e]
            a += 1
        else:
            q_step[left], q_tgt[left], q_off[left], q_grp[left], q_inc[left] = s, q_tgt[e], q_off[e], q_grp[e], q_inc[e]
            left += 1
    return tgt, off, grp, inc, left


class CompiledPreciseConnection(PreciseConnection):
    """A connection with one delay in precise mode whose events :func:`file_spikes` files in the target's
    compiled pending events (instead of the queue of numpy arrays)."""

    def send(self, spiked, times, first_step):
        t = self.target
        indptr, indices, data = self.rows
        t.pending_n, *arrays = file_spikes(*t.pending, t.pending_n, np.ascontiguousarray(spiked, dtype=np.int64),
                                           np.ascontiguousarray(times, dtype=float), int(first_step), indptr,
                                           indices, data, self.delay, self.dt, self.B, self.n_pre, self.n_post,
                                           self.group)
        t.pending = tuple(arrays)


class CompiledPreciseLIFRuntime(PreciseLIFRuntime):
    """A LIF population of the precise runtime stepped by :func:`precise_step`. Events of connections with
    one delay wait in ``pending`` (compiled, :func:`file_spikes`); the others (per-synapse delays, Poisson
    drives) in the numpy ``queue``."""

    state_class = CompiledPreciseLIFState

    def __init__(self, pop, B, dt, synapses, inputs):
        super().__init__(pop, B, dt, synapses, inputs)
        size = 1024
        self.pending = (np.empty(size, dtype=np.int64), np.empty(size, dtype=np.int64), np.empty(size),
                        np.empty(size, dtype=np.int64), np.empty(size))
        self.pending_n = 0

    def step(self, k, t0, steps=1):
        dt = self.state.dt
        parts = []
        for s in range(k, k + steps):  # the numpy queue (per-synapse delays, drives), as numpy does
            for tg, off, grp, inc in self.queue.pop(s, ()):
                parts.append((tg, off + (s - k) * dt if s > k else off, grp, inc))
        if self.pending_n:
            *events, self.pending_n = take_events(*self.pending, self.pending_n, k, steps, dt)
            parts.append(tuple(events))
        events = None
        if parts:
            events = parts[0] if len(parts) == 1 else tuple(np.concatenate(a) for a in zip(*parts))
        idx, times = self.state.step(self.input(), t0, events, None if steps == 1 else steps * dt)
        self.times = times
        return idx, times - t0

    def snapshot_extra(self):
        return super().snapshot_extra(), tuple(a[:self.pending_n].copy() for a in self.pending)

    def restore_extra(self, extra):
        super().restore_extra(extra[0])
        self.pending = tuple(a.copy() for a in extra[1])
        self.pending_n = extra[1][0].size


class CompiledPreciseRuntime(PreciseRuntime):
    """``Network(timing="precise")`` on the numba backend: the precise runtime with compiled populations."""

    population_class = CompiledPreciseLIFRuntime

    @staticmethod
    def make_link(conn, dt, B, group, target):
        if conn.delays is None:
            return CompiledPreciseConnection(conn, dt, B, group, target)
        return _precise_link(conn, dt, B, group, target)
