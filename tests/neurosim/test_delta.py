"""Delta (voltage-jump) synapses: closed-form single neurons, refractory discard, units, subgroups,
refusals, and agreement with NEST's iaf_psc_delta (skipped without NEST)."""
import numpy as np
import pytest
from backend_equality import assert_same_events

import neurosim
from neurosim import HodgkinHuxley, LIF, LIFUnits, Network

TAU, TAU_REF, DT = 0.02, 0.002, 1e-4


def _trial0(data):
    """(times, indices) of trial 0 from a spike probe's data (with or without a batch)."""
    if len(data) == 3:
        times, idx, trials = data
        return times[trials == 0], idx[trials == 0]
    return data


def _single(sim, source_times, w, delay, v0=0.0, units=None):
    net = sim.network(dt=DT, rng=0)
    src = net.add_spike_source([np.asarray(source_times)])
    model = LIF(TAU, TAU_REF) if units is None else units
    pop = net.add_population(model, 1, v0=v0)
    net.connect(src, pop, w, synapse=neurosim.Delta(), delay=delay)
    return net, net.probe(pop, "spikes"), net.probe(pop, "v")


def _closed_form(t, arrivals, w, tau=TAU, tau_ref=TAU_REF):
    """v(t-) and spike times of a LIF (threshold 1, reset 0, no bias) receiving jumps w at ``arrivals``.

    Jumps at or before ``spike + tau_ref`` after a spike are discarded (NEST); a jump lifting v to >= 1 fires.
    """
    spikes, state = [], []  # state: (time of the last jump or reset, v just after it)
    last, v_after, ref_end = 0.0, 0.0, -np.inf
    for ta in arrivals:
        if ta <= ref_end + 1e-12:
            continue
        v = v_after * np.exp(-(ta - last) / tau) + w
        if v >= 1.0:
            spikes.append(ta)
            last, v_after, ref_end = ta, 0.0, ta + tau_ref
        else:
            last, v_after = ta, v
        state.append((last, v_after))
    out = np.zeros(len(t))
    for i, ti in enumerate(t):
        v, tl = 0.0, 0.0
        for (tj, vj) in state:
            if tj < ti - 1e-12:
                v, tl = vj, tj
        out[i] = v * np.exp(-(ti - tl) / tau)
    return out, np.array(spikes)


def test_jumps_closed_form(sim):
    """Arrivals on step boundaries: v(t) is the sum of decaying jumps; a jump to >= 1 fires at its arrival; the
    jumps during the refractory period (the one at its very end included) are discarded."""
    source = np.array([1.0, 3.0, 3.5, 4.0, 5.5, 5.6, 7.0]) * 1e-3
    delay, w = 1e-3, 0.45
    net, spikes, v = _single(sim, source, w, delay)
    if sim.refuses(net):
        return
    net.run(0.012)
    times, idx = _trial0(spikes.data)
    arrivals = source + delay
    expected_v, expected_spikes = _closed_form(v.t, arrivals, w)
    np.testing.assert_allclose(times, expected_spikes, rtol=0, atol=1e-12)
    assert expected_spikes.tolist() == pytest.approx([4.5e-3])  # the oracle itself: one spike, at 4.5 ms
    values = v.data[:, 0] if sim.batch is None else v.data[:, 0, 0]
    np.testing.assert_allclose(values, expected_v, rtol=0, atol=1e-12)
    # 6.5 ms (= 4.5 + tau_ref) discarded, 6.6 ms and 8 ms kept: 0.45 e^(-1.4/20) + 0.45 at 8 ms
    at = np.searchsorted(v.t, 8.1e-3 - 1e-12)
    assert values[at] == pytest.approx((0.45 * np.exp(-1.4 / 20) + 0.45) * np.exp(-0.1 / 20), abs=1e-12)


def test_grid_arrival_inside_a_step_jumps_at_its_start():
    """An arrival at 2.05 ms (inside [2.0, 2.1) ms) jumps v at 2.0 ms on the grid (the delay convention)."""
    net = Network(dt=DT, backend="numpy")
    src = net.add_spike_source([np.array([1.05e-3])])
    pop = net.add_population(LIF(TAU, TAU_REF), 1)
    net.connect(src, pop, 0.3, synapse=neurosim.Delta(), delay=1e-3)
    v = net.probe(pop, "v")
    net.run(3e-3)
    at = {round(t * 1e4): x for t, x in zip(v.t, v.data[:, 0])}
    assert at[20] == 0.0  # v(2.0 ms-): before the jump
    assert at[21] == pytest.approx(0.3 * np.exp(-1e-4 / TAU), rel=1e-12)
    assert at[30] == pytest.approx(0.3 * np.exp(-1e-3 / TAU), rel=1e-12)


