"""Spike-timing-dependent plasticity: pair-based STDP with exponential traces (the description and its run state).

Song, Miller & Abbott (2000); Morrison, Diesmann & Gerstner (2008), written as Brian2's
``Synapses`` STDP example. Each presynaptic neuron j keeps a trace x_pre, each postsynaptic
neuron i a trace x_post; between events they decay, ``tau_plus dx_pre/dt = -x_pre`` and
``tau_minus dx_post/dt = -x_post``. At the synapse (i, j):

* a presynaptic spike *arriving* at time t (emitted at t - delay):
  ``x_pre += 1`` (``pairing="all"``) or ``x_pre = 1`` (``"nearest"``), then
  ``w -= A_minus * x_post(t)`` (additive) or ``w -= A_minus * x_post(t) * (w - w_min)``
  (multiplicative), clipped to [w_min, w_max];
* a postsynaptic spike at time t: ``x_post += 1`` (or ``= 1``), then
  ``w += A_plus * x_pre(t)`` (additive) or ``w += A_plus * x_pre(t) * (w_max - w)``, clipped.

Events are applied in the order of their exact times (spike times inside the step, arrival
times after the delay); a presynaptic arrival and a postsynaptic spike at the same time (within
1e-9 dt) are applied presynaptic first, as Brian2 orders its ``on_pre`` before its ``on_post``
pathway. The updates of the events in ``[k dt, (k + 1) dt)`` are applied in the plasticity phase
of step k, after propagation: a "weights" sample at ``(k + 1) dt`` holds every event before that
time (as Brian2's ``StateMonitor`` at the start of its step), and a spike propagates with the
weight its synapse had before its own step's updates.

Delay convention: the whole delay is *axonal*, as in Brian2 (``on_pre`` runs at arrival and
``on_post`` at once). NEST's ``stdp_synapse`` treats the delay as dendritic instead (the
postsynaptic spike reaches the synapse ``delay`` late), so the two differ by ``2 * delay`` in
the spike-time difference; see :mod:`neurosim.export.pynn` for what the export does about it.
"""
import numpy as np

from .. import validation as check

RULES = ("additive", "multiplicative")
PAIRINGS = ("all", "nearest")
_TOL = 1e-9  # relative to dt: times this close count as equal (an arrival on a step's end belongs to the next step)


class STDP:
    """Pair-based spike-timing-dependent plasticity of a connection's weights (a description).

    Pass it to ``Network.connect(..., plasticity=STDP(...))``. The connection's ``weights``
    stay the initial values; the learned weights live in the network's run state, one copy
    per trial with a batch. Read them with ``net.probe(conn, "weights", sample_every=...)``
    or ``net.current_weights(conn)``.

    Parameters
    ----------
    tau_plus, tau_minus : float > 0
        Time constants (s) of the presynaptic and postsynaptic traces.
    A_plus, A_minus : float >= 0
        Potentiation (on a postsynaptic spike) and depression (on a presynaptic arrival)
        per unit trace: in weight units for ``rule="additive"``, dimensionless fractions of
        the distance to the bound for ``"multiplicative"``.
    w_min, w_max : float, w_min < w_max
        Bounds of every weight, in the connection's weight units (normalized charge for LIF
        targets). Initial weights outside them are refused at build.
    rule : {"additive", "multiplicative"}
    pairing : {"all", "nearest"}
        All-to-all pairing (traces add 1 per spike) or nearest-spike (traces reset to 1).

    Notes
    -----
    Learning acts on existing synapses only: every entry of a dense matrix, the stored
    entries of a scipy.sparse one (an explicitly stored 0 is a synapse). STDP objects are
    immutable; connect with a new one to change the rule.
    """

    __slots__ = ("tau_plus", "tau_minus", "A_plus", "A_minus", "w_min", "w_max", "rule", "pairing")

    def __init__(self, tau_plus, tau_minus, A_plus, A_minus, w_min, w_max, rule="additive", pairing="all"):
        values = dict(tau_plus=check.positive("tau_plus", tau_plus),
                      tau_minus=check.positive("tau_minus", tau_minus),
                      A_plus=check.positive("A_plus", A_plus, allow_zero=True),
                      A_minus=check.positive("A_minus", A_minus, allow_zero=True),
                      w_min=check.check_number("w_min", w_min),
                      w_max=check.check_number("w_max", w_max),
                      rule=check.check_choice("rule", rule, RULES),
                      pairing=check.check_choice("pairing", pairing, PAIRINGS))
        if not values["w_min"] < values["w_max"]:
            raise ValueError(f"w_min must be below w_max, got w_min={w_min!r}, w_max={w_max!r}")
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name, value):
        raise AttributeError(f"STDP parameters are fixed once made (a built network learns with them); "
                             f"connect with a new neurosim.STDP(...) to change {name!r}")

    def __repr__(self):
        return ("STDP(" + ", ".join(f"{k}={getattr(self, k)!r}" for k in self.__slots__) + ")")

    def __eq__(self, other):
        return type(other) is STDP and all(getattr(self, k) == getattr(other, k) for k in self.__slots__)

    def __hash__(self):
        return hash(tuple(getattr(self, k) for k in self.__slots__))

    def check_weights(self, W, where):
        """Refuse initial weights outside [w_min, w_max] (``W`` ndarray or sparse; ``where`` names the connection)."""
        data = W if isinstance(W, np.ndarray) else W.data
        if data.size and (data.min() < self.w_min or data.max() > self.w_max):
            raise ValueError(f"the weights of the connection {where} lie in [{data.min():g}, {data.max():g}], "
                             f"outside the STDP bounds [w_min, w_max] = [{self.w_min:g}, {self.w_max:g}]")


