"""Hodgkin-Huxley: against solve_ivp (DOP853, rtol = atol = 1e-9) and analytic limits."""
import warnings

import numpy as np
import pytest

import neurosim

from neurosim import tuning_curve
from neurosim.neurons.hh import DT_WARN, HodgkinHuxley, rate_functions, steady_state
from neurosim.spikes import isi_rate

# f-I inputs: onset region (6.0 silent, 6.2 transient, 6.3 sustained) and [6.5, 50]
CURRENTS = np.array([6.0, 6.2, 6.3, 6.5, 8.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0])
T_FI = 1.0
T_START = 0.3


@pytest.fixture(scope="module")
def model():
    return HodgkinHuxley()


@pytest.fixture(scope="module")
def reference(model):
    return model.reference(CURRENTS, T_FI, rtol=1e-9, atol=1e-9)


@pytest.fixture(scope="module")
def simulated(model):
    return model.simulate(CURRENTS, T_FI, dt=1e-5)


def test_reference_is_converged(model, reference):
    # a different solver family (implicit Radau) agrees: the oracle is not an artefact of DOP853
    radau = model.reference([10.0], 0.2, rtol=1e-10, atol=1e-10, method="Radau")[0]
    ref = reference[list(CURRENTS).index(10.0)]
    np.testing.assert_allclose(radau, ref[: len(radau)], atol=1e-9)


def test_default_fI_within_0p1_hz(reference, simulated):
    ref_rates = isi_rate(reference, t_start=T_START)
    rates = simulated.rates(T_START)
    firing = CURRENTS >= 6.5
    assert np.all(ref_rates[firing] > 50)
    np.testing.assert_allclose(rates[firing], ref_rates[firing], rtol=0, atol=0.1)


def test_tuning_curve_works_with_hh(model, reference):
    I = np.array([0.0, 6.0, 10.0])
    rates = tuning_curve(model, I, T=0.4, t_start=0.1)
    ref = isi_rate(model.reference(I, 0.4, rtol=1e-9, atol=1e-9), t_start=0.1)
    assert rates[0] == 0 and rates[1] == 0
    np.testing.assert_allclose(rates, ref, atol=0.1)


def test_first_ten_spikes_within_0p01_ms(reference, simulated):
    i = list(CURRENTS).index(10.0)
    got, ref = simulated.spike_times[i][:10], reference[i][:10]
    assert len(got) == len(ref) == 10
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5)


def test_all_spike_times_match_reference(reference, simulated):
    for got, ref in zip(simulated.spike_times, reference):
        assert len(got) == len(ref)
        np.testing.assert_allclose(got, ref, rtol=0, atol=1e-6)  # 1 us over a whole second


def test_onset_type_II(reference, simulated):
    """Sustained firing starts between 6.2 and 6.3 uA/cm^2, near 50 Hz; none at 6.0."""
    rates = simulated.rates(T_START)
    ref_rates = isi_rate(reference, t_start=T_START)
    by_I = dict(zip(CURRENTS, rates))
    assert by_I[6.0] == 0 and by_I[6.2] == 0
    assert 45 < by_I[6.3] < 60
    assert dict(zip(CURRENTS, ref_rates))[6.3] == pytest.approx(by_I[6.3], abs=0.1)
    # at 6.0 only the onset transient fires, never after 0.1 s
    assert np.all(simulated.spike_times[0] < 0.1)


def test_other_methods_errors_as_documented(model, reference):
    i = list(CURRENTS).index(10.0)
    ref = reference[i][:10]
    errs = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # exp_euler at 0.01 ms is at its warning limit
        for method in ("exp_euler", "exp_midpoint", "exp_ab2"):
            s = model.simulate(10.0, 0.15, dt=1e-5, method=method).spike_times[0][:10]
            errs[method] = np.max(np.abs(s - ref))
    assert 0.5e-3 < errs["exp_euler"] < 0.8e-3  # first order: Brian2's scheme, ~0.69 ms by spike 10
    assert errs["exp_midpoint"] < 0.025e-3  # second order: ~0.018 ms
    assert errs["exp_ab2"] < 0.025e-3  # second order: ~0.016 ms


