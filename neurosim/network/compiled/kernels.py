"""The compiled step loop: numba kernels that run many grid steps of a network per call.

Each kernel repeats, operation for operation, what the numpy runtime does
(:mod:`neurosim.network.runtime`, :class:`neurosim.LIFState`,
:class:`neurosim.network.connections.ConnectionRuntime`), in the same
floating-point order: the same products with the same pre-scaled coefficients,
additions in the same sequence. So both backends produce the same spikes.
No ``fastmath`` (it would reorder and contract the arithmetic); the machine
code is cached on disk (``cache=True``), so compilation is paid once per machine.

The network is passed as flat tables (int64 / float64 arrays, one row per
population, synapse group, connection, emitter, probe) and typed lists of the
runtime's own state arrays, which the kernels update in place. Column meanings
are the ``P_*``, ``G_*``, ``C_*``, ``E_*`` and ``S_*`` constants below, filled by
:mod:`neurosim.network.compiled.runtime`.
"""
import math

import numpy as np
from numba import njit

# population table (int64 columns)
P_MODE, P_N, P_HAS_BIAS, P_BIAS_ARRAY, P_T0, P_T1, P_I0, P_I1, P_EMITTER, P_n, P_LOG = range(11)
# population table (float64 columns)
PF_DECAY, PF_OMD, PF_FACTOR, PF_TAU_M, PF_TAU_REF, PF_BIAS, PF_BIAS_DECAYED = range(7)
MODE_CONSTANT, MODE_DIRECT, MODE_GENERAL = 0, 1, 2  # LIFRuntime's three paths (see populations.py)
# term table: one synaptic group read by a population
T_GROUP, T_STAGES, T_DECAYS = range(3)
# input table: current values added to J
I_ROW0, I_WIDTH = range(2)
# synapse group table
G_STAGES, G_L, G_N, G_SELF_DECAY = range(4)
# connection table
C_PRE, C_GROUP, C_DELAY, C_DENSE, C_NPRE, C_NPOST = range(6)
# emitter table: populations, Poisson sources, spike sources
E_KIND, E_INDEX, E_n = range(3)
KIND_POP, KIND_POISSON, KIND_SPIKES = 0, 1, 2
# sampled probe table
S_KIND, S_POP, S_EVERY, S_START, S_FILLED = range(5)
SAMPLE_V, SAMPLE_CURRENT = 0, 1


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
def _time_to_end(J, v, since, tau_m):
    """LIFState._time_to_end for one neuron."""
    if J > v:
        return min(tau_m * math.log1p((v - 1.0) / (J - v)), since)
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
    for i in range(N):
        x[start + i] *= d


@njit(cache=True)
def _input(p, k, pop_i, pop_f, J, Jd, bias, terms, coef, term_decay, arena, grp_off, grp_i, inp_i, inp_l):
    """Fill Jd (and J in the general path) as LIFRuntime does, term by term (each pass vectorizes)."""
    mode = pop_i[p, P_MODE]
    N, n = pop_i[p, P_N], pop_i[p, P_n]
    has_bias = pop_i[p, P_HAS_BIAS] != 0
    bias_array = pop_i[p, P_BIAS_ARRAY] != 0
    t_lo, t_hi = pop_i[p, P_T0], pop_i[p, P_T1]
    if mode == MODE_DIRECT:  # Jd = sum_t x_t (c_t (1 - decay_m)) (+ bias (1 - decay_m)); each x decays after
        for t in range(t_lo, t_hi):
            g = terms[t, T_GROUP]
            _term(Jd, arena, grp_off[g], N, coef, t, 1, t == t_lo)
            _scale(arena, grp_off[g], N, term_decay[t])
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
            _term(J, arena, grp_off[g], N, coef, t, terms[t, T_STAGES], t == t_lo)
            if terms[t, T_DECAYS] != 0:
                _scale(arena, grp_off[g], N, term_decay[t])
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
        vals = inp_l[q]
        row = k - inp_i[q, I_ROW0]
        if inp_i[q, I_WIDTH] == N:
            for i in range(N):
                J[i] = J[i] + vals[row, i]
        else:
            for i in range(N):
                J[i] = J[i] + vals[row, i % n]
    omd = pop_f[p, PF_OMD]
    for i in range(N):
        Jd[i] = J[i] * omd


