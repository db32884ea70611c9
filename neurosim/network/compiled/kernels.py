"""The compiled step loop: numba kernels that run many grid steps of a network per call.

Each kernel repeats, operation for operation, what the numpy runtime does
(:mod:`neurosim.network.runtime`, :class:`neurosim.LIFState`,
:class:`neurosim.network.connections.ConnectionRuntime`), in the same
floating-point order: the same products with the same pre-scaled coefficients,
additions in the same sequence. So both backends produce the same spikes.
No ``fastmath`` (it would reorder and contract the arithmetic); the machine
code is cached on disk (``cache=True``), so compilation is paid once per machine.
Where the order of work differs, results do not: the free LIF update runs as a
branch-free (vectorized) pass over all neurons before refractory neurons and
crossings are settled, per neuron the same operations as numpy's whole-array
passes; ``log1p`` is one ``log`` call (within 2 ulp of libm, which numpy's own
vectorized log1p is not bit-identical to either).

The network is passed as flat arrays plus tables of offsets (int64 / float64
arrays, one row per population, synapse group, connection, emitter, input,
probe), so there is one signature for every network: one compilation, and no
numba containers to build from Python. Column meanings are the constants below,
filled by :mod:`neurosim.network.compiled.runtime`.
"""
import math

import numpy as np
from numba import njit

from ...neurons.fused import arrival_lags
from ...neurons.hh.compiled import exp, expm1, log
from ...neurons.lif.compiled import noisy_step
from ...synapses.delta import _TOL as _JUMP_TOL
from .hh import step as hh_step
from ..._optional import fresh_kernel_cache

fresh_kernel_cache()  # before any cached kernel loads: drop caches older than their sources

# population table (int64 columns); V_OFF indexes v, refractory_end, J, Jd and bias (flat over populations)
P_MODE, P_N, P_HAS_BIAS, P_BIAS_ARRAY, P_T0, P_T1, P_I0, P_I1, P_EMITTER, P_n, P_LOG, P_VOFF, P_PER, P_JUMPS, \
    P_G0, P_G1 = range(16)
P_COLS = 16
# P_G0 .. P_G1: the population's rows of the conductance table (ConductanceInput.terms): arena offset of the
# group's state, stages, offset of its coefficients in ``g_coef``, offsets in ``prm`` of 1/g_L and of E_rev
# per neuron (-1: none / the number in ``g_e``)
G_XOFF, G_NST, G_COEF, G_PN, G_PE, G_PSC = range(6)
G_TCOLS = 6
# G_PSC: -1, or the offset in ``prm`` of the scale per neuron of the conductance's instantaneous current
# (ConductanceInput.instant: peak_scale / g_L; else the number in ``g_sc``), for the "current" probe
# P_JUMPS: -1, or the arena offset of the population's Delta synapse group (jumps due at the step's start)
# P_PER: -1, or the offset in ``prm`` of the population's per-neuron parameters (LIF arrays tau_m / tau_ref),
# four arrays of N: decay, 1 - decay, tau_m, tau_ref (then PF_DECAY etc. hold nothing but PF_TAU_REF, the
# smallest tau_ref, which decides whether spikes may repeat within a step)
PRM_DECAY, PRM_OMD, PRM_TAU_M, PRM_TAU_REF = range(4)
# population table (float64 columns)
PF_DECAY, PF_OMD, PF_FACTOR, PF_TAU_M, PF_TAU_REF, PF_BIAS, PF_BIAS_DECAYED = range(7)
PF_COLS = 7
MODE_CONSTANT, MODE_DIRECT, MODE_GENERAL = 0, 1, 2  # LIFRuntime's three paths (see populations.py)
# term table: one synaptic group read by a population; T_PC: -1, or the offset in ``prm`` of its coefficients
# per neuron (stages x N, stage-major: LIF tau_m per neuron), instead of the row of ``coef``
T_GROUP, T_STAGES, T_DECAYS, T_PC = range(4)
# input table: injected currents, rows of this block at OFF + (k - k0) * WIDTH
I_OFF, I_WIDTH = range(2)
# synapse group table: arena offset, stages, ring length, targets, decays itself, ring offset, A offset
G_OFF, G_STAGES, G_L, G_N, G_SELF_DECAY, G_POFF, G_AOFF, G_DOFF = range(8)
G_COLS = 8
# connection table; C_DENSE: 1 dense rows, 0 CSR rows, 2 CSR rows with a delay per synapse (``sd_early``,
# ``sd_cut`` beside the CSR arrays: SynapseDelayRuntime.early and .cut_at); C_LAGGED: placement="exact" (the
# float table ``con_f`` then holds its delay, tau_s and the boundary tolerance: ConnectionRuntime.deliver)
C_PRE, C_GROUP, C_DELAY, C_DENSE, C_NPRE, C_NPOST, C_WOFF, C_IOFF, C_LAGGED = range(9)
DENSE, CSR, CSR_DELAYS = 1, 0, 2
C_COLS = 9
CF_DELAY, CF_TAU, CF_TOL = range(3)  # CF_TOL: connections._TOL (an argument, not a global frozen into the cache)
CF_COLS = 3
# emitter table: populations, Poisson sources, spike sources; CAP = spikes of one step without repeats
E_KIND, E_INDEX, E_n, E_CAP = range(4)
KIND_POP, KIND_POISSON, KIND_SPIKES, KIND_SILENT = 0, 1, 2, 3  # silent: an independent-per-target source
# drive table (PoissonDrive: counts of an independent-per-target source, weighted, one row per step): target
# group, lead (steps of step k arrive at boundary k + lead), width (B * targets), offset of this block's values
# (rows, width) in the flat array, the block's first step
D_GROUP, D_LEAD, D_WIDTH, D_OFF, D_BASE = range(5)
D_COLS = 5
# Poisson table (this block of draws): spikes offset, bounds offset, first step of the block
PO_IDX, PO_BOUNDS, PO_BASE = range(3)
# spike source table: offset and length in the concatenated arrays, trials, read position
SS_OFF, SS_LEN, SS_B, SS_PTR = range(4)
# sampled probe table: kind, population, every, start step, value offset, samples written in this call, step offset
S_KIND, S_POP, S_EVERY, S_START, S_OFF, S_COUNT, S_SOFF = range(7)
SAMPLE_V, SAMPLE_CURRENT, SAMPLE_FILTERED, SAMPLE_MEAN = range(4)  # S_POP holds the filter row for the last two
# probe filter table ("filtered" / "filtered_mean" probes of populations; SampleBuffer.state and its sums):
# emitter, stages, offset of x (stages x N) in the flat filter states, offset of total and sum (mean only),
# mean?, offset of the transition matrix A (stages x stages) and of the stages' kernel denominators k! tau_s,
# targets
F_EMITTER, F_STAGES, F_XOFF, F_TOFF, F_MEAN, F_AOFF, F_DOFF, F_N = range(8)
F_COLS = 8
# probe filter table (float64): A[0, 0], 1 / tau_s, tau_s, tau_s / dt, 1 / dt, 1 / every
FF_DECAY, FF_INV_TAU, FF_TAU, FF_SCALE, FF_INV_DT, FF_INV_EVERY = range(6)
FF_COLS = 6
# membrane noise table (int64): noisy?, white?, offsets of this block's normals / uniforms / eta, draws per step
NZ_ON, NZ_WHITE, NZ_ZOFF, NZ_UOFF, NZ_EOFF, NZ_KZ, NZ_KU = range(7)
NZ_COLS = 7
# membrane noise table (float64): the LIFState's constants (see neurosim.neurons.lif.compiled.noisy_step)
NF_DECAY, NF_STD, NF_TAU_M, NF_TAU_REF, NF_RATE, NF_VAR, NF_SIGMA, NF_PHI = range(8)
NF_COLS = NF_PHI + 6


