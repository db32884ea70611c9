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
from .._optional import numba_enabled
from ..synapses import PSCFilter, PSCState
from ..synapses.conductance import is_conductance
from ..synapses.plasticity import STDP, STDPRuntime, csr_positions
from ..synapses.delta import Delta, DeltaState
from .changes import read_only
from .plan import Stateful
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
    synapse : PSCFilter or Delta
        With :class:`neurosim.Delta` the weights are voltage jumps instead (normalized,
        or volts for a ``LIFUnits`` target; see :mod:`neurosim.synapses.delta`).
    delay : float or None
        Transmission delay in seconds: a spike emitted at ts arrives at
        ``ta = ts + delay``, in the step that contains ta (see ``placement``).
        A delay shorter than one step arrives at the next step boundary.
        None when the synapses have different delays (``delays``).
    delays : None or ndarray (nnz,)
        Per-synapse delays (s), read-only, aligned with ``weights.data`` (canonical
        CSR: rows = post, pre ascending), e.g. from a :mod:`neurosim.connectors`
        connector; each synapse delivers as a connection with its own delay would.
        None when all synapses share ``delay``. See :attr:`delay_bounds`.
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
    plasticity : neurosim.STDP or None
        Learns the weights (grid timing); ``weights`` stay the initial ones, the learned
        ones are run state (``Network.current_weights``, "weights" probes).
    """

    def __init__(self, pre, post, weights, synapse, delay, placement="boundary", plasticity=None):
        if not isinstance(synapse, (PSCFilter, Delta)):
            raise TypeError(f"synapse must be a PSCFilter or Delta, got {type(synapse).__name__}")
        if plasticity is not None and isinstance(synapse, Delta):
            raise ValueError("plasticity (STDP) with synapse=Delta() is not supported yet: the learning rule's "
                             "weights are PSC charges; use a PSCFilter for a plastic connection")
        if placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")
        if plasticity is not None and not isinstance(plasticity, STDP):
            raise TypeError(f"plasticity must be a neurosim.STDP or None, got {type(plasticity).__name__}")
        self.pre, self.post, self.synapse, self.placement = pre, post, synapse, placement
        self._delays = None
        self._plasticity = plasticity
        self.weights = weights
        self._delay, self._delays = _check_delay(delay, self._weights, placement)

    @property
    def delay(self):
        """The delay (s) of every synapse, or None with per-synapse :attr:`delays`."""
        return self._delay

    @delay.setter
    def delay(self, value):  # one delay for all synapses again (a change after a run is refused there)
        self._delay, self._delays = check.positive("delay", value, allow_zero=True), None

    @property
    def delays(self):
        """Per-synapse delays (s), read-only, aligned with ``weights.data``; None with one :attr:`delay`."""
        return self._delays

    @property
    def delay_bounds(self):
        """(shortest, longest) delay in seconds (equal without per-synapse delays)."""
        if self.delays is None:
            return self.delay, self.delay
        return float(self.delays.min()), float(self.delays.max())

    @property
    def name(self):
        """``"pre -> post"`` (for messages, e.g. about a "weights" probe of it)."""
        return f"{self.pre.name} -> {self.post.name}"

    @property
    def plasticity(self):
        """The connection's :class:`neurosim.STDP` (None: static weights); fixed once connected."""
        return self._plasticity

    @plasticity.setter
    def plasticity(self, value):
        raise AttributeError("a connection's plasticity is fixed when it is connected (the runtime's learned state "
                             "depends on it); connect again, after net.reset() if the network has run")

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
        if self.delays is not None and (isinstance(W, (np.ndarray, Convolution)) or W.nnz != self.delays.size
                                        or not np.array_equal(W.indptr, self._weights.indptr)
                                        or not np.array_equal(W.indices, self._weights.indices)):
            raise ValueError(f"the connection {self.pre.name!r} -> {self.post.name!r} has per-synapse delays, "
                             "one per stored synapse: new weights must be a sparse matrix with the same nonzero "
                             "positions (assign W.copy() with changed .data); to change the structure, connect anew")
        if self._plasticity is not None:
            if isinstance(W, Convolution):
                raise ValueError("plasticity: a Convolution shares one kernel between synapses, which STDP "
                                 "(one weight per synapse) cannot learn; pass its matrix (conv.to_sparse())")
            self._plasticity.check_weights(W, f"{self.pre.name!r} -> {self.post.name!r}")
        if isinstance(W, Convolution):  # immutable (its kernel is read-only): kept as the structure
            self._weights = W
            return
        # a private, read-only copy: a change in place would bypass the next run's check
        self._weights = read_only(W.copy() if (W is value or getattr(W, "data", None) is getattr(value, "data", 0))
                                  else W)

    def __repr__(self):
        delay = f"delay={self.delay!r}" if self.delays is None else "delays={:g}..{:g}".format(*self.delay_bounds)
        return f"Connection({self.pre.name!r} -> {self.post.name!r}, synapse={self.synapse!r}, {delay})"


