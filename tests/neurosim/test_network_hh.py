"""Hodgkin-Huxley populations in a Network: oracles, synaptic drive, LIF <-> HH, errors."""
import numpy as np
import pytest

from neurosim import LIF, HodgkinHuxley, Network, PSCFilter
from neurosim.neurons.hh import HHState

DT = 1e-5  # 0.01 ms: HH needs small steps
RESOLUTION = DT / 65536  # SimulationResult stores spike times as fractions of dt


def test_hhstate_steps_equal_simulate():
    hh, I = HodgkinHuxley(), np.array([0.0, 7.0, 15.0])
    ref = hh.simulate(I, 0.03, DT, record_v=True)
    state = HHState(hh, 3, DT)
    times = [[] for _ in range(3)]
    for k in range(3000):
        idx, off = state.step(I, k * DT)
        for i, o in zip(idx, off):
            times[i].append(k * DT + o)
    np.testing.assert_allclose(state.V, ref.V[-1], rtol=0, atol=1e-12)
    for got, want in zip(times, ref.spike_times):
        np.testing.assert_allclose(got, want, rtol=0, atol=RESOLUTION)


def test_constant_bias_matches_simulate_and_reference():
    hh = HodgkinHuxley()
    I = np.array([0.0, 6.5, 10.0, 20.0])
    net = Network(dt=DT)
    pop = net.add_population(hh, 4, bias=I)
    spikes = net.probe(pop, "spikes")
    net.run(0.03)
    net.run(0.02)  # chunks: run(T1) + run(T2) == run(T1 + T2)
    got = spikes.spike_times
    ref = hh.simulate(I, 0.05, DT).spike_times
    assert [len(t) for t in got] == [len(t) for t in ref] and sum(len(t) for t in got) >= 6
    for g, r in zip(got, ref):
        np.testing.assert_allclose(g, r, rtol=0, atol=RESOLUTION)
    # independent oracle: adaptive solve_ivp (RK4 at 0.01 ms is ~3e-10 s off)
    exact = hh.reference(I[2:], 0.05)
    for g, r in zip(got[2:], exact):
        np.testing.assert_allclose(g, r, rtol=0, atol=1e-8)


def test_synaptic_input_is_the_current_at_the_start_of_each_step():
    hh, syn, w = HodgkinHuxley(), PSCFilter(0.002), 0.05  # 0.05 uA/cm^2*s: peak 25 uA/cm^2
    ts = np.array([0.005, 0.02])
    net = Network(dt=DT)
    src = net.add_spike_source([ts])
    pop = net.add_population(hh, 1)
    net.connect(src, pop, np.array([[w]]), synapse=syn)
    spikes, cur = net.probe(pop, "spikes"), net.probe(pop, "current")
    T = 0.04
    net.run(T)
    steps = int(round(T / DT))
    t_start = DT * np.arange(steps)
    I = syn.filter([ts], t_start, weights=w)  # exact current at each step start
    I = np.asarray(I).reshape(steps, 1)
    np.testing.assert_allclose(cur.data[:-1, 0], I[1:, 0], rtol=1e-9, atol=1e-9)
    ref = hh.simulate(I, T, DT).spike_times[0]
    assert ref.size == 2
    np.testing.assert_allclose(spikes.spike_times[0], ref, rtol=0, atol=RESOLUTION)


def test_poisson_driven_hh_spikes_within_physiological_range():
    net = Network(dt=DT, rng=3)
    src = net.add_poisson(100, rate=20.0)
    pop = net.add_population(HodgkinHuxley(), 10, method="exp_ab2")
    w = 0.005  # 100 sources * 20 Hz * w = 10 uA/cm^2 mean input
    net.connect(src, pop, np.full((10, 100), w), synapse=PSCFilter(0.005))
    spikes = net.probe(pop, "spikes")
    v = net.probe(pop, "v", sample_every=1e-4)
    cur = net.probe(pop, "current", sample_every=1e-4)
    net.run(0.15)
    assert spikes.data[0].size >= 10 and all(len(t) for t in spikes.spike_times)
    assert v.data.shape == (1500, 10)
    assert -90.0 < v.data.min() < -60.0 and 20.0 < v.data.max() < 55.0  # mV: below E_K... up to E_Na
    assert cur.data[500:].mean() == pytest.approx(10.0, rel=0.2)


def test_lif_to_hh_and_hh_to_lif():
    net = Network(dt=DT)
    lif = net.add_population(LIF(tau_m=0.02, tau_ref=0.002), 5, bias=1.5)  # ~45 Hz each
    hh = net.add_population(HodgkinHuxley(), 2)
    out = net.add_population(LIF(tau_m=0.02), 1)
    w = 0.01
    net.connect(lif, hh, np.full((2, 5), w), synapse=PSCFilter(0.005))
    net.connect(hh, out, np.full((1, 2), 0.3), synapse=PSCFilter(0.005))
    s_lif, s_hh, cur = net.probe(lif, "spikes"), net.probe(hh, "spikes"), net.probe(hh, "current")
    v_out = net.probe(out, "v")
    net.run(0.1)
    n_lif = s_lif.data[0].size
    assert n_lif > 10 and s_hh.data[0].size > 2
    # every LIF spike delivers charge w to each HH neuron (minus the tail after T)
    charge = cur.data[:, 0].sum() * DT
    assert charge == pytest.approx(n_lif * w, rel=0.1)
    assert v_out.data.max() > 0.0  # the HH spikes reach the LIF neuron


def test_errors():
    hh = HodgkinHuxley()
    net = Network(dt=DT)
    with pytest.raises(ValueError, match="v0 for a HodgkinHuxley population"):
        net.add_population(hh, 3, v0="uniform")
    with pytest.raises(ValueError, match="method must be one of"):
        net.add_population(hh, 3, method="euler")
    with pytest.raises(ValueError, match="applies to HodgkinHuxley populations only"):
        net.add_population(LIF(), 3, method="rk4")
    with pytest.raises(ValueError, match=r"bias must be a scalar or shape \(3,\) in uA/cm\^2"):
        net.add_population(hh, 3, bias=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"v0 must be a scalar or shape \(3,\) in mV"):
        net.add_population(hh, 3, v0=np.zeros(4))
    with pytest.raises(TypeError, match="LIF, LIFUnits or HodgkinHuxley"):
        net.add_population("hh", 3)
    pop = net.add_population(hh, 3, v0=-70.0)
    src = net.add_poisson(2, 10.0)
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(3, 2\)"):
        net.connect(src, pop, np.zeros((3, 4)))
    with pytest.warns(UserWarning, match="too large for method 'rk4'"):
        Network(dt=1e-4).add_population(hh, 1)
    with pytest.raises(TypeError, match="HodgkinHuxley"):
        HHState(LIF(), 2, DT)
    with pytest.raises(ValueError, match=r"I must be a scalar or shape \(2,\)"):
        HHState(hh, 2, DT).step(np.zeros(3), 0.0)
