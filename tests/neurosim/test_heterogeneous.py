"""Per-neuron model parameters (issue 22, item 6): an array tau_m / tau_ref with one value per neuron.

Oracles: a heterogeneous population equals separate homogeneous populations (one per value), spike for
spike; each neuron's rate equals the analytic LIF rate G(J) for its own parameters.
"""
import numpy as np
import pytest

import neurosim
from neurosim import LIF, AdEx, LIFState, LIFUnits, Network, PSCFilter

TAU_M = np.array([0.01, 0.02, 0.035])
TAU_REF = np.array([0.002, 0.0005, 0.004])
BIAS = np.array([1.6, 2.5, 3.0])


def _hetero_and_separate(sim, feed_weight=0.05, T=0.3):
    """The same three neurons as one per-neuron population and as three populations, driven by Poisson input."""
    def build(split):
        net = sim.network(dt=1e-4, rng=7)
        src = net.add_spike_source([np.arange(0.003, T, 0.0071), np.arange(0.001, T, 0.013)])
        if split:
            pops = [net.add_population(LIF(tau_m=TAU_M[i], tau_ref=TAU_REF[i]), 1, bias=BIAS[i], name=f"p{i}")
                    for i in range(3)]
            for i, p in enumerate(pops):
                net.connect(src, p, np.array([[feed_weight, -0.5 * feed_weight * i]]), synapse=PSCFilter(0.004))
        else:
            pops = [net.add_population(LIF(tau_m=TAU_M, tau_ref=TAU_REF), 3, bias=BIAS, name="all")]
            W = np.array([[feed_weight, -0.5 * feed_weight * i] for i in range(3)])
            net.connect(src, pops[0], W, synapse=PSCFilter(0.004))
        probes = [(net.probe(p, "spikes"), net.probe(p, "v")) for p in pops]
        return net, probes
    return build(False), build(True)


def test_per_neuron_population_equals_separate_populations(sim):
    (a, pa), (b, pb) = _hetero_and_separate(sim)
    if sim.refuses(a):
        return
    if sim.timing == "precise":
        with pytest.raises(ValueError, match="per-neuron tau_m"):
            a.build()
        b.build()  # the homogeneous populations run
        return
    a.run(0.3)
    b.run(0.3)
    v_all = pa[0][1].data
    events = pa[0][0].data
    for i, (spikes, v) in enumerate(pb):
        if sim.batch is None:
            t_all, idx_all = events
            t_one, idx_one = spikes.data
            np.testing.assert_allclose(t_all[idx_all == i], t_one, rtol=0, atol=1e-12)
            assert t_one.size > 10
        else:
            t_all, idx_all, tr_all = events
            t_one, _, tr_one = spikes.data
            for trial in range(sim.batch):
                np.testing.assert_allclose(t_all[(idx_all == i) & (tr_all == trial)], t_one[tr_one == trial],
                                           rtol=0, atol=1e-12)
        np.testing.assert_allclose(v_all[..., i], v.data[..., 0], rtol=0, atol=1e-12)


def test_each_neuron_fires_at_its_analytic_rate():
    # constant input: the exact step gives the analytic G(J) per neuron, from the inter-spike intervals
    model = LIF(tau_m=TAU_M, tau_ref=TAU_REF)
    net = Network(dt=1e-3, backend="numpy")
    pop = net.add_population(model, 3, bias=BIAS)
    probe = net.probe(pop, "spikes")
    net.run(1.0)
    t, idx = probe.data
    want = model.rate(BIAS)
    np.testing.assert_allclose(want, [LIF(tau_m=TAU_M[i], tau_ref=TAU_REF[i]).rate(BIAS[i]) for i in range(3)],
                               rtol=1e-14)
    for i in range(3):
        isi = np.diff(t[idx == i])
        np.testing.assert_allclose(1.0 / isi, want[i], rtol=1e-9)
    # LIF.simulate with the same per-neuron model gives the same spikes
    res = model.simulate(BIAS, 1.0, dt=1e-3)
    for i in range(3):
        np.testing.assert_allclose(res.spike_times[i], t[idx == i], rtol=0, atol=1e-7)  # its recorder keeps float32 offsets


def test_analytic_functions_broadcast_per_neuron():
    model = LIF(tau_m=TAU_M, tau_ref=TAU_REF)
    rates = model.rate(BIAS)
    np.testing.assert_allclose(model.inverse_rate(rates), BIAS, rtol=1e-12)
    # a (samples, n) input runs along the last axis
    J = np.stack([BIAS, BIAS + 1.0])
    np.testing.assert_allclose(model.rate(J)[1], model.rate(BIAS + 1.0), rtol=1e-15)
    gain, bias = model.gain_bias(np.array([50.0, 100.0, 80.0]), np.array([-0.5, 0.0, 0.5]))
    np.testing.assert_allclose(model.rate(gain + bias), [50.0, 100.0, 80.0], rtol=1e-12)
    with pytest.raises(ValueError, match="broadcast"):
        model.rate(np.ones(4))
    with pytest.raises(ValueError, match=r"rate must be in \[0, 1/tau_ref\)"):
        model.inverse_rate(np.array([10.0, 10.0, 300.0]))  # neuron 2's maximum is 250 Hz


