"""neurosim.connectors: exact degrees, binomial counts, values at the right synapses, O(nnz) memory,
reproducibility and bad input."""
import tracemalloc

import numpy as np
import pytest
from backend_equality import assert_same_events
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
    assert d.shape == (W.nnz,)
    assert stats.kstest(d, stats.uniform(1e-3, 1e-3).cdf).pvalue > 1e-3   # uniform on [1, 2] ms, not scaled
    per_synapse = np.arange(1.0, W.nnz + 1)
    W2, _ = C.bernoulli(0.3, weights=per_synapse, rng=6).build(80, 60)
    np.testing.assert_array_equal(W2.data, per_synapse)           # CSR order
    np.testing.assert_array_equal(W2.indices, W.indices)          # the structure comes first in the stream
    W3, _ = C.fixed_in_degree(50, weights=("normal", 2.0, 0.5), rng=7).build(100, 400)
    assert abs(W3.data.mean() - 2.0) < 0.02 and abs(W3.data.std() - 0.5) < 0.02
    W4, _ = C.fixed_in_degree(50, weights=lambda rng, size: rng.exponential(3.0, size), rng=7).build(100, 100)
    assert W4.nnz == 5000
    assert stats.kstest(W4.data, stats.expon(scale=3.0).cdf).pvalue > 1e-3  # the callable's values, as drawn
    _, d5 = C.fixed_in_degree(50, delays=("normal_clipped", 1e-3, 1e-3, 0.5e-3, 1.5e-3), rng=8).build(100, 100)
    # redrawn outside [0.5, 1.5] ms, as PyNN does: a normal truncated to the bounds, no mass piled on them
    assert d5.min() > 0.5e-3 and d5.max() < 1.5e-3
    truncated = stats.truncnorm(-0.5, 0.5, loc=1e-3, scale=1e-3)
    assert stats.kstest(d5, truncated.cdf).pvalue > 1e-3


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


# ---- connectors in the network: net.connect(pre, post, connector) ------------------------------------------

DELAYS = np.array([0.3e-4, 1e-4, 1.37e-3, 2.5e-3])  # < dt, = dt, off the grid, on it


def _pick_delays(rng, size):
    return DELAYS[rng.integers(0, DELAYS.size, size)]


def _delay_network(sim, split):
    """Spike source -> A (fixed_in_degree, per-synapse delays) -> B (bernoulli, recurrent, delays >= dt).

    ``split``: the same synapses as one connection per distinct delay, each with its scalar delay (the oracle).
    """
    net = sim.network(dt=1e-4, rng=3)
    rng = np.random.default_rng(0)
    times = [np.sort(rng.uniform(0, 0.1, 6)) for _ in range(30)]
    src = net.add_spike_source(times)
    a = net.add_population(neurosim.LIF(tau_m=0.02, tau_ref=0.002), 40, bias=0.9)
    b = net.add_population(neurosim.LIF(tau_m=0.01), 25, bias=0.8)
    links = [(src, a, C.fixed_in_degree(8, weights=("uniform", 0.02, 0.06), delays=_pick_delays, rng=1)),
             (a, b, C.bernoulli(0.3, weights=0.04, delays=lambda r, n: DELAYS[1:][r.integers(0, 3, n)], rng=2)),
             (b, b, C.fixed_out_degree(3, weights=-0.02, delays=("uniform", 1e-4, 3e-3),
                                       allow_self_connections=False, rng=4))]
    for pre, post, conn in links:
        if not split:
            net.connect(pre, post, conn)
            continue
        W, d = conn.build(pre.n, post.n, recurrent=pre is post)
        for value in np.unique(d):  # the oracle: one ordinary connection per delay value
            part = W.copy()
            part.data = np.where(d == value, part.data, 0.0)
            part.eliminate_zeros()
            net.connect(pre, post, part, delay=float(value))
    return net, [net.probe(p, "spikes") for p in (a, b)] + [net.probe(b, "v", sample_every=10)]


