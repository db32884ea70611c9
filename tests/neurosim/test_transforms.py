"""neurosim.Convolution: the connection transform that keeps a convolution's structure (issue 20 item 3)."""
import tracemalloc

import numpy as np
import pytest

import neurosim
from neurosim import LIF, Convolution, Network, PSCFilter
from neurosim._optional import numba_available


def naive(kernel, image, stride, padding):
    """Direct cross-correlation with zero padding, loops over every output pixel (the oracle)."""
    O, C, kh, kw = kernel.shape
    _, H, W = image.shape
    (sh, sw), (ph, pw) = stride, padding
    padded = np.zeros((C, H + 2 * ph, W + 2 * pw))
    padded[:, ph:ph + H, pw:pw + W] = image
    Ho, Wo = (H + 2 * ph - kh) // sh + 1, (W + 2 * pw - kw) // sw + 1
    out = np.zeros((O, Ho, Wo))
    for o in range(O):
        for i in range(Ho):
            for j in range(Wo):
                out[o, i, j] = np.sum(kernel[o] * padded[:, i * sh:i * sh + kh, j * sw:j * sw + kw])
    return out


@pytest.mark.parametrize("case", range(12))
def test_sparse_table_equals_direct_cross_correlation(case):
    rng = np.random.default_rng(case)
    O, C = rng.integers(1, 4, 2)
    kh, kw = rng.integers(1, 4, 2)
    H, W = rng.integers(kh, 9), rng.integers(kw, 9)
    stride = tuple(rng.integers(1, 3, 2))
    padding = tuple(rng.integers(0, 3, 2))
    kernel = rng.normal(size=(O, C, kh, kw))
    conv = Convolution(kernel, (C, H, W), stride=stride, padding=padding)
    image = rng.normal(size=(C, H, W))
    expected = naive(kernel, image, conv.stride, conv.padding)
    assert conv.output_shape == expected.shape
    np.testing.assert_allclose(conv.to_sparse() @ image.ravel(), expected.ravel(), rtol=1e-12, atol=1e-12)


def test_matches_torch_conv2d():
    torch = pytest.importorskip("torch", reason="pip install '.[torch]'")
    rng = np.random.default_rng(0)
    kernel, image = rng.normal(size=(5, 3, 3, 4)), rng.normal(size=(3, 9, 11))
    conv = Convolution(kernel, (3, 9, 11), stride=(2, 1), padding=(1, 2))
    ref = torch.nn.functional.conv2d(torch.tensor(image[None]), torch.tensor(kernel), stride=(2, 1), padding=(1, 2))
    np.testing.assert_allclose(conv.to_sparse() @ image.ravel(), ref.numpy().ravel(), rtol=1e-12, atol=1e-12)


def _conv_net(make_network, transform):
    rng = np.random.default_rng(4)
    kernel = rng.uniform(0, 0.02, (3, 2, 3, 3))
    conv = Convolution(kernel, (2, 6, 6), stride=1, padding=1)
    net = make_network(dt=1e-4, rng=2)
    src = net.add_poisson(72, rate=np.linspace(20, 120, 72))
    pop = net.add_population(LIF(0.02, 0.002), 108, bias=0.6)
    net.connect(src, pop, conv if transform == "conv" else conv.to_sparse().toarray(), synapse=PSCFilter(0.005))
    out = net.add_population(LIF(0.02, 0.002), 4, bias=0.5)  # a delayed connection between populations too
    net.connect(pop, out, 0.01, delay=1e-3)
    return net, net.probe(pop, "spikes"), net.probe(pop, "v", sample_every=1e-3)


def test_a_convolution_connection_equals_its_dense_matrix(sim):
    """The same spikes and voltages as the equivalent dense (post, pre) matrix, in every cell of the matrix."""
    a, sa, va = _conv_net(sim.network, "conv")
    b, sb, vb = _conv_net(sim.network, "dense")
    if sim.refuses(a, b):
        return
    a.run(0.1)
    b.run(0.1)
    assert sa.data[0].size > 50
    for x, y in zip(sa.data, sb.data):
        np.testing.assert_allclose(x, y, rtol=0, atol=1e-12)
    np.testing.assert_allclose(va.data, vb.data, rtol=1e-12, atol=1e-12)


