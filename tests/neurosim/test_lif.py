"""LIF model: simulated rates and voltages against the analytic solution."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import neurosim
from neurosim import LIF, LIFUnits, tuning_curve


def analytic_rate(J, tau_m=0.02, tau_ref=0.002):
    """Independent oracle: G(J) = 1 / (tau_ref - tau_m ln(1 - 1/J)) written out plainly."""
    J = np.asarray(J, dtype=float)
    out = np.zeros_like(J)
    for i, j in enumerate(J.ravel()):
        if j > 1:
            out.ravel()[i] = 1.0 / (tau_ref - tau_m * np.log(1.0 - 1.0 / j))
    return out


@pytest.mark.parametrize("dt", [1e-3, 1e-4])
def test_simulated_rates_match_analytic_curve(dt):
    model = LIF(tau_m=0.02, tau_ref=0.002)
    J = np.linspace(0, 10, 200)
    T = 2.0 if dt == 1e-3 else 1.0
    rates = tuning_curve(model, J, T=T, dt=dt)
    G = analytic_rate(J)
    firing = G > 0
    assert np.all(rates[~firing] == 0)
    rel = np.abs(rates[firing] - G[firing]) / G[firing]
    assert rel.max() < 1e-6


def test_rate_matches_oracle_and_edges_without_warnings():
    model = LIF(tau_m=0.02, tau_ref=0.002)
    J = np.array([-5.0, 0.0, 1.0, 1.0 + 1e-12, 1.5, 3.0, 1e9, np.inf])
    with np.errstate(all="raise"):
        r = model.rate(J)
    np.testing.assert_allclose(r[:7], analytic_rate(J[:7]), rtol=1e-12)
    assert r[2] == 0 and r[3] > 0
    assert r[-1] == pytest.approx(500.0)


@settings(max_examples=50, deadline=None)
@given(st.floats(0.001, 0.1), st.floats(0.0, 0.01), st.floats(1e-3, 400.0))
def test_inverse_rate_inverts_rate(tau_m, tau_ref, rate):
    model = LIF(tau_m=tau_m, tau_ref=tau_ref)
    if tau_ref > 0 and rate >= 0.999 / tau_ref:
        rate = 0.5 / tau_ref
    # far below threshold J - 1 ~ exp(-1/(rate tau_m)) underflows relative to 1: ill-conditioned, skip
    rate = max(rate, 1.0 / (tau_ref + 15 * tau_m))
    J = model.inverse_rate(rate)
    assert model.rate(J) == pytest.approx(rate, rel=1e-9)


def test_rates_monotone_in_J():
    model = LIF()
    J = np.linspace(0.5, 20, 300)
    rates = tuning_curve(model, J, T=1.0, dt=1e-3)
    assert np.all(np.diff(rates) >= 0)
    assert np.all(np.diff(model.rate(J)) >= 0)


def test_voltage_between_spikes_follows_analytic_solution():
    tau_m, J, dt = 0.02, 1.5, 1e-3
    model = LIF(tau_m=tau_m, tau_ref=0.002)
    res = model.simulate(J, 0.2, dt=dt, record_v=True)
    t_first = tau_m * np.log(J / (J - 1))
    # stored spike times have a resolution of dt / 65536
    assert res.spike_times[0][0] == pytest.approx(t_first, abs=dt / 65536)
    before = res.t < t_first
    np.testing.assert_allclose(res.v[before, 0], J * (1 - np.exp(-res.t[before] / tau_m)), rtol=1e-12)
    # after the refractory period the neuron restarts from 0 at t_first + tau_ref
    t_restart = t_first + 0.002
    second = res.spike_times[0][1]
    window = (res.t > t_restart) & (res.t < second)
    expected = J * (1 - np.exp(-(res.t[window] - t_restart) / tau_m))
    np.testing.assert_allclose(res.v[window, 0], expected, rtol=1e-9, atol=1e-12)
    during = (res.t > t_first) & (res.t <= t_restart)
    assert np.all(res.v[during, 0] == 0)


def test_rate_independent_of_dt_unlike_euler():
    model = LIF()
    J = np.array([1.2, 2.0, 4.0])
    coarse = tuning_curve(model, J, T=2.0, dt=5e-3)  # coarser than tau_ref
    np.testing.assert_allclose(coarse, model.rate(J), rtol=1e-6)


def test_refractory_shorter_than_step_gives_several_spikes_per_step():
    model = LIF(tau_m=0.02, tau_ref=0.0005)
    J = np.array([20.0])
    rates = tuning_curve(model, J, T=1.0, dt=0.01)
    assert rates[0] == pytest.approx(model.rate(J)[0], rel=1e-6)
    assert rates[0] * 0.01 > 1  # really more than one spike per step


def test_time_varying_input_equals_piecewise_simulation():
    model = LIF()
    steps, dt = 400, 1e-3
    J = np.zeros((steps, 2))
    J[:200] = [2.0, 3.0]
    J[200:] = [4.0, 0.5]
    res = model.simulate(J, steps * dt, dt=dt)
    # oracle: event-by-event closed form for neuron 0 (J=2 then 4 from t=0.2)
    t, v, spikes = 0.0, 0.0, []
    while True:
        Jc = 2.0 if t < 0.2 else 4.0
        t_cross = t + 0.02 * np.log((Jc - v) / (Jc - 1.0))
        if t < 0.2 <= t_cross:  # input changes before the crossing
            v = Jc + (v - Jc) * np.exp(-(0.2 - t) / 0.02)
            t = 0.2
            continue
        if t_cross > steps * dt:
            break
        spikes.append(t_cross)
        t, v = t_cross + 0.002, 0.0
    np.testing.assert_allclose(res.spike_times[0], spikes, atol=1e-7)
    assert np.all(res.spike_times[1] < 0.2 + 1e-3)


def test_events_and_spike_times_agree():
    res = LIF().simulate(np.linspace(1.5, 4, 7), 0.3, dt=1e-3)
    times, idx = res.events()
    assert np.all(np.diff(times) >= 0)
    assert sum(len(s) for s in res.spike_times) == len(times) == res.n_spikes
    for i, s in enumerate(res.spike_times):
        np.testing.assert_array_equal(np.sort(times[idx == i]), s)


def test_v0_uniform_is_reproducible():
    model = LIF()
    a = model.simulate(np.full(5, 2.0), 0.1, v0="uniform", rng=3)
    b = model.simulate(np.full(5, 2.0), 0.1, v0="uniform", rng=np.random.default_rng(3))
    c = model.simulate(np.full(5, 2.0), 0.1, v0="uniform", rng=4)
    assert all(np.array_equal(x, y) for x, y in zip(a.spike_times, b.spike_times))
    assert not all(np.array_equal(x, y) for x, y in zip(a.spike_times, c.spike_times))


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(tau_m=0.0), "tau_m"),
        (dict(tau_m=-0.02), "tau_m"),
        (dict(tau_ref=-1e-3), "tau_ref"),
        (dict(tau_m=np.nan), "tau_m"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        LIF(**kwargs)


@pytest.mark.parametrize(
    "J, T, dt, match",
    [
        (1.5, 1.0, 0.0, "dt"),
        (1.5, 1.0, -1e-3, "dt"),
        (1.5, 0.0, 1e-3, "T"),
        (1.5, -1.0, 1e-3, "T"),
        ([1.5, np.nan], 1.0, 1e-3, "J"),
        ([1.5, np.inf], 1.0, 1e-3, "J"),
        (np.ones((7, 3)), 1.0, 1e-3, "J"),  # 7 rows but 1000 steps
        (np.ones((2, 2, 2)), 1.0, 1e-3, "J"),
        (1.5, 1.0, 0.3, "multiple of dt"),
    ],
)
def test_bad_simulate_input(J, T, dt, match):
    with pytest.raises(ValueError, match=match):
        LIF().simulate(J, T, dt=dt)


def test_bad_v0_and_rng():
    with pytest.raises(ValueError, match="v0"):
        LIF().simulate([2.0, 2.0], 0.1, v0=[0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="v0"):
        LIF().simulate([2.0], 0.1, v0="random")
    with pytest.raises(TypeError, match="rng"):
        LIF().simulate([2.0], 0.1, v0="uniform", rng="seed")


def test_gain_bias_places_intercepts_and_max_rates():
    model = LIF()
    max_rates = np.array([50.0, 100.0, 200.0])
    intercepts = np.array([-0.5, 0.0, 0.8])
    gain, bias = model.gain_bias(max_rates, intercepts)
    np.testing.assert_allclose(gain * intercepts + bias, 1.0)
    np.testing.assert_allclose(model.rate(gain * 1.0 + bias), max_rates, rtol=1e-10)
    with pytest.raises(ValueError, match="max_rates"):
        model.gain_bias([600.0], [0.0])
    with pytest.raises(ValueError, match="intercepts"):
        model.gain_bias([100.0], [1.0])


def test_physical_units_round_trip_and_rate():
    units = LIFUnits(C=200e-12, g_L=10e-9, V_L=-0.07, V_th=-0.05, V_reset=-0.065, tau_ref=0.002)
    assert units.tau_m == pytest.approx(0.02)
    I = np.array([0.1e-9, 0.3e-9, 1e-9])
    J = units.current_to_J(I)
    np.testing.assert_allclose(units.J_to_current(J), I, rtol=1e-12)
    np.testing.assert_allclose(units.voltage_to_v(units.v_to_voltage([0.0, 0.3, 1.0])), [0.0, 0.3, 1.0])
    # oracle: physical steady state V_inf = V_L + I/g_L; firing iff V_inf > V_th
    V_inf = -0.07 + I / 10e-9
    assert np.array_equal(J > 1, V_inf > -0.05)
    # time to threshold from reset in physical units equals the normalized crossing time
    I1 = 1e-9
    V_inf1 = -0.07 + I1 / 10e-9
    t_phys = 0.02 * np.log((V_inf1 + 0.065) / (V_inf1 + 0.05))
    assert 1.0 / (0.002 + t_phys) == pytest.approx(units.model().rate(units.current_to_J(I1)), rel=1e-12)
    with pytest.raises(ValueError, match="g_L"):
        LIFUnits(C=1e-10, V_L=-0.07)
    with pytest.raises(ValueError, match="V_th"):
        LIFUnits(C=1e-10, R=1e8, V_th=-0.07, V_reset=-0.06)


def test_tuning_curve_validates():
    with pytest.raises(TypeError, match="simulate"):
        tuning_curve(object(), [1.0])
    with pytest.raises(ValueError, match="t_start"):
        tuning_curve(LIF(), [2.0], T=1.0, t_start=1.5)
    with pytest.raises(ValueError, match="J"):
        tuning_curve(LIF(), np.ones((2, 2)))


def test_isi_rate_ignores_window_cut():
    # regular train at 40 Hz starting at 0.013 s: ISI rate is exact, a count over T is not
    s = 0.013 + np.arange(20) / 40.0
    r = neurosim.isi_rate([s, s[:1], np.zeros(0)])
    assert r[0] == pytest.approx(40.0, rel=1e-12)
    assert r[1] == 0 and r[2] == 0
    assert neurosim.isi_rate([s], t_start=0.2)[0] == pytest.approx(40.0, rel=1e-12)


# ---- physical-unit plausibility, bounded work, strict flags (issue 12) -----------------------------------
def test_lif_units_warn_on_implausible_values_and_reject_nan():
    import warnings as w

    good = dict(C=200e-12, g_L=10e-9, V_L=-0.07, V_th=-0.05, V_reset=-0.07, tau_ref=0.002)
    with w.catch_warnings():
        w.simplefilter("error")
        LIFUnits(**good)
    with pytest.warns(UserWarning, match="tau_ref"):
        LIFUnits(**{**good, "tau_ref": 2.0})
    with pytest.warns(UserWarning, match="1-200 mV"):
        LIFUnits(**{**good, "V_L": -70.0, "V_th": -50.0, "V_reset": -70.0})  # mV numbers given as volts
    for key in ("V_L", "V_th", "V_reset"):
        with pytest.raises(ValueError, match=key):
            LIFUnits(**{**good, key: float("nan")})
    with pytest.raises(ValueError, match="tau_ref"):
        LIFUnits(**{**good, "tau_ref": float("inf")})


def test_huge_runs_refused_up_front_and_float32_durations_valid():
    with pytest.raises(ValueError, match="max_steps"):
        LIF().simulate(1.5, 1e300)
    with pytest.raises(ValueError, match="max_record_bytes"):
        LIF().simulate(np.zeros(100000), 100.0, record_v=True)
    res = LIF().simulate(np.float32(1.5), np.float32(0.3), dt=np.float32(1e-3), record_v=np.bool_(True))
    assert res.v.shape == (300, 1)
    with pytest.raises(TypeError, match="record_v"):
        LIF().simulate(1.5, 0.1, record_v="no")
    with pytest.raises(TypeError):
        LIF().simulate(1.5 + 0j, 0.1)
    with pytest.raises(ValueError, match="t_start"):
        tuning_curve(LIF(), [1.5], T=1.0, t_start=float("nan"))


def test_state_sees_refractory_writes_from_outside_and_steps_back_in_time():
    """LIFState keeps its refractory neurons in a list between steps; a write to refractory_end
    followed by forget_refractory(), and a step earlier in time, must both be seen.
    Oracle: v is held at 0 while refractory and follows J (1 - exp(-t/tau_m)) from 0 after."""
    tau_m, dt, J = 0.02, 1e-4, np.full(3, 0.5)  # below threshold: no spikes of its own
    s = neurosim.LIFState(LIF(tau_m, 0.002), 3, dt)
    s.step(J, 0.0)
    s.refractory_end[1] = 1.0
    s.forget_refractory()
    s.step(J, dt)
    assert s.v[1] == 0.0
    np.testing.assert_allclose(s.v[[0, 2]], 0.5 * -np.expm1(-2 * dt / tau_m), rtol=1e-12)
    # back to t0 = 0 (a new run on the same state): the list is rebuilt from refractory_end
    s.v[:] = 0.0
    s.refractory_end[:] = [-np.inf, -np.inf, 0.4 * dt]
    s.step(J, 0.0)
    np.testing.assert_allclose(s.v, 0.5 * -np.expm1(-np.array([1.0, 1.0, 0.6]) * dt / tau_m), rtol=1e-12)


def test_unit_conversions_refuse_results_beyond_the_float_range():
    # issue 24 item 7: current_to_J(1e300) and synaptic_weight(charge=1e300) returned inf
    from neurosim import PSCFilter, synaptic_weight

    units = LIFUnits(C=200e-12, g_L=10e-9, V_L=-0.07, V_th=-0.05, V_reset=-0.065, tau_ref=0.002)
    span = units.V_th - units.V_reset
    for current in (1e300, -1e300, [0.0, 1e300]):
        with pytest.raises(ValueError, match=r"current=-?1e\+300 is too large"):
            units.current_to_J(current)
    with pytest.raises(ValueError, match=r"V=1e\+308 is too large"):
        units.voltage_to_v(1e308)
    with pytest.raises(ValueError, match=r"charge=1e\+300 is too large"):
        synaptic_weight(units, PSCFilter(0.005), charge=1e300)
    with pytest.raises(ValueError, match=r"current=1e\+307 is too large"):
        synaptic_weight(units, PSCFilter(0.005), current=1e307)
    # large but representable results are exact (the formulas of the docstrings)
    assert units.current_to_J(1e290) == pytest.approx((units.V_L - units.V_reset + 1e290 / units.g_L) / span, rel=1e-15)
    assert synaptic_weight(units, PSCFilter(0.005), charge=1e290) == pytest.approx(1e290 / (units.g_L * span), rel=1e-15)
    assert synaptic_weight(units, PSCFilter(0.005), voltage=1e300) == pytest.approx(1e300 * 0.005 / span, rel=1e-15)