def synapse_structure(W, n_post, n_pre):
    """The synapses of a (post, pre) weight matrix, pre-major (the order propagation reads them in).

    Returns
    -------
    indptr : int64 (n_pre + 1,)
        Synapses of presynaptic neuron j are positions ``indptr[j]:indptr[j + 1]``.
    post : int64 (S,)
        Postsynaptic neuron of each synapse.
    w0 : float64 (S,)
        Initial weights.
    to_user : int64 (S,)
        Position of each user-order synapse (dense: row-major (post, pre); sparse: the canonical
        CSR order of ``W``) in the pre-major arrays: user weights are ``w[..., to_user]``.
    user_ptr : int64 (n_post + 1,)
        Synapses of postsynaptic neuron i are user positions ``user_ptr[i]:user_ptr[i + 1]``.
    """
    if isinstance(W, np.ndarray):
        post_u = np.repeat(np.arange(n_post, dtype=np.int64), n_pre)
        pre_u = np.tile(np.arange(n_pre, dtype=np.int64), n_post)
        data = np.ascontiguousarray(W, dtype=np.float64).reshape(-1)
        user_ptr = np.arange(n_post + 1, dtype=np.int64) * n_pre
    else:
        C = W.tocsr(copy=True)
        C.sum_duplicates()  # canonical: sorted columns, no duplicates (explicit zeros stay synapses)
        post_u = np.repeat(np.arange(n_post, dtype=np.int64), np.diff(C.indptr))
        pre_u = C.indices.astype(np.int64)
        data = C.data.astype(np.float64)
        user_ptr = C.indptr.astype(np.int64)
    order = np.argsort(pre_u, kind="stable")  # pre-major position p holds user synapse order[p]
    to_user = np.empty_like(order)
    to_user[order] = np.arange(order.size)
    indptr = np.zeros(n_pre + 1, dtype=np.int64)
    np.cumsum(np.bincount(pre_u, minlength=n_pre), out=indptr[1:])
    return indptr, post_u[order], data[order], to_user, user_ptr


_NO_INDEX, _NO_TIME = np.zeros(0, dtype=np.int64), np.zeros(0)


def _repeats(a):
    """Whether the int array ``a`` holds a value twice."""
    if a.size < 2:
        return False
    s = np.sort(a)
    return bool((s[1:] == s[:-1]).any())


def csr_positions(ptr, rows):
    """Positions of the entries of CSR rows: concatenated ``arange(ptr[r], ptr[r + 1])`` for ``rows`` (repeats
    allowed), and the row lengths; one gather, no loop. Also used by static propagation."""
    starts = ptr[rows]
    lengths = ptr[rows + 1] - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64), lengths
    ends = np.cumsum(lengths)
    return np.arange(total) + np.repeat(starts - (ends - lengths), lengths), lengths


