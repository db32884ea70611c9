"""Network(timing="precise"): exact spike times in networks, independent of dt."""
import numpy as np
import pytest

from neurosim import LIF, HodgkinHuxley, Network, PSCFilter
from neurosim.network.examples import cuba
from neurosim.network.precise import precise_feedforward


def inputs(seed=3, P=120, Q=30, T=0.2):
    rng = np.random.default_rng(seed)
    W = rng.normal(0.0005, 0.003, (P, Q))
    bias = rng.uniform(0.6, 1.05, P)
    counts = rng.poisson(25 * T, Q)
    idx = np.repeat(np.arange(Q), counts)
    return W, bias, rng.uniform(0, T, idx.size), idx, T


def feedforward_net(dt, W, bias, times, idx, synapse, delay, batch=None):
    net = Network(dt=dt, timing="precise", batch=batch)
    src = net.add_spike_source((times, idx))
    pop = net.add_population(LIF(0.02, 0.002), W.shape[0], bias=bias)
    net.connect(src, pop, W, synapse=synapse, delay=delay)
    return net, net.probe(pop)


@pytest.mark.parametrize("order", [0, 1])
def test_network_with_spike_source_equals_the_feedforward_kernel(order):
    """Sources keep exact times and the delay is exact: the network reproduces precise_feedforward
    (which test_precise checks against an ODE oracle), at two dt, with a run split in two."""
    W, bias, times, idx, T = inputs()
    syn = PSCFilter(0.005, order)
    ref_t, ref_i = precise_feedforward(LIF(0.02, 0.002), W, (times, idx), T, 1e-4, syn, bias, delay=0.0013)
    assert ref_t.size > 200
    for dt in (1e-3, 1e-4):
        net, spikes = feedforward_net(dt, W, bias, times, idx, syn, 0.0013)
        net.run(T / 2)
        net.run(T / 2)
        t, i = spikes.data
        assert t.size == ref_t.size and np.array_equal(i[np.argsort(t)], ref_i)
        np.testing.assert_allclose(t, ref_t, rtol=0, atol=1e-12)


def test_recurrent_cuba_spike_times_do_not_depend_on_dt():
    """The CUBA network (delay 1 ms) gives the same spikes, to 1e-9 s, at dt = 1 ms and 0.1 ms,
    so the same mean rate; grid mode's rate differs between those dt."""
    runs = {}
    for dt in (1e-3, 1e-4):
        net, spikes = cuba(n=1000, rng=1, dt=dt)
        net.timing = "precise"
        for c in net.connections:
            c.delay = 1e-3
        net.run(0.25)
        runs[dt] = spikes.data
    (ta, ia), (tb, ib) = runs[1e-3], runs[1e-4]
    assert ta.size > 500 and ta.size == tb.size and np.array_equal(ia, ib)
    np.testing.assert_allclose(ta, tb, rtol=0, atol=1e-9)


def test_probes_record_exact_times_and_grid_voltages():
    """v is sampled at the step ends and equals the closed form; spike times are not rounded to dt/65536."""
    dt, J, tau_m = 1e-3, 3.0, 0.02
    net = Network(dt=dt, timing="precise")
    pop = net.add_population(LIF(tau_m, 0.002), 1, bias=J)
    sp, v = net.probe(pop), net.probe(pop, "v")
    net.run(0.01)
    t_first = -tau_m * np.log(1 - 1 / J)  # the first crossing from v = 0
    assert sp.data[0][0] == pytest.approx(t_first, abs=1e-13)
    before = v.t < t_first
    assert before.sum() == 8
    np.testing.assert_allclose(v.data[before, 0], J * -np.expm1(-v.t[before] / tau_m), rtol=0, atol=1e-14)
    assert np.all(v.data[(v.t > t_first) & (v.t < t_first + 0.002), 0] == 0.0)  # refractory, held at reset


def test_poisson_sources_keep_continuous_times():
    net = Network(dt=1e-3, rng=2, timing="precise")
    src = net.add_poisson(20, rate=50.0)
    pop = net.add_population(LIF(0.02, 0.002), 1, bias=0.0)
    net.connect(src, pop, np.full((1, 20), 0.01), synapse=PSCFilter(0.002), delay=0.0)
    ps = net.probe(src)
    net.run(0.2)
    t = ps.data[0]
    assert t.size > 50
    assert np.abs(t / 1e-3 - np.round(t / 1e-3)).max() > 0.1  # not on the grid


