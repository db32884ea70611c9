import numpy as np
import pytest

import ratenet
from ratenet import initializers as init

RANDOM = ["gaussian", "glorot_uniform", "glorot_normal", "he_normal", "he_uniform"]


@pytest.mark.parametrize("name", RANDOM)
def test_same_seed_same_weights(name):
    f = init.get(name)
    a, b = f((30, 20), rng=5), f((30, 20), rng=5)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, f((30, 20), rng=6))
    g1, g2 = np.random.default_rng(3), np.random.default_rng(3)
    np.testing.assert_array_equal(f((4, 3), rng=g1), f((4, 3), rng=g2))


@pytest.mark.parametrize("name", RANDOM + ["zeros"])
def test_dtype_and_shape(name):
    f = init.get(name)
    assert f((5, 7), rng=0).dtype == np.float32
    w64 = f((5, 7), rng=0, dtype=np.float64)
    assert w64.dtype == np.float64 and w64.shape == (5, 7)
    # float32 and float64 draws from one seed agree up to rounding
    np.testing.assert_allclose(f((5, 7), rng=0), w64, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name, var", [
    ("gaussian", lambda fo, fi: 1 / fi),
    ("glorot_uniform", lambda fo, fi: 2 / (fi + fo)),
    ("glorot_normal", lambda fo, fi: 2 / (fi + fo)),
    ("he_normal", lambda fo, fi: 2 / fi),
    ("he_uniform", lambda fo, fi: 2 / fi),
])
def test_variances(name, var):
    fan_out, fan_in = 300, 500
    w = init.get(name)((fan_out, fan_in), rng=1, dtype=np.float64)
    assert abs(w.mean()) < 5 * np.sqrt(var(fan_out, fan_in) / w.size)   # 5 standard errors
    assert w.var() == pytest.approx(var(fan_out, fan_in), rel=0.02)


def test_uniform_bounds():
    w = init.glorot_uniform((100, 50), rng=0, dtype=np.float64)
    assert np.abs(w).max() <= np.sqrt(6 / 150)
    w = init.he_uniform((100, 50), rng=0, dtype=np.float64)
    assert np.abs(w).max() <= np.sqrt(6 / 50)


def test_dense_uses_initializer_and_zero_bias():
    d = ratenet.Dense(6, 4, init="gaussian", rng=9)
    np.testing.assert_array_equal(d.W, init.gaussian((4, 6), rng=9))
    np.testing.assert_array_equal(d.b, np.zeros(4))
    d2 = ratenet.Dense(6, 4, init=lambda shape, rng=None, dtype=None: np.ones(shape))
    np.testing.assert_array_equal(d2.W, np.ones((4, 6)))


def test_lookup_and_validation():
    assert init.get("Xavier_Uniform") is init.glorot_uniform
    assert init.get(init.he_normal) is init.he_normal
    with pytest.raises(ValueError, match="unknown initializer 'nope'"):
        init.get("nope")
    with pytest.raises(TypeError, match="init"):
        init.get(3)
    with pytest.raises(ValueError, match="shape"):
        init.gaussian((3,), rng=0)
    with pytest.raises(ValueError, match="shape"):
        init.gaussian((0, 3), rng=0)
    with pytest.raises(TypeError, match="rng"):
        init.gaussian((2, 3), rng="seed")
    with pytest.raises(TypeError, match="rng"):
        init.gaussian((2, 3), rng=np.random.RandomState(0))
    with pytest.raises(ValueError, match="rng"):
        init.gaussian((2, 3), rng=-1)
    with pytest.raises(ValueError, match="init: returned shape"):
        ratenet.Dense(3, 2, init=lambda shape, rng=None, dtype=None: np.ones((2, 2)))
