import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import ratenet
from ratenet import activations as A

ELEMENTWISE = [A.Identity(), A.Sigmoid(), A.Tanh(), A.HardTanh(), A.Softsign(), A.ReLU(),
               A.LeakyReLU(0.1), A.Softplus()]
ALL = ELEMENTWISE + [A.Softmax(), A.LogSoftmax()]
EPS = 1e-6


def away_from_kinks(shape, rng):
    """Random inputs at least 0.05 away from the kinks at 0 and ±1."""
    z = rng.uniform(-3, 3, shape)
    for k in (-1.0, 0.0, 1.0):
        near = np.abs(z - k) < 0.05
        z[near] += 0.1
    return z


def rel_err(a, n):
    return np.abs(a - n).max() / max(np.abs(a).max(), np.abs(n).max())


@pytest.mark.parametrize("act", ELEMENTWISE, ids=lambda a: type(a).__name__)
def test_derivative_matches_finite_differences(act):
    z = away_from_kinks(200, np.random.default_rng(0))
    numeric = (act.function(z + EPS) - act.function(z - EPS)) / (2 * EPS)
    assert rel_err(act.derivative(z), numeric) < 1e-7


@pytest.mark.parametrize("act", ALL, ids=lambda a: type(a).__name__)
def test_backward_matches_finite_differences(act):
    """Layer backward vs centered differences of E = Σ dY ⊙ forward(X)."""
    rng = np.random.default_rng(1)
    X = away_from_kinks((5, 4), rng)
    dY = rng.standard_normal((5, 4))
    act.forward(X.copy(), training=True)
    analytic = act.backward(dY.copy())
    numeric = np.empty_like(X)
    for i in np.ndindex(X.shape):
        Xp, Xm = X.copy(), X.copy()
        Xp[i] += EPS
        Xm[i] -= EPS
        numeric[i] = (np.sum(dY * act.function(Xp)) - np.sum(dY * act.function(Xm))) / (2 * EPS)
    assert rel_err(analytic, numeric) < 1e-7


@pytest.mark.parametrize("act", ALL, ids=lambda a: type(a).__name__)
def test_forward_equals_function_and_keeps_dtype(act):
    X = away_from_kinks((3, 4), np.random.default_rng(2)).astype(np.float32)
    Y = act.forward(X.copy())
    np.testing.assert_allclose(Y, act.function(X.astype(np.float64)), rtol=1e-5, atol=1e-6)
    assert Y.dtype == np.float32
    assert act.derivative(X).shape == X.shape


def test_known_values():
    z = np.array([-2.0, 0.5, 3.0])
    np.testing.assert_allclose(A.Sigmoid().function(z), 1 / (1 + np.exp(-z)))
    np.testing.assert_allclose(A.HardTanh().function(z), [-1, 0.5, 1])
    np.testing.assert_allclose(A.Softsign().function(z), [-2 / 3, 0.5 / 1.5, 0.75])
    np.testing.assert_allclose(A.LeakyReLU(0.2).function(z), [-0.4, 0.5, 3])
    np.testing.assert_allclose(A.Softplus().function(z), np.log1p(np.exp(z)))
    np.testing.assert_allclose(A.ReLU().derivative(z), [0, 1, 1])
    np.testing.assert_allclose(A.Step().function(z), [0, 1, 1])


def test_no_overflow_for_extreme_inputs():
    z = np.array([[-1e4, 0.0, 1e4], [1e300, -1e300, 0.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        for act in [A.Softmax(), A.LogSoftmax(), A.Softplus(), A.Tanh(), A.Softsign()]:
            assert np.isfinite(act.function(z)).all(), type(act).__name__
    s = A.Sigmoid().function(z)
    assert np.isfinite(s).all() and s[0, 0] == 0 and s[0, 2] == 1
    np.testing.assert_allclose(A.Softplus().function(np.array([1e4])), [1e4])


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 6), st.integers(1, 8)),
              elements=st.floats(-1e30, 1e30)))
def test_softmax_rows_sum_to_one(Z):
    Y = A.Softmax().forward(Z)
    assert np.all(Y >= 0) and np.all(Y <= 1)
    np.testing.assert_allclose(Y.sum(axis=1), 1.0, rtol=1e-12)
    L = A.LogSoftmax().forward(Z)
    assert np.isfinite(L).all() and np.all(L <= 1e-12)
    np.testing.assert_allclose(np.exp(L).sum(axis=1), 1.0, rtol=1e-12)