def test_batch_trials_equal_single_runs_with_their_seeds():
    def build(batch, rng):
        net = Network(dt=1e-4, rng=rng, timing="precise", batch=batch)
        src = net.add_poisson(40, rate=30.0)
        pop = net.add_population(LIF(0.02, 0.002), 30, bias=0.9, v0="uniform")
        net.connect(src, pop, np.random.default_rng(0).normal(0.002, 0.004, (30, 40)), synapse=PSCFilter(0.005, 1))
        net.connect(pop, pop, np.full((30, 30), -0.001), synapse=PSCFilter(0.01), delay=0.002)
        return net, net.probe(pop)

    net, probe = build(3, 7)
    net.run(0.15)
    t, i, k = probe.data
    seeds = Network.trial_seeds(7, 3)
    for trial in range(3):
        one, p1 = build(None, seeds[trial])
        one.run(0.15)
        t1, i1 = p1.data
        sel = k == trial
        assert t1.size > 20 and np.array_equal(i[sel], i1)
        np.testing.assert_allclose(t[sel], t1, rtol=0, atol=1e-12)


def test_store_restore_and_reset_rerun():
    W, bias, times, idx, T = inputs(P=40)
    net, spikes = feedforward_net(1e-4, W, bias, times, idx, PSCFilter(0.005), 0.002)
    net.run(0.1)
    net.store()
    net.run(0.1)
    first = spikes.data[0].copy()
    net.restore()
    net.run(0.1)
    np.testing.assert_array_equal(spikes.data[0], first)
    net.reset()
    net.run(0.2)  # blocks of steps split differently at the run boundary: equal to rounding
    assert spikes.data[0].size == first.size
    np.testing.assert_allclose(spikes.data[0], first, rtol=0, atol=1e-12)


def test_unsupported_configurations_are_refused():
    net = Network(dt=1e-4, timing="precise")
    a = net.add_population(LIF(), 5)
    net.connect(a, a, 0.1, delay=5e-5)
    with pytest.raises(ValueError, match="delays >= dt"):
        net.run(0.001)
    net = Network(dt=1e-4, timing="precise")
    a = net.add_population(LIF(), 5)
    net.connect(a, a, 0.1, synapse=PSCFilter(0.005, 2), delay=1e-3)
    with pytest.raises(ValueError, match="n=0"):
        net.run(0.001)
    net = Network(dt=1e-5, timing="precise")
    net.add_population(HodgkinHuxley(), 2)
    with pytest.raises(ValueError, match="exact spike-time method"):
        net.run(0.001)
    with pytest.raises(ValueError, match="timing"):
        Network(timing="exact")


def test_current_input_and_filtered_probe():
    """An injected current acts like the same bias; a filtered probe places source spikes at their exact
    times, so it equals PSCFilter.filter of the train at the step ends."""
    runs = []
    for use_input in (False, True):
        net = Network(dt=1e-3, timing="precise")
        pop = net.add_population(LIF(0.02, 0.002), 3, bias=0.0 if use_input else 1.3)
        if use_input:
            net.add_current_input(pop, lambda t: np.full(3, 1.3))
        p = net.probe(pop)
        net.run(0.1)
        runs.append(p.data[0])
    assert runs[0].size > 5
    np.testing.assert_allclose(runs[1], runs[0], rtol=0, atol=1e-12)
    train = np.array([0.00031, 0.0042, 0.00425, 0.0117])
    net = Network(dt=1e-3, timing="precise")
    src = net.add_spike_source([train])
    syn = PSCFilter(0.003, 1)
    f = net.probe(src, "filtered", synapse=syn)
    net.run(0.02)
    np.testing.assert_allclose(f.data[:, 0], syn.filter(train, f.t), rtol=1e-12, atol=1e-12)


def test_precise_population_in_physical_units_starts_where_grid_does():
    """v0 given in volts for a LIFUnits population is converted once: the precise and grid v probes agree
    while nothing drives the neurons apart (no input spikes, the same exact leak)."""
    from neurosim import LIFUnits

    units = LIFUnits(C=200e-12, g_L=10e-9, V_L=-0.065, V_th=-0.050, V_reset=-0.065, tau_ref=0.002)
    v0 = np.array([-0.065, -0.060, -0.055])
    probes = []
    for timing in ("grid", "precise"):
        net = Network(dt=1e-4, timing=timing)
        pop = net.add_population(units, 3, bias=0.0, v0=v0)
        probes.append(net.probe(pop, "v"))
        net.run(0.005)
    grid, precise = (p.data for p in probes)
    np.testing.assert_allclose(precise, grid, rtol=0, atol=1e-12)
    tau_m = 200e-12 / 10e-9        # exact leak towards V_L from the given start
    np.testing.assert_allclose(grid[0], -0.065 + (v0 + 0.065) * np.exp(-1e-4 / tau_m), rtol=0, atol=1e-12)