def test_running_a_convolution_never_forms_the_dense_matrix():
    """An 8 -> 8 channel 3x3 convolution on 28x28 maps: the dense matrix would be 315 MB; building and running
    stay far below (the sparse table and its propagation tables, ~0.5 M entries)."""
    kernel = np.random.default_rng(0).normal(0, 0.01, (8, 8, 3, 3))
    conv = Convolution(kernel, (8, 28, 28), padding=1)
    dense_bytes = 8 * conv.shape[0] * conv.shape[1]
    net = Network(dt=1e-3, rng=0)
    src = net.add_poisson(conv.shape[1], rate=20.0)
    pop = net.add_population(LIF(), conv.shape[0], bias=0.5)
    net.connect(src, pop, conv)
    tracemalloc.start()
    net.run(0.01)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert dense_bytes > 300e6
    assert peak < dense_bytes / 5, (peak, dense_bytes)


def test_nir_writes_conv2d_and_reads_it_back():
    nir = pytest.importorskip("nir", reason="pip install '.[nir]'")
    from neurosim.export import from_nir, to_nir
    net, spikes, _ = _conv_net(Network, "conv")
    graph = to_nir(net)
    node = graph.nodes["conn0"]
    assert isinstance(node, nir.Conv2d) and node.weight.shape == (3, 2, 3, 3)
    back = from_nir(graph, rng=2)
    assert isinstance(back.connections[0].weights, Convolution)
    np.testing.assert_array_equal(back.connections[0].weights.kernel, net.connections[0].weights.kernel)
    net.run(0.1)
    probe = back.probe(back.populations[0], "spikes")
    back.run(0.1)
    assert probe.data[0].size == spikes.data[0].size > 50


def test_nir_conv_then_dense_round_trip():
    """A convolution layer feeding a dense read-out: Conv2d, then Flatten before the Affine; read back, same spikes."""
    pytest.importorskip("nir", reason="pip install '.[nir]'")
    from neurosim.export import from_nir, to_nir
    net, spikes, _ = _conv_net(Network, "conv")
    hidden = net.populations[0]
    out = net.add_population(LIF(0.02, 0.002), 5, bias=0.5)
    net.connect(hidden, out, np.random.default_rng(1).uniform(0, 0.01, (5, hidden.n)), delay=1e-3)
    graph = to_nir(net)
    assert any(type(node).__name__ == "Flatten" for node in graph.nodes.values())
    back = from_nir(graph, rng=2)
    probes = [n.probe(n.populations[-1], "spikes") for n in (net, back)]
    net.run(0.2)
    back.run(0.2)
    assert probes[0].data[0].size > 10
    np.testing.assert_array_equal(probes[0].data[0], probes[1].data[0])


def test_bad_convolutions_are_refused():
    k = np.ones((2, 1, 3, 3))
    with pytest.raises(ValueError, match="kernel must have shape"):
        Convolution(np.ones((2, 3, 3)), (1, 5, 5))
    with pytest.raises(ValueError, match="in_ch"):
        Convolution(k, (2, 5, 5))
    with pytest.raises(ValueError, match="does not fit"):
        Convolution(k, (1, 2, 2))
    with pytest.raises(ValueError, match="stride"):
        Convolution(k, (1, 5, 5), stride=0)
    with pytest.raises(ValueError, match="input_shape"):
        Convolution(k, (5, 5))
    with pytest.raises(ValueError, match="finite"):
        Convolution(np.full((2, 1, 3, 3), np.nan), (1, 5, 5))
    net = Network()
    a, b = net.add_poisson(25, 10.0), net.add_population(LIF(), 10)
    with pytest.raises(ValueError, match="does not match"):
        net.connect(a, b, Convolution(k, (1, 5, 5), padding=1))
    assert neurosim.Convolution is Convolution


# ---- the dense path: Convolution.apply and a batch's busy steps ---------------------------------------------
def _random_conv(rng, block):
    """A random convolution; ``block``: a kernel constant over stride x stride blocks (a pool composed into it)."""
    O, C = rng.integers(1, 4, 2)
    stride = tuple(int(s) for s in rng.integers(1, 4, 2))
    if block:
        base = rng.normal(size=(O, C) + tuple(rng.integers(1, 4, 2)))
        kernel = np.repeat(np.repeat(base, stride[0], 2), stride[1], 3)
    else:
        kernel = rng.normal(size=(O, C) + tuple(rng.integers(1, 5, 2)))
    kh, kw = kernel.shape[2:]
    padding = tuple(int(p) for p in rng.integers(0, 3, 2))
    H = int(rng.integers(max(1, kh - 2 * padding[0]), 12))
    W = int(rng.integers(max(1, kw - 2 * padding[1]), 12))
    return Convolution(kernel, (C, H, W), stride=stride, padding=padding)