@njit(cache=True)
def _grow_i(a, need):
    out = np.empty(max(need, 2 * a.size), dtype=a.dtype)
    out[:a.size] = a
    return out


@njit(cache=True)
def _grow_f(a, need):
    out = np.empty(max(need, 2 * a.size))
    out[:a.size] = a
    return out


@njit(cache=True)
def log1p(x):
    """log(1 + x) for x >= 0 to a few ulp, as log(u) x / (u - 1) with u = 1 + x (Goldberg 1991, Theorem 4):
    one call of log, about 3x faster than the libm log1p numba calls (numpy's own log1p is a vectorized
    implementation with its own last-bit rounding, so neither is bit-identical to it anyway)."""
    u = 1.0 + x
    if u == 1.0:
        return x
    return math.log(u) * (x / (u - 1.0))


@njit(cache=True)
def _time_to_end(J, v, since, tau_m):
    """LIFState._time_to_end for one neuron."""
    if J > v:
        return min(tau_m * log1p((v - 1.0) / (J - v)), since)
    return since


@njit(cache=True)
def _term(out, arena, start, N, coef, t, stages, first):
    """out = (or +=) the term's contribution: x c (one stage) or np.dot(c, x) (c_0 x_0 + c_1 x_1 + ...)."""
    if stages == 1:
        c = coef[t, 0]
        if first:
            for i in range(N):
                out[i] = arena[start + i] * c
        else:
            for i in range(N):
                out[i] = out[i] + arena[start + i] * c
        return
    c0 = coef[t, 0]
    for i in range(N):
        acc = c0 * arena[start + i]
        for s in range(1, stages):
            acc = acc + coef[t, s] * arena[start + s * N + i]
        out[i] = acc if first else out[i] + acc


@njit(cache=True)
def _scale(x, start, N, d):
    y = x[start:start + N]  # a view indexed from 0: LLVM vectorizes it (x[start + i] stays scalar, ~5x slower)
    for i in range(y.size):
        y[i] *= d


@njit(cache=True)
def _term_per_neuron(out, arena, start, N, prm, pc, stages, first):
    """:func:`_term` with coefficients per neuron (populations._weigh: x c, or einsum over the stages)."""
    x = arena[start:start + stages * N]
    c = prm[pc:pc + stages * N]
    for i in range(N):
        acc = x[i] * c[i]
        for s in range(1, stages):
            acc = acc + c[s * N + i] * x[s * N + i]
        out[i] = acc if first else out[i] + acc


@njit(cache=True)
def _input(p, k, k0, pop_i, pop_f, J, Jd, bias, terms, coef, term_decay, arena, grp_i, inp_i, inp_v, prm):
    """Fill Jd (and J in the general path) as LIFRuntime does, term by term (each pass vectorizes)."""
    mode = pop_i[p, P_MODE]
    N, n = pop_i[p, P_N], pop_i[p, P_n]
    has_bias = pop_i[p, P_HAS_BIAS] != 0
    bias_array = pop_i[p, P_BIAS_ARRAY] != 0
    t_lo, t_hi = pop_i[p, P_T0], pop_i[p, P_T1]
    if mode == MODE_DIRECT:  # Jd = sum_t x_t (c_t (1 - decay_m)) (+ bias (1 - decay_m)); each x decays after
        for t in range(t_lo, t_hi):
            g = terms[t, T_GROUP]
            _term(Jd, arena, grp_i[g, G_OFF], N, coef, t, 1, t == t_lo)
            _scale(arena, grp_i[g, G_OFF], N, term_decay[t])
        if has_bias:
            if bias_array:
                for i in range(N):
                    Jd[i] = Jd[i] + bias[i]
            else:
                bd = pop_f[p, PF_BIAS_DECAYED]
                for i in range(N):
                    Jd[i] = Jd[i] + bd
        return
    # general: J = terms + bias + injected currents; Jd = J (1 - decay_m)
    if t_hi > t_lo:
        for t in range(t_lo, t_hi):
            g = terms[t, T_GROUP]
            if terms[t, T_PC] >= 0:
                _term_per_neuron(J, arena, grp_i[g, G_OFF], N, prm, terms[t, T_PC], terms[t, T_STAGES], t == t_lo)
            else:
                _term(J, arena, grp_i[g, G_OFF], N, coef, t, terms[t, T_STAGES], t == t_lo)
            if terms[t, T_DECAYS] != 0:
                _scale(arena, grp_i[g, G_OFF], N, term_decay[t])
        if has_bias:
            if bias_array:
                for i in range(N):
                    J[i] = J[i] + bias[i]
            else:
                bs = pop_f[p, PF_BIAS]
                for i in range(N):
                    J[i] = J[i] + bs
    else:
        for i in range(N):
            J[i] = bias[i]
    for q in range(pop_i[p, P_I0], pop_i[p, P_I1]):  # injected currents, (n,) rows broadcast over the trials
        width = inp_i[q, I_WIDTH]
        row = inp_i[q, I_OFF] + (k - k0) * width
        if width == N:
            for i in range(N):
                J[i] = J[i] + inp_v[row + i]
        else:
            for i in range(N):
                J[i] = J[i] + inp_v[row + i % n]
    per = pop_i[p, P_PER]
    if per >= 0:
        omd_n = prm[per + PRM_OMD * N:per + (PRM_OMD + 1) * N]
        for i in range(N):
            Jd[i] = J[i] * omd_n[i]
        return
    omd = pop_f[p, PF_OMD]
    for i in range(N):
        Jd[i] = J[i] * omd


CHUNK = 32  # neurons per threshold flag: the free update runs as a vectorized loop over each chunk


@njit(cache=True)
def _free_update(v, Jd, decay, flags):
    """v = v decay + Jd (LIFState._step); flags[c] = 1 where chunk c (CHUNK neurons) has some v > 1.

    Whole chunks run as a loop without branches over indices LLVM can prove >= 0, which it vectorizes
    (slices or a variable start would keep it scalar); the few flagged chunks are settled afterwards.
    """
    N = v.size
    full = N // CHUNK
    for c in range(full):
        lo = c * CHUNK
        f = 0
        for j in range(CHUNK):
            vi = v[lo + j] * decay + Jd[lo + j]
            v[lo + j] = vi
            f |= vi > 1.0
        flags[c] = f
    if full < flags.size:
        f = 0
        for i in range(full * CHUNK, N):
            vi = v[i] * decay + Jd[i]
            v[i] = vi
            f |= vi > 1.0
        flags[full] = f


@njit(cache=True)
def _free_update_per_neuron(v, Jd, decay, flags):
    """:func:`_free_update` with a decay per neuron."""
    N = v.size
    full = N // CHUNK
    for c in range(full):
        lo = c * CHUNK
        f = 0
        for j in range(CHUNK):
            vi = v[lo + j] * decay[lo + j] + Jd[lo + j]
            v[lo + j] = vi
            f |= vi > 1.0
        flags[c] = f
    if full < flags.size:
        f = 0
        for i in range(full * CHUNK, N):
            vi = v[i] * decay[i] + Jd[i]
            v[i] = vi
            f |= vi > 1.0
        flags[full] = f


