"""fit_lif: recovers known LIF parameters from analytic curves; fits Hodgkin-Huxley's f-I curve."""
import numpy as np
import pytest

from neurosim import LIF, tuning_curve
from neurosim.neurons.fit import LIFFit, fit_lif
from neurosim.neurons.hh import HodgkinHuxley


@pytest.mark.parametrize("tau_m, tau_ref, gain, bias", [(0.02, 0.002, 0.5, -1.0), (0.05, 0.005, 2.0, 0.3), (0.01, 0.001, 0.1, 0.0)])
def test_recovers_known_lif(tau_m, tau_ref, gain, bias):
    I = np.linspace(0, 40, 60)
    rates = LIF(tau_m, tau_ref).rate(gain * I + bias)
    fit = fit_lif(I, rates)
    assert isinstance(fit, LIFFit)
    assert fit.model.tau_m == pytest.approx(tau_m, rel=1e-5)
    assert fit.model.tau_ref == pytest.approx(tau_ref, rel=1e-5)
    assert fit.gain == pytest.approx(gain, rel=1e-5)
    assert fit.bias == pytest.approx(bias, rel=1e-5, abs=1e-7)
    np.testing.assert_allclose(fit.rate(I), rates, atol=1e-6)
    assert fit.threshold == pytest.approx((1 - bias) / gain, rel=1e-6)


def test_fixed_tau_ref_and_silent_points():
    I = np.linspace(0, 20, 40)
    rates = LIF(0.03, 0.004).rate(0.3 * I + 0.1)
    fit = fit_lif(I, rates, tau_ref=0.004, include_silent=True)
    assert fit.model.tau_ref == 0.004
    assert fit.model.tau_m == pytest.approx(0.03, rel=1e-5)
    assert fit.n_points == 40


def test_fits_hodgkin_huxley():
    """The LIF fitted to HH's firing part matches it within 1 Hz (HH 55-180 Hz there)."""
    I = np.linspace(6.5, 50, 14)
    rates = tuning_curve(HodgkinHuxley(), I, T=0.5, dt=2.5e-5, t_start=0.1)
    assert np.all(rates > 50)
    fit = fit_lif(I, rates)
    err = np.abs(fit.rate(I) - rates)
    assert fit.rms_error < 0.5 and err.max() < 1.0  # measured: 0.08 Hz rms, 0.2 Hz max
    # threshold just below HH's rheobase (~6.26): the LIF cannot jump, so it starts a little earlier
    assert 4.0 < fit.threshold < 6.5


@pytest.mark.parametrize("inputs, rates, match", [
    ([1, 2, 3], [0, 1, 2, 3], "same length"),
    ([1, 2, 3, 4], [0, 0, 1, 2], "at least 4"),
    ([1, 2, 3, 4], [1, -1, 2, 3], "rates"),
    ([1, 2, np.nan, 4], [1, 1, 2, 3], "inputs"),
])
def test_bad_input(inputs, rates, match):
    with pytest.raises(ValueError, match=match):
        fit_lif(inputs, rates)


def test_degenerate_fit_is_flagged_and_warned():
    # an LIF curve without a refractory period: nothing bends the curve, the fitted tau_ref runs to ~0
    I = np.linspace(0, 20, 30)
    rates = LIF(0.01, 0.0).rate(0.8 + 0.05 * I)
    with pytest.warns(RuntimeWarning, match="tau_ref"):
        fit = fit_lif(I, rates)
    assert fit.at_bound == ("tau_ref",) and fit.model.tau_ref < 1e-6


def test_good_fit_has_nothing_at_bound():
    import warnings

    I = np.linspace(0, 40, 60)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fit = fit_lif(I, LIF(0.02, 0.002).rate(0.5 * I - 1.0))
    assert fit.at_bound == ()


@pytest.mark.parametrize("scale", [1e300, 1e-300])
def test_huge_and_tiny_inputs_fit_like_ordinary_ones(scale):
    # issue 24 item 7: inputs and rates near the float64 range gave inf (rms) or a wrong fit; the fit is
    # invariant to the unit of the inputs: the same curve in the scaled unit
    I = np.linspace(0, 40, 60)
    rates = LIF(0.02, 0.002).rate(0.5 * I - 1.0)
    fit = fit_lif(I * scale, rates)
    assert fit.model.tau_m == pytest.approx(0.02, rel=1e-5) and fit.model.tau_ref == pytest.approx(0.002, rel=1e-5)
    assert fit.gain == pytest.approx(0.5 / scale, rel=1e-5) and fit.bias == pytest.approx(-1.0, rel=1e-5)
    np.testing.assert_allclose(fit.rate(I * scale), rates, atol=1e-6)


def test_rates_near_the_float_range_give_a_finite_fit_and_error():
    I = np.linspace(5, 20, 10)
    rates = np.array([0, 0, 40, 60, 80, 100, 110, 120, 130, 1e300])
    with pytest.warns(RuntimeWarning, match="outside the plausible range"):
        fit = fit_lif(I, rates)
    assert np.isfinite([fit.gain, fit.bias, fit.model.tau_m, fit.model.tau_ref, fit.rms_error]).all()
    # the reported error is the rms of the residuals (computed in units of 1e300 so that it does not overflow)
    firing = rates > 0
    residual = fit.rate(I[firing]) / 1e300 - rates[firing] / 1e300
    assert fit.rms_error / 1e300 == pytest.approx(np.sqrt(np.mean(residual**2)), rel=1e-9)
