"""Membrane noise: exact OU variance at any dt, autocorrelation tau_m, noisy f-I curve vs Siegert."""
import numpy as np
import pytest

import neurosim
from neurosim import LIF, siegert_rate
from neurosim.neurons.noise import bridge_crossing_probability, coloured_noise_transition, ou_step

TAU = 0.02


@pytest.mark.parametrize("dt", [1e-3, 1e-4])
def test_free_membrane_std_is_sigma_at_any_dt(dt):
    # J = 0, sigma = 0.1: the threshold is 10 sigma away, no neuron fires. Start stationary (v0 ~ N(0, sigma^2)).
    n, sigma = 40000, 0.1
    rng = np.random.default_rng(0)
    v0 = np.clip(sigma * rng.standard_normal(n), -1, 0.99)
    T = 20 * dt
    res = LIF(tau_m=TAU).simulate(np.zeros(n), T, dt=dt, noise=sigma, rng=1, v0=v0, record_v=True)
    assert res.n_spikes == 0
    std = res.v.std(axis=1)  # across neurons, at each recorded time
    # SE of a std from 40000 samples is 0.35 %: 1 % fails for Euler-Maruyama at dt = 1 ms (+1.3 %)
    np.testing.assert_allclose(std, sigma, rtol=0.01)
    assert abs(std.mean() / sigma - 1) < 0.005


def test_variance_grows_as_the_ou_solution_from_a_fixed_start():
    n, sigma, dt = 40000, 0.1, 1e-3
    res = LIF(tau_m=TAU).simulate(np.full(n, 0.3), 0.03, dt=dt, noise=sigma, rng=2, record_v=True)
    expected = sigma * np.sqrt(-np.expm1(-2 * res.t / TAU))
    np.testing.assert_allclose(res.v.std(axis=1), expected, rtol=0.015)
    np.testing.assert_allclose(res.v.mean(axis=1), 0.3 * -np.expm1(-res.t / TAU), atol=0.003)


def test_autocorrelation_time_is_tau_m():
    n, sigma, dt = 20000, 0.1, 1e-3
    v0 = sigma * np.random.default_rng(3).standard_normal(n)
    res = LIF(tau_m=TAU).simulate(np.zeros(n), 0.04, dt=dt, noise=sigma, rng=4, v0=v0, record_v=True)
    v = np.vstack([v0, res.v])  # times 0, dt, ..., 40 dt
    lags = np.array([5, 10, 20, 40])
    corr = np.array([np.mean(v[0] * v[k]) for k in lags]) / np.mean(v[0] * v[0])
    np.testing.assert_allclose(corr, np.exp(-lags * dt / TAU), atol=0.02)
    # fitted time constant within 3 %
    tau_fit = -np.sum(lags * dt * np.log(corr)) / np.sum(np.log(corr) ** 2)
    assert abs(tau_fit / TAU - 1) < 0.03


def _siegert_oracle(J, sigma, tau_m, tau_ref):
    """Siegert's formula written out with erf, integrated in 80-digit arithmetic (mpmath)."""
    mpmath = pytest.importorskip("mpmath", reason="pip install mpmath")
    mpmath.mp.dps = 80  # 1 + erf(u) ~ e^(-u^2) cancels: u down to -10 needs ~45 digits
    s = mpmath.sqrt(2) * mpmath.mpf(sigma)
    integral = mpmath.quad(lambda u: mpmath.exp(u * u) * (1 + mpmath.erf(u)), [-J / s, (1 - J) / s])
    return float(1 / (tau_ref + tau_m * mpmath.sqrt(mpmath.pi) * integral))


def test_siegert_rate_matches_plain_formula_and_noiseless_limit():
    J = np.array([0.6, 0.9, 1.0, 1.2, 2.0])
    got = siegert_rate(J, 0.15, tau_m=0.01, tau_ref=0.003)
    ref = [_siegert_oracle(j, 0.15, 0.01, 0.003) for j in J]
    np.testing.assert_allclose(got, ref, rtol=1e-9)
    # sigma -> 0: the noiseless curve (independent oracle written out)
    Jn = np.array([1.2, 2.0, 5.0])
    noiseless = 1.0 / (0.002 - 0.02 * np.log(1 - 1 / Jn))
    np.testing.assert_allclose(siegert_rate(Jn, 1e-4), noiseless, rtol=1e-4)
    np.testing.assert_allclose(siegert_rate(Jn, 0.0), noiseless, rtol=1e-12)
    assert siegert_rate(0.0, 0.01)[()] == 0.0
    with pytest.raises(ValueError):
        siegert_rate(1.0, -0.1)