@pytest.mark.parametrize("method", ["exp_midpoint", "exp_ab2"])
def test_second_order_with_step_input(model, method):
    """Halving dt quarters the error, also across a jump of the input between steps."""
    I = np.zeros((6000, 1))
    I[2000:] = 10.0
    ref = model.reference(10.0, 0.04, rtol=1e-9, atol=1e-9)[0] + 0.02
    err = []
    for factor, dt in ((1, 1e-5), (2, 5e-6)):
        got = model.simulate(np.repeat(I, factor, axis=0), 0.06, dt=dt, method=method).spike_times[0]
        assert len(got) == len(ref)
        err.append(np.max(np.abs(got - ref)))
    assert 3.5 < err[0] / err[1] < 4.5


def test_rest(model):
    assert model.V_rest == pytest.approx(-64.996, abs=1e-3)
    res = model.simulate(0.0, 0.05, dt=1e-5, record_v=True, record_gates=True)
    assert res.n_spikes == 0
    np.testing.assert_allclose(res.V, model.V_rest, atol=1e-9)
    m_inf, h_inf, n_inf = steady_state(model.V_rest)
    np.testing.assert_allclose(res.m, m_inf, atol=1e-12)
    np.testing.assert_allclose(res.n[-1], n_inf, atol=1e-12)
    assert abs(model.V_rest + 65) < 0.5


def test_trace_shapes_and_time(model):
    res = model.simulate([0.0, 10.0], 0.02, dt=1e-5, record_v=True, record_gates=True)
    assert res.V.shape == res.m.shape == res.h.shape == res.n.shape == (2000, 2)
    np.testing.assert_allclose(res.t[[0, -1]], [1e-5, 0.02])
    assert res.V[:, 1].max() > 30  # a real action potential
    assert np.all((res.m >= 0) & (res.m <= 1) & (res.h >= 0) & (res.n <= 1))


def test_time_varying_input_matches_constant(model):
    steps = 5000
    a = model.simulate(np.full((steps, 2), [3.0, 12.0]), 0.05).spike_times
    b = model.simulate([3.0, 12.0], 0.05).spike_times
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_step_current_vs_reference(model):
    """Input switching at a step boundary: 0 for 20 ms, then 10 uA/cm^2 (reference started from the switch)."""
    I = np.zeros((6000, 1))
    I[2000:] = 10.0
    got = model.simulate(I, 0.06).spike_times[0]
    ref = model.reference(10.0, 0.04, rtol=1e-9, atol=1e-9)[0] + 0.02
    np.testing.assert_allclose(got, ref, atol=1e-7)


def test_singular_rate_limits():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        r = rate_functions([-40.0, -55.0])
    assert r["alpha_m"][0] == pytest.approx(1.0, rel=1e-15)
    assert r["alpha_n"][1] == pytest.approx(0.1, rel=1e-15)
    # smooth through the singularity: matches the formula a hair away and the
    # linear Taylor term x/(1 - e^-x) ~ 1 + x/2
    eps = np.array([-1e-6, 1e-6])
    am = rate_functions(-40.0 + eps)["alpha_m"]
    np.testing.assert_allclose(am, 1 + (eps / 10) / 2, rtol=1e-12)
    V = np.array([-40.5, -55.5, 10.0])
    am_direct = 0.1 * (V + 40) / (1 - np.exp(-(V + 40) / 10))
    an_direct = 0.01 * (V + 55) / (1 - np.exp(-(V + 55) / 10))
    r = rate_functions(V)
    np.testing.assert_allclose(r["alpha_m"], am_direct, rtol=1e-12)
    np.testing.assert_allclose(r["alpha_n"], an_direct, rtol=1e-12)
    np.testing.assert_allclose(r["beta_h"], 1 / (1 + np.exp(-(V + 35) / 10)), rtol=1e-14)


def test_simulation_kernel_at_singular_voltages(model):
    # starting exactly at -40 / -55 mV hits both singularities in the vectorized kernel
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = model.simulate([0.0, 0.0], 1e-4, v0=[-40.0, -55.0], record_v=True)
    assert np.all(np.isfinite(res.V))


