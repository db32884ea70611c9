"""Export to PyNN units (always tested) and to NIR / PyNN+NEST (tested when installed).

Oracles: LIFUnits (an independent physical <-> normalized conversion), the
PSC formulas from PyNN's documentation integrated numerically with
scipy.integrate.quad, and the LIF rate formula written in physical units.
"""
import math

import numpy as np
import pytest
from scipy import integrate

from neurosim import LIF, LIFUnits, PSCFilter
from neurosim.export.units import pynn_units

SCALES = [
    {},  # PyNN defaults: 1 nF, -65 mV, -50 mV
    {"cm": 0.2, "v_reset": -60.0, "v_thresh": -50.0},  # Vogels & Abbott
    {"cm": 0.25, "v_reset": -70.0, "v_thresh": -55.0},
]


def physical_units(p):
    """LIFUnits (SI) for the PyNN cell parameters ``p`` (ms, mV, nF)."""
    C = p["cm"] * 1e-9
    return LIFUnits(C=C, R=p["tau_m"] * 1e-3 / C, V_L=p["v_rest"] * 1e-3, V_th=p["v_thresh"] * 1e-3,
                    V_reset=p["v_reset"] * 1e-3, tau_ref=p["tau_refrac"] * 1e-3)


@pytest.mark.parametrize("scale", SCALES)
def test_bias_gives_the_same_steady_state_voltage(scale):
    bias = np.array([0.0, 0.3, 0.95, 1.4, 3.0])
    p = pynn_units(0.02, 0.002, bias=bias, **scale).cell
    # physical steady state V = v_rest + R i_offset, R = tau_m / cm (ms / nF = MOhm)
    V_ss = p["v_rest"] + p["tau_m"] / p["cm"] * p["i_offset"]
    np.testing.assert_allclose((V_ss - p["v_reset"]) / (p["v_thresh"] - p["v_reset"]), bias, atol=1e-12)
    units = physical_units(p)
    np.testing.assert_allclose(units.current_to_J(p["i_offset"] * 1e-9), bias, atol=1e-12)
    assert units.tau_m == pytest.approx(0.02)


@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("n", [0, 1])
def test_one_spike_delivers_the_same_charge(scale, n):
    tau_s, w = 0.005, np.array([[2e-3, -5e-4], [0.0, 1.3e-2]])
    conv = pynn_units(0.02, 0.002, weights=w, tau_s=tau_s, n=n, **scale)
    tau = conv.cell["tau_syn_E"]
    assert tau == pytest.approx(5.0) and conv.cell["tau_syn_I"] == tau
    # PyNN PSC shapes (nA, t in ms), integrated numerically -> pC per nA of weight
    shape = (lambda t: np.exp(-t / tau)) if n == 0 else (lambda t: t / tau * np.exp(1 - t / tau))
    charge_per_nA, _ = integrate.quad(shape, 0, 60 * tau)
    charge_pC = conv.weights * charge_per_nA
    # normalized charge w (J x s) -> coulombs: w times the current that gives J = 1 above J = 0
    units = physical_units(conv.cell)
    coulomb_per_w = units.J_to_current(1.0) - units.J_to_current(0.0)
    np.testing.assert_allclose(charge_pC * 1e-12, w * coulomb_per_w, rtol=1e-9, atol=1e-24)
    assert np.all(np.sign(conv.weights) == np.sign(w))


@pytest.mark.parametrize("scale", SCALES)
def test_rate_formula_in_physical_units_matches_normalized(scale):
    tau_m, tau_ref = 0.015, 0.003
    J = np.array([1.01, 1.2, 2.0, 5.0, 30.0])
    p = pynn_units(tau_m, tau_ref, bias=J, **scale).cell
    R_I = p["tau_m"] / p["cm"] * p["i_offset"]  # mV above v_rest
    dV = p["v_thresh"] - p["v_rest"]
    isi_ms = p["tau_refrac"] + p["tau_m"] * np.log(R_I / (R_I - dV))
    np.testing.assert_allclose(1000.0 / isi_ms, LIF(tau_m, tau_ref).rate(J), rtol=1e-12)


