"""The network runtime: batches equal separate runs, interrupted runs continue exactly, reset/store/restore."""
import numpy as np
import pytest
import scipy.sparse as sp

from neurosim import LIF, HodgkinHuxley, Network, PSCFilter


def lif_net(rng, batch=None, sparse=False, bias=0.8, T_input=None, backend="auto"):
    """A small recurrent LIF network with Poisson input, delays, two synapse kinds and every probe kind."""
    net = Network(dt=1e-4, rng=rng, batch=batch, backend=backend)
    inp = net.add_poisson(40, rate=40.0)
    exc = net.add_population(LIF(0.02, 0.002), 30, bias=bias, v0="uniform")
    inh = net.add_population(LIF(0.01, 0.001), 10, v0="uniform")
    w = np.random.default_rng(7)
    W_in = w.uniform(0, 0.012, (30, 40))
    W_ee = w.uniform(0, 0.004, (30, 30)) * (w.random((30, 30)) < 0.3)
    W_ie = -w.uniform(0, 0.01, (30, 10))
    conv = sp.csr_matrix if sparse else np.asarray
    net.connect(inp, exc, conv(W_in), synapse=PSCFilter(0.005, 1))
    net.connect(exc, exc, conv(W_ee), synapse=PSCFilter(0.005), delay=0.001)
    net.connect(exc, inh, 0.003, synapse=PSCFilter(0.003))
    net.connect(inh, exc, conv(W_ie), synapse=PSCFilter(0.01))
    probes = [net.probe(exc, "spikes"), net.probe(inh, "v", sample_every=5e-4), net.probe(exc, "current"),
              net.probe(inh, "filtered", synapse=PSCFilter(0.02)), net.probe(inp, "spikes"),
              net.probe(exc, "filtered_mean", synapse=PSCFilter(0.01), sample_every=1e-3)]
    return net, probes


def assert_same(pa, pb):
    for x, y in zip(pa, pb):
        if x.kind == "spikes":
            for u, v in zip(x.data, y.data):
                np.testing.assert_array_equal(u, v)
        else:
            np.testing.assert_array_equal(x.t, y.t)
            np.testing.assert_array_equal(x.data, y.data)


def trial(events, k):
    times, indices, trials = events
    return times[trials == k], indices[trials == k]


@pytest.mark.parametrize("sparse", [False, True])
def test_batch_equals_separate_runs_with_the_trial_seeds(sparse):
    B = 3
    bias = np.array([0.6, 0.8, 1.0])[:, None] * np.ones(30)  # (B, n): one row per trial
    net, probes = lif_net(5, batch=B, sparse=sparse, bias=bias)
    net.run(0.2)
    assert probes[1].data.shape == (400, B, 10)
    seeds = Network.trial_seeds(5, B)
    total = 0
    for k in range(B):
        single, sp_ = lif_net(seeds[k], sparse=sparse, bias=bias[k])
        single.run(0.2)
        for x, y in zip(probes, sp_):
            if x.kind == "spikes":
                t, i = trial(x.data, k)
                np.testing.assert_array_equal(i, y.data[1])
                np.testing.assert_allclose(t, y.data[0], rtol=0, atol=1e-15)
                total += t.size
            else:
                np.testing.assert_array_equal(x.t, y.t)
                # numpy's SIMD exp may differ by an ulp between array lengths: rounding level only
                np.testing.assert_allclose(x.data[:, k], y.data, rtol=1e-12, atol=1e-12)
    assert total > 300  # the network is active


def test_batch_hh_equals_separate_runs():
    dt, B = 1e-5, 2
    I = np.array([[6.0, 9.0], [12.0, 0.0]])
    net = Network(dt=dt, rng=1, batch=B)
    src = net.add_poisson(20, rate=50.0)
    pop = net.add_population(HodgkinHuxley(), 2, bias=I)
    net.connect(src, pop, np.full((2, 20), 0.004), synapse=PSCFilter(0.003))
    s, v = net.probe(pop), net.probe(pop, "v", sample_every=1e-4)
    net.run(0.04)
    for k, seed in enumerate(Network.trial_seeds(1, B)):
        one = Network(dt=dt, rng=seed)
        src1 = one.add_poisson(20, rate=50.0)
        p1 = one.add_population(HodgkinHuxley(), 2, bias=I[k])
        one.connect(src1, p1, np.full((2, 20), 0.004), synapse=PSCFilter(0.003))
        s1, v1 = one.probe(p1), one.probe(p1, "v", sample_every=1e-4)
        one.run(0.04)
        t, i = trial(s.data, k)
        assert t.size >= 2
        np.testing.assert_array_equal(i, s1.data[1])
        np.testing.assert_array_equal(t, s1.data[0])
        np.testing.assert_array_equal(v.data[:, k], v1.data)


