"""Network: charge per spike, exact currents and voltages, chunked runs, shapes, CUBA rate."""
import numpy as np
import pytest
import scipy.sparse as sp

from scipy.integrate import trapezoid

from neurosim import LIF, LIFUnits, Network, PSCFilter, isi_rate, synaptic_weight
from neurosim.network.examples import cuba


def one_spike_net(synapse, w=0.01, ts=0.01, dt=1e-4, tau_m=0.02, delay=0.0):
    net = Network(dt=dt)
    src = net.add_spike_source([np.array([ts])])
    pop = net.add_population(LIF(tau_m=tau_m, tau_ref=0.002), 1)
    net.connect(src, pop, np.array([[w]]), synapse=synapse, delay=delay)
    return net, pop, net.probe(pop, "current"), net.probe(pop, "v")


@pytest.mark.parametrize("n", [0, 1, 2])
def test_one_spike_current_is_the_kernel_and_delivers_charge_w(n):
    syn, w, ts = PSCFilter(0.005, n), 0.01, 0.01  # small w: the neuron stays below threshold
    net, pop, cur, v = one_spike_net(syn, w, ts)
    net.run(0.3)
    np.testing.assert_allclose(cur.data[:, 0], w * syn.kernel(cur.t - ts), rtol=1e-9, atol=1e-12)
    # total charge: integral of the current = w (trapezoid, minus the ramp it draws into the n=0 jump at ts)
    charge = trapezoid(cur.data[:, 0], cur.t) - (w * syn.kernel(0.0) * 1e-4 / 2 if n == 0 else 0)
    assert charge == pytest.approx(w, rel=1e-4)
    assert np.all(v.data < 1)
    # tau_m dv/dt = s - v  =>  integral v dt = integral s dt = w
    assert trapezoid(v.data[:, 0], v.t) == pytest.approx(w, rel=1e-4)


def test_voltage_after_one_spike_is_exact():
    tau_s, tau_m, w, ts = 0.005, 0.02, 0.01, 0.01
    net, pop, cur, v = one_spike_net(PSCFilter(tau_s), w, ts, tau_m=tau_m)
    net.run(0.1)
    u = np.maximum(v.t - ts, 0)
    analytic = w / (tau_s - tau_m) * (np.exp(-u / tau_s) - np.exp(-u / tau_m))
    np.testing.assert_allclose(v.data[:, 0], analytic, rtol=1e-9, atol=1e-14)


def test_delay_shifts_the_current_by_whole_steps():
    syn = PSCFilter(0.005)
    a = one_spike_net(syn)
    b = one_spike_net(syn, delay=0.0025)
    for net, *_ in (a, b):
        net.run(0.05)
    shift = 25
    np.testing.assert_allclose(b[2].data[shift:, 0], a[2].data[:-shift, 0], rtol=1e-12, atol=1e-15)
    assert np.all(b[2].data[: shift + 99, 0] == 0)


def recurrent_net(seed=3, sparse=True):
    net = Network(dt=1e-4, rng=seed)
    inp = net.add_poisson(50, rate=40.0)
    exc = net.add_population(LIF(0.02, 0.002), 60, bias=0.8, v0="uniform")
    inh = net.add_population(LIF(0.01, 0.001), 20, v0="uniform")
    rng = np.random.default_rng(seed)
    W_in = rng.uniform(0, 0.01, (60, 50))
    W_ee = rng.uniform(0, 0.004, (60, 60)) * (rng.random((60, 60)) < 0.2)
    net.connect(inp, exc, sp.csr_matrix(W_in) if sparse else W_in, synapse=PSCFilter(0.005, 1))
    net.connect(exc, exc, sp.csr_matrix(W_ee) if sparse else W_ee, synapse=PSCFilter(0.005), delay=0.001)
    net.connect(exc, inh, 0.003, synapse=PSCFilter(0.003))
    net.connect(inh, exc, -rng.uniform(0, 0.01, (60, 20)), synapse=PSCFilter(0.01))
    probes = [net.probe(exc, "spikes"), net.probe(inh, "v", sample_every=5e-4),
              net.probe(exc, "current"), net.probe(inh, "filtered", synapse=PSCFilter(0.02)),
              net.probe(inp, "spikes")]
    return net, probes


