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


def _recurrent_hh(sim, method, rng=5):
    """Poisson -> HH -> HH (recurrent, delayed), a per-step current and every probe the compiled loop records."""
    net = sim.network(dt=DT, rng=rng)
    src = net.add_poisson(20, rate=300.0)
    a = net.add_population(HodgkinHuxley(), 6, bias=np.linspace(2.0, 8.0, 6), method=method)
    b = net.add_population(HodgkinHuxley(g_K=np.linspace(30.0, 40.0, 4)), 4, method=method)
    net.connect(src, a, np.random.default_rng(1).uniform(0, 0.01, (6, 20)), synapse=PSCFilter(0.002))
    net.connect(a, b, 0.01, synapse=PSCFilter(0.003, 1), delay=3e-4)
    net.connect(b, a, -0.005, synapse=PSCFilter(0.004))
    net.add_current_input(b, lambda t: 4.0 * (t > 0.01))
    probes = [net.probe(a, "spikes"), net.probe(b, "spikes"), net.probe(a, "v", sample_every=1e-4),
              net.probe(b, "current", sample_every=1e-4), net.probe(b, "rate", bin=0.01)]
    return net, probes


@pytest.mark.parametrize("method", ["rk4", "exp_ab2", "exp_euler", "exp_midpoint"])
def test_hh_networks_equal_across_backends(sim, method):
    """Every cell equals the numpy, unbatched reference: the same neurons at the same steps, times to 1e-12 s
    (the compiled loop steps HH with the compiled kernel; numpy with the numpy steppers)."""
    if sim.timing == "precise":  # HH has no exact spike-time method
        net, _ = _recurrent_hh(sim, method)
        assert not sim.refuses(net)  # the compiled precise runtime leaves the refusal to precise timing itself
        with pytest.raises(ValueError, match="exact spike-time method"):
            net.build()
        return
    from conftest import SimConfig
    # trial 0 of a batch runs with the first trial seed (Network(batch=)'s seeding contract)
    seed = 5 if sim.batch is None else Network.trial_seeds(5, sim.batch)[0]
    ref, rp = _recurrent_hh(SimConfig("grid", "numpy", None), method, rng=seed)
    ref.run(0.03)
    net, probes = _recurrent_hh(sim, method)
    net.run(0.02)
    net.run(0.01)  # two runs: the compiled loop's state goes back to the HHStates in between
    assert net.backend == sim.backend
    (t_ref, i_ref), total = rp[0].data, 0
    for p, q in zip(rp[:2], probes[:2]):
        got = q.data[:2] if sim.batch is None else tuple(x[q.data[2] == 0] for x in q.data[:2])
        np.testing.assert_array_equal(got[1], p.data[1])
        np.testing.assert_allclose(got[0], p.data[0], rtol=0, atol=1e-12)
        total += p.data[0].size
    assert total >= 10
    for p, q in zip(rp[2:], probes[2:]):
        got = q.data if sim.batch is None else q.data[:, 0]
        np.testing.assert_allclose(got, p.data, rtol=1e-9, atol=1e-9)


def test_compiled_loop_store_restore_and_divergence():
    pytest.importorskip("numba", reason="pip install numba")
    from neurosim.errors import SimulationError

    from conftest import SimConfig
    net, probes = _recurrent_hh(SimConfig("grid", "numba", None), "exp_ab2")
    net.run(0.01)
    net.store()
    net.run(0.01)
    first = [p.data for p in probes[:2]]
    net.restore()
    net.run(0.01)
    for p, d in zip(probes[:2], first):
        for u, v in zip(p.data, d):
            np.testing.assert_array_equal(u, v)
    # a step that leaves the valid range: numpy's SimulationError, at the same step, on both backends
    messages = []
    for backend in ("numpy", "numba"):
        bad = Network(dt=1.5e-4, backend=backend)
        with pytest.warns(UserWarning, match="too large"):
            bad.add_population(HodgkinHuxley(), 3, bias=np.array([5.0, 50.0, 200.0]))
        with pytest.raises(SimulationError, match="left its valid range") as info:
            bad.run(0.06)
        with pytest.raises(RuntimeError, match="invalid") as after:  # refuses to go on, naming the failed step
            bad.run(1.5e-3)
        messages.append((str(info.value), str(after.value)))
    assert messages[0] == messages[1]
