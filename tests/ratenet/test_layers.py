import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ratenet
from ratenet import BatchNorm, Dense, Dropout

EPS = 1e-6


def rel_err(a, n):
    return np.abs(a - n).max() / max(np.abs(a).max(), np.abs(n).max())


def numeric_grad(f, w):
    """Centered differences of the scalar f() with respect to the array w (perturbed in place)."""
    G = np.empty_like(w)
    for i in np.ndindex(w.shape):
        orig = w[i]
        w[i] = orig + EPS
        fp = f()
        w[i] = orig - EPS
        fm = f()
        w[i] = orig
        G[i] = (fp - fm) / (2 * EPS)
    return G


def check_layer(layer, X, training=False, reseed=None):
    """Backward of ``layer`` vs finite differences of E = Σ dY ⊙ forward(X)."""
    dY = np.random.default_rng(7).standard_normal(layer.forward(X.copy(), training).shape)

    def energy():
        if reseed is not None:
            reseed()
        return float(np.sum(dY * layer.forward(X, training)))

    energy()
    dX = layer.backward(dY.copy())
    analytic = {p.name: p.grad.copy() for p in layer.parameters()}
    for p in layer.parameters():
        assert rel_err(analytic[p.name], numeric_grad(energy, p.data)) < 1e-7, p.name
    assert rel_err(dX, numeric_grad(energy, X)) < 1e-7


def test_dense_shapes_and_formula():
    d = Dense(3, 4, rng=0)
    assert d.W.shape == (4, 3) and d.b.shape == (4,) and d.W.dtype == np.float32
    d.b = np.arange(4)
    X = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    np.testing.assert_allclose(d.forward(X), X @ d.W.T + d.b, rtol=1e-6)
    d.backward(np.ones((5, 4), np.float32))
    assert d.dW.shape == (4, 3) and d.db.shape == (4,)
    np.testing.assert_allclose(d.db, [5, 5, 5, 5])
    np.testing.assert_allclose(d.dW, np.tile(X.sum(axis=0), (4, 1)), rtol=1e-5)
    assert [p.name for p in d.parameters()] == ["W", "b"]


@pytest.mark.parametrize("bias", [True, False])
def test_dense_gradient_check(bias):
    d = Dense(4, 3, rng=1, dtype=np.float64, bias=bias)
    if bias:
        d.b = [0.1, -0.2, 0.3]
    check_layer(d, np.random.default_rng(1).standard_normal((5, 4)))
    assert d.b is None if not bias else d.db is not None


def test_dense_skips_input_grad():
    d = Dense(4, 3, rng=1)
    d.forward(np.ones((2, 4), np.float32))
    assert d.backward(np.ones((2, 3), np.float32), input_grad=False) is None
    assert d.dW.any()


def test_dense_validation():
    with pytest.raises(ValueError, match="n_in"):
        Dense(0, 3)
    with pytest.raises(TypeError, match="n_out"):
        Dense(3, 2.5)
    with pytest.raises(ValueError, match="dtype"):
        Dense(3, 2, dtype=np.int32)
    d = Dense(3, 2)
    with pytest.raises(ValueError, match=r"expected 3 features .* got shape \(4, 5\)"):
        d.forward(np.ones((4, 5)))
    with pytest.raises(ValueError, match="reshape"):
        d.forward(np.ones(3))
    with pytest.raises(ValueError, match="W: expected shape"):
        d.W = np.ones((3, 2))
    with pytest.raises(RuntimeError, match="before forward"):
        Dense(3, 2).backward(np.ones((1, 2)))
    d.forward(np.ones((4, 3)))
    with pytest.raises(ValueError, match="dY: expected shape"):
        d.backward(np.ones((4, 3)))
    with pytest.raises(ValueError, match="bias=False"):
        Dense(3, 2, bias=False).b = np.ones(2)


def test_dense_converts_input_dtype():
    d = Dense(2, 2, rng=0)
    assert d.forward([[1, 2]]).dtype == np.float32


@pytest.mark.parametrize("rate", [-0.1, 1.0, 1.5, float("nan"), float("inf")])
def test_dropout_bad_rates(rate):
    with pytest.raises(ValueError, match=r"rate must be a finite number in \[0, 1\)"):
        Dropout(rate)


def test_dropout_rate_type():
    with pytest.raises(TypeError, match="rate"):
        Dropout("0.5")


