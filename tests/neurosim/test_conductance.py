"""Conductance-based synapses (issue 22, item 2): neurosim.Conductance and the COBA network.

Oracle: scipy's solve_ivp (DOP853, rtol 1e-12) on the continuous equations
``C dV/dt = -g_L (V - E_L) + sum_k g_k(t) (E_k - V) + I``, integrated piecewise between input spikes.
The grid step holds each conductance at its exact mean over the step; the measured error is second
order in dt (1.6e-7 V at dt = 0.1 ms for the inputs below; bounds are 2x the measurement).
"""
import numpy as np
import pytest
from backend_equality import assert_same_events
from scipy.integrate import solve_ivp

import neurosim
from neurosim import LIF, Conductance, HodgkinHuxley, LIFState, LIFUnits, Network, PSCFilter
from neurosim.synapses.conductance import step_mean_coefficients

C, G_L, E_L, V_TH, V_R = 200e-12, 10e-9, -0.060, -0.040, -0.060
UNITS = LIFUnits(C=C, g_L=G_L, V_L=E_L, V_th=V_TH, V_reset=V_R, tau_ref=0.005)
T_E = np.array([0.010, 0.012, 0.030, 0.0305, 0.050])
T_I = np.array([0.020, 0.031, 0.060])
W_E, TAU_E, E_E = 8e-9, 0.005, 0.0
W_I, TAU_I, E_I = 20e-9, 0.010, -0.080
T = 0.08


def _g(t, w, tau, times, n=0):
    """Sum of peak-normalised kernels w (s/(n tau))^n e^(n - s/tau) of the spikes before t."""
    s = t - times[times <= t]
    if n == 0:
        return w * np.exp(-s / tau).sum()
    return w * ((s / (n * tau)) ** n * np.exp(n - s / tau)).sum()


def _reference(grid, n=0, I=0.0, threshold=None, tau_ref=0.005, t_end=T):
    """V on the grid k * grid (k = 1..), and spike times, from solve_ivp between input spikes and crossings."""
    def f(t, y):
        return [(-G_L * (y[0] - E_L) + _g(t, W_E, TAU_E, T_E, n) * (E_E - y[0])
                 + _g(t, W_I, TAU_I, T_I, n) * (E_I - y[0]) + I) / C]

    def crossing(t, y):
        return y[0] - threshold
    crossing.terminal, crossing.direction = True, 1
    grid_t = np.arange(1, int(round(t_end / grid)) + 1) * grid
    edges = list(np.unique(np.r_[T_E, T_I, t_end]))
    t, V, spikes, out = 0.0, E_L, [], np.full(grid_t.size, np.nan)
    while t < t_end - 1e-12:
        b = min(e for e in edges if e > t + 1e-12)
        sol = solve_ivp(f, (t, b), [V], method="DOP853", rtol=1e-12, atol=1e-16, dense_output=True,
                        events=crossing if threshold is not None else None)
        end = sol.t[-1]
        m = (grid_t > t + 1e-12) & (grid_t <= end + 1e-12)
        if m.any():
            out[m] = sol.sol(grid_t[m])[0]
        t, V = end, sol.y[0, -1]
        if threshold is not None and sol.status == 1:  # a spike: reset and hold for tau_ref
            spikes.append(end)
            hold = min(end + tau_ref, t_end)
            out[(grid_t > end + 1e-12) & (grid_t <= hold + 1e-12)] = V_R
            t, V = hold, V_R
            edges.append(hold)
    return out, np.array(spikes)


def _network(dt, synapses=(Conductance(TAU_E, E_E), Conductance(TAU_I, E_I)), weights=(W_E, W_I), units=UNITS,
             bias=0.0, delay=0.0, shift=0.0, batch=None, timing="grid", backend="numpy"):
    net = Network(dt=dt, batch=batch, timing=timing, backend=backend)
    src = net.add_spike_source([T_E + shift, T_I + shift])
    pop = net.add_population(units, 1, bias=bias)
    for k, (syn, w) in enumerate(zip(synapses, weights)):
        W = np.zeros((1, 2))
        W[0, k] = w
        net.connect(src, pop, W, synapse=syn, delay=delay)
    return net, pop, net.probe(pop, "v"), net.probe(pop, "spikes"), net.probe(pop, "current")