def _check_delay(delay, W, placement):
    """(delay, delays): a scalar delay (s), or per-synapse delays aligned with the CSR ``W`` (None, array).

    Per-synapse delays that are all equal become the scalar delay.
    """
    if isinstance(delay, numbers.Real) or np.ndim(delay) == 0:
        return check.positive("delay", delay, allow_zero=True), None
    d = check.finite_array("delay", delay)
    if isinstance(W, (np.ndarray, Convolution)) or not W.has_canonical_format:
        raise ValueError("per-synapse delays need sparse weights in canonical CSR order (one delay per stored "
                         "synapse, rows = post, pre ascending, no duplicates), as neurosim.connectors build them; "
                         f"got {type(W).__name__} weights")
    if d.shape != (W.nnz,):
        raise ValueError(f"delay: per-synapse delays must have shape ({W.nnz},) (one per stored synapse), "
                         f"got shape {d.shape}")
    if d.size and not np.all(d >= 0.0):
        raise ValueError(f"delay must be >= 0 s, got a minimum of {float(d.min())!r}")
    if d.size == 0 or np.all(d == d[0]):
        return (float(d[0]) if d.size else 0.0), None
    if placement != "boundary":
        raise ValueError(f"placement={placement!r} with per-synapse delays is not supported; use "
                         "placement='boundary' or one delay for the connection")
    return None, read_only(np.array(d, dtype=np.float64))


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
        scale = jump_scale(conn)
        self.lagged = conn.placement == "exact"
        self.synapse = conn.synapse
        self.plastic, self.conv = None, None
        self.compiled_events = False  # see use_backend
        if conn.plasticity is not None:  # learned weights, one copy per trial (neurosim.synapses.plasticity)
            self.plastic = STDPRuntime(conn.plasticity, conn, dt, B, conn.synapse.tau_s)
            self.dense, self.table = False, None
            self.scatter, self.scatter_lagged = self.plastic.scatter, self.plastic.scatter_lagged
            return
        W = conn.weights if isinstance(conn.weights, Convolution) else conn.matrix()
        self.dense = isinstance(W, np.ndarray)
        if self.dense:
            self.rows = np.ascontiguousarray(W.T) * scale
        elif isinstance(W, Convolution) and np.ndim(scale) == 0:
            # a Convolution keeps the runtime's arrays for its last scale: a network rebuilt from it (the next
            # batch of a prediction) reuses them (read-only here) instead of rebuilding tens of MB
            cache = W.__dict__.setdefault("_runtime", {})
            key = (float(scale), self.B * self.n_post < 2**31)
            if key not in cache:
                self._sparse_rows(W, scale)
                for old in [k for k in cache if k != "conv"]:
                    del cache[old]
                cache[key] = (self.indptr, self.indptr_list, self.indices, self.data, self.table)
            self.indptr, self.indptr_list, self.indices, self.data, self.table = cache[key]
        else:
            self._sparse_rows(W, scale)
        if isinstance(conn.weights, Convolution) and B > 1 and np.ndim(scale) == 0:
            # a batch's step with many spikes: its spike maps go through one im2col/BLAS convolution
            # (Convolution.apply_events) instead of the table, when the table's additions would cost more
            c = conn.weights
            scaled = c.__dict__.setdefault("_runtime", {}).get("conv")  # kept as the arrays above
            if scaled is None or scaled[0] != float(scale):
                scaled = c._runtime["conv"] = (float(scale), Convolution(c.kernel * scale, c.input_shape, c.stride,
                                                                         c.padding))
            self.conv = scaled[1]
            self.conv_min_spikes = _conv_min_spikes(self.conv, B, self.indices.size / self.n_pre)
        self.scatter = self._scatter if B == 1 else self._scatter_batch

    def _sparse_rows(self, W, scale):
        """The (pre, post) CSR arrays of W (a sparse matrix or a Convolution), scaled, and the padded table."""
        # a Convolution keeps its (pre, post) table, so a network rebuilt from it skips the transposition
        rows = W.to_sparse_rows() if isinstance(W, Convolution) else W.T.tocsr()
        rows.sum_duplicates()
        self.indptr = rows.indptr.astype(np.int64)
        self.indptr_list = self.indptr.tolist()
        # int32 targets when they fit: half the memory of the largest array of a big network
        self.indices = rows.indices.astype(np.int32 if self.n_post < 2**31 else np.int64, copy=False)
        if (rows.data.dtype == np.float64 and not isinstance(W, Convolution)  # its table is cached: no in place
                and not np.shares_memory(rows.data, getattr(W, "data", None))):
            rows.data *= per_post(scale, rows.indices)  # a fresh transposed copy: scaled in place
            self.data = rows.data
        else:
            self.data = np.multiply(rows.data, per_post(scale, rows.indices), dtype=np.float64)
        self._make_table()

    def use_backend(self, backend):
        """The network's requested backend: under "auto" (numba importable) a convolution's busy steps build
        their event grid with the compiled :func:`neurosim.neurons.fused.event_grid` (the same sums)."""
        self.compiled_events = self.conv is not None and backend != "numpy" and numba_enabled()

    def deliver(self, spiked, offsets, m, dt):
        """Deliver the spikes ``spiked`` emitted at ``offsets`` (s) after ``(m - 1) dt`` into the target group.

        Each spike arrives ``delay`` after its emission, in the step that contains
        that time (``placement``); ``m`` is the first boundary not yet integrated.
        """
        group = self.group
        if self.lagged:
            if self.compiled_events and offsets.__class__ is np.ndarray and offsets.dtype == np.float64:
                from ..neurons.fused import arrival_lags  # the same arithmetic, one pass
                rel, lag = np.empty(offsets.size, dtype=np.int64), np.empty(offsets.size)
                same = arrival_lags(offsets, float(self.delay), float(dt), _TOL, rel, lag)
                first = rel[0] if rel.size else 0
            else:
                total = np.asarray(offsets, dtype=float) + self.delay  # arrival after (m - 1) dt
                # the boundary that ends the arrival step (an arrival on a boundary starts its step there)
                rel = np.maximum(np.ceil(total / dt - _TOL).astype(np.int64) - 1, 0)
                lag = np.maximum((rel + 1) * dt - total, 0.0)
                first = rel[0] if rel.size else 0
                same = np.all(rel == first)
            if same:
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
            # compiled: the flat indices go to the kernel as they are (it divides them per event)
            trials, j = (None, spiked) if self.compiled_events else np.divmod(spiked, self.n_pre)
            power = None  # x^k / k!; stage k weighs each spike by tau * h_k(lag) = power * exp(-x)
            for k in range(syn.n + 1):
                self.conv.apply_events(j, trials, decay if power is None else power * decay, self.B,
                                       target[k].reshape(self.B, self.n_post), compiled=self.compiled_events)
                if k < syn.n:
                    power = x / 1 if power is None else power * x / (k + 1)
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
        # int32 targets when they fit (half the memory); filled through a (rows, width) mask in row-major
        # order, which is the CSR order: no per-entry index arrays (they cost more than the table)
        kind = np.int32 if self.B * self.n_post < 2**31 else np.intp
        idx, w = np.zeros((full.size + 1, width), dtype=kind), np.zeros((full.size + 1, width))
        mask = np.arange(width) < lengths[full][:, None]
        idx[:-1][mask], w[:-1][mask] = self.indices, self.data
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
        pos, _ = csr_positions(self.indptr, spiked)
        return pos if pos.size else None

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
            self.conv.apply_events(j, trials, np.ones(spiked.size), self.B, target.reshape(self.B, self.n_post),
                                   compiled=self.compiled_events)
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
            idx[row, col], w[row, col], post[row, col] = rt.indices.astype(np.intp) + offset, rt.data, rt.n_post
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