@pytest.mark.parametrize("dt", [1e-3, 1e-4])
def test_noisy_f_i_curve_matches_siegert_in_the_fluctuation_driven_range(dt):
    J = np.array([0.85, 0.9, 1.0, 1.1, 1.2])
    n = np.array([6000, 4000, 2000, 1500, 1500])  # more neurons where the rate is low
    JJ = np.repeat(J, n)
    T, t_start, sigma = 0.6, 0.1, 0.1
    res = LIF(tau_m=TAU, tau_ref=0.002).simulate(JJ, T, dt=dt, noise=sigma, rng=5, v0="uniform")
    times, idx = res.events()
    counts = np.bincount(idx[times >= t_start], minlength=JJ.size)
    group = np.repeat(np.arange(J.size), n)
    rate = np.bincount(group, counts) / (n * (T - t_start))
    expected = siegert_rate(J, sigma, tau_m=TAU, tau_ref=0.002)
    np.testing.assert_allclose(rate, expected, rtol=0.02)


def test_bridge_correction_is_what_makes_coarse_steps_right():
    # without the bridge draw, the grid check misses crossings: the rate at J = 0.9 drops by > 5 % at dt = 1 ms
    J = np.full(6000, 0.9)
    model = LIF(tau_m=TAU)
    state = neurosim.LIFState(model, J.size, 1e-3, noise=0.1, rng=6)
    state.bridge_var = 0.0  # switch the correction off
    count = 0
    for k in range(500):
        idx, _ = state.step(J, k * 1e-3)
        count += idx.size
    expected = siegert_rate(0.9, 0.1)[()]
    assert count / (J.size * 0.5) < 0.95 * expected


def test_ou_step_and_bridge_probability():
    z = np.array([0.0, 1.0, -2.0])
    d = np.exp(-0.1)
    np.testing.assert_allclose(ou_step(np.array([1.0, 1.0, 1.0]), 0.5, d, 0.2, z),
                               0.5 + 0.5 * d + 0.2 * np.sqrt(1 - d * d) * z)
    p = bridge_crossing_probability(np.array([0.9, 0.5, 1.2]), np.array([0.95, 0.9, 0.5]), 1.0, 0.01)
    np.testing.assert_allclose(p, [np.exp(-2 * 0.1 * 0.05 / 0.01), np.exp(-2 * 0.5 * 0.1 / 0.01), 1.0])


def test_coloured_noise_keeps_the_membrane_std_and_has_slower_correlations():
    sigma, tau_n, dt = 0.1, 0.01, 1e-3
    Phi, L = coloured_noise_transition(sigma, TAU, tau_n, dt)
    # stationary covariance S solves S = Phi S Phi^T + L L^T; its v entry must be sigma^2
    from scipy.linalg import solve_discrete_lyapunov
    S = solve_discrete_lyapunov(Phi, L @ L.T)
    assert S[0, 0] == pytest.approx(sigma**2, rel=1e-9)
    assert S[1, 1] == pytest.approx(sigma**2 * (TAU + tau_n) / tau_n, rel=1e-9)
    n = 20000
    res = LIF(tau_m=TAU).simulate(np.zeros(n), 0.1, dt=dt, noise=sigma, tau_noise=tau_n, rng=7, record_v=True)
    assert res.v[-20:].std(axis=1).mean() == pytest.approx(sigma, rel=0.02)


def test_noise_is_reproducible_and_validated():
    a = LIF().simulate(np.full(50, 0.95), 0.2, noise=0.1, rng=3).events()
    b = LIF().simulate(np.full(50, 0.95), 0.2, noise=0.1, rng=3).events()
    np.testing.assert_array_equal(a[0], b[0])
    with pytest.raises(ValueError, match="noise"):
        LIF().simulate(1.0, 0.1, noise=-0.1)
    with pytest.raises(ValueError, match="tau_noise"):
        LIF().simulate(1.0, 0.1, noise=0.1, tau_noise=0.0)


