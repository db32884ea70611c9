"""Connections between populations: weights (description), synapse state per target and
event-driven propagation (runtime).

A :class:`Connection` holds a weight matrix W of shape (post.n, pre.n). For the
run loop (:class:`ConnectionRuntime`) it is stored transposed, one row per
presynaptic neuron, so the cost per step is the number of spikes times the
fan-out, not N^2.
"""
import numbers

import numpy as np
from scipy.sparse import csr_matrix as _csr

from .. import validation as check
from ..synapses import PSCFilter, PSCState
from .changes import read_only
from .transforms import Convolution

PLACEMENTS = ("boundary", "exact")
_LOOP_MAX = 8  # up to this many spikes per step, a Python loop over rows beats the vectorized gather
_TOL = 1e-9  # relative to dt: a time within 1e-9 dt of a step boundary counts as on it
_MATMUL_FRACTION = 0.1  # batched dense connections: above this fraction of (trial, pre) spiking, one matmul


class Connection:
    """Weights from ``pre`` to ``post`` through a PSC filter, with an optional delay.

    Attributes
    ----------
    pre, post : Population or source
    weights : ndarray or scipy.sparse matrix, shape (post.n, pre.n)
        Normalized weights: one spike of weight w delivers a total charge w
        (``integral s dt = w``, in seconds of normalized input); see
        :func:`synaptic_weight` for physical units.
    synapse : PSCFilter
    delay : float
        Transmission delay in seconds: a spike emitted at ts arrives at
        ``ta = ts + delay``, in the step that contains ta (see ``placement``).
        A delay shorter than one step arrives at the next step boundary.
    placement : {"boundary", "exact"}
        Where a spike arriving at ``ta`` (inside the step ``[t0, t1)``) enters
        the PSC state: at t0, the start of that step, with its full kernel
        (``"boundary"``: early by ``ta - t0 < dt``; it delivers its whole charge),
        or at ta exactly (``"exact"``): at t1, stage k holds ``w h_k(t1 - ta)``, so
        the current after t1 is exact and the charge between ta and t1 is not
        delivered. With a delay < dt the arrival step has already been integrated:
        both placements then deliver at its end t1 (``"exact"`` with the kernel
        from ta). With ``timing="precise"`` every spike enters at its exact arrival time
        (that is what precise timing is), so both values mean the same there.
    """

    def __init__(self, pre, post, weights, synapse, delay, placement="boundary"):
        if not isinstance(synapse, PSCFilter):
            raise TypeError(f"synapse must be a PSCFilter, got {type(synapse).__name__}")
        if placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")
        self.pre, self.post, self.synapse, self.placement = pre, post, synapse, placement
        self.delay = check.positive("delay", delay, allow_zero=True)
        self.weights = weights

    @property
    def weights(self):
        """(post.n, pre.n) weights, read-only; assigning new ones takes effect at the next run."""
        return self._weights

    def matrix(self):
        """The weights as an ndarray or scipy.sparse CSR matrix (a :class:`Convolution` as sparse, never dense)."""
        W = self._weights
        return W.to_sparse() if isinstance(W, Convolution) else W

    @weights.setter
    def weights(self, value):
        W = _check_weights(value, self.pre, self.post)
        if isinstance(W, Convolution):  # immutable (its kernel is read-only): kept as the structure
            self._weights = W
            return
        # a private, read-only copy: a change in place would bypass the next run's check
        self._weights = read_only(W.copy() if (W is value or getattr(W, "data", None) is getattr(value, "data", 0))
                                  else W)

    def __repr__(self):
        return f"Connection({self.pre.name!r} -> {self.post.name!r}, synapse={self.synapse!r}, delay={self.delay!r})"


