import numpy as np
import pytest

import ratenet
from ratenet import Dense, Dropout, ReLU, Sequential, Sigmoid, Softmax, Tanh
from ratenet import losses as L

rng = np.random.default_rng(0)


def small_model(dtype=np.float32):
    return Sequential([Dense(3, 5, rng=0, dtype=dtype), Tanh(), Dense(5, 4, rng=1, dtype=dtype),
                       ReLU(), Dense(4, 3, rng=2, dtype=dtype), Softmax()])


@pytest.mark.parametrize("loss, targets", [
    (L.CategoricalCrossEntropy(), lambda: rng.integers(0, 3, 6)),
    (L.MSE(), lambda: rng.standard_normal((6, 3))),
    (L.Hinge(), lambda: rng.integers(0, 3, 6)),
])
def test_gradient_check_passes_for_correct_model(loss, targets):
    model = small_model()
    errors = ratenet.gradient_check(model, loss, rng.standard_normal((6, 3)), targets())
    assert set(errors) == {"0.W", "0.b", "2.W", "2.b", "4.W", "4.b", "input"}
    assert max(errors.values()) < 1e-7, errors


class WrongTanh(Tanh):
    """Tanh whose backward is off by 5 % — the check must notice."""

    def backward(self, dY, input_grad=True):
        return 1.05 * super().backward(dY, input_grad)


def test_gradient_check_detects_wrong_backward():
    model = Sequential([Dense(3, 4, rng=0), WrongTanh(), Dense(4, 2, rng=1)])
    errors = ratenet.gradient_check(model, L.MSE(), rng.standard_normal((5, 3)), rng.standard_normal((5, 2)))
    assert errors["2.W"] < 1e-7                    # above the broken layer: fine
    assert errors["0.W"] > 1e-2 and errors["input"] > 1e-2


def test_gradient_check_leaves_model_untouched_and_subsamples():
    model = small_model()
    before = model.state_dict()
    errors = ratenet.gradient_check(model, L.CategoricalCrossEntropy(), rng.standard_normal((4, 3)),
                                    np.eye(3)[[0, 1, 2, 0]], max_elements=3, rng=0)
    assert max(errors.values()) < 1e-7
    assert model.dtype == np.float32
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
        assert v.dtype == np.float32


def test_zero_gradient_counts_as_pass():
    # A bias followed by BatchNorm has an exactly zero gradient.
    model = Sequential([Dense(3, 4, rng=0), ratenet.BatchNorm(4), Dense(4, 2, rng=1)])
    errors = ratenet.gradient_check(model, L.MSE(), rng.standard_normal((6, 3)),
                                    rng.standard_normal((6, 2)), training=True)
    assert errors["0.b"] == 0.0 and max(errors.values()) < 1e-7


def test_gradient_check_validation():
    model = Sequential([Dense(3, 2), Dropout(0.5)])
    X, T = np.ones((2, 3)), np.ones((2, 2))
    with pytest.raises(ValueError, match="dropout"):
        ratenet.gradient_check(model, L.MSE(), X, T, training=True)
    assert max(ratenet.gradient_check(model, L.MSE(), X, T).values()) < 1e-7
    with pytest.raises(ValueError, match="eps"):
        ratenet.gradient_check(model, L.MSE(), X, T, eps=0)
    with pytest.raises(TypeError, match="model"):
        ratenet.gradient_check(model[0], L.MSE(), X, T)
    with pytest.raises(TypeError, match="loss"):
        ratenet.gradient_check(model, np.sum, X, T)
    with pytest.raises(ValueError, match="expected 3 features"):
        ratenet.gradient_check(model, L.MSE(), np.ones((2, 4)), T)


def test_gradient_norms_show_vanishing_gradients():
    """Deep sigmoid net: each layer back multiplies by σ' ≤ 1/4, so the norms shrink."""
    layers = []
    for i in range(6):
        layers += [Dense(20, 20, init="gaussian", rng=i), Sigmoid()]
    model = Sequential(layers + [Dense(20, 3, rng=9), Softmax()])
    norms = ratenet.gradient_norms(model, L.CategoricalCrossEntropy(),
                                   rng.standard_normal((32, 20)), rng.integers(0, 3, 32))
    assert list(norms) == [f"{2 * i}.Dense" for i in range(7)]
    values = list(norms.values())
    assert all(a < b for a, b in zip(values[:-1], values[1:]))
    assert values[0] < values[-1] / 100


def test_gradient_norms_match_manual_delta():
    model = Sequential([Dense(3, 4, rng=0, dtype=np.float64), Tanh(), Dense(4, 2, rng=1, dtype=np.float64)])
    X, T = rng.standard_normal((5, 3)), rng.standard_normal((5, 2))
    norms = ratenet.gradient_norms(model, L.MSE(), X, T)
    d2 = (model.forward(X) - T) / 5
    d1 = (d2 @ model[2].W) * (1 - np.tanh(X @ model[0].W.T + model[0].b) ** 2)
    assert norms["2.Dense"] == pytest.approx(np.linalg.norm(d2))
    assert norms["0.Dense"] == pytest.approx(np.linalg.norm(d1))
