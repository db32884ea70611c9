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
``neurosim.interrupts.HeldInterrupt``, takes effect at the next block boundary: a step boundary,
and a continued run equals an uninterrupted one.
"""
import math

import numpy as np

from . import kernels as K
from .hh import HHTables
from ..inputs import PoissonDrive, PoissonRuntime, SilentRuntime, _BLOCK
from ..populations import HHRuntime, LIFRuntime
from ..probes import EVENT_KINDS
from ..connections import _TOL, SynapseDelayRuntime
from ..runtime import Runtime, _invalid_message
from ...synapses.conductance import is_conductance
from ...synapses.delta import Delta
from ...spikes.events import _FRACTION_STEPS

_NO_I = np.zeros(1, dtype=np.int64)
_MAX_LOG = 1 << 18  # spikes logged per kernel call before it returns (bounds the log's memory)


def _table(rows, width, dtype=np.int64):
    t = np.zeros((len(rows), width), dtype=dtype)
    for r, row in enumerate(rows):
        t[r, :len(row)] = row
    return t


def _concat(arrays, dtype=float):
    """One flat array of ``arrays`` and the offset of each (a single array is used as is: no copy)."""
    if len(arrays) == 1 and arrays[0].dtype == dtype and arrays[0].flags.c_contiguous and arrays[0].flags.writeable:
        return arrays[0].reshape(-1), [0]
    offsets = np.cumsum([0] + [a.size for a in arrays])
    flat = np.concatenate([np.asarray(a, dtype=dtype).reshape(-1) for a in arrays]) if arrays else np.zeros(1, dtype)
    return flat, offsets[:-1].tolist()


class CompiledRuntime(Runtime):
    """:class:`Runtime` whose grid-mode loop runs in numba kernels (see the module docstring)."""

    backend = "numba"

    def __init__(self, net):
        super().__init__(net)
        for pop, rt in self.pops.items():  # the kernels read LIFRuntime's (or HHRuntime's) fields: refuse the rest
            if type(rt) not in (LIFRuntime, HHRuntime):
                raise ValueError(f"population {pop.name!r}: its runtime {type(rt).__name__} has no compiled step")
        self._static = self._build_static()

    # ---- tables that stay the same for the runtime's life ------------------------------------
    def _build_static(self):
        pops = list(self.pops.items())
        group_index = {id(g): i for i, g in enumerate(self.groups)}
        emitters = [rt for _, rt in pops] + list(self.sources.values())
        em_index = {id(rt): e for e, rt in enumerate(emitters)}
        # populations and the synaptic terms each reads
        pop_i, pop_f, terms, coefs, decays = [], [], [], [], []
        Jc, Jdc, bias, voff = [], [], [], 0
        prm, prm_size = [], 0  # per-neuron parameters and coefficients (LIF tau_m / tau_ref arrays), flat
        g_i, g_coef, g_e, g_sc, g_size = [], [], [], [], 0  # conductance terms (ConductanceInput.terms, .instant)
        for p, (pop, rt) in enumerate(pops):
            st = rt.state
            hh = isinstance(rt, HHRuntime)  # J assembled as the general LIF path's (compiled/hh.py)
            mode = K.MODE_GENERAL if hh else K.MODE_CONSTANT if rt.constant else K.MODE_DIRECT if rt.direct else \
                K.MODE_GENERAL
            t_lo = len(terms)
            source_terms = rt.scaled if mode == K.MODE_DIRECT else rt.terms
            psc = [g for g in rt.groups  # the terms' groups, in order (conductances are summed apart)
                   if not isinstance(g.synapse, Delta)
                   and not (getattr(rt, "conductances", None) and is_conductance(g.synapse))]
            for g, (x, c, decay) in zip(psc, source_terms):
                c = np.atleast_1d(np.asarray(c, dtype=float))
                if hh:  # HH reads the last stage x[-1] of the cascade: coefficients (0, ..., 0, c) over all stages
                    c = np.concatenate([np.zeros(g.state.x.shape[0] - 1), c])
                    terms.append((group_index[id(g)], c.size, int(decay is not None), -1))
                elif x.ndim == c.ndim and c.size > 1 and (x.ndim == 2 or c.size == x.size):  # per neuron (_weigh)
                    terms.append((group_index[id(g)], 1 if c.ndim == 1 else c.shape[0], int(decay is not None),
                                  prm_size))
                    prm.append(c.reshape(-1))
                    prm_size += c.size
                    c = np.zeros(1)
                else:
                    terms.append((group_index[id(g)], c.size, int(decay is not None), -1))
                coefs.append(c)
                decays.append(1.0 if decay is None else float(decay))
            per = -1
            if not hh and any(isinstance(a, np.ndarray) for a in (st.decay, st.tau_m, st.tau_ref)):
                per = prm_size
                for a in (st.decay, st.one_minus_decay, st.tau_m, st.tau_ref):  # the PRM_* order
                    prm.append(np.broadcast_to(np.asarray(a, dtype=float), (rt.N,)))
                    prm_size += rt.N
            bias_array, b_arr = 0, np.zeros(rt.N)
            if mode == K.MODE_DIRECT and rt.bias_decayed is not None and not isinstance(rt.bias_decayed, float):
                bias_array, b_arr = 1, rt.bias_decayed
            elif mode == K.MODE_GENERAL:
                if not rt.terms:
                    bias_array, b_arr = 1, rt.bias
                elif not isinstance(rt.bias_term, float):
                    bias_array, b_arr = 1, rt.bias_term
            bias.append(np.array(np.broadcast_to(b_arr, (rt.N,)), dtype=float))
            # J and Jd: the runtime's own for a constant input, else scratch the kernel fills every step
            Jc.append(rt.J if mode == K.MODE_CONSTANT else np.zeros(rt.N))
            Jdc.append(rt.J_decayed if mode == K.MODE_CONSTANT else np.zeros(rt.N))
            jumps = -1 if getattr(rt, "jumps", None) is None else (rt.jumps.ctypes.data - self.arena.ctypes.data) // 8
            g0 = len(g_i)
            cond = rt.conductances if getattr(rt, "conductances", None) else None
            for (x, c, e, pn), (_, scale, _) in zip(cond.terms, cond.instant) if cond else ():
                c = np.atleast_1d(np.asarray(c, dtype=float))
                row = [(x.ctypes.data - self.arena.ctypes.data) // 8, c.size, g_size, -1, -1, -1]
                if isinstance(scale, np.ndarray):
                    row[K.G_PSC] = prm_size
                    prm.append(np.broadcast_to(np.asarray(scale, dtype=float), (rt.N,)))
                    prm_size += rt.N
                g_sc.append(0.0 if isinstance(scale, np.ndarray) else float(scale))
                g_coef.append(c)
                g_size += c.size
                if pn is not None:
                    row[K.G_PN] = prm_size
                    prm.append(np.asarray(pn, dtype=float))
                    prm_size += rt.N
                if isinstance(e, np.ndarray):
                    row[K.G_PE] = prm_size
                    prm.append(np.asarray(e, dtype=float))
                    prm_size += rt.N
                g_i.append(row)
                g_e.append(float(e) if not isinstance(e, np.ndarray) else 0.0)
            pop_i.append([mode, rt.N, int(rt.has_bias), bias_array, t_lo, len(terms), 0, 0, p, rt.n, 0, voff, per,
                          jumps, g0, len(g_i)])
            voff += rt.N
            bias_s = rt.bias_term if isinstance(rt.bias_term, float) else 0.0
            bias_d = rt.bias_decayed if mode == K.MODE_DIRECT and isinstance(rt.bias_decayed, float) else 0.0
            scalar = [0.0, 1.0, 0.0] if hh else [float(a) if not isinstance(a, np.ndarray) else 0.0  # per neuron: prm
                                                 for a in (st.decay, st.one_minus_decay, st.tau_m)]
            pop_f.append([scalar[0], scalar[1], 1.0 / scalar[1] if scalar[1] else 0.0, scalar[2],
                          0.0 if hh else st.min_tau_ref, bias_s, bias_d])
        width = max([c.size for c in coefs] + [1])
        # synapse groups: state in the runtime's shared arena; rings and transition matrices concatenated
        grp_i, grp_f, A, pend_off, doff = [], [], [], 0, 0
        self._rings = [g for g in self.groups if g.pending is not None]
        for g in self.groups:
            stages = g.synapse.n + 1
            delta = isinstance(g.synapse, Delta)  # jumps wait for their target: no decay
            grp_i.append([(g.state.x.ctypes.data - self.arena.ctypes.data) // 8, stages, g.L, g.state.x.shape[1],
                          int(not g.decayed_by_target and not delta), pend_off, sum(a.size for a in A), doff])
            if g.pending is not None:
                pend_off += g.pending.size
            doff += g.L
            grp_f.append(1.0 if delta else g.state.decay)
            A.append(np.ones(1) if delta else np.ascontiguousarray(g.state.A, dtype=float).reshape(-1))
        # connections: dense rows and CSR arrays concatenated
        con_i, con_f, dense, ptrs, idxs, datas, sd_early, sd_cut = [], [], [], [], [], [], [], []
        sizes = {"rows": 0, "ptr": 0, "nz": 0}
        for c, rt in self._spike_conns():
            if rt.dense:
                woff, ioff = sizes["rows"], 0
                dense.append(rt.rows)
                sizes["rows"] += rt.rows.size
            else:
                woff, ioff = sizes["ptr"], sizes["nz"]
                ptrs.append(rt.indptr)
                idxs.append(rt.indices)
                datas.append(rt.data)
                sizes["ptr"] += rt.indptr.size
                sizes["nz"] += rt.indices.size
            kind = K.DENSE if rt.dense else K.CSR_DELAYS if isinstance(rt, SynapseDelayRuntime) else K.CSR
            lagged = bool(getattr(rt, "lagged", False))
            con_i.append([em_index[id(self.emitters[c.pre])], group_index[id(rt.group)], rt.delay_steps, kind,
                          rt.n_pre, rt.n_post, woff, ioff, int(lagged)])
            con_f.append([rt.delay, rt.synapse.tau_s, _TOL] if lagged else [0.0, 1.0, _TOL])
            if not rt.dense:  # per-synapse delays beside the CSR arrays (zeros for the others: unread)
                delays = isinstance(rt, SynapseDelayRuntime)
                sd_early.append(rt.early if delays else np.zeros(rt.indices.size, dtype=np.int64))
                sd_cut.append(rt.cut_at if delays else np.zeros(rt.indices.size))
        # emitters: populations first, then sources
        em_i, self._poisson, self._spike_sources = [], [], []
        for _, rt in pops:  # spikes of one step: one per neuron, or as many as a noisy neuron may fire (plus
            # one per neuron fired by Delta jumps at the step's start)
            em_i.append([K.KIND_POP, 0, rt.n, rt.N * (rt.state.spikes_per_step if _sigma(rt) > 0 else 1)
                         + (rt.N if getattr(rt, "jumps", None) is not None else 0)])
        ss_i, ss_m, ss_idx = [], [], []
        for src, rt in self.sources.items():
            if isinstance(rt, PoissonRuntime):
                em_i.append([K.KIND_POISSON, len(self._poisson), src.n, 0])
                self._poisson.append((src, rt))
            elif isinstance(rt, SilentRuntime):  # independent per target: its connections' drives deliver
                em_i.append([K.KIND_SILENT, 0, src.n, 0])
            else:
                em_i.append([K.KIND_SPIKES, len(self._spike_sources), src.n, 0])
                ss_i.append([sum(a.size for a in ss_m), rt._m.size, rt.B, 0])
                ss_m.append(rt._m.astype(np.int64))
                ss_idx.append(rt._indices.astype(np.int64))
                self._spike_sources.append((src, rt))
        nz_i, nz_f = [], []
        for _, rt in pops:
            st = rt.state
            if _sigma(rt) > 0:
                white = st.eta is None
                phi = [0.0] * 6
                if not white:
                    (p00, p01), (_, p11) = st.Phi
                    (l00, _), (l10, l11) = st.L
                    phi = [p00, p01, p11, l00, l10, l11]
                nz_i.append([1, int(white), 0, 0, 0, *st.draws_per_step])
                nz_f.append([st.decay, st.step_std, st.tau_m, st.tau_ref, st.bridge_rate, st.bridge_var, st.sigma]
                            + phi)
            else:
                nz_i.append([0])
                nz_f.append([0.0])
        return dict(
            nz_i=_table(nz_i, K.NZ_COLS), nz_f=_table(nz_f, K.NF_COLS, float),
            pops=pops, emitters=emitters,
            pop_i=_table(pop_i, K.P_COLS), pop_f=_table(pop_f, K.PF_COLS, float),
            J=_concat(Jc)[0], Jd=_concat(Jdc)[0], bias=_concat(bias)[0],
            prm=np.concatenate(prm) if prm else np.zeros(1),
            g_i=_table(g_i, K.G_TCOLS), g_coef=np.concatenate(g_coef) if g_coef else np.zeros(1),
            g_e=np.array(g_e + [0.0]), g_sc=np.array(g_sc + [0.0]),
            terms=_table(terms, 4), coef=_table(coefs, width, float), term_decay=np.array(decays + [0.0]),
            grp_i=_table(grp_i, K.G_COLS), grp_f=np.array(grp_f + [0.0]), A=_concat(A)[0] if A else np.zeros(1),
            n_dirty=doff,
            con_i=_table(con_i, K.C_COLS), con_f=_table(con_f + [[0.0, 1.0, _TOL]], K.CF_COLS, float), **self._weights(dense, ptrs, idxs, datas),
            cuts=np.array([-1.0 if rt.cut is None else rt.cut for _, rt in self._spike_conns()] + [0.0]),
            sd_early=np.concatenate(sd_early).astype(np.int64) if sd_early else _NO_I,
            sd_cut=np.concatenate(sd_cut).astype(float) if sd_cut else np.zeros(1),
            em_i=_table(em_i, 4), ss_i=_table(ss_i, 4) if ss_i else np.zeros((0, 4), dtype=np.int64),
            ss_m=np.concatenate(ss_m) if ss_m else _NO_I, ss_idx=np.concatenate(ss_idx) if ss_idx else _NO_I,
            hh=HHTables([(p, rt) for p, (_, rt) in enumerate(pops) if isinstance(rt, HHRuntime)], len(pops)),
        )

    def _spike_conns(self):
        """The connections that propagate spikes (all but the drives of independent-per-target sources)."""
        return [(c, rt) for c, rt in self.conns if not isinstance(rt, PoissonDrive)]

    def _prepare_drives(self, k, k1):
        """The blocks of counts of the independent-per-target drives holding step k (drawn by numpy, as on the
        numpy backend), as a table and flat values; the block ends where the first of them ends."""
        group_index = {id(g): i for i, g in enumerate(self.groups)}
        rows, values, off = [], [], 0
        for d in self.drives:
            d.prepare(k)
            base = d._origin + d._block * d.S
            k1 = min(k1, base + d.S)
            rows.append([group_index[id(d.group)], d.lead, d._drive.shape[1], off, base])
            values.append(d._drive)
            off += d._drive.size
        flat = _concat(values)[0] if values else np.zeros(1)
        return _table(rows, K.D_COLS), flat, k1

    def _weights(self, dense, ptrs, idxs, datas):
        """The connections' weights as flat arrays. The connection runtimes are re-pointed to views of them,
        so a change made in place on the numpy side is seen here; a replaced array is noticed at the next run."""
        now = dense + ptrs + idxs + datas
        cache = getattr(self, "_weights_cache", None)
        if cache is not None and len(cache[0]) == len(now) and all(a is b for a, b in zip(cache[0], now)):
            return cache[1]
        flat = dict(rows=_concat(dense)[0] if dense else np.zeros(1),
                    indptr=_concat(ptrs, np.int64)[0] if ptrs else _NO_I,
                    indices=_concat(idxs, np.int64)[0] if idxs else _NO_I,
                    data=_concat(datas)[0] if datas else np.zeros(1))
        views = {"rows": [], "indptr": [], "indices": [], "data": []}
        for name, arrays in (("rows", dense), ("indptr", ptrs), ("indices", idxs), ("data", datas)):
            o = 0
            for a in arrays:
                views[name].append(flat[name][o:o + a.size].reshape(a.shape))
                o += a.size
        it = {name: iter(v) for name, v in views.items()}
        for _, rt in self._spike_conns():
            if rt.dense:
                rt.rows = next(it["rows"])
            else:
                rt.indptr, rt.indices, rt.data = next(it["indptr"]), next(it["indices"]), next(it["data"])
        self._weights_cache = (views["rows"] + views["indptr"] + views["indices"] + views["data"], flat)
        return flat

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
        # read the numpy runtime's parameters again (O(neurons); weights only when an array was replaced), so a
        # change made to them between runs is used as the numpy loop would use it
        s = self._static = self._build_static()
        pops = s["pops"]
        noisy = [(r, rt.state) for r, (_, rt) in enumerate(pops) if _sigma(rt) > 0]
        etas = [st.eta for _, st in noisy if st.eta is not None]
        nz_i = s["nz_i"]
        eo = 0
        for r, st in noisy:
            if st.eta is not None:
                nz_i[r, K.NZ_EOFF] = eo
                eo += st.eta.size
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
        functions = any(inp.inp.function is not None for _, rt in pops for inp in rt.inputs)
        dirty = np.zeros(max(1, s["n_dirty"]), dtype=np.int64)
        for g, row in zip(self.groups, s["grp_i"]):
            dirty[row[K.G_DOFF]:row[K.G_DOFF] + g.L] = g.dirty
        self._handed_over = False
        log = [np.zeros(1024, dtype=np.int64), np.zeros(1024, dtype=np.int64), np.zeros(1024, dtype=np.int64),
               np.zeros(1024)]
        flt = self._filters(sampled)
        # states owned by the numpy objects: one flat copy per block (or the array itself when there is one)
        hh = s["hh"]
        states = [[rt.state.v for _, rt in pops], [_refractory_end(rt) for _, rt in pops],
                  [g.pending for g in self._rings], etas, flt["x"], flt["total"], flt["sum"]]
        # the refractory lists (LIFState._refr; which Delta jumps a neuron discards depends on it): in and out
        refr = np.empty(max(1, 2 * sum(rt.N for _, rt in pops)), dtype=np.int64)
        n_refr = np.full(len(pops), -1, dtype=np.int64)
        for r, (_, rt) in enumerate(pops):
            lst = None if isinstance(rt, HHRuntime) else rt.state._refr
            if lst is not None and _sigma(rt) == 0:
                o = 2 * int(s["pop_i"][r, K.P_VOFF])
                refr[o:o + lst.size] = lst
                n_refr[r] = lst.size
        k0, end = self.step, self.step + steps
        k = k0
        while k < end:
            k1 = min(end, (k // _BLOCK + 1) * _BLOCK)
            for _, rt in self._poisson:  # a rate assigned between runs restarts that source's blocks
                k1 = min(k1, rt._origin + ((k - rt._origin) // _BLOCK + 1) * _BLOCK)
            if functions:
                k1 = k + 1
            # ---- prepare: may raise, changes nothing committed
            k1 = self._limit_to_arrays(k, k1)
            for _, st in noisy:  # a block of noise draws ends the block (drawn below, once nothing can raise)
                k1 = min(k1, k + st.draws_left())
            po_i, po_idx, po_bounds = self._prepare_poisson(k)
            dr_i, dr_v, k1 = self._prepare_drives(k, k1)
            inp_i, inp_v = self._prepare_inputs(k, k1)
            smp_i, smp_out, smp_steps = self._prepare_samples(sampled, pop_row, flt["row"], k, k1)
            ss_i = s["ss_i"]
            for r, (_, rt) in enumerate(self._spike_sources):
                ss_i[r, K.SS_PTR] = np.searchsorted(rt._m, k + 1)
            flat = [_concat(arrays) if arrays else (np.zeros(1), []) for arrays in states]
            direct = _direct_recorder(spike_probes, k)
            nz, nu = _noise_block(noisy, nz_i, k1 - k)
            # ---- commit
            try:
                hh.load()
                out = K.run_steps(k, k1, self.dt, pop_i, s["pop_f"], flat[0][0], flat[1][0], s["J"], s["Jd"],
                                  s["bias"], s["terms"], s["coef"], s["term_decay"], inp_i, inp_v,
                                  s["grp_i"], s["grp_f"], self.arena, s["A"], flat[2][0], dirty,
                                  s["con_i"], s["rows"], s["indptr"], s["indices"], s["data"], s["cuts"],
                                  s["em_i"], po_i, po_idx, po_bounds, ss_i, s["ss_m"], s["ss_idx"],
                                  smp_i, smp_out, smp_steps, log[0], log[1], log[2], log[3], _MAX_LOG,
                                  direct is not None, 0.0 if direct is None else direct.t0,
                                  nz_i, s["nz_f"], nz, nu, flat[3][0], hh.args(),
                                  flt["i"], flt["f"], flt["den"], flt["A"], flat[4][0], flat[5][0], flat[6][0],
                                  s["prm"], dr_i, dr_v, refr, n_refr, s["sd_early"], s["sd_cut"],
                                  s["g_i"], s["g_coef"], s["g_e"], s["con_f"], s["g_sc"])
                hh.store()
                log = list(out[:4])
                for r, (_, rt) in enumerate(pops):  # the lists, as numpy's step leaves them
                    if isinstance(rt, HHRuntime):
                        continue
                    o = 2 * int(s["pop_i"][r, K.P_VOFF])
                    rt.state._refr = refr[o:o + n_refr[r]].copy() if n_refr[r] >= 0 and _sigma(rt) == 0 \
                        else None
                    rt.state._refr_t0 = (int(out[5]) - 1) * self.dt
                k_asked, k1 = k1, int(out[5])  # earlier than asked when the spike log filled up
                for _, st in noisy:  # the draws of the steps not run are theirs again
                    st.give_back(k_asked - k1)
                for arrays, (f, offsets) in zip(states, flat):
                    if len(arrays) > 1:  # a copy: put the values back
                        for a, o in zip(arrays, offsets):
                            a.reshape(-1)[...] = f[o:o + a.size]
                self._file_spikes(out, spike_probes, source_probes, k, k1, direct)
                if self._handed_over:  # the recorder keeps (parts of) the log's arrays: fresh ones next time
                    log = log[:2] + [np.empty(a.size, dtype=a.dtype) for a in log[2:]]  # indices, times
                    self._handed_over = False
                self._file_samples(sampled, smp_i, smp_out, smp_steps)
                for g, row in zip(self.groups, s["grp_i"]):
                    g.dirty = dirty[row[K.G_DOFF]:row[K.G_DOFF] + g.L].tolist()
                self.step = k1
            except BaseException as err:
                for _, rt in pops:
                    if not isinstance(rt, HHRuntime):
                        rt.state.forget_refractory()
                failed = hh.diverged() if isinstance(err, RuntimeError) else None
                if failed is not None:  # an HH population left its valid range: numpy's SimulationError
                    self.failed = _invalid_message(failed[1], failed[0] * self.dt)
                    raise failed[1] from None
                self.failed = _invalid_message(err, k * self.dt)
                raise
            k = k1
            if held.pending:
                raise KeyboardInterrupt
            if progress.due():
                progress.update((k - k0) * self.dt, f"t = {k * self.dt:.3f} s")

    def _filters(self, sampled):
        """The probe filters' tables ("filtered" / "filtered_mean" probes: their SampleBuffer's PSCState and
        sums), their state arrays in table order, and each probe's row (``row``, by probe)."""
        emitters = self._static["emitters"]
        rows_i, rows_f, dens, As, xs, totals, sums, row = [], [], [], [], [], [], [], {}
        a_off = d_off = x_off = t_off = 0
        for p, buf in sampled:
            if p.kind not in ("filtered", "filtered_mean"):
                continue
            st, mean = buf.state, p.kind == "filtered_mean"
            stages, N = st.x.shape
            row[p] = len(rows_i)
            rows_i.append([emitters.index(self.emitters[p.target]), stages, x_off, t_off, int(mean), a_off, d_off, N])
            tau = p.synapse.tau_s
            rows_f.append([st.decay, st.inv_tau, tau, tau / buf.dt, 1.0 / self.dt, 1.0 / p.every])
            As.append(np.ascontiguousarray(st.A, dtype=float).reshape(-1))
            dens.append([math.factorial(order) * tau for order in range(stages)])  # as PSCFilter._kernel divides
            xs.append(st.x)
            a_off, d_off, x_off = a_off + stages * stages, d_off + stages, x_off + st.x.size
            if mean:
                totals.append(buf.total)
                sums.append(buf.sum)
                t_off += N
        return {"i": _table(rows_i, K.F_COLS), "f": np.array(rows_f, dtype=float).reshape(-1, K.FF_COLS),
                "den": np.concatenate([np.asarray(d, dtype=float) for d in dens]) if dens else np.zeros(1),
                "A": np.concatenate(As) if As else np.zeros(1), "x": xs, "total": totals, "sum": sums, "row": row}

    def _prepare_samples(self, sampled, pop_row, flt_row, k, k1):
        """Tables and output space of the sampled probes for steps k .. k1-1 (a filter's row for its probes)."""
        kinds = {"v": K.SAMPLE_V, "current": K.SAMPLE_CURRENT, "filtered": K.SAMPLE_FILTERED,
                 "filtered_mean": K.SAMPLE_MEAN}
        rows, size, count_all = [], 0, 0
        for p, buf in sampled:
            kind = kinds[p.kind]
            filtered = kind in (K.SAMPLE_FILTERED, K.SAMPLE_MEAN)
            N = buf.state.n_targets if filtered else self.pops[p.target].N
            first = max(k + 1, buf.start_step + 1)
            count = max(0, k1 // p.every - (first - 1) // p.every)
            rows.append([kind, flt_row[p] if filtered else pop_row[p.target], p.every, buf.start_step, size, 0,
                         count_all])
            size += count * N
            count_all += count
        return _table(rows, 7), np.empty(max(size, 1)), np.empty(max(count_all, 1), dtype=np.int64)

    def _file_samples(self, sampled, smp_i, smp_out, smp_steps):
        for (p, buf), row in zip(sampled, smp_i):
            count = int(row[K.S_COUNT])
            if count:
                block = buf.blocks[-1]
                values, when, filled = block
                flat = values.reshape(values.shape[0], -1)
                flat[filled:filled + count] = smp_out[row[K.S_OFF]:row[K.S_OFF] + count * flat.shape[1]].reshape(count, -1)
                when[filled:filled + count] = smp_steps[row[K.S_SOFF]:row[K.S_SOFF] + count]
                block[2] = filled + count

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
        rows, idx, bounds, o_idx, o_b = [], [], [], 0, 0
        for _, rt in self._poisson:
            rt.emit(k + 1)  # draws (or reuses) the block of step k
            rows.append([o_idx, o_b, rt._origin + rt._block * _BLOCK])
            idx.append(rt._idx)
            bounds.append(rt._bounds)
            o_idx += rt._idx.size
            o_b += rt._bounds.size
        if not rows:
            return np.zeros((0, 3), dtype=np.int64), _NO_I, _NO_I
        return (_table(rows, 3), np.concatenate(idx).astype(np.int64),
                np.concatenate(bounds).astype(np.int64))

    def _prepare_inputs(self, k, k1):
        """Injected currents of steps k .. k1-1: rows of the arrays, or a function's value for its one step."""
        rows, parts, size = [], [], 0
        pop_i = self._static["pop_i"]
        for p, (_, rt) in enumerate(self._static["pops"]):
            pop_i[p, K.P_I0] = len(rows)
            for inp in rt.inputs:
                if inp.inp.values is not None:
                    v = inp.inp.values
                    part = v[k:k1].reshape(k1 - k, -1)
                else:
                    inp.prepare(k, k * self.dt, rt.n)  # the user's function, checked
                    value = np.asarray(inp.value, dtype=float)
                    part = np.broadcast_to(value.reshape(-1), (rt.N if value.ndim == 2 else rt.n,))[None, :]
                rows.append([size, part.shape[1]])
                parts.append(part.reshape(-1))
                size += part.size
            pop_i[p, K.P_I1] = len(rows)
        if not rows:
            return np.zeros((0, 2), dtype=np.int64), np.zeros(1)
        return _table(rows, 2), np.concatenate(parts).astype(float)

    def _file_spikes(self, out, spike_probes, source_probes, k, k1, direct):
        """Record the block's population spikes (from the kernel's log) and source spikes into the probes.

        ``direct``: the one exact recorder whose stored times the kernel logged (see :func:`_direct_recorder`).
        """
        log_k, log_e, log_i, log_o, n = out[:5]
        if direct is not None:
            if n:  # the log is the stored spikes already: handed over, no copy (unless mostly unused space)
                keep = 2 * n >= log_o.size
                direct._record_stored((log_o[:n], log_i[:n]) if keep else (log_o[:n].copy(), log_i[:n].copy()))
                self._handed_over = keep
        elif spike_probes and n:
            emitters = self._static["emitters"]
            scale = _FRACTION_STEPS / self.dt
            for pop, bufs in spike_probes.items():
                e = -1 if len(spike_probes) == 1 else emitters.index(self.pops[pop])  # -1: the log holds pop only
                for buf in bufs:  # converted in one compiled pass into the recorder's stored form
                    rec = buf.recorder
                    times, idx, frac = K.convert_log(log_k, log_e, log_i, log_o, n, e, buf.start_step, rec.exact,
                                                     rec.t0, rec.dt, scale, _FRACTION_STEPS - 1)
                    rec._record_stored((times, idx) if rec.exact else (times, idx.astype(np.uint32), frac))
        self._file_sources(source_probes, k, k1)

    def _file_sources(self, source_probes, k, k1):
        for src in source_probes:
            rt = self.sources[src]
            idx, times = _emitted(rt, k + 1, k1 + 1)
            if idx.size:
                self._record_source(src, idx, times)


def _sigma(rt):
    """A population's membrane-noise intensity (0 for HH populations: the compiled loop refuses their noise)."""
    return 0.0 if isinstance(rt, HHRuntime) else rt.state.sigma


def _refractory_end(rt):
    """The array of refractory ends the loop scans (an HH population has none: -inf, never refractory)."""
    if isinstance(rt, HHRuntime):
        return np.full(rt.N, -np.inf)
    return rt.state.refractory_end


def _noise_block(noisy, nz_i, steps):
    """This block's pre-drawn noise of the noisy populations (rows of ``noisy``: table row, LIFState), flat,
    with their offsets written into ``nz_i``; taken from each state's draws as its numpy step would."""
    zs, us, oz, ou = [], [], 0, 0
    for r, st in noisy:
        z, u = st.take_draws(steps)
        nz_i[r, K.NZ_ZOFF], nz_i[r, K.NZ_UOFF] = oz, ou
        zs.append(z.reshape(-1))
        us.append(u.reshape(-1))
        oz += z.size
        ou += u.size
    if not zs:
        return np.zeros(1), np.zeros(1)
    return (np.concatenate(zs) if len(zs) > 1 else zs[0],
            (np.concatenate(us) if len(us) > 1 else us[0]) if ou else np.zeros(1))


def _direct_recorder(spike_probes, k):
    """The recorder whose stored times the kernel can log from step k on: one population with one exact spike
    probe recording since k or earlier (the usual case); else None (the log keeps steps and offsets)."""
    if len(spike_probes) != 1:
        return None
    bufs = next(iter(spike_probes.values()))
    if len(bufs) != 1 or not bufs[0].recorder.exact or bufs[0].start_step > k:
        return None
    return bufs[0].recorder


def _emitted(rt, m0, m1):
    """Flat indices and times of a source's spikes delivered at m0 .. m1-1 (step by step, as emit gives them)."""
    parts = [rt.emit(m) for m in range(m0, m1)] if not isinstance(rt, PoissonRuntime) else None
    if parts is None:  # one block of draws holds all these steps: slice it
        b = rt._origin + rt._block * _BLOCK
        lo, hi = rt._bounds[m0 - 1 - b], rt._bounds[m1 - 1 - b]
        return rt._idx[lo:hi], rt._times[lo:hi]
    parts = [p for p in parts if p[0].size]
    if not parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