def test_dropout_eval_is_identity_and_training_is_unbiased():
    X = np.random.default_rng(0).uniform(0.5, 2.0, (2000, 50)).astype(np.float32)
    drop = Dropout(0.3, rng=0)
    assert drop.forward(X) is X
    Y = drop.forward(X, training=True)
    # kept units are scaled by 1/(1 - rate); dropped are exactly 0
    kept = Y != 0
    np.testing.assert_allclose(Y[kept], X[kept] / 0.7, rtol=1e-6)
    assert abs(1 - kept.mean() - 0.3) < 0.005            # 3.4 standard errors (n = 1e5)
    # expected activation equals the input: mean of Y/X over many draws is 1
    ratio = np.mean([(drop.forward(X, training=True) / X).mean() for _ in range(5)])
    assert abs(ratio - 1) < 0.01
    assert Dropout(0.0).forward(X, training=True) is X


def test_dropout_same_seed_same_mask():
    X = np.ones((4, 10), np.float32)
    np.testing.assert_array_equal(Dropout(0.5, rng=3).forward(X, True), Dropout(0.5, rng=3).forward(X, True))


def test_dropout_gradient_check():
    drop = Dropout(0.4)

    def reseed():
        drop.rng = np.random.default_rng(11)     # same mask on every evaluation

    reseed()
    check_layer(drop, np.random.default_rng(2).standard_normal((6, 5)), training=True, reseed=reseed)


@pytest.mark.parametrize("training", [True, False])
def test_batchnorm_gradient_check(training):
    bn = BatchNorm(4, dtype=np.float64)
    bn.gamma.data[:] = [0.5, 1.5, -1.0, 2.0]
    bn.beta.data[:] = [0.1, 0.0, -0.3, 1.0]
    bn.running_mean[:] = [0.2, -0.1, 0.0, 0.5]
    bn.running_var[:] = [1.5, 0.7, 2.0, 1.0]
    check_layer(bn, np.random.default_rng(3).standard_normal((6, 4)) * 2 + 1, training=training)


def test_batchnorm_train_and_eval():
    rng = np.random.default_rng(4)
    X = rng.standard_normal((64, 3)) * [1.0, 3.0, 0.5] + [2.0, -1.0, 0.0]
    bn = BatchNorm(3, momentum=0.2, eps=1e-5, dtype=np.float64)
    Y = bn.forward(X, training=True)
    np.testing.assert_allclose(Y.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(Y.var(axis=0), X.var(axis=0) / (X.var(axis=0) + 1e-5), rtol=1e-10)
    np.testing.assert_allclose(bn.running_mean, 0.2 * X.mean(axis=0))
    np.testing.assert_allclose(bn.running_var, 0.8 + 0.2 * X.var(axis=0, ddof=1))
    # evaluation uses the running statistics, not the batch
    Ye = bn.forward(X[:5])
    np.testing.assert_allclose(Ye, (X[:5] - bn.running_mean) / np.sqrt(bn.running_var + 1e-5))
    # many training batches: the running statistics converge to the data's
    for _ in range(100):
        bn.forward(rng.standard_normal((64, 3)) * [1.0, 3.0, 0.5] + [2.0, -1.0, 0.0], training=True)
    np.testing.assert_allclose(bn.running_mean, [2, -1, 0], atol=0.3)
    np.testing.assert_allclose(bn.running_var, [1, 9, 0.25], rtol=0.3)


def test_batchnorm_validation():
    with pytest.raises(ValueError, match="at least 2"):
        BatchNorm(3).forward(np.ones((1, 3)), training=True)
    with pytest.raises(ValueError, match="momentum"):
        BatchNorm(3, momentum=0)
    with pytest.raises(ValueError, match="eps"):
        BatchNorm(3, eps=-1)
    with pytest.raises(ValueError, match="expected 3 features"):
        BatchNorm(3).forward(np.ones((4, 2)))


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(1, 6), st.integers(1, 5), st.integers(0, 2**31))
def test_dense_matches_formula_any_shape(n_in, n_out, batch, seed):
    rng = np.random.default_rng(seed)
    d = Dense(n_in, n_out, rng=seed, dtype=np.float64)
    d.b = rng.standard_normal(n_out)
    X = rng.standard_normal((batch, n_in))
    Z = d.forward(X)
    expected = np.array([[sum(d.W[j, i] * X[k, i] for i in range(n_in)) + d.b[j]
                          for j in range(n_out)] for k in range(batch)])
    np.testing.assert_allclose(Z, expected, rtol=1e-12, atol=1e-12)
    dY = rng.standard_normal((batch, n_out))
    dX = d.backward(dY)
    np.testing.assert_allclose(d.dW, sum(np.outer(dY[k], X[k]) for k in range(batch)), atol=1e-12)
    np.testing.assert_allclose(dX, np.array([d.W.T @ dY[k] for k in range(batch)]), atol=1e-12)