def test_coloured_noise_autocorrelation_matches_the_analytic_form():
    # stationary C(s) / C(0) = (tau_m e^(-s/tau_m) - tau_n e^(-s/tau_n)) / (tau_m - tau_n)
    sigma, tau_n, dt, n = 0.1, 0.005, 1e-3, 20000
    res = LIF(tau_m=TAU).simulate(np.zeros(n), 0.16, dt=dt, noise=sigma, tau_noise=tau_n, rng=9, record_v=True)
    v = res.v[99:]  # from t = 0.1 s (5 tau_m: stationary)
    lags = np.array([2, 5, 10, 20, 40])
    corr = np.array([np.mean(v[0] * v[k]) for k in lags]) / np.mean(v[0] * v[0])
    s = lags * dt
    expected = (TAU * np.exp(-s / TAU) - tau_n * np.exp(-s / tau_n)) / (TAU - tau_n)
    np.testing.assert_allclose(corr, expected, atol=0.02)
    white = np.exp(-s / TAU)
    assert np.all(corr[:2] > white[:2] + 0.02)  # slower than white noise at short lags


def _simulate(monkeypatch, backend, kw):
    if backend == "numpy":
        monkeypatch.setenv("NEUROSIM_BACKEND", "numpy")
    else:
        monkeypatch.delenv("NEUROSIM_BACKEND", raising=False)
    kw = dict(kw)
    model = LIF(kw.pop("tau_m", TAU), kw.pop("tau_ref", 0.002))
    return model.simulate(kw.pop("J"), kw.pop("T"), **kw)


_J = np.linspace(0.8, 1.6, 240)
BACKEND_CASES = {
    "white": dict(J=_J, T=0.2, dt=1e-4, noise=0.1, rng=1, v0="uniform"),
    "white, several spikes per step": dict(J=_J + 1.0, T=0.2, dt=1e-3, noise=0.2, rng=2, v0="uniform",
                                           tau_ref=3e-4, record_v=True),
    "coloured": dict(J=_J, T=0.2, dt=1e-4, noise=0.1, tau_noise=0.005, rng=3, v0="uniform", record_v=True),
    "coloured, several spikes per step": dict(J=_J + 1.0, T=0.2, dt=1e-3, noise=0.1, tau_noise=0.005, rng=4,
                                              v0="uniform", tau_ref=3e-4),
    "per-neuron tau_m, input f(t)": dict(J=lambda t: _J + t, T=0.2, dt=5e-4, noise=0.1, rng=5, v0="uniform",
                                         tau_m=np.linspace(0.01, 0.03, _J.size), tau_ref=np.full(_J.size, 2e-3)),
}


@pytest.mark.parametrize("case", list(BACKEND_CASES))
def test_compiled_noisy_step_gives_the_numpy_spikes(monkeypatch, case):
    pytest.importorskip("numba", reason="the compiled step needs numba: pip install numba")
    kw = BACKEND_CASES[case]
    ref = _simulate(monkeypatch, "numpy", kw)
    got = _simulate(monkeypatch, "auto", kw)
    assert sum(t.size for t in ref.spike_times) > 100
    for a, b in zip(ref.spike_times, got.spike_times):  # same neurons, same steps, same offsets
        assert a.size == b.size
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-12)
    if kw.get("record_v"):
        np.testing.assert_allclose(got.v, ref.v, rtol=0, atol=1e-12)


@pytest.mark.parametrize("backend", ["numpy", "auto"])
def test_noisy_rate_with_several_spikes_per_step_matches_siegert(monkeypatch, backend):
    # tau_ref < dt: a neuron may fire up to ceil(dt / tau_ref) = 4 times per step, each time using its own
    # pre-drawn normal and uniform
    J, n = np.array([0.9, 1.2, 1.5]), np.array([4000, 1500, 1500])
    T, t_start, sigma, tau_ref, dt = 0.4, 0.1, 0.1, 3e-4, 1e-3
    res = _simulate(monkeypatch, backend, dict(J=np.repeat(J, n), T=T, dt=dt, noise=sigma, rng=5, v0="uniform",
                                               tau_ref=tau_ref))
    times, idx = res.events()
    counts = np.bincount(idx[times >= t_start], minlength=n.sum())
    rate = np.bincount(np.repeat(np.arange(J.size), n), counts) / (n * (T - t_start))
    np.testing.assert_allclose(rate, siegert_rate(J, sigma, tau_m=TAU, tau_ref=tau_ref), rtol=0.02)