def test_subthreshold_voltage_matches_solve_ivp_second_order():
    ref, _ = _reference(1e-4)
    assert ref.max() > E_L + 0.01  # the inputs move V by more than 10 mV
    errors = []
    for dt in (1e-4, 5e-5, 2.5e-5):
        net, _, v, _, _ = _network(dt)
        net.run(T)
        k = int(round(1e-4 / dt))
        errors.append(np.max(np.abs(v.data[k - 1::k, 0] - ref)))
    assert errors[0] < 3.2e-7  # measured 1.60e-7 V
    assert np.log2(errors[0] / errors[1]) > 1.9 and np.log2(errors[1] / errors[2]) > 1.9  # measured 2.00, 2.00
    # a 1 % larger excitatory weight is far outside the tolerance
    net, _, v, _, _ = _network(1e-4, weights=(1.01 * W_E, W_I))
    net.run(T)
    assert np.max(np.abs(v.data[:, 0] - ref)) > 100 * errors[0]


@pytest.mark.parametrize("n, bound", [(1, 6.4e-7), (2, 5.4e-7)])  # measured 3.19e-7 V, 2.69e-7 V
def test_higher_order_conductance_in_normalized_units_matches_solve_ivp(n, bound):
    # normalized LIF: g in units of g_L, E_rev in normalized voltage; the same neuron as UNITS
    span = 0.04  # threshold at -20 mV: the inputs (larger charge than exponential ones) stay below it
    syns = (Conductance(TAU_E, (E_E - V_R) / span, n=n), Conductance(TAU_I, (E_I - V_R) / span, n=n))
    ref, _ = _reference(1e-4, n=n)
    net, _, v, _, _ = _network(1e-4, synapses=syns, weights=(W_E / G_L, W_I / G_L), units=LIF(tau_m=C / G_L),
                               bias=(E_L - V_R) / span)
    net.run(T)
    got = V_R + span * v.data[:, 0]
    err = np.max(np.abs(got - ref))
    assert err < bound
    assert np.max(np.abs(ref - E_L)) > 0.005


def test_per_neuron_capacitance_current_input_and_subgroups():
    # per-neuron C (so tau_eff per neuron), a current given with add_current_input instead of a bias, and a
    # connection into a subgroup: each neuron equals its own single-neuron network (the solve_ivp-tested one)
    Cs = np.array([150e-12, 200e-12, 300e-12])
    units = LIFUnits(C=Cs, g_L=G_L, V_L=E_L, V_th=V_TH, V_reset=V_R, tau_ref=0.005)
    net = Network(dt=1e-4, backend="numpy")
    src = net.add_spike_source([T_E, T_I])
    pop = net.add_population(units, 3)
    net.add_current_input(pop, np.full((int(round(T / 1e-4)), 3), 0.05e-9))  # amperes, per step
    for k, (syn, w) in enumerate(zip((Conductance(TAU_E, E_E), Conductance(TAU_I, E_I)), (W_E, W_I))):
        W = np.zeros((2, 2))
        W[:, k] = w
        net.connect(src, pop[1:3], W, synapse=syn)
    v = net.probe(pop, "v")
    net.run(T)
    for i in range(3):
        one = LIFUnits(C=Cs[i], g_L=G_L, V_L=E_L, V_th=V_TH, V_reset=V_R, tau_ref=0.005)
        weights = (W_E, W_I) if i else (0.0, 0.0)
        alone, _, va, _, _ = _network(1e-4, units=one, bias=0.05e-9, weights=weights)
        alone.run(T)
        np.testing.assert_allclose(v.data[:, i], va.data[:, 0], rtol=0, atol=1e-15)
    assert np.ptp(v.data[:, 1] - v.data[:, 2]) > 1e-4  # the capacitances matter


def test_spike_times_match_solve_ivp():
    # a driven neuron that fires: threshold crossings located inside the step, held at reset for tau_ref
    units = LIFUnits(C=C, g_L=G_L, V_L=E_L, V_th=-0.050, V_reset=V_R, tau_ref=0.005)
    global V_TH
    saved, V_TH = V_TH, -0.050
    try:
        ref_v, ref_spikes = _reference(1e-4, I=0.25e-9, threshold=-0.050)
    finally:
        V_TH = saved
    net, _, v, spikes, _ = _network(1e-4, units=units, bias=0.25e-9)
    net.run(T)
    got = spikes.data[0]
    assert ref_spikes.size >= 3
    assert got.size == ref_spikes.size
    np.testing.assert_allclose(got, ref_spikes, rtol=0, atol=3.5e-7)  # measured 1.7e-7 s (4.9e-8 s at dt/2)