class Boom(Exception):
    pass


@pytest.mark.parametrize("error", [Boom, KeyboardInterrupt])
def test_exception_at_step_k_then_continue_equals_one_run(error):
    ref, pr = lif_net(2)
    ref.run(0.2)
    net, probes = lif_net(2)
    pop = net.populations[0]
    calls = {"n": 0}

    def current(t):  # raises once, at step 731
        calls["n"] += 1
        if calls["n"] == 732:
            raise error("injected")
        return 0.0

    net.add_current_input(pop, current)
    with pytest.raises(error):
        net.run(0.2)
    assert net.t == pytest.approx(731e-4, abs=1e-12)
    assert probes[2].data.shape[0] == 731  # probes stand at the same step as the clock
    net.run(0.2 - net.t)
    assert net.t == pytest.approx(0.2)
    assert_same(probes, pr)


def test_reset_gives_an_identical_rerun_and_store_restore_goes_back():
    net, probes = lif_net(4)
    net.run(0.1)
    first = [p.data for p in probes]
    net.reset()
    assert net.t == 0
    net.run(0.1)
    for p, d in zip(probes, first):
        for u, v in zip(p.data, d):
            np.testing.assert_array_equal(u, v)
    net.store()
    net.run(0.05)
    after = [p.data for p in probes]
    net.restore()
    assert net.t == pytest.approx(0.1)
    net.run(0.05)
    for p, d in zip(probes, after):
        for u, v in zip(p.data, d):
            np.testing.assert_array_equal(u, v)


def test_adding_after_a_run_is_refused_until_reset():
    net, probes = lif_net(0)
    net.run(0.01)
    with pytest.raises(RuntimeError, match="reset"):
        net.add_population(LIF(), 3)
    net.reset()
    extra = net.add_population(LIF(), 3, bias=1.5)
    s = net.probe(extra)
    net.run(0.05)
    assert s.data[0].size > 0


def test_bounded_work_is_refused_up_front():
    net, probes = lif_net(0)
    with pytest.raises(ValueError, match="max_steps"):
        net.run(1e300)
    with pytest.raises(ValueError, match="max_bytes"):
        net.run(10.0, max_bytes=10**6)
    assert net.runtime is None or net.t == 0


def cumulative_kernel(u, syn):
    """Integral of the unit-area kernel from 0 to u (0 for u <= 0): 1 - exp(-x) sum_k<=n x^k / k!."""
    from math import factorial

    x = np.maximum(u, 0) / syn.tau_s
    return 1 - np.exp(-x) * sum(x**k / factorial(k) for k in range(syn.n + 1))


