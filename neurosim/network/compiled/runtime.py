"""The compiled runtime: the numpy runtime's state, stepped by numba kernels many steps per call.

:class:`CompiledRuntime` is a :class:`~neurosim.network.runtime.Runtime`: it
builds the same state arrays (neurons, synapse groups, delay rings, random
streams, probe buffers), so snapshots, store/restore, probe data and the
transaction rules are the numpy runtime's. Only the step loop differs.

A run is cut into blocks. Before a block, Python does the *prepare* phase of
its steps: Poisson spikes are drawn by numpy (the same blocks of 1000 steps, the
same streams as the numpy backend), user functions ``f(t)`` are evaluated (a
block then holds one step, so the function is called just before its step, as
on numpy). The kernel then commits the block step by step; afterwards Python
files the block's spikes into the probes. A block ends at a multiple of 1000
steps (a block of Poisson draws), so Ctrl-C, held by the numpy runtime's
``_HeldInterrupt``, takes effect at the next block boundary: a step boundary,
and a continued run equals an uninterrupted one.
"""
import time

import numpy as np
from numba import types
from numba.typed import List

from . import kernels as K
from ..inputs import PoissonRuntime, _BLOCK
from ..populations import LIFRuntime
from ..probes import EVENT_KINDS
from ..runtime import Runtime, _invalid_message, _show_progress

_F1, _F2, _F3 = types.float64[::1], types.float64[:, ::1], types.float64[:, :, ::1]
_I1 = types.int64[::1]


def _flist(arrays, kind=_F1):
    out = List.empty_list(kind)
    for a in arrays:
        out.append(a)
    return out


def _table(rows, width, dtype):
    t = np.zeros((len(rows), width), dtype=dtype)
    for r, row in enumerate(rows):
        t[r, :len(row)] = row
    return t


