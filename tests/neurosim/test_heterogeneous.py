"""Per-neuron model parameters (issue 22, item 6): an array tau_m / tau_ref with one value per neuron.

Oracles: a heterogeneous population equals separate homogeneous populations (one per value), spike for
spike; each neuron's rate equals the analytic LIF rate G(J) for its own parameters.
"""
import numpy as np
import pytest

import neurosim
from neurosim import LIF, AdEx, HodgkinHuxley, LIFState, LIFUnits, Network, PSCFilter

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


def _recurrent_per_neuron(sim, order, tau_ref, function):
    """Per-neuron tau_m and tau_ref (one below dt: repeated spikes) in a recurrent network with Poisson input,
    a delay, a second population with per-neuron tau_ref only and (``function``) an f(t) input."""
    net = sim.network(dt=1e-4, rng=3)
    inp = net.add_poisson(10, rate=300.0)
    a = net.add_population(LIF(tau_m=np.array([0.01, 0.02, 0.035, 0.015]), tau_ref=tau_ref), 4,
                           bias=np.array([1.2, 1.5, 0.9, 2.0]))
    b = net.add_population(LIF(0.02, np.array([0.001, 0.003])), 2)
    w = np.random.default_rng(0)
    net.connect(inp, a, w.uniform(0, 0.05, (4, 10)), synapse=PSCFilter(0.004, order))
    net.connect(a, b, w.uniform(0, 0.3, (2, 4)), synapse=PSCFilter(0.003))
    net.connect(a, a, w.uniform(-0.05, 0.05, (4, 4)), synapse=PSCFilter(0.005, 1), delay=1e-3)
    if function:
        net.add_current_input(b, lambda t: 0.5 + 0.5 * np.sin(100 * t))
    return net, [net.probe(a, "spikes"), net.probe(b, "spikes"), net.probe(a, "v", sample_every=5e-4),
                 net.probe(a, "current"), net.probe(b, "filtered_mean", sample_every=1e-3)]


@pytest.mark.parametrize("order, tau_ref, function", [(0, [0.002, 5e-5, 0.004, 0.001], False),
                                                      (2, [0.002, 0.003, 0.004, 0.001], True)])
def test_per_neuron_parameters_give_the_numpy_backends_results(sim, order, tau_ref, function):
    """Backend equality: the same spikes (times to 1e-12 s), samples to 1e-12 (relative to their size)."""
    from dataclasses import replace

    net, probes = _recurrent_per_neuron(sim, order, np.array(tau_ref), function)
    if sim.refuses(net):
        return
    if sim.timing == "precise":  # the oracle here is the numpy backend of the same cell: nothing to compare
        return
    if sim.backend == "numpy":  # the reference itself: nothing to compare
        pytest.skip("backend equality: the numpy cell is the reference")
    ref, pr = _recurrent_per_neuron(replace(sim, backend="numpy"), order, np.array(tau_ref), function)
    for n in (net, ref):
        n.run(0.2)
        n.run(0.05)
    assert net.backend == sim.backend
    for x, y in zip(probes, pr):
        if x.kind == "spikes":
            assert y.data[0].size > 100
            assert len(x.data) == len(y.data)
            for a, b in zip(x.data[1:], y.data[1:]):
                np.testing.assert_array_equal(a, b)
            np.testing.assert_allclose(x.data[0], y.data[0], rtol=0, atol=1e-12)
        else:
            np.testing.assert_array_equal(x.t, y.t)
            scale = np.abs(y.data).max()
            assert scale > 0.1
            np.testing.assert_allclose(x.data, y.data, rtol=1e-12, atol=1e-12 * scale)


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
    for flag in (True, np.bool_(True), [True, False], np.array([True, True])):  # a bool is no time in seconds
        with pytest.raises(TypeError, match="tau_m must be a number or an array of numbers"):
            LIF(tau_m=flag)
    with pytest.raises(TypeError, match="g_Na must be a number"):
        HodgkinHuxley(g_Na=[True, False])
    with pytest.raises(ValueError, match="n=2"):
        Network(dt=1e-4).add_population(LIFUnits(C=np.full(3, 2e-10), g_L=1e-8, V_L=-0.065), 2)
    with pytest.raises(ValueError, match="coloured membrane noise"):
        LIFState(LIF(tau_m=TAU_M), 3, 1e-4, noise=0.1, tau_noise=0.005)
    assert LIF(tau_m=np.array([0.02])).tau_m == 0.02  # one value is a number
    LIF(tau_m=np.float32(0.02), tau_ref=np.array([0.001, 0.002], dtype=np.float32))
    # the compiled backend has no per-neuron step with membrane noise: "auto" runs numpy, "numba" refuses at build
    pytest.importorskip("numba", reason="pip install numba")
    net = Network(dt=1e-4, backend="auto")
    net.add_noise(net.add_population(LIF(tau_m=TAU_M), 3, bias=2.0), 0.1)
    net.run(0.001)
    assert net.backend == "numpy"
    net = Network(dt=1e-4, backend="numba")
    net.add_noise(net.add_population(LIF(tau_m=TAU_M), 3, bias=2.0), 0.1)
    with pytest.raises(ValueError, match="per neuron with membrane noise"):
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


