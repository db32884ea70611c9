"""to_spiking: converted networks against the analytic LIF curve and the rate network."""
import numpy as np
import pytest

import neurosim
import ratenet
from neurosim.synapses import PSCFilter
from ratenet.data import noisy_mapping
from ratenet.optimizers import Adam
from ratenet.training import fit
from ratenet.spiking.activations import LIFRate, SoftLIFRate, TuningCurveActivation
from ratenet.spiking.convert import SpikingResult, to_spiking


def one_layer(n_in, n_out, act, rng):
    model = ratenet.Sequential([ratenet.Dense(n_in, n_out, rng=rng, dtype=np.float64), act])
    return model


def test_single_layer_fires_at_the_rate_its_activation_predicts():
    rng = np.random.default_rng(0)
    act = LIFRate(tau_m=0.02, tau_ref=0.002, amplitude=1 / 63)
    model = one_layer(3, 40, act, rng)
    model.layers[0].b = rng.uniform(0.2, 3.0, 40)
    X = rng.uniform(-0.3, 0.3, (4, 3))
    res = to_spiking(model).run(X, T=10.0)
    # oracle: the analytic LIF curve of neurosim at J = z + 1
    z = X @ model.layers[0].W.T + model.layers[0].b
    expected = neurosim.LIF(0.02, 0.002).rate(z + 1)
    assert expected.min() > 15
    np.testing.assert_allclose(res.rates[0], expected, rtol=0.01)
    # filtered activity (what the next layer sees) averages to amplitude · rate
    np.testing.assert_allclose(res.activity[0], act.function(z), rtol=0.01)
    assert isinstance(res, SpikingResult) and res.window == pytest.approx((0.02, 10.0))


def test_rates_do_not_depend_on_dt():
    rng = np.random.default_rng(1)
    model = one_layer(2, 10, SoftLIFRate(amplitude=0.01), rng)
    model.layers[0].b = rng.uniform(0.5, 2.0, 10)
    X = rng.uniform(-0.2, 0.2, (3, 2))
    coarse = to_spiking(model, dt=2e-3).run(X, T=4.0, t_average=3.9)
    fine = to_spiking(model, dt=2.5e-4).run(X, T=4.0, t_average=3.9)
    np.testing.assert_allclose(coarse.rates[0], fine.rates[0], atol=1 / 3.9 + 1e-9)


@pytest.fixture(scope="module")
def toy():
    X, T = noisy_mapping(600, n_classes=4, n_features=10, noise=0.6, rng=0)
    rng = np.random.default_rng(0)
    model = ratenet.Sequential([ratenet.Dense(10, 32, rng=rng), SoftLIFRate(amplitude=1 / 63),
                                ratenet.Dense(32, 4, rng=rng), ratenet.Softmax()])
    fit(model, X[:400], T[:400], ratenet.CategoricalCrossEntropy(),
                         Adam(lr=3e-3), epochs=40, batch_size=32, rng=0, verbose=0)
    return model, X[400:], T[400:]


def test_converted_network_matches_rate_network(toy):
    model, X, labels = toy
    snn = to_spiking(model, synapse=PSCFilter(0.005))
    res = snn.run(X, T=1.0)
    rate_out, rate_readout, rate_act = snn.rate_layers(X, exact=False)
    np.testing.assert_allclose(rate_out, model.predict(X), rtol=1e-4, atol=1e-6)
    assert np.corrcoef(res.readout.ravel(), rate_readout.ravel())[0, 1] > 0.99
    assert np.corrcoef(res.output.ravel(), rate_out.ravel())[0, 1] > 0.99
    assert np.mean(res.output.argmax(1) == rate_out.argmax(1)) > 0.97
    rate_acc = np.mean(rate_out.argmax(1) == labels)
    assert rate_acc > 0.9
    assert snn.accuracy(X, labels, T=1.0) == pytest.approx(rate_acc, abs=0.03)


def test_record_trace_averages_to_readout(toy):
    model, X, _ = toy
    snn = to_spiking(model)
    res = snn.run(X[:20], T=0.1, t_average=0.05, record=True)
    assert res.trace.shape == (100, 20, 4) and res.t.shape == (100,)
    np.testing.assert_allclose(res.trace[50:].mean(axis=0), res.readout, atol=1e-9)
    plain = snn.predict(X[:20], T=0.1, t_average=0.05)
    np.testing.assert_allclose(plain, res.output, rtol=1e-12, atol=1e-15)   # sums of 50 vs 10 step means
    with pytest.warns(DeprecationWarning, match="snn.run"):
        old = snn.predict(X[:20], T=0.1, t_average=0.05, record=True, return_result=True)
    np.testing.assert_array_equal(old.trace, res.trace)