def test_initial_voltage_and_sparse_weights():
    scipy_sparse = pytest.importorskip("scipy.sparse")
    conv = pynn_units(0.02, 0.0, v0=[0.0, 0.5, 0.99], weights=scipy_sparse.csr_matrix([[0.0, 1e-3]]), tau_s=0.01)
    np.testing.assert_allclose(conv.v_init, [-65.0, -57.5, -65 + 0.99 * 15])
    assert scipy_sparse.issparse(conv.weights)
    # 1e-3 s of J=1 on 1 nF / 20 ms at 15 mV: 0.75 nA for 1 ms = 0.75 pC; over tau_s = 10 ms: 0.075 nA
    assert conv.weights[0, 1] == pytest.approx(0.075)
    assert conv.cell["tau_refrac"] == 0.0


@pytest.mark.parametrize("kwargs, match", [
    ({"n": 2, "tau_s": 0.005}, "n >= 2"),
    ({"n": True}, "n must be"),
    ({"v_thresh": -70.0}, "v_thresh must be above v_reset"),
    ({"weights": [1e-3]}, "tau_s"),
    ({"tau_s": 0.0}, "tau_s"),
    ({"cm": -1.0}, "cm"),
    ({"bias": [np.nan]}, "bias"),
])
def test_invalid_parameters_are_rejected_with_their_name(kwargs, match):
    with pytest.raises(ValueError, match=match):
        pynn_units(0.02, 0.002, **kwargs)


@pytest.mark.parametrize("case, match", [
    ("n2", "n >= 2"), ("mixed", "mixes exponential and alpha"), ("two_tau", "different tau_s"),
    ("current", "injected current"), ("not_a_network", "neurosim.Network")])
def test_to_pynn_names_unsupported_features_before_needing_pynn(case, match):
    from neurosim import Network, PSCFilter
    from neurosim.export import to_pynn

    net = Network(dt=1e-4)
    a = net.add_population(LIF(), 3, name="a")
    b = net.add_population(LIF(), 2, name="b")
    if case == "n2":
        net.connect(a, b, 0.01, synapse=PSCFilter(0.005, n=2))
    elif case == "mixed":
        net.connect(a, b, 0.01, synapse=PSCFilter(0.005, n=0))
        net.connect(a, b, 0.01, synapse=PSCFilter(0.005, n=1))
    elif case == "two_tau":
        net.connect(a, b, 0.01, synapse=PSCFilter(0.005))
        net.connect(a, b, 0.02, synapse=PSCFilter(0.010))
    elif case == "current":
        net.add_current_input(b, lambda t: 1.0)
    error = TypeError if case == "not_a_network" else ValueError
    with pytest.raises(error, match=match):
        to_pynn("net" if case == "not_a_network" else net)


def test_export_module_imports_without_optional_dependencies():
    from neurosim import export

    for name in ("pynn_units", "to_pynn", "to_nir", "from_nir"):
        assert callable(getattr(export, name))


# ---- NIR (needs `pip install '.[nir]'`) ----------------------------------------------------------

def small_network(seed=1):
    """Poisson and spike-time inputs, exponential and alpha PSCs, a delay, recurrence, sparse weights."""
    import scipy.sparse as sp

    from neurosim import Network, PSCFilter

    net = Network(dt=1e-4, rng=seed)
    inp = net.add_poisson(20, rate=80.0, name="inp")
    st = net.add_spike_source([np.array([0.01, 0.02]), np.array([]), np.array([0.05])], name="ss")
    a = net.add_population(LIF(0.02, 0.002), 10, bias=np.linspace(0.5, 1.5, 10), v0="uniform", name="a")
    b = net.add_population(LIF(0.03, 0.001), 5, bias=0.9, name="b")
    rng = np.random.default_rng(seed)
    net.connect(inp, a, rng.normal(0.002, 0.004, (10, 20)), synapse=PSCFilter(0.005))
    net.connect(st, a, sp.random(10, 3, density=0.5, random_state=seed, format="csr") * 0.01,
                synapse=PSCFilter(0.005), delay=0.002)
    net.connect(a, b, rng.normal(0.004, 0.004, (5, 10)), synapse=PSCFilter(0.004, n=1))
    net.connect(b, a, rng.normal(0, 0.004, (10, 5)), synapse=PSCFilter(0.005))
    return net


def spikes_of(net, T=0.3):
    probes = {p.name: net.probe(p, "spikes") for p in net.populations}
    net.run(T)
    return {name: probe.data for name, probe in probes.items()}