def test_current_probe_is_g_times_driving_force():
    ref, _ = _reference(1e-4)
    net, _, v, _, cur = _network(1e-4)
    net.run(T)
    t = np.arange(1, ref.size + 1) * 1e-4
    V = v.data[:, 0]
    want = np.array([_g(tk, W_E, TAU_E, T_E) * (E_E - Vk) + _g(tk, W_I, TAU_I, T_I) * (E_I - Vk)
                     for tk, Vk in zip(t, V)])
    # spikes arrive at step boundaries: a probe after step k sees g(k dt) with the spike at k dt included
    np.testing.assert_allclose(cur.data[:, 0], want, rtol=1e-9, atol=1e-22)
    assert np.max(np.abs(want)) > 1e-10  # amperes


def test_delay_equals_shifted_input_and_batch_equals_single():
    a, _, va, _, _ = _network(1e-4, delay=0.0032)
    b, _, vb, _, _ = _network(1e-4, shift=0.0032)
    a.run(T)
    b.run(T)
    np.testing.assert_allclose(va.data, vb.data, rtol=0, atol=1e-15)
    c, _, vc, _, _ = _network(1e-4, delay=0.0032, batch=2)
    c.run(T)
    for trial in range(2):
        np.testing.assert_array_equal(vc.data[:, trial, :], va.data)


def test_store_restore_and_mixed_current_synapses():
    net, pop, v, _, _ = _network(1e-4, synapses=(Conductance(TAU_E, E_E), PSCFilter(TAU_I)),
                                 weights=(W_E, -1e-12))
    net.run(0.02)
    net.store()
    net.run(0.04)
    first = v.data[-400:].copy()
    net.restore()
    net.run(0.04)
    np.testing.assert_array_equal(v.data[-400:], first)


def test_network_matrix_cells(sim):
    def build(net):
        src = net.add_spike_source([T_E, T_I])
        pop = net.add_population(UNITS, 2)
        net.connect(src, pop, np.array([[W_E, 0.0], [W_E, 0.0]]), synapse=Conductance(TAU_E, E_E), delay=2e-4)
        return net.probe(pop, "v")

    net = sim.network(dt=1e-4)
    probe = build(net)
    if sim.refuses(net):
        return
    if sim.timing == "precise":
        with pytest.raises(ValueError, match="conductance"):
            net.build()
        return
    net.run(0.03)
    ref_net = Network(dt=1e-4, backend="numpy")  # the grid, numpy, unbatched reference (itself tested above)
    ref = build(ref_net)
    ref_net.run(0.03)
    got = probe.data if sim.batch is None else probe.data[:, 0]
    assert np.max(ref.data) > E_L + 1e-3  # the input moves v: a cell that ignored it would differ
    np.testing.assert_allclose(got, ref.data, rtol=0, atol=1e-12)


def test_refusals_and_bad_input():
    net = Network(dt=1e-5)
    src = net.add_spike_source([T_E])
    hh = net.add_population(HodgkinHuxley(), 1)
    with pytest.raises(ValueError, match="LIF"):
        net.connect(src, hh, 1.0, synapse=Conductance(TAU_E, 0.0))
    with pytest.raises(TypeError, match="E_rev"):
        Conductance(0.005, E_rev="0 mV")
    with pytest.raises(ValueError, match="E_rev"):
        Conductance(0.005, E_rev=np.inf)
    with pytest.raises(ValueError, match="tau_s"):
        Conductance(-0.005, 0.0)
    net, *_ = _network(1e-4)
    net.add_noise(net.populations[0], 0.001)
    with pytest.raises(ValueError, match="noise"):
        net.build()
    state = LIFState(LIF(), 2, 1e-4)
    with pytest.raises(ValueError, match="g must be >= 0"):
        state.step_conductance(1.0, np.array([0.1, -0.1]), 0.0, 0.0)