class CompiledRuntime(Runtime):
    """:class:`Runtime` whose grid-mode loop runs in numba kernels (see the module docstring)."""

    backend = "numba"

    def __init__(self, net):
        super().__init__(net)
        for pop, rt in self.pops.items():  # the kernels read LIFRuntime's fields: refuse anything else
            if type(rt) is not LIFRuntime or rt.state.sigma != 0:
                raise ValueError(f"population {pop.name!r}: its runtime {type(rt).__name__} has no compiled step")
        self._static = self._build_static()

    # ---- tables that stay the same for the runtime's life ------------------------------------
    def _build_static(self):
        dummy1, dummy2, dummy3 = np.zeros(1), np.zeros((1, 1)), np.zeros((1, 1, 1))
        pops = list(self.pops.items())
        group_index = {id(g): i for i, g in enumerate(self.groups)}
        emitters = [rt for _, rt in pops] + list(self.sources.values())
        em_index = {id(rt): e for e, rt in enumerate(emitters)}
        # populations and the synaptic terms each reads
        pop_i, pop_f, terms, coefs, decays = [], [], [], [], []
        Jc, Jdc, bias = [], [], []
        for p, (pop, rt) in enumerate(pops):
            st = rt.state
            mode = K.MODE_CONSTANT if rt.constant else K.MODE_DIRECT if rt.direct else K.MODE_GENERAL
            t_lo = len(terms)
            source_terms = rt.scaled if mode == K.MODE_DIRECT else rt.terms
            for g, (x, c, decay) in zip(rt.groups, source_terms):
                c = np.atleast_1d(np.asarray(c, dtype=float))
                terms.append((group_index[id(g)], c.size, int(decay is not None)))
                coefs.append(c)
                decays.append(1.0 if decay is None else float(decay))
            bias_array = 0
            b_arr = dummy1
            if mode == K.MODE_DIRECT and rt.bias_decayed is not None and not isinstance(rt.bias_decayed, float):
                bias_array, b_arr = 1, np.ascontiguousarray(rt.bias_decayed, dtype=float)
            elif mode == K.MODE_GENERAL:
                if not rt.terms:
                    bias_array, b_arr = 1, rt.bias
                elif not isinstance(rt.bias_term, float):
                    bias_array, b_arr = 1, np.ascontiguousarray(rt.bias_term, dtype=float)
            bias.append(b_arr)
            # J and Jd: the runtime's own for a constant input, else scratch the kernel fills every step
            Jc.append(rt.J if mode == K.MODE_CONSTANT else np.zeros(rt.N))
            Jdc.append(rt.J_decayed if mode == K.MODE_CONSTANT else np.zeros(rt.N))
            pop_i.append([mode, rt.N, int(rt.has_bias), bias_array, t_lo, len(terms), 0, 0, p, rt.n, 0])
            bias_s = rt.bias_term if isinstance(rt.bias_term, float) else 0.0
            bias_d = rt.bias_decayed if mode == K.MODE_DIRECT and isinstance(rt.bias_decayed, float) else 0.0
            pop_f.append([st.decay, st.one_minus_decay, 1.0 / st.one_minus_decay, st.model.tau_m, st.model.tau_ref,
                          bias_s, bias_d])
        width = max([c.size for c in coefs] + [1])
        # synapse groups
        grp_i, grp_f, x_off, A_l, pend_l = [], [], [], [], []
        for g in self.groups:
            stages = g.synapse.n + 1
            grp_i.append([stages, g.L, g.state.x.shape[1], int(not g.decayed_by_target)])
            grp_f.append(g.state.decay)
            x_off.append((g.state.x.ctypes.data - self.arena.ctypes.data) // 8)  # the runtime's shared buffer
            A_l.append(np.ascontiguousarray(g.state.A, dtype=float))
            pend_l.append(g.pending if g.pending is not None else dummy3)
        # connections
        con_i, rows_l, indptr_l, indices_l, data_l = [], [], [], [], []
        n_post_max = 1
        for c, rt in self.conns:
            con_i.append([em_index[id(self.emitters[c.pre])], group_index[id(rt.group)], rt.delay_steps, int(rt.dense),
                          rt.n_pre, rt.n_post])
            rows_l.append(rt.rows if rt.dense else dummy2)
            indptr_l.append(dummy1.astype(np.int64) if rt.dense else rt.indptr)
            indices_l.append(dummy1.astype(np.int64) if rt.dense else rt.indices)
            data_l.append(dummy1 if rt.dense else rt.data)
            n_post_max = max(n_post_max, rt.n_post if rt.dense else 1)
        # emitters: populations first, then sources
        em_i, self._poisson, self._spike_sources = [], [], []
        for _, rt in pops:
            em_i.append([K.KIND_POP, 0, rt.n])
        for src, rt in self.sources.items():
            if isinstance(rt, PoissonRuntime):
                em_i.append([K.KIND_POISSON, len(self._poisson), src.n])
                self._poisson.append((src, rt))
            else:
                em_i.append([K.KIND_SPIKES, len(self._spike_sources), src.n])
                self._spike_sources.append((src, rt))
        sizes = [rt.N for _, rt in pops] + [max(1, rt.B * src.n) for src, rt in self.sources.items()]
        return dict(
            pops=pops, emitters=emitters,
            pop_i=np.array(pop_i, dtype=np.int64).reshape(-1, 11), pop_f=np.array(pop_f, dtype=float).reshape(-1, 7),
            v_l=_flist([rt.state.v for _, rt in pops]), rend_l=_flist([rt.state.refractory_end for _, rt in pops]),
            Jc_l=_flist(Jc), Jdc_l=_flist(Jdc), bias_l=_flist(bias),
            terms=np.array(terms, dtype=np.int64).reshape(-1, 3), coef=_table(coefs, width, float),
            term_decay=np.array(decays, dtype=float),
            grp_i=np.array(grp_i, dtype=np.int64).reshape(-1, 4), grp_f=np.array(grp_f, dtype=float),
            arena=self.arena, grp_off=np.array(x_off, dtype=np.int64), A_l=_flist(A_l, _F2), pend_l=_flist(pend_l, _F3),
            con_i=np.array(con_i, dtype=np.int64).reshape(-1, 6), rows_l=_flist(rows_l, _F2),
            indptr_l=_flist(indptr_l, _I1), indices_l=_flist(indices_l, _I1), data_l=_flist(data_l),
            em_i=np.array(em_i, dtype=np.int64).reshape(-1, 3),
            sp_idx=_flist([np.zeros(s, dtype=np.int64) for s in sizes], _I1),
            sp_off=_flist([np.zeros(s) for s in sizes]), sp_J=_flist([np.zeros(s) for s in sizes]),
            sp_n=np.zeros(len(sizes), dtype=np.int64),
            ss_m=_flist([rt._m for _, rt in self._spike_sources] or [np.zeros(0, dtype=np.int64)], _I1),
            ss_idx=_flist([rt._indices.astype(np.int64) for _, rt in self._spike_sources]
                          or [np.zeros(0, dtype=np.int64)], _I1),
            ss_B=np.array([rt.B for _, rt in self._spike_sources] or [1], dtype=np.int64),
            col=np.zeros(width + max([g.synapse.n + 1 for g in self.groups] + [1])),
            acc=np.zeros(n_post_max),
        )

    # ---- probes -------------------------------------------------------------------------------
    def add_probe(self, probe):
        from .support import probe_unsupported

        why = probe_unsupported(probe)
        if why is not None:
            if probe in probe.network.probes:  # Network.probe listed it before asking the runtime
                probe.network.probes.remove(probe)
            raise ValueError(f"{why}; this network was built with backend='numba' (use backend='numpy' or 'auto' "
                             "and add the probe before the first run)")
        super().add_probe(probe)

    # ---- running ------------------------------------------------------------------------------
    def _loop(self, steps, progress, sampled, held):
        s = self._static
        pops = s["pops"]
        # populations with spike probes log their spikes for the probes (filed after each block)
        spike_probes = {}
        for p, buf in self.buffers.items():
            if p.kind in EVENT_KINDS and p.target in self.pops:
                spike_probes.setdefault(p.target, []).append(buf)
        pop_i = s["pop_i"]
        pop_row = {pop: r for r, (pop, _) in enumerate(pops)}
        pop_i[:, K.P_LOG] = 0
        for pop in spike_probes:
            pop_i[pop_row[pop], K.P_LOG] = 1
        source_probes = [src for src in self.sources if any(p.target is src and p.kind in EVENT_KINDS
                                                              for p in self.buffers)]
        # sampled probes write straight into their buffers' blocks
        smp_i, smp_val, smp_step, smp_bufs = [], [], [], []
        for p, buf in sampled:
            kind = K.SAMPLE_V if p.kind == "v" else K.SAMPLE_CURRENT
            values, when, filled = buf.blocks[-1]
            smp_i.append([kind, pop_row[p.target], p.every, buf.start_step, filled])
            smp_val.append(values.reshape(values.shape[0], -1))
            smp_step.append(when)
            smp_bufs.append(buf)
        smp_i = np.array(smp_i, dtype=np.int64).reshape(-1, 5)
        smp_val = _flist(smp_val or [np.zeros((1, 1))], _F2)
        smp_step = _flist(smp_step or [np.zeros(1, dtype=np.int64)], _I1)
        dirty_l = _flist([np.array(g.dirty, dtype=np.int64) for g in self.groups], _I1)
        functions = any(inp.inp.function is not None for _, rt in pops for inp in rt.inputs)
        log = [np.zeros(1024, dtype=np.int64), np.zeros(1024, dtype=np.int64), np.zeros(1024, dtype=np.int64),
               np.zeros(1024)]
        k0, end = self.step, self.step + steps
        shown = time.monotonic()
        k = k0
        try:
            while k < end:
                k1 = min(end, (k // _BLOCK + 1) * _BLOCK)
                if functions:
                    k1 = k + 1
                # ---- prepare: may raise, changes nothing committed
                k1 = self._limit_to_arrays(k, k1)
                po_idx, po_bounds, po_base = self._prepare_poisson(k)
                inp_i, inp_l = self._prepare_inputs(k, k1)
                ss_ptr = np.array([np.searchsorted(rt._m, k + 1) for _, rt in self._spike_sources] or [0],
                                  dtype=np.int64)
                # ---- commit
                try:
                    out = K.run_steps(k, k1, self.dt,
                                      pop_i, s["pop_f"], s["v_l"], s["rend_l"], s["Jc_l"], s["Jdc_l"], s["bias_l"],
                                      s["terms"], s["coef"], s["term_decay"], inp_i, inp_l,
                                      s["grp_i"], s["grp_f"], s["arena"], s["grp_off"], s["A_l"], s["pend_l"], dirty_l,
                                      s["con_i"], s["rows_l"], s["indptr_l"], s["indices_l"], s["data_l"],
                                      s["em_i"], s["sp_idx"], s["sp_off"], s["sp_J"], s["sp_n"],
                                      po_idx, po_bounds, po_base, s["ss_m"], s["ss_idx"], ss_ptr, s["ss_B"],
                                      smp_i, smp_val, smp_step, log[0], log[1], log[2], log[3], 0,
                                      s["col"], s["acc"])
                    log = list(out[:4])
                    self._file_spikes(out, spike_probes, source_probes, k, k1)
                    for q, buf in enumerate(smp_bufs):
                        buf.blocks[-1][2] = int(smp_i[q, K.S_FILLED])
                    for g, d in zip(self.groups, dirty_l):
                        g.dirty = d.tolist()
                    self.step = k1
                except BaseException as err:
                    self.failed = _invalid_message(err, k * self.dt)
                    raise
                k = k1
                if held.pending:
                    raise KeyboardInterrupt
                if progress and time.monotonic() - shown > 0.2:
                    shown = time.monotonic()
                    _show_progress(k - k0, steps, k * self.dt)
        finally:
            for _, rt in pops:  # the numpy step keeps a list of refractory neurons: rebuild it
                rt.state.forget_refractory()

    def _limit_to_arrays(self, k, k1):
        """End the block where a rate or current array ends: that step raises in its own prepare phase."""
        for _, rt in self._poisson:
            if rt.varying and not callable(rt.rate):
                if k >= len(rt.rate):
                    rt.emit(k + 1)  # raises, as on numpy
                k1 = min(k1, len(rt.rate))
        for _, rt in self._static["pops"]:
            for inp in rt.inputs:
                if inp.inp.values is not None:
                    if k >= len(inp.inp.values):
                        inp.prepare(k, k * self.dt, rt.n)  # raises
                    k1 = min(k1, len(inp.inp.values))
        return k1

    def _prepare_poisson(self, k):
        """The block of Poisson draws holding step k, drawn by numpy as on the numpy backend."""
        idx, bounds, base = [], [], []
        for _, rt in self._poisson:
            rt.emit(k + 1)  # draws (or reuses) the block of step k
            idx.append(rt._idx)
            bounds.append(rt._bounds.astype(np.int64))
            base.append(rt._block * _BLOCK)
        return (_flist(idx or [np.zeros(0, dtype=np.int64)], _I1), _flist(bounds or [np.zeros(1, dtype=np.int64)], _I1),
                np.array(base or [0], dtype=np.int64))

    def _prepare_inputs(self, k, k1):
        """Injected currents of steps k .. k1-1: arrays by reference, a function's value for its one step."""
        rows, arrays = [], []
        pop_i = self._static["pop_i"]
        for p, (_, rt) in enumerate(self._static["pops"]):
            pop_i[p, K.P_I0] = len(rows)
            for inp in rt.inputs:
                if inp.inp.values is not None:
                    v = inp.inp.values
                    arrays.append(np.ascontiguousarray(v.reshape(v.shape[0], -1), dtype=float))
                    rows.append([0, arrays[-1].shape[1]])
                else:
                    inp.prepare(k, k * self.dt, rt.n)  # the user's function, checked
                    value = np.asarray(inp.value, dtype=float)
                    width = rt.N if value.ndim == 2 else rt.n
                    arrays.append(np.array(np.broadcast_to(value.reshape(-1), (width,)), dtype=float).reshape(1, width))
                    rows.append([k, width])
            pop_i[p, K.P_I1] = len(rows)
        return (np.array(rows, dtype=np.int64).reshape(-1, 2), _flist(arrays or [np.zeros((1, 1))], _F2))

    def _file_spikes(self, out, spike_probes, source_probes, k, k1):
        """Record the block's population spikes (from the kernel's log) and source spikes into the probes."""
        log_k, log_e, log_i, log_o, n = out
        if spike_probes and n:
            log_k, log_e, log_i, log_o = log_k[:n], log_e[:n], log_i[:n], log_o[:n]
            emitters = self._static["emitters"]
            for pop, bufs in spike_probes.items():
                e = emitters.index(self.pops[pop])
                sel = log_e == e
                ks, ids, offs = log_k[sel], log_i[sel], log_o[sel]
                for buf in bufs:
                    keep = ks >= buf.start_step
                    buf.recorder._record_many(ks[keep], ids[keep], offs[keep])
        for src in source_probes:
            rt = self.sources[src]
            idx, times = _emitted(rt, k + 1, k1 + 1)
            if idx.size:
                self._record_source(src, idx, times)


def _emitted(rt, m0, m1):
    """Flat indices and times of a source's spikes delivered at m0 .. m1-1 (step by step, as emit gives them)."""
    parts = [rt.emit(m) for m in range(m0, m1)] if not isinstance(rt, PoissonRuntime) else None
    if parts is None:  # one block of draws holds all these steps: slice it
        b = rt._block * _BLOCK
        lo, hi = rt._bounds[m0 - 1 - b], rt._bounds[m1 - 1 - b]
        return rt._idx[lo:hi], rt._times[lo:hi]
    parts = [p for p in parts if p[0].size]
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
