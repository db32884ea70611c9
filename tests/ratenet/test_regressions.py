"""Regression tests for the wrong results of the trust issue (one test per bug)."""
import math
import warnings

import numpy as np
import pytest

import ratenet
from ratenet import autodiff as ad


# ------------------------------------------------------------ shared ReLU
@pytest.mark.parametrize("build_first", ["A", "B"])
def test_relu_shared_between_models_never_overwrites_caller_input(build_first):
    relu = ratenet.ReLU()
    make = {"A": lambda: ratenet.Sequential([ratenet.Dense(3, 3, rng=0), relu]),
            "B": lambda: ratenet.Sequential([relu, ratenet.Dense(3, 2, rng=1)])}
    models = {k: make[k]() for k in ([build_first] + [k for k in "AB" if k != build_first])}
    X = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    X0 = X.copy()
    Y = models["B"].forward(X, training=True)
    np.testing.assert_array_equal(X, X0)
    # B's output is Dense(relu(X)); computed independently:
    np.testing.assert_allclose(Y, np.maximum(X0, 0) @ models["B"][1].W.T + models["B"][1].b, rtol=1e-6)
    models["A"].forward(X)
    np.testing.assert_array_equal(X, X0)
    relu.forward(X)           # a direct call after the models: never in place
    np.testing.assert_array_equal(X, X0)


# ------------------------------------------------------ Dropout under fit
def _dropout_model():
    return ratenet.Sequential([ratenet.Dense(4, 8, rng=0), ratenet.ReLU(), ratenet.Dropout(0.5),
                               ratenet.Dense(8, 2, rng=1), ratenet.Softmax()])


def test_dropout_without_rng_is_reproducible_under_fit_rng():
    X, y = ratenet.data.noisy_mapping(64, n_classes=2, n_features=4, rng=3)
    runs = []
    for _ in range(2):
        m = _dropout_model()
        h = ratenet.fit(m, X, y, ratenet.CategoricalCrossEntropy(), ratenet.SGD(lr=0.1),
                        epochs=3, batch_size=16, rng=0, verbose=0)
        runs.append((h["loss"], m[0].W.copy()))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    # and the dropout really was random: another seed gives another history
    m = _dropout_model()
    h = ratenet.fit(m, X, y, ratenet.CategoricalCrossEntropy(), ratenet.SGD(lr=0.1),
                    epochs=3, batch_size=16, rng=1, verbose=0)
    assert not np.array_equal(h["loss"], runs[0][0])


# ------------------------------------------------------- divergence guard
def test_divergence_guard_watches_batchnorm_running_var():
    # Inputs of 1e20 (finite float32): the batch variance overflows to inf; training-mode
    # outputs stay finite (x * 1/sqrt(inf) = 0) but running_var becomes inf.
    rng = np.random.default_rng(0)
    X = (rng.standard_normal((40, 2)) * 1e20).astype(np.float32)
    y = rng.integers(0, 2, 40)
    model = ratenet.Sequential([ratenet.BatchNorm(2), ratenet.Dense(2, 2, rng=0), ratenet.Softmax()])
    with pytest.raises(ratenet.TrainingDiverged, match="running_var"):
        ratenet.fit(model, X, y, ratenet.CategoricalCrossEntropy(), ratenet.SGD(lr=0.01),
                    epochs=2, batch_size=8, rng=0, verbose=0)
    assert np.isfinite(model[0].running_var).all()
    assert np.isfinite(model.predict(rng.standard_normal((5, 2)))).all()


def test_weights_kept_after_divergence_give_finite_predictions():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((64, 3)).astype(np.float32) * 30
    y = (X @ np.array([1.0, -2.0, 0.5], np.float32))[:, None]
    model = ratenet.Sequential([ratenet.Dense(3, 1, rng=0)])
    with pytest.raises(ratenet.TrainingDiverged) as info:
        ratenet.fit(model, X, y, ratenet.MSE(), ratenet.SGD(lr=1.0), epochs=200, batch_size=4,
                    rng=0, verbose=0)
    assert "restored" in str(info.value)
    assert np.isfinite(model.predict(X)).all()
    assert np.isfinite(ratenet.evaluate(model, X, y, ratenet.MSE())["loss"])