@njit(cache=True)
def _direct_update(v, Jd, x0, x1, two, c0, c1, d0, d1, bias_array, bias_d, bias, decay, flags):
    """The direct path (LIFRuntime._step_direct) with one or two n = 0 synapse groups in one pass:
    Jd = x0 c0 (+ x1 c1) (+ bias (1 - decay_m)), each x decayed after it is read (Jd kept for J = Jd / (1 -
    decay_m) at spikes), then the free update and flags as :func:`_free_update`, one explicit branch-free
    loop per variant so that each vectorizes. ``bias_d`` is 0.0 without a bias (adding +0.0 changes no value
    but the sign of a zero, which no later operation sees)."""
    N = v.size
    full = N // CHUNK
    for c in range(full):
        lo = c * CHUNK
        f = 0
        if two and not bias_array:
            for j in range(CHUNK):
                i = lo + j
                jd = x0[i] * c0
                x0[i] *= d0
                jd = jd + x1[i] * c1
                x1[i] *= d1
                jd = jd + bias_d
                Jd[i] = jd
                vi = v[i] * decay + jd
                v[i] = vi
                f |= vi > 1.0
        elif not bias_array:
            for j in range(CHUNK):
                i = lo + j
                jd = x0[i] * c0
                x0[i] *= d0
                jd = jd + bias_d
                Jd[i] = jd
                vi = v[i] * decay + jd
                v[i] = vi
                f |= vi > 1.0
        elif two:
            for j in range(CHUNK):
                i = lo + j
                jd = x0[i] * c0
                x0[i] *= d0
                jd = jd + x1[i] * c1
                x1[i] *= d1
                jd = jd + bias[i]
                Jd[i] = jd
                vi = v[i] * decay + jd
                v[i] = vi
                f |= vi > 1.0
        else:
            for j in range(CHUNK):
                i = lo + j
                jd = x0[i] * c0
                x0[i] *= d0
                jd = jd + bias[i]
                Jd[i] = jd
                vi = v[i] * decay + jd
                v[i] = vi
                f |= vi > 1.0
        flags[c] = f
    if full < flags.size:
        f = 0
        for i in range(full * CHUNK, N):  # the tail, in line (a call per neuron costs more than its work)
            jd = x0[i] * c0
            x0[i] *= d0
            if two:
                jd = jd + x1[i] * c1
                x1[i] *= d1
            jd = jd + (bias[i] if bias_array else bias_d)
            Jd[i] = jd
            vi = v[i] * decay + jd
            v[i] = vi
            f |= vi > 1.0
        flags[full] = f


