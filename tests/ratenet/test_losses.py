import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from ratenet import activations as A
from ratenet import losses as L

EPS = 1e-6
rng = np.random.default_rng(0)
N, K = 6, 4


def numeric_grad(f, Y):
    G = np.empty_like(Y)
    for i in np.ndindex(Y.shape):
        Yp, Ym = Y.copy(), Y.copy()
        Yp[i] += EPS
        Ym[i] -= EPS
        G[i] = (f(Yp) - f(Ym)) / (2 * EPS)
    return G


def rel_err(a, n):
    return np.abs(a - n).max() / max(np.abs(a).max(), np.abs(n).max())


def softmax(Z):
    E = np.exp(Z - Z.max(axis=1, keepdims=True))
    return E / E.sum(axis=1, keepdims=True)


labels = rng.integers(0, K, N)
onehot = np.eye(K)[labels]
CASES = {
    "mse": (L.MSE(), rng.standard_normal((N, K)), rng.standard_normal((N, K))),
    "bce": (L.BinaryCrossEntropy(), rng.uniform(0.05, 0.95, (N, K)), rng.uniform(0, 1, (N, K))),
    "cce-onehot": (L.CategoricalCrossEntropy(), softmax(rng.standard_normal((N, K))), onehot),
    "cce-labels": (L.CategoricalCrossEntropy(), softmax(rng.standard_normal((N, K))), labels),
    "cce-soft": (L.CategoricalCrossEntropy(), softmax(rng.standard_normal((N, K))),
                 softmax(rng.standard_normal((N, K)))),
    "nll-onehot": (L.NLLLoss(), np.log(softmax(rng.standard_normal((N, K)))), onehot),
    "nll-labels": (L.NLLLoss(), np.log(softmax(rng.standard_normal((N, K)))), labels),
    "hinge-labels": (L.Hinge(), rng.standard_normal((N, K)), labels),
    "hinge-onehot": (L.Hinge(margin=0.5), rng.standard_normal((N, K)), onehot),
}


@pytest.mark.parametrize("case", CASES)
def test_gradient_matches_finite_differences(case):
    loss, Y, T = CASES[case]
    analytic = loss.gradient(Y, T)
    assert analytic.shape == Y.shape
    assert rel_err(analytic, numeric_grad(lambda y: loss(y, T), Y)) < 1e-7


FUSED = {
    "softmax-cce-onehot": (A.Softmax(), L.CategoricalCrossEntropy(), onehot),
    "softmax-cce-labels": (A.Softmax(), L.CategoricalCrossEntropy(), labels),
    "softmax-cce-soft": (A.Softmax(), L.CategoricalCrossEntropy(), 2 * softmax(rng.standard_normal((N, K)))),
    "sigmoid-bce": (A.Sigmoid(), L.BinaryCrossEntropy(), rng.uniform(0, 1, (N, K))),
    "logsoftmax-nll": (A.LogSoftmax(), L.NLLLoss(), onehot),
    "logsoftmax-nll-labels": (A.LogSoftmax(), L.NLLLoss(), labels),
}


@pytest.mark.parametrize("case", FUSED)
def test_fused_gradient_is_gradient_wrt_preactivation(case):
    act, loss, T = FUSED[case]
    assert loss.fused_activation is type(act)
    Z = rng.standard_normal((N, K))
    analytic = loss.fused_gradient(act.function(Z), T)
    numeric = numeric_grad(lambda z: loss(act.function(z), T), Z)
    assert rel_err(analytic, numeric) < 1e-7


def test_values_by_hand():
    Y = np.array([[1.0, 2.0], [0.0, -1.0]])
    T = np.array([[0.0, 2.0], [1.0, 1.0]])
    assert L.MSE()(Y, T) == pytest.approx(0.5 * (1 + 0 + 1 + 4) / 2)
    P = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    expected = -(np.log(0.7) + np.log(0.8)) / 2
    assert L.CategoricalCrossEntropy()(P, [0, 2]) == pytest.approx(expected)
    assert L.CategoricalCrossEntropy()(P, np.eye(3)[[0, 2]]) == pytest.approx(expected)
    assert L.NLLLoss()(np.log(P), [0, 2]) == pytest.approx(expected)
    y, t = np.array([[0.9, 0.2]]), np.array([[1.0, 0.0]])
    assert L.BinaryCrossEntropy()(y, t) == pytest.approx(-np.log(0.9) - np.log(0.8))
    # the classic max-margin example: scores (3.2, 5.1, -1.7), true class 0
    S = np.array([[3.2, 5.1, -1.7]])
    assert L.Hinge()(S, [0]) == pytest.approx(2.9)
    np.testing.assert_allclose(L.Hinge().gradient(S, [0]), [[-1, 1, 0]])