@pytest.mark.parametrize("case", range(40))
def test_apply_equals_direct_cross_correlation(case):
    """apply (im2col + BLAS; row im2col for horizontal stride 1; sum-pool first for block kernels) equals the
    direct loops per image, and adds into ``out``."""
    rng = np.random.default_rng(100 + case)
    conv = _random_conv(rng, block=case % 2 == 0)
    images = rng.normal(size=(3,) + conv.input_shape)
    expected = np.stack([naive(conv.kernel, im, conv.stride, conv.padding).ravel() for im in images])
    np.testing.assert_allclose(conv.apply(images.reshape(3, -1)), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(conv.apply(images), expected, rtol=1e-12, atol=1e-12)
    out = np.ones((3, conv.shape[0]))
    assert conv.apply(images, out=out) is out
    np.testing.assert_allclose(out, expected + 1.0, rtol=1e-12, atol=1e-12)


def test_block_kernels_are_factored_into_a_sum_pool_and_a_smaller_convolution():
    """A 2x2 average pool composed into a 5x5 convolution (kernel 10x10, stride 2) is applied with the 5x5 block
    values after a 2x2 sum pool; a kernel that is not block-constant keeps its own form."""
    rng = np.random.default_rng(3)
    base = rng.normal(size=(4, 2, 5, 5))
    conv = Convolution(np.repeat(np.repeat(base, 2, 2), 2, 3) / 4, (2, 24, 24), stride=2)
    K, stride = conv._factored()
    assert stride == (1, 1) and K.shape == (4, 2, 5, 5)
    np.testing.assert_array_equal(K, base / 4)
    other = rng.normal(size=(4, 2, 10, 10))
    assert Convolution(other, (2, 24, 24), stride=2)._factored()[1] == (2, 2)
    x = rng.normal(size=(2, 2 * 24 * 24))
    np.testing.assert_allclose(conv.apply(x), (conv.to_sparse() @ x.T).T, rtol=1e-12, atol=1e-12)


def test_apply_refuses_a_wrong_shape():
    conv = Convolution(np.ones((2, 1, 3, 3)), (1, 5, 5))
    with pytest.raises(ValueError, match=r"x must have shape \(n, 25\)"):
        conv.apply(np.ones((2, 24)))
    with pytest.raises(ValueError, match="out must be a C-contiguous array of shape"):
        conv.apply(np.ones((2, 25)), out=np.zeros((2, 10)))
    with pytest.raises(ValueError, match="not C-contiguous"):
        conv.apply(np.ones((2, 25)), out=np.zeros((conv.shape[0], 2)).T)
    with pytest.raises(TypeError, match="out must be a float64 numpy array"):
        conv.apply(np.ones((2, 25)), out=np.zeros((2, conv.shape[0]), np.float32))
    with pytest.raises(TypeError, match="x"):
        conv.apply([["a"] * 25])
    with pytest.raises(ValueError, match="x"):
        conv.apply(np.full((1, 25), np.nan))
    np.testing.assert_allclose(conv.apply(np.ones((1, 25), np.float32)), conv.apply(np.ones((1, 25))))


def _busy_conv_net(placement, order, B=3):
    """A batch of 3 trials: a Poisson layer of 2x12x12 into a 10x10-kernel stride-2 convolution (a composed
    pool, so the factored dense path) and a 3x3 padded convolution onward, many spikes per step."""
    rng = np.random.default_rng(7)
    base = rng.uniform(-0.02, 0.06, (4, 2, 5, 5))
    k1 = np.repeat(np.repeat(base, 2, 2), 2, 3) / 4
    net = Network(dt=1e-3, rng=5, batch=B)
    src = net.add_poisson(2 * 12 * 12, rate=np.linspace(50, 400, 2 * 12 * 12))
    c1 = Convolution(k1, (2, 12, 12), stride=2)
    mid = net.add_population(LIF(0.02, 0.002), c1.shape[0], bias=0.8)
    syn = PSCFilter(0.005, n=order)
    net.connect(src, mid, c1, synapse=syn, placement=placement)
    c2 = Convolution(rng.uniform(-0.01, 0.08, (3, 4, 3, 3)), c1.output_shape, padding=1)
    out = net.add_population(LIF(0.02, 0.002), c2.shape[0], bias=0.7)
    net.connect(mid, out, c2, synapse=syn, placement=placement, delay=2e-3)
    return net, [net.probe(p, "spikes") for p in (mid, out)], net.probe(out, "v", sample_every=1e-3)


@pytest.mark.parametrize("placement, order", [("exact", 0), ("boundary", 0), ("exact", 1), ("boundary", 1)])
def test_dense_convolution_steps_equal_the_event_table(monkeypatch, placement, order):
    """The same network with every step through the dense convolution and with every step through the sparse
    table: the same spikes and voltages (to rounding), and the dense path was taken."""
    from neurosim.network import connections, transforms
    calls = []
    original = transforms.Convolution.apply_events
    monkeypatch.setattr(transforms.Convolution, "apply_events",
                        lambda self, pre, trial, w, n, out, **kw: (calls.append(n),
                                                                   original(self, pre, trial, w, n, out, **kw))[1])
    results = []
    for cost in (0.0, 1e12):  # 0: dense from one spike; 1e12: never
        monkeypatch.setattr(connections, "_CONV_MAC_COST", cost)
        net, spikes, v = _busy_conv_net(placement, order)
        net.run(0.1)
        results.append(([p.data for p in spikes], v.data))
        if cost == 0.0:
            assert len(calls) > 150 and calls[0] == 3
            n_dense = len(calls)
    assert len(calls) == n_dense  # the event run never used apply_events
    (sa, va), (sb, vb) = results
    assert sa[1][0].size > 100
    for x, y in zip(sa, sb):
        assert [a.size for a in x] == [b.size for b in y]
        for a, b in zip(x, y):
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-9)
    np.testing.assert_allclose(va, vb, rtol=1e-9, atol=1e-9)


