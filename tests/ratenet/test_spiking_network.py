"""SpikingModel.to_network: the converted model as a real neurosim.Network, against SpikingModel.predict."""
import numpy as np
import pytest

import neurosim
import ratenet
from neurosim.synapses import PSCFilter
from ratenet.data import noisy_mapping
from ratenet.spiking.activations import LIFRate, SoftLIFRate
from ratenet.optimizers import Adam
from ratenet.spiking.convert import to_spiking
from ratenet.spiking.network import SpikingNetwork
from ratenet.training import fit


def three_layer_model(rng):
    model = ratenet.Sequential([
        ratenet.Dense(3, 16, rng=rng, dtype=np.float64), LIFRate(amplitude=1 / 63),
        ratenet.Dense(16, 10, rng=rng, dtype=np.float64), LIFRate(tau_m=0.03, tau_ref=0.001, amplitude=1 / 63),
        ratenet.Dense(10, 6, rng=rng, dtype=np.float64), LIFRate(amplitude=1 / 63),
        ratenet.Dense(6, 2, rng=rng, dtype=np.float64), ratenet.Softmax()])
    for i in (0, 2, 4):
        model.layers[i].b = np.full(model.layers[i].b.shape, 0.8)
    return model


def test_layout_matches_the_model():
    rng = np.random.default_rng(0)
    snn = to_spiking(three_layer_model(rng), synapse=PSCFilter(0.01), dt=1e-3)
    x = rng.uniform(-1, 1, 3)
    sn = snn.to_network(x, name_prefix="h")
    assert isinstance(sn, SpikingNetwork) and isinstance(sn.network, neurosim.Network)
    assert [p.name for p in sn.populations] == ["h0", "h1", "h2"]
    assert [p.n for p in sn.populations] == [16, 10, 6] and sn.network.dt == 1e-3
    np.testing.assert_allclose(sn.populations[0].bias, snn.layers[0].W @ x + snn.layers[0].b + 1)
    np.testing.assert_allclose(sn.populations[2].bias, snn.layers[2].b + 1)
    assert sn.populations[1].model.tau_m == 0.03
    for conn, before, layer in zip(sn.network.connections, snn.layers, snn.layers[1:]):
        np.testing.assert_allclose(conn.weights, layer.W * before.amplitude)
        assert conn.synapse == PSCFilter(0.01)
    assert [p.kind for p in sn.probes] == ["spikes"] * 3 and sn.filtered.kind == "filtered"
    assert sn.input is None