# ---- LIFUnits with every parameter per neuron (g_L, V_th, V_reset too) --------------------------------
G_L = np.array([10e-9, 25e-9, 6e-9])
V_TH = np.array([-0.050, -0.048, -0.052])
V_RESET = np.array([-0.065, -0.060, -0.070])
V_LEAK = np.array([-0.070, -0.062, -0.066])


def _units(i=None, uniform_tau_m=False, tau_ref=TAU_REF):
    """The per-neuron LIFUnits (i None) or neuron i's scalar LIFUnits; tau_m = C/g_L per neuron, or one
    tau_m (20 ms) for all with C in proportion to g_L."""
    C = 0.02 * G_L if uniform_tau_m else np.array([150e-12, 500e-12, 210e-12])
    pick = (lambda x: x) if i is None else (lambda x: x[i])
    return LIFUnits(C=pick(C), g_L=pick(G_L), V_L=pick(V_LEAK), V_th=pick(V_TH), V_reset=pick(V_RESET),
                    tau_ref=pick(tau_ref) if np.ndim(tau_ref) else tau_ref)


def _physical_network(sim, split, uniform_tau_m, T, delta=True):
    """Three neurons as one per-neuron LIFUnits population or three scalar ones, with the same physical
    drive: a bias current, an injected current (A), PSC weights from PSC amplitudes (A) and Delta jumps (V).
    Without ``delta``: no Delta synapse; with ``uniform_tau_m`` also one tau_ref."""
    tau_ref = 0.002 if uniform_tau_m and not delta else TAU_REF
    from neurosim import Delta, synaptic_weight

    net = sim.network(dt=1e-4, rng=7)
    src = net.add_spike_source([np.arange(0.003, T, 0.0071), np.arange(0.001, T, 0.013)])
    steps = int(round(T / 1e-4))
    I_inj = 0.05e-9 * np.sin(np.arange(steps) * 2e-3)[:, None] * np.array([1.0, -0.5, 2.0])  # (steps, 3) A
    amps = np.array([[0.20e-9, -0.10e-9], [0.35e-9, 0.05e-9], [0.15e-9, -0.05e-9]])  # PSC amplitudes (post, pre)
    jumps = np.array([[1e-3, 0.0], [0.0, 2e-3], [-0.5e-3, 1.5e-3]])  # Delta jumps (V)
    syn = PSCFilter(0.004)
    bias = np.array([0.30e-9, 0.45e-9, 0.26e-9])
    v0 = np.array([-0.060, -0.055, -0.068])
    pops = []
    if split:
        for i in range(3):
            u = _units(i, uniform_tau_m, tau_ref)
            p = net.add_population(u, 1, bias=bias[i], v0=v0[i], name=f"p{i}")
            net.add_current_input(p, I_inj[:, i:i + 1])
            net.connect(src, p, synaptic_weight(u, syn, current=1.0) * amps[i:i + 1], synapse=syn)
            if delta:
                net.connect(src, p, jumps[i:i + 1], synapse=Delta(), delay=2e-4)
            pops.append(p)
    else:
        u = _units(None, uniform_tau_m, tau_ref)
        p = net.add_population(u, 3, bias=bias, v0=v0, name="all")
        net.add_current_input(p, I_inj)
        w = synaptic_weight(u, syn, current=1.0)  # one per post neuron
        assert w.shape == (3,)
        net.connect(src, p, w[:, None] * amps, synapse=syn)
        if delta:
            net.connect(src, p, jumps, synapse=Delta(), delay=2e-4)
        pops.append(p)
    probes = [(net.probe(p, "spikes"), net.probe(p, "v")) for p in pops]
    sub = None if split else net.probe(pops[0][1:], "v")  # a subgroup's v: its own neurons' volts
    return net, probes, sub


