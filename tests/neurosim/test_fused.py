"""The fused compiled population steps (neurosim.neurons.fused) against the numpy steps they replace:
the same spikes (neurons, steps, offsets bit for bit) and the same states, in batched networks that
run on the numpy loop (backend "auto" falls back to it: IF populations, convolutions in a batch)."""
import numpy as np
import pytest

import neurosim
from neurosim.network.transforms import Convolution

pytest.importorskip("numba", reason="the fused steps need numba: pip install 'neurosim-ratenet[fast]'")
from neurosim.neurons import fused  # noqa: E402


def _run(backend, build, T=0.3):
    net, probes = build(backend)
    net.run(T)
    return net, [p.data for p in probes]


def _same(a, b):
    for x, y in zip(a, b):
        if isinstance(x, tuple):
            assert len(x) == len(y)
            for u, w in zip(x, y):
                np.testing.assert_array_equal(u, w)
        else:
            np.testing.assert_array_equal(x, y)


def _if_net(backend):
    net = neurosim.Network(dt=1e-3, rng=5, batch=3, backend=backend)
    src = net.add_poisson(30, rate=80.0)
    a = net.add_population(neurosim.IF(threshold=np.linspace(0.5, 2.0, 20)), 20, bias=np.linspace(-5, 60, 20))
    b = net.add_population(neurosim.IF(reset="zero"), 10)
    c = net.add_population(neurosim.IF(), 12, bias=np.linspace(0, 1500, 12))  # saturated: J dt > threshold
    net.connect(src, a, np.random.default_rng(0).uniform(0, 0.3, (20, 30)))
    net.connect(a, b, np.random.default_rng(1).uniform(-0.1, 0.4, (10, 20)), delay=2e-3)
    return net, [net.probe(a), net.probe(b), net.probe(c), net.probe(a, "v", sample_every=5e-3),
                 net.probe(c, "v", sample_every=5e-3)]


def test_if_fused_step_gives_the_numpy_spikes_and_states(monkeypatch):
    monkeypatch.setattr(fused, "FUSED_MIN", 0)
    net, got = _run("auto", _if_net)
    assert all(rt.fused is not None for rt in net.runtime.pops.values())
    ref_net, ref = _run("numpy", _if_net)
    assert all(getattr(rt, "fused", None) is None for rt in ref_net.runtime.pops.values())
    assert got[0][0].size > 100 and got[1][0].size > 10 and got[2][0].size > 100
    _same(got, ref)


def test_if_fused_step_refuses_a_non_finite_state(monkeypatch):
    monkeypatch.setattr(fused, "FUSED_MIN", 0)
    net = neurosim.Network(dt=1e-3, rng=0, batch=2)
    pop = net.add_population(neurosim.IF(), 2, bias=1e308)
    net.add_current_input(pop, lambda t: np.full((2, 2), 1e308))  # J = 2e308 overflows to inf
    with pytest.warns(RuntimeWarning, match="overflow"), \
            pytest.raises(neurosim.errors.SimulationError, match="non-finite"):
        net.run(0.01)
    assert net.runtime.pops[pop].fused is not None


def _lif_net(backend):
    """LIF populations on the numpy loop (an IF population keeps 'auto' off the compiled loop): a constant
    input one with refractory periods ending inside steps and several spikes per step (tau_ref < dt), and a
    direct-path one driven by synapses."""
    net = neurosim.Network(dt=1e-3, rng=3, batch=2, backend=backend)
    src = net.add_poisson(40, rate=60.0)
    const = net.add_population(neurosim.LIF(0.02, 0.0023), 25, bias=np.linspace(0.5, 30.0, 25))
    fast = net.add_population(neurosim.LIF(0.01, 0.0004), 6, bias=np.linspace(1.5, 400.0, 6))
    driven = net.add_population(neurosim.LIF(0.02, 0.002), 15, bias=0.4)
    gate = net.add_population(neurosim.IF(), 3, bias=5.0)
    net.connect(src, driven, np.random.default_rng(2).uniform(0, 0.2, (15, 40)))
    net.connect(const, driven, np.random.default_rng(3).uniform(-0.05, 0.1, (15, 25)), delay=1.5e-3)
    return net, [net.probe(const), net.probe(fast), net.probe(driven), net.probe(gate),
                 net.probe(driven, "v", sample_every=3e-3), net.probe(const, "v", sample_every=3e-3)]