def test_threshold_crossing_by_jump_against_bias():
    """With a bias, the membrane relaxes to J between jumps; a jump from v(t-) to >= 1 fires exactly then."""
    J = 0.9
    net = Network(dt=DT, backend="numpy")
    src = net.add_spike_source([np.array([0.0099, 0.0199])])  # arrive at 10 and 20 ms (delay 0.1 ms)
    pop = net.add_population(LIF(TAU, TAU_REF), 1, bias=J)
    net.connect(src, pop, 0.35, synapse=neurosim.Delta(), delay=1e-4)
    spikes = net.probe(pop, "spikes")
    v = net.probe(pop, "v")
    net.run(0.03)
    v10 = J * (1 - np.exp(-0.01 / TAU))  # 0.354 + 0.35 < 1: no spike
    v20 = J + (v10 + 0.35 - J) * np.exp(-0.01 / TAU)
    assert v10 + 0.35 < 1 and v20 + 0.35 >= 1
    np.testing.assert_allclose(spikes.data[0], [0.02], atol=1e-12)
    at = np.searchsorted(v.t, 0.015 - 1e-12)
    assert v.data[at, 0] == pytest.approx(J + (v10 + 0.35 - J) * np.exp(-0.005 / TAU), rel=1e-12)


def test_units_weights_are_volts_and_subgroups():
    """A LIFUnits target takes jumps in volts; a subgroup view receives only its neurons' jumps."""
    units = LIFUnits(C=2e-10, g_L=1e-8, V_L=-0.065, V_th=-0.050, V_reset=-0.065)
    net = Network(dt=DT, backend="numpy")
    src = net.add_spike_source([np.array([1e-3])])
    pop = net.add_population(units, 3, bias=units.J_to_current(0.0))  # J = 0: v decays to the reset
    net.connect(src, pop[1:3], np.array([[0.006], [0.012]]), synapse=neurosim.Delta(), delay=1e-3)
    v = net.probe(pop, "v")
    net.run(4e-3)
    at = np.searchsorted(v.t, 3e-3 - 1e-12)
    decay = np.exp(-1e-3 / units.tau_m)
    np.testing.assert_allclose(v.data[at], [-0.065, -0.065 + 0.006 * decay, -0.065 + 0.012 * decay],
                               rtol=0, atol=1e-15)


def test_batch_equals_single_run():
    """Each trial of a batch sees the same jumps as a single run (the same spike source in every trial)."""
    out = []
    for batch in (None, 3):
        net = Network(dt=DT, batch=batch, backend="numpy", rng=1)
        src = net.add_spike_source([np.arange(1, 40) * 0.37e-3])
        pop = net.add_population(LIF(TAU, TAU_REF), 2)
        net.connect(src, pop, np.array([[0.2], [0.31]]), synapse=neurosim.Delta(), delay=1.5e-3)
        s = net.probe(pop, "spikes")
        net.run(0.02)
        out.append(s.data)
    times, idx = out[0]
    assert times.size > 3
    for t in range(3):
        sel = out[1][2] == t
        np.testing.assert_array_equal(out[1][0][sel], times)
        np.testing.assert_array_equal(out[1][1][sel], idx)


def test_refusals():
    """Where a jump has no defined meaning, connect, build or probe raise and say why."""
    net = Network(dt=1e-5)
    src = net.add_spike_source([np.array([1e-3])])
    hh = net.add_population(HodgkinHuxley(), 1)
    with pytest.raises(ValueError, match="needs a LIF target"):
        net.connect(src, hh, 1.0, synapse=neurosim.Delta())
    net = Network(dt=DT)
    src = net.add_spike_source([np.array([1e-3])])
    pop = net.add_population(LIF(), 1)
    with pytest.raises(ValueError, match="placement='exact' with synapse=Delta"):
        net.connect(src, pop, 0.5, synapse=neurosim.Delta(), placement="exact")
    net.connect(src, pop, 0.5, synapse=neurosim.Delta())
    net.probe(pop, "current")
    with pytest.raises(ValueError, match="current is a sum of Dirac"):
        net.build()
    with pytest.raises(TypeError, match="PSCFilter or Delta"):
        neurosim.Connection(src, pop, 0.5, "delta", 0.0)