def test_run_twice_equals_run_once():
    a, pa = recurrent_net()
    a.run(0.25)
    a.run(0.25)
    b, pb = recurrent_net()
    b.run(0.5)
    assert a.t == pytest.approx(0.5) and b.t == pytest.approx(0.5)
    assert len(pa[0].data[0]) > 50  # the network is active
    for x, y in zip(pa, pb):
        if x.kind == "spikes":
            np.testing.assert_array_equal(x.data[0], y.data[0])
            np.testing.assert_array_equal(x.data[1], y.data[1])
        else:
            np.testing.assert_array_equal(x.t, y.t)
            np.testing.assert_array_equal(a.data[x], b.data[y])
    assert pa[1].data.shape == (1000, 20)


def test_dense_and_sparse_weights_give_the_same_run():
    a, pa = recurrent_net(sparse=True)
    b, pb = recurrent_net(sparse=False)
    a.run(0.2)
    b.run(0.2)
    np.testing.assert_array_equal(pa[0].data[1], pb[0].data[1])
    np.testing.assert_allclose(pa[0].data[0], pb[0].data[0], rtol=0, atol=1e-12)


def test_many_simultaneous_spikes_use_the_vectorized_gather():
    # 30 presynaptic spikes in one step (with a repeat) -> current equals the sum of the weight columns
    rng = np.random.default_rng(0)
    W = rng.normal(size=(5, 30))
    W[:, 3] = 0
    times = [np.array([0.001, 0.001]) if i == 7 else np.array([0.001]) for i in range(30)]
    for weights in (W, sp.csr_matrix(W)):
        net = Network(dt=1e-4)
        src = net.add_spike_source(times)
        pop = net.add_population(LIF(), 5)
        net.connect(src, pop, weights, synapse=PSCFilter(0.01))
        cur = net.probe(pop, "current")
        net.run(0.002)
        expected = (W.sum(axis=1) + W[:, 7]) / 0.01
        np.testing.assert_allclose(cur.data[9], expected, rtol=1e-12)


def test_weight_shape_mismatch_names_both_shapes():
    net = Network()
    a = net.add_population(LIF(), 3, name="a")
    b = net.add_population(LIF(), 4, name="b")
    with pytest.raises(ValueError, match=r"\(3, 4\).*\(4, 3\)"):
        net.connect(a, b, np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"\(4, 4\).*\(4, 3\)"):
        net.connect(a, b, sp.eye(4))
    with pytest.raises(ValueError, match="finite"):
        net.connect(a, b, np.full((4, 3), np.nan))
    with pytest.raises(TypeError, match="PSCFilter"):
        net.connect(a, b, 0.1, synapse=0.005)
    with pytest.raises(ValueError, match="delay"):
        net.connect(a, b, 0.1, delay=-1)
    with pytest.raises(ValueError, match="kind"):
        net.probe(a, "voltage")
    with pytest.raises(TypeError, match="model"):
        net.add_population("lif", 3)
    net.run(1e-3)
    with pytest.raises(RuntimeError, match="already run"):
        net.add_population(LIF(), 2)


def test_population_rates_match_the_analytic_curve_and_inputs_add():
    model = LIF(0.02, 0.002)
    J = np.linspace(1.2, 4.0, 8)
    net = Network(dt=1e-3)
    p1 = net.add_population(model, 8, bias=J)
    p2 = net.add_population(model, 8, bias=J - 0.5)
    net.add_current_input(p2, lambda t: np.full(8, 0.5))
    p3 = net.add_population(model, 8)
    net.add_current_input(p3, np.tile(J, (2000, 1)))
    probes = [net.probe(p, "spikes") for p in (p1, p2, p3)]
    net.run(2.0)
    for pr in probes:
        np.testing.assert_allclose(isi_rate(pr.data, n_neurons=8), model.rate(J), rtol=1e-4)