def test_predict_equals_to_network_runs():
    """predict runs the to_network layout with the samples as a batch: the same spikes, read-out to 1e-12."""
    rng = np.random.default_rng(2)
    snn = to_spiking(three_layer_model(rng), synapse=PSCFilter(0.02), dt=1e-3)
    X = rng.uniform(-1, 1, (3, 3))
    T, t_avg = 2.0, 1.9
    res = snn.run(X, T=T, t_average=t_avg)
    Y = snn.predict(X, T=T, t_average=t_avg)
    np.testing.assert_array_equal(Y, res.output)
    for s, x in enumerate(X):
        sn = snn.to_network(x)
        sn.network.run(T)
        rates = sn.rates(t_start=T - t_avg)
        assert rates[-1].max() > 30
        for layer, (expected, got) in enumerate(zip(res.rates, rates)):
            np.testing.assert_allclose(got, expected[s], rtol=1e-12, err_msg=f"sample {s}, layer {layer}")
        out, readout = sn.output(t_avg)
        np.testing.assert_allclose(readout, res.readout[s], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(out, Y[s], rtol=1e-12, atol=1e-12)
        one = snn.predict(x[None], T=T, t_average=t_avg)          # a batch of one
        np.testing.assert_allclose(one[0], out, rtol=1e-12, atol=1e-12)


@pytest.fixture(scope="module")
def toy():
    X, T = noisy_mapping(300, n_classes=3, n_features=6, noise=0.5, rng=0)
    rng = np.random.default_rng(0)
    model = ratenet.Sequential([ratenet.Dense(6, 16, rng=rng), SoftLIFRate(amplitude=1 / 63),
                                ratenet.Dense(16, 3, rng=rng), ratenet.Softmax()])
    fit(model, X[:200], T[:200], ratenet.CategoricalCrossEntropy(), Adam(lr=3e-3),
        epochs=30, batch_size=32, rng=0, verbose=0)
    return model, X[200:]


def test_readout_of_trained_model_matches_rate_model(toy):
    model, X = toy
    snn = to_spiking(model, synapse=PSCFilter(0.005), dt=1e-3)
    X = X[:12]
    _, rate_readout, _ = snn.rate_layers(X, exact=False)
    readouts, outputs = [], []
    for x in X:
        sn = snn.to_network(x)
        sn.network.run(1.0)
        out, readout = sn.output()
        readouts.append(readout)
        outputs.append(out)
        trace = sn.readout()                 # instantaneous read-out of the filtered probe, every step
        assert trace.shape == (1000, 3)
        np.testing.assert_allclose(trace[-1], sn.readout(sn.filtered.data[-1]))
    readouts = np.array(readouts)
    assert np.corrcoef(readouts.ravel(), rate_readout.ravel())[0, 1] > 0.99
    assert np.mean(np.argmax(outputs, 1) == model.predict(X).argmax(1)) > 0.9


def test_time_varying_input_equals_constant_input():
    rng = np.random.default_rng(3)
    snn = to_spiking(three_layer_model(rng), dt=1e-3)
    x = rng.uniform(-1, 1, 3)
    const = snn.to_network(x)
    steps = snn.to_network(np.tile(x, (200, 1)))
    func = snn.to_network(lambda t: x)
    assert steps.input is not None and func.input is not None
    for sn in (const, steps, func):
        sn.network.run(0.2)
    for a, b, c in zip(const.probes, steps.probes, func.probes):
        assert a.data[0].size > 0
        np.testing.assert_allclose(b.data[0], a.data[0], atol=1e-9)
        np.testing.assert_allclose(c.data[0], a.data[0], atol=1e-9)


def test_bad_inputs_raise():
    rng = np.random.default_rng(4)
    snn = to_spiking(three_layer_model(rng), dt=1e-3)
    with pytest.raises(ValueError, match="x: to_network builds the network for one input"):
        snn.to_network(None)
    with pytest.raises(ValueError, match=r"x: expected shape \(3,\)"):
        snn.to_network(np.zeros(4))
    with pytest.raises(ValueError, match=r"x: expected shape \(3,\)"):
        snn.to_network(np.zeros((2, 2, 3)))
    with pytest.raises(ValueError, match="1-step"):
        snn.to_network(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="NaN"):
        snn.to_network(np.array([0.0, np.nan, 1.0]))
    with pytest.raises(TypeError, match="x: expected an array"):
        snn.to_network("abc")
    with pytest.raises(TypeError, match="name_prefix"):
        snn.to_network(np.zeros(3), name_prefix=1)
    with pytest.raises(TypeError, match="synapse"):
        snn.to_network(np.zeros(3), synapse=0.005)
    bad = snn.to_network(lambda t: np.zeros(2))
    with pytest.raises(ValueError, match=r"x\(t\): expected shape \(3,\)"):
        bad.network.run(0.01)
    sn = snn.to_network(np.zeros(3))
    with pytest.raises(ValueError, match="run the network first"):
        sn.output()
    sn.network.run(0.1)
    with pytest.raises(ValueError, match="t_average"):
        sn.output(0.5)
    with pytest.raises(ValueError, match="window"):
        sn.rates(t_start=0.2)
    with pytest.raises(ValueError, match="filtered"):
        sn.readout(np.zeros((5, 4)))


def test_chunks_and_seeds_do_not_change_results():
    rng = np.random.default_rng(6)
    snn = to_spiking(three_layer_model(rng), synapse=PSCFilter(0.01), dt=1e-3)
    X = rng.uniform(-1, 1, (5, 3))
    whole = snn.run(X, T=0.3)
    parts = snn.run(X, T=0.3, batch_size=2)                     # chunks of 2, 2, 1
    np.testing.assert_allclose(parts.output, whole.output, rtol=1e-12)
    for a, b in zip(parts.rates, whole.rates):
        np.testing.assert_array_equal(a, b)
    u1 = snn.predict(X, T=0.3, v0="uniform", rng=7)
    u2 = snn.predict(X, T=0.3, v0="uniform", rng=7)
    np.testing.assert_array_equal(u1, u2)                       # same seed, same result
    assert not np.array_equal(u1, snn.predict(X, T=0.3, v0="uniform", rng=8))
    c1 = snn.predict(X, T=0.3, v0="uniform", rng=7, batch_size=2)
    np.testing.assert_array_equal(c1, snn.predict(X, T=0.3, v0="uniform", rng=7, batch_size=2))
    with pytest.raises(ValueError, match="batch_size"):
        snn.predict(X, T=0.3, batch_size=0)


# ---- issue 24: memory independent of T (item 2), default batch size (item 4), progress (item 11)
def _peak_bytes(fn):
    import tracemalloc

    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("method", ["predict", "run"])
def test_predict_memory_does_not_grow_with_T(method, monkeypatch):
    """Regression: the read-out was recorded every gcd(transient, window) steps, so memory grew with T."""
    import ratenet.spiking.convert as convert

    monkeypatch.setattr(convert, "_PIECE_BYTES", 2**16, raising=False)   # small pieces: a small test
    rng = np.random.default_rng(1)
    model = ratenet.Sequential([ratenet.Dense(4, 40, rng=rng), LIFRate(amplitude=1 / 63),
                                ratenet.Dense(40, 3, rng=rng), ratenet.Softmax()])
    model.layers[0].b = np.full(40, 0.8, np.float32)
    snn = to_spiking(model, dt=1e-3)
    X = rng.uniform(-1, 1, (25, 4))
    call = getattr(snn, method)
    call(X, T=0.05)                                              # first-call allocations
    short = _peak_bytes(lambda: call(X, T=0.4))
    long = _peak_bytes(lambda: call(X, T=2.4))                   # 6x T: 6x the samples it used to keep
    assert long < 1.25 * short + 50_000, (short, long)


def test_run_record_is_refused_before_allocating():
    snn = to_spiking(three_layer_model(np.random.default_rng(0)), dt=1e-3)
    X = np.zeros((1000, 3))
    with pytest.raises(ValueError, match=r"record=True .* max_bytes=1000000"):
        snn.run(X, T=10.0, record=True, max_bytes=10**6)       # 10,000 x 1,000 x 2 floats = 153 MiB
    with pytest.raises(ValueError, match="record=True"):
        snn.run(X, T=1e5, record=True)                          # ~1.5 TiB: over any machine's memory
    for bad, err in ((0, ValueError), (1.5, TypeError), ("1e6", TypeError)):
        with pytest.raises(err, match="max_bytes"):
            snn.predict(X[:2], T=0.01, max_bytes=bad)


def test_record_trace_is_the_per_step_readout():
    """The trace (per step) averaged over the window equals the read-out, as before pieces were used."""
    rng = np.random.default_rng(3)
    snn = to_spiking(three_layer_model(rng), synapse=PSCFilter(0.01), dt=1e-3)
    X = rng.uniform(-1, 1, (4, 3))
    res = snn.run(X, T=0.3, record=True, batch_size=3)
    n_avg = int(round((res.window[1] - res.window[0]) / snn.dt))
    assert res.trace.shape == (300, 4, 2) and res.t.shape == (300,)
    np.testing.assert_allclose(res.trace[-n_avg:].mean(axis=0), res.readout, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(snn.run(X, T=0.3).readout, res.readout, rtol=1e-12, atol=1e-12)


def test_default_batch_size_is_the_measured_neuron_count(monkeypatch):
    """Regression: the default was about a million neurons per batch, the slowest size measured."""
    import ratenet.spiking.convert as convert

    rng = np.random.default_rng(0)
    model = ratenet.Sequential([ratenet.Dense(3, 700, rng=rng), LIFRate(amplitude=1 / 63),
                                ratenet.Dense(700, 2, rng=rng)])
    snn = to_spiking(model, dt=1e-3)
    assert snn.default_batch_size() == convert.NEURONS_PER_BATCH // 700
    batches = []
    original = convert.build_network

    def spy(*args, **kwargs):
        batches.append(kwargs["batch"])
        return original(*args, **kwargs)

    monkeypatch.setattr(convert, "build_network", spy)
    snn.predict(np.zeros((200, 3)), T=0.003)
    assert max(batches) * 700 <= convert.NEURONS_PER_BATCH and sum(batches) == 200
    assert convert.NEURONS_PER_BATCH < 2**18              # not the slow (1 << 20)-neuron batches


def test_progress_line_on_stderr_only_when_asked(capsys):
    snn = to_spiking(three_layer_model(np.random.default_rng(0)), dt=1e-3)
    X = np.zeros((3, 3))
    snn.predict(X, T=0.05)
    assert capsys.readouterr().err == ""
    snn.predict(X, T=0.05, batch_size=2, progress=True)
    err = capsys.readouterr().err
    assert "predict" in err and "100.0%" in err and "100/100 steps" in err and err.endswith("\n")
    snn.run(X, T=0.05, progress=True)
    assert "run" in capsys.readouterr().err
    with pytest.raises(TypeError, match="progress"):
        snn.predict(X, T=0.05, progress="yes")
