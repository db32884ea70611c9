"""Precise timing on the compiled (numba) backend: the same spikes as numpy's precise runtime.

Oracles: the numpy kernel (neurosim.neurons.lif.kernel.MembraneKernel, itself checked against scipy's ODE
solver in test_precise.py) for the scalar closed forms, bounds and crossing search; the numpy backend for
networks (the same neurons fire, times within 1e-12 s).
"""
import dataclasses

import numpy as np
import pytest
import scipy.sparse as sp

from neurosim import LIF, Delta, Network, PSCFilter
from neurosim.network.examples import cuba

numba = pytest.importorskip("numba", reason="needs numba: pip install '.[fast]' (or pip install numba)")

SHAPES = [(0.005, 0), (0.02, 0), (0.05, 0), (0.005, 1), (0.02, 1), (0.05, 1)]  # tau_m = 0.02: d > 0, d = 0, d < 0


def _kernel(shapes):
    from neurosim.network.compiled.precise import CompiledPreciseLIFState
    st = CompiledPreciseLIFState(LIF(0.02, 0.002), 1, 1e-4, [PSCFilter(t, n) for t, n in shapes])
    return st.kernel, st.gi, np.ascontiguousarray(st.gp[:, 0])  # one tau_m: the constants at position 0


@pytest.mark.parametrize("tau_s, n", SHAPES)
def test_scalar_responses_equal_the_numpy_kernel(tau_s, n):
    from neurosim.network.compiled import precise as P
    kernel, gi, gp = _kernel([(tau_s, n)])
    g = kernel.groups[0]
    u = np.r_[0.0, np.geomspace(1e-9, 0.3, 200)]  # |u d| below and above 0.5 and 1
    em = np.exp(-u / 0.02)
    r1 = np.array([P.r1(a, b, 0.02, gp[0]) for a, b in zip(u, em)])
    np.testing.assert_allclose(r1, g.r1(u, em), rtol=1e-13, atol=1e-300)
    assert r1[1:].min() > 0
    if n == 1:
        r2 = np.array([P.r2(a, b, 0.02, gp[0]) for a, b in zip(u, em)])
        np.testing.assert_allclose(r2, g.r2(u, em), rtol=1e-13, atol=1e-300)


def _states(rng, k, R):
    v = rng.uniform(-0.5, 1.2, k)
    J = rng.uniform(0.0, 1.6, k)
    x = rng.normal(0.0, 30.0, (R, k))
    L = rng.uniform(1e-5, 3e-3, k)
    return v, J, x, L


