"""Time-varying inputs: TimedArray, functions of t and grid arrays against analytic responses."""
import numpy as np
import pytest

import neurosim
from neurosim import LIF, TimedArray
from neurosim.signals import as_input

TAU = 0.02


def test_step_input_gives_the_analytic_subthreshold_response():
    # J steps from 0.3 to 0.8 at 50 ms (below threshold): v = J1 + (v(ts) - J1) e^(-(t - ts)/tau)
    J = TimedArray([0.3, 0.8], dt=0.05)
    res = LIF(tau_m=TAU).simulate(J, 0.1, dt=1e-3, record_v=True)
    t = res.t
    v_ts = 0.3 * -np.expm1(-0.05 / TAU)
    expected = np.where(t <= 0.05 + 1e-12, 0.3 * -np.expm1(-t / TAU), 0.8 + (v_ts - 0.8) * np.exp(-(t - 0.05) / TAU))
    np.testing.assert_allclose(res.v[:, 0], expected, rtol=0, atol=1e-12)


def test_sinusoidal_input_gives_the_analytic_subthreshold_response():
    # tau v' = J0 + A sin(w t) - v, v(0) = 0 (stays below 1)
    J0, A, f = 0.5, 0.3, 10.0
    w = 2 * np.pi * f
    dt = 1e-5
    res = LIF(tau_m=TAU).simulate(lambda t: J0 + A * np.sin(w * t), 0.1, dt=dt, record_v=True)
    t, wt = res.t, w * TAU
    expected = (J0 * -np.expm1(-t / TAU)
                + A / (1 + wt**2) * (np.sin(w * t) - wt * np.cos(w * t) + wt * np.exp(-t / TAU)))
    # f sampled at step starts: a lag of dt/2, error <= A/sqrt(1 + (w tau)^2) w dt / 2 = 6e-5
    # (1 % of the 0.116 amplitude is 1.2e-3)
    np.testing.assert_allclose(res.v[:, 0], expected, rtol=0, atol=1e-4)
    # half a step earlier, the held value is second-order accurate
    mid = LIF(tau_m=TAU).simulate(lambda t: J0 + A * np.sin(w * (t + dt / 2)), 0.1, dt=dt, record_v=True)
    np.testing.assert_allclose(mid.v[:, 0], expected, rtol=0, atol=1e-6)


def test_input_kinds_agree_and_timed_array_holds_between_samples():
    steps, dt = 40, 1e-3
    rows = np.random.default_rng(0).uniform(0.5, 3.0, (steps, 3))
    model = LIF(tau_m=TAU)
    ref = model.simulate(rows, steps * dt, dt=dt, record_v=True)
    same_grid = model.simulate(TimedArray(rows, dt), steps * dt, dt=dt, record_v=True)
    np.testing.assert_array_equal(same_grid.v, ref.v)
    fine = model.simulate(TimedArray(rows, dt), steps * dt, dt=dt / 4, record_v=True)  # held over 4 finer steps
    np.testing.assert_allclose(fine.v[3::4], ref.v, atol=1e-12)
    np.testing.assert_allclose(np.concatenate(fine.spike_times), np.concatenate(ref.spike_times), atol=2e-8)  # storage: dt/65536
    ta = TimedArray([1.0, 2.0, 3.0], dt=0.1)
    np.testing.assert_array_equal(ta([0.0, 0.0999, 0.1, 0.3, 0.29999999999, 5.0]), [1, 1, 2, 3, 3, 3])


def test_function_is_called_at_step_starts():
    seen = []

    def f(t):
        seen.append(t)
        return 0.0

    inp = as_input(f, 4, 0.01, name="J")
    for k in range(4):
        inp.at(k)
    np.testing.assert_allclose(seen, [0.0, 0.0, 0.01, 0.02, 0.03])  # first call: finds n


@pytest.mark.parametrize("bad, err", [
    (lambda t: np.ones((2, 2)), ValueError), ("0.5", TypeError), (None, TypeError), (np.ones((7, 3)), ValueError),
    (np.array([1j]), TypeError), (np.array([np.nan]), ValueError), (lambda t: np.nan, ValueError),
])
def test_bad_inputs_are_refused(bad, err):
    with pytest.raises(err):
        LIF().simulate(bad, 0.01)


def test_bad_timed_arrays_are_refused():
    with pytest.raises(ValueError):
        TimedArray([], dt=0.1)
    with pytest.raises(ValueError):
        TimedArray([1.0], dt=0.0)
    with pytest.raises(TypeError):
        TimedArray(["a"], dt=0.1)


def test_top_level_names():
    assert neurosim.TimedArray is TimedArray
    assert callable(neurosim.siegert_rate)