@njit(cache=True)
def _lif_update(v, rend, J, Jd, direct, factor, decay, tau_m, tau_ref, t0, dt, idx, off, Jsp):
    """LIFState._step (free update) + _step_updated's first pass for all neurons; returns the spike count.

    J is read only for refractory and spiking neurons (as numpy's ``_Unscaled``: Jd * factor when direct).
    """
    t1 = t0 + dt
    count = 0
    for i in range(v.size):
        vi = v[i] * decay
        vi = vi + Jd[i]
        re = rend[i]
        if re > t0 or vi > 1.0:
            Ji = Jd[i] * factor if direct else J[i]
            if re > t0:  # refractory during part of the step: held at 0, then integrates from 0
                vi = 0.0
                if re < t1:
                    vi = Ji * -math.expm1((re - t1) / tau_m)
            if vi > 1.0:
                start = max(re, t0)
                u = _time_to_end(Ji, vi, t1 - start, tau_m)
                st = t1 - u
                rend[i] = st + tau_ref
                if tau_ref < dt:
                    rest = u - tau_ref
                    vi = Ji * -math.expm1(-max(rest, 0.0) / tau_m) if rest > 0 else 0.0
                else:
                    vi = 0.0
                idx[count] = i  # the buffers hold >= N entries: no growth in this pass
                off[count] = st - t0
                Jsp[count] = Ji
                count += 1
        v[i] = vi
    return count


@njit(cache=True)
def _lif_step(p, k, t0, dt, pop_i, pop_f, v, rend, J, Jd, bias, terms, coef, term_decay, arena, grp_off, grp_i,
              inp_i, inp_l, e, sp_idx, sp_off, sp_J, sp_n):
    """One step of LIF population p (LIFRuntime.step + LIFState._step_updated); spikes into emitter e's buffers."""
    mode = pop_i[p, P_MODE]
    if mode != MODE_CONSTANT:  # constant: J (the bias) and Jd were computed once, at build
        _input(p, k, pop_i, pop_f, J, Jd, bias, terms, coef, term_decay, arena, grp_off, grp_i, inp_i, inp_l)
    tau_m, tau_ref = pop_f[p, PF_TAU_M], pop_f[p, PF_TAU_REF]
    idx, off, Jsp = sp_idx[e], sp_off[e], sp_J[e]
    count = _lif_update(v, rend, J, Jd, mode == MODE_DIRECT, pop_f[p, PF_FACTOR], pop_f[p, PF_DECAY], tau_m, tau_ref,
                        t0, dt, idx, off, Jsp)
    if tau_ref < dt and count:
        count = _repeat_passes(idx, off, Jsp, count, e, v, rend, t0, t0 + dt, tau_m, tau_ref, sp_idx, sp_off, sp_J)
    sp_n[e] = count


@njit(cache=True)
def _repeat_passes(idx, off, Jsp, count, e, v, rend, t0, t1, tau_m, tau_ref, sp_idx, sp_off, sp_J):
    """Refractory periods that end inside the step: further spikes (LIFState._spike_passes_exact)."""
    lo, hi = 0, count
    while hi > lo:
        for s in range(lo, hi):
            i = idx[s]
            if v[i] > 1.0:
                Ji = Jsp[s]
                vi = v[i]
                start = rend[i]
                u = _time_to_end(Ji, vi, t1 - start, tau_m)
                st = t1 - u
                rend[i] = st + tau_ref
                rest = u - tau_ref
                v[i] = Ji * -math.expm1(-max(rest, 0.0) / tau_m) if rest > 0 else 0.0
                if count >= idx.size:
                    idx = _grow_i(idx, count + 1)
                    off = _grow_f(off, count + 1)
                    Jsp = _grow_f(Jsp, count + 1)
                idx[count] = i
                off[count] = st - t0
                Jsp[count] = Ji
                count += 1
        lo, hi = hi, count
    sp_idx[e], sp_off[e], sp_J[e] = idx, off, Jsp
    return count