def test_nir_file_round_trip_is_exact_and_simulates_identically(tmp_path):
    nir = pytest.importorskip("nir", reason="NIR export needs `pip install '.[nir]'`")
    from neurosim.export import from_nir, to_nir

    net = small_network()
    with pytest.warns(UserWarning, match="no refractory period"):
        graph = to_nir(net)
    assert type(graph.nodes["a"]).__name__ == "CubaLIF" and type(graph.nodes["b"]).__name__ == "LIF"
    assert graph.metadata["time_unit"] == "s"
    nir.write(tmp_path / "net.nir", graph)
    back = from_nir(nir.read(tmp_path / "net.nir"), rng=1)
    assert [p.name for p in back.populations] == ["a", "b"] and [s.name for s in back.sources] == ["inp", "ss"]
    for p, q in zip(net.populations, back.populations):
        assert (p.model.tau_m, p.model.tau_ref, p.n) == (q.model.tau_m, q.model.tau_ref, q.n)
        np.testing.assert_array_equal(p.bias, q.bias)
        np.testing.assert_array_equal(p.v0, q.v0)
    for c, d in zip(net.connections, back.connections):
        assert (c.pre.name, c.post.name, c.synapse, c.delay) == (d.pre.name, d.post.name, d.synapse, d.delay)
        dense = (lambda W: W if isinstance(W, np.ndarray) else W.toarray())
        np.testing.assert_array_equal(dense(c.weights), dense(d.weights))
        assert isinstance(c.weights, np.ndarray) == isinstance(d.weights, np.ndarray)
    np.testing.assert_array_equal(net.sources[0].rate, back.sources[0].rate)
    first, second = spikes_of(net), spikes_of(back)
    assert sum(t.size for t, _ in first.values()) > 20
    for name in first:
        np.testing.assert_array_equal(first[name][0], second[name][0])
        np.testing.assert_array_equal(first[name][1], second[name][1])


def converted_ratenet_network(x, dt=1e-4):
    """A ratenet model converted by ratenet.to_spiking, laid out as a neurosim Network for one input x.

    Layer 1 gets the constant current J = W x + b + 1 as its bias; later layers get
    b + 1 and the previous layer's spikes with weights W * amplitude (SpikingModel's rule).
    """
    from neurosim import Network
    from ratenet import Sequential
    from ratenet.layers import Dense
    from ratenet.spiking.activations import LIFRate
    from ratenet.spiking.convert import to_spiking

    model = Sequential([Dense(4, 12, rng=0), LIFRate(amplitude=0.02), Dense(12, 6, rng=1),
                        LIFRate(tau_m=0.03, tau_ref=0.001, amplitude=0.02), Dense(6, 3, rng=2)])
    snn = to_spiking(model, dt=dt)
    net = Network(dt=dt, rng=0)
    first = snn.layers[0]
    prev = net.add_population(first.neuron, first.n_out, bias=first.W @ x + first.b + 1.0, name="layer0")
    for i, (before, layer) in enumerate(zip(snn.layers, snn.layers[1:]), start=1):
        pop = net.add_population(layer.neuron, layer.n_out, bias=layer.b + 1.0, name=f"layer{i}")
        net.connect(prev, pop, layer.W * before.amplitude, synapse=snn.synapse)
        prev = pop
    return net


def test_nir_round_trip_of_a_converted_ratenet_network(tmp_path):
    nir = pytest.importorskip("nir", reason="NIR export needs `pip install '.[nir]'`")
    pytest.importorskip("ratenet.spiking", reason="needs ratenet.to_spiking")
    from neurosim.export import from_nir, to_nir

    x = np.array([0.5, -0.2, 0.9, 0.1])
    net = converted_ratenet_network(x)
    with pytest.warns(UserWarning, match="no refractory period"):
        nir.write(tmp_path / "snn.nir", to_nir(net))
    back = from_nir(nir.read(tmp_path / "snn.nir"))
    for p, q in zip(net.populations, back.populations):
        assert (p.name, p.model.tau_m, p.model.tau_ref) == (q.name, q.model.tau_m, q.model.tau_ref)
        np.testing.assert_array_equal(p.bias, q.bias)
    for c, d in zip(net.connections, back.connections):
        np.testing.assert_array_equal(c.weights, d.weights)
        assert c.synapse == d.synapse
    first, second = spikes_of(net, 0.2), spikes_of(back, 0.2)
    assert first["layer1"][0].size > 10
    for name in first:
        np.testing.assert_array_equal(first[name][0], second[name][0])
        np.testing.assert_array_equal(first[name][1], second[name][1])