@pytest.mark.parametrize("delta, uniform", [(True, False), (False, True), (False, False)],
                         ids=["delta", "psc-only", "psc-only-per-neuron-tau"])
def test_lif_units_per_neuron_network_equals_scalar_units_neuron_by_neuron(sim, delta, uniform):
    # oracle: neuron i of a per-neuron LIFUnits population equals a population built from neuron i's scalar
    # LIFUnits, in physical units: spike times to 1e-12 s and v in volts
    T = 0.3
    # every parameter per neuron (C/g_L and tau_ref too), or one tau_m and tau_ref (C in proportion to g_L);
    # the grid numba cells refuse the Delta variant only for its delay from a source (>= dt)
    (a, pa, sub), (b, pb, _) = (_physical_network(sim, split, uniform, T, delta) for split in (False, True))
    if sim.refuses(a, b):
        return
    a.run(T)
    b.run(T)
    events, v_all = pa[0][0].data, pa[0][1].data
    total = 0
    for i, (spikes, v) in enumerate(pb):
        if sim.batch is None:
            t_all, idx_all = events
            t_one = spikes.data[0]
            np.testing.assert_allclose(t_all[idx_all == i], t_one, rtol=0, atol=1e-12)
        else:
            t_all, idx_all, tr_all = events
            t_one, _, tr_one = spikes.data
            for trial in range(sim.batch):
                np.testing.assert_allclose(t_all[(idx_all == i) & (tr_all == trial)], t_one[tr_one == trial],
                                           rtol=0, atol=1e-12)
        total += t_one.size
        np.testing.assert_allclose(v_all[..., i], v.data[..., 0], rtol=0, atol=1e-12)  # volts
        # v is in volts of this neuron's own scale: between its reset (refractory) and its threshold
        assert v.data.min() >= min(V_RESET[i], -0.075) and v.data.max() < V_TH[i] + 1e-12
    assert total > 20
    np.testing.assert_allclose(sub.data, v_all[..., 1:], rtol=0, atol=0)
    assert np.ndim(a.populations[0].model.tau_m) == (0 if uniform else 1)  # C/g_L in proportion: one tau_m


def test_lif_units_per_neuron_rates_match_analytic_rate():
    # each neuron's rate equals G(J) with its own parameters, J from the physical formula written out here
    units = _units()
    I = np.array([0.30e-9, 0.45e-9, 0.26e-9])
    net = Network(dt=1e-3, backend="numpy")
    pop = net.add_population(units, 3, bias=I)
    probe = net.probe(pop, "spikes")
    net.run(1.0)
    t, idx = probe.data
    C = np.array([150e-12, 500e-12, 210e-12])
    tau_m = C / G_L
    J = (V_LEAK - V_RESET + I / G_L) / (V_TH - V_RESET)  # tau_m dv/dt = J - v, v = (V - V_reset)/(V_th - V_reset)
    want = 1.0 / (TAU_REF - tau_m * np.log(1.0 - 1.0 / J))
    assert np.all(J > 1.2) and np.ptp(want) / want.min() > 0.2
    for i in range(3):
        np.testing.assert_allclose(1.0 / np.diff(t[idx == i]), want[i], rtol=1e-9)
    np.testing.assert_allclose(pop.bias, I, rtol=1e-12)  # back in amperes, per neuron
    np.testing.assert_allclose(units.current_to_J(I), J, rtol=1e-14)
    np.testing.assert_allclose(units.J_to_current(J), I, rtol=1e-12)
    V = np.array([-0.06, -0.05, -0.055])
    np.testing.assert_allclose(units.v_to_voltage(units.voltage_to_v(V)), V, rtol=1e-14)
    np.testing.assert_allclose(units.voltage_to_v(V), (V - V_RESET) / (V_TH - V_RESET), rtol=1e-14)


