import io
import json
import pickle

import numpy as np
import pytest

import ratenet
from ratenet import (BatchNorm, Dense, Dropout, LeakyReLU, ReLU, Sequential, Sigmoid, Softmax,
                     Tanh)
from ratenet import losses as L

rng = np.random.default_rng(0)


def two_hidden(dtype=np.float64, out=Softmax):
    return Sequential([Dense(3, 4, rng=1, dtype=dtype), Tanh(),
                       Dense(4, 5, rng=2, dtype=dtype), Sigmoid(),
                       Dense(5, 2, rng=3, dtype=dtype), out()])


@pytest.mark.parametrize("output", ["softmax-ce", "linear-mse"])
def test_two_hidden_layers_against_hand_derivation(output):
    """Loss and all gradients from the textbook backprop equations, written out
    here independently of the layer code:
        z1 = W1 x + b1, h1 = tanh z1, z2 = W2 h1 + b2, h2 = σ(z2), z3 = W3 h2 + b3,
        δ3 = ∂E/∂z3, δ2 = (W3ᵀ δ3) ⊙ h2 (1 − h2), δ1 = (W2ᵀ δ2) ⊙ (1 − h1²),
        ∂E/∂Wl = Σ_n δl h(l−1)ᵀ, ∂E/∂bl = Σ_n δl.
    """
    model = two_hidden(out=Softmax if output == "softmax-ce" else ratenet.Identity)
    for layer in model.layers[::2]:
        layer.b = rng.standard_normal(layer.n_out) * 0.5
    X = rng.standard_normal((7, 3))
    labels = rng.integers(0, 2, 7)
    T = np.eye(2)[labels] if output == "softmax-ce" else rng.standard_normal((7, 2))
    loss = L.CategoricalCrossEntropy() if output == "softmax-ce" else L.MSE()
    (W1, b1), (W2, b2), (W3, b3) = [(l.W.copy(), l.b.copy()) for l in model.layers[::2]]

    n = len(X)
    E_hand, grads = 0.0, [np.zeros_like(a) for a in (W1, b1, W2, b2, W3, b3)]
    for x, t in zip(X, T):                       # one sample at a time, plain formulas
        z1 = W1 @ x + b1
        h1 = np.tanh(z1)
        z2 = W2 @ h1 + b2
        h2 = 1 / (1 + np.exp(-z2))
        z3 = W3 @ h2 + b3
        if output == "softmax-ce":
            y = np.exp(z3) / np.exp(z3).sum()
            E_hand += -np.sum(t * np.log(y)) / n
            d3 = (y - t) / n
        else:
            E_hand += 0.5 * np.sum((z3 - t) ** 2) / n
            d3 = (z3 - t) / n
        d2 = (W3.T @ d3) * h2 * (1 - h2)
        d1 = (W2.T @ d2) * (1 - h1 ** 2)
        for g, v in zip(grads, (np.outer(d1, x), d1, np.outer(d2, h1), d2, np.outer(d3, h2), d3)):
            g += v

    Y = model.forward(X, training=True)
    assert loss(Y, T) == pytest.approx(E_hand, rel=1e-12)
    model.zero_grad()
    model.backward_loss(loss, Y, T)
    for g, p in zip(grads, model.parameters()):
        np.testing.assert_allclose(p.grad, g, rtol=1e-10, atol=1e-14)


def test_gradient_check_many_layer_kinds():
    model = Sequential([Dense(4, 6, rng=0, dtype=np.float64), BatchNorm(6, dtype=np.float64),
                        LeakyReLU(0.1), Dense(6, 5, rng=1, dtype=np.float64), ratenet.Softplus(),
                        Dense(5, 3, rng=2, dtype=np.float64), ratenet.LogSoftmax()])
    X = rng.standard_normal((8, 4))
    for training in (True, False):
        errors = ratenet.gradient_check(model, L.NLLLoss(), X, rng.integers(0, 3, 8), training=training)
        assert set(errors) == {"0.W", "0.b", "1.gamma", "1.beta", "3.W", "3.b", "5.W", "5.b", "input"}
        assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("out, loss", [(Softmax, L.CategoricalCrossEntropy()),
                                       (Sigmoid, L.BinaryCrossEntropy()),
                                       (ratenet.LogSoftmax, L.NLLLoss())])