@pytest.mark.parametrize("kwargs, word", [
    ({"C": 0}, "C"), ({"C": -1.0}, "C"), ({"g_Na": 0}, "g_Na"), ({"g_K": -36}, "g_K"),
    ({"g_L": 0.0}, "g_L"), ({"E_K": float("nan")}, "E_K"),
])
def test_bad_parameters(kwargs, word):
    with pytest.raises(ValueError, match=word):
        HodgkinHuxley(**kwargs)


def test_bad_simulate_arguments(model):
    with pytest.raises(ValueError, match="dt"):
        model.simulate(1.0, 0.01, dt=0)
    with pytest.raises(ValueError, match="dt"):
        model.simulate(1.0, 0.01, dt=-1e-5)
    with pytest.raises(ValueError, match="I"):
        model.simulate([1.0, np.nan], 0.01)
    with pytest.raises(ValueError, match="shape"):
        model.simulate(np.zeros((3, 2)), 0.01)
    with pytest.raises(ValueError, match="method"):
        model.simulate(1.0, 0.01, method="euler")
    with pytest.raises(TypeError, match="C"):
        HodgkinHuxley(C="1")


@pytest.mark.parametrize("method", ["rk4", "exp_midpoint", "exp_ab2", "exp_euler"])
def test_dt_warning(model, method):
    with pytest.warns(UserWarning, match="too large"):
        model.simulate(10.0, 0.001, dt=2 * DT_WARN[method], method=method)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.simulate(10.0, 0.001, dt=DT_WARN[method] / 2, method=method)


def test_cli_hh_and_tuning(tmp_path, capsys):
    from neurosim.cli import main

    assert main(["hh", "--current", "10", "--duration", "0.01", "--out", str(tmp_path / "t.png")]) == 0
    assert (tmp_path / "t.png").stat().st_size > 0
    assert "spikes" in capsys.readouterr().out
    assert main(["tuning", "--model", "hh", "--points", "8", "--out", str(tmp_path / "fi.png"),
                 "--csv", str(tmp_path / "fi.csv")]) == 0
    data = np.loadtxt(tmp_path / "fi.csv", delimiter=",", skiprows=1)
    assert data.shape == (8, 3) and data[0, 1] == 0 and data[-1, 1] > 100  # silent at 0, ~117 Hz at 50
    assert main(["hh", "--current", "nan", "--out", str(tmp_path / "x.png")]) == 2


def test_step_current_example(tmp_path):
    import runpy
    import sys

    path = __import__("pathlib").Path(__file__).parents[2] / "examples" / "hh_step_currents.py"
    argv = sys.argv
    sys.argv = [str(path), "--out", str(tmp_path), "--levels", "-5", "0", "20", "--step", "0.02"]
    try:
        runpy.run_path(str(path), run_name="__main__")
    finally:
        sys.argv = argv
    assert (tmp_path / "hh_step_currents.png").stat().st_size > 0


def test_hermite_location_beats_linear(model, reference):
    res = model.simulate(10.0, 0.15, dt=1e-5, record_v=True)
    V = np.concatenate([[model.V_rest], res.V[:, 0]])
    t = np.concatenate([[0.0], res.t])
    i = np.flatnonzero((V[:-1] < 0) & (V[1:] >= 0))
    linear = t[i] + (0 - V[i]) / (V[i + 1] - V[i]) * 1e-5
    ref = reference[list(CURRENTS).index(10.0)][:10]
    err_linear = np.max(np.abs(linear[:10] - ref))
    err_hermite = np.max(np.abs(res.spike_times[0][:10] - ref))
    assert err_hermite < err_linear / 10  # measured 3.5e-10 s vs 1.6e-8 s