def test_a_batch_uses_the_dense_convolution_only_when_busy():
    """The switch follows the spike count (more than one spike, fewer than all); a single run keeps the table."""
    from neurosim.network.connections import ConnectionRuntime
    kernel = np.random.default_rng(0).normal(0, 0.01, (8, 8, 3, 3))
    conv = Convolution(kernel, (8, 28, 28), padding=1)
    runtimes = []
    for batch in (4, None):
        net = Network(dt=1e-3, batch=batch)
        a, b = net.add_population(LIF(), conv.shape[1]), net.add_population(LIF(), conv.shape[0])
        runtimes.append(ConnectionRuntime(net.connect(a, b, conv), 1e-3, batch or 1))
    assert 1 < runtimes[0].conv_min_spikes < 4 * conv.shape[1]
    assert runtimes[1].conv is None


def test_the_dense_path_never_forms_the_dense_matrix():
    """A batch of 4 through an 8 -> 8 channel 3x3 convolution on 28x28 maps, every step dense: the largest
    allocation stays far below the 315 MB dense (post, pre) matrix (the patch matrix is 72 x 3,136 floats)."""
    from neurosim.network import connections
    kernel = np.random.default_rng(0).normal(0, 0.01, (8, 8, 3, 3))
    conv = Convolution(kernel, (8, 28, 28), padding=1)
    dense_bytes = 8 * conv.shape[0] * conv.shape[1]
    net = Network(dt=1e-3, rng=0, batch=4)
    # LIF neurons with a strong bias fire every few steps (a Poisson source would pre-draw blocks of 1000 steps)
    src = net.add_population(LIF(0.02, 0.002), conv.shape[1], bias=np.linspace(1.5, 6.0, conv.shape[1]))
    pop = net.add_population(LIF(), conv.shape[0], bias=0.5)
    net.connect(src, pop, conv)
    calls = []
    original = Convolution.apply_events
    Convolution.apply_events = lambda self, *args, **kw: (calls.append(1), original(self, *args, **kw))[1]
    old = connections._CONV_MAC_COST
    connections._CONV_MAC_COST = 0.0
    try:
        tracemalloc.start()
        net.run(0.002)  # builds the runtime (its sparse table)
        peak_build = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        net.run(0.01)
        peak_steps = tracemalloc.get_traced_memory()[1] - tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
    finally:
        connections._CONV_MAC_COST = old
        Convolution.apply_events = original
    assert len(calls) >= 8
    assert dense_bytes > 300e6
    assert peak_build < dense_bytes / 5, (peak_build, dense_bytes)
    assert peak_steps < dense_bytes / 100, (peak_steps, dense_bytes)   # the steps' temporaries: a few MB