def test_from_nir_normalizes_a_general_graph():
    """A hand-written physical-style CubaLIF graph: v in mV-like numbers, r != 1, Affine bias."""
    nir = pytest.importorskip("nir", reason="NIR import needs `pip install '.[nir]'`")
    from neurosim.export import from_nir

    n = 2
    graph = nir.NIRGraph(nodes={
        "x": nir.Input(input_type=np.array([1])),
        "w": nir.Affine(weight=np.array([[2.0], [4.0]]), bias=np.array([1.0, 0.0])),
        "lif": nir.CubaLIF(tau_syn=np.full(n, 0.01), tau_mem=np.full(n, 0.02), r=np.full(n, 5.0),
                           v_leak=np.full(n, -65.0), v_threshold=np.full(n, -50.0), v_reset=np.full(n, -70.0),
                           w_in=np.array([1.0, 0.5])),
        "out": nir.Output(output_type=np.array([n]))},
        edges=[("x", "w"), ("w", "lif"), ("lif", "out")], metadata={"dt": 1e-4})
    net = from_nir(graph, inputs={"x": [np.array([0.01])]})
    pop, conn = net.populations[0], net.connections[0]
    # span 20 mV: leak at (−65+70)/20 = 0.25, Affine bias 1 * r 5 * w_in 1 / 20 = 0.25 more for neuron 0
    np.testing.assert_allclose(pop.bias, [0.5, 0.25])
    np.testing.assert_allclose(conn.weights, [[2 * 5 / 20], [4 * 5 * 0.5 / 20]])
    assert conn.synapse.tau_s == 0.01 and pop.model.tau_ref == 0.0
    with pytest.raises(ValueError, match="no neurosim source data"):
        from_nir(graph)


def test_to_nir_rejects_injected_currents():
    pytest.importorskip("nir", reason="NIR export needs `pip install '.[nir]'`")
    from neurosim import Network
    from neurosim.export import to_nir

    net = Network(dt=1e-3)
    pop = net.add_population(LIF(), 3, name="p")
    net.add_current_input(pop, np.ones((10, 3)))
    with pytest.raises(ValueError, match="injected current"):
        to_nir(net)


# ---- PyNN on NEST (needs `pip install '.[pynn]'`) ------------------------------------------------

def _pynn_nest():
    pytest.importorskip("nest", reason="running on NEST needs `pip install '.[pynn]'` (nest-simulator)")
    return pytest.importorskip("pyNN.nest", reason="running on NEST needs `pip install '.[pynn]'` (pyNN)")


def isi_rates(trains):
    """Rate from the mean inter-spike interval of each train (no +-1 spike counting error)."""
    return np.array([(len(t) - 1) / (t[-1] - t[0]) for t in trains])


def test_single_lif_neurons_fire_at_the_same_rate_on_nest():
    sim = _pynn_nest()
    from neurosim import Network, from_events
    from neurosim.export import to_pynn

    bias = np.array([1.05, 1.3, 2.0, 4.0])
    model = LIF(tau_m=0.02, tau_ref=0.002)
    net = Network(dt=1e-4)
    pop = net.add_population(model, bias.size, bias=bias, name="lif")
    probe = net.probe(pop, "spikes")
    sim.setup(timestep=0.01)  # NEST puts spikes on its grid: 10 us keeps that error below 0.2 %
    exported = to_pynn(net, sim=sim, setup=False)
    exported.record("lif")
    exported.run(2.0)
    nest_rates = isi_rates(exported.spike_times("lif"))
    net.run(2.0)
    ours = isi_rates(from_events(*probe.data, n_neurons=bias.size))
    np.testing.assert_allclose(ours, model.rate(bias), rtol=1e-3)
    np.testing.assert_allclose(nest_rates, ours, rtol=0.01)


def test_cuba_on_nest_fires_within_neurosims_seed_spread():
    sim = _pynn_nest()
    from neurosim.export import to_pynn
    from neurosim.network.examples import cuba

    T, rates = 0.5, []
    for seed in range(5):
        net, spikes = cuba(n=4000, rng=seed)
        net.run(T)
        rates.append(spikes.data[0].size / 4000 / T)
    net, _ = cuba(n=4000, rng=0)
    exported = to_pynn(net, sim=sim, rng_seed=1)
    exported.record("cuba")
    exported.run(T)
    nest_rate = sum(len(t) for t in exported.spike_times("cuba")) / 4000 / T
    mean, spread = np.mean(rates), np.std(rates, ddof=1)
    assert abs(nest_rate - mean) <= 3 * spread, (nest_rate, rates)