class ConnectionRuntime:
    """Event-driven propagation of one :class:`Connection` (built by the runtime).

    W is stored transposed, one row per presynaptic neuron (dense rows or raw
    CSR arrays), already divided by tau_s: when presynaptic neuron j spikes,
    row j is added to the first stage of the target's PSC state. With a batch,
    spikes are flat indices ``trial * pre.n + j`` and targets flat
    ``trial * post.n + i``; the weights are shared by all trials.
    """

    def __init__(self, conn, dt, B):
        # arrival of a spike at offset o (s) after the start t0 = k dt of its step: ta = t0 + o + delay.
        # Boundary placement: the boundary that starts the step containing ta, floor((o + delay)/dt) steps
        # after t0, at least k + 1 (the step k is integrated). Counted from m = k + 1 that is
        # rel = delay_steps - 1 if o < cut, else delay_steps (only delays >= dt have a cut).
        d = conn.delay / dt
        self.delay = float(conn.delay)
        self.delay_steps = int(np.floor(d + _TOL))  # the furthest arrival boundary after m
        frac = max(d - self.delay_steps, 0.0)
        self.cut = (1.0 - frac - _TOL) * dt if self.delay_steps >= 1 else None
        # exact placement adds at the boundary that ends the arrival step: up to ceil(delay/dt) after m
        self.reach = max(self.delay_steps, int(np.ceil(d - _TOL))) if conn.placement == "exact" else self.delay_steps
        self.B, self.n_pre, self.n_post = B, conn.pre.n, conn.post.n
        scale = 1.0 / conn.synapse.tau_s  # stage-0 jump per unit weight
        W = conn.weights if isinstance(conn.weights, Convolution) else conn.matrix()
        self.dense = isinstance(W, np.ndarray)
        if self.dense:
            self.rows = np.ascontiguousarray(W.T) * scale
        else:
            # a Convolution keeps its (pre, post) table, so a network rebuilt from it skips the transposition
            rows = W.to_sparse_rows() if isinstance(W, Convolution) else W.T.tocsr()
            rows.sum_duplicates()
            self.indptr = rows.indptr.astype(np.int64)
            self.indptr_list = self.indptr.tolist()
            self.indices = rows.indices.astype(np.int64)
            self.data = rows.data.astype(np.float64) * scale
            self._make_table()
        self.conv = None
        if isinstance(conn.weights, Convolution) and B > 1:
            # a batch's step with many spikes: its spike maps go through one im2col/BLAS convolution
            # (Convolution.apply_events) instead of the table, when the table's additions would cost more
            c = conn.weights
            self.conv = Convolution(c.kernel * scale, c.input_shape, c.stride, c.padding)
            self.conv_min_spikes = _conv_min_spikes(self.conv, B, self.indices.size / self.n_pre)
        self.scatter = self._scatter if B == 1 else self._scatter_batch
        self.lagged = conn.placement == "exact"
        self.synapse = conn.synapse

    def deliver(self, spiked, offsets, m, dt):
        """Deliver the spikes ``spiked`` emitted at ``offsets`` (s) after ``(m - 1) dt`` into the target group.

        Each spike arrives ``delay`` after its emission, in the step that contains
        that time (``placement``); ``m`` is the first boundary not yet integrated.
        """
        group = self.group
        if self.lagged:
            total = np.asarray(offsets, dtype=float) + self.delay  # arrival after (m - 1) dt
            # the boundary that ends the arrival step (an arrival on a boundary starts its step there)
            rel = np.maximum(np.ceil(total / dt - _TOL).astype(np.int64) - 1, 0)
            lag = np.maximum((rel + 1) * dt - total, 0.0)
            first = rel[0] if rel.size else 0
            if np.all(rel == first):
                self.scatter_lagged(spiked, lag, group.target_stages(m + int(first), m))
                return
            for r in np.unique(rel):
                sel = rel == r
                self.scatter_lagged(spiked[sel], lag[sel], group.target_stages(m + int(r), m))
            return
        if self.cut is None:  # delay < dt: the next boundary
            self.scatter(spiked, group.target(m, m))
            return
        late = offsets >= self.cut
        base = m + self.delay_steps - 1
        count = np.count_nonzero(late)  # (ndarray.any/all go through slower Python wrappers)
        if count == 0:
            self.scatter(spiked, group.target(base, m))
        elif count == late.size:
            self.scatter(spiked, group.target(base + 1, m))
        else:
            self.scatter(spiked[~late], group.target(base, m))
            self.scatter(spiked[late], group.target(base + 1, m))

    def scatter_lagged(self, spiked, lags, target):
        """Add spikes arrived ``lags`` (s) before the boundary of ``target``, into all its stages (n+1, N).

        Stage k gets ``w * tau * h_k(lag)`` per spike (rows already hold w / tau).
        """
        syn = self.synapse
        x = np.asarray(lags, dtype=float) / syn.tau_s
        decay = np.exp(-x)
        if self.conv is not None and spiked.size >= self.conv_min_spikes:
            power, (trials, j) = np.ones_like(x), np.divmod(spiked, self.n_pre)
            for k in range(syn.n + 1):  # per stage, each spike weighted by tau * h_k(lag)
                self.conv.apply_events(j, trials, power * decay, self.B, target[k].reshape(self.B, self.n_post))
                power = power * x / (k + 1)
            return
        trials, j = (np.zeros(spiked.size, dtype=np.int64), spiked) if self.B == 1 else np.divmod(spiked, self.n_pre)
        if not self.dense:
            pos = self._positions(j)
            if pos is None:
                return
            lengths = self.indptr[j + 1] - self.indptr[j]
            flat = self.indices[pos] + np.repeat(trials * self.n_post, lengths)
            of = np.repeat(np.arange(spiked.size), lengths)
        power = np.ones_like(x)
        batch = self.dense and self.B > 1
        if batch:
            active = spiked.size > _MATMUL_FRACTION * self.B * self.n_pre
            if not active:
                order = np.argsort(spiked, kind="stable")  # trial-major CSR rows: (trial, pre) -> weight
                trials, j, x, decay = trials[order], j[order], x[order], decay[order]
                indptr = np.r_[0, np.cumsum(np.bincount(trials, minlength=self.B))]
        for k in range(syn.n + 1):
            factor = power * decay  # tau * h_k(lag) = x^k / k! * exp(-x)
            if batch:
                # per trial, the weighted sum of its spiking rows as one (B, pre) @ (pre, post) product,
                # sparse (cost spikes x post) unless very active -- never a (B, spikes) matrix, whose
                # cost grew with B squared
                out = target[k].reshape(self.B, self.n_post)
                if active:
                    C = np.bincount(spiked, weights=factor, minlength=self.B * self.n_pre)
                    out += C.reshape(self.B, self.n_pre) @ self.rows
                else:
                    out += _csr((factor, j, indptr), shape=(self.B, self.n_pre)) @ self.rows
            elif self.dense:
                M = np.zeros((1, spiked.size))
                M[0] = factor
                target[k].reshape(1, self.n_post)[...] += M @ self.rows[j]
            else:
                np.add.at(target[k], flat, self.data[pos] * factor[of])
            power = power * x / (k + 1)

    def _make_table(self):
        """Non-empty rows padded to equal length (index 0, weight 0), when that at most doubles the memory.

        Gathering the rows of the spiking neurons is then one fancy index instead
        of a dozen small numpy calls; a padding entry adds +0.0, which changes nothing.
        ``table = (row_of_pre, indices, weights)``; empty rows map to an all-padding row.
        """
        lengths = np.diff(self.indptr)
        width = int(lengths.max()) if lengths.size else 0
        full = np.flatnonzero(lengths)
        self.table = None
        if width == 0 or (full.size + 1) * width > 2 * self.indices.size + self.n_pre:
            return
        row_of = np.full(self.n_pre, full.size, dtype=np.intp)
        row_of[full] = np.arange(full.size)
        row = np.repeat(row_of, lengths)
        col = np.arange(self.indices.size) - np.repeat(self.indptr[:-1], lengths)
        idx, w = np.zeros((full.size + 1, width), dtype=np.intp), np.zeros((full.size + 1, width))
        idx[row, col], w[row, col] = self.indices, self.data
        self.table = (row_of, idx, w)

    def _scatter(self, spiked, target):
        """Add the rows of the presynaptic neurons ``spiked`` (int array, repeats allowed) into ``target``."""
        if self.dense:
            if spiked.size == 1:
                target += self.rows[spiked[0]]
            else:
                target += self.rows[spiked].sum(axis=0)
            return
        if self.table is not None:  # the same additions in the same order as the CSR paths below
            row_of, idx, w = self.table
            rows = row_of[spiked]
            np.add.at(target, idx[rows].ravel(), w[rows].ravel())
            return
        indptr, indices, data = self.indptr_list, self.indices, self.data
        if spiked.size <= _LOOP_MAX:
            for j in spiked.tolist():
                a, b = indptr[j], indptr[j + 1]
                if b > a:  # a CSR row has distinct columns, so fancy += is safe
                    target[indices[a:b]] += data[a:b]
            return
        pos = self._positions(spiked)
        if pos is not None:
            np.add.at(target, indices[pos], data[pos])

    def _positions(self, spiked):
        """Positions in the CSR arrays of all entries of the rows ``spiked`` (None if there are none)."""
        starts = self.indptr[spiked]
        lengths = self.indptr[spiked + 1] - starts
        total = int(lengths.sum())
        if total == 0:
            return None
        # each row's start repeated over its length, plus a running offset
        ends = np.cumsum(lengths)
        return np.arange(total) + np.repeat(starts - (ends - lengths), lengths)

    def _scatter_batch(self, spiked, target):
        """As :meth:`_scatter` for flat batch indices: per trial, the same sums in the same order as one run."""
        if self.dense and spiked.size > _MATMUL_FRACTION * self.B * self.n_pre:
            # very active: counts (B, pre) @ W^T / tau_s, one BLAS product for the batch (equals the
            # event-driven sums to rounding, not bit for bit)
            counts = np.bincount(spiked, minlength=self.B * self.n_pre).reshape(self.B, self.n_pre)
            target.reshape(self.B, self.n_post)[...] += counts.astype(float) @ self.rows
            return
        if self.conv is not None and spiked.size >= self.conv_min_spikes:
            trials, j = np.divmod(spiked, self.n_pre)
            self.conv.apply_events(j, trials, np.ones(spiked.size), self.B, target.reshape(self.B, self.n_post))
            return
        trials, j = np.divmod(spiked, self.n_pre)
        if self.dense:
            if spiked.size > 1:
                order = np.argsort(trials, kind="stable")
                trials, j = trials[order], j[order]
            starts = np.flatnonzero(np.r_[True, trials[1:] != trials[:-1]])
            sums = self.rows[j[starts]]
            if j.size > starts.size:
                # add each trial's rows one by one, as a single run's rows[spiked].sum(axis=0) does (not
                # pairwise like reduceat), so a trial equals its single run bit for bit; the loop runs over
                # the rank of a spike within its trial (a few per step), never over spikes or trials
                counts = np.diff(np.r_[starts, j.size])
                for r in range(1, int(counts.max())):
                    sel = (counts > r).nonzero()[0]
                    sums[sel] += self.rows[j[starts[sel] + r]]
            target.reshape(self.B, self.n_post)[trials[starts]] += sums
            return
        if self.table is not None:
            row_of, idx, w = self.table
            rows = row_of[j]
            np.add.at(target, (idx[rows] + (trials * self.n_post)[:, None]).ravel(), w[rows].ravel())
            return
        pos = self._positions(j)
        if pos is not None:
            lengths = self.indptr[j + 1] - self.indptr[j]
            flat = self.indices[pos] + np.repeat(trials * self.n_post, lengths)
            np.add.at(target, flat, self.data[pos])