def test_the_compiled_loop_samples_the_conductance_current():
    """The "current" probe of a conductance population, g (E - v) of each conductance, runs compiled under
    "auto" and equals the numpy backend's to 1e-12 of its largest value (amperes)."""
    pytest.importorskip("numba", reason="pip install numba")
    out = {}
    for backend in ("auto", "numpy"):
        net, _, v, _, current = _network(1e-4, backend=backend)
        net.run(0.06)
        out[backend] = (net.backend, v.data, current.data)
    assert out["auto"][0] == "numba"
    scale = np.abs(out["numpy"][2]).max()
    assert scale > 1e-11
    np.testing.assert_allclose(out["auto"][2], out["numpy"][2], rtol=0, atol=1e-12 * scale)
    np.testing.assert_allclose(out["auto"][1], out["numpy"][1], rtol=0, atol=1e-12 * (V_TH - V_R))


def test_state_step_conductance_is_the_lif_step_with_tau_eff():
    # one formula: with g, g_E the step equals an LIF with tau_m / (1 + g) and input (J + g_E) / (1 + g)
    g, gE, J = np.array([0.0, 0.5, 3.0]), np.array([0.0, 2.0, -1.5]), np.array([1.2, 0.8, 2.0])
    a = LIFState(LIF(tau_m=0.02, tau_ref=0.002), 3, 1e-3, v0=np.array([0.3, 0.9, 0.5]))
    b = LIFState(LIF(tau_m=0.02 / (1 + g), tau_ref=0.002), 3, 1e-3, v0=np.array([0.3, 0.9, 0.5]))
    for k in range(30):
        ia, oa = a.step_conductance(J, g.copy(), gE, k * 1e-3)
        ib, ob = b.step((J + gE) / (1 + g), k * 1e-3)
        np.testing.assert_array_equal(ia, ib)
        np.testing.assert_allclose(oa, ob, rtol=0, atol=1e-14)
        np.testing.assert_allclose(a.v, b.v, rtol=1e-12, atol=1e-14)  # the same formula up to rounding


def test_kernel_peak_and_step_mean():
    for n in (0, 1, 3):
        syn = Conductance(0.004, -0.07, n=n)
        t = np.linspace(0, 0.05, 200001)
        g = syn.conductance(t)
        assert abs(g.max() - 1.0) < 1e-6 and abs(t[np.argmax(g)] - n * 0.004) < 1e-6
        # step mean coefficients against the mean of the propagated cascade (quadrature)
        dt = 3e-4
        x0 = np.random.default_rng(n).random(n + 1)
        ts = np.linspace(0, dt, 20001)
        A = syn.transition(1e-9)  # only for the shape
        rows = np.array([(np.linalg.matrix_power(syn.transition(s), 1) @ x0)[-1] if s > 0 else x0[-1] for s in ts])
        mean = np.trapezoid(rows, ts) / dt
        np.testing.assert_allclose(step_mean_coefficients(syn, dt) @ x0, mean, rtol=1e-9)
        assert A.shape == (n + 1, n + 1)
    assert Conductance(0.005, 0.0) != PSCFilter(0.005) and PSCFilter(0.005) != Conductance(0.005, 0.0)
    assert len({Conductance(0.005, 0.0), Conductance(0.005, 0.0), Conductance(0.005, -0.08)}) == 2
    assert "E_rev=-0.08" in repr(Conductance(0.005, -0.08))
    assert neurosim.Conductance is Conductance


def test_coba_example_is_the_benchmark():
    from neurosim.network.examples import COBA, EXAMPLES, coba

    net, spikes = coba(400, rng=1, backend="numpy")
    pop = net.populations[0]
    assert pop.n == 400 and EXAMPLES["coba"] is coba
    syns = sorted((c.synapse for c in net.connections), key=lambda s: s.tau_s)
    assert syns == [Conductance(0.005, 0.0), Conductance(0.010, -0.080)]
    np.testing.assert_allclose(pop.units.tau_m, 0.020)
    W = net.connections[0].weights
    assert set(np.unique(W.data)) == {COBA["g_e"]}
    assert W[:, 320:].nnz == 0 and net.connections[1].weights[:, :320].nnz == 0
    in_degree = (W.nnz + net.connections[1].weights.nnz) / 400
    assert 70 < in_degree < 90  # 80 on average
    net.run(0.2)
    rate = spikes.data[0].size / 400 / 0.2
    assert 5 < rate < 60


