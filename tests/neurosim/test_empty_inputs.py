"""Regression tests of issue 24 (round 3) in neurosim: each failed before its fix."""
import numpy as np
import pytest

import neurosim


@pytest.mark.parametrize("record_v", [False, True])
def test_lif_simulate_of_zero_neurons_is_an_empty_result(record_v):
    r = neurosim.LIF().simulate(np.zeros(0), T=0.1, record_v=record_v)   # ValueError "n must be >= 1" before
    assert r.n_neurons == 0 and r.n_spikes == 0 and r.spike_times == [] and r.rates().shape == (0,)
    times, idx = r.events()
    assert times.shape == idx.shape == (0,)
    if record_v:
        assert r.v.shape == (100, 0) and r.t.shape == (100,) and r.t[-1] == pytest.approx(0.1)
    r = neurosim.LIF().simulate(np.zeros((100, 0)), T=0.1)                 # per-step input of no neurons
    assert r.n_neurons == 0


def test_hh_simulate_of_zero_neurons_is_an_empty_result():
    r = neurosim.HodgkinHuxley().simulate(np.zeros(0), T=1e-3, record_v=True, record_gates=True)
    assert r.n_neurons == 0 and r.spike_times == []
    assert r.v.shape == r.V.shape == r.m.shape == r.h.shape == r.n.shape == (100, 0)