#: a BLAS multiply-add of Convolution.apply costs about this fraction of one table addition (np.add.at);
#: measured with benchmarks/conv_spiking.py --part crossover (equal costs at about 900 spikes of 50 x 9,216 there)
_CONV_MAC_COST = 0.008


def _conv_min_spikes(conv, B, fanout):
    """Spikes per step from which a batch's step is cheaper as one dense convolution than through the table:
    spikes * fanout table additions against B * post.n * (in_ch * kh * kw of the factored kernel) products."""
    K, _ = conv._factored()
    macs = B * conv.shape[0] * int(np.prod(K.shape[1:]))
    return max(1, int(np.ceil(_CONV_MAC_COST * macs / max(fanout, 1e-12))))


class FusedPropagation:
    """All undelayed, boundary-placed sparse connections from one presynaptic population in one gather.

    The stage-0 states of the target groups live in one shared buffer, and the
    rows of the connections are concatenated per presynaptic neuron (flat
    positions in that buffer), so a step's spikes cost one fancy index and one
    ``add.at`` for all those connections together. Each target element belongs
    to one connection here, so it receives the same additions in the same order
    as with separate connections.
    """

    def __init__(self, members, arena, B):
        # members: (ConnectionRuntime, offset of its group's stage 0 in arena)
        self.arena, self.B = arena, B
        n_pre = members[0][0].n_pre
        lengths = sum(np.diff(rt.indptr) for rt, _ in members)
        width = int(lengths.max())
        idx = np.zeros((n_pre + 1, width), dtype=np.intp)
        w = np.zeros((n_pre + 1, width))
        post = np.zeros((n_pre + 1, width), dtype=np.intp)
        fill = np.zeros(n_pre, dtype=np.intp)
        for rt, offset in members:
            counts = np.diff(rt.indptr)
            row = np.repeat(np.arange(n_pre), counts)
            col = np.arange(rt.indices.size) - np.repeat(rt.indptr[:-1], counts) + np.repeat(fill, counts)
            idx[row, col], w[row, col], post[row, col] = rt.indices + offset, rt.data, rt.n_post
            fill += counts
        self.n_pre, self.table = n_pre, (idx, w, post)

    @staticmethod
    def worth_it(members):
        """Fuse when the padded table is at most twice the entries (plus one row per neuron)."""
        lengths = sum(np.diff(rt.indptr) for rt, _ in members)
        return (lengths.size + 1) * int(lengths.max()) <= 2 * int(lengths.sum()) + lengths.size

    def scatter(self, spiked):
        idx, w, post = self.table
        if self.B == 1:
            np.add.at(self.arena, idx[spiked].ravel(), w[spiked].ravel())
            return
        trials, j = np.divmod(spiked, self.n_pre)
        np.add.at(self.arena, (idx[j] + trials[:, None] * post[j]).ravel(), w[j].ravel())


