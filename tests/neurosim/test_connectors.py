"""neurosim.connectors: exact degrees, binomial counts, values at the right synapses, O(nnz) memory,
reproducibility and bad input."""
import tracemalloc

import numpy as np
import pytest
import scipy.sparse as sp
from scipy import stats

import neurosim
from neurosim import connectors as C


def canonical(W):
    W2 = W.copy()
    W2.sum_duplicates()
    W2.sort_indices()
    return W2.nnz == W.nnz and np.array_equal(W2.indices, W.indices) and np.array_equal(W2.indptr, W.indptr)


def test_exported_at_top_level():
    assert neurosim.connectors is C
    assert "connectors" in neurosim.__all__


def test_fixed_in_degree_gives_exactly_k_distinct_inputs():
    W, delays = C.fixed_in_degree(80, rng=1).build(1000, 500)
    assert sp.isspmatrix_csr(W) and W.shape == (500, 1000) and delays is None
    assert np.all(np.diff(W.indptr) == 80) and canonical(W)
    # every pre equally likely: column counts are Binomial(500, 80/1000)
    counts = np.bincount(W.indices, minlength=1000)
    assert stats.chisquare(counts).pvalue > 1e-3


def test_fixed_in_degree_near_full_and_without_self_connections():
    W, _ = C.fixed_in_degree(99, allow_self_connections=False, rng=2).build(100, 100, recurrent=True)
    assert np.all(np.diff(W.indptr) == 99) and W.diagonal().sum() == 0 and canonical(W)
    W, _ = C.fixed_in_degree(30, allow_self_connections=False, rng=2).build(100, 100, recurrent=True)
    assert W.diagonal().sum() == 0 and np.all(np.diff(W.indptr) == 30)
    with pytest.raises(ValueError, match="k=100"):
        C.fixed_in_degree(100, allow_self_connections=False).build(100, 100, recurrent=True)
    # not recurrent: self-connections are a recurrent notion, pairs i -> i stay possible
    W, _ = C.fixed_in_degree(100, allow_self_connections=False).build(100, 100)
    assert W.nnz == 100 * 100


def test_fixed_out_degree_gives_exactly_k_targets_per_pre():
    W, _ = C.fixed_out_degree(40, allow_self_connections=False, rng=3).build(300, 300, recurrent=True)
    out = np.bincount(W.indices, minlength=300)
    assert np.all(out == 40) and W.diagonal().sum() == 0 and canonical(W) and W.nnz == 300 * 40


def test_bernoulli_counts_pass_binomial_tests():
    n_pre, n_post, p = 400, 300, 0.05
    W, _ = C.bernoulli(p, rng=4).build(n_pre, n_post)
    assert canonical(W)
    assert stats.binomtest(W.nnz, n_pre * n_post, p).pvalue > 1e-3
    # each row's in-degree is Binomial(n_pre, p): chi-square over pooled count classes
    deg = np.diff(W.indptr)
    edges = np.array([0, 14, 17, 19, 21, 23, 26, n_pre + 1])
    observed = np.histogram(deg, bins=edges)[0]
    expected = n_post * np.diff(stats.binom.cdf(edges - 1, n_pre, p))
    assert stats.chisquare(observed, expected * observed.sum() / expected.sum()).pvalue > 1e-3
    # each pair independently: a pair's rate over many draws is p (row 0, column 0 across seeds)
    hits = sum(C.bernoulli(0.3, rng=s).build(3, 2)[0][0, 0] != 0 for s in range(400))
    assert stats.binomtest(int(hits), 400, 0.3).pvalue > 1e-3


def test_bernoulli_without_self_connections_and_edge_probabilities():
    W, _ = C.bernoulli(0.2, allow_self_connections=False, rng=5).build(200, 200, recurrent=True)
    assert W.diagonal().sum() == 0
    assert stats.binomtest(W.nnz, 200 * 199, 0.2).pvalue > 1e-3
    assert C.bernoulli(0.0).build(50, 40)[0].nnz == 0
    assert C.bernoulli(1e-19).build(50, 40, rng=0)[0].nnz == 0   # huge gaps do not overflow int64
    W, _ = C.bernoulli(1.0).build(50, 40)
    assert W.nnz == 2000 and canonical(W)


def test_one_to_one_and_all_to_all():
    W, d = C.one_to_one(weights=np.arange(5.0), delays=1e-3).build(5, 5)
    np.testing.assert_array_equal(W.toarray(), np.diag(np.arange(5.0)))
    np.testing.assert_array_equal(d, np.full(5, 1e-3))
    with pytest.raises(ValueError, match="same size"):
        C.one_to_one().build(5, 6)
    dense = np.arange(12.0).reshape(3, 4)
    W, _ = C.all_to_all(weights=dense).build(4, 3)
    np.testing.assert_array_equal(W.toarray(), dense)
    W, _ = C.all_to_all(weights=np.ones((4, 4)), allow_self_connections=False).build(4, 4, recurrent=True)
    np.testing.assert_array_equal(W.toarray(), 1.0 - np.eye(4))