def test_physical_units_population():
    units = LIFUnits(C=200e-12, g_L=10e-9, V_L=-0.070, V_th=-0.050, V_reset=-0.065, tau_ref=0.002)
    net = Network(dt=1e-4)
    pop = net.add_population(units, 1, bias=0.4e-9, v0=[-0.060])
    assert pop.v0[0] == pytest.approx(-0.060)  # reported in the units it was given (volts)
    assert pop.normalized.v0[0] == pytest.approx(1 / 3)  # (V - V_reset) / (V_th - V_reset)
    sp_probe = net.probe(pop)
    net.run(1.0)
    rate = isi_rate(sp_probe.data, n_neurons=1)[0]
    assert rate == pytest.approx(units.model().rate(units.current_to_J(0.4e-9)), rel=1e-4)
    # a 1 pC charge onto g_L = 10 nS over a 15 mV span
    assert synaptic_weight(units, PSCFilter(0.005), charge=1e-12) == pytest.approx(1e-12 / (10e-9 * 0.015))
    with pytest.raises(ValueError, match="exactly one"):
        synaptic_weight(units, PSCFilter(0.005))


def test_poisson_source_rate_and_filtered_probe():
    net = Network(dt=1e-3, rng=5)
    src = net.add_poisson(200, rate=25.0)
    pop = net.add_population(LIF(), 1)
    spikes = net.probe(src, "spikes")
    filt = net.probe(src, "filtered", synapse=PSCFilter(0.05))
    net.run(2.0)
    times, idx = spikes.data
    assert abs(times.size - 10000) < 4 * 100
    # spikes reach the filter at the first step boundary at or after their time
    delivered = [np.ceil(s / 1e-3 - 1e-9) * 1e-3 for s in spikes.spike_times[:3]]
    np.testing.assert_allclose(filt.data[:, :3], PSCFilter(0.05).filter(delivered, filt.t), rtol=1e-9, atol=1e-9)


def test_cuba_rate_in_sane_range():
    net, spikes = cuba(4000, rng=11)
    net.run(0.5)
    rate = spikes.data[0].size / (4000 * 0.5)
    assert 3.0 < rate < 10.0


def test_cli_network_writes_a_figure(tmp_path, capsys):
    from neurosim.cli import main

    out = tmp_path / "raster.png"
    assert main(["network", "--example", "cuba", "--n", "500", "--T", "0.1", "--no-progress", "--out", str(out)]) == 0
    assert out.stat().st_size > 0
    assert "mean rate" in capsys.readouterr().out


def test_neuron_spike_inside_a_step_reaches_synapses_at_the_next_boundary():
    dt, J, tau_m = 1e-3, 1.5, 0.02
    t_spike = tau_m * np.log(J / (J - 1))  # analytic first spike time from v = 0: 21.97 ms
    net = Network(dt=dt)
    a = net.add_population(LIF(tau_m, 0.5), 1, bias=J)
    b = net.add_population(LIF(tau_m, 0.5), 1)
    net.connect(a, b, 0.002, synapse=PSCFilter(0.005))
    spikes, cur = net.probe(a), net.probe(b, "current")
    net.run(0.1)
    assert spikes.data[0][0] == pytest.approx(t_spike, abs=1e-12)
    boundary = np.ceil(t_spike / dt) * dt
    np.testing.assert_allclose(cur.data[:, 0], 0.002 * PSCFilter(0.005).kernel(cur.t - boundary), rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("bad", [lambda t: np.full(3, 0.5), lambda t: np.nan])
def test_current_function_with_bad_values_raises(bad):
    net = Network(dt=1e-3)
    pop = net.add_population(LIF(), 2, name="p")
    net.add_current_input(pop, bad)
    with pytest.raises(ValueError, match="current function for 'p'"):
        net.run(0.01)


def test_synaptic_weight_validates_its_inputs():
    units = LIFUnits(C=200e-12, g_L=10e-9, V_L=-0.065, V_th=-0.05, V_reset=-0.065)
    with pytest.raises(ValueError, match="charge must be a finite number, got nan"):
        synaptic_weight(units, PSCFilter(0.005), charge=float("nan"))
    with pytest.raises(TypeError, match="current must be a real number"):
        synaptic_weight(units, PSCFilter(0.005), current="1e-9")
    with pytest.raises(TypeError, match="units must be a neurosim.LIFUnits"):
        synaptic_weight(0.02, PSCFilter(0.005), charge=1e-12)