@njit(cache=True)
def _advance_group(g, m, grp_i, grp_f, arena, grp_off, A_l, pend_l, dirty_l, col):
    """SynapseGroup.advance_and_deliver(m)."""
    x = arena[grp_off[g]:grp_off[g] + grp_i[g, G_STAGES] * grp_i[g, G_N]].reshape(grp_i[g, G_STAGES], grp_i[g, G_N])
    stages, L, N = grp_i[g, G_STAGES], grp_i[g, G_L], grp_i[g, G_N]
    if grp_i[g, G_SELF_DECAY] != 0:
        if stages == 1:
            d = grp_f[g]
            for i in range(N):
                x[0, i] *= d
        else:  # x = A x, column by column
            A = A_l[g]
            for i in range(N):
                for r in range(stages):
                    col[r] = x[r, i]
                for r in range(stages):
                    acc = A[r, 0] * col[0]
                    for c in range(1, stages):
                        acc = acc + A[r, c] * col[c]
                    x[r, i] = acc
    if L > 1:
        slot = m % L
        dirty = dirty_l[g]
        if dirty[slot] != 0:
            pend = pend_l[g]
            top = 1 if dirty[slot] == 1 else stages
            for r in range(top):
                for i in range(N):
                    x[r, i] += pend[slot, r, i]
            for r in range(stages):
                for i in range(N):
                    pend[slot, r, i] = 0.0
            dirty[slot] = 0


@njit(cache=True)
def _propagate(c, m, con_i, arena, grp_off, pend_l, dirty_l, grp_i, rows_l, indptr_l, indices_l, data_l, sp_idx, sp_n, acc):
    """ConnectionRuntime.scatter of the presynaptic emitter's spikes into the target (now or a delay slot)."""
    e = con_i[c, C_PRE]
    count = sp_n[e]
    if count == 0:
        return
    g = con_i[c, C_GROUP]
    delay = con_i[c, C_DELAY]
    if delay == 0:
        target = arena[grp_off[g]:grp_off[g] + grp_i[g, G_N]]
    else:
        slot = (m + delay) % grp_i[g, G_L]
        dirty = dirty_l[g]
        if dirty[slot] == 0:
            dirty[slot] = 1
        target = pend_l[g][slot, 0]
    spikes = sp_idx[e]
    n_pre, n_post = con_i[c, C_NPRE], con_i[c, C_NPOST]
    if con_i[c, C_DENSE] != 0:
        # per trial: the rows summed in spike order (rows[spiked].sum(axis=0)), then added to the target
        rows = rows_l[c]
        s = 0
        while s < count:
            trial = spikes[s] // n_pre
            first = spikes[s] - trial * n_pre
            s2 = s + 1
            while s2 < count and spikes[s2] // n_pre == trial:
                s2 += 1
            base = trial * n_post
            if s2 == s + 1:
                for i in range(n_post):
                    target[base + i] += rows[first, i]
            else:
                for i in range(n_post):
                    acc[i] = rows[first, i]
                for r in range(s + 1, s2):
                    j = spikes[r] - trial * n_pre
                    for i in range(n_post):
                        acc[i] += rows[j, i]
                for i in range(n_post):
                    target[base + i] += acc[i]
            s = s2
    else:
        indptr, indices, data = indptr_l[c], indices_l[c], data_l[c]
        for s in range(count):
            trial = spikes[s] // n_pre
            j = spikes[s] - trial * n_pre
            base = trial * n_post
            for q in range(indptr[j], indptr[j + 1]):
                target[base + indices[q]] += data[q]