def jump_scale(conn):
    """Stage-0 jump per unit weight: 1/tau_s for a PSC; for a Delta synapse 1 (normalized targets) or
    1/(V_th - V_reset) (weights in volts onto a ``LIFUnits`` target), an array (post.n,) when V_th or
    V_reset is given per neuron (apply it with :func:`per_post`)."""
    if isinstance(conn.synapse, Delta):
        units = getattr(conn.post, "units", None)
        return 1.0 if units is None else 1.0 / units.span
    return 1.0 / conn.synapse.tau_s


def per_post(scale, post):
    """The scale of the synapses onto the post neurons ``post`` (int array): ``scale`` itself when it is a
    number, else its entries ``scale[post]`` (one per post neuron, from :func:`jump_scale`)."""
    return scale if np.ndim(scale) == 0 else scale[post]


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


class SynapseGroup(Stateful):
    """PSC state of all connections into one population that share a synapse (they add linearly).

    Holds the cascade state ``x`` (n+1, N) and a ring buffer ``pending`` (L, n+1, N)
    of increments for delayed spikes: slot ``m % L`` arrives at time ``m * dt``.
    """

    def __init__(self, synapse, n, dt, max_delay_steps, out=None):
        self.synapse = synapse
        self.state = (DeltaState if isinstance(synapse, Delta) else PSCState)(synapse, n, dt)
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

    def arrays(self):
        """The declared state: the PSC stages x (n+1, N) and the delay ring ``pending`` (L, n+1, N)."""
        return {"x": self.state.x} if self.pending is None else {"x": self.state.x, "pending": self.pending}

    def snapshot_extra(self):
        return list(self.dirty)

    def restore_extra(self, extra):
        self.dirty = list(extra)

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


