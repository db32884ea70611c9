"""PSC filters against independent oracles: scipy's gamma pdf, quadrature, direct sums, expm."""
import math

import numpy as np
import pytest
from scipy import integrate, linalg, stats

from neurosim import PSCFilter, bin_spikes, filter_binned
from neurosim.network.connections import membrane_coefficients


@pytest.mark.parametrize("n", range(5))
def test_kernel_has_unit_area(n):
    syn = PSCFilter(0.007, n)
    area, err = integrate.quad(syn.kernel, 0, np.inf, limit=200)
    assert area == pytest.approx(1.0, abs=1e-8)


@pytest.mark.parametrize("n", range(5))
def test_kernel_is_the_gamma_density(n):
    syn = PSCFilter(0.004, n)
    t = np.linspace(-0.01, 0.1, 500)
    np.testing.assert_allclose(syn.kernel(t), stats.gamma.pdf(t, a=n + 1, scale=0.004), rtol=1e-12, atol=1e-12)
    assert syn.kernel(-1e-9) == 0.0


def test_exact_filter_equals_direct_sum_with_weights():
    rng = np.random.default_rng(1)
    spikes, w = np.sort(rng.uniform(0, 0.5, 40)), rng.normal(size=40)
    t = np.linspace(0, 0.6, 301)
    for n in (0, 1, 3):
        tau = 0.01
        direct = np.zeros_like(t)
        for ts, wi in zip(spikes, w):
            for k, tk in enumerate(t):
                u = tk - ts
                if u >= 0:
                    direct[k] += wi * u**n * math.exp(-u / tau) / (math.factorial(n) * tau ** (n + 1))
        np.testing.assert_allclose(PSCFilter(tau, n).filter(spikes, t, weights=w), direct, rtol=1e-11, atol=1e-9)


def test_filter_list_of_trains_gives_columns():
    syn = PSCFilter(0.01)
    trains = [np.array([0.1]), np.array([0.2, 0.3]), np.zeros(0)]
    t = np.linspace(0, 0.5, 51)
    out = syn.filter(trains, t)
    assert out.shape == (51, 3)
    np.testing.assert_allclose(out[:, 1], syn.filter(trains[1], t))
    assert np.all(out[:, 2] == 0)


@pytest.mark.parametrize("n", [0, 1, 2, 4])
def test_state_space_on_binned_train_matches_exact_filter_and_convolution(n):
    dt, T = 1e-3, 0.4
    rng = np.random.default_rng(n)
    spikes = np.sort(rng.integers(0, 300, 30)) * dt  # on the grid, repeats allowed
    binned = bin_spikes([spikes], T, dt)
    syn = PSCFilter(0.01, n)
    y = filter_binned(syn, binned, dt)[:, 0]
    t = np.arange(len(binned)) * dt
    np.testing.assert_allclose(y, syn.filter(spikes, t), rtol=1e-10, atol=1e-8)
    conv = np.convolve(binned[:, 0] * dt, syn.kernel(t))[: len(t)]  # discrete convolution oracle
    np.testing.assert_allclose(y, conv, rtol=1e-10, atol=1e-8)


def test_transition_matrix_is_the_matrix_exponential():
    syn, dt = PSCFilter(0.003, 3), 2e-4
    M = (np.diag(-np.ones(4)) + np.diag(np.ones(3), -1)) / 0.003
    np.testing.assert_allclose(syn.transition(dt), linalg.expm(M * dt), rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("n", [0, 1, 2])
def test_sub_step_spikes_added_with_lag_are_exact(n):
    # a spike inside a step, added at the next boundary with lag = boundary - ts
    syn, dt = PSCFilter(0.005, n), 1e-3
    state = syn.make_state(1, dt)
    ts, w = 0.0123, 0.7
    out = []
    for k in range(1, 60):
        t = k * dt
        state.advance()
        if t - dt < ts <= t:
            state.add(w, lag=t - ts)
        out.append(state.current[0])
    t = np.arange(1, 60) * dt
    np.testing.assert_allclose(out, syn.filter([ts], t, weights=w), rtol=1e-12, atol=1e-10)


def test_membrane_coefficient_closed_form_for_exponential_synapse():
    tau_s, tau_m, dt = 0.005, 0.02, 1e-4
    c = membrane_coefficients(PSCFilter(tau_s), tau_m, dt)
    expected = tau_s * (np.exp(-dt / tau_s) - np.exp(-dt / tau_m)) / (tau_s - tau_m) / -np.expm1(-dt / tau_m)
    assert c[0] == pytest.approx(expected, rel=1e-12)


@pytest.mark.parametrize("bad", [0, -1.0, np.inf])
def test_tau_validation(bad):
    with pytest.raises(ValueError, match="tau_s"):
        PSCFilter(bad)


@pytest.mark.parametrize("bad, err", [(-1, ValueError), (10**12, ValueError), (1.5, TypeError), (True, TypeError)])
def test_order_validation(bad, err):
    with pytest.raises(err, match="n must be an integer"):
        PSCFilter(0.01, bad)
    assert PSCFilter(0.01, np.int64(2)).n == 2


def test_kernel_rejects_nan_times():
    syn = PSCFilter(0.005, n=1)
    assert syn.kernel(np.inf) == 0.0
    with pytest.raises(ValueError, match="NaN"):
        syn.kernel([0.001, np.nan])


def test_kernel_rejects_bad_order():
    import pytest

    with pytest.raises(ValueError, match="order"):
        PSCFilter(0.005).kernel([0.001], order=-1)
    with pytest.raises(TypeError, match="order"):  # a float is a wrong type, not a wrong value
        PSCFilter(0.005).kernel([0.001], order=1.5)


def test_huge_kernel_order_answers_quickly_and_matches_the_log_formula():
    from math import exp, lgamma, log

    syn = PSCFilter(0.01)
    t = np.array([0.0, 1e-3, 2.0, 1e4])
    h = syn.kernel(t, order=10**12)
    assert np.all(np.isfinite(h)) and h[0] == 0.0
    n, tau = 200, 0.01
    got = syn.kernel(np.array([180 * tau]), order=n)[0]
    assert got == pytest.approx(exp(n * log(180) - 180 - lgamma(n + 1)) / tau, rel=1e-12)