@pytest.mark.parametrize("n", [0, 1])
def test_filtered_mean_is_the_exact_step_average_of_the_kernel(n):
    syn, dt, ts = PSCFilter(0.004, n), 1e-3, np.array([0.01234, 0.0207])
    net = Network(dt=dt)
    src = net.add_spike_source([ts])
    net.add_population(LIF(), 1)
    probe = net.probe(src, "filtered_mean", synapse=syn)
    coarse = net.probe(src, "filtered_mean", synapse=syn, sample_every=5 * dt)
    net.run(0.05)
    t1 = probe.t
    exact = sum(cumulative_kernel(t1 - s, syn) - cumulative_kernel(t1 - dt - s, syn) for s in ts) / dt
    np.testing.assert_allclose(probe.data[:, 0], exact, rtol=1e-10, atol=1e-9)
    np.testing.assert_allclose(coarse.data[:, 0], exact.reshape(-1, 5).mean(axis=1), rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("n", [0, 1])
@pytest.mark.parametrize("sparse", [False, True])
def test_exact_placement_gives_the_kernel_from_the_spike_time(n, sparse):
    dt, J, tau_m, w = 1e-3, 1.5, 0.02, 0.002
    t_spike = tau_m * np.log(J / (J - 1))  # analytic first spike of a from v = 0: 21.97 ms
    syn = PSCFilter(0.005, n)
    for batch in (None, 2):
        net = Network(dt=dt, batch=batch)
        a = net.add_population(LIF(tau_m, 0.5), 1, bias=J)
        b = net.add_population(LIF(tau_m, 0.5), 1)
        W = np.array([[w]])
        net.connect(a, b, sp.csr_matrix(W) if sparse else W, synapse=syn, placement="exact", delay=2 * dt)
        cur = net.probe(b, "current")
        net.run(0.1)
        data = cur.data.reshape(len(cur.t), -1)
        for col in range(data.shape[1]):
            # the spike arrives 2 steps late (the delay), at its exact offset
            np.testing.assert_allclose(data[:, col], w * syn.kernel(cur.t - t_spike - 2 * dt), rtol=1e-9, atol=1e-12)


def exact_chain(batch, rng, bias, n_pre=12, n_post=9, backend="auto"):
    """Two dense layers joined with exact placement: the batched scatter of in-step spike times."""
    net = Network(dt=1e-3, rng=rng, batch=batch, backend=backend)
    a = net.add_population(LIF(0.02, 0.002), n_pre, bias=bias, v0="uniform")
    b = net.add_population(LIF(0.02, 0.002), n_post, bias=1.1, v0="uniform")
    W = np.random.default_rng(3).uniform(-0.05, 0.15, (n_post, n_pre))
    net.connect(a, b, W, synapse=PSCFilter(0.005, 1), placement="exact")
    return net, net.probe(b, "spikes"), net.probe(b, "current", sample_every=5e-3)


@pytest.mark.parametrize("drive", [1.05, 4.0])  # few spikes per step (sparse product), many (one matmul)
def test_batched_exact_placement_equals_separate_runs(drive):
    B = 4
    bias = drive * np.linspace(0.9, 1.3, B)[:, None] * np.ones(12)
    net, spikes, cur = exact_chain(B, 2, bias)
    net.run(0.3)
    assert spikes.data[0].size > 50
    for k, seed in enumerate(Network.trial_seeds(2, B)):
        one, s1, c1 = exact_chain(None, seed, bias[k])
        one.run(0.3)
        t, i = trial(spikes.data, k)
        np.testing.assert_array_equal(i, s1.data[1])
        np.testing.assert_allclose(t, s1.data[0], rtol=0, atol=1e-12)
        np.testing.assert_allclose(cur.data[:, k], c1.data, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("backend, limit", [("numpy", 15e6), ("numba", 25e6)])
def test_batched_exact_placement_allocates_nothing_of_size_batch_times_spikes(backend, limit):
    """Regression: a (B, spikes) matrix per step made the cost and memory of a batch grow as B^2."""
    import tracemalloc

    if backend == "numba":
        pytest.importorskip("numba", reason="pip install numba")
    B = 1500
    net, _, _ = exact_chain(B, 0, 1.4, n_pre=20, n_post=20, backend=backend)
    net.run(0.01)                                    # build and warm up
    tracemalloc.start()
    try:
        net.run(0.02)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # about 4,000 presynaptic spikes per step: a (B, spikes) float64 matrix is ~50 MB (the old code's
    # peak here); what remains is the state and the recorded spikes (~6 MB), on numba also the kernel's scratch
    # (a few arrays of the 60,000 neurons) and its spike log grown by doubling (old and new alive): ~15 MB
    assert peak < limit, peak


def test_probe_clear_keeps_state_and_bounds_memory():
    """Chunks read and cleared equal one run: clear drops data, never the filter or running mean."""
    ref, pr = lif_net(4)
    ref.run(0.04)
    net, probes = lif_net(4)
    parts = [[] for _ in probes]
    for _ in range(4):
        net.run(0.01)
        for probe, part in zip(probes, parts):
            part.append(probe.data)
            probe.clear()
            assert (probe.data[0].size if probe.kind == "spikes" else probe.data.shape[0]) == 0
    for probe, whole, part in zip(probes, pr, parts):
        if probe.kind == "spikes":
            for col in range(2):
                np.testing.assert_array_equal(np.concatenate([p[col] for p in part]), whole.data[col])
        else:
            np.testing.assert_array_equal(np.concatenate(part), whole.data)
    rate = net.probe(net.populations[0], "rate")
    with pytest.raises(ValueError, match="rate"):
        rate.clear()
    net.probe(net.populations[0], "v").clear()      # nothing recorded yet: a no-op


def test_ctrl_c_is_held_until_the_step_is_committed():
    import os
    import signal

    ref, pr = lif_net(6)
    ref.run(0.05)
    net, probes = lif_net(6)
    fired = {"n": 0}

    def current(t):  # a real SIGINT in the middle of step 200
        fired["n"] += 1
        if fired["n"] == 201:
            os.kill(os.getpid(), signal.SIGINT)
        return 0.0

    net.add_current_input(net.populations[0], current)
    with pytest.raises(KeyboardInterrupt):
        net.run(0.05)
    assert net.t == pytest.approx(201e-4, abs=1e-12)  # step 200 completed, then the interrupt
    assert probes[2].data.shape[0] == 201
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    net.run(0.05 - net.t)
    assert_same(probes, pr)


@pytest.mark.parametrize("method", ["rk4", "exp_ab2"])
def test_hh_store_restore_and_interruption(method):
    def build(fail_at=None):
        net = Network(dt=1e-5, rng=2)
        src = net.add_poisson(30, rate=60.0)
        pop = net.add_population(HodgkinHuxley(), 3, bias=[2.0, 5.0, 8.0], method=method)
        net.connect(src, pop, np.full((3, 30), 0.004), synapse=PSCFilter(0.003))
        calls = {"n": 0}

        def current(t):  # raises once, on its fail_at-th call
            calls["n"] += 1
            if calls["n"] == fail_at:
                raise Boom
            return 0.0

        net.add_current_input(pop, current)
        return net, [net.probe(pop), net.probe(pop, "v", sample_every=1e-4), net.probe(pop, "current")]

    ref, pr = build()
    ref.run(0.04)
    assert pr[0].data[0].size >= 3
    net, probes = build(fail_at=1555)
    net.run(0.01)
    net.store("a")
    with pytest.raises(Boom):
        net.run(0.03)
    assert net.t == pytest.approx(1554e-5, abs=1e-12)
    net.run(0.04 - net.t)
    assert_same(probes, pr)
    net.restore("a")  # back to 0.01 s, recorded data included
    assert net.t == pytest.approx(0.01) and probes[1].data.shape[0] == 100
    net.run(0.03)
    assert_same(probes, pr)
    with pytest.raises(ValueError, match="no state stored"):
        net.restore("b")


def test_a_failed_commit_requires_reset_or_restore(monkeypatch):
    from neurosim.network import populations

    net, probes = lif_net(1, backend="numpy")  # the numpy runtime's step fails (the compiled one: test_backends)
    net.run(0.01)
    net.store()
    original = populations.LIFRuntime.step

    def broken(self, k, t0):
        if k == 150:
            raise FloatingPointError("bad state")
        return original(self, k, t0)

    monkeypatch.setattr(populations.LIFRuntime, "step", broken)
    with pytest.raises(FloatingPointError):
        net.run(0.01)
    with pytest.raises(RuntimeError, match="reset.*restore"):
        net.run(0.01)
    monkeypatch.setattr(populations.LIFRuntime, "step", original)
    net.restore()
    net.run(0.01)
    ref, pr = lif_net(1, backend="numpy")
    ref.run(0.02)
    assert_same(probes, pr)


def test_probe_memory_is_the_recorded_data_and_a_late_probe_starts_late():
    net, probes = lif_net(0)
    net.run(0.01)
    late = net.probe(net.populations[1], "v", sample_every=1e-3)
    net.run(0.02)
    assert late.data.shape == (20, 10)
    np.testing.assert_allclose(late.t, 0.01 + 1e-3 * np.arange(1, 21))
    buf = net.runtime.buffers[late]
    assert sum(b[0].nbytes for b in buf.blocks) == 20 * 10 * 8
    batch, bp = lif_net(0, batch=2)
    batch.run(0.01)
    assert bp[2].data.shape == (100, 2, 30)
    assert len(bp[0].spike_times) == 2 and len(bp[0].spike_times[0]) == 30


def test_spike_recorder_trials_exact_and_rollback():
    from neurosim import SpikeRecorder

    rec = SpikeRecorder(3, 1e-3, exact=True, n_trials=2)
    rec.record(5, np.array([4, 1]), np.array([2e-4, 1e-4]))  # flat: trial 1 neuron 1, trial 0 neuron 1
    mark = rec.checkpoint()
    rec.record(7, np.array([0]), np.array([3.3e-4]))
    times, indices, trials = rec.events()
    np.testing.assert_array_equal(times, [5.1e-3, 5.2e-3, 7.33e-3])
    np.testing.assert_array_equal(indices, [1, 1, 0])
    np.testing.assert_array_equal(trials, [0, 1, 0])
    rec.rollback(mark)
    assert rec.n_spikes == 2
    coarse = SpikeRecorder(3, 1e-3)
    coarse.record(5, np.array([2]), np.array([1e-4]))
    t, i = coarse.events()
    assert abs(t[0] - 5.1e-3) <= 1e-3 / 65536 and i[0] == 2


def fused_net(rng, batch=None):
    """Two sparse connections from one population into two synapse groups: propagated in one gather."""
    net = Network(dt=1e-4, rng=rng, batch=batch)
    inp = net.add_poisson(50, rate=30.0)
    pop = net.add_population(LIF(0.02, 0.005), 200, bias=0.9, v0="uniform")
    w = np.random.default_rng(3)
    mask = w.random((200, 200)) < 0.1
    W_e = sp.csr_matrix(np.where(mask[:, :160], w.uniform(0, 0.01, (200, 160)), 0) @ np.eye(160, 200))
    W_i = sp.csr_matrix(np.where(mask[:, 160:], -w.uniform(0, 0.03, (200, 40)), 0) @ np.eye(40, 200, 160))
    net.connect(inp, pop, sp.csr_matrix(w.uniform(0, 0.01, (200, 50)) * (w.random((200, 50)) < 0.3)),
                synapse=PSCFilter(0.003))
    net.connect(pop, pop, W_e, synapse=PSCFilter(0.005))
    net.connect(pop, pop, W_i, synapse=PSCFilter(0.01))
    return net, [net.probe(pop), net.probe(pop, "current")]


def test_fused_propagation_equals_separate_connections_and_batch_trials():
    net, probes = fused_net(9, batch=2)
    net.run(0.1)
    assert len(net.runtime.fused) == 1
    for k, seed in enumerate(Network.trial_seeds(9, 2)):
        one, p1 = fused_net(seed)
        one.build()
        one.runtime.fused = []  # propagate connection by connection instead
        for _, rt in one.runtime.conns:
            rt.fused = False
        one.run(0.1)
        t, i = trial(probes[0].data, k)
        assert t.size > 100
        np.testing.assert_array_equal(i, p1[0].data[1])
        np.testing.assert_array_equal(t, p1[0].data[0])
        np.testing.assert_array_equal(probes[1].data[:, k], p1[1].data)


def test_very_active_dense_batch_uses_one_product_and_matches_single_runs():
    from neurosim.network import connections

    def build(rng, batch=None):
        net = Network(dt=1e-3, rng=rng, batch=batch)
        a = net.add_population(LIF(0.02, 0.002), 20, bias=np.linspace(1.5, 6.0, 20), v0="uniform")
        b = net.add_population(LIF(0.02, 0.002), 5)
        W = np.random.default_rng(1).normal(0, 0.02, (5, 20))
        net.connect(a, b, W, synapse=PSCFilter(0.01))
        return net, net.probe(b, "current"), net.probe(a)

    net, cur, spikes = build(4, batch=3)
    net.run(0.2)
    per_step = np.bincount(np.floor(spikes.data[0] / 1e-3 + 1e-9).astype(int), minlength=200)
    assert np.mean(per_step > connections._MATMUL_FRACTION * 3 * 20) > 0.5  # mostly the product path
    for k, seed in enumerate(Network.trial_seeds(4, 3)):
        one, c1, _ = build(seed)
        one.run(0.2)
        np.testing.assert_allclose(cur.data[:, k], c1.data, rtol=1e-12, atol=1e-12)