def test_no_log0_or_overflow():
    P = np.array([[1.0, 0.0], [0.0, 1.0]])
    for dtype in (np.float32, np.float64):
        Pd = P.astype(dtype)
        for loss, T in [(L.CategoricalCrossEntropy(), [1, 1]), (L.BinaryCrossEntropy(), 1 - P)]:
            with np.errstate(all="raise"):
                value = loss(Pd, T)
                grad = loss.gradient(Pd, T)
            assert np.isfinite(value) and value > 5     # a confident wrong answer costs a lot
            assert np.isfinite(grad).all() and grad.dtype == dtype


@settings(max_examples=60, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(2, 6)),
              elements=st.floats(-1e6, 1e6)), st.data())
def test_fused_softmax_cross_entropy_stable(Z, data):
    labels = data.draw(arrays(np.int64, Z.shape[0], elements=st.integers(0, Z.shape[1] - 1)))
    for dtype in (np.float32, np.float64):
        Y = A.Softmax().forward(Z.astype(dtype))
        loss = L.CategoricalCrossEntropy()
        assert np.isfinite(loss(Y, labels))
        G = loss.fused_gradient(Y, labels)
        assert np.isfinite(G).all()
        np.testing.assert_allclose(G.sum(axis=1), 0, atol=1e-5)
        assert np.abs(G).max() <= 1.0 / Z.shape[0] + 1e-6


@settings(max_examples=40, deadline=None)
@given(arrays(np.float64, st.tuples(st.integers(1, 5), st.integers(1, 4)),
              elements=st.floats(-1e4, 1e4)))
def test_sigmoid_bce_and_logsoftmax_nll_stable(Z):
    T = (Z > 0).astype(float)
    Y = A.Sigmoid().forward(Z)
    assert np.isfinite(L.BinaryCrossEntropy()(Y, T))
    assert np.isfinite(L.BinaryCrossEntropy().fused_gradient(Y, T)).all()
    Yl = A.LogSoftmax().forward(Z)
    assert np.isfinite(L.NLLLoss()(Yl, T)) and np.isfinite(L.NLLLoss().fused_gradient(Yl, T)).all()


def test_gradient_keeps_output_dtype():
    Y = np.random.default_rng(1).random((3, 2)).astype(np.float32)
    T = np.ones((3, 2))        # float64 targets must not upcast the gradient
    for loss in (L.MSE(), L.BinaryCrossEntropy(), L.CategoricalCrossEntropy(), L.NLLLoss(), L.Hinge()):
        assert loss.gradient(Y, T).dtype == np.float32
        assert isinstance(loss(Y, T), float)


def test_validation():
    Y = np.zeros((3, 2))
    with pytest.raises(ValueError, match=r"Y and y must have the same shape: Y has shape \(3, 2\), y has shape \(3, 3\)"):
        L.MSE()(Y, np.zeros((3, 3)))
    with pytest.raises(ValueError, match=r"y has shape \(3,\)"):
        L.MSE()(Y, np.array([0, 1, 1]))         # labels only for classification losses
    with pytest.raises(ValueError, match=r"class labels must be in \[0, 2\)"):
        L.CategoricalCrossEntropy()(Y, np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"Y has shape \(3, 2\), y has shape \(2,\)"):
        L.NLLLoss()(Y, np.array([0, 1]))
    with pytest.raises(ValueError, match="2-D"):
        L.MSE()(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        L.MSE()(Y, np.full((3, 2), np.nan))
    with pytest.raises(TypeError, match="numeric"):
        L.MSE()(Y, np.full((3, 2), "a"))
    with pytest.raises(ValueError, match="margin"):
        L.Hinge(margin=0)
    assert isinstance(L.get_loss("cross_entropy"), L.CategoricalCrossEntropy)
    assert L.get_loss("hinge", margin=2.0).margin == 2.0
    with pytest.raises(ValueError, match="unknown loss 'l7'"):
        L.get_loss("l7")


def test_bce_rejects_targets_outside_unit_interval():
    Y = np.full((2, 1), 0.5)
    for T in ([[-1.0], [1.0]], [[0.0], [2.0]]):
        with pytest.raises(ValueError, match=r"y: .*\[0, 1\]"):
            L.BinaryCrossEntropy()(Y, np.array(T))
        with pytest.raises(ValueError, match=r"y: .*\[0, 1\]"):
            L.BinaryCrossEntropy().fused_gradient(Y, np.array(T))