# ---- validity, inputs of every kind, noise (issues 12, 13, 15) ----------------------------------------
def test_rk4_at_a_tenth_of_a_ms_raises_instead_of_returning_garbage(model):
    with pytest.warns(UserWarning), pytest.raises(neurosim.SimulationError, match=r"rk4.*dt=0.0001.*5e-05"):
        model.simulate([5.0, 10.0, 20.0], 0.2, dt=1e-4)
    with pytest.warns(UserWarning), pytest.raises(neurosim.SimulationError):
        neurosim.tuning_curve(model, [5.0, 10.0, 20.0], T=0.2, dt=1e-4)
    with pytest.raises(neurosim.SimulationError, match="valid range"):
        model.simulate(1e30, 1e-3)


def test_an_input_changed_in_place_is_seen(model):
    # the same array object, modified between steps, must act like fresh arrays
    a, b = neurosim.HHState(model, 2, 1e-5), neurosim.HHState(model, 2, 1e-5)
    I = np.zeros(2)
    for k in range(3000):
        I[:] = 0.0 if k < 1000 else 10.0
        a.step(I)
        b.step(np.full(2, 0.0 if k < 1000 else 10.0))
    np.testing.assert_array_equal(a.V, b.V)
    assert a.V.max() != pytest.approx(model.V_rest, abs=1.0)  # the step to 10 uA/cm^2 was seen


@pytest.mark.parametrize("method", ["rk4", "exp_ab2"])
def test_timed_array_function_and_grid_array_agree(model, method):
    dt, T = 1e-5, 0.02
    steps = int(round(T / dt))
    grid = np.repeat([0.0, 10.0], steps // 2)[:, None]
    r_grid = model.simulate(grid, T, dt=dt, method=method, record_v=True)
    r_timed = model.simulate(neurosim.TimedArray([0.0, 10.0], dt=T / 2), T, dt=dt, method=method, record_v=True)
    r_func = model.simulate(lambda t: 0.0 if t < T / 2 else 10.0, T, dt=dt, method=method, record_v=True)
    np.testing.assert_array_equal(r_timed.v, r_grid.v)
    np.testing.assert_array_equal(r_func.v, r_grid.v)
    assert r_grid.n_spikes >= 1 and r_grid.v is r_grid.V


def test_v0_is_the_spelling_and_V0_is_deprecated(model):
    a = model.simulate(0.0, 1e-3, v0=-60.0, record_v=True)
    with pytest.warns(DeprecationWarning, match="v0"):
        b = model.simulate(0.0, 1e-3, V0=-60.0, record_v=True)
    np.testing.assert_array_equal(a.v, b.v)
    with pytest.raises(TypeError):
        model.simulate(0.0, 1e-3, v0=-60.0, V0=-60.0)


def test_current_noise_intensity_in_ua_per_cm2_sqrt_s():
    # a passive membrane (Na, K negligible): C dV/dt = -g_L (V - E_L) + D xi is an OU process with
    # tau = C / g_L and stationary std D * 1e3 / C * sqrt(tau_s / 2) (mV; the 1e3 turns ms into s)
    C, gL, D = 1.0, 1.0, 0.1
    model = HodgkinHuxley(C=C, g_Na=1e-9, g_K=1e-9, g_L=gL)
    n, dt = 4000, 1e-5
    res = model.simulate(np.zeros(n), 8e-3, dt=dt, noise=D, rng=0, record_v=True)
    tau_s = 1e-3 * C / gL
    expected = D * 1e3 / C * np.sqrt(tau_s / 2 * -np.expm1(-2 * res.t[-1] / tau_s))
    assert res.v[-1].std() == pytest.approx(expected, rel=0.04)
    assert res.v[-1].mean() == pytest.approx(model.V_rest, abs=0.1)


def test_bad_values_are_refused(model):
    with pytest.raises(ValueError, match="max_steps"):
        model.simulate(0.0, 1e300)
    with pytest.raises(ValueError, match="rtol"):
        model.reference(10.0, 0.01, rtol=float("nan"))
    with pytest.raises(TypeError, match="record_v"):
        model.simulate(0.0, 1e-3, record_v="no")
    with pytest.raises(TypeError):
        model.simulate(1j, 1e-3)
    res = model.simulate(np.float32(0.0), np.float32(1e-3), dt=np.float64(1e-5), record_v=np.True_)
    assert res.v.shape == (100, 1)