def _check_weights(weights, pre, post):
    """Weights as a float ndarray or scipy.sparse CSR matrix of shape (post.n, pre.n)."""
    shape = (post.n, pre.n)
    where = f"from {pre.name!r} (pre.n={pre.n}) to {post.name!r} (post.n={post.n})"
    if isinstance(weights, Convolution):
        if weights.shape != shape:
            raise ValueError(f"the convolution maps input_shape {weights.input_shape} ({weights.shape[1]} neurons) "
                             f"to output_shape {weights.output_shape} ({weights.shape[0]} neurons), which does not "
                             f"match (post.n, pre.n) = {shape} for the connection {where}")
        return weights
    if isinstance(weights, numbers.Real) and not isinstance(weights, bool):
        if not np.isfinite(weights):
            raise ValueError(f"weights must be finite, got {weights!r}")
        return np.full(shape, float(weights))  # a scalar connects all to all
    try:
        import scipy.sparse as sp
    except ImportError:  # pragma: no cover - scipy is a dependency
        sp = None
    if sp is not None and sp.issparse(weights):
        W = sp.csr_matrix(weights, dtype=np.float64)
        data = W.data
    else:
        W = check.finite_array("weights", weights)
        data = W
    if W.shape != shape:
        raise ValueError(f"weights of shape {W.shape} do not match (post.n, pre.n) = {shape} for the connection {where}")
    if not np.all(np.isfinite(data)):
        raise ValueError(f"weights must be finite for the connection {where}")
    return W