def _cond_net(dt, timing="grid"):
    """Three LIFUnits neurons driven by a bias and by excitatory and inhibitory conductance spikes."""
    net = Network(dt=dt, timing=timing, backend="numpy")
    rng = np.random.default_rng(3)
    trains = [np.unique(np.round(rng.uniform(0.001, 0.5, 40), 4)) for _ in range(4)]
    src = net.add_spike_source(trains, name="input")
    units = LIFUnits(C=200e-12, g_L=10e-9, V_L=-0.060, V_th=-0.050, V_reset=-0.060, tau_ref=0.005)
    pop = net.add_population(units, 3, bias=np.array([0.12e-9, 0.15e-9, 0.4e-9]), name="cells")
    We = np.array([[6e-9, 6e-9, 0, 0], [12e-9, 0, 0, 0], [0, 6e-9, 0, 0]])
    Wi = np.array([[0, 0, 30e-9, 0], [0, 0, 0, 67e-9], [0, 0, 30e-9, 30e-9]])
    net.connect(src, pop, We, synapse=Conductance(0.005, 0.0), delay=dt)
    net.connect(src, pop, Wi, synapse=Conductance(0.010, -0.080), delay=dt)
    return net, net.probe(pop, "spikes")


def test_pynn_export_runs_on_nest_as_neurosim():
    pytest.importorskip("nest", reason="running on NEST needs `pip install '.[pynn]'` (nest-simulator)")
    sim = pytest.importorskip("pyNN.nest", reason="running on NEST needs `pip install '.[pynn]'` (pyNN)")
    from neurosim import from_events
    from neurosim.export import to_pynn
    from neurosim.export.pynn.live import export_plan

    dt = 1e-5  # NEST's spikes are on its grid: 10 us keeps that error small
    net, probe = _cond_net(dt)
    meta, _ = export_plan(net)
    cell = meta["cells"][0]
    assert cell["type"] == "IF_cond_exp"
    assert cell["params"]["e_rev_E"] == pytest.approx(-65.0 + 6.0 * 15.0)  # E_e = 6 normalized, default scale
    exported = to_pynn(net, sim=sim)
    exported.record("cells")
    exported.run(0.5)
    theirs = exported.spike_times("cells")
    net.run(0.5)
    ours = from_events(*probe.data, n_neurons=3)
    assert sum(t.size for t in ours) >= 12
    for a, b in zip(ours, theirs):
        assert a.size == b.size
        np.testing.assert_allclose(b, a, rtol=0, atol=2.5e-5)  # measured 1.6e-5 s: NEST spikes on its 10 us grid


def test_pynn_and_nir_refusals():
    from neurosim.export.pynn.live import export_plan

    net, _ = _cond_net(1e-4, timing="precise")
    with pytest.raises(ValueError, match="precise timing"):
        export_plan(net)
    net, _ = _cond_net(1e-4)
    net.connections[0].weights = -net.connections[0].weights
    with pytest.raises(ValueError, match="negative conductance"):
        export_plan(net)
    net, _ = _cond_net(1e-4)
    net.connect(net.sources[0], net.populations[0], np.ones((3, 4)) * 1e-12, synapse=PSCFilter(0.005))
    with pytest.raises(ValueError, match="mixes conductance and current"):
        export_plan(net)
    net, _ = _cond_net(1e-4)
    net.connect(net.sources[0], net.populations[0], np.ones((3, 4)) * 1e-9, synapse=Conductance(0.002, -0.070))
    with pytest.raises(ValueError, match="two receptors"):
        export_plan(net)
    pytest.importorskip("nir", reason="NIR export needs `pip install '.[nir]'`")
    from neurosim.export import to_nir

    net, _ = _cond_net(1e-4)
    with pytest.raises(ValueError, match="conductance"):
        to_nir(net)


def test_pynn_script_runs_conductances_on_nest(tmp_path):
    import subprocess
    import sys

    from neurosim import from_events
    from neurosim.export import read_spikes, write_pynn_script

    net, probe = _cond_net(1e-5)
    script, _ = write_pynn_script(net, tmp_path / "cond.py", T=0.5)
    pytest.importorskip("nest", reason="running the script on NEST needs `pip install '.[pynn]'` (nest-simulator)")
    pytest.importorskip("pyNN.nest", reason="running the script on NEST needs `pip install '.[pynn]'` (pyNN)")
    subprocess.run([sys.executable, str(script), "--sim", "nest", "--out", str(tmp_path / "out.npz")], check=True,
                   capture_output=True, timeout=300)
    times, indices = read_spikes(tmp_path / "out.npz")["cells"]
    net.run(0.5)
    ours = from_events(*probe.data, n_neurons=3)
    for i, a in enumerate(ours):
        b = np.sort(times[indices == i])
        assert a.size == b.size and a.size >= 3
        np.testing.assert_allclose(b, a, rtol=0, atol=2.5e-5)