class STDPRuntime:
    """Run state of one plastic connection: per-trial weights, traces, and arrivals not yet applied.

    Built by the connection's runtime (:class:`neurosim.network.connections.ConnectionRuntime`),
    which propagates spikes with :meth:`scatter` / :meth:`scatter_lagged` (the weights of each
    spike's trial, as they are when the spike is emitted). The network's runtime calls
    :meth:`step` once per step after propagation (the plasticity phase).

    Attributes
    ----------
    w : ndarray (B, S)
        Weights of the S synapses per trial, pre-major (see :func:`synapse_structure`).
    x_pre, t_pre : ndarray (B * n_pre,)
        Presynaptic trace value at its last update and the time (s) of that update.
    x_post, t_post : ndarray (B * n_post,)
    queue_idx, queue_t : ndarray
        Flat presynaptic indices and arrival times (s) of spikes not yet applied.
    """

    def __init__(self, rule, conn, dt, B, tau_s):
        self.rule, self.dt, self.B = rule, dt, B
        self.n_pre, self.n_post, self.delay = conn.pre.n, conn.post.n, float(conn.delay)
        W = conn.matrix()
        rule.check_weights(W, f"{conn.pre.name!r} -> {conn.post.name!r}")
        self.dense = isinstance(W, np.ndarray)
        self.indptr, self.indices, w0, self.to_user, self.user_ptr = synapse_structure(W, self.n_post, self.n_pre)
        self.S = w0.size
        # presynaptic neuron of each synapse in the user's (post-major) order: read contiguously per post spike
        self.user_pre = np.repeat(np.arange(self.n_pre, dtype=np.int64), np.diff(self.indptr))[self.to_user]
        self.w = np.tile(w0, (B, 1))
        self.scale = 1.0 / tau_s  # stage-0 jump per unit weight
        self.tau_s = tau_s
        self.x_pre, self.t_pre = np.zeros(B * self.n_pre), np.zeros(B * self.n_pre)
        self.x_post, self.t_post = np.zeros(B * self.n_post), np.zeros(B * self.n_post)
        self.queue_idx, self.queue_t = np.zeros(0, dtype=np.int64), np.zeros(0)
        # per flat neuron, the time of its event in the step being applied (inf: none)
        self._ta = np.full(B * self.n_pre, np.inf)
        self._tp = np.full(B * self.n_post, np.inf)
        # this step's bumped traces by flat neuron: read only where _ta/_tp are finite (written this step)
        self._new_pre, self._new_post = np.empty(B * self.n_pre), np.empty(B * self.n_post)
        self.force_sequential = False  # tests: apply every step event by event

    # ---- propagation with per-trial weights ------------------------------------------------
    def _gather(self, spiked):
        """Flat targets, synapse positions into ``w.ravel()`` and spike of each entry, for flat ``spiked``."""
        trials, j = np.divmod(spiked, self.n_pre)
        pos, lengths = csr_positions(self.indptr, j)
        tr = np.repeat(trials, lengths)
        return self.indices[pos] + tr * self.n_post, tr * self.S + pos, lengths

    def scatter(self, spiked, target):
        """Add ``w / tau_s`` of the synapses of the flat presynaptic indices ``spiked`` into ``target`` (B * n_post)."""
        flat, wpos, _ = self._gather(spiked)
        if flat.size:
            np.add.at(target, flat, self.w.reshape(-1)[wpos] * self.scale)

    def scatter_lagged(self, spiked, lags, target):
        """As ``ConnectionRuntime.scatter_lagged``: stage k of ``target`` (n+1, N) gets ``w h_k(lag)`` per spike."""
        flat, wpos, lengths = self._gather(spiked)
        if flat.size == 0:
            return
        x = np.repeat(np.asarray(lags, dtype=float) / self.tau_s, lengths)
        values = self.w.reshape(-1)[wpos] * self.scale * np.exp(-x)
        for k in range(target.shape[0]):  # tau * h_k(lag) = x^k / k! * exp(-x)
            np.add.at(target[k], flat, values)
            values = values * x / (k + 1)

    # ---- the learned weights ---------------------------------------------------------------
    def value(self, kind="weights"):
        """The current weights in the user's order: (B, post, pre) dense, or (B, S) for a sparse connection."""
        user = self.w[:, self.to_user]
        return user.reshape(self.B, self.n_post, self.n_pre) if self.dense else user

    # ---- the plasticity phase --------------------------------------------------------------
    def step(self, k, pre_spiked, pre_offsets, post_spiked, post_offsets):
        """Apply the events of step k: this step's postsynaptic spikes and the arrivals due by its end.

        ``pre_spiked``/``pre_offsets``: presynaptic spikes emitted in step k (flat indices, offsets in s
        after ``k * dt``), queued to arrive ``delay`` later; ``post_spiked``/``post_offsets`` likewise for
        the postsynaptic population.
        """
        dt = self.dt
        t0 = k * dt
        end = (k + 1 - _TOL) * dt  # an event at t belongs to the step [k dt, (k + 1) dt) containing it
        pi, ta = _NO_INDEX, _NO_TIME
        if pre_spiked.size and self.queue_t.size == 0:
            ta = t0 + pre_offsets + self.delay
            if ta.max() < end:  # all arrive in this step (no delay): nothing to queue
                pi = pre_spiked
            else:
                self.receive(pre_spiked, t0 + pre_offsets)
        elif pre_spiked.size:
            self.receive(pre_spiked, t0 + pre_offsets)
        if pi is _NO_INDEX and self.queue_t.size:
            due = self.queue_t < end
            if due.any():
                pi, ta = self.queue_idx[due], self.queue_t[due]
                self.queue_idx, self.queue_t = self.queue_idx[~due], self.queue_t[~due]
        if pi is _NO_INDEX:
            ta = _NO_TIME
        qi = post_spiked
        if pi.size == 0 and qi.size == 0:
            return
        tp = t0 + post_offsets if qi.size else _NO_TIME
        if self.force_sequential or _repeats(pi) or _repeats(qi):
            self._sequential(pi, ta, qi, tp)  # a neuron with several events in one step: event by event
        else:
            self._together(pi, ta, qi, tp)

    def receive(self, spiked, times):
        """Queue presynaptic spikes emitted at ``times`` (s); they act at ``times + delay``."""
        self.queue_idx = np.concatenate([self.queue_idx, spiked.astype(np.int64)])
        self.queue_t = np.concatenate([self.queue_t, times + self.delay])

    def _trace(self, x, t_last, flat, t, tau):
        return x[flat] * np.exp(-(t - t_last[flat]) / tau)

    def _bumped(self, value):
        return value + 1.0 if self.rule.pairing == "all" else np.ones_like(value)

    def _depress(self, wpos, x_post):
        r, w = self.rule, self.w.reshape(-1)
        if r.rule == "additive":
            w[wpos] = np.clip(w[wpos] - r.A_minus * x_post, r.w_min, r.w_max)
        else:
            v = w[wpos]
            w[wpos] = np.clip(v - r.A_minus * x_post * (v - r.w_min), r.w_min, r.w_max)

    def _potentiate(self, wpos, x_pre):
        r, w = self.rule, self.w.reshape(-1)
        if r.rule == "additive":
            w[wpos] = np.clip(w[wpos] + r.A_plus * x_pre, r.w_min, r.w_max)
        else:
            v = w[wpos]
            w[wpos] = np.clip(v + r.A_plus * x_pre * (r.w_max - v), r.w_min, r.w_max)

    def _post_synapses(self, qi):
        """For flat postsynaptic indices: positions into ``w.ravel()``, flat presynaptic index, lengths."""
        trials, i = np.divmod(qi, self.n_post)
        upos, lengths = csr_positions(self.user_ptr, i)
        pos = self.to_user[upos]
        tr = np.repeat(trials, lengths)
        return tr * self.S + pos, self.user_pre[upos] + tr * self.n_pre, lengths

    def _together(self, pi, ta, qi, tp):
        """Every flat neuron has at most one event: all synapses at once, in three ordered stages.

        A synapse with both events gets them in time order: depression first where the arrival is
        not after the postsynaptic spike (stage 1), then potentiation (stage 2), then the depression
        of arrivals after the postsynaptic spike (stage 3). The traces each event reads include
        the other neuron's event of this step when that came first.
        """
        r, tol = self.rule, _TOL * self.dt
        new_pre = self._bumped(self._trace(self.x_pre, self.t_pre, pi, ta, r.tau_plus))
        new_post = self._bumped(self._trace(self.x_post, self.t_post, qi, tp, r.tau_minus))
        self._ta[pi], self._tp[qi] = ta, tp
        try:
            if pi.size:
                post_flat, wpos_pre, lengths = self._gather(pi)
                t_e = np.repeat(ta, lengths)
                xp = self._trace(self.x_post, self.t_post, post_flat, t_e, r.tau_minus)
                after = self._tp[post_flat] < t_e - tol  # the postsynaptic spike came first: stage 3
                if after.any():
                    post_new = self._new_post
                    post_new[qi] = new_post
                    sel = after.nonzero()[0]
                    xp[sel] = post_new[post_flat[sel]] * np.exp(-(t_e[sel] - self._tp[post_flat[sel]]) / r.tau_minus)
                first = ~after
                self._depress(wpos_pre[first], xp[first])
            if qi.size:
                wpos_post, pre_flat, lengths = self._post_synapses(qi)
                t_e = np.repeat(tp, lengths)
                xa = self._trace(self.x_pre, self.t_pre, pre_flat, t_e, r.tau_plus)
                before = self._ta[pre_flat] <= t_e + tol  # this step's arrival came first (or at the same time)
                if before.any():
                    pre_new = self._new_pre
                    pre_new[pi] = new_pre
                    sel = before.nonzero()[0]
                    xa[sel] = pre_new[pre_flat[sel]] * np.exp(-(t_e[sel] - self._ta[pre_flat[sel]]) / r.tau_plus)
                self._potentiate(wpos_post, xa)
            if pi.size and after.any():
                self._depress(wpos_pre[after], xp[after])
        finally:
            self._ta[pi], self._tp[qi] = np.inf, np.inf
        self.x_pre[pi], self.t_pre[pi] = new_pre, ta
        self.x_post[qi], self.t_post[qi] = new_post, tp

    def _sequential(self, pi, ta, qi, tp):
        """Events one by one in time order (arrivals before postsynaptic spikes at equal times)."""
        r = self.rule
        kind = np.r_[np.zeros(pi.size, dtype=np.int64), np.ones(qi.size, dtype=np.int64)]
        who = np.r_[pi, qi].astype(np.int64)
        times = np.r_[ta, tp]
        # a postsynaptic spike within the tolerance of an arrival counts as simultaneous: after it
        for e in np.lexsort((kind, times + kind * (_TOL * self.dt))).tolist():
            n, t = who[e:e + 1], times[e:e + 1]
            if kind[e] == 0:
                post_flat, wpos, _ = self._gather(n)
                self._depress(wpos, self._trace(self.x_post, self.t_post, post_flat, t[0], r.tau_minus))
                self.x_pre[n] = self._bumped(self._trace(self.x_pre, self.t_pre, n, t, r.tau_plus))
                self.t_pre[n] = t
            else:
                wpos, pre_flat, _ = self._post_synapses(n)
                self._potentiate(wpos, self._trace(self.x_pre, self.t_pre, pre_flat, t[0], r.tau_plus))
                self.x_post[n] = self._bumped(self._trace(self.x_post, self.t_post, n, t, r.tau_minus))
                self.t_post[n] = t

    # ---- snapshots and reassigned weights ---------------------------------------------------
    def snapshot(self):
        return (self.w.copy(), self.x_pre.copy(), self.t_pre.copy(), self.x_post.copy(), self.t_post.copy(),
                self.queue_idx, self.queue_t)  # queue arrays are replaced, never changed in place

    def restore(self, snap):
        for a, s in zip((self.w, self.x_pre, self.t_pre, self.x_post, self.t_post), snap[:5]):
            np.copyto(a, s)
        self.queue_idx, self.queue_t = snap[5], snap[6]

    def continue_from(self, old):
        """Keep the traces and queued arrivals of ``old`` (the weights are the new description's)."""
        for name in ("x_pre", "t_pre", "x_post", "t_post"):
            np.copyto(getattr(self, name), getattr(old, name))
        self.queue_idx, self.queue_t = old.queue_idx, old.queue_t


__all__ = ["STDP", "STDPRuntime", "csr_positions", "synapse_structure"]
