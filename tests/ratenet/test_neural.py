"""LIF-derived activations against the analytic LIF curve, finite differences and neurosim."""
import warnings

import numpy as np
import pytest

import neurosim
import ratenet
from ratenet.spiking.activations import LIFRate, SoftLIFRate, TuningCurveActivation

EPS = 1e-6


def away_from_zero(shape, rng, low=-2.0, high=3.0, gap=0.05):
    z = rng.uniform(low, high, shape)
    z[np.abs(z) < gap] += 2 * gap
    return z


def rel_err(a, n):
    return np.abs(a - n).max() / max(np.abs(a).max(), np.abs(n).max())


def fd(act, z, eps=EPS):
    return (act.function(z + eps) - act.function(z - eps)) / (2 * eps)


def test_lifrate_is_amplitude_times_analytic_lif_rate():
    z = np.linspace(-1, 5, 301)
    for tau_m, tau_ref, amp in [(0.02, 0.002, 1.0), (0.05, 0.0, 0.1), (0.01, 0.004, 1 / 63)]:
        act = LIFRate(tau_m, tau_ref, amp)
        oracle = amp * neurosim.LIF(tau_m, tau_ref).rate(z + 1)
        np.testing.assert_allclose(act.function(z), oracle, rtol=1e-12, atol=0)
    # independent closed form at one point: J = 2 -> 1/(tau_ref + tau_m ln 2)
    assert LIFRate().function(np.array([1.0]))[0] == pytest.approx(1 / (0.002 + 0.02 * np.log(2)))


def test_softlif_converges_monotonically_to_lif():
    z = np.linspace(-2, 5, 20001)
    exact = LIFRate(amplitude=1 / 63).function(z)
    sigmas = [0.3, 0.1, 0.03, 0.01, 3e-3, 1e-3, 1e-4, 1e-6]
    diffs = [np.abs(SoftLIFRate(amplitude=1 / 63, sigma=s).function(z) - exact).max() for s in sigmas]
    assert all(b < a for a, b in zip(diffs, diffs[1:])), diffs
    # away from threshold the error is O(sigma): the soft curve's tail below
    # threshold is ~ sigma / (tau_m |z|); above, the softplus is exact
    far = np.abs(z) > 0.5
    d_far = [np.abs(SoftLIFRate(amplitude=1 / 63, sigma=s).function(z) - exact)[far].max()
             for s in (1e-2, 1e-3)]
    assert d_far[1] < 0.12 * d_far[0]
    assert d_far[1] < 1e-3 / (0.02 * 0.5) / 63 * 1.05


def test_softlif_is_stable_for_extreme_inputs():
    act = SoftLIFRate(amplitude=0.5)
    z = np.array([-1e308, -1e5, -800.0, -50.0, 0.0, 50.0, 1e5, 1e308])
    with warnings.catch_warnings():
        warnings.simplefilter("error")       # no overflow/invalid warnings escape
        y, d = act.function(z), act.derivative(z)
    assert np.isfinite(y).all() and np.isfinite(d).all()
    assert (np.diff(y) >= 0).all() and (d >= 0).all()
    assert y[-1] == pytest.approx(0.5 / 0.002)
    y32 = act.function(np.array([-3e38, 0, 3e38], np.float32))
    assert y32.dtype == np.float32 and np.isfinite(y32).all()


@pytest.mark.parametrize("act", [LIFRate(amplitude=0.05), SoftLIFRate(amplitude=0.05, sigma=0.05),
                                 SoftLIFRate(tau_ref=0.0, sigma=0.5)],
                         ids=["lif", "softlif", "softlif-noref"])
def test_derivative_matches_finite_differences(act):
    z = away_from_zero(400, np.random.default_rng(0))
    assert rel_err(act.derivative(z), fd(act, z)) < 1e-6


def _curve_activation():
    J = np.linspace(0.0, 5.0, 60)
    return TuningCurveActivation(J, neurosim.LIF().rate(J), amplitude=1 / 63, offset=1.0)