def test_fused_path_agrees_with_chained_backward(out, loss):
    model = two_hidden(out=out)
    X = rng.standard_normal((5, 3))
    T = rng.uniform(0, 1, (5, 2)) if out is Sigmoid else np.eye(2)[rng.integers(0, 2, 5)]
    Y = model.forward(X)
    dX_fused = model.backward_loss(loss, Y, T, input_grad=True)
    fused = [p.grad.copy() for p in model.parameters()]
    model.forward(X)
    dX_chain = model.backward(loss.gradient(Y, T))
    np.testing.assert_allclose(dX_fused, dX_chain, rtol=1e-9, atol=1e-15)
    for g, p in zip(fused, model.parameters()):
        np.testing.assert_allclose(g, p.grad, rtol=1e-9, atol=1e-15)
    assert model.backward_loss(loss, Y, T) is None          # no input grad by default


def test_fused_path_stable_for_saturated_softmax():
    model = Sequential([Dense(2, 3, rng=0), Softmax()])
    model[0].W = [[1e4, 0], [0, 1e4], [-1e4, 0]]
    X = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)
    Y = model.forward(X, training=True)
    loss = L.CategoricalCrossEntropy()
    assert np.isfinite(loss(Y, [2, 2]))
    model.backward_loss(loss, Y, [2, 2])
    assert np.isfinite(model[0].dW).all() and np.abs(model[0].dW).max() < 1


def test_sequential_validation():
    with pytest.raises(TypeError, match="layers"):
        Sequential(Dense(2, 2))
    with pytest.raises(ValueError, match="at least one"):
        Sequential([])
    with pytest.raises(TypeError, match=r"layers\[1\]"):
        Sequential([Dense(2, 2), np.tanh])
    with pytest.raises(ValueError, match=r"layers\[2\].*expects 4 inputs .* gives 3"):
        Sequential([Dense(2, 3), ReLU(), Dense(4, 1)])
    r = ReLU()
    with pytest.raises(ValueError, match="twice"):
        Sequential([Dense(2, 2), r, Dense(2, 2), r])
    with pytest.raises(ValueError, match="mix dtypes"):
        Sequential([Dense(2, 2), Dense(2, 2, dtype=np.float64)])
    m = Sequential([Dense(3, 2)])
    with pytest.raises(ValueError, match="NaN"):
        m.forward(np.array([[0.0, np.nan, 1.0]]))
    with pytest.raises(ValueError, match="NaN"):
        m.predict([[0.0, np.inf, 1.0]])
    with pytest.raises(ValueError, match="expected 3 features"):
        m.forward(np.ones((2, 4)))
    with pytest.raises(TypeError, match="numeric"):
        m.forward(np.array([["a", "b", "c"]]))
    with pytest.raises(ValueError, match="batch_size"):
        m.predict(np.ones((2, 3)), batch_size=0)


def test_predict_parameters_zero_grad_summary():
    model = Sequential([Dense(4, 8, rng=0), ReLU(), Dropout(0.5, rng=0), Dense(8, 3, rng=1), Softmax()])
    X = rng.standard_normal((10, 4))
    Y = model.predict(X)
    assert Y.shape == (10, 3) and Y.dtype == np.float32
    np.testing.assert_allclose(model.predict(X, batch_size=3), Y, rtol=1e-6)
    np.testing.assert_allclose(Y.sum(axis=1), 1, rtol=1e-6)
    assert len(model.parameters()) == 4 and model.n_parameters() == 4 * 8 + 8 + 8 * 3 + 3
    model.backward_loss(L.CategoricalCrossEntropy(), model.forward(X, True), rng.integers(0, 3, 10))
    assert any(p.grad.any() for p in model.parameters())
    model.zero_grad()
    assert not any(p.grad.any() for p in model.parameters())
    s = model.summary()
    assert "Dense(4, 8)" in s and "(n, 3)" in s and "Total parameters: 67" in s
    assert len(model) == 5 and model[0] is model.layers[0]