def test_precise_timing_runs_nest_ps_models_at_the_analytic_rate():
    """iaf_psc_exp_ps / iaf_psc_alpha_ps locate threshold crossings exactly: G(J) to 1e-9 even at dt = 1 ms."""
    sim = _pynn_nest()
    from neurosim import Network
    from neurosim.export import to_pynn

    bias = np.array([1.05, 1.3, 2.0, 4.0])
    model = LIF(tau_m=0.02, tau_ref=0.002)
    for n in (0, 1):
        net = Network(dt=1e-3, timing="precise")
        src = net.add_population(model, bias.size, bias=bias, name="lif")
        other = net.add_population(model, 1, name="silent")
        net.connect(other, src, 0.0, synapse=PSCFilter(0.005, n=n))  # sets the PSC shape only
        exported = to_pynn(net, sim=sim)
        assert exported.populations["lif"].celltype.nest_model == ("iaf_psc_exp_ps", "iaf_psc_alpha_ps")[n]
        exported.record("lif")
        exported.run(2.0)
        np.testing.assert_allclose(isi_rates(exported.spike_times("lif")), model.rate(bias), rtol=1e-9)


def test_nest_ps_params_match_pynns_own_translation():
    """Our NEST names/units for the _ps models equal PyNN's translation of IF_curr_exp (an independent table)."""
    sim = _pynn_nest()
    from neurosim.export.units import nest_ps_params

    cell = pynn_units(0.015, 0.003, bias=1.7, tau_s=0.004, cm=0.25, v_reset=-70.0, v_thresh=-52.0).cell
    cell["tau_syn_I"] = 9.0
    theirs = sim.IF_curr_exp(**cell).native_parameters
    theirs.shape = (1,)
    theirs = {k: float(np.squeeze(v)) for k, v in theirs.evaluate(simplify=True).as_dict().items()}
    ours = nest_ps_params(cell)
    assert set(ours) <= set(theirs)
    for key, value in ours.items():
        assert value == pytest.approx(theirs[key], rel=1e-12), key


def test_single_lif_neurons_fire_at_the_analytic_rate_on_neuron():
    """Same export, NEURON backend: same unit conversion, rates within NEURON's O(dt) integration error."""
    pytest.importorskip("neuron", reason="running on NEURON needs `pip install '.[mpi]'` (neuron) and nrnivmodl")
    sim = pytest.importorskip("pyNN.neuron", reason="running on NEURON needs `pip install '.[mpi]'` (pyNN)")
    from neurosim import Network
    from neurosim.export import to_pynn

    bias = np.array([1.05, 1.3, 2.0, 4.0])
    model = LIF(tau_m=0.02, tau_ref=0.002)
    net = Network(dt=1e-5)
    net.add_population(model, bias.size, bias=bias, name="lif")
    exported = to_pynn(net, sim=sim, scale={"cm": 0.25, "v_reset": -70.0, "v_thresh": -55.0})
    exported.record("lif")
    exported.run(1.0)
    np.testing.assert_allclose(isi_rates(exported.spike_times("lif")), model.rate(bias), rtol=2e-3)


def test_to_nir_refuses_hodgkin_huxley_populations_naming_them():
    pytest.importorskip("nir", reason="NIR export needs `pip install '.[nir]'`")
    from neurosim import HodgkinHuxley, Network
    from neurosim.export import to_nir

    net = Network(dt=1e-5)
    net.add_population(HodgkinHuxley(), 2, name="hh")
    with pytest.raises(ValueError, match="'hh'.*only LIF.*HodgkinHuxley"):
        to_nir(net)


def test_nir_round_trip_of_a_network_without_sources(tmp_path):
    """An all-recurrent network (CUBA: no sources) exports with one unused Input node, passes NIR's type
    inference, survives write/read, and simulates to the same spikes."""
    nir = pytest.importorskip("nir", reason="NIR export needs `pip install '.[nir]'`")
    from neurosim.export import from_nir, to_nir
    from neurosim.network.examples import cuba

    net = cuba(n=400, rng=0)[0]
    with pytest.warns(UserWarning, match="refractory"):
        graph = to_nir(net)
    nir.write(tmp_path / "cuba.nir", graph)
    back = from_nir(nir.read(tmp_path / "cuba.nir"))
    a, b = net.probe(net.populations[0]), back.probe(back.populations[0])
    net.run(0.1)
    back.run(0.1)
    assert a.data[0].size > 50
    np.testing.assert_array_equal(a.data[1], b.data[1])
    np.testing.assert_allclose(a.data[0], b.data[0], rtol=0, atol=1e-12)