def test_lif_fused_update_gives_the_numpy_spikes_and_states(monkeypatch):
    monkeypatch.setattr(fused, "FUSED_MIN", 0)
    net, got = _run("auto", _lif_net)
    lif = [rt for p, rt in net.runtime.pops.items() if isinstance(p.model, neurosim.LIF)]
    assert len(lif) == 3 and all(rt.fused is not None for rt in lif)
    _, ref = _run("numpy", _lif_net)
    t, i, trial = got[1]
    assert np.count_nonzero((i == 5) & (trial == 0)) > 0.3 / 1e-3  # more spikes than steps: tau_ref < dt
    assert got[2][0].size > 20
    _same(got, ref)


@pytest.mark.parametrize("tau_ref", [0.002, 0.0035, np.linspace(0.001, 0.004, 40)])
def test_compiled_lif_settle_equals_the_numpy_settle(tau_ref):
    """LIFState._step_updated_compiled against _step_updated, step by step: the same spikes, offsets, v,
    refractory_end and refractory lists, with periods ending inside steps, v starting above threshold with
    J below it, per-neuron tau_ref, and time going back (the full rescan)."""
    rng = np.random.default_rng(4)
    n, dt = 40, 1e-3
    v0 = rng.uniform(0, 1.5, n)
    states = [neurosim.LIFState(neurosim.LIF(0.02, tau_ref), n, dt, v0=v0) for _ in range(2)]
    decay = float(np.exp(-dt / 0.02))
    idx = np.empty(n, dtype=np.int64)
    times = [k * dt for k in range(60)] + [0.01 + k * dt for k in range(20)]  # back to 10 ms: a rescan
    total = 0
    for k, t0 in enumerate(times):
        J = rng.uniform(-0.5, 6.0, n)
        J_decayed = J * states[0].one_minus_decay
        out = []
        for s, step in zip(states, ("_step_updated", "_step_updated_compiled")):
            if step == "_step_updated":
                s.v *= decay
                s.v += J_decayed
                out.append(s._step_updated(J, t0, above=(s.v > 1.0).nonzero()[0]))
            else:
                count = fused.lif_free_update(s.v, decay, J_decayed, idx)
                out.append(s._step_updated_compiled(J, t0, idx[:count]))
        _same(out[0], out[1])
        total += out[0][0].size
        np.testing.assert_array_equal(states[0].v, states[1].v)
        np.testing.assert_array_equal(states[0].refractory_end, states[1].refractory_end)
        np.testing.assert_array_equal(states[0]._refr, states[1]._refr)
    assert total > 150


def test_fused_steps_stay_off_for_small_populations_and_on_numpy():
    net = neurosim.Network(dt=1e-3, batch=2)
    small = net.add_population(neurosim.IF(), 10, bias=50.0)
    big = net.add_population(neurosim.IF(), fused.FUSED_MIN, bias=50.0)
    net.run(0.002)
    assert net.runtime.pops[small].fused is None and net.runtime.pops[big].fused is not None


def _conv_net(backend):
    net = neurosim.Network(dt=1e-3, rng=1, batch=4, backend=backend)
    rng = np.random.default_rng(0)
    a = net.add_population(neurosim.IF(), 3 * 10 * 10, bias=rng.uniform(0, 400, (4, 300)))
    K = rng.normal(0, 0.3, (5, 3, 4, 4))
    conv = Convolution(K, (3, 10, 10), stride=2, padding=1)  # block kernel? no: a general strided one
    pooled = Convolution(np.repeat(np.repeat(rng.normal(0, 0.3, (4, 3, 2, 2)), 2, 2), 2, 3), (3, 10, 10),
                         stride=2)  # constant over 2x2 blocks: the sum-pooled grid
    b = net.add_population(neurosim.IF(), conv.shape[0])
    c = net.add_population(neurosim.LIF(0.02, 0.002), pooled.shape[0])
    net.connect(a, b, conv, synapse=neurosim.PSCFilter(0.005), placement="exact", delay=1.5e-3)  # two arrival steps
    net.connect(a, c, pooled, synapse=neurosim.PSCFilter(0.005, n=1), placement="exact")
    return net, [net.probe(b), net.probe(c), net.probe(c, "v", sample_every=2e-3)]


def test_compiled_event_grid_gives_the_numpy_convolution(monkeypatch):
    from neurosim.network import connections
    monkeypatch.setattr(connections, "_conv_min_spikes", lambda *args: 0)  # every step through apply_events
    net, got = _run("auto", _conv_net, T=0.1)
    assert all(rt.compiled_events for _, rt in net.runtime.conns)
    _, ref = _run("numpy", _conv_net, T=0.1)
    assert got[0][0].size > 50 and got[1][0].size > 50
    _same(got, ref)