# ------------------------------------------------- optimizer denormal flush
def _torch_adam_reference(g, steps, lr, b1, b2, eps):
    """PyTorch's Adam (torch.optim.Adam, amsgrad=False) written out in float64."""
    w = m = v = 0.0
    for t in range(1, steps + 1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        denom = math.sqrt(v) / math.sqrt(1 - b2 ** t) + eps
        w -= lr / (1 - b1 ** t) * m / denom
    return w


def _torch_rmsprop_reference(g, steps, lr, alpha, eps):
    """PyTorch's RMSprop (centered=False, momentum=0) written out in float64."""
    w = v = 0.0
    for _ in range(steps):
        v = alpha * v + (1 - alpha) * g * g
        w -= lr * g / (math.sqrt(v) + eps)
    return w


def _run(opt_cls, steps=300, **kw):
    p = ratenet.Parameter(np.zeros(1), "w", dtype=np.float64)
    opt = opt_cls([p], **kw)
    for _ in range(steps):
        p.grad[...] = 1e-16
        opt.step()
    return float(p.data[0])


def test_adam_tiny_eps_float64_matches_pytorch():
    got = _run(ratenet.Adam, lr=1e-3, eps=1e-20)
    want = _torch_adam_reference(1e-16, 300, 1e-3, 0.9, 0.999, 1e-20)
    assert abs(want - (-0.3)) < 1e-3          # the figure: PyTorch gives -0.300
    assert got == pytest.approx(want, rel=1e-12)


def test_rmsprop_tiny_eps_float64_matches_pytorch():
    got = _run(ratenet.RMSprop, lr=1e-3, eps=1e-20)
    want = _torch_rmsprop_reference(1e-16, 300, 1e-3, 0.99, 1e-20)
    assert got == pytest.approx(want, rel=1e-12)


def test_adam_tiny_eps_against_torch_itself():
    torch = pytest.importorskip("torch", reason="pip install torch")
    w = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([w], lr=1e-3, eps=1e-20)
    for _ in range(300):
        w.grad = torch.full((1,), 1e-16, dtype=torch.float64)
        opt.step()
    assert _run(ratenet.Adam, lr=1e-3, eps=1e-20) == pytest.approx(w.item(), rel=1e-12)


def test_float32_moments_still_flushed():
    p = ratenet.Parameter(np.zeros(4), "w", dtype=np.float32)
    opt = ratenet.Adam([p])
    p.grad[...] = 1.0
    opt.step()
    p.grad[...] = 0.0
    for _ in range(3000):        # moments decay geometrically towards float32 denormals
        opt.step()
    v = opt.state[p]["v"]
    assert (v == 0).all() or (np.abs(v) >= np.finfo(np.float32).tiny).all()


# -------------------------------------------------------------- autodiff
def test_pow_zero_exponent_gradient_is_zero_at_zero():
    x = ad.Var(np.array([0.0, 2.0, -1.5]))
    (x ** 0).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 0.0, 0.0])
    x = ad.Var(np.array([0.0, 3.0]))
    (x ** 1).sum().backward()
    np.testing.assert_array_equal(x.grad, [1.0, 1.0])
    x = ad.Var(np.array([0.0, 3.0]))
    (x ** 2).sum().backward()
    np.testing.assert_array_equal(x.grad, [0.0, 6.0])


# ------------------------------------------------- NaN labels, thresholds
def test_nan_labels_and_thresholds_rejected():
    Y = np.array([[0.2], [0.7]])
    with pytest.raises(ValueError, match="threshold"):
        ratenet.to_labels(Y, threshold=float("nan"))
    with pytest.raises(TypeError, match="threshold"):
        ratenet.to_labels(Y, threshold="0.5")
    with pytest.raises(ValueError, match="Y"):
        ratenet.to_labels(np.array([[np.nan, 1.0]]))
    with pytest.raises(ValueError, match="labels"):
        ratenet.one_hot([0.0, np.nan], 2)
    model = ratenet.Sequential([ratenet.Dense(2, 1, rng=0)])
    with pytest.raises(ValueError, match="y"):
        ratenet.fit(model, np.ones((2, 2)), np.array([[0.0], [np.nan]]), ratenet.MSE(),
                    ratenet.SGD(), epochs=1, verbose=0)
    np.testing.assert_array_equal(ratenet.to_labels(np.float32([[0.2], [0.7]]), np.float32(0.5)), [0, 1])