def test_numba_refuses_delta_into_a_noisy_population_and_auto_falls_back():
    pytest.importorskip("numba", reason="pip install numba")
    from neurosim.network.compiled import unsupported

    def make(backend):
        net = Network(dt=DT, backend=backend)
        src = net.add_spike_source([np.array([1e-3])])
        pop = net.add_population(LIF(), 1)
        net.add_noise(pop, 0.1)
        net.connect(src, pop, 0.5, synapse=neurosim.Delta())
        return net

    assert any("Delta" in why for why in unsupported(make("auto")))
    net = make("auto")
    net.run(2e-3)
    assert net.backend == "numpy"
    with pytest.raises(ValueError, match="Delta.*membrane noise"):
        make("numba").build()


def _recurrent_delta(sim, dt, tau_ref, delay, psc):
    """Delta synapses from an independent-per-target drive, a Poisson source and recurrent connections
    (excitatory and inhibitory), optionally next to a PSC synapse into the same population."""
    net = sim.network(dt=dt, rng=5)
    drive = net.add_poisson(1, rate=20000.0, independent_per_target=True)
    src = net.add_poisson(10, rate=300.0)
    a = net.add_population(LIF(0.02, tau_ref), 50)
    w = np.random.default_rng(0)
    net.connect(drive, a, 0.1, synapse=neurosim.Delta(), delay=delay)
    net.connect(src, a, w.uniform(0, 0.2, (50, 10)), synapse=neurosim.Delta())
    net.connect(a, a, w.uniform(-0.1, 0.08, (50, 50)) * (w.random((50, 50)) < 0.2), synapse=neurosim.Delta(),
                delay=delay)
    if psc:
        net.connect(a, a, w.uniform(-0.05, 0.05, (50, 50)), synapse=neurosim.PSCFilter(0.003))
    return net, [net.probe(a, "spikes"), net.probe(a, "v", sample_every=3 * dt)]


@pytest.mark.parametrize("dt, tau_ref, delay, psc", [(1e-3, 2e-3, 2e-3, False), (1e-4, 1e-3, 1e-3, False),
                                                     (1e-4, 5e-5, 1.5e-3, True)])
def test_delta_networks_give_the_numpy_backends_spikes(sim, dt, tau_ref, delay, psc):
    """Backend equality: the same spikes (times to 1e-12 s) and v to 1e-12, over two runs (the refractory list
    that decides which jumps at the end of a period are discarded carries across them). tau_ref a multiple of
    dt puts period ends on step boundaries (the discard-at-the-end rule); tau_ref < dt repeats spikes."""
    from dataclasses import replace

    net, probes = _recurrent_delta(sim, dt, tau_ref, delay, psc)
    if sim.refuses(net):
        return
    if sim.timing == "precise":  # precise timing is tested against NEST's iaf_psc_delta_ps elsewhere
        return
    if sim.backend == "numpy":  # the reference itself: nothing to compare
        pytest.skip("backend equality: the numpy cell is the reference")
    ref, pr = _recurrent_delta(replace(sim, backend="numpy"), dt, tau_ref, delay, psc)
    for n in (net, ref):
        n.run(0.15)
        n.run(0.1)
    assert net.backend == sim.backend
    (x, vx), (y, vy) = probes, pr
    assert_same_events(x.data, y.data, min_events=1000)
    # tau_ref < dt: v after a repeated spike carries the last bits of several spike times (PSC synapses in the
    # same cell show the same 1e-11)
    np.testing.assert_allclose(vx.data, vy.data, rtol=0, atol=1e-12 if tau_ref >= dt else 1e-11)