def test_weights_and_delays_land_on_their_synapses():
    dense = np.random.default_rng(0).normal(size=(60, 80))
    W, d = C.bernoulli(0.3, weights=dense, delays=("uniform", 1e-3, 2e-3), rng=6).build(80, 60)
    mask = W.toarray() != 0
    np.testing.assert_array_equal(W.toarray()[mask], dense[mask])
    assert d.shape == (W.nnz,) and d.min() >= 1e-3 and d.max() <= 2e-3
    per_synapse = np.arange(1.0, W.nnz + 1)
    W2, _ = C.bernoulli(0.3, weights=per_synapse, rng=6).build(80, 60)
    np.testing.assert_array_equal(W2.data, per_synapse)           # CSR order
    np.testing.assert_array_equal(W2.indices, W.indices)          # the structure comes first in the stream
    W3, _ = C.fixed_in_degree(50, weights=("normal", 2.0, 0.5), rng=7).build(100, 400)
    assert abs(W3.data.mean() - 2.0) < 0.02 and abs(W3.data.std() - 0.5) < 0.02
    W4, _ = C.fixed_in_degree(5, weights=lambda rng, size: rng.exponential(3.0, size), rng=7).build(10, 10)
    assert W4.nnz == 50 and np.all(W4.data > 0)
    _, d5 = C.fixed_in_degree(50, delays=("normal_clipped", 1e-3, 1e-3, 0.5e-3, 1.5e-3), rng=8).build(100, 100)
    assert d5.min() >= 0.5e-3 and d5.max() <= 1.5e-3


def test_reproducible_with_rng():
    for make in (lambda r: C.bernoulli(0.1, weights=("normal", 0, 1), rng=r),
                 lambda r: C.fixed_in_degree(10, delays=("exponential", 1e-3), rng=r),
                 lambda r: C.fixed_out_degree(10, rng=r)):
        a, da = make(11).build(100, 120)
        b, db = make(11).build(100, 120)
        c, _ = make(12).build(100, 120)
        assert (a != b).nnz == 0 and (a.indices.size != c.indices.size or np.any(a.indices != c.indices))
        if da is not None:
            np.testing.assert_array_equal(da, db)
        d, _ = make(None).build(100, 120, rng=np.random.SeedSequence(11))  # build's rng wins
        e, _ = make(None).build(100, 120, rng=np.random.SeedSequence(11))
        assert (d != e).nnz == 0


@pytest.mark.parametrize("make, n", [(lambda: C.bernoulli(0.001, rng=0), 20000),
                                     (lambda: C.fixed_in_degree(20, rng=0), 20000),
                                     (lambda: C.fixed_out_degree(20, rng=0), 20000)])
def test_memory_is_order_nnz(make, n):
    connector = make()
    tracemalloc.start()
    try:
        W, _ = connector.build(n, n)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # a dense intermediate would be n * n = 4e8 entries; O(nnz) is ~4e5 synapses of 12 bytes
    assert W.nnz >= 3e5
    assert peak < 80 * W.nnz + 4e6, f"peak {peak / 1e6:.1f} MB for {W.nnz} synapses"


@pytest.mark.parametrize("call, exc, word", [
    (lambda: C.bernoulli(1.5), ValueError, "p"), (lambda: C.bernoulli("0.1"), TypeError, "p"),
    (lambda: C.fixed_in_degree(2.5), TypeError, "k"), (lambda: C.fixed_in_degree(-1), ValueError, "k"),
    (lambda: C.fixed_in_degree(3, weights=("gauss", 0, 1)), ValueError, "weights"),
    (lambda: C.fixed_in_degree(3, weights=("normal", 0)), ValueError, "weights"),
    (lambda: C.fixed_in_degree(3, weights=("normal", 0, -1)), ValueError, "weights"),
    (lambda: C.fixed_in_degree(3, weights=np.nan), ValueError, "weights"),
    (lambda: C.fixed_in_degree(3, delays="1 ms"), TypeError, "delays"),
    (lambda: C.fixed_in_degree(3, rng="seed"), TypeError, "rng"),
    (lambda: C.all_to_all(allow_self_connections="no"), TypeError, "allow_self_connections"),
    (lambda: C.fixed_in_degree(3).build(0, 10), ValueError, "n_pre"),
    (lambda: C.fixed_in_degree(3).build(10, 2.0), TypeError, "n_post"),
    (lambda: C.fixed_in_degree(11).build(10, 10), ValueError, "k=11"),
    (lambda: C.fixed_in_degree(3, delays=("normal", 0.0, 1e-3)).build(10, 10, rng=0), ValueError, "delays"),
    (lambda: C.fixed_in_degree(3, weights=np.ones((4, 4))).build(10, 10), ValueError, "weights"),
    (lambda: C.fixed_in_degree(3, weights=lambda rng, size: np.ones(2)).build(10, 10), ValueError, "weights"),
])
def test_bad_input(call, exc, word):
    with pytest.raises(exc, match=word):
        call()