@njit(cache=True, error_model="numpy")
def _settle(v, rend, J, Jd, direct, factor, tm, tr, t0, dt, refr, n_refr, flags, idx, off, Jsp, ends_i, ends_x,
            count0):
    """LIFState._step_updated after the free update: refractory neurons, then threshold crossings.

    ``tm``, ``tr``: tau_m and tau_ref, one value (shape (1,)) or one per neuron.
    ``refr[:n_refr]`` lists every neuron with ``refractory_end > t0`` (and maybe some whose period is over),
    as LIFState._refractory does; returns the spike count and the new list length. J is read only for
    refractory and spiking neurons (numpy's ``_Unscaled``: Jd * factor when direct). Spikes are found chunk
    by chunk in ascending neuron order, as numpy's nonzero gives them, and written from ``count0`` on (after
    the spikes of Delta jumps at t0). The exponentials and logarithms run in compact passes without branches
    (vectorized; :func:`neurosim.neurons.hh.compiled.expm1` and ``log``) over the neurons gathered first;
    ``ends_i``, ``ends_x``: scratch (n,).
    """
    t1 = t0 + dt
    kept = 0
    ne = 0
    per = 1 if tm.size > 1 else 0  # index i * per: the neuron's value, or the one value
    pr = 1 if tr.size > 1 else 0
    for q in range(n_refr):  # held at 0, then integrating from 0 where the period ends inside the step
        i = refr[q]
        re = rend[i]
        if re <= t0:
            continue
        if re < t1:
            ends_i[ne] = i
            ends_x[ne] = (re - t1) / tm[i * per]
            ne += 1
        else:
            refr[kept] = i  # still refractory at the end of the step
            kept += 1
            v[i] = 0.0
    for q in range(ne):
        ends_x[q] = -expm1(ends_x[q])
    for q in range(ne):
        i = ends_i[q]
        Ji = Jd[i] * factor if direct else J[i]
        vi = Ji * ends_x[q]
        v[i] = vi
        if vi > 1.0:
            flags[i // CHUNK] = 1
    count = count0
    N = v.size
    for c in range(flags.size):
        if flags[c] == 0:
            continue
        for i in range(c * CHUNK, min(c * CHUNK + CHUNK, N)):
            vi = v[i]
            if vi > 1.0:
                Ji = Jd[i] * factor if direct else J[i]
                idx[count] = i  # the buffers hold >= count0 + N entries: no growth in this pass
                Jsp[count] = Ji
                off[count] = (vi - 1.0) / (Ji - vi) if Ji > vi else -1.0  # -1: v above J (see _time_to_end)
                ends_x[count - count0] = t1 - max(rend[i], t0)  # time integrated in this step
                count += 1
                refr[kept] = i
                kept += 1
    for q in range(count0, count):  # _time_to_end, log1p inlined: min(tau_m log1p(x), since), or since
        x = off[q]
        u = 1.0 + x
        lg = log(u) * (x / (u - 1.0))
        lg = x if u == 1.0 else lg
        since = ends_x[q - count0]
        off[q] = since if x < 0.0 else min(tm[int(idx[q]) * per] * lg, since)
    for q in range(count0, count):
        i = int(idx[q])
        tau_m, tau_ref = tm[i * per], tr[i * pr]
        u = off[q]
        st = t1 - u
        rend[i] = st + tau_ref
        vi = 0.0
        if tau_ref < dt:
            rest = u - tau_ref
            vi = Jsp[q] * -expm1(-max(rest, 0.0) / tau_m) if rest > 0 else 0.0
        v[i] = vi
        off[q] = st - t0
    return count, kept


@njit(cache=True)
def _conductance_step(p, pop_i, g_i, g_coef, g_e, prm, arena, J, tm, dt, g, gE, tmp, J_eff, dec, J_dec, tau_eff):
    """ConductanceInput.sums and LIFState._step_conductance up to the free update: from J (the current
    input) fill J_eff, the decay and J (1 - decay) per neuron, and tau_eff = tau_m / (1 + g) (the few neurons
    the settle reads; computed for all, the same division)."""
    N = J.size
    per = 1 if tm.size > 1 else 0
    for t in range(pop_i[p, P_G0], pop_i[p, P_G1]):
        first = t == pop_i[p, P_G0]
        out = g if first else tmp
        xo, stages, co = g_i[t, G_XOFF], g_i[t, G_NST], g_i[t, G_COEF]
        c0 = g_coef[co]
        x = arena[xo:xo + stages * N]  # a view indexed from 0 (see _scale)
        if stages == 1:
            for i in range(N):
                out[i] = c0 * x[i]
        else:
            for i in range(N):
                acc = c0 * x[i]
                for s in range(1, stages):
                    acc = acc + g_coef[co + s] * x[s * N + i]
                out[i] = acc
        if g_i[t, G_PN] >= 0:  # 1/g_L per neuron, after the stages
            pn = g_i[t, G_PN]
            for i in range(N):
                out[i] *= prm[pn + i]
        pe = g_i[t, G_PE]
        e = g_e[t]
        for i in range(N):
            ei = prm[pe + i] if pe >= 0 else e
            if first:
                gE[i] = g[i] * ei
            else:
                g[i] += tmp[i]
                tmp[i] *= ei
                gE[i] += tmp[i]
    # branch-free passes over whole arrays (each vectorizes): J_eff, tau_eff and the exponent; the exponential
    # (hh.compiled.exp, vectorizable, ~1 ulp of libm); J (1 - decay)
    if per:
        for i in range(N):
            total = g[i] + 1.0
            J_eff[i] = (J[i] + gE[i]) / total
            dec[i] = total * (-dt / tm[i])
            tau_eff[i] = tm[i] / total
    else:
        tau_m = tm[0]
        rate = -dt / tau_m
        for i in range(N):
            total = g[i] + 1.0
            J_eff[i] = (J[i] + gE[i]) / total
            dec[i] = total * rate
            tau_eff[i] = tau_m / total
    for i in range(N):
        dec[i] = exp(dec[i])
    for i in range(N):
        J_dec[i] = (1.0 - dec[i]) * J_eff[i]


@njit(cache=True)
def _apply_jumps(v, rend, jumps, tr, t0, dt, refr, n_refr, out_idx, out_off):
    """neurosim.synapses.delta.apply_jumps: the jumps due at t0 into v (and cleared); the neurons they lift to
    v >= 1 and not refractory fire at t0 (offsets 0, into ``out_*`` from 0, ascending), reset and refractory from
    t0, appended to ``refr[:n_refr]`` (the refractory list; ``n_refr < 0``: none yet, every neuron is a
    candidate, as numpy's ``_refr is None``). Returns (fired, new list length)."""
    tol = _JUMP_TOL * dt
    per = 1 if tr.size > 1 else 0
    N = v.size
    if n_refr < 0:  # a period ending at t0 itself (up to rounding) still discards the jump
        for i in range(N):
            if abs(rend[i] - t0) <= tol:
                rend[i] = t0 + tol
    else:
        for q in range(n_refr):
            i = refr[q]
            if abs(rend[i] - t0) <= tol:
                rend[i] = t0 + tol
    fired = 0
    for i in range(N):
        vi = v[i] + jumps[i]
        jumps[i] = 0.0
        if vi >= 1.0 and rend[i] <= t0:
            vi = 0.0
            rend[i] = t0 + tr[i * per]
            out_idx[fired] = i
            out_off[fired] = 0.0
            fired += 1
            if n_refr >= 0:
                refr[n_refr] = i
                n_refr += 1
        v[i] = vi
    return fired, n_refr


@njit(cache=True)
def _repeat_passes(sp, e, count0, count, v, rend, t0, t1, tm, tr):
    """Refractory periods that end inside the step: further spikes (LIFState._spike_passes_exact), pass by pass
    (``tm``, ``tr`` as in :func:`_settle`); the step's spikes are ``count0 .. count - 1``."""
    idx, off, Jsp = sp[0][e], sp[1][e], sp[2][e]
    per = 1 if tm.size > 1 else 0
    pr = 1 if tr.size > 1 else 0
    lo, hi = count0, count
    while hi > lo:
        for s in range(lo, hi):
            i = int(idx[s])
            if v[i] > 1.0:
                Ji = Jsp[s]
                tau_m, tau_ref = tm[i * per], tr[i * pr]
                u = _time_to_end(Ji, v[i], t1 - rend[i], tau_m)
                st = t1 - u
                rend[i] = st + tau_ref
                rest = u - tau_ref
                v[i] = Ji * -math.expm1(-max(rest, 0.0) / tau_m) if rest > 0 else 0.0
                if count >= idx.size:
                    idx, off, Jsp = _grow_f(idx, count + 1), _grow_f(off, count + 1), _grow_f(Jsp, count + 1)
                    sp[0][e], sp[1][e], sp[2][e] = idx, off, Jsp
                idx[count] = i
                off[count] = st - t0
                Jsp[count] = Ji
                count += 1
        lo, hi = hi, count
    return count


@njit(cache=True)
def _decay_stages(x, o, stages, N, decay, A_flat, a, col):
    """PSCState.advance of the stages x[o : o + stages N] (stage-major): x = decay x, or x = A x column by column."""
    if stages == 1:
        _scale(x, o, N, decay)
        return
    for i in range(N):
        for r in range(stages):
            col[r] = x[o + r * N + i]
        for r in range(stages):
            acc = A_flat[a + r * stages] * col[0]
            for c in range(1, stages):
                acc = acc + A_flat[a + r * stages + c] * col[c]
            x[o + r * N + i] = acc


@njit(cache=True)
def _filter_spikes(f, flt_i, flt_f, flt_den, flt_x, flt_sum, spikes, offsets, count, dt):
    """A probe filter's propagate and record phases (runtime._filter_spikes, _accumulate_mean) for one step.

    "filtered": stage 0 += 1 / tau_s per spike (np.add.at). "filtered_mean": each stage k += h_k(dt - offset)
    (neurosim.network.probes.add_lagged: ``exp(-lag / tau) / tau`` for one stage, else
    ``x^k exp(-x) / (k! tau)``, x = max(lag, 0) / tau), and the running sum += 1 / dt per spike.
    """
    N, stages, xo = flt_i[f, F_N], flt_i[f, F_STAGES], flt_i[f, F_XOFF]
    inv_tau = flt_f[f, FF_INV_TAU]
    if flt_i[f, F_MEAN] == 0:
        for s in range(count):
            flt_x[xo + int(spikes[s])] += inv_tau
        return
    if stages == 1:
        for s in range(count):
            lag = dt - offsets[s]
            flt_x[xo + int(spikes[s])] += math.exp(-lag * inv_tau) * inv_tau
    else:
        tau = flt_f[f, FF_TAU]
        a = flt_i[f, F_DOFF]
        for order in range(stages):
            den, power = flt_den[a + order], float(order)  # x ** k as numpy computes it: libm pow
            for s in range(count):
                x = max(dt - offsets[s], 0.0) / tau
                flt_x[xo + order * N + int(spikes[s])] += math.pow(x, power) * math.exp(-x) / den
    to, inv_dt = flt_i[f, F_TOFF], flt_f[f, FF_INV_DT]
    for s in range(count):
        flt_sum[to + int(spikes[s])] += inv_dt


@njit(cache=True)
def _advance_group(g, m, grp_i, grp_f, arena, A_flat, pend, dirty, col):
    """SynapseGroup.advance_and_deliver(m)."""
    o, stages, L, N = grp_i[g, G_OFF], grp_i[g, G_STAGES], grp_i[g, G_L], grp_i[g, G_N]
    if grp_i[g, G_SELF_DECAY] != 0:
        _decay_stages(arena, o, stages, N, grp_f[g], A_flat, grp_i[g, G_AOFF], col)
    if L > 1:
        slot = m % L
        d = grp_i[g, G_DOFF] + slot
        if dirty[d] != 0:
            base = grp_i[g, G_POFF] + slot * stages * N
            top = N if dirty[d] == 1 else stages * N
            for i in range(top):
                arena[o + i] += pend[base + i]
            for i in range(stages * N):
                pend[base + i] = 0.0
            dirty[d] = 0


@njit(cache=True)
def _propagate(c, m, rel, con_i, grp_i, arena, pend, dirty, rows, indptr, indices, data, spikes, count, acc):
    """ConnectionRuntime.scatter of spikes into the target group, arriving ``rel`` boundaries after m (0: now)."""
    g = con_i[c, C_GROUP]
    delay = rel
    if delay == 0:
        target, t_off = arena, grp_i[g, G_OFF]
    else:
        L = grp_i[g, G_L]
        slot = (m + delay) % L
        d = grp_i[g, G_DOFF] + slot
        if dirty[d] == 0:
            dirty[d] = 1
        target, t_off = pend, grp_i[g, G_POFF] + slot * grp_i[g, G_STAGES] * grp_i[g, G_N]
    n_pre, n_post = con_i[c, C_NPRE], con_i[c, C_NPOST]
    w = con_i[c, C_WOFF]
    if con_i[c, C_DENSE] != 0:
        # per trial: the rows summed in spike order (rows[spiked].sum(axis=0)), then added to the target
        s = 0
        while s < count:
            trial = int(spikes[s]) // n_pre
            first = int(spikes[s]) - trial * n_pre
            s2 = s + 1
            while s2 < count and int(spikes[s2]) // n_pre == trial:
                s2 += 1
            base = t_off + trial * n_post
            r0 = w + first * n_post
            if s2 == s + 1:
                for i in range(n_post):
                    target[base + i] += rows[r0 + i]
            else:
                for i in range(n_post):
                    acc[i] = rows[r0 + i]
                for r in range(s + 1, s2):
                    rj = w + (int(spikes[r]) - trial * n_pre) * n_post
                    for i in range(n_post):
                        acc[i] += rows[rj + i]
                for i in range(n_post):
                    target[base + i] += acc[i]
            s = s2
    else:
        ioff = con_i[c, C_IOFF]
        for s in range(count):
            trial = int(spikes[s]) // n_pre
            j = int(spikes[s]) - trial * n_pre
            base = t_off + trial * n_post
            for q in range(indptr[w + j], indptr[w + j + 1]):
                target[base + indices[ioff + q]] += data[ioff + q]


@njit(cache=True)
def _propagate_delays(c, m, con_i, grp_i, arena, pend, dirty, indptr, indices, data, sd_early, sd_cut, spikes,
                      offsets, count):
    """SynapseDelayRuntime.deliver: each synapse's spike reaches the boundary ``early + (offset >= cut)`` after
    m (0: now, into stage 0; else its ring slot, marked), in spike order, synapse by synapse (np.add.at's
    order for each target)."""
    g = con_i[c, C_GROUP]
    n_pre, n_post = con_i[c, C_NPRE], con_i[c, C_NPOST]
    w, ioff = con_i[c, C_WOFF], con_i[c, C_IOFF]
    o, L = grp_i[g, G_OFF], grp_i[g, G_L]
    ring = grp_i[g, G_STAGES] * grp_i[g, G_N]
    for s in range(count):
        flat = int(spikes[s])
        trial = flat // n_pre
        j = flat - trial * n_pre
        off = offsets[s]
        base = trial * n_post
        for q in range(indptr[w + j], indptr[w + j + 1]):
            rel = sd_early[ioff + q] + (1 if off >= sd_cut[ioff + q] else 0)
            t = base + indices[ioff + q]
            if rel == 0:
                arena[o + t] += data[ioff + q]
            else:
                slot = (m + rel) % L
                d = grp_i[g, G_DOFF] + slot
                if dirty[d] == 0:
                    dirty[d] = 1
                pend[grp_i[g, G_POFF] + slot * ring + t] += data[ioff + q]


@njit(cache=True)
def _propagate_lagged(c, m, con_i, grp_i, arena, pend, dirty, rows, indptr, indices, data, spikes, count, rel,
                      lag, tau, fac, acc):
    """ConnectionRuntime.deliver with placement="exact": spike s arrives ``lag[s]`` (s) before the boundary
    ``rel[s]`` after m (:func:`neurosim.neurons.fused.arrival_lags`) and adds ``w tau h_k(lag)`` into every
    stage k of the target (scatter_lagged: x = lag / tau_s, factor_k = x^k / k! exp(-x), the power updated as
    ``power * x / (k + 1)``). CSR rows add in spike order per target (np.add.at's order: the same sums); dense
    rows are summed per run of spikes of one trial and one arrival step, then added: in a batch, spikes sorted
    by flat index within an arrival step, as numpy's sparse product sums them (a busy step goes through one
    BLAS product there, and without a batch numpy's product has its own order: equal to rounding)."""
    g = con_i[c, C_GROUP]
    stages, N, L = grp_i[g, G_STAGES], grp_i[g, G_N], grp_i[g, G_L]
    n_pre, n_post = con_i[c, C_NPRE], con_i[c, C_NPOST]
    w = con_i[c, C_WOFF]
    for s in range(count):  # the factors of every spike and stage
        x = lag[s] / tau
        decay = math.exp(-x)
        power = 1.0
        for k in range(stages):
            fac[s * stages + k] = power * decay
            power = power * x / (k + 1)
    for s in range(count):  # the arrival slots, marked (all stages)
        if rel[s] > 0:
            d = grp_i[g, G_DOFF] + (m + rel[s]) % L
            dirty[d] = 2
    dense = con_i[c, C_DENSE] != 0
    ioff = con_i[c, C_IOFF]
    if dense and N > n_post and count > 1:  # a batch: (arrival step, flat index) order, stable
        key = np.empty(count, dtype=np.int64)
        for s in range(count):
            key[s] = rel[s] * N + int(spikes[s])
        order = np.argsort(key, kind="mergesort")
        spikes, rel = spikes[:count][order], rel[:count][order]
        f_sorted = np.empty(count * stages)
        for s in range(count):
            for k in range(stages):
                f_sorted[s * stages + k] = fac[order[s] * stages + k]
        fac = f_sorted
    s = 0
    while s < count:
        flat = int(spikes[s])
        trial = flat // n_pre
        r = rel[s]
        s2 = s + 1
        if dense:
            while s2 < count and int(spikes[s2]) // n_pre == trial and rel[s2] == r:
                s2 += 1
        if r == 0:
            target, t_off = arena, grp_i[g, G_OFF]
        else:
            target, t_off = pend, grp_i[g, G_POFF] + ((m + r) % L) * stages * N
        base = t_off + trial * n_post
        for k in range(stages):
            b = base + k * N
            if dense:
                f = fac[s * stages + k]
                r0 = w + (flat - trial * n_pre) * n_post
                if s2 == s + 1:
                    for i in range(n_post):
                        target[b + i] += rows[r0 + i] * f
                else:
                    for i in range(n_post):
                        acc[i] = rows[r0 + i] * f
                    for q in range(s + 1, s2):
                        fq = fac[q * stages + k]
                        rj = w + (int(spikes[q]) - trial * n_pre) * n_post
                        for i in range(n_post):
                            acc[i] += rows[rj + i] * fq
                    for i in range(n_post):
                        target[b + i] += acc[i]
            else:
                f = fac[s * stages + k]
                j = flat - trial * n_pre
                for q in range(indptr[w + j], indptr[w + j + 1]):
                    target[b + indices[ioff + q]] += data[ioff + q] * f
        s = s2


@njit(cache=True)
def run_steps(k0, k1, dt,
              pop_i, pop_f, v, rend, J, Jd, bias,
              terms, coef, term_decay,
              inp_i, inp_v,
              grp_i, grp_f, arena, A_flat, pend, dirty,
              con_i, rows, indptr, indices, data, cuts,
              em_i, po_i, po_idx, po_bounds, ss_i, ss_m, ss_idx,
              smp_i, smp_out, smp_steps,
              log_k, log_e, log_i, log_o, max_log, log_times, rec_t0,
              nz_i, nz_f, nz, nu, eta, hh,
              flt_i, flt_f, flt_den, flt_A, flt_x, flt_tot, flt_sum, prm, dr_i, dr_v, refr, n_refr, sd_early, sd_cut,
              g_i, g_coef, g_e, con_f, g_sc):
    """Commit steps k0 .. k1-1 in the numpy runtime's order; returns the spike log, its length and the end step.

    The log holds every spike of the populations flagged ``P_LOG``: step, emitter, flat index, offset (s);
    with ``log_times`` (one population logs, for one exact spike probe) only the index and the time
    ``rec_t0 + step dt + offset``, as that probe's SpikeRecorder stores it.
    ``refr`` (2 N per population, at twice its v offset) and ``n_refr`` hold each population's list of
    refractory neurons (LIFState._refr, whose exact content decides which Delta jumps are discarded; -1: none
    yet), taken from and handed back to the numpy state.
    Noisy populations (``nz_i[p, NZ_ON]``) step with :func:`noisy_step` on this block's pre-drawn numbers
    (``nz``, ``nu``: per population, steps k0 .. k1-1, each (draws per step, N)) and their noise current ``eta``.
    Probe filters (``flt_i``, "filtered" / "filtered_mean" probes of populations) advance, take their
    population's spikes and are sampled in the numpy runtime's phases (:func:`_filter_spikes`); their states
    ``flt_x`` (stages, N per filter), ``flt_tot`` and ``flt_sum`` (the running integral of a mean) are flat.
    Once it holds more than ``max_log`` spikes the call returns early, at the end of a step (the returned end
    step is then below k1), so its memory stays bounded.
    Hodgkin-Huxley populations (``hh[0][p, 0]``) step with :func:`neurosim.network.compiled.hh.step` on the
    tables ``hh`` (:class:`neurosim.network.compiled.hh.HHTables`).
    """
    P, E, C = pop_i.shape[0], em_i.shape[0], con_i.shape[0]
    # spikes of the current step per emitter (flat index, offset, J at the spike): lists of growable arrays
    sp = ([np.empty(max(em_i[e, E_CAP], 1)) for e in range(E)], [np.empty(max(em_i[e, E_CAP], 1)) for e in range(E)],
          [np.empty(max(em_i[e, E_CAP], 1)) for e in range(E)])
    sp_n = np.zeros(E, dtype=np.int64)
    col = np.empty(max(1, grp_i[:, G_STAGES].max() if grp_i.shape[0] else 1,
                       flt_i[:, F_STAGES].max() if flt_i.shape[0] else 1))
    acc = np.empty(max(1, con_i[:, C_NPOST].max()) if C else 1)
    split = np.empty(1)
    lag_rel, lag_t, lag_fac = np.empty(1, dtype=np.int64), np.empty(1), np.empty(1)  # exact placement's scratch
    n_log = 0
    # per population: threshold flags per chunk, and the list of refractory neurons (rebuilt here by a scan)
    f_off = np.zeros(P + 1, dtype=np.int64)
    for p in range(P):
        f_off[p + 1] = f_off[p] + (pop_i[p, P_N] + CHUNK - 1) // CHUNK
    flags = np.zeros(max(f_off[P], 1), dtype=np.int64)
    n_max, n_noisy, n_cond = 1, 1, 1  # scratch sizes: the largest population (with noise, with conductances)
    for p in range(P):
        n_max = max(n_max, pop_i[p, P_N])
        if nz_i[p, NZ_ON] != 0:
            n_noisy = max(n_noisy, pop_i[p, P_N])
        if pop_i[p, P_G1] > pop_i[p, P_G0]:
            n_cond = max(n_cond, pop_i[p, P_N])
    nz_slow, nz_a, nz_start = np.empty(n_noisy, dtype=np.int64), np.empty(n_noisy), np.empty(n_noisy)
    nz_near = np.empty(n_noisy, dtype=np.bool_)
    st_i, st_x = np.empty(2 * n_max, dtype=np.int64), np.empty(2 * n_max)  # the settle's scratch (lists up to 2 N)
    cg, cgE, ctmp, cJe, cdec, cJd, ctau = (np.empty(n_cond), np.empty(n_cond), np.empty(n_cond), np.empty(n_cond),
                                          np.empty(n_cond), np.empty(n_cond), np.empty(n_cond))
    for k in range(k0, k1):
        t0 = k * dt
        m = k + 1
        # 1. neurons
        for p in range(P):
            e = pop_i[p, P_EMITTER]
            o, N = pop_i[p, P_VOFF], pop_i[p, P_N]
            vv, rr, JJ, JD = v[o:o + N], rend[o:o + N], J[o:o + N], Jd[o:o + N]
            fl = flags[f_off[p]:f_off[p + 1]]
            mode = pop_i[p, P_MODE]
            tau_ref = pop_f[p, PF_TAU_REF]  # the smallest, with parameters per neuron
            per = pop_i[p, P_PER]
            if per >= 0:
                tm, tr = prm[per + PRM_TAU_M * N:per + (PRM_TAU_M + 1) * N], prm[per + PRM_TAU_REF * N:per + (PRM_TAU_REF + 1) * N]
            else:
                tm, tr = pop_f[p, PF_TAU_M:PF_TAU_M + 1], pop_f[p, PF_TAU_REF:PF_TAU_REF + 1]
            t_lo, nt = pop_i[p, P_T0], pop_i[p, P_T1] - pop_i[p, P_T0]
            fired = 0
            if pop_i[p, P_JUMPS] >= 0:  # Delta synapses: jumps at t0 first (LIFRuntime.step)
                ja = pop_i[p, P_JUMPS]
                fired, n_refr[p] = _apply_jumps(vv, rr, arena[ja:ja + N], tr, t0, dt, refr[2 * o:2 * o + 2 * N],
                                                n_refr[p], sp[0][e], sp[1][e])
            if n_refr[p] < 0:  # no list yet (numpy's _refr is None): LIFState._refractory scans
                n_refr[p] = 0
                for i in range(N):
                    if rr[i] > t0:
                        refr[2 * o + n_refr[p]] = i
                        n_refr[p] += 1
            is_hh = hh[0][p, 0] != 0
            if is_hh:  # Hodgkin-Huxley: J as _Base.input, then one step of the HH kernel
                _input(p, k, k0, pop_i, pop_f, JJ, JD, bias[o:o + N], terms, coef, term_decay, arena, grp_i,
                       inp_i, inp_v, prm)
                cnt = hh_step(p, k, hh, JJ, vv, sp[0][e], sp[1][e])
            elif nz_i[p, NZ_ON] != 0:  # membrane noise: LIFState._step_noisy
                if mode != MODE_CONSTANT:
                    _input(p, k, k0, pop_i, pop_f, JJ, JD, bias[o:o + N], terms, coef, term_decay, arena, grp_i,
                           inp_i, inp_v, prm)
                kz, ku = nz_i[p, NZ_KZ], nz_i[p, NZ_KU]
                zo, uo, eo = nz_i[p, NZ_ZOFF] + (k - k0) * kz * N, nz_i[p, NZ_UOFF] + (k - k0) * ku * N, nz_i[p, NZ_EOFF]
                white = nz_i[p, NZ_WHITE] != 0
                cnt = noisy_step(k, dt, vv, rr, eta[eo:eo + N] if not white else eta[0:1], JJ, JD,
                                 nz_f[p, NF_DECAY:NF_DECAY + 1], nz_f[p, NF_STD:NF_STD + 1],
                                 nz_f[p, NF_TAU_M:NF_TAU_M + 1], nz_f[p, NF_TAU_REF:NF_TAU_REF + 1],
                                 nz_f[p, NF_RATE:NF_RATE + 1], nz_f[p, NF_VAR:NF_VAR + 1], nz_f[p, NF_SIGMA], white,
                                 nz_f[p, NF_PHI:NF_PHI + 6], nz[zo:zo + kz * N].reshape((kz, N)),
                                 nu[uo:uo + ku * N].reshape((ku, N)), nz_slow, nz_a, nz_start, nz_near,
                                 sp[0][e], sp[1][e], 0)
                if cnt < 0:
                    raise RuntimeError("internal: a neuron spiked more often in one step than its refractory "
                                       "period allows")
            elif mode == MODE_DIRECT and nt <= 2:  # the common case (e.g. CUBA): one pass over the neurons
                g0 = grp_i[terms[t_lo, T_GROUP], G_OFF]
                g1 = grp_i[terms[t_lo + nt - 1, T_GROUP], G_OFF]
                has_bias = pop_i[p, P_HAS_BIAS] != 0
                _direct_update(vv, JD, arena[g0:g0 + N], arena[g1:g1 + N], nt == 2, coef[t_lo, 0],
                               coef[t_lo + nt - 1, 0], term_decay[t_lo], term_decay[t_lo + nt - 1],
                               has_bias and pop_i[p, P_BIAS_ARRAY] != 0,
                               pop_f[p, PF_BIAS_DECAYED] if has_bias else 0.0, bias[o:o + N], pop_f[p, PF_DECAY], fl)
            elif pop_i[p, P_G1] > pop_i[p, P_G0]:  # conductances: the membrane with tau_eff of this step
                _input(p, k, k0, pop_i, pop_f, JJ, JD, bias[o:o + N], terms, coef, term_decay, arena, grp_i,
                       inp_i, inp_v, prm)
                _conductance_step(p, pop_i, g_i, g_coef, g_e, prm, arena, JJ, tm, dt, cg[:N], cgE[:N], ctmp[:N],
                                  cJe[:N], cdec[:N], cJd[:N], ctau[:N])
                _free_update_per_neuron(vv, cJd[:N], cdec[:N], fl)
            else:
                if mode != MODE_CONSTANT:  # constant: J (the bias) and Jd were computed once, at build
                    _input(p, k, k0, pop_i, pop_f, JJ, JD, bias[o:o + N], terms, coef, term_decay, arena, grp_i,
                           inp_i, inp_v, prm)
                if per >= 0 and pop_i[p, P_MODE] != MODE_DIRECT:
                    _free_update_per_neuron(vv, JD, prm[per + PRM_DECAY * N:per + (PRM_DECAY + 1) * N], fl)
                else:
                    _free_update(vv, JD, pop_f[p, PF_DECAY], fl)
            if not is_hh and pop_i[p, P_G1] > pop_i[p, P_G0]:  # J_eff and tau_eff for refractory and spiking ones
                cnt, n_refr[p] = _settle(vv, rr, cJe[:N], cJd[:N], False, 1.0, ctau[:N], tr, t0, dt,
                                         refr[2 * o:2 * o + 2 * N], n_refr[p], fl, sp[0][e], sp[1][e], sp[2][e],
                                         st_i, st_x, fired)
                if tau_ref < dt and cnt > fired:
                    cnt = _repeat_passes(sp, e, fired, cnt, vv, rr, t0, t0 + dt, ctau[:N], tr)
            elif nz_i[p, NZ_ON] == 0 and not is_hh:
                cnt, n_refr[p] = _settle(vv, rr, JJ, JD, mode == MODE_DIRECT, pop_f[p, PF_FACTOR], tm, tr,
                                         t0, dt, refr[2 * o:2 * o + 2 * N], n_refr[p], fl, sp[0][e], sp[1][e], sp[2][e],
                                         st_i, st_x, fired)
                if tau_ref < dt and cnt > fired:
                    cnt = _repeat_passes(sp, e, fired, cnt, vv, rr, t0, t0 + dt, tm, tr)
            sp_n[e] = cnt
            if pop_i[p, P_LOG] != 0 and cnt:
                need = n_log + cnt  # each array grows on its own (no bounds checks: never write past one)
                if need > log_i.size:
                    log_i = _grow_i(log_i, need)
                if need > log_o.size:
                    log_o = _grow_f(log_o, need)
                idx, off = sp[0][e], sp[1][e]
                if log_times:  # one exact spike probe: its stored form directly, t0 + step dt + offset
                    tk = rec_t0 + np.float64(k) * dt
                    for s in range(cnt):
                        log_i[n_log] = int(idx[s])
                        log_o[n_log] = tk + off[s]
                        n_log += 1
                else:
                    if need > log_k.size:
                        log_k = _grow_i(log_k, need)
                    if need > log_e.size:
                        log_e = _grow_i(log_e, need)
                    for s in range(cnt):
                        log_k[n_log] = k
                        log_e[n_log] = e
                        log_i[n_log] = int(idx[s])
                        log_o[n_log] = off[s]
                        n_log += 1
        # 2. sources: the spikes delivered at m dt
        for e in range(E):
            kind = em_i[e, E_KIND]
            if kind == KIND_POP or kind == KIND_SILENT:
                continue
            src = em_i[e, E_INDEX]
            if kind == KIND_POISSON:
                b = po_i[src, PO_BOUNDS] + k - po_i[src, PO_BASE]
                lo, hi = po_bounds[b], po_bounds[b + 1]
                cnt = hi - lo
                if cnt > sp[0][e].size:
                    sp[0][e] = _grow_f(sp[0][e], cnt)
                out = sp[0][e]
                base = po_i[src, PO_IDX]
                for s in range(cnt):
                    out[s] = po_idx[base + lo + s]
            else:
                so, sl = ss_i[src, SS_OFF], ss_i[src, SS_LEN]
                a = ss_i[src, SS_PTR]
                while a < sl and ss_m[so + a] < m:
                    a += 1
                b2 = a
                while b2 < sl and ss_m[so + b2] == m:
                    b2 += 1
                ss_i[src, SS_PTR] = b2
                B, n = ss_i[src, SS_B], em_i[e, E_n]
                cnt = (b2 - a) * B
                if cnt > sp[0][e].size:
                    sp[0][e] = _grow_f(sp[0][e], cnt)
                out = sp[0][e]
                s = 0
                for trial in range(B):  # the same spikes in every trial, trial-major
                    for q in range(a, b2):
                        out[s] = trial * n + ss_idx[so + q]
                        s += 1
            sp_n[e] = cnt
        # 3. synapses advance to m dt, delayed spikes due now arrive
        for g in range(grp_i.shape[0]):
            _advance_group(g, m, grp_i, grp_f, arena, A_flat, pend, dirty, col)
        for q in range(dr_i.shape[0]):  # the drives add step k's weighted counts (PoissonDrive.deliver)
            g, rel = dr_i[q, D_GROUP], dr_i[q, D_LEAD] - 1
            width = dr_i[q, D_WIDTH]
            src = dr_v[dr_i[q, D_OFF] + (k - dr_i[q, D_BASE]) * width:dr_i[q, D_OFF] + (k - dr_i[q, D_BASE] + 1) * width]
            if rel == 0:
                target = arena[grp_i[g, G_OFF]:grp_i[g, G_OFF] + width]
            else:
                slot = (m + rel) % grp_i[g, G_L]
                d = grp_i[g, G_DOFF] + slot
                if dirty[d] == 0:
                    dirty[d] = 1
                base = grp_i[g, G_POFF] + slot * grp_i[g, G_STAGES] * grp_i[g, G_N]
                target = pend[base:base + width]
            for i in range(width):
                target[i] += src[i]
        for f in range(flt_i.shape[0]):  # the probes' filters advance after the groups
            _decay_stages(flt_x, flt_i[f, F_XOFF], flt_i[f, F_STAGES], flt_i[f, F_N], flt_f[f, FF_DECAY], flt_A,
                          flt_i[f, F_AOFF], col)
        # 4. propagation, connection by connection (ConnectionRuntime.deliver): a delay >= dt reaches the
        # boundary of the step that contains emission + delay, one boundary later for offsets >= the cut
        for c in range(C):
            e = con_i[c, C_PRE]
            n_sp = sp_n[e]
            if n_sp == 0:
                continue
            if con_i[c, C_LAGGED] != 0:  # placement="exact": in the step, after the exact sub-step lag
                if n_sp > lag_t.size:
                    lag_rel, lag_t = np.empty(2 * n_sp, dtype=np.int64), np.empty(2 * n_sp)
                stages = grp_i[con_i[c, C_GROUP], G_STAGES]
                if n_sp * stages > lag_fac.size:
                    lag_fac = np.empty(2 * n_sp * stages)
                arrival_lags(sp[1][e][:n_sp], con_f[c, CF_DELAY], dt, con_f[c, CF_TOL], lag_rel, lag_t)
                _propagate_lagged(c, m, con_i, grp_i, arena, pend, dirty, rows, indptr, indices, data, sp[0][e],
                                  n_sp, lag_rel, lag_t, con_f[c, CF_TAU], lag_fac, acc)
                continue
            if con_i[c, C_DENSE] == CSR_DELAYS:
                _propagate_delays(c, m, con_i, grp_i, arena, pend, dirty, indptr, indices, data, sd_early, sd_cut,
                                  sp[0][e], sp[1][e], n_sp)
                continue
            d = con_i[c, C_DELAY]
            if d == 0:
                _propagate(c, m, 0, con_i, grp_i, arena, pend, dirty, rows, indptr, indices, data, sp[0][e], n_sp,
                           acc)
                continue
            offs, cut = sp[1][e], cuts[c]
            n_late = 0
            for s in range(n_sp):
                if offs[s] >= cut:
                    n_late += 1
            if n_late == 0 or n_late == n_sp:
                _propagate(c, m, d - 1 if n_late == 0 else d, con_i, grp_i, arena, pend, dirty, rows, indptr,
                           indices, data, sp[0][e], n_sp, acc)
                continue
            if n_sp > split.size:
                split = _grow_f(split, n_sp)
            a, b = 0, n_sp - n_late  # early spikes first, late ones after, each in spike order
            for s in range(n_sp):
                if offs[s] >= cut:
                    split[b] = sp[0][e][s]
                    b += 1
                else:
                    split[a] = sp[0][e][s]
                    a += 1
            _propagate(c, m, d - 1, con_i, grp_i, arena, pend, dirty, rows, indptr, indices, data, split,
                       n_sp - n_late, acc)
            _propagate(c, m, d, con_i, grp_i, arena, pend, dirty, rows, indptr, indices, data,
                       split[n_sp - n_late:], n_late, acc)
        # the probes' filters take the spikes after the connections; the means' sums after that (record phase)
        for f in range(flt_i.shape[0]):
            e = flt_i[f, F_EMITTER]
            if sp_n[e]:
                _filter_spikes(f, flt_i, flt_f, flt_den, flt_x, flt_sum, sp[0][e], sp[1][e], sp_n[e], dt)
        # 5. sampled probes due after step m
        for q in range(smp_i.shape[0]):
            if m % smp_i[q, S_EVERY] == 0 and m > smp_i[q, S_START]:
                kind = smp_i[q, S_KIND]
                f = smp_i[q, S_COUNT]
                if kind == SAMPLE_FILTERED or kind == SAMPLE_MEAN:
                    r = smp_i[q, S_POP]
                    N, xo, stages = flt_i[r, F_N], flt_i[r, F_XOFF], flt_i[r, F_STAGES]
                    dst = smp_i[q, S_OFF] + f * N
                    if kind == SAMPLE_FILTERED:  # the current: the last stage
                        last = xo + (stages - 1) * N
                        for i in range(N):
                            smp_out[dst + i] = flt_x[last + i]
                    else:  # runtime._filtered_mean: ((total - S) tau_s / dt + sum) / every, S the sum of the stages
                        to = flt_i[r, F_TOFF]
                        scale, inv_every = flt_f[r, FF_SCALE], flt_f[r, FF_INV_EVERY]
                        for i in range(N):
                            now = flt_x[xo + i]
                            for st in range(1, stages):
                                now = now + flt_x[xo + st * N + i]
                            smp_out[dst + i] = ((flt_tot[to + i] - now) * scale + flt_sum[to + i]) * inv_every
                            flt_tot[to + i] = now
                            flt_sum[to + i] = 0.0
                    smp_steps[smp_i[q, S_SOFF] + f] = m
                    smp_i[q, S_COUNT] = f + 1
                    continue
                p = smp_i[q, S_POP]
                N, o = pop_i[p, P_N], pop_i[p, P_VOFF]
                dst = smp_i[q, S_OFF] + f * N
                if kind == SAMPLE_V:
                    for i in range(N):
                        smp_out[dst + i] = v[o + i]
                else:  # the synaptic current: 0 (+ each conductance's g (E - v)) + the last stage of each group
                    for i in range(N):
                        smp_out[dst + i] = 0.0
                    for t in range(pop_i[p, P_G0], pop_i[p, P_G1]):  # conductance_current: scale x (E - v)
                        a = g_i[t, G_XOFF] + (g_i[t, G_NST] - 1) * N
                        pe, ps = g_i[t, G_PE], g_i[t, G_PSC]
                        for i in range(N):
                            sc = prm[ps + i] if ps >= 0 else g_sc[t]
                            ei = prm[pe + i] if pe >= 0 else g_e[t]
                            smp_out[dst + i] += sc * arena[a + i] * (ei - v[o + i])
                    for t in range(pop_i[p, P_T0], pop_i[p, P_T1]):
                        g = terms[t, T_GROUP]
                        a = grp_i[g, G_OFF] + (grp_i[g, G_STAGES] - 1) * N
                        for i in range(N):
                            smp_out[dst + i] += arena[a + i]
                smp_steps[smp_i[q, S_SOFF] + f] = m
                smp_i[q, S_COUNT] = f + 1
        if n_log > max_log:
            return log_k, log_e, log_i, log_o, n_log, m
    return log_k, log_e, log_i, log_o, n_log, k1


@njit(cache=True)
def convert_log(log_k, log_e, log_i, log_o, n, emitter, first_step, exact, t0, dt, scale, top):
    """The logged spikes of ``emitter`` at steps >= first_step in a SpikeRecorder's stored form, computed as
    its flush computes them (emitter -1: every logged spike). exact: times t0 + step dt + offset (float64)
    and int64 indices; else float64 steps, uint32 indices and uint16 fractions clip(rint(offset scale), 0, top)."""
    if emitter < 0 and (n == 0 or log_k[0] >= first_step):  # the usual case: every logged spike
        sel = np.arange(n)
    else:
        sel = np.empty(n, dtype=np.int64)
        count = 0
        for s in range(n):
            if (emitter < 0 or log_e[s] == emitter) and log_k[s] >= first_step:
                sel[count] = s
                count += 1
        sel = sel[:count]
    m = sel.size
    steps = np.empty(m)
    idx = np.empty(m, dtype=np.int64)
    if exact:
        for q in range(m):
            s = sel[q]
            steps[q] = t0 + np.float64(log_k[s]) * dt + log_o[s]
            idx[q] = log_i[s]
        return steps, idx, np.empty(0, dtype=np.uint16)
    frac = np.empty(m, dtype=np.uint16)
    for q in range(m):
        s = sel[q]
        steps[q] = log_k[s]
        idx[q] = log_i[s]
        f = np.rint(log_o[s] * scale)
        frac[q] = 0 if f < 0 else top if f > top else int(f)
    return steps, idx, frac