def test_two_hidden_layers_alpha_synapse_and_no_readout():
    rng = np.random.default_rng(2)
    model = ratenet.Sequential([ratenet.Dense(3, 20, rng=rng), LIFRate(amplitude=1 / 63), ratenet.Dropout(0.1),
                                ratenet.Dense(20, 5, rng=rng), SoftLIFRate(amplitude=1 / 63)])
    model.layers[0].b = np.full(20, 0.5, np.float32)
    model.layers[3].b = np.full(5, 0.5, np.float32)
    X = rng.uniform(-1, 1, (8, 3))
    snn = to_spiking(model, synapse=PSCFilter(0.05, n=1))
    assert snn.readout is None and len(snn.layers) == 2
    res = snn.run(X, T=3.0)
    _, readout, act = snn.rate_layers(X)
    assert res.output.shape == (8, 5)
    np.testing.assert_allclose(res.readout, act[1], rtol=0.05, atol=0.02)


@pytest.mark.parametrize("layers, exc, match", [
    (lambda r: [ratenet.Dense(2, 3, rng=r), ratenet.ReLU(), ratenet.Dense(3, 2, rng=r)], ValueError, "normalize"),
    (lambda r: [ratenet.Dense(2, 3, rng=r), TuningCurveActivation([0, 1], [0, 10])], TypeError, "Tuning"),
    (lambda r: [ratenet.Dense(2, 3, rng=r), ratenet.Softmax()], ValueError, "first Dense"),
    (lambda r: [ratenet.Dense(2, 3, rng=r), LIFRate(), ratenet.Dense(3, 2, rng=r), ratenet.Softmax(),
                ratenet.Identity()], ValueError, "follow"),
])
def test_unsupported_models_raise(layers, exc, match):
    with pytest.raises(exc, match=match):
        to_spiking(ratenet.Sequential(layers(np.random.default_rng(0))))


def test_bad_arguments_raise(toy):
    model, X, _ = toy
    with pytest.raises(TypeError, match="model"):
        to_spiking("model")
    with pytest.raises(TypeError, match="synapse"):
        to_spiking(model, synapse=0.005)
    with pytest.raises(ValueError, match="dt"):
        to_spiking(model, dt=0)
    snn = to_spiking(model)
    with pytest.raises(ValueError, match="T"):
        snn.predict(X, T=0.0105)
    with pytest.raises(ValueError, match="T"):
        snn.predict(X, T=-1)
    with pytest.raises(ValueError, match="t_average"):
        snn.predict(X, T=0.1, t_average=0.2)
    with pytest.raises(ValueError, match="X"):
        snn.predict(X[:, :3])
    with pytest.raises(ValueError, match="X"):
        snn.predict(X[0])
    with pytest.raises(ValueError, match="v0"):
        snn.predict(X, v0=1.5)
    with pytest.raises(TypeError, match="synapse"):
        snn.predict(X, synapse="fast")
    with pytest.raises(ValueError, match="labels"):
        snn.accuracy(X, [0, 1])


def test_two_layers_agree_with_neurosim_network():
    """Oracle: the same weights wired by hand in neurosim.Network (one sample)."""
    rng = np.random.default_rng(2)
    model = ratenet.Sequential([ratenet.Dense(3, 20, rng=rng, dtype=np.float64), LIFRate(amplitude=1 / 63),
                                ratenet.Dense(20, 8, rng=rng, dtype=np.float64), LIFRate(amplitude=1 / 63)])
    model.layers[0].b = np.full(20, 0.8)
    model.layers[2].b = np.full(8, 0.8)
    x = rng.uniform(-1, 1, (1, 3))
    snn = to_spiking(model, synapse=PSCFilter(0.02), dt=1e-3)
    res = snn.run(x, T=5.0, t_average=4.9)
    l1, l2 = snn.layers
    rates = {}
    for placement in ("exact", "boundary"):
        net = neurosim.Network(dt=1e-3)
        p1 = net.add_population(l1.neuron, 20, bias=(x @ l1.W.T + l1.b + 1).ravel())
        p2 = net.add_population(l2.neuron, 8, bias=l2.b + 1)
        net.connect(p1, p2, l2.W * l1.amplitude, synapse=PSCFilter(0.02), placement=placement)
        probe = net.probe(p2, "spikes")
        net.run(5.0)
        times, idx = probe.data
        rates[placement] = np.bincount(idx[times > 0.1 + 1e-12], minlength=8) / 4.9
    assert rates["exact"].max() > 50
    # predict is this network with the sample as a batch of one: the same spikes
    np.testing.assert_array_equal(res.rates[1][0], rates["exact"])
    # spikes delivered at the step boundary instead: the same mean input, slightly
    # different fluctuations (a neuron near threshold differs by a few spikes)
    np.testing.assert_allclose(res.rates[1][0], rates["boundary"], rtol=0.03, atol=6 / 4.9)