class SynapseGroup:
    """PSC state of all connections into one population that share a synapse (they add linearly).

    Holds the cascade state ``x`` (n+1, N) and a ring buffer ``pending`` (L, n+1, N)
    of increments for delayed spikes: slot ``m % L`` arrives at time ``m * dt``.
    """

    def __init__(self, synapse, n, dt, max_delay_steps, out=None):
        self.synapse = synapse
        self.state = PSCState(synapse, n, dt)
        if out is not None:  # live in a slice of a shared buffer (see FusedPropagation)
            out[...] = 0.0
            self.state.x = out.reshape(self.state.x.shape)
        self.x0 = self.state.x[0]  # spikes without delay are added here directly
        self.L = max_delay_steps + 1
        self.pending = np.zeros((self.L, synapse.n + 1, n)) if self.L > 1 else None
        self.dirty = [0] * self.L  # 0 clean, 1 stage 0 only, 2 all stages
        # set by a target that decays the state itself while reading it (LIFRuntime, n = 0): the same
        # multiplication, done while the array is still in cache; advance_and_deliver then skips it
        self.decayed_by_target = False

    def snapshot(self):
        return (self.state.x.copy(), None if self.pending is None else self.pending.copy(), list(self.dirty))

    def restore(self, snap):
        x, pending, dirty = snap
        np.copyto(self.state.x, x)
        if pending is not None:
            np.copyto(self.pending, pending)
        self.dirty = list(dirty)

    def advance_and_deliver(self, m):
        """Advance the state to time ``m * dt`` and add the delayed spikes due then."""
        if not self.decayed_by_target:
            self.state.advance()
        if self.L > 1:
            slot = m % self.L
            dirty = self.dirty[slot]
            if dirty:
                if dirty == 1:
                    self.x0 += self.pending[slot, 0]
                else:
                    self.state.x += self.pending[slot]
                self.pending[slot] = 0.0
                self.dirty[slot] = 0

    def target(self, m_arrival, m_now):
        """Array to add stage-0 increments into for spikes arriving at step ``m_arrival``."""
        if m_arrival == m_now:
            return self.x0
        slot = m_arrival % self.L
        self.dirty[slot] = max(self.dirty[slot], 1)
        return self.pending[slot, 0]

    def target_stages(self, m_arrival, m_now):
        """Array (n+1, N) to add increments of all stages into for spikes arriving at step ``m_arrival``."""
        if m_arrival == m_now:
            return self.state.x
        slot = m_arrival % self.L
        self.dirty[slot] = 2
        return self.pending[slot]