def test_draws_are_the_same_however_many_steps_are_taken_at_once():
    one = neurosim.LIFState(LIF(TAU), 10000, 1e-4, noise=0.1, rng=8)
    many = neurosim.LIFState(LIF(TAU), 10000, 1e-4, noise=0.1, rng=8)
    assert one.draws_per_step == (1, 1) and one.draw_steps == 3  # blocks of 2^16 numbers
    z1, u1 = zip(*[one.take_draws(1) for _ in range(2 * one.draw_steps + 3)])
    z2, u2 = zip(*[many.take_draws(7) for _ in range(5)])
    np.testing.assert_array_equal(np.concatenate(z1), np.concatenate(z2)[:len(z1)])
    np.testing.assert_array_equal(np.concatenate(u1), np.concatenate(u2)[:len(u1)])
    again = neurosim.LIFState(LIF(TAU), 10000, 1e-4, noise=0.1, rng=8)
    again.take_draws(2)
    again.give_back(1)  # the second step's numbers are handed out again
    np.testing.assert_array_equal(again.take_draws(1)[0], z1[1])
    with pytest.raises(ValueError, match="steps"):
        again.give_back(5)
    assert neurosim.LIFState(LIF(TAU, 3e-4), 5, 1e-3, noise=0.1, rng=0).draws_per_step == (4, 4)
    assert neurosim.LIFState(LIF(TAU), 5, 1e-3, noise=0.1, tau_noise=0.01, rng=0).draws_per_step == (2, 0)


@pytest.mark.parametrize("rng", [8, [8, 9]])
def test_draw_blocks_draws_what_whole_blocks_of_take_draws_would(rng):
    # LIF.simulate's compiled path draws several blocks at once into one buffer: the same numbers
    kw = dict(noise=0.1, rng=rng)
    ref, got = (neurosim.LIFState(LIF(TAU), 2000, 1e-4, **kw) for _ in range(2))
    ds = ref.draw_steps
    z1, u1 = zip(*[ref.take_draws(ds) for _ in range(3)])
    z2, u2 = np.empty((3 * ds, 1, 2000)), np.empty((3 * ds, 1, 2000))
    got.draw_blocks(z2, u2)
    np.testing.assert_array_equal(np.concatenate(z1), z2)
    np.testing.assert_array_equal(np.concatenate(u1), u2)
    np.testing.assert_array_equal(ref.take_draws(1)[0], got.take_draws(1)[0])  # the stream goes on alike
    with pytest.raises(ValueError, match="still to be taken"):
        got.draw_blocks(z2, u2)
    with pytest.raises(ValueError, match="whole number of blocks"):
        neurosim.LIFState(LIF(TAU), 2000, 1e-4, **kw).draw_blocks(z2[:ds + 1], u2[:ds + 1])
    with pytest.raises(ValueError, match=r"out must be C-contiguous float64 arrays of shapes"):  # 2 neurons fewer
        neurosim.LIFState(LIF(TAU), 1998, 1e-4, **kw).draw_blocks(z2, u2)


def test_white_noise_refuses_a_refractory_period_below_dt_over_64():
    with pytest.raises(ValueError, match="tau_ref >= dt / 64"):
        LIF(TAU, 0.0).simulate(np.full(3, 1.2), 0.01, dt=1e-3, noise=0.1)
    LIF(TAU, 0.0).simulate(np.full(3, 1.2), 0.01, dt=1e-3)  # without noise tau_ref = 0 is fine
    # coloured noise draws two normals per step whatever the spikes (tau_ref = 0 runs on the numpy step)
    res = LIF(TAU, 0.0).simulate(np.full(3, 1.5), 0.05, dt=1e-3, noise=0.1, tau_noise=0.005, rng=0)
    assert sum(t.size for t in res.spike_times) > 3


def test_noisy_simulate_falls_back_to_numpy_without_numba(monkeypatch):
    import sys

    from neurosim.neurons.lif import model as lif_model

    kw = dict(J=np.full(20, 1.1), T=0.05, dt=1e-3, noise=0.1, rng=3)
    monkeypatch.delenv("NEUROSIM_BACKEND", raising=False)
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba raises ImportError
    assert not lif_model.numba_enabled()
    ref = _simulate(monkeypatch, "numpy", kw)
    monkeypatch.delenv("NEUROSIM_BACKEND", raising=False)
    got = _simulate(monkeypatch, "auto", kw)
    for a, b in zip(ref.spike_times, got.spike_times):
        np.testing.assert_array_equal(a, b)