def test_against_nest_iaf_psc_delta():
    """The same neuron and input spikes in NEST (iaf_psc_delta, spike_generator, delay 1 ms): the same spike
    times, and v(t) to 1e-9 mV."""
    nest = pytest.importorskip("nest", reason="pip install nest-simulator")
    rng = np.random.default_rng(3)
    steps = np.unique(rng.integers(1, 2000, 400))
    source = steps * 1e-4  # on the grid, as NEST's spike_generator needs
    w_mV, bias_pA = 2.5, 600.0  # C_m = 250 pF, tau_m = 20 ms: R = 80 MOhm, 600 pA -> J = 48 mV / 15 mV
    nest.ResetKernel()
    nest.set_verbosity("M_ERROR")
    nest.resolution = 0.1
    params = dict(C_m=250.0, tau_m=20.0, t_ref=2.0, E_L=-65.0, V_reset=-65.0, V_th=-50.0, V_m=-65.0, I_e=bias_pA * 0.1)
    n = nest.Create("iaf_psc_delta", params=params)
    gen = nest.Create("spike_generator", params={"spike_times": np.round(source * 1e3, 1)})
    nest.Connect(gen, n, syn_spec={"weight": w_mV, "delay": 1.0})
    rec = nest.Create("spike_recorder")
    mm = nest.Create("multimeter", params={"record_from": ["V_m"], "interval": 0.1})
    nest.Connect(n, rec)
    nest.Connect(mm, n)
    nest.Simulate(220.0)
    nest_spikes = np.sort(rec.events["times"]) * 1e-3
    units = LIFUnits(C=250e-12, g_L=250e-12 / 0.02, V_L=-0.065, V_th=-0.050, V_reset=-0.065, tau_ref=0.002)
    net = Network(dt=1e-4, backend="numpy")
    src = net.add_spike_source([source])
    pop = net.add_population(units, 1, bias=bias_pA * 0.1 * 1e-12)
    net.connect(src, pop, w_mV * 1e-3, synapse=neurosim.Delta(), delay=1e-3)
    spikes = net.probe(pop, "spikes")
    net.run(0.22)
    assert nest_spikes.size > 5
    np.testing.assert_allclose(spikes.data[0], nest_spikes, rtol=0, atol=1e-9)


def _exported_net():
    net = Network(dt=1e-4, backend="numpy")
    # on the grid, and never at the same time (simultaneous arrivals through PyNN: see the report)
    src = net.add_spike_source([np.arange(1, 200) * 0.7e-3, np.arange(1, 90) * 1.4e-3 + 0.1e-3])
    # tau_ref off the grid: no input arrives exactly as a refractory period ends, where NEST's grid model
    # (neurosim's convention) discards it and PyNN's IF_curr_delta on NEST (iaf_psc_delta_ps) keeps it
    pop = net.add_population(LIF(TAU, 0.00205), 2, bias=0.8, name="lif")
    net.connect(src, pop, np.array([[0.12, -0.05], [0.2, 0.1]]), synapse=neurosim.Delta(), delay=1e-3)
    return net, pop


def test_pynn_plan_is_if_curr_delta_with_mV_weights():
    """The PyNN plan (shared by the live export and the script): IF_curr_delta, weights = jumps x 15 mV."""
    from neurosim.export.pynn.live import export_plan

    net, _ = _exported_net()
    meta, arrays = export_plan(net)
    assert [c["type"] for c in meta["cells"]] == ["IF_curr_delta"]
    assert not any(k.startswith("tau_syn") for k in meta["cells"][0]["params"])
    rows = np.concatenate([arrays[p["rows"]] for p in meta["projections"]])
    W = np.zeros((2, 2))
    W[rows[:, 1].astype(int), rows[:, 0].astype(int)] = rows[:, 2]
    np.testing.assert_allclose(W, 15.0 * np.array([[0.12, -0.05], [0.2, 0.1]]), rtol=1e-12)
    units = LIFUnits(C=1e-9, g_L=5e-8, V_L=-0.065, V_th=-0.05, V_reset=-0.065)
    net = Network(dt=1e-4)
    src = net.add_spike_source([np.array([1e-3])])
    pop = net.add_population(units, 1)
    net.connect(src, pop, 0.003, synapse=neurosim.Delta())  # 3 mV
    meta, arrays = export_plan(net)
    assert arrays[meta["projections"][0]["rows"]][0, 2] == pytest.approx(3.0, rel=1e-12)


def test_pynn_refusals():
    from neurosim.export import to_pynn

    net = Network(dt=1e-4)
    src = net.add_spike_source([np.array([1e-3])])
    pop = net.add_population(LIF(), 1)
    net.connect(src, pop, 0.1, synapse=neurosim.Delta())
    net.connect(src, pop, 0.1, synapse=neurosim.PSCFilter(0.005))
    with pytest.raises(ValueError, match="both Delta and PSC"):
        to_pynn(net, sim=object())