def test_softmax_shift_invariance_and_log_consistency():
    Z = np.random.default_rng(3).standard_normal((4, 5))
    sm = A.Softmax()
    np.testing.assert_allclose(sm.function(Z), sm.function(Z + 100.0), rtol=1e-12)
    np.testing.assert_allclose(A.LogSoftmax().function(Z), np.log(sm.function(Z)), rtol=1e-12)


def test_step_cannot_train():
    s = A.Step()
    np.testing.assert_array_equal(s.forward(np.array([[-1.0, 2.0]])), [[0, 1]])
    with pytest.raises(ValueError, match="cannot be trained"):
        s.forward(np.ones((2, 2)), training=True)
    with pytest.raises(ValueError, match="cannot be trained"):
        s.backward(np.ones((2, 2)))


def test_get_activation():
    assert isinstance(A.get_activation("relu"), A.ReLU)
    assert isinstance(A.get_activation("log_softmax"), A.LogSoftmax)
    assert isinstance(A.get_activation("logistic"), A.Sigmoid)
    assert A.get_activation("leaky_relu", slope=0.3).slope == 0.3
    r = A.ReLU()
    assert A.get_activation(r) is r
    with pytest.raises(ValueError, match="unknown activation 'swish'"):
        A.get_activation("swish")
    with pytest.raises(TypeError):
        A.get_activation(3)


def test_leaky_slope_validation():
    with pytest.raises(TypeError, match="slope"):
        A.LeakyReLU("0.1")
    with pytest.raises(ValueError, match="slope"):
        A.LeakyReLU(float("nan"))


def test_one_hot_and_labels():
    T = A.one_hot([2, 0, 1], 4)
    np.testing.assert_array_equal(T, [[0, 0, 1, 0], [1, 0, 0, 0], [0, 1, 0, 0]])
    assert T.dtype == np.float32
    np.testing.assert_array_equal(A.one_hot(np.array([1.0, 0.0])), [[0, 1], [1, 0]])
    np.testing.assert_array_equal(A.to_labels(T), [2, 0, 1])
    np.testing.assert_array_equal(A.argmax(T), [2, 0, 1])
    np.testing.assert_array_equal(A.to_labels([[0.2], [0.7]]), [0, 1])
    with pytest.raises(ValueError, match=r"labels: values must be in \[0, 3\)"):
        A.one_hot([0, 3], 3)
    with pytest.raises(ValueError, match="labels"):
        A.one_hot([-1, 0], 3)
    with pytest.raises(ValueError, match="non-integral"):
        A.one_hot([0.5], 3)
    with pytest.raises(ValueError, match="1-D"):
        A.one_hot([[0]], 3)
    with pytest.raises(TypeError, match="labels"):
        A.one_hot(["a"], 3)
    with pytest.raises(ValueError, match="n_classes"):
        A.one_hot([0], 0)
    with pytest.raises(ValueError, match="2-D"):
        A.argmax([1, 2])


class Cube(A.Activation):
    """A custom activation defined only by function and derivative (y = a z³)."""

    def __init__(self, a=1.0):
        self.a = a

    def function(self, z):
        return self.a * z ** 3

    def derivative(self, z):
        return 3 * self.a * z ** 2


def test_custom_activation_plugs_in(tmp_path):
    model = ratenet.Sequential([ratenet.Dense(3, 4, rng=0), Cube(0.5), ratenet.Dense(4, 2, rng=1)])
    X = np.random.default_rng(0).standard_normal((6, 3))
    T = np.random.default_rng(1).standard_normal((6, 2))
    errors = ratenet.gradient_check(model, ratenet.MSE(), X, T)
    assert max(errors.values()) < 1e-7
    assert isinstance(A.get_activation("cube", a=2.0), Cube)
    model.save(tmp_path / "cube.npz")
    loaded = ratenet.load(tmp_path / "cube.npz")
    assert loaded[1].a == 0.5
    np.testing.assert_array_equal(loaded.predict(X), model.predict(X))


def test_inplace_relu_never_touches_caller_arrays():
    X = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    X0 = X.copy()
    model = ratenet.Sequential([A.ReLU(), ratenet.Dense(3, 2, rng=0), A.ReLU()])
    model.forward(X, training=True)
    np.testing.assert_array_equal(X, X0)
    dY = np.ones((4, 2), np.float32) * -1
    dY0 = dY.copy()
    model.backward(dY)
    np.testing.assert_array_equal(dY, dY0)
    # two outputs of the same model stay independent
    Y1 = model.forward(X)
    Y1c = Y1.copy()
    model.forward(-X)
    np.testing.assert_array_equal(Y1, Y1c)