def embed_with_delays(W, delays, post_idx, pre_idx, shape):
    """A subgroups' CSR block and its per-synapse delays placed in the parents' (post, pre) matrix, canonical."""
    post = np.repeat(np.arange(W.shape[0]), np.diff(W.indptr))
    rows = post if post_idx is None else post_idx[post]
    cols = W.indices if pre_idx is None else pre_idx[W.indices]
    order = np.lexsort((cols, rows))  # views hold distinct neurons: no duplicates
    indptr = np.zeros(shape[0] + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=shape[0]), out=indptr[1:])
    M = _csr((W.data[order], cols[order], indptr), shape=shape)
    M.has_canonical_format = True
    return M, np.asarray(delays)[order]


def connection_runtime(conn, dt, B):
    """The propagation runtime of ``conn``: per-synapse delays get their own (:class:`SynapseDelayRuntime`)."""
    if conn.delays is None:
        return ConnectionRuntime(conn, dt, B)
    check_per_synapse_delays(conn)
    return SynapseDelayRuntime(conn, dt, B)


def check_per_synapse_delays(conn):
    """Refuse what per-synapse delays do not handle yet: other synapse kinds than PSCFilter, plasticity."""
    what = None
    if type(conn.synapse) is not PSCFilter:
        what = f"a {type(conn.synapse).__name__} synapse"
    elif getattr(conn, "plasticity", None) is not None:
        what = "plasticity"
    if what is not None:
        raise ValueError(f"connection {conn.pre.name!r} -> {conn.post.name!r}: per-synapse delays with {what} are "
                         "not supported yet (they handle current PSCs, PSCFilter); give the connection one delay")


def rows_by_pre(W, delays):
    """The synapses of a canonical CSR (post, pre) matrix regrouped by presynaptic neuron, zero weights dropped.

    Returns ``(indptr, post indices, weights, delays)``, rows = pre, post ascending within a row.
    """
    post = np.repeat(np.arange(W.shape[0], dtype=np.int64), np.diff(W.indptr))
    keep = W.data != 0
    pre, post, data, delays = W.indices[keep].astype(np.int64), post[keep], W.data[keep], delays[keep]
    order = np.argsort(pre, kind="stable")  # stable: post stays ascending within each pre
    indptr = np.zeros(W.shape[1] + 1, dtype=np.int64)
    np.cumsum(np.bincount(pre, minlength=W.shape[1]), out=indptr[1:])
    return indptr, post[order], data[order].astype(np.float64), delays[order]