@pytest.mark.xfail(strict=True, reason="PyNN's IF_curr_delta on NEST (iaf_psc_delta_ps built by PyNN) holds V at "
                   "reset until the next grid point after a refractory period that ends inside a step (2.1 ms for "
                   "t_ref = 2.05 ms, though its t_ref reads 2.05), and so drops an input that NEST's own "
                   "iaf_psc_delta_ps, built directly with the same parameters, keeps (see "
                   "test_nest_iaf_psc_delta_ps_agrees); cause inside PyNN not found yet. No parameter choice removes it: an "
                   "on-grid t_ref leaves ps's keeping of an input at the refractory end, and spike_precision='on_grid' "
                   "(iaf_psc_delta) fires a step late through PyNN (docs/models.md)")
def test_pynn_on_nest_agrees():
    """Exported live to PyNN on NEST (IF_curr_delta): the same spikes as neurosim, within one step."""
    pytest.importorskip("nest", reason="pip install nest-simulator")
    sim = pytest.importorskip("pyNN.nest", reason="pip install pyNN nest-simulator")
    from neurosim.export import to_pynn

    net, pop = _exported_net()
    spikes = net.probe(pop, "spikes")
    sim.setup(timestep=0.1, min_delay=0.1)
    exported = to_pynn(net, sim=sim, setup=False)
    exported.record("lif")
    exported.run(0.15)
    net.run(0.15)
    ours = neurosim.from_events(*spikes.data, n_neurons=2)
    theirs = exported.spike_times("lif")
    for a, b in zip(ours, theirs):
        assert a.size > 5 and a.size == b.size
        np.testing.assert_allclose(b, a, atol=1e-4 + 1e-9)


def test_nest_iaf_psc_delta_ps_agrees():
    """The network of the PyNN export, built directly in NEST with iaf_psc_delta_ps (the model PyNN's
    IF_curr_delta maps to): the same spike times as neurosim (inputs on the grid, t_ref off the grid)."""
    nest = pytest.importorskip("nest", reason="pip install nest-simulator")
    net, pop = _exported_net()
    spikes = net.probe(pop, "spikes")
    net.run(0.15)
    ours = neurosim.from_events(*spikes.data, n_neurons=2)
    nest.ResetKernel()
    nest.set_verbosity("M_ERROR")
    nest.resolution = 0.1
    cells = nest.Create("iaf_psc_delta_ps", 2, params=dict(C_m=1000.0, tau_m=20.0, t_ref=2.05, E_L=-65.0,
                                                           V_reset=-65.0, V_th=-50.0, V_m=-65.0, I_e=600.0))
    W = np.array([[0.12, -0.05], [0.2, 0.1]]) * 15.0
    for j, times in enumerate(net.sources[0].spike_times):
        g = nest.Create("spike_generator", params={"spike_times": np.round(times * 1e3, 1)})
        for i in range(2):
            nest.Connect(g, cells[i], syn_spec={"weight": W[i, j], "delay": 1.0})
    rec = nest.Create("spike_recorder")
    nest.Connect(cells, rec)
    nest.Simulate(150.0)
    ev = rec.events
    for i in range(2):
        theirs = np.sort(ev["times"][ev["senders"] == cells[i].global_id]) * 1e-3
        assert ours[i].size > 5
        np.testing.assert_allclose(ours[i], theirs, rtol=0, atol=1e-9)


def test_nir_refuses_delta_and_independent_drives():
    pytest.importorskip("nir", reason="pip install nir")
    from neurosim.export import to_nir

    net = Network(dt=1e-4)
    src = net.add_spike_source([np.array([1e-3])])
    pop = net.add_population(LIF(), 1)
    net.connect(src, pop, 0.5, synapse=neurosim.Delta())
    with pytest.raises(ValueError, match="Delta"):
        to_nir(net)
    net = Network(dt=1e-4)
    src = net.add_poisson(1, 10.0, independent_per_target=True)
    pop = net.add_population(LIF(), 2)
    net.connect(src, pop, np.ones((2, 1)))
    with pytest.raises(ValueError, match="independent_per_target"):
        to_nir(net)