def test_tuning_curve_activation_is_monotone_smooth_and_matches_samples():
    act = _curve_activation()
    J = np.asarray(act.J)
    np.testing.assert_allclose(act.function(J - 1.0), neurosim.LIF().rate(J) / 63, rtol=1e-12)
    z = np.linspace(-3, 10, 5001)
    y = act.function(z)
    assert (np.diff(y) >= 0).all()
    zz = away_from_zero(300, np.random.default_rng(1), -2, 8) + 1e-4   # off the knots
    assert rel_err(act.derivative(zz), fd(act, zz)) < 1e-5
    # linear continuation above J[-1] with the end slope; flat below J[0]
    assert act.derivative(np.array([9.0]))[0] == pytest.approx(act.derivative(np.array([3.999999]))[0], rel=1e-4)
    assert act.function(np.array([-5.0]))[0] == 0.0


def test_tuning_curve_activation_makes_noisy_data_monotone():
    J = np.linspace(0, 1, 30)
    rates = 100 * J + np.random.default_rng(2).normal(0, 5, 30)
    act = TuningCurveActivation(J, np.clip(rates, 0, None), extrapolate="flat")
    y = act.function(np.linspace(-1, 2, 1001))
    assert (np.diff(y) >= -1e-12).all()
    assert act.derivative(np.array([1.5]))[0] == 0.0


def test_from_callable_samples_the_function():
    act = TuningCurveActivation.from_callable(neurosim.LIF(0.02, 0.002).rate, np.linspace(0, 4, 50),
                                              offset=1.0)
    assert act.function(np.array([1.0]))[0] == pytest.approx(LIFRate().function(np.array([1.0]))[0], rel=1e-3)
    with pytest.raises(TypeError, match="rate_fn"):
        TuningCurveActivation.from_callable(3.0, [0, 1])


@pytest.mark.parametrize("make", [lambda: LIFRate(amplitude=1 / 63), lambda: SoftLIFRate(amplitude=1 / 63),
                                  _curve_activation], ids=["lif", "softlif", "curve"])
def test_gradient_check_save_load_in_sequential(make, tmp_path):
    rng = np.random.default_rng(3)
    model = ratenet.Sequential([ratenet.Dense(3, 6, rng=rng, dtype=np.float64), make(),
                                ratenet.Dense(6, 2, rng=rng, dtype=np.float64)])
    model.layers[0].b = np.full(6, 0.7)          # keep pre-activations away from threshold
    X = rng.uniform(-0.3, 0.3, (5, 3))
    Z = X @ model.layers[0].W.T + model.layers[0].b
    assert np.abs(Z).min() > 0.01
    errors = ratenet.gradient_check(model, ratenet.MSE(), X, rng.standard_normal((5, 2)))
    assert max(errors.values()) < 1e-6, errors
    model.save(tmp_path / "m.npz")
    loaded = ratenet.load(tmp_path / "m.npz")
    assert type(loaded.layers[1]) is type(model.layers[1])
    np.testing.assert_array_equal(loaded.forward(X), model.forward(X))


def test_float32_in_float32_out():
    z = np.linspace(-1, 2, 7, dtype=np.float32)
    for act in (LIFRate(), SoftLIFRate(), _curve_activation()):
        assert act.function(z).dtype == np.float32 and act.derivative(z).dtype == np.float32
    assert SoftLIFRate().function([0.0, 1.0]).shape == (2,)


@pytest.mark.parametrize("kwargs, match", [
    ({"tau_m": 0.0}, "tau_m"), ({"tau_m": -1}, "tau_m"), ({"tau_ref": -0.001}, "tau_ref"),
    ({"amplitude": 0}, "amplitude"), ({"amplitude": float("nan")}, "amplitude"),
    ({"sigma": 0.0}, "sigma"), ({"sigma": float("inf")}, "sigma")])
