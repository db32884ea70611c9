"""neurosim.validation, the one validation module of both packages (ratenet imports it)."""
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ratenet
from neurosim import validation as v


def test_n_steps_accepts_float32_durations_and_rejects_non_multiples():
    assert v.n_steps(np.float32(0.3), 1e-4) == 3000
    assert v.n_steps(0.3, np.float32(1e-4)) == 3000
    assert v.n_steps(np.float32(0.1), np.float32(1e-3)) == 100
    assert v.n_steps(0.3, 1e-4) == 3000
    with pytest.raises(ValueError, match="multiple"):
        v.n_steps(0.30005, 1e-4)
    with pytest.raises(ValueError, match="multiple"):
        v.n_steps(np.float32(0.30005), 1e-4)     # 5e-5 off is far beyond float32 rounding (3e-8)
    with pytest.raises(ValueError, match="T"):
        v.n_steps(float("nan"), 1e-4)
    with pytest.raises(TypeError, match="dt"):
        v.n_steps(0.1, "1e-4")


@settings(max_examples=200, deadline=None)
@given(steps=st.integers(1, 10**6), dt=st.sampled_from([1e-5, 1e-4, 2.5e-4, 1e-3, 0.1]))
def test_n_steps_round_trips_float32_and_float64(steps, dt):
    assert v.n_steps(steps * dt, dt) == steps
    T32 = np.float32(steps * dt)
    # float32 T is exact to ~6e-8 relative: the count is right whenever that rounding
    # cannot move T by a whole step.
    if steps < 10**5:
        assert v.n_steps(T32, dt) == steps


def test_n_steps_bounded_work_names_the_limit():
    with pytest.raises(ValueError, match=r"max_steps") as info:
        v.n_steps(1e300, 1e-4, max_steps=10**9)
    assert "1e+304" in str(info.value)
    assert v.n_steps(1.0, 1e-4, max_steps=10**4) == 10**4


def test_check_work_refuses_before_allocating():
    with pytest.raises(ValueError, match=r"recorded samples needs 5e\+12 elements.*max_samples="):
        v.check_work("recorded samples", 5e12, 1e9, "max_samples")
    with pytest.raises(ValueError):
        v.check_work("x", float("nan"), 10)
    assert v.check_work("x", 10, 10) == 10


@pytest.mark.parametrize("value", [True, False, np.bool_(True), np.bool_(False)])
def test_check_bool_accepts_bools(value):
    assert v.check_bool("flag", value) is bool(value)


@pytest.mark.parametrize("value", ["no", "False", 0, 1, None, 1.0, np.int64(1), [True]])
def test_check_bool_rejects_truthy_non_bools(value):
    with pytest.raises(TypeError, match="flag"):
        v.check_bool("flag", value)


@pytest.mark.parametrize("value", [1 + 2j, np.complex128(1), "1.0", None, True, np.bool_(False), [1.0]])
def test_check_number_type_errors(value):
    with pytest.raises(TypeError, match="x"):
        v.check_number("x", value)


@pytest.mark.parametrize("value", [np.float32(0.5), np.float64(0.5), np.int32(1), np.uint8(1), 1, 0.5,
                                   np.array(0.5)])
def test_check_number_accepts_numpy_scalars(value):
    assert v.check_number("x", value, low=0) == float(value)


def test_real_array_rejects_complex_strings_none_and_nan():
    with pytest.raises(TypeError, match="complex"):
        v.real_array("a", np.array([1 + 1j]))
    with pytest.raises(TypeError, match="a"):
        v.real_array("a", ["x", "y"])
    with pytest.raises(TypeError, match="None"):
        v.real_array("a", None)
    with pytest.raises(ValueError, match="finite"):
        v.real_array("a", [1.0, np.nan])
    with pytest.raises(ValueError, match="2-D"):
        v.real_array("a", [1.0], ndim=2)
    assert v.real_array("a", np.ones(2, np.float32), dtype=None).dtype == np.float32
    assert v.finite_array("a", [1, 2]).dtype == np.float64


def test_strings_choices_dtypes_shapes():
    assert v.check_strings("keys", "loss") == ["loss"]
    assert v.check_strings("keys", ("loss", "acc")) == ["loss", "acc"]
    with pytest.raises(TypeError, match=r"keys\[1\]"):
        v.check_strings("keys", ["a", 1])
    assert v.check_choice("mode", "min", ("min", "max")) == "min"
    with pytest.raises(ValueError, match="'min', 'max'"):
        v.check_choice("mode", "avg", ("min", "max"))
    with pytest.raises(TypeError, match="mode"):
        v.check_choice("mode", 1, ("min", "max"))
    assert v.check_float_dtype("dtype", "float32") == np.float32
    with pytest.raises(TypeError, match="dtype"):
        v.check_float_dtype("dtype", None)
    with pytest.raises(ValueError, match="dtype"):
        v.check_float_dtype("dtype", np.int64)
    assert v.check_shape_tuple("shape", (2, np.int64(3))) == (2, 3)
    with pytest.raises(TypeError, match="shape"):
        v.check_shape_tuple("shape", "23")
    with pytest.raises(ValueError, match=r"shape \(n, 3\)"):
        v.check_shape("W", np.ones((2, 2)), (None, 3))


def test_as_rng_accepts_int_generator_seedsequence_none():
    g = np.random.default_rng(1)
    assert v.as_rng(g) is g
    assert v.as_rng(3).random() == np.random.default_rng(3).random()
    assert v.as_rng(np.int64(3)).random() == np.random.default_rng(3).random()
    ss = np.random.SeedSequence(5)
    assert v.as_rng(ss).random() == np.random.default_rng(np.random.SeedSequence(5)).random()
    assert isinstance(v.as_rng(None), np.random.Generator)
    with pytest.raises(ValueError, match="rng"):
        v.as_rng(-1)
    for bad in (1.5, "0", True, np.random.RandomState(0)):
        with pytest.raises(TypeError, match="rng"):
            v.as_rng(bad)


def test_renamed_argument_warns_and_forwards():
    @v.renamed_argument("T", "y")
    def f(X, y):
        return y

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert f(1, 2) == 2 and f(1, y=3) == 3
    with pytest.warns(DeprecationWarning, match="T= is deprecated, use y="):
        assert f(1, T=4) == 4
    with pytest.raises(TypeError, match="both"):
        f(1, y=1, T=2)


def test_gradient_check_refuses_unbounded_work_before_starting():
    model = ratenet.Sequential([ratenet.Dense(200, 200, rng=0), ratenet.Dense(200, 10, rng=1)])
    X = np.zeros((64, 200))
    with pytest.raises(ValueError, match="max_work"):
        ratenet.gradient_check(model, ratenet.MSE(), X, np.zeros((64, 10)), max_work=10**9)