def test_lif_units_per_neuron_capacitance_and_leak():
    C = np.array([100e-12, 200e-12, 350e-12])
    V_L = np.array([-0.065, -0.060, -0.055])
    units = LIFUnits(C=C, g_L=10e-9, V_L=V_L, V_th=-0.05, V_reset=-0.065, tau_ref=TAU_REF)
    np.testing.assert_allclose(units.tau_m, C / 10e-9)
    net = Network(dt=1e-4, backend="numpy")
    pop = net.add_population(units, 3, bias=0.3e-9)
    probe = net.probe(pop, "spikes")
    net.run(0.5)
    t, idx = probe.data
    J = (V_L + 0.065 + 0.3e-9 / 10e-9) / 0.015
    for i in range(3):
        want = LIF(tau_m=C[i] / 10e-9, tau_ref=TAU_REF[i]).rate(J[i])
        np.testing.assert_allclose(1.0 / np.diff(t[idx == i]), want, rtol=1e-9)
    np.testing.assert_allclose(pop.bias, 0.3e-9, rtol=1e-12)  # back in amperes


def test_snapshots_restore_per_neuron_runs():
    net = Network(dt=1e-4, rng=1, backend="numpy")
    src = net.add_poisson(20, rate=50.0)
    pop = net.add_population(LIF(tau_m=TAU_M, tau_ref=TAU_REF), 3, bias=BIAS * 0.5)
    net.connect(src, pop, np.full((3, 20), 0.05), synapse=PSCFilter(0.005, n=1))
    v = net.probe(pop, "v")
    net.run(0.05)
    net.store()
    net.run(0.1)
    first = v.data[-1000:].copy()
    net.restore()
    net.run(0.1)
    np.testing.assert_array_equal(v.data[-1000:], first)


def test_lengths_types_and_backends_are_checked():
    with pytest.raises(ValueError, match="n=4"):
        Network(dt=1e-4).add_population(LIF(tau_m=TAU_M), 4)
    with pytest.raises(ValueError, match="same length"):
        LIF(tau_m=TAU_M, tau_ref=np.full(2, 0.001))
    with pytest.raises(ValueError, match="tau_m must be finite > 0"):
        LIF(tau_m=np.array([0.01, -0.02]))
    with pytest.raises(ValueError, match="1-D"):
        LIF(tau_m=np.ones((2, 2)) * 0.01)
    with pytest.raises(TypeError, match="tau_ref"):
        LIF(tau_ref="fast")
    with pytest.raises(ValueError, match="n=2"):
        Network(dt=1e-4).add_population(LIFUnits(C=np.full(3, 2e-10), g_L=1e-8, V_L=-0.065), 2)
    with pytest.raises(ValueError, match="coloured membrane noise"):
        LIFState(LIF(tau_m=TAU_M), 3, 1e-4, noise=0.1, tau_noise=0.005)
    assert LIF(tau_m=np.array([0.02])).tau_m == 0.02  # one value is a number
    LIF(tau_m=np.float32(0.02), tau_ref=np.array([0.001, 0.002], dtype=np.float32))
    # the compiled backend has no per-neuron step: "auto" runs numpy, "numba" refuses at build
    pytest.importorskip("numba", reason="pip install numba")
    net = Network(dt=1e-4, backend="auto")
    net.add_population(LIF(tau_m=TAU_M), 3, bias=2.0)
    net.run(0.001)
    assert net.backend == "numpy"
    net = Network(dt=1e-4, backend="numba")
    net.add_population(LIF(tau_m=TAU_M), 3, bias=2.0)
    with pytest.raises(ValueError, match="per neuron"):
        net.build()


def test_adex_per_neuron_parameters_in_a_network():
    # NeuronModel parameters per neuron: a population equals one population per parameter value
    C = np.array([200e-12, 150e-12])
    a = np.array([2e-9, 4e-9])
    for batch in (None, 2):
        net = Network(dt=1e-4, batch=batch)
        pop = net.add_population(AdEx(C=C, a=a), 2, bias=1.5e-9)
        probe = net.probe(pop, "spikes")
        alone = []
        for i in range(2):
            p = net.add_population(AdEx(C=C[i], a=a[i]), 1, bias=1.5e-9)
            alone.append(net.probe(p, "spikes"))
        net.run(0.2)
        events = probe.data
        for i in range(2):
            assert alone[i].data[0].size >= 4
            np.testing.assert_array_equal(events[0][events[1] == i], alone[i].data[0])
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        Network(dt=1e-4).add_population(AdEx(C=C), 3)
    assert neurosim.LIF is LIF