def test_history_string_keys_are_one_key():
    h = ratenet.History(keys="loss")
    assert list(h.history) == ["loss"]
    with pytest.raises(TypeError, match="keys"):
        ratenet.History(keys=[1, 2])


def test_truthy_non_bool_flags_rejected():
    model = ratenet.Sequential([ratenet.Dense(2, 2, rng=0), ratenet.Dropout(0.5)])
    with pytest.raises(TypeError, match="training"):
        model.forward(np.ones((2, 2)), training="no")
    with pytest.raises(TypeError, match="training"):
        ratenet.Dropout(0.5).forward(np.ones((2, 2)), training="no")
    model.forward(np.ones((2, 2)), training=np.bool_(False))


# ------------------------------------------------------------ T -> y rename
def test_targets_are_y_and_T_keyword_is_deprecated():
    X, y = ratenet.data.xor()
    y = y.reshape(-1, 1) if y.ndim == 1 else y
    m = ratenet.Sequential([ratenet.Dense(2, 1, rng=0), ratenet.Sigmoid()])
    loss = ratenet.BinaryCrossEntropy()
    a = ratenet.evaluate(m, X, y, loss)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ratenet.evaluate(m, X, y=y, loss=loss) == a
    with pytest.warns(DeprecationWarning, match="T="):
        assert ratenet.evaluate(m, X, T=y, loss=loss) == a
    with pytest.warns(DeprecationWarning):
        assert loss(m.predict(X), T=y) == loss(m.predict(X), y)
    with pytest.raises(TypeError, match="both"):
        ratenet.evaluate(m, X, y=y, T=y, loss=loss)


# ------------------------------------------------ clip_norm allocates nothing
@pytest.mark.parametrize("opt_cls", [ratenet.SGD, ratenet.Adam, ratenet.RMSprop])
def test_optimizer_step_with_clip_norm_allocates_no_arrays(opt_cls):
    import tracemalloc
    p = ratenet.Parameter(np.zeros(250_000, np.float32), "w")       # 1 MB
    opt = opt_cls([p], lr=1e-3, clip_norm=0.5, weight_decay=1e-4)
    p.grad[...] = 1.0
    opt.step()                       # the first step allocates the state buffers
    tracemalloc.start()
    try:
        for _ in range(3):
            opt.step()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 50_000, f"{opt_cls.__name__}.step allocated {peak} bytes"
    # and clipping really happened: the global norm was 500 > 0.5
    assert opt._clip_scale() == pytest.approx(0.5 / 500.0, rel=1e-6)


@pytest.mark.parametrize("call", [
    lambda m, X, y, kw: ratenet.fit(m, X, loss=ratenet.MSE(), optimizer=ratenet.SGD(), epochs=1, verbose=0,
                                    rng=0, **kw),
    lambda m, X, y, kw: m.fit(X, loss=ratenet.MSE(), optimizer=ratenet.SGD(), epochs=1, verbose=0, rng=0, **kw),
    lambda m, X, y, kw: ratenet.gradient_check(m.copy(np.float64), ratenet.MSE(), X, **kw),
    lambda m, X, y, kw: ratenet.gradient_norms(m, ratenet.MSE(), X, **kw),
    lambda m, X, y, kw: ratenet.train_test_split(X, test_size=0.5, rng=0, **kw),
    lambda m, X, y, kw: list(ratenet.batches(X, batch_size=2, rng=0, **kw)),
    lambda m, X, y, kw: ad.AutodiffLoss(lambda Y, t: ad.sum((Y - t) ** 2))(m.predict(X), **kw),
    lambda m, X, y, kw: m.backward_loss(ratenet.MSE(), m.forward(X), **kw),
])
def test_every_public_T_keyword_is_deprecated_in_favour_of_y(call):
    X = np.random.default_rng(0).standard_normal((4, 2)).astype(np.float32)
    y = np.ones((4, 1), np.float32)
    m = ratenet.Sequential([ratenet.Dense(2, 1, rng=0)])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        call(m, X, y, {"y": y})
    with pytest.warns(DeprecationWarning, match="T= is deprecated"):
        call(m, X, y, {"T": y})