def _count_tol(W, amplitude, t_avg, spikes=2.0):
    """Read-out error bound from spike counts off by ``spikes`` per neuron in the window.

    One count (a constant input fires at exactly G(J), so the count in the window
    is floor or ceil of G t_avg), plus the charge left in the filter at the
    window's two edges (at most about one spike's worth in steady state).
    """
    return np.abs(W).sum(axis=1) * amplitude * spikes / t_avg


@pytest.mark.parametrize("T", [0.5, 2.0])
def test_spiking_readout_matches_rate_readout_within_spike_quantization(T):
    rng = np.random.default_rng(5)
    model = ratenet.Sequential([ratenet.Dense(5, 30, rng=rng, dtype=np.float64), SoftLIFRate(amplitude=1 / 63),
                                ratenet.Dense(30, 4, rng=rng, dtype=np.float64), ratenet.Softmax()])
    model.layers[0].b = rng.uniform(0.0, 1.5, 30)
    model.layers[2].b = rng.normal(0, 1, 4)
    X = rng.uniform(-1, 1, (6, 5))
    snn = to_spiking(model, synapse=PSCFilter(0.005), dt=1e-3)
    t_avg = snn.default_t_average(T)
    res = snn.run(X, T=T)
    _, rate_readout, _ = snn.rate_layers(X, exact=True)
    W, b = snn.readout
    tol = _count_tol(W, 1 / 63, t_avg)
    np.testing.assert_allclose(res.readout, rate_readout, rtol=0, atol=tol.max())
    assert np.all(np.abs(res.readout - rate_readout) <= tol)
    scaled = b + 1.5 * (res.readout - b)                     # a read-out off by 1.5 fails
    assert not np.all(np.abs(scaled - rate_readout) <= tol)
    # hidden rates: within one spike of G(J) over the window
    J = X @ snn.layers[0].W.T + snn.layers[0].b + 1
    np.testing.assert_allclose(res.rates[0], neurosim.LIF(0.02, 0.002).rate(J), rtol=0, atol=1.0 / t_avg + 1e-9)


@pytest.mark.parametrize("hidden", [1, 2])
def test_predict_runs_on_the_compiled_backend_with_the_numpy_backends_readout(monkeypatch, hidden):
    """One hidden layer (the digits benchmark's shape) or two (joined by placement="exact" connections): the
    filtered_mean read-out runs compiled under backend="auto", and equals the numpy backend's to 1e-12
    (relative)."""
    pytest.importorskip("numba", reason="pip install '.[fast]' (or pip install numba)")
    from neurosim.network.compiled import runtime as compiled

    rng = np.random.default_rng(4)
    layers = [ratenet.Dense(5, 30, rng=rng), SoftLIFRate(0.02, 0.002, 1 / 63, 0.02)]
    if hidden == 2:
        layers += [ratenet.Dense(30, 20, rng=rng), SoftLIFRate(0.02, 0.002, 1 / 63, 0.02)]
    model = ratenet.Sequential(layers + [ratenet.Dense(layers[-2].W.shape[0], 3, rng=rng)])
    model.layers[0].b = rng.uniform(0.5, 3.0, 30)
    if hidden == 2:
        model.layers[2].b = rng.uniform(0.5, 2.0, 20)
    snn = to_spiking(model, synapse=PSCFilter(0.005), dt=1e-3)
    X = rng.uniform(-1, 1, (6, 5))
    built = []
    monkeypatch.setattr(compiled.CompiledRuntime, "__init__",
                        lambda self, net, _init=compiled.CompiledRuntime.__init__: (built.append(net), _init(self, net))[1])
    fast = snn.predict(X, T=0.2, rng=0)
    assert built, "predict did not run on the compiled backend"
    assert sum(c.placement == "exact" for c in built[0].connections) == hidden - 1
    monkeypatch.setenv("NEUROSIM_BACKEND", "numpy")
    ref = snn.predict(X, T=0.2, rng=0)
    assert len(built) == 1
    scale = np.abs(ref).max()
    assert scale > 0.1
    np.testing.assert_allclose(fast, ref, rtol=1e-12, atol=1e-12 * scale)