def test_white_noise_per_neuron_matches_siegert():
    # membrane noise with per-neuron tau_m and tau_ref: each group of 300 neurons at its own Siegert rate
    from neurosim import siegert_rate

    k = 300
    tau_m, tau_ref = np.repeat(TAU_M, k), np.repeat(TAU_REF, k)
    J, sigma = 0.9, 0.15
    net = Network(dt=1e-4, rng=3, backend="numpy")
    pop = net.add_population(LIF(tau_m=tau_m, tau_ref=tau_ref), 3 * k, bias=J, v0="uniform")
    net.add_noise(pop, sigma)
    probe = net.probe(pop, "spikes")
    net.run(2.0)
    t, idx = probe.data
    counts = np.bincount(idx[t > 0.2], minlength=3 * k).reshape(3, k).sum(axis=1)
    rates = counts / (k * 1.8)
    want = np.array([siegert_rate(J, sigma, TAU_M[i], TAU_REF[i]) for i in range(3)])
    # Poisson-like count noise: s.e. of a group rate ~ sqrt(rate / (k T)) ~ 0.1 - 0.4 Hz, i.e. < 2 %
    np.testing.assert_allclose(rates, want, rtol=0.02)  # measured within 0.7 % (seeds 3, 4)
    assert np.all(np.abs(np.diff(want)) / want[1:] > 0.1)  # the groups differ by more than the tolerance


def test_pynn_export_carries_per_neuron_parameters():
    from neurosim.export.pynn.live import export_plan

    net = Network(dt=1e-5)
    src = net.add_spike_source([np.array([0.0101, 0.0202, 0.0305])], name="src")
    pop = net.add_population(LIF(tau_m=TAU_M, tau_ref=TAU_REF), 3, bias=BIAS, name="lif")
    net.connect(src, pop, np.array([[0.05], [0.05], [0.05]]), synapse=PSCFilter(0.005), delay=1e-4)
    meta, arrays = export_plan(net)
    cell = meta["cells"][0]
    np.testing.assert_allclose(arrays[cell["array_params"]["tau_m"]], 1000 * TAU_M)
    np.testing.assert_allclose(arrays[cell["array_params"]["tau_refrac"]], 1000 * TAU_REF)
    # weights in nA per post neuron: charge 0.05 (normalized x s) = 0.05 * g_L * dV, g_L = cm / tau_m
    rows = arrays[meta["projections"][0]["rows"]]
    np.testing.assert_allclose(rows[:, 2], 0.05 * (1.0 / (1000 * TAU_M[rows[:, 1].astype(int)])) * 15.0
                               / (1000 * 0.005) * 1000, rtol=1e-12)
    pytest.importorskip("nest", reason="running on NEST needs `pip install '.[pynn]'` (nest-simulator)")
    sim = pytest.importorskip("pyNN.nest", reason="running on NEST needs `pip install '.[pynn]'` (pyNN)")
    from neurosim import from_events
    from neurosim.export import to_pynn

    probe = net.probe(pop, "spikes")
    exported = to_pynn(net, sim=sim)
    exported.record("lif")
    exported.run(0.5)
    net.run(0.5)
    ours, theirs = from_events(*probe.data, n_neurons=3), exported.spike_times("lif")
    for a, b in zip(ours, theirs):  # the first spikes, before NEST's grid delays (<= 10 us per spike) add up
        np.testing.assert_allclose(b[:4], a[:4], rtol=0, atol=3e-5)
    # after the input: each neuron at its own analytic rate (NEST's grid lengthens each ISI by < 10 us)
    rates = [1.0 / np.diff(b[b > 0.05]).mean() for b in theirs]
    np.testing.assert_allclose(rates, LIF(tau_m=TAU_M, tau_ref=TAU_REF).rate(BIAS), rtol=3e-3)  # measured 1.3e-3


def test_nir_round_trip_carries_per_neuron_parameters(tmp_path):
    nir = pytest.importorskip("nir", reason="NIR export needs `pip install '.[nir]'`")
    from neurosim.export import from_nir, to_nir

    def spikes_of(net):
        probe = net.probe(net.populations[0], "spikes")
        net.run(0.3)
        return probe.data

    def build():
        net = Network(dt=1e-4, rng=0, backend="numpy")
        src = net.add_spike_source([np.arange(0.003, 0.3, 0.0071)], name="src")
        pop = net.add_population(LIF(tau_m=TAU_M, tau_ref=TAU_REF), 3, bias=BIAS, name="lif")
        net.connect(src, pop, np.full((3, 1), 0.05), synapse=PSCFilter(0.004), delay=1e-4)
        return net

    with pytest.warns(UserWarning, match="no refractory period"):
        graph = to_nir(build())
    np.testing.assert_array_equal(graph.nodes["lif"].tau_mem, TAU_M)
    nir.write(tmp_path / "het.nir", graph)
    back = from_nir(nir.read(tmp_path / "het.nir"), rng=0)
    np.testing.assert_array_equal(back.populations[0].model.tau_m, TAU_M)
    np.testing.assert_array_equal(back.populations[0].model.tau_ref, TAU_REF)
    first, second = spikes_of(build()), spikes_of(back)
    assert first[0].size > 20
    np.testing.assert_array_equal(first[0], second[0])
    np.testing.assert_array_equal(first[1], second[1])