def test_networks_rebuilt_from_one_convolution_share_its_runtime_arrays():
    """A runtime keeps a Convolution's scaled table on it (for its last PSC scale): a network rebuilt from the
    same Convolution (the next batch of a prediction) reuses the arrays and gives the spikes of a fresh one;
    another tau_s (another scale) rebuilds them."""
    rng = np.random.default_rng(2)
    K = rng.normal(0, 0.3, (4, 2, 3, 3))
    bias = rng.uniform(0, 300, (3, 2 * 8 * 8))

    def run(conv, tau_s):
        net = neurosim.Network(dt=1e-3, rng=1, batch=3)
        a = net.add_population(neurosim.IF(), 2 * 8 * 8, bias=bias)
        b = net.add_population(neurosim.LIF(0.02, 0.002), conv.shape[0])
        net.connect(a, b, conv, synapse=neurosim.PSCFilter(tau_s), placement="exact")
        p = net.probe(b)
        net.run(0.05)
        return net.runtime.conns[0][1], p.data

    shared = Convolution(K, (2, 8, 8), padding=1)
    rt1, first = run(shared, 0.005)
    rt2, again = run(shared, 0.005)
    assert rt2.table is rt1.table and rt2.data is rt1.data and rt2.conv is rt1.conv
    _, fresh = run(Convolution(K, (2, 8, 8), padding=1), 0.005)
    assert first[0].size > 50
    _same(again, fresh)
    _same(first, fresh)
    rt3, other = run(shared, 0.01)
    assert rt3.data is not rt1.data and rt3.conv is not rt1.conv
    np.testing.assert_array_equal(rt3.data, 0.5 * rt1.data)  # w / tau_s
    _same(other, run(Convolution(K, (2, 8, 8), padding=1), 0.01)[1])


@pytest.mark.parametrize("compiled", [False, True])
def test_apply_events_takes_flat_indices(compiled):
    """``apply_events(flat, None, ...)`` (flat trial-major indices, divided in the kernel when compiled) adds
    exactly what ``apply_events(pre, trial, ...)`` adds, and that is the convolution of the event maps."""
    rng = np.random.default_rng(6)
    conv = Convolution(np.repeat(np.repeat(rng.normal(0, 0.3, (4, 3, 2, 2)), 2, 2), 2, 3), (3, 9, 9), stride=2)
    n, n_pre = 5, 3 * 9 * 9
    flat = np.sort(rng.choice(n * n_pre, 300))  # repeats: they add up
    w = rng.uniform(0.1, 1.0, flat.size)
    got, ref = np.zeros((n, conv.shape[0])), np.zeros((n, conv.shape[0]))
    conv.apply_events(flat, None, w, n, got, compiled=compiled)
    trial, pre = np.divmod(flat, n_pre)
    conv.apply_events(pre, trial, w, n, ref, compiled=compiled)
    np.testing.assert_array_equal(got, ref)
    maps = np.bincount(flat, weights=w, minlength=n * n_pre).reshape(n, n_pre)
    np.testing.assert_allclose(got, maps @ conv.to_sparse().T.toarray(), rtol=1e-12, atol=1e-12)


def _probe_net(backend):
    """Filtered and filtered-mean probes of spiking populations (one with several spikes per neuron and step:
    repeated indices) on the numpy loop (an IF population keeps 'auto' off the compiled loop)."""
    net = neurosim.Network(dt=1e-3, rng=3, batch=2, backend=backend)
    fast = net.add_population(neurosim.LIF(0.01, 0.0004), 6, bias=np.linspace(1.5, 400.0, 6))
    gate = net.add_population(neurosim.IF(), 8, bias=np.linspace(100.0, 900.0, 8))
    syn = neurosim.PSCFilter(0.005)
    return net, [net.probe(p, kind, sample_every=every, synapse=syn) for p in (fast, gate)
                 for kind, every in (("filtered", 1e-3), ("filtered_mean", 5e-3))]


def test_compiled_probe_additions_give_the_numpy_filters(monkeypatch):
    monkeypatch.setattr(fused, "FUSED_MIN", 0)
    calls, add_at = [], fused.add_at

    def counted(*args):
        calls.append(args[4])  # scalar: the filtered mean's sum; else a filter's lagged additions
        return add_at(*args)
    monkeypatch.setattr(fused, "add_at", counted)
    net, got = _run("auto", _probe_net, T=0.1)
    assert True in calls and False in calls  # both went through the compiled additions
    _, ref = _run("numpy", _probe_net, T=0.1)
    assert got[0].size > 100 and np.ptp(ref[0]) > 10
    _same(got, ref)
