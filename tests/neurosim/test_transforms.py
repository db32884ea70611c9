"""neurosim.Convolution: the connection transform that keeps a convolution's structure (issue 20 item 3)."""
import tracemalloc

import numpy as np
import pytest

import neurosim
from neurosim import LIF, Convolution, Network, PSCFilter


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
