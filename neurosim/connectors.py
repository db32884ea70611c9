"""Connectors, named as in PyNN: who connects to whom, with which weights and delays.

A connector is a small description; :meth:`Connector.build` turns it into a sparse weight matrix
(scipy CSR, shape (n_post, n_pre): W is (post, pre) as everywhere in neurosim) and, when delays
were given, one delay per stored synapse. Structures are drawn directly in sparse form: memory and
time are O(nnz), never O(n_post x n_pre) (except ``all_to_all``, whose nnz is that).

============================  ==================================  =================================
neurosim                      PyNN                                structure
============================  ==================================  =================================
``all_to_all()``              ``AllToAllConnector``               every pre -> every post
``one_to_one()``              ``OneToOneConnector``               pre i -> post i (n_pre = n_post)
``bernoulli(p)``              ``FixedProbabilityConnector``       each pair independently with p
``fixed_in_degree(k)``        ``FixedNumberPreConnector``         exactly k distinct pre per post
``fixed_out_degree(k)``       ``FixedNumberPostConnector``        exactly k distinct post per pre
============================  ==================================  =================================

Weights and delays
------------------
Each is one of

- a number: the same for every synapse;
- an array of shape (n_post, n_pre): the value of each (post, pre) pair, read where a synapse exists;
- an array of shape (nnz,): one value per synapse in CSR order (rows = post, pre ascending);
- a distribution, drawn once per synapse in CSR order with the connector's rng, after the
  structure: a tuple ``("normal", mean, std)``, ``("normal_clipped", mean, std, low, high)``
  (values outside [low, high] are redrawn, as in PyNN), ``("uniform", low, high)``,
  ``("lognormal", mu, sigma)`` (of the underlying normal, as numpy), ``("exponential", scale)``,
  or a callable ``f(rng, size) -> ndarray of shape (size,)``.

Delays are in seconds and must be >= 0 (a network may require more, e.g. >= dt).

``build(n_pre, n_post, rng=None, recurrent=False)`` is what ``net.connect(pre, post, connector)``
calls (with ``recurrent = pre is post``); it can also be called directly::

    import neurosim
    conn = neurosim.connectors.fixed_in_degree(80, weights=("normal", 0.1, 0.01), delays=1.5e-3, rng=1)
    W, delays = conn.build(n_pre=1000, n_post=500)   # W: CSR (500, 1000), delays: (40000,)

Reproducibility: ``rng`` (int, Generator or SeedSequence) is given to the connector, or to
``build`` (which then wins). Equal seeds give equal matrices.
"""
import math
import numbers

import numpy as np
import scipy.sparse as sp

from . import validation as check

__all__ = ["Connector", "all_to_all", "one_to_one", "bernoulli", "fixed_in_degree", "fixed_out_degree"]

_DISTRIBUTIONS = {"normal": 2, "normal_clipped": 4, "uniform": 2, "lognormal": 2, "exponential": 1}
_CHUNK = 1 << 22  # random numbers drawn per chunk when the total is not known in advance