def test_bad_parameters_raise_value_error(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SoftLIFRate(**kwargs)


def test_bad_parameter_types_and_curves():
    with pytest.raises(TypeError, match="tau_m"):
        LIFRate(tau_m="fast")
    with pytest.raises(ValueError, match="increasing"):
        TuningCurveActivation([0, 2, 1], [0, 1, 2])
    with pytest.raises(ValueError, match="rates"):
        TuningCurveActivation([0, 1, 2], [0, -1, 2])
    with pytest.raises(ValueError, match="rates"):
        TuningCurveActivation([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="J"):
        TuningCurveActivation([0], [0])
    with pytest.raises(TypeError, match="J"):
        TuningCurveActivation("abc", [0])
    with pytest.raises(ValueError, match="extrapolate"):
        TuningCurveActivation([0, 1], [0, 1], extrapolate="cubic")


def _mp_softlif(act, z, derivative=False):
    """SoftLIFRate at 50 digits (mpmath): the formula as written, no asymptotics."""
    mpmath = pytest.importorskip("mpmath", reason="the oracle needs mpmath: pip install mpmath")
    mpmath.mp.dps = 50

    def y(t):
        j = act.sigma * mpmath.log1p(mpmath.exp(t / act.sigma))
        return act.amplitude / (act.tau_ref + act.tau_m * mpmath.log1p(1 / j))
    f = (lambda t: mpmath.diff(y, t)) if derivative else y
    return np.array([float(f(mpmath.mpf(float(v)))) for v in z])


# both sides of the asymptote switch (z/sigma = -20), the old underflow (z/sigma < -706) and beyond
_Z_ORACLE = np.concatenate([-np.logspace(-3, 4, 40), np.linspace(-0.41, -0.39, 9), [0.0],
                            np.logspace(-3, 2, 25)])


@pytest.mark.parametrize("dtype, rtol", [(np.float64, 2e-15), (np.float32, 1e-6)])
def test_softlif_matches_high_precision_oracle(dtype, rtol):
    act = SoftLIFRate(amplitude=1 / 63)
    z = _Z_ORACLE.astype(dtype)
    y, d = act.function(z), act.derivative(z)
    assert y.dtype == dtype and d.dtype == dtype
    np.testing.assert_allclose(y, _mp_softlif(act, z), rtol=rtol, atol=0)
    np.testing.assert_allclose(d, _mp_softlif(act, z, derivative=True), rtol=rtol * 2, atol=0)


def test_softlif_strictly_positive_and_increasing_for_every_finite_z():
    act = SoftLIFRate(amplitude=1 / 63)
    z = np.concatenate([-np.logspace(308, -3, 3000), np.linspace(-0.45, -0.35, 2001)[1:-1], np.logspace(-3, 2, 500)])
    z = np.unique(z)
    y = act.function(z)
    assert (y > 0).all()                   # before: exactly 0 for z/sigma < -706
    assert (np.diff(y) >= 0).all()
    moderate = z[1:] > -1e5                # where consecutive values differ by more than rounding
    assert (np.diff(y)[moderate] > 0).all()
    d = act.derivative(np.array([-1e100, -1e5, -800 * act.sigma, -20.5 * act.sigma, -19.5 * act.sigma]))
    assert (d > 0).all()
    # far tail: y ~ A sigma / (tau_m |z|), so dy/dz ~ A sigma / (tau_m z²)
    np.testing.assert_allclose(act.derivative(np.array([-1e5])), act.amplitude * act.sigma / (act.tau_m * 1e10),
                               rtol=1e-4)
    y32 = act.function(-np.logspace(38, -3, 200).astype(np.float32))
    assert y32.dtype == np.float32 and (y32 > 0).all()


@pytest.mark.parametrize("act", [LIFRate(amplitude=1 / 63), SoftLIFRate(amplitude=1 / 63)], ids=["lif", "softlif"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_backward_uses_forward_cache_and_equals_derivative(act, dtype):
    rng = np.random.default_rng(1)
    X = away_from_zero((16, 8), rng, low=-2, high=2).astype(dtype)
    X[0, :4] = [-1e4, -30.0, 1e-300 if dtype == np.float64 else 1e-30, 50.0]
    dY = rng.normal(size=X.shape).astype(dtype)
    for training in (True, False):
        y = act.forward(X.copy(), training=training)
        dX = act.backward(dY.copy())
        assert y.dtype == dtype and dX.dtype == dtype
        np.testing.assert_array_equal(y, act.function(X))
        np.testing.assert_array_equal(dX, dY * act.derivative(X))
    assert np.isfinite(dX).all()


def test_lifrate_derivative_is_zero_at_and_below_threshold():
    act = LIFRate(amplitude=0.5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d = act.derivative(np.array([-1.0, 0.0, 5e-324, 1e-300]))
    assert d[0] == 0 and d[1] == 0 and d[2] == 0 and np.isfinite(d[3]) and d[3] > 0