def test_evolution_bounds_and_first_crossing_equal_the_numpy_kernel():
    from neurosim.network.compiled import precise as P
    shapes = [(0.005, 0), (0.01, 1)]
    kernel, gi, gp = _kernel(shapes)
    rng = np.random.default_rng(4)
    v, J, x, L = _states(rng, 3000, 3)
    xs = [x[0:1], x[1:3]]
    vn, new = kernel.evolve(v, J, xs, L)
    up, low = kernel.upper_bound(v, J, xs, L), kernel.lower_bound(v, J, xs, L)
    cup, clow = kernel.current_upper_bound(xs, L), kernel.current_lower_bound(xs, L)
    cross = kernel.first_crossing(v, J, xs, L)
    st_f, st_x = np.empty((P._STACK, 5)), np.empty((P._STACK + 9, 3))
    got = np.empty((8, v.size))
    out = np.empty(3)
    for k in range(v.size):
        xk = x[:, k].copy()
        got[0, k] = P.evolve(v[k], J[k], xk, L[k], 0.02, gi, gp, out)
        np.testing.assert_allclose(out, np.r_[new[0][:, k], new[1][:, k]], rtol=1e-13, atol=1e-13)
        got[1, k] = P.bound(v[k], J[k], xk, L[k], 0.02, gi, gp, True)
        got[2, k] = P.bound(v[k], J[k], xk, L[k], 0.02, gi, gp, False)
        got[3, k] = P.current_bound(xk, L[k], gi, gp, True)
        got[4, k] = P.current_bound(xk, L[k], gi, gp, False)
        vb, ub = P.voltage_bound_stages(v[k], J[k], xk, L[k], 0.02, gi, gp, out)
        np.testing.assert_allclose(out, np.r_[new[0][:, k], new[1][:, k]], rtol=1e-13, atol=1e-13)
        got[6, k], got[7, k] = vb, ub
        got[5, k] = P.first_crossing(v[k], J[k], xk, L[k], got[1, k], vb, 0.02, gi, gp, st_f, st_x)
    for a, b in zip(np.r_[got[:5], got[6:]], (vn, up, low, cup, clow, vn, up)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(np.isnan(got[5]), np.isnan(cross))
    found = ~np.isnan(cross) & (v < 1)
    assert found.sum() > 300 and (~np.isnan(cross)).sum() < v.size - 300  # both outcomes are tested
    np.testing.assert_allclose(got[5][found], cross[found], rtol=0, atol=1e-12)
    # the crossing is where v = 1: the numpy kernel's voltage there, to rounding
    vx = kernel.voltage(v[found], J[found], [a[:, found] for a in xs], got[5][found])
    np.testing.assert_allclose(vx, 1.0, atol=1e-9)


def test_a_crossing_that_peaks_above_threshold_and_falls_back_is_found():
    """v rises above 1 and falls back below inside the interval: found at the first crossing, not missed."""
    from neurosim.network.compiled import precise as P
    kernel, gi, gp = _kernel([(0.002, 0)])
    v, J, x, L = 0.9, 0.0, np.array([3.2]), 0.02
    vb, ub = P.voltage_bound_stages(v, J, x, L, 0.02, gi, gp, np.empty(1))
    assert vb < 1.0 < ub
    t = P.first_crossing(v, J, x, L, ub, vb, 0.02, gi, gp, np.empty((P._STACK, 5)), np.empty((P._STACK + 9, 1)))
    ref = kernel.first_crossing(np.array([v]), np.array([J]), [x[:, None]], np.array([L]))[0]
    assert 0 < t < L and abs(t - ref) < 1e-12


# ---- networks through the sim fixture: the precise cells on numba against numpy -------------------------
def _pair(sim):
    if sim.timing != "precise" or sim.backend != "numba":
        pytest.skip("compares the precise numba cells with numpy")
    return sim, dataclasses.replace(sim, backend="numpy")


def assert_same_events(a, b):
    """The same neurons (and trials) fire, times within 1e-12 s (events compared in (trial, neuron, time) order)."""
    assert a[0].size == b[0].size
    keys_a = (a[0], a[1]) if len(a) == 2 else (a[0], a[1], a[2])
    keys_b = (b[0], b[1]) if len(b) == 2 else (b[0], b[1], b[2])
    oa, ob = np.lexsort(keys_a), np.lexsort(keys_b)
    for x, y in zip(a[1:], b[1:]):
        np.testing.assert_array_equal(x[oa], y[ob])
    np.testing.assert_allclose(a[0][oa], b[0][ob], rtol=0, atol=1e-12)


def cuba_subset(cfg, n=1000):
    net, probe = cuba(n=n, rng=1, backend=cfg.backend)
    net.timing = "precise"
    for c in net.connections:
        c.delay = 1e-3
    return net, [probe]


def recurrent(cfg, delay=2.5e-3, order=1, tau_ref=0.002, dt=1e-4, per_synapse=False):
    """A Poisson source, a spike source, two populations, exponential and alpha synapses, a delay (uniform or
    per synapse), a current input, spike, voltage and current probes."""
    net = cfg.network(dt=dt, rng=3)
    B = cfg.batch or 1
    inp = net.add_poisson(40, rate=40.0)
    src = net.add_spike_source((np.array([0.0, 0.0101, 0.02, 0.05]), np.array([0, 1, 0, 1])))
    exc = net.add_population(LIF(0.02, tau_ref), 30, bias=0.8 if B == 1 else np.linspace(0.7, 0.9, B)[:, None] * np.ones(30),
                             v0="uniform")
    inh = net.add_population(LIF(0.01, 0.001), 10, v0="uniform")
    w = np.random.default_rng(7)
    net.connect(inp, exc, w.uniform(0, 0.012, (30, 40)), synapse=PSCFilter(0.005, order))
    net.connect(src, exc, np.full((30, 2), 0.05), synapse=PSCFilter(0.004, 1), delay=1.3e-3)
    W = sp.csr_matrix(w.uniform(0, 0.004, (30, 30)) * (w.random((30, 30)) < 0.3))
    if per_synapse:
        net.connect(exc, exc, W, synapse=PSCFilter(0.005), delay=w.uniform(1e-3, 4e-3, W.nnz))
    else:
        net.connect(exc, exc, W, synapse=PSCFilter(0.005), delay=delay)
    net.connect(exc, inh, 0.003, synapse=PSCFilter(0.003), delay=1e-3)
    net.connect(inh, exc, -w.uniform(0, 0.01, (30, 10)), synapse=PSCFilter(0.01), delay=1.5e-3)
    net.add_current_input(inh, lambda t: 0.5 + 0.5 * np.sin(2 * np.pi * 10 * t))
    return net, [net.probe(exc, "spikes"), net.probe(inh, "spikes"), net.probe(inh, "v", sample_every=5 * dt),
                 net.probe(exc, "current")]


def _both(sim, build, T, **kw):
    out = []
    for cfg in _pair(sim):
        net, probes = build(cfg, **kw)
        net.run(T)
        assert net.backend == cfg.backend
        out.append(probes)
    return out


def _assert_probes(pa, pb):
    for x, y in zip(pa, pb):
        if x.kind == "spikes":
            assert_same_events(x.data, y.data)
        else:
            np.testing.assert_array_equal(x.t, y.t)
            np.testing.assert_allclose(x.data, y.data, rtol=1e-9, atol=1e-9)


def test_cuba_one_second_subset(sim):
    if sim.batch is not None:
        pytest.skip("CUBA has no batch axis")
    pa, pb = _both(sim, cuba_subset, 1.0)
    assert pa[0].data[0].size > 4000  # ~5 Hz
    _assert_probes(pa, pb)


@pytest.mark.parametrize("kw", [dict(), dict(order=0, delay=1e-3), dict(per_synapse=True),
                                dict(tau_ref=2e-4, dt=1e-3, delay=2e-3)], ids=["alpha", "exp", "per-synapse", "short-ref"])
def test_recurrent_networks_with_sources_delays_and_probes(sim, kw):
    pa, pb = _both(sim, recurrent, 0.3, **kw)
    assert pa[0].data[0].size > 100 and pa[1].data[0].size > 20
    _assert_probes(pa, pb)


def shapes_net(cfg, tau_s, order, delay, dt):
    """PSC shapes against tau_m = 20 ms: tau_s = tau_m (d = 0), tau_s > tau_m, an alpha current that peaks
    inside a block (delay 6.4 ms: blocks of 64 steps), dt = 1 ms; excitation and inhibition, a negative bias."""
    net = cfg.network(dt=dt, rng=1)
    inp = net.add_poisson(50, rate=30.0)
    a = net.add_population(LIF(0.02, 0.002), 40, bias=0.9, v0="uniform")
    b = net.add_population(LIF(0.01, 0.0005), 20, bias=-0.2, v0="uniform")
    w = np.random.default_rng(1)
    net.connect(inp, a, w.uniform(0, 0.03, (40, 50)), synapse=PSCFilter(tau_s, order))
    net.connect(a, a, w.normal(0.002, 0.01, (40, 40)), synapse=PSCFilter(tau_s, order), delay=delay)
    net.connect(a, b, w.uniform(0, 0.05, (20, 40)), synapse=PSCFilter(0.02, 1), delay=delay)
    net.connect(b, a, -w.uniform(0, 0.02, (40, 20)), synapse=PSCFilter(0.001), delay=1.5 * delay)
    return net, [net.probe(a), net.probe(b)]


@pytest.mark.parametrize("tau_s, order, delay, dt", [(0.02, 0, 1e-3, 1e-4), (0.05, 0, 6e-3, 1e-4),
                                                     (0.001, 1, 6.4e-3, 1e-4), (0.02, 1, 2e-3, 1e-3)],
                         ids=["d=0", "tau_s>tau_m", "alpha-peak-in-block", "dt=1ms"])
def test_psc_shapes_and_block_lengths(sim, tau_s, order, delay, dt):
    pa, pb = _both(sim, shapes_net, 0.3, tau_s=tau_s, order=order, delay=delay, dt=dt)
    assert pa[0].data[0].size > 50 and pa[1].data[0].size > 1000
    _assert_probes(pa, pb)


def test_store_restore_reset_and_a_split_run_equal_numpy(sim):
    out = []
    for cfg in _pair(sim):
        net, probes = recurrent(cfg)
        net.run(0.05)
        net.store()
        net.run(0.1)
        net.restore()
        net.run(0.02)
        net.run(0.08)
        first = probes[0].data
        net.reset()
        net.run(0.15)
        assert net.backend == cfg.backend
        out.append((first, probes[0].data))
    (a1, a2), (b1, b2) = out
    assert a1[0].size > 50 and a2[0].size > 50
    assert_same_events(a1, b1)
    assert_same_events(a2, b2)


def delta_net(cfg, tau_ref):
    """Delta jumps from a source (a delay < dt) and recurrent ones (with a delay), beside exponential synapses;
    arrivals during refractoriness (tau_ref up to 4 ms) are discarded, a jump that reaches 1 fires."""
    net = cfg.network(dt=1e-4, rng=4)
    inp = net.add_poisson(30, rate=60.0)
    pop = net.add_population(LIF(0.02, tau_ref), 30, bias=0.85, v0="uniform")
    w = np.random.default_rng(6)
    net.connect(inp, pop, w.uniform(0, 0.08, (30, 30)), synapse=Delta(), delay=3e-5)
    net.connect(pop, pop, w.normal(0.01, 0.05, (30, 30)), synapse=Delta(), delay=1.5e-3)
    net.connect(pop, pop, w.uniform(0, 0.01, (30, 30)), synapse=PSCFilter(0.005), delay=1e-3)
    return net, [net.probe(pop), net.probe(pop, "v", sample_every=5e-4)]


@pytest.mark.parametrize("tau_ref", [0.002, 0.004])
def test_delta_jumps_equal_numpy(sim, tau_ref):
    pa, pb = _both(sim, delta_net, 0.3, tau_ref=tau_ref)
    assert pa[0].data[0].size > 300
    _assert_probes(pa, pb)


def per_neuron_net(cfg, order):
    """Per-neuron tau_m (below, equal to and above tau_s) and tau_ref, recurrent with a delay, and a source."""
    net = cfg.network(dt=1e-4, rng=2)
    inp = net.add_poisson(30, rate=40.0)
    n = 24
    tau_m = np.linspace(0.004, 0.04, n)
    tau_m[5] = 0.005  # = tau_s: d = 0
    pop = net.add_population(LIF(tau_m=tau_m, tau_ref=np.linspace(0.001, 0.004, n)), n, bias=0.95, v0="uniform")
    w = np.random.default_rng(5)
    net.connect(inp, pop, w.uniform(0, 0.03, (n, 30)), synapse=PSCFilter(0.005, order))
    net.connect(pop, pop, w.normal(0.003, 0.01, (n, n)), synapse=PSCFilter(0.003), delay=1.2e-3)
    return net, [net.probe(pop), net.probe(pop, "v", sample_every=1e-3)]


@pytest.mark.parametrize("order", [0, 1])
def test_per_neuron_tau_m_and_tau_ref_equal_numpy(sim, order):
    pa, pb = _both(sim, per_neuron_net, 0.3, order=order)
    assert pa[0].data[0].size > 300
    _assert_probes(pa, pb)


def test_constant_drive_fires_at_the_analytic_times(sim):
    """An independent oracle: with J > 1 and no synapses, v(t) = J (1 - e^(-t/tau_m)) from the reset, so the
    spikes come every tau_ref + tau_m ln(J / (J - 1)) (the first one without the refractory period)."""
    if sim.timing != "precise":
        pytest.skip("precise timing")
    net = sim.network(dt=1e-3)
    J = np.array([1.2, 1.5, 3.0])
    pop = net.add_population(LIF(0.02, 0.002), 3, bias=J if sim.batch is None else np.tile(J, (sim.batch, 1)))
    net.connect(pop, pop, np.zeros((3, 3)) + 1e-12, delay=1e-3)  # a connection: the compiled filing runs too
    probe = net.probe(pop)
    net.run(0.3)
    assert net.backend == sim.backend
    data = probe.data
    for trial in range(sim.batch or 1):
        for i, Ji in enumerate(J):
            sel = data[1] == i if sim.batch is None else (data[1] == i) & (data[2] == trial)
            t = np.sort(data[0][sel])
            first = 0.02 * np.log(Ji / (Ji - 1))
            period = 0.002 + first
            expect = first + period * np.arange(t.size)
            assert t.size == int((0.3 - first) // period) + 1
            np.testing.assert_allclose(t, expect, rtol=0, atol=1e-9)