class Connector:
    """Base of the connectors: weights, delays, rng and the ``build`` contract.

    Parameters
    ----------
    weights : number, array or distribution
        Synaptic weights (see the module docs), in the units of the postsynaptic input.
    delays : None, number, array or distribution
        Delays in seconds (>= 0); None: no delays (``build`` returns None for them).
    rng : None, int, Generator or SeedSequence
        Random source of the structure and of drawn values.
    """

    def __init__(self, weights=1.0, delays=None, rng=None):
        self.weights = _check_values("weights", weights)
        self.delays = None if delays is None else _check_values("delays", delays)
        if rng is not None:
            check.as_rng(rng)  # refuse a bad rng now, not at build
        self.rng = rng

    def build(self, n_pre, n_post, rng=None, recurrent=False):
        """Draw the connection.

        Parameters
        ----------
        n_pre, n_post : int
            Sizes of the pre- and postsynaptic populations (>= 1).
        rng : None, int, Generator or SeedSequence
            Overrides the connector's ``rng``.
        recurrent : bool
            The pre- and postsynaptic populations are the same one: ``allow_self_connections=False``
            then removes the synapses i -> i.

        Returns
        -------
        weights : scipy.sparse.csr_matrix, shape (n_post, n_pre), float64
            Canonical CSR (pre indices ascending within each row, no duplicates).
        delays : ndarray (nnz,) or None
            Delay (s) of the synapse stored at ``weights.data[k]``.
        """
        n_pre = check.count_int("n_pre", n_pre)
        n_post = check.count_int("n_post", n_post)
        recurrent = check.check_bool("recurrent", recurrent)
        gen = check.as_rng(self.rng if rng is None else rng)
        indptr, indices = self._structure(n_pre, n_post, gen, recurrent)
        data = _values("weights", self.weights, indptr, indices, n_pre, n_post, gen)
        delays = None
        if self.delays is not None:
            delays = _values("delays", self.delays, indptr, indices, n_pre, n_post, gen)
            if delays.size and not np.all(delays >= 0.0):
                raise ValueError(f"delays must be >= 0 s, got a minimum of {float(delays.min())!r} "
                                 f"(use ('normal_clipped', mean, std, low, high) for a bounded distribution)")
        W = sp.csr_matrix((data, indices, indptr), shape=(n_post, n_pre))
        W.has_canonical_format = True  # built sorted and without duplicates
        return W, delays

    def _structure(self, n_pre, n_post, rng, recurrent):
        raise NotImplementedError

    def _allow_self(self, recurrent):
        return getattr(self, "allow_self_connections", True) or not recurrent

    def __repr__(self):
        extra = ", ".join(f"{k}={v!r}" for k, v in self._describe().items())
        return f"neurosim.connectors.{self._name}({extra})"

    def _describe(self):
        return {"weights": self.weights, "delays": self.delays}


class _AllToAll(Connector):
    _name = "all_to_all"

    def __init__(self, weights=1.0, delays=None, allow_self_connections=True, rng=None):
        super().__init__(weights, delays, rng)
        self.allow_self_connections = check.check_bool("allow_self_connections", allow_self_connections)

    def _structure(self, n_pre, n_post, rng, recurrent):
        check.check_alloc("n_pre * n_post", n_pre * n_post, 2 * n_pre * n_post)
        if self._allow_self(recurrent):
            indptr = np.arange(n_post + 1, dtype=np.int64) * n_pre
            indices = np.tile(np.arange(n_pre, dtype=_index_dtype(n_pre)), n_post)
            return indptr, indices
        _same_size(n_pre, n_post, "allow_self_connections=False")
        row_len = n_pre - 1
        indptr = np.arange(n_post + 1, dtype=np.int64) * row_len
        cols = np.tile(np.arange(row_len, dtype=_index_dtype(n_pre)), n_post).reshape(n_post, row_len)
        cols += cols >= np.arange(n_post)[:, None]  # skip the diagonal
        return indptr, cols.reshape(-1)


class _OneToOne(Connector):
    _name = "one_to_one"

    def _structure(self, n_pre, n_post, rng, recurrent):
        _same_size(n_pre, n_post, "one_to_one")
        return np.arange(n_post + 1, dtype=np.int64), np.arange(n_pre, dtype=_index_dtype(n_pre))