def test_lif_units_per_neuron_conductance_equals_scalar_units():
    # conductance weights in siemens and E_rev in volts per neuron (each neuron's g_L and span): the grid
    # step of a per-neuron population equals the scalar populations', neuron by neuron
    from neurosim import Conductance

    syn_e, syn_i = Conductance(0.005, E_rev=0.0), Conductance(0.01, E_rev=-0.08)
    g = np.array([[4e-9, 0.0], [6e-9, 20e-9], [3e-9, 10e-9]])  # peak conductances (post, pre), S
    for batch in (None, 2):
        net = Network(dt=1e-4, rng=2, backend="numpy", batch=batch)
        src = net.add_spike_source([np.arange(0.002, 0.3, 0.004), np.arange(0.001, 0.3, 0.011)])
        probes = []
        pop = net.add_population(_units(), 3, bias=np.array([0.25e-9, 0.5e-9, 0.2e-9]))
        net.connect(src, pop, g * [1, 0], synapse=syn_e)
        net.connect(src, pop, g * [0, 1], synapse=syn_i)
        probes.append((net.probe(pop, "spikes"), net.probe(pop, "v"), net.probe(pop, "current")))
        for i in range(3):
            p = net.add_population(_units(i), 1, bias=[0.25e-9, 0.5e-9, 0.2e-9][i])
            net.connect(src, p, g[i:i + 1] * [1, 0], synapse=syn_e)
            net.connect(src, p, g[i:i + 1] * [0, 1], synapse=syn_i)
            probes.append((net.probe(p, "spikes"), net.probe(p, "v"), net.probe(p, "current")))
        net.run(0.3)
        (s_all, v_all, i_all), singles = probes[0], probes[1:]
        for i, (s, v, cur) in enumerate(singles):
            sel = s_all.data[1] == i
            if batch is not None:
                sel &= s_all.data[2] == 1
                s_one = s.data[0][s.data[2] == 1]
            else:
                s_one = s.data[0]
            np.testing.assert_allclose(s_all.data[0][sel], s_one, rtol=0, atol=1e-12)
            np.testing.assert_allclose(v_all.data[..., i], v.data[..., 0], rtol=0, atol=1e-12)  # volts
            np.testing.assert_allclose(i_all.data[..., i], cur.data[..., 0], rtol=0, atol=1e-21)  # amperes
            assert np.abs(cur.data).max() > 1e-11
        assert s_all.data[0].size > 10


def test_lif_units_per_neuron_values_are_checked():
    with pytest.raises(ValueError, match=r"V_th must be above V_reset \(neuron 1\)"):
        LIFUnits(C=2e-10, g_L=1e-8, V_th=np.array([-0.05, -0.07]), V_reset=-0.065)
    with pytest.raises(ValueError, match="same length"):
        LIFUnits(C=2e-10, g_L=np.full(3, 1e-8), V_th=np.full(2, -0.05), V_reset=-0.065)
    with pytest.raises(ValueError, match="g_L must be finite > 0"):
        LIFUnits(C=2e-10, g_L=np.array([1e-8, -1e-8]))
    with pytest.raises(TypeError, match="V_th"):
        LIFUnits(C=2e-10, g_L=1e-8, V_th="high")
    np.testing.assert_allclose(LIFUnits(C=2e-10, R=np.array([1e8, 2e8])).g_L, [1e-8, 5e-9])
    with pytest.raises(ValueError, match=r"R must be at least .* ohm .* at index 1"):  # 1/R overflows
        LIFUnits(C=2e-10, R=np.array([1e8, 1e-320]))
    units = _units()
    with pytest.raises(ValueError, match="last axis must be 3"):
        units.current_to_J(np.ones((2, 4)))
    with pytest.raises(ValueError, match="n=2"):
        Network(dt=1e-4).add_population(units, 2)
    for batch in (None, 2):  # v0 in volts against each neuron's own V_th, said in volts (not "threshold 1")
        with pytest.raises(ValueError, match=r"v0 must be below V_th \(volts\), got v0=-0.049 V >= V_th=-0.05 V at "
                                             r"index \(0,\)"):
            Network(dt=1e-4, batch=batch).add_population(units, 3, v0=np.array([-0.049, -0.06, -0.06]))
    # membrane noise in volts would be a different normalized sigma per neuron: refused, saying why
    net = Network(dt=1e-4)
    pop = net.add_population(units, 3)
    with pytest.raises(ValueError, match="V_th - V_reset per neuron"):
        net.add_noise(pop, 1e-3)
    same_span = LIFUnits(C=2e-10, g_L=G_L, V_L=V_LEAK, V_th=V_RESET + 0.015, V_reset=V_RESET)
    np.testing.assert_allclose(same_span.span, 0.015, rtol=1e-12)