def membrane_coefficients(synapse, tau_m, dt):
    """Weights c_k such that ``J = sum_k c_k x_k`` is the constant input equivalent to the cascade over a step.

    The augmented linear system (PSC stages, then ``tau_m dv/dt = x_n - v``) is
    advanced exactly with the matrix exponential; its v row gives the exact
    contribution of each stage to v after ``dt``, divided by ``1 - exp(-dt/tau_m)``.
    This makes the subthreshold membrane update exact for decaying synaptic currents.
    """
    from scipy.linalg import expm

    n = synapse.n
    M = np.zeros((n + 2, n + 2))
    for k in range(n + 1):
        M[k, k] = -1.0 / synapse.tau_s
        if k:
            M[k, k - 1] = 1.0 / synapse.tau_s
    M[n + 1, n] = 1.0 / tau_m
    M[n + 1, n + 1] = -1.0 / tau_m
    row = expm(M * dt)[n + 1, : n + 1]
    return row / -np.expm1(-dt / tau_m)


def synaptic_weight(units, synapse, charge=None, current=None, voltage=None):
    """Normalized weight for a synapse onto a physical LIF neuron (:class:`neurosim.LIFUnits`).

    Give exactly one of:

    charge : float
        Total charge of one PSC in coulombs.
    current : float
        PSC amplitude in amperes: the PSC is ``current * tau_s * h(t)``, i.e. the
        jump of an exponential (n = 0) synaptic current.
    voltage : float
        The same amplitude expressed in volts, for current-based models written as
        ``tau_m dV/dt = -(V - V_L) + g`` with ``g += voltage`` per spike (Brian2's CUBA).

    Returns
    -------
    float
        w such that one spike delivers ``integral s dt = w`` to the normalized neuron.
    """
    from ..neurons.lif import LIFUnits

    if not isinstance(units, LIFUnits):
        raise TypeError(f"units must be a neurosim.LIFUnits, got {type(units).__name__}")
    if not isinstance(synapse, PSCFilter):
        raise TypeError(f"synapse must be a PSCFilter, got {type(synapse).__name__}")
    given = [(name, x) for name, x in (("charge", charge), ("current", current), ("voltage", voltage)) if x is not None]
    if len(given) != 1:
        raise ValueError("give exactly one of charge (C), current (A) or voltage (V)")
    name, value = given[0]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    span = units.V_th - units.V_reset
    value = float(value)
    if charge is not None:
        w = check.finite_result(name, value, lambda: value / (units.g_L * span), "the normalized weight")
    elif current is not None:
        w = check.finite_result(name, value, lambda: value * synapse.tau_s / (units.g_L * span), "the normalized weight")
    else:
        w = check.finite_result(name, value, lambda: value * synapse.tau_s / span, "the normalized weight")
    return float(w)


__all__ = ["Connection", "synaptic_weight"]
