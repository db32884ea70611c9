"""Delays: a spike emitted at ts arrives at ts + delay (issue 24 item 0), against closed forms.

Grid mode delivers it in the step that contains ts + delay: at that step's start
with the full kernel (``placement="boundary"``) or at ts + delay exactly
(``placement="exact"``); precise mode delivers it at ts + delay exactly.
"""
import numpy as np
import pytest
from scipy.optimize import brentq

from neurosim import LIF, Network, PSCFilter

DT, TAU_M, TAU_S, W, J = 1e-4, 0.02, 2e-4, 0.1, 1.5
T_FIRST = TAU_M * np.log(J / (J - 1))  # first spike of the driven neuron from v = 0 (21.97 ms: offset 0.72 dt)


def crossing_after_arrival():
    """Time from the arrival of one PSC (weight W, exponential) at a neuron at rest to its threshold crossing."""
    def v(t):  # tau_m dv/dt = s - v, s = W/tau_s exp(-t/tau_s)
        return W / (TAU_S - TAU_M) * (np.exp(-t / TAU_S) - np.exp(-t / TAU_M)) - 1.0
    peak = np.log(TAU_M / TAU_S) * TAU_S * TAU_M / (TAU_M - TAU_S)
    return brentq(v, 1e-12, peak, xtol=1e-15)


def chain(delay, timing, hops=5, batch=None):
    """A neuron driven by J, then a chain of `hops` neurons at rest, each exciting the next with delay."""
    net = Network(dt=DT, timing=timing, batch=batch)
    model = LIF(tau_m=TAU_M, tau_ref=0.05)  # one spike each within the run
    pops = [net.add_population(model, 1, bias=J)] + [net.add_population(model, 1) for _ in range(hops)]
    for a, b in zip(pops, pops[1:]):
        net.connect(a, b, W, synapse=PSCFilter(TAU_S), delay=delay)
    probes = [net.probe(p, "spikes") for p in pops]
    net.run(round((T_FIRST + hops * (delay + 1e-3) + 2e-3) / DT) * DT)
    firsts = []
    for p in probes:
        times = p.data[0]
        assert times.size == (1 if batch is None else batch)
        np.testing.assert_array_equal(times, times[0])  # trials agree
        firsts.append(times[0])
    return np.array(firsts)


@pytest.mark.parametrize("delay", [1.5e-3, 1.52e-3, 1.58e-3, 1e-4])
@pytest.mark.parametrize("batch", [None, 2])
def test_grid_chain_arrives_in_the_step_that_contains_emission_plus_delay(delay, batch):
    eps = crossing_after_arrival()
    assert 0.1 * DT < eps < 0.6 * DT  # the crossing happens in the arrival step, away from its ends
    times = chain(delay, "grid", batch=batch)
    assert times[0] == pytest.approx(T_FIRST, abs=1e-12)
    expected = [T_FIRST]
    for _ in range(len(times) - 1):
        # the full kernel starts at the boundary that begins the step containing ts + delay
        expected.append(np.floor((expected[-1] + delay) / DT + 1e-9) * DT + eps)
    # the step of each spike is exact; its time inside the step is the grid neuron's (constant-input) estimate
    np.testing.assert_array_equal(np.floor(times / DT), np.floor(np.array(expected) / DT))
    np.testing.assert_allclose(times, expected, rtol=0, atol=0.1 * DT)
    if delay >= DT:  # every later hop is the delay, within a fraction of a step (the old convention: + dt)
        np.testing.assert_allclose(np.diff(times)[1:], delay, rtol=0, atol=0.6 * DT)


@pytest.mark.parametrize("delay", [1.5e-3, 1.55e-3])
def test_precise_chain_hops_are_delay_plus_the_exact_crossing(delay):
    eps = crossing_after_arrival()
    times = chain(delay, "precise")
    assert times[0] == pytest.approx(T_FIRST, abs=1e-12)
    np.testing.assert_allclose(np.diff(times), delay + eps, rtol=0, atol=1e-9)


@pytest.mark.parametrize("placement", ["boundary", "exact"])
@pytest.mark.parametrize("n", [0, 1])
@pytest.mark.parametrize("delay", [0.0, 5e-5, 1e-4, 2.5e-4, 3e-4, 3.7e-4])
def test_current_after_a_delayed_spike_from_a_neuron_and_a_source(placement, n, delay):
    """The synaptic current of one delayed spike, from a neuron (off-grid) and from sources on and off the grid."""
    dt = 1e-4
    syn, w = PSCFilter(5e-4, n), 0.002
    for batch in (None, 2):
        net = Network(dt=dt, batch=batch)
        a = net.add_population(LIF(TAU_M, 0.5), 1, bias=J)
        src = net.add_spike_source([np.array([0.01]), np.array([0.01234])])
        posts = [net.add_population(LIF(TAU_M, 0.5), 1) for _ in range(3)]
        net.connect(a, posts[0], w, synapse=syn, delay=delay, placement=placement)
        net.connect(src, posts[1], np.array([[w, 0.0]]), synapse=syn, delay=delay, placement=placement)
        net.connect(src, posts[2], np.array([[0.0, w]]), synapse=syn, delay=delay, placement=placement)
        probes = [net.probe(p, "current") for p in posts]
        net.run(0.03)
        for ts, probe in zip([T_FIRST, 0.01, 0.01234], probes):
            t = probe.t
            arrival = ts + delay
            if placement == "boundary":
                # the start of the step containing the arrival; at the earliest the first boundary at or after
                # ts (a neuron's step is integrated when it spikes; a source spike on a boundary starts there)
                start = max(np.floor(arrival / dt + 1e-9), np.ceil(ts / dt - 1e-9)) * dt
                expected = w * syn.kernel(t - start)
            else:  # the kernel from the arrival, from the end of the arrival step on
                expected = w * syn.kernel(t - arrival)
            data = probe.data.reshape(len(t), -1)
            for col in range(data.shape[1]):
                np.testing.assert_allclose(data[:, col], expected, rtol=1e-9, atol=1e-12)