@pytest.mark.parametrize("n", [0, 1])
def test_precise_per_neuron_tau_m_and_tau_ref_equal_scalar_runs(n):
    # precise_feedforward with per-neuron tau_m and tau_ref equals one scalar run per neuron (exact crossing
    # times); tau_m = tau_s for one neuron (the kernels' d = 0 case) and tau_m below and above tau_s
    from neurosim.network.precise import precise_feedforward

    rng = np.random.default_rng(5)
    times = np.sort(rng.uniform(0, 0.3, 150))
    spikes = (times, rng.integers(0, 2, times.size))
    tau_m = np.array([0.003, 0.02, 0.035, 0.0021])
    tau_ref = np.array([0.002, 0.0005, 0.004, 0.001])
    W = np.array([[0.3, -0.1], [0.25, 0.2], [0.4, 0.1], [0.2, 0.15]])
    syn = PSCFilter(0.003, n=n)
    bias = np.array([0.8, 0.9, 0.7, 0.95])
    t_all, i_all = precise_feedforward(LIF(tau_m=tau_m, tau_ref=tau_ref), W, spikes, 0.3, bias=bias, synapse=syn)
    for i in range(4):
        t_one, _ = precise_feedforward(LIF(tau_m=tau_m[i], tau_ref=tau_ref[i]), W[i:i + 1], spikes, 0.3,
                                       bias=bias[i], synapse=syn)
        assert t_one.size > 5
        np.testing.assert_allclose(t_all[i_all == i], t_one, rtol=0, atol=1e-12)


def test_pynn_export_converts_per_neuron_units():
    # Delta jumps (V) and conductances (S, E_rev in V) onto per-neuron LIFUnits: mV and uS per post neuron
    from neurosim import Conductance, Delta
    from neurosim.export.pynn.live import export_plan

    units = _units(uniform_tau_m=True)
    net = Network(dt=1e-4)
    src = net.add_spike_source([np.array([0.01, 0.02])], name="src")
    d = net.add_population(units, 3, name="d")
    net.connect(src, d, np.full((3, 1), 1e-3), synapse=Delta(), delay=1e-4)
    c = net.add_population(units, 3, name="c")
    net.connect(src, c, np.full((3, 1), 5e-9), synapse=Conductance(0.005, E_rev=0.0), delay=1e-4)
    with pytest.warns(UserWarning, match="IF_curr_delta"):
        meta, arrays = export_plan(net)
    scale = 15.0  # PyNN's default v_thresh - v_reset (mV): the normalized jump 1e-3 / span per neuron
    rows = arrays[meta["projections"][0]["rows"]]
    np.testing.assert_allclose(rows[:, 2], 1e-3 / (V_TH - V_RESET)[rows[:, 1].astype(int)] * scale, rtol=1e-12)
    # conductance: peak 5 nS in units of each neuron's g_L, times PyNN's g_L = cm / tau_m (1 nF / 20 ms = 0.05 uS)
    rows = arrays[meta["projections"][1]["rows"]]
    np.testing.assert_allclose(rows[:, 2], 5e-9 / G_L[rows[:, 1].astype(int)] * 0.05, rtol=1e-12)
    cell = meta["cells"][[x["name"] for x in meta["cells"]].index("c")]
    want = -65.0 + (0.0 - V_RESET) / (V_TH - V_RESET) * scale  # E_rev = 0 V in each neuron's normalized units
    np.testing.assert_allclose(arrays[cell["array_params"]["e_rev_E"]], want, rtol=1e-12)