@njit(cache=True)
def run_steps(k0, k1, dt,
              pop_i, pop_f, v_l, rend_l, Jc_l, Jdc_l, bias_l,
              terms, coef, term_decay,
              inp_i, inp_l,
              grp_i, grp_f, arena, grp_off, A_l, pend_l, dirty_l,
              con_i, rows_l, indptr_l, indices_l, data_l,
              em_i, sp_idx, sp_off, sp_J, sp_n,
              po_idx, po_bounds, po_base,
              ss_m, ss_idx, ss_ptr, ss_B,
              smp_i, smp_val, smp_step,
              log_k, log_e, log_i, log_o, n_log,
              col, acc):
    """Run steps k0 .. k1-1 (the commit phase of each, in the numpy runtime's order); returns the spike log.

    The log holds every spike of the populations flagged ``P_LOG`` (step, emitter, flat index, offset).
    """
    P = pop_i.shape[0]
    E = em_i.shape[0]
    for k in range(k0, k1):
        t0 = k * dt
        m = k + 1
        # 1. neurons
        for p in range(P):
            e = pop_i[p, P_EMITTER]
            _lif_step(p, k, t0, dt, pop_i, pop_f, v_l[p], rend_l[p], Jc_l[p], Jdc_l[p], bias_l[p], terms, coef,
                      term_decay, arena, grp_off, grp_i, inp_i, inp_l, e, sp_idx, sp_off, sp_J, sp_n)
            if pop_i[p, P_LOG] != 0:
                cnt = sp_n[e]
                if n_log + cnt > log_k.size:
                    log_k = _grow_i(log_k, n_log + cnt)
                    log_e = _grow_i(log_e, n_log + cnt)
                    log_i = _grow_i(log_i, n_log + cnt)
                    log_o = _grow_f(log_o, n_log + cnt)
                idx, off = sp_idx[e], sp_off[e]
                for s in range(cnt):
                    log_k[n_log] = k
                    log_e[n_log] = e
                    log_i[n_log] = idx[s]
                    log_o[n_log] = off[s]
                    n_log += 1
        # 2. sources: the spikes delivered at m dt
        for e in range(E):
            kind = em_i[e, E_KIND]
            if kind == KIND_POP:
                continue
            src = em_i[e, E_INDEX]
            cnt = 0
            if kind == KIND_POISSON:
                b = po_bounds[src]
                r = k - po_base[src]
                lo, hi = b[r], b[r + 1]
                cnt = hi - lo
                if cnt > sp_idx[e].size:
                    sp_idx[e] = _grow_i(sp_idx[e], cnt)
                out, ids = sp_idx[e], po_idx[src]
                for s in range(cnt):
                    out[s] = ids[lo + s]
            else:
                ms, ids = ss_m[src], ss_idx[src]
                a = ss_ptr[src]
                while a < ms.size and ms[a] < m:
                    a += 1
                b2 = a
                while b2 < ms.size and ms[b2] == m:
                    b2 += 1
                ss_ptr[src] = b2
                B, n = ss_B[src], em_i[e, E_n]
                cnt = (b2 - a) * B
                if cnt > sp_idx[e].size:
                    sp_idx[e] = _grow_i(sp_idx[e], cnt)
                out = sp_idx[e]
                s = 0
                for trial in range(B):  # the same spikes in every trial, trial-major
                    for q in range(a, b2):
                        out[s] = trial * n + ids[q]
                        s += 1
            sp_n[e] = cnt
        # 3. synapses advance to m dt, delayed spikes due now arrive
        for g in range(grp_i.shape[0]):
            _advance_group(g, m, grp_i, grp_f, arena, grp_off, A_l, pend_l, dirty_l, col)
        # 4. propagation
        for c in range(con_i.shape[0]):
            _propagate(c, m, con_i, arena, grp_off, pend_l, dirty_l, grp_i, rows_l, indptr_l, indices_l, data_l, sp_idx, sp_n,
                       acc)
        # 5. sampled probes due after step m
        for q in range(smp_i.shape[0]):
            every = smp_i[q, S_EVERY]
            if m % every == 0 and m > smp_i[q, S_START]:
                f = smp_i[q, S_FILLED]
                out = smp_val[q]
                p = smp_i[q, S_POP]
                N = pop_i[p, P_N]
                if smp_i[q, S_KIND] == SAMPLE_V:
                    vv = v_l[p]
                    for i in range(N):
                        out[f, i] = vv[i]
                else:  # the synaptic current: 0 + the last stage of each group, in order
                    for i in range(N):
                        out[f, i] = 0.0
                    for t in range(pop_i[p, P_T0], pop_i[p, P_T1]):
                        a = grp_off[terms[t, T_GROUP]] + (terms[t, T_STAGES] - 1) * N
                        for i in range(N):
                            out[f, i] += arena[a + i]
                smp_step[q][f] = m
                smp_i[q, S_FILLED] = f + 1
    return log_k, log_e, log_i, log_o, n_log