class SynapseDelayRuntime(ConnectionRuntime):
    """Propagation of a connection with per-synapse delays (boundary placement), exact per synapse.

    Each synapse delivers as a :class:`ConnectionRuntime` with its own delay would: a spike at offset o
    in its step reaches the boundary ``early + (o >= cut)`` after the next one, with ``early`` and
    ``cut`` computed per synapse exactly as the scalar runtime computes them. The synapses of the
    spiking neurons are gathered at once and scattered into the delay ring in one ``add.at``
    (no loop over spikes or synapses).
    """

    def __init__(self, conn, dt, B):
        self.B, self.n_pre, self.n_post = B, conn.pre.n, conn.post.n
        self.indptr, self.indices, data, delays = rows_by_pre(conn.matrix(), conn.delays)
        self.data = data * per_post(jump_scale(conn), self.indices)
        d = delays / dt
        steps = np.floor(d + _TOL).astype(np.int64)
        frac = np.maximum(d - steps, 0.0)
        self.early = np.maximum(steps - 1, 0)
        # a delay < dt reaches the next boundary whatever the offset: a cut no offset reaches
        self.cut_at = np.where(steps >= 1, (1.0 - frac - _TOL) * dt, np.inf)
        self.delay = float(delays.min()) if delays.size else 0.0
        self.delay_steps = int(steps.max()) if steps.size else 0
        self.reach = self.delay_steps
        self.cut = 0.0  # not None: the run loop calls deliver, never the fused or undelayed paths
        self.dense, self.lagged, self.table, self.synapse = False, False, None, conn.synapse
        self.plastic = None  # per-synapse delays with plasticity are refused when the connection is made
        self.scatter = self._scatter if B == 1 else self._scatter_batch

    def use_backend(self, backend):
        """Nothing compiled here: no convolution, and the per-synapse scatter stays numpy."""
        self.compiled_events = False

    def deliver(self, spiked, offsets, m, dt):
        j = spiked if self.B == 1 else spiked % self.n_pre
        pos = self._positions(j)
        if pos is None:
            return
        lengths = self.indptr[j + 1] - self.indptr[j]
        rel = self.early[pos] + (np.repeat(np.broadcast_to(offsets, spiked.shape), lengths) >= self.cut_at[pos])
        flat = self.indices[pos]
        if self.B > 1:
            flat = flat + np.repeat((spiked // self.n_pre) * self.n_post, lengths)
        w = self.data[pos]
        group = self.group
        if group.pending is None:  # every delay < dt: all arrive at the next boundary
            np.add.at(group.x0, flat, w)
            return
        now = rel == 0
        if now.any():
            np.add.at(group.x0, flat[now], w[now])
            later = ~now
            rel, flat, w = rel[later], flat[later], w[later]
        if rel.size:
            # one scatter into the delay ring: stage 0 of slot (m + rel) % L, flat over (L, n+1, N)
            ring = group.pending
            slots = (m + rel) % ring.shape[0]
            np.add.at(ring.reshape(-1), slots * (ring.shape[1] * ring.shape[2]) + flat, w)
            for r in np.flatnonzero(np.bincount(rel)):  # mark the slots used (at most `reach` of them)
                group.target(m + int(r), m)


def membrane_coefficients(synapse, tau_m, dt):
    """Weights c_k such that ``J = sum_k c_k x_k`` is the constant input equivalent to the cascade over a step.

    The augmented linear system (PSC stages, then ``tau_m dv/dt = x_n - v``) is
    advanced exactly with the matrix exponential; its v row gives the exact
    contribution of each stage to v after ``dt``, divided by ``1 - exp(-dt/tau_m)``.
    This makes the subthreshold membrane update exact for decaying synaptic currents.
    A per-neuron ``tau_m`` (array (N,)) gives coefficients of shape (n + 1, N).
    """
    from scipy.linalg import expm

    if isinstance(tau_m, np.ndarray):  # per neuron: once per distinct value
        values, where = np.unique(tau_m, return_inverse=True)
        return np.stack([membrane_coefficients(synapse, float(t), dt) for t in values], axis=1)[:, where]
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
    float, or ndarray (n,) when ``units`` has per-neuron g_L, V_th or V_reset
        w such that one spike delivers ``integral s dt = w`` to the normalized neuron; per neuron,
        one weight per postsynaptic neuron: scale row i of a (post, pre) matrix by ``w[i]``
        (``W * w[:, None]``).
    """
    from ..neurons.lif import LIFUnits

    if not isinstance(units, LIFUnits):
        raise TypeError(f"units must be a neurosim.LIFUnits, got {type(units).__name__}")
    if not isinstance(synapse, PSCFilter):
        raise TypeError(f"synapse must be a PSCFilter, got {type(synapse).__name__}")
    if is_conductance(synapse):
        raise ValueError(f"synaptic_weight converts current-based PSC weights; {synapse!r} is a conductance, whose "
                         "weights are peak conductances already (siemens onto LIFUnits populations)")
    given = [(name, x) for name, x in (("charge", charge), ("current", current), ("voltage", voltage)) if x is not None]
    if len(given) != 1:
        raise ValueError("give exactly one of charge (C), current (A) or voltage (V)")
    name, value = given[0]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    if not np.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    value = float(value)
    if charge is not None:
        w = check.finite_result(name, value, lambda: value / units.current_unit, "the normalized weight")
    elif current is not None:
        w = check.finite_result(name, value, lambda: value * synapse.tau_s / units.current_unit,
                                "the normalized weight")
    else:
        w = check.finite_result(name, value, lambda: value * synapse.tau_s / units.span, "the normalized weight")
    return float(w) if np.ndim(w) == 0 else w


__all__ = ["Connection", "synaptic_weight"]