def test_pynn_export_of_per_neuron_units_conductances_runs_on_nest():
    # the per-neuron conversions (e_rev per cell, uS per post neuron) against NEST running the export
    pytest.importorskip("nest", reason="running on NEST needs `pip install '.[pynn]'` (nest-simulator)")
    sim = pytest.importorskip("pyNN.nest", reason="running on NEST needs `pip install '.[pynn]'` (pyNN)")
    from neurosim import Conductance, from_events
    from neurosim.export import to_pynn

    dt = 1e-5  # NEST's spikes are on its grid: 10 us keeps that error small
    net = Network(dt=dt)
    trains = [np.arange(0.010, 0.5, 0.007), np.arange(0.013, 0.5, 0.011), np.arange(0.02, 0.5, 0.017)]
    src = net.add_spike_source(trains, name="input")
    pop = net.add_population(_units(), 3, bias=np.array([0.30e-9, 0.75e-9, 0.26e-9]), name="cells")
    net.connect(src, pop, np.array([[6e-9, 6e-9, 0], [15e-9, 0, 0], [0, 6e-9, 0]]),
                synapse=Conductance(0.005, 0.0), delay=dt)
    net.connect(src, pop, np.array([[0, 0, 30e-9], [0, 0, 60e-9], [0, 0, 10e-9]]),
                synapse=Conductance(0.010, -0.080), delay=dt)
    probe = net.probe(pop, "spikes")
    exported = to_pynn(net, sim=sim)
    exported.record("cells")
    exported.run(0.5)
    theirs = exported.spike_times("cells")
    net.run(0.5)
    ours = from_events(*probe.data, n_neurons=3)
    assert all(t.size >= 5 for t in ours)
    for a, b in zip(ours, theirs):
        assert a.size == b.size
        np.testing.assert_allclose(b, a, rtol=0, atol=2.5e-5)  # NEST spikes on its 10 us grid


def test_precise_export_with_per_neuron_parameters_runs_nest_ps_models_at_each_analytic_rate():
    # a per-neuron LIFUnits population in timing="precise" exports to NEST's _ps models with per-cell values;
    # each neuron fires at G(J) for its own parameters (exact crossings: 1e-9 at dt = 1 ms)
    pytest.importorskip("nest", reason="running on NEST needs `pip install '.[pynn]'` (nest-simulator)")
    sim = pytest.importorskip("pyNN.nest", reason="running on NEST needs `pip install '.[pynn]'` (pyNN)")
    from neurosim.export import to_pynn

    tau_ref = np.array([0.002, 0.001, 0.003])  # NEST holds t_ref in whole steps of its resolution (dt)
    units = _units(tau_ref=tau_ref)
    I = np.array([0.30e-9, 0.45e-9, 0.26e-9])
    for n in (0, 1):
        net = Network(dt=1e-3, timing="precise")
        pop = net.add_population(units, 3, bias=I, name="lif")
        other = net.add_population(LIF(0.02, 0.002), 1, name="silent")
        net.connect(other, pop, 0.0, synapse=PSCFilter(0.005, n=n))  # sets the PSC shape only
        exported = to_pynn(net, sim=sim)
        assert exported.populations["lif"].celltype.nest_model == ("iaf_psc_exp_ps", "iaf_psc_alpha_ps")[n]
        exported.record("lif")
        exported.run(2.0)
        rates = [1.0 / np.diff(t).mean() for t in exported.spike_times("lif")]
        want = pop.model.rate(units.current_to_J(I))
        assert np.ptp(want) / want.min() > 0.2
        np.testing.assert_allclose(rates, want, rtol=1e-9)