def test_precise_jumps_at_exact_arrival_times_any_dt():
    """Precise timing: arrivals off the grid jump v at their exact times, and a jump to >= 1 fires at its arrival;
    the spike times equal the closed form and do not depend on dt."""
    source = np.array([1.03, 2.612, 3.377, 4.049, 6.004, 6.31, 6.61]) * 1e-3  # arrivals off both grids
    delay, w = 1.2e-3, 0.4
    arrivals = source + delay
    _, expected = _closed_form(np.zeros(0), arrivals, w)
    assert expected.size == 2
    for dt in (1e-4, 3e-5):
        net = Network(dt=dt, timing="precise")
        src = net.add_spike_source([source])
        pop = net.add_population(LIF(TAU, TAU_REF), 1)
        net.connect(src, pop, w, synapse=neurosim.Delta(), delay=delay)
        s = net.probe(pop, "spikes")
        v = net.probe(pop, "v")
        net.run(0.0099)
        np.testing.assert_allclose(s.data[0], expected, rtol=0, atol=1e-15)
        values, _ = _closed_form(v.t, arrivals, w)
        np.testing.assert_allclose(v.data[:, 0], values, rtol=0, atol=1e-13)


def test_precise_against_nest_iaf_psc_delta_ps():
    """Off-grid input times (precise spike_generator) into NEST's iaf_psc_delta_ps and into neurosim's precise mode:
    the same spike times to 1e-9 s."""
    nest = pytest.importorskip("nest", reason="pip install nest-simulator")
    rng = np.random.default_rng(11)
    source = np.sort(rng.uniform(0.001, 0.3, 900)).round(7)  # 0.1 us resolution, off the 0.1 ms grid
    w, J = 0.09, 0.7
    nest.ResetKernel()
    nest.set_verbosity("M_ERROR")
    nest.resolution = 0.1
    cell = nest.Create("iaf_psc_delta_ps", params=dict(C_m=1000.0, tau_m=20.0, t_ref=2.0, E_L=0.0, V_reset=0.0,
                                                        V_th=15.0, V_m=0.0, I_e=1000.0 * J * 15.0 / 20.0))
    gen = nest.Create("spike_generator", params={"spike_times": source * 1e3, "precise_times": True})
    nest.Connect(gen, cell, syn_spec={"weight": w * 15.0, "delay": 1.0})
    rec = nest.Create("spike_recorder")
    nest.Connect(cell, rec)
    nest.Simulate(320.0)
    theirs = np.sort(rec.events["times"]) * 1e-3
    net = Network(dt=1e-4, timing="precise")
    src = net.add_spike_source([source])
    pop = net.add_population(LIF(TAU, TAU_REF), 1, bias=J)
    net.connect(src, pop, w, synapse=neurosim.Delta(), delay=1e-3)
    s = net.probe(pop, "spikes")
    net.run(0.32)
    assert theirs.size > 20
    np.testing.assert_allclose(s.data[0], theirs, rtol=0, atol=1e-9)


def test_stdp_on_delta_synapses_is_refused():
    net = Network(dt=1e-4)
    src = net.add_spike_source([np.array([1e-3])])
    pop = net.add_population(LIF(), 1)
    stdp = neurosim.STDP(tau_plus=0.02, tau_minus=0.02, A_plus=0.01, A_minus=0.01, w_min=0.0, w_max=1.0)
    with pytest.raises(ValueError, match="Delta"):
        net.connect(src, pop, 0.5, synapse=neurosim.Delta(), plasticity=stdp)


def test_per_neuron_refractory_periods_discard_their_own_windows():
    """With tau_ref per neuron, each neuron discards the jumps of its own refractory window."""
    net = Network(dt=DT, backend="numpy")
    src = net.add_spike_source([np.array([1.0, 3.5, 5.6]) * 1e-3])
    pop = net.add_population(LIF(TAU, np.array([0.002, 0.004])), 2)
    net.connect(src, pop, 1.2, synapse=neurosim.Delta(), delay=1e-3)  # every accepted jump fires
    s = net.probe(pop, "spikes")
    net.run(0.008)
    times, idx = s.data
    # arrivals 2.0, 4.5, 6.6 ms: neuron 0 (2 ms) fires at all three; neuron 1 (4 ms) discards 4.5 (<= 6.0)
    np.testing.assert_allclose(times[idx == 0], [2e-3, 4.5e-3, 6.6e-3], atol=1e-12)
    np.testing.assert_allclose(times[idx == 1], [2e-3, 6.6e-3], atol=1e-12)