class _Bernoulli(Connector):
    _name = "bernoulli"

    def __init__(self, p, weights=1.0, delays=None, allow_self_connections=True, rng=None):
        super().__init__(weights, delays, rng)
        self.p = check.check_number("p", p, low=0.0, high=1.0)
        self.allow_self_connections = check.check_bool("allow_self_connections", allow_self_connections)

    def _describe(self):
        return {"p": self.p, **super()._describe()}

    def _structure(self, n_pre, n_post, rng, recurrent):
        total = n_pre * n_post
        expected = self.p * total
        check.check_alloc("the expected number of synapses p * n_pre * n_post", expected, 2 * int(expected) + 1,
                          itemsize=16)
        # successes of n_pre * n_post Bernoulli(p) trials in row-major (post, pre) order, found as
        # geometric gaps: memory and time O(nnz), and they come out sorted (CSR order). Rows go in
        # blocks of ~2**16 expected synapses, which keeps the work arrays in cache.
        exclude = not self._allow_self(recurrent)
        if exclude:
            _same_size(n_pre, n_post, "allow_self_connections=False")
        rows_per = int(max(1, min(n_post, 2**16 / max(self.p * n_pre, 1e-300))))
        counts = np.zeros(n_post, dtype=np.int64)
        parts = []
        for r0 in range(0, n_post, rows_per):
            nb = min(rows_per, n_post - r0)
            pos = _bernoulli_positions(self.p, nb * n_pre, rng)
            rows = pos // n_pre
            cols = pos - rows * n_pre
            if exclude:
                keep = rows + r0 != cols
                rows, cols = rows[keep], cols[keep]
            counts[r0:r0 + nb] = np.bincount(rows, minlength=nb)
            parts.append(cols.astype(_index_dtype(n_pre)))
        indptr = np.zeros(n_post + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        indices = np.concatenate(parts) if parts else np.zeros(0, dtype=_index_dtype(n_pre))
        return indptr, indices


class _FixedDegree(Connector):
    """Exactly k distinct partners per neuron on one side; the other side's counts are free."""

    def __init__(self, k, weights=1.0, delays=None, allow_self_connections=True, rng=None):
        super().__init__(weights, delays, rng)
        self.k = check.check_int("k", k, low=0)
        self.allow_self_connections = check.check_bool("allow_self_connections", allow_self_connections)

    def _describe(self):
        return {"k": self.k, **super()._describe()}

    def _sample(self, n_rows, n_choices, rng, exclude_self):
        """(n_rows, k) sorted distinct picks in [0, n_choices) per row (row i never picks i if exclude_self)."""
        pool = n_choices - 1 if exclude_self else n_choices
        if self.k > pool:
            raise ValueError(f"k={self.k} is more than the {pool} distinct partners available "
                             f"({type(self).__name__[1:].lower()} from {n_choices} neurons"
                             f"{', no self-connections' if exclude_self else ''})")
        check.check_alloc("k * n", self.k * n_rows, self.k * n_rows)
        picks = _distinct_rows(n_rows, pool, self.k, rng)
        if exclude_self:
            picks += picks >= np.arange(n_rows)[:, None]  # map [0, n-1) onto [0, n) minus i; order kept
        return picks


class _FixedInDegree(_FixedDegree):
    _name = "fixed_in_degree"

    def _structure(self, n_pre, n_post, rng, recurrent):
        exclude = not self._allow_self(recurrent)
        if exclude:
            _same_size(n_pre, n_post, "allow_self_connections=False")
        picks = self._sample(n_post, n_pre, rng, exclude)
        indptr = np.arange(n_post + 1, dtype=np.int64) * self.k
        return indptr, picks.reshape(-1).astype(_index_dtype(n_pre))


class _FixedOutDegree(_FixedDegree):
    _name = "fixed_out_degree"

    def _structure(self, n_pre, n_post, rng, recurrent):
        exclude = not self._allow_self(recurrent)
        if exclude:
            _same_size(n_pre, n_post, "allow_self_connections=False")
        posts = self._sample(n_pre, n_post, rng, exclude).reshape(-1)   # k posts of each pre, pre-major
        by_pre = sp.csr_matrix((np.ones(posts.size, dtype=np.int8), posts,
                                np.arange(n_pre + 1, dtype=np.int64) * self.k), shape=(n_pre, n_post))
        by_post = by_pre.T.tocsr()  # O(nnz) counting transpose; pre indices come out ascending per row
        return by_post.indptr.astype(np.int64), by_post.indices.astype(_index_dtype(n_pre))


# ---- the public constructors (PyNN names) ----------------------------------------------------------------
def all_to_all(weights=1.0, delays=None, allow_self_connections=True, rng=None):
    """Every presynaptic neuron to every postsynaptic one (PyNN ``AllToAllConnector``).

    ``allow_self_connections=False`` drops i -> i when pre and post are the same population.
    """
    return _AllToAll(weights, delays, allow_self_connections, rng)


def one_to_one(weights=1.0, delays=None, rng=None):
    """Presynaptic i to postsynaptic i; both populations have the same size (PyNN ``OneToOneConnector``)."""
    return _OneToOne(weights, delays, rng)


def bernoulli(p, weights=1.0, delays=None, allow_self_connections=True, rng=None):
    """Each (pre, post) pair independently with probability ``p`` (PyNN ``FixedProbabilityConnector``).

    Drawn as geometric gaps between successes, in O(nnz) memory and time: 1e5 x 1e5 at p = 0.001
    (1e7 synapses) takes 1.4 s on a loaded 2-core machine (benchmarks/connectors.py).
    """
    return _Bernoulli(p, weights, delays, allow_self_connections, rng)


def fixed_in_degree(k, weights=1.0, delays=None, allow_self_connections=True, rng=None):
    """Exactly ``k`` distinct presynaptic neurons per postsynaptic neuron, uniformly at random
    (PyNN ``FixedNumberPreConnector`` with ``with_replacement=False``)."""
    return _FixedInDegree(k, weights, delays, allow_self_connections, rng)


def fixed_out_degree(k, weights=1.0, delays=None, allow_self_connections=True, rng=None):
    """Exactly ``k`` distinct postsynaptic neurons per presynaptic neuron, uniformly at random
    (PyNN ``FixedNumberPostConnector`` with ``with_replacement=False``)."""
    return _FixedOutDegree(k, weights, delays, allow_self_connections, rng)


# ---- helpers ---------------------------------------------------------------------------------------------
def _index_dtype(n):
    return np.int32 if n <= np.iinfo(np.int32).max else np.int64


def _same_size(n_pre, n_post, what):
    if n_pre != n_post:
        raise ValueError(f"{what} needs populations of the same size (the same population for self-connections), "
                         f"got n_pre={n_pre}, n_post={n_post}")


def _bernoulli_positions(p, total, rng):
    """Sorted indices in [0, total) of the successes of ``total`` independent Bernoulli(p) trials."""
    if p == 0.0 or total == 0:
        return np.zeros(0, dtype=np.int64)
    if p == 1.0:
        return np.arange(total, dtype=np.int64)
    expected = p * total
    scale = -1.0 / math.log1p(-p)
    chunk = int(min(expected + 6.0 * math.sqrt(expected * (1 - p)) + 16, total + 1))
    parts, last = [], -1
    while True:
        # trials up to and including the next success: Geometric(p) = floor(E / -log(1 - p)) + 1 with
        # E ~ Exp(1) exactly (P(gap > k) = (1 - p)^k); ziggurat exponentials are ~2x faster than geometric()
        gaps = rng.standard_exponential(chunk)
        gaps *= scale
        np.minimum(gaps, total + 1.0, out=gaps)  # past the end anyway; keeps the int64 cast in range
        pos = gaps.astype(np.int64)
        pos += 1
        np.cumsum(pos, out=pos)
        pos += last
        n_in = int(np.searchsorted(pos, total))
        parts.append(pos[:n_in])
        if n_in < pos.size:
            break
        last = int(pos[-1])
        chunk = min(_CHUNK, chunk)
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _distinct_rows(n_rows, pool, k, rng):
    """(n_rows, k) int64 array: each row k distinct values from [0, pool), ascending, uniformly random."""
    if k == 0:
        return np.zeros((n_rows, 0), dtype=np.int64)
    if 4 * k > pool:
        # dense-ish: the k smallest of pool random keys per row, in row blocks of bounded memory
        out = np.empty((n_rows, k), dtype=np.int64)
        block = max(1, _CHUNK // pool)
        for start in range(0, n_rows, block):
            keys = rng.random((min(block, n_rows - start), pool))
            out[start:start + keys.shape[0]] = np.sort(np.argpartition(keys, k - 1, axis=1)[:, :k], axis=1)
        return out
    # sparse: draw with replacement and redraw duplicates (each row's k-subset is uniform: rejection)
    picks = rng.integers(0, pool, size=(n_rows, k))
    picks.sort(axis=1)
    while True:
        dup = np.zeros(picks.shape, dtype=bool)
        dup[:, 1:] = picks[:, 1:] == picks[:, :-1]
        rows = np.flatnonzero(dup.any(axis=1))
        if not rows.size:
            return picks
        sub = picks[rows]
        d = dup[rows]
        sub[d] = rng.integers(0, pool, size=int(d.sum()))
        sub.sort(axis=1)
        picks[rows] = sub


def _check_values(name, value):
    """Validate a weights/delays spec when the connector is made (shape checks wait for build)."""
    if callable(value):
        return value
    if isinstance(value, tuple) and value and isinstance(value[0], str):
        kind = value[0]
        check.check_choice(f"{name} distribution", kind, tuple(_DISTRIBUTIONS))
        if len(value) != 1 + _DISTRIBUTIONS[kind]:
            raise ValueError(f"{name}: ({kind!r}, ...) takes {_DISTRIBUTIONS[kind]} parameters, got {len(value) - 1}")
        params = tuple(check.check_number(f"{name} {kind} parameter {i + 1}", v) for i, v in enumerate(value[1:]))
        if kind in ("normal", "normal_clipped", "lognormal") and params[1] < 0:
            raise ValueError(f"{name}: the spread of ({kind!r}, ...) must be >= 0, got {params[1]!r}")
        if kind == "uniform" and not params[0] <= params[1]:
            raise ValueError(f"{name}: ('uniform', low, high) needs low <= high, got {params}")
        if kind == "exponential" and params[0] <= 0:
            raise ValueError(f"{name}: ('exponential', scale) needs scale > 0, got {params[0]!r}")
        if kind == "normal_clipped" and not params[2] < params[3]:
            raise ValueError(f"{name}: ('normal_clipped', mean, std, low, high) needs low < high, got {params}")
        return (kind,) + params
    if isinstance(value, numbers.Number) or np.ndim(value) == 0:
        return check.check_number(name, value)
    arr = check.finite_array(name, value)
    if arr.ndim not in (1, 2):
        raise ValueError(f"{name}: an array must have shape (n_post, n_pre) or (nnz,), got shape {arr.shape}")
    return arr


def _values(name, spec, indptr, indices, n_pre, n_post, rng):
    """One value per stored synapse (CSR order) from a weights/delays spec."""
    nnz = indices.size
    if isinstance(spec, float):
        return np.full(nnz, spec)
    if isinstance(spec, np.ndarray):
        if spec.shape == (n_post, n_pre):
            rows = np.repeat(np.arange(n_post), np.diff(indptr))
            return spec[rows, indices].astype(np.float64)
        if spec.shape == (nnz,):
            return spec.astype(np.float64, copy=True)
        raise ValueError(f"{name}: expected shape ({n_post}, {n_pre}) (post, pre) or ({nnz},) (one per synapse), "
                         f"got shape {spec.shape}")
    if callable(spec):
        out = np.asarray(spec(rng, nnz), dtype=np.float64)
        if out.shape != (nnz,) or not np.isfinite(out).all():
            raise ValueError(f"{name}: the callable must return {nnz} finite values (shape ({nnz},)), "
                             f"got shape {out.shape}")
        return out
    kind, *par = spec
    if kind == "normal":
        return rng.normal(par[0], par[1], nnz)
    if kind == "uniform":
        return rng.uniform(par[0], par[1], nnz)
    if kind == "lognormal":
        return rng.lognormal(par[0], par[1], nnz)
    if kind == "exponential":
        return rng.exponential(par[0], nnz)
    mean, std, low, high = par  # normal_clipped: redraw outside [low, high], as PyNN does
    out = rng.normal(mean, std, nnz)
    for _ in range(1000):
        bad = np.flatnonzero((out < low) | (out > high))
        if not bad.size:
            return out
        out[bad] = rng.normal(mean, std, bad.size)
    raise ValueError(f"{name}: ('normal_clipped', {mean}, {std}, {low}, {high}) keeps almost no mass in "
                     f"[{low}, {high}]; widen the interval")