def test_example_script_runs(capsys):
    import runpy
    from pathlib import Path

    example = runpy.run_path(str(Path(__file__).parents[2] / "examples" / "coba.py"))
    example["main"](["--n", "200", "--T", "0.05"])
    assert "mean rate" in capsys.readouterr().out


def test_current_based_helpers_refuse_conductances():
    from neurosim import synaptic_weight
    from neurosim.network.precise.feedforward import precise_feedforward

    with pytest.raises(ValueError, match="peak conductances"):
        synaptic_weight(UNITS, Conductance(0.005, 0.0), current=1e-9)
    with pytest.raises(ValueError, match="conductance"):
        precise_feedforward(LIF(), np.ones((1, 1)), (np.array([0.01]), np.array([0])), 0.05, synapse=Conductance(0.005, 3.0))


def _recurrent_conductances(sim, per_neuron, order):
    """Poisson input (current PSC) into an excitatory LIFUnits population with recurrent excitatory and
    inhibitory conductances (exponential, or alpha with ``order`` 1), delays and a mixed current synapse;
    ``per_neuron``: C and g_L per neuron (1/g_L applied per neuron, E_rev per neuron in normalized units)."""
    net = sim.network(dt=1e-4, rng=2)
    n = 40
    w = np.random.default_rng(1)
    units = UNITS if not per_neuron else LIFUnits(C=w.uniform(1.5e-10, 2.5e-10, n), g_L=w.uniform(8e-9, 1.2e-8, n),
                                                  V_L=E_L, V_th=V_TH, V_reset=V_R, tau_ref=0.002)
    src = net.add_poisson(20, rate=400.0)
    exc = net.add_population(units, n, bias=w.uniform(3e-10, 5e-10, n))
    inh = net.add_population(LIF(0.01, 0.001), 10, bias=0.5)
    net.connect(src, exc, w.uniform(0, 4e-10, (n, 20)) * (w.random((n, 20)) < 0.5), synapse=PSCFilter(0.005))
    net.connect(exc, exc, w.uniform(0, 3e-9, (n, n)) * (w.random((n, n)) < 0.2), synapse=Conductance(0.005, E_E),
                delay=1e-3)
    net.connect(exc, inh, w.uniform(0, 0.05, (10, n)))
    net.connect(inh, exc, w.uniform(0, 5e-10, (n, 10)), synapse=Conductance(0.01, E_I, order), delay=5e-4)
    net.connect(inh, exc, -w.uniform(0, 1e-10, (n, 10)), synapse=PSCFilter(0.003))
    return net, [net.probe(exc, "spikes"), net.probe(inh, "spikes"), net.probe(exc, "v", sample_every=3e-4),
                 net.probe(exc, "current", sample_every=2e-4)]


@pytest.mark.parametrize("per_neuron, order", [(False, 0), (True, 1)])
def test_recurrent_conductances_give_the_numpy_backends_spikes(sim, per_neuron, order):
    """Backend equality: the same spikes (times to 1e-12 s), v to 1e-12 of its range and the synaptic current
    (conductances' g (E - v) plus the current synapse) to 1e-12 of its largest value, over two runs."""
    from dataclasses import replace

    net, probes = _recurrent_conductances(sim, per_neuron, order)
    if sim.refuses(net):
        return
    if sim.timing == "precise":
        with pytest.raises(ValueError, match="conductance"):
            net.build()
        return
    if sim.backend == "numpy":  # the reference itself: nothing to compare
        pytest.skip("backend equality: the numpy cell is the reference")
    ref, pr = _recurrent_conductances(replace(sim, backend="numpy"), per_neuron, order)
    for nt in (net, ref):
        nt.run(0.15)
        nt.run(0.1)
    assert net.backend == sim.backend
    for x, y in zip(probes[:2], pr[:2]):
        assert_same_events(x.data, y.data, min_events=40)
    np.testing.assert_allclose(probes[2].data, pr[2].data, rtol=0, atol=1e-12 * (V_TH - V_R))
    scale = np.abs(pr[3].data).max()
    assert scale > 1e-10  # amperes: the conductances are open
    np.testing.assert_array_equal(probes[3].t, pr[3].t)
    np.testing.assert_allclose(probes[3].data, pr[3].data, rtol=0, atol=1e-12 * scale)