def test_per_synapse_delays_deliver_as_separate_connections_with_those_delays(sim):
    net, probes = _delay_network(sim, split=False)
    oracle, expected = _delay_network(sim, split=True)
    assert len(net.connections) == 3 and len(oracle.connections) > 3
    assert net.connections[0].delay is None and net.connections[0].delays.size == 40 * 8
    if sim.refuses(net):
        return
    net.run(0.15)
    oracle.run(0.15)
    for ours, theirs in zip(probes[:2], expected[:2]):
        assert ours.data[0].size == theirs.data[0].size > 20
        np.testing.assert_array_equal(ours.data[1], theirs.data[1])
        np.testing.assert_allclose(ours.data[0], theirs.data[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(probes[2].data, expected[2].data, rtol=0, atol=1e-9)


def _population_delays(sim, order):
    """Per-synapse delays between populations (recurrent, up to 3 ms; and all < dt) and from a Poisson source
    (all < dt: the compiled loop has no source spike times inside a step)."""
    net = sim.network(dt=1e-4, rng=5)
    src = net.add_poisson(20, rate=200.0)
    a = net.add_population(neurosim.LIF(0.02, 0.002), 30, bias=0.5)
    b = net.add_population(neurosim.LIF(0.01, 0.001), 10)
    w = np.random.default_rng(0)
    net.connect(src, a, w.uniform(0, 0.03, (30, 20)), synapse=neurosim.PSCFilter(0.004))
    links = [(a, a, C.bernoulli(0.3, weights=("uniform", -0.01, 0.03), delays=("uniform", 0.3e-4, 3e-3), rng=1),
              neurosim.PSCFilter(0.005, order)),
             (a, b, C.all_to_all(weights=("uniform", 0, 0.05), delays=("uniform", 0, 0.9e-4), rng=2),
              neurosim.PSCFilter(0.003)),
             (src, b, C.all_to_all(weights=("uniform", 0, 0.03), delays=("uniform", 0, 0.9e-4), rng=3), None)]
    for pre, post, conn, syn in links:
        net.connect(pre, post, conn, synapse=syn)
    return net, [net.probe(a, "spikes"), net.probe(b, "spikes"), net.probe(a, "current", sample_every=3e-4)]


@pytest.mark.parametrize("order", [0, 1])
def test_per_synapse_delays_give_the_numpy_backends_spikes(sim, order):
    """Backend equality: the same spikes (times to 1e-12 s), the current to 1e-12 (relative), over two runs."""
    from dataclasses import replace

    net, probes = _population_delays(sim, order)
    assert net.connections[1].delays is not None
    if sim.refuses(net):
        return
    if sim.timing == "precise":  # delays < dt between populations (precise timing has its own delay tests)
        with pytest.raises(ValueError, match="delays >= dt"):
            net.build()
        return
    if sim.backend == "numpy":  # the reference itself: nothing to compare
        pytest.skip("backend equality: the numpy cell is the reference")
    ref, pr = _population_delays(replace(sim, backend="numpy"), order)
    for n in (net, ref):
        n.run(0.15)
        n.run(0.1)
    assert net.backend == sim.backend
    for x, y in zip(probes[:2], pr[:2]):
        assert_same_events(x.data, y.data, min_events=500)
    if sim.timing == "grid":
        scale = np.abs(pr[2].data).max()
        np.testing.assert_allclose(probes[2].data, pr[2].data, rtol=1e-12, atol=1e-12 * scale)


def test_connect_builds_the_connector_for_the_populations_and_the_network_rng():
    def build(seed, n_post=300):
        net = neurosim.Network(dt=1e-4, rng=seed)
        pre = net.add_poisson(1000, 5.0)
        post = net.add_population(neurosim.LIF(), n_post)
        return net.connect(pre, post, C.fixed_in_degree(80, weights=("normal", 0.1, 0.01)))

    conn = build(1)
    W = conn.weights
    assert sp.issparse(W) and W.shape == (300, 1000) and np.all(np.diff(W.indptr) == 80)  # exactly 80 inputs
    assert conn.delay == 0.0 and conn.delays is None
    assert (build(1).weights != W).nnz == 0                                 # same network seed, same synapses
    assert not np.array_equal(build(2).weights.indices, W.indices)
    # a connector with its own rng ignores the network's
    net = neurosim.Network(dt=1e-4, rng=9)
    pre, post = net.add_poisson(50, 5.0), net.add_population(neurosim.LIF(), 40)
    own = net.connect(pre, post, C.bernoulli(0.2, delays=2e-3, rng=5))
    ref, _ = C.bernoulli(0.2, rng=5).build(50, 40)
    assert (own.weights != ref).nnz == 0 and own.delay == 2e-3 and own.delays is None  # equal delays: one


def test_connector_between_subgroups_keeps_each_synapse_with_its_delay():
    net = neurosim.Network(dt=1e-4, rng=0)
    a = net.add_population(neurosim.LIF(), 60)
    b = net.add_population(neurosim.LIF(), 30)
    conn = C.fixed_in_degree(5, weights=("uniform", 0.1, 0.2), delays=("uniform", 1e-4, 2e-3), rng=8)
    c = net.connect(a[10:50], b[[3, 1, 7, 20]], conn)
    W, d = conn.build(40, 4)
    post_idx, pre_idx = np.array([3, 1, 7, 20]), np.arange(10, 50)
    rows = np.repeat(np.arange(4), np.diff(W.indptr))
    full = c.weights.toarray()
    delays = sp.csr_matrix((c.delays, c.weights.indices, c.weights.indptr), shape=full.shape).toarray()
    np.testing.assert_array_equal(full[post_idx[rows], pre_idx[W.indices]], W.data)
    np.testing.assert_array_equal(delays[post_idx[rows], pre_idx[W.indices]], d)
    assert c.weights.nnz == W.nnz and c.weights.has_canonical_format


def test_per_synapse_delays_refusals_and_weight_changes():
    net = neurosim.Network(dt=1e-4, rng=0)
    a = net.add_population(neurosim.LIF(), 20, bias=1.5)
    b = net.add_population(neurosim.LIF(), 20)
    conn = C.fixed_in_degree(4, weights=0.1, delays=("uniform", 1e-3, 2e-3), rng=1)
    with pytest.raises(ValueError, match="placement='exact' with per-synapse delays"):
        net.connect(a, b, conn, placement="exact")
    with pytest.raises(ValueError, match="leave connect's delay"):
        net.connect(a, b, conn, delay=1e-3)
    c = net.connect(a, b, conn)
    lo, hi = c.delay_bounds
    assert 1e-3 <= lo < hi <= 2e-3 and f"delay {lo:g}..{hi:g} s" in str(net.plan)  # the plan names them
    with pytest.raises(ValueError, match="same nonzero positions"):
        c.weights = np.full((20, 20), 0.1)
    probe = net.probe(b, "spikes")
    net.run(0.05)
    before = probe.data[0].size
    W = c.weights.copy()
    W.data = W.data * 5.0  # same synapses, stronger: allowed between runs
    c.weights = W
    net.run(0.05)
    assert probe.data[0].size > before
    pytest.importorskip("nir", reason="NIR export needs `pip install '.[nir]'`")
    from neurosim.export import to_nir

    with pytest.raises(ValueError, match="per-synapse delays"):
        to_nir(net)


def test_per_synapse_delays_exported_to_pynn_on_the_grid():
    from neurosim.export.pynn import export_plan

    net = neurosim.Network(dt=1e-4, rng=0)
    a = net.add_population(neurosim.LIF(), 30, bias=1.5)
    b = net.add_population(neurosim.LIF(), 20)
    c = net.connect(a, b, C.fixed_in_degree(6, weights=("normal", 0.0, 0.1), delays=("uniform", 0.5e-4, 3e-3),
                                            rng=2))
    meta, arrays = export_plan(net)
    rows = np.concatenate([arrays[p["rows"]] for p in meta["projections"]])
    assert rows.shape[0] == c.weights.nnz
    post = np.repeat(np.arange(20), np.diff(c.weights.indptr))
    expected = {(int(j), int(i)): 0.1 * max(round(d / 1e-4), 1) for i, j, d in zip(post, c.weights.indices, c.delays)}
    got = {(int(r[0]), int(r[1])): r[3] for r in rows}
    assert got.keys() == expected.keys()
    np.testing.assert_allclose([got[k] for k in expected], list(expected.values()), rtol=1e-12)
    assert meta["min_delay_ms"] == pytest.approx(0.1) and meta["max_delay_ms"] == pytest.approx(3.0)


def test_connect_with_a_connector_allocates_order_nnz():
    n = 20000
    net = neurosim.Network(dt=1e-4, rng=0)
    pre, post = net.add_poisson(n, 5.0), net.add_population(neurosim.LIF(), n)
    tracemalloc.start()
    try:
        conn = net.connect(pre, post, C.bernoulli(0.001, weights=0.1, delays=("uniform", 1e-3, 2e-3)))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    nnz = conn.weights.nnz
    assert nnz >= 3e5 and conn.delays.size == nnz
    # a dense (n, n) intermediate would be 3.2 GB; the CSR with delays is ~20 bytes per synapse
    assert peak < 60 * nnz + 4e6, f"peak {peak / 1e6:.1f} MB for {nnz} synapses"


def test_per_synapse_delays_run_on_nest_as_in_neurosim():
    pytest.importorskip("nest", reason="running on NEST needs `pip install '.[pynn]'` (pip install pyNN nest-simulator)")
    sim = pytest.importorskip("pyNN.nest", reason="running on NEST needs `pip install '.[pynn]'` (pip install pyNN)")
    from neurosim.export import to_pynn

    # one source spike fans out to 30 neurons, each through its own delay (whole steps: NEST rounds to
    # its grid); each neuron fires once, `delay` after the spike plus the same rise time
    net = neurosim.Network(dt=1e-4, rng=0)
    src = net.add_spike_source([[0.0105]])
    pop = net.add_population(neurosim.LIF(tau_m=0.01, tau_ref=0.1), 30, name="pop")
    delays = np.arange(1, 31) * 3e-4
    conn = net.connect(src, pop, C.all_to_all(weights=1.5, delays=delays))
    assert conn.delays is not None
    probe = net.probe(pop, "spikes")
    exported = to_pynn(net, sim=sim)
    exported.record("pop")
    exported.run(0.03)
    net.run(0.03)
    ours = neurosim.from_events(*probe.data, n_neurons=30)
    theirs = exported.spike_times("pop")
    assert all(t.size == 1 for t in ours) and all(t.size == 1 for t in theirs)
    ours, theirs = np.concatenate(ours), np.concatenate(theirs)
    np.testing.assert_allclose(np.diff(ours), 3e-4, atol=1e-12)        # each synapse with its own delay
    np.testing.assert_allclose(theirs, ours, atol=1e-4 + 1e-9)         # NEST stamps spikes at its step's end


def test_assigning_one_delay_replaces_per_synapse_delays_and_is_refused_after_a_run():
    net = neurosim.Network(dt=1e-4, rng=0)
    a, b = net.add_population(neurosim.LIF(), 10, bias=1.5), net.add_population(neurosim.LIF(), 10)
    c = net.connect(a, b, C.fixed_in_degree(3, delays=("uniform", 1e-3, 2e-3), rng=1))
    with pytest.raises(AttributeError):
        c.delays = np.zeros(30)  # read-only: they belong to the synapses
    c.delay = 1e-3
    assert c.delays is None and c.delay_bounds == (1e-3, 1e-3)
    net.run(0.01)
    c.delay = 2e-3
    with pytest.raises(RuntimeError, match="net.reset"):
        net.run(0.01)


@pytest.mark.parametrize("timing", ["grid", "precise"])
def test_per_synapse_delays_refuse_synapse_kinds_they_do_not_handle(timing):
    class OtherSynapse(neurosim.PSCFilter):  # stands for a kind added later (delta, conductance, ...)
        pass

    net = neurosim.Network(dt=1e-4, rng=0, timing=timing)
    a, b = net.add_population(neurosim.LIF(), 10, bias=1.5), net.add_population(neurosim.LIF(), 10)
    net.connect(a, b, C.fixed_in_degree(3, delays=("uniform", 1e-3, 2e-3), rng=1), synapse=OtherSynapse(0.005))
    with pytest.raises(ValueError, match="per-synapse delays with a OtherSynapse synapse"):
        net.run(0.01)