def test_state_dict_roundtrip_keeps_parameter_objects():
    model = Sequential([Dense(3, 4, rng=0), BatchNorm(4), ReLU(), Dense(4, 2, rng=1)])
    X = rng.standard_normal((6, 3))
    model.forward(X, training=True)
    state = model.state_dict()
    assert set(state) == {"0.W", "0.b", "1.gamma", "1.beta", "1.running_mean", "1.running_var", "3.W", "3.b"}
    before = model.predict(X)
    params = model.parameters()
    data_ids = [id(p.data) for p in params]
    for p in params:
        p.data += 1.0
    model.forward(X, training=True)
    assert not np.allclose(model.predict(X), before)
    model.load_state_dict(state)
    np.testing.assert_array_equal(model.predict(X), before)
    assert [id(p.data) for p in model.parameters()] == data_ids
    assert model.buffers()[0] is model[1].running_mean
    with pytest.raises(ValueError, match=r"missing \['3.b'\]"):
        model.load_state_dict({k: v for k, v in state.items() if k != "3.b"})
    with pytest.raises(ValueError, match="0.W.*expected shape"):
        model.load_state_dict({**state, "0.W": np.ones((3, 4))})


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_save_load_predicts_identically(tmp_path, dtype):
    model = Sequential([Dense(5, 7, rng=0, dtype=dtype), BatchNorm(7, momentum=0.3, dtype=dtype),
                        LeakyReLU(0.2), Dropout(0.25), Dense(7, 3, rng=1, dtype=dtype, bias=False),
                        Softmax()])
    X = rng.standard_normal((9, 5))
    for _ in range(3):
        model.forward(X, training=True)
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = ratenet.load(path)
    assert loaded.dtype == dtype and repr(loaded) == repr(model)
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))
    buf = io.BytesIO()
    model.save(buf)
    buf.seek(0)
    np.testing.assert_array_equal(ratenet.load(buf).predict(X), model.predict(X))


def _write_npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def test_corrupt_and_foreign_files_rejected(tmp_path):
    good = tmp_path / "good.npz"
    Sequential([Dense(2, 2, rng=0)]).save(good)
    with np.load(good) as f:
        meta, arrays = str(f["__ratenet__"]), {k: f[k] for k in f.files}
    bad = {}
    (tmp_path / "random.npz").write_bytes(np.random.default_rng(0).bytes(500))
    bad["random bytes"] = tmp_path / "random.npz"
    (tmp_path / "trunc.npz").write_bytes(good.read_bytes()[:200])
    bad["truncated"] = tmp_path / "trunc.npz"
    bad["no version"] = _write_npz(tmp_path / "nover.npz", **{k: v for k, v in arrays.items() if k != "__version__"})
    bad["foreign npz"] = _write_npz(tmp_path / "foreign.npz", x=np.ones(3))
    bad["pickled object"] = _write_npz(tmp_path / "obj.npz", **{**arrays, "0.W": np.array([{"a": 1}, None], dtype=object)})
    bad["pickled meta"] = _write_npz(tmp_path / "objmeta.npz", **{**arrays, "__ratenet__": np.array([meta, 1], dtype=object)})
    bad["newer version"] = _write_npz(tmp_path / "new.npz", **{**arrays, "__version__": np.array(99)})
    d = json.loads(meta)
    d["layers"][0]["class"] = "os.system"
    bad["unknown class"] = _write_npz(tmp_path / "cls.npz", **{**arrays, "__ratenet__": np.array(json.dumps(d))})
    d = json.loads(meta)
    d["layers"][0]["config"]["n_in"] = 5
    bad["shape mismatch"] = _write_npz(tmp_path / "shape.npz", **{**arrays, "__ratenet__": np.array(json.dumps(d))})
    bad["bad json"] = _write_npz(tmp_path / "json.npz", **{**arrays, "__ratenet__": np.array("{not json")})
    np.save(tmp_path / "plain.npy", np.ones(3))
    bad["npy file"] = tmp_path / "plain.npy"
    (tmp_path / "pickle.npz").write_bytes(pickle.dumps({"0.W": np.ones((2, 2))}))
    bad["raw pickle"] = tmp_path / "pickle.npz"
    for what, path in bad.items():
        with pytest.raises(ValueError, match="not a readable ratenet model file") as info:
            ratenet.load(path)
        if what == "newer version":
            assert "newer" in str(info.value)
        if what == "unknown class":
            assert "unknown layer class" in str(info.value)
        assert "allow_pickle" not in str(info.value)
    with pytest.raises(FileNotFoundError):
        ratenet.load(tmp_path / "does_not_exist.npz")


def test_copy_to_float64_is_independent():
    model = Sequential([Dense(3, 2, rng=0), ReLU()])
    m64 = model.copy(dtype=np.float64)
    assert m64.dtype == np.float64 and m64[0].W.dtype == np.float64 and model[0].W.dtype == np.float32
    m64[0].W += 1
    assert not np.allclose(m64[0].W, model[0].W)


def test_fit_delegates_to_training(monkeypatch):
    import ratenet.training
    calls = {}

    def fake_fit(model, X, T, **kwargs):
        calls.update(model=model, X=X, T=T, **kwargs)
        return "history"

    monkeypatch.setattr(ratenet.training, "fit", fake_fit)
    model = Sequential([Dense(2, 2)])
    assert model.fit("X", "T", epochs=3, batch_size=4) == "history"
    assert calls == {"model": model, "X": "X", "T": "T", "epochs": 3, "batch_size": 4}