def test_sparse_rows_are_the_transpose_kept_once():
    rng = np.random.default_rng(5)
    conv = Convolution(rng.normal(size=(3, 2, 3, 3)), (2, 7, 6), stride=(2, 1), padding=1)
    rows = conv.to_sparse_rows()
    assert rows.shape == (conv.shape[1], conv.shape[0])
    np.testing.assert_array_equal(rows.toarray(), conv.to_sparse().toarray().T)
    rows.data[:] = 0.0                                   # a copy: the kept table is unchanged
    assert conv.to_sparse_rows().nnz == rows.nnz and np.abs(conv.to_sparse_rows().data).min() > 0


def test_numba_refuses_a_convolution_in_a_batch_and_runs_a_single_one():
    """In a batch, numpy may sum a busy step's convolution in another order than the compiled loop's table:
    backend='numba' refuses it (auto runs numpy); a single run keeps the table on both backends, same spikes."""
    pytest.importorskip("numba", reason="pip install '.[fast]'")
    from neurosim.network.compiled import unsupported

    def make(batch, backend):
        net = Network(dt=1e-3, rng=1, batch=batch, backend=backend)
        a = net.add_population(LIF(0.02, 0.002), 2 * 6 * 6, bias=np.linspace(1.2, 3.0, 72))
        b = net.add_population(LIF(0.02, 0.002), 3 * 6 * 6, bias=0.5)
        net.connect(a, b, Convolution(np.full((3, 2, 3, 3), 0.05), (2, 6, 6), padding=1))
        return net, net.probe(b, "spikes")

    net, _ = make(2, "numba")
    assert any("Convolution in a batch" in why for why in unsupported(net))
    with pytest.raises(ValueError, match="backend='numba' cannot run this network.*Convolution in a batch"):
        net.build()
    assert make(2, "auto")[0].backend == "numpy"
    runs = [make(None, backend) for backend in ("numba", "numpy")]
    for net, _ in runs:
        net.run(0.1)
    assert runs[0][0].backend == "numba"
    (ta, ia), (tb, ib) = runs[0][1].data, runs[1][1].data
    assert ta.size > 20
    np.testing.assert_array_equal(ia, ib)
    np.testing.assert_allclose(ta, tb, rtol=0, atol=1e-12)


@pytest.mark.parametrize("case", range(20))
def test_apply_events_equals_the_convolution_of_the_event_map(case):
    """Events (repeats included) summed straight into the padded / sum-pooled grid give the convolution of the
    map they make, for block and plain kernels, any stride and padding."""
    rng = np.random.default_rng(300 + case)
    conv = _random_conv(rng, block=case % 2 == 0)
    n = 3
    pre = rng.integers(0, conv.shape[1], 40)
    trial = rng.integers(0, n, 40)
    weight = rng.uniform(0.1, 1.0, 40)
    maps = np.zeros((n, conv.shape[1]))
    np.add.at(maps, (trial, pre), weight)
    out = np.ones((n, conv.shape[0]))
    conv.apply_events(pre, trial, weight, n, out)
    np.testing.assert_allclose(out, 1.0 + conv.apply(maps), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(out, 1.0 + (conv.to_sparse() @ maps.T).T, rtol=1e-12, atol=1e-12)
    if numba_available():  # the compiled event grid (neurosim.neurons.fused.event_grid): the same sums
        again = np.ones((n, conv.shape[0]))
        conv.apply_events(pre, trial, weight, n, again, compiled=True)
        np.testing.assert_array_equal(again, out)


def test_pickling_keeps_the_description_and_drops_the_caches():
    import pickle
    rng = np.random.default_rng(8)
    base = rng.normal(size=(2, 1, 3, 3))
    conv = Convolution(np.repeat(np.repeat(base, 2, 2), 2, 3), (1, 12, 12), stride=2)
    x = rng.normal(size=(2, 144))
    y = conv.apply(x)
    conv.to_sparse_rows()
    back = pickle.loads(pickle.dumps(conv))
    assert not any(hasattr(back, k) for k in Convolution._CACHES)
    np.testing.assert_array_equal(back.kernel, conv.kernel)
    assert not back.kernel.flags.writeable
    assert (back.input_shape, back.stride, back.padding) == (conv.input_shape, conv.stride, conv.padding)
    np.testing.assert_array_equal(back.apply(x), y)
