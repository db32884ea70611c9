"""STDP (neurosim.STDP): analytic oracles, Brian2's Synapses STDP, batch, snapshots, sparse, refusals, bimodality."""
import numpy as np
import pytest
import scipy.sparse as sp

import neurosim as ns
from neurosim.synapses.plasticity import STDPRuntime

DT = 1e-4


class Forced(ns.NeuronModel):
    """Spikes at the start of the steps marked in a (steps, n) table: postsynaptic spikes on a grid."""

    state = {"k": 0.0}

    def __init__(self, spikes):
        super().__init__()
        self._table = np.asarray(spikes, dtype=bool)

    def step(self, dt, J, k):
        i = int(k.reshape(-1)[0])
        k += 1
        if i >= len(self._table):
            return np.zeros(J.shape, dtype=bool)
        return np.broadcast_to(self._table[i], J.shape).copy()


def forced(steps_per_neuron, n_steps):
    table = np.zeros((n_steps + 1, len(steps_per_neuron)), dtype=bool)
    for i, steps in enumerate(steps_per_neuron):
        table[np.asarray(steps, dtype=int), i] = True
    return Forced(table)


def network(pre_steps, post_steps, W, rule, delay=0.0, T=0.06, batch=None, backend="numpy"):
    """Spike source (pre, spikes at step numbers) -> forced population (post); returns net, conn, weights probe."""
    net = ns.Network(dt=DT, batch=batch, backend=backend)
    src = net.add_spike_source([np.asarray(s, dtype=float) * DT for s in pre_steps])
    post = net.add_population(forced(post_steps, int(round(T / DT))), len(post_steps))
    conn = net.connect(src, post, W, delay=delay, plasticity=rule)
    probe = net.probe(conn, "weights")
    return net, conn, probe


RULE = dict(tau_plus=0.02, tau_minus=0.03, A_plus=0.01, A_minus=0.012, w_min=0.0, w_max=1.0)


# ---- analytic oracle: hand-computed weight changes -------------------------------------------------
@pytest.mark.parametrize("rule", ["additive", "multiplicative"])
def test_pre_post_pair_analytic(rule):
    """pre 10 ms, post 15 ms, pre 40 ms: potentiation by A+ e^(-5/20), then depression by A- e^(-25/30)."""
    r = ns.STDP(**RULE, rule=rule)
    net, conn, probe = network([[100, 400]], [[150]], np.array([[0.5]]), r)
    net.run(0.06)
    w = 0.5
    if rule == "additive":
        w += 0.01 * np.exp(-5 / 20)
        w -= 0.012 * np.exp(-25 / 30)
    else:
        w += 0.01 * np.exp(-5 / 20) * (1.0 - w)
        w -= 0.012 * np.exp(-25 / 30) * (w - 0.0)
    data = probe.data[:, 0, 0]
    assert data.shape == (600,)
    assert data[-1] == pytest.approx(w, abs=1e-14)
    # the trajectory: constant between events, each change at the step after the event
    t = probe.t
    assert np.all(data[t <= 0.0150 + DT / 2] == 0.5)
    assert np.all(data[(t > 0.0150 + DT / 2) & (t <= 0.0400 + DT / 2)] == data[150])
    assert net.current_weights(conn)[0, 0] == data[-1]
    assert conn.weights[0, 0] == 0.5  # the description keeps the initial weight


@pytest.mark.parametrize("pairing", ["all", "nearest"])
def test_pairing_analytic(pairing):
    """Two pre spikes (10, 12 ms) then post (15 ms): all-to-all sums both traces, nearest keeps the last."""
    r = ns.STDP(**RULE, pairing=pairing)
    net, conn, probe = network([[100, 120]], [[150, 170]], np.array([[0.5]]), r)
    net.run(0.03)
    x_pre = np.exp(-5 / 20) + np.exp(-3 / 20) if pairing == "all" else np.exp(-3 / 20)
    # the pre spikes: the first sees no post trace; the second neither
    w = 0.5 + 0.01 * x_pre
    # second post at 17 ms: the pre trace has decayed 2 ms more
    w += 0.01 * x_pre * np.exp(-2 / 20)
    assert probe.data[-1, 0, 0] == pytest.approx(w, abs=1e-14)
    # a pre spike after two posts (15, 17 ms) at 20 ms: the post trace sums (all) or is the last (nearest)
    net2, _, probe2 = network([[200]], [[150, 170]], np.array([[0.5]]), r)
    net2.run(0.03)
    x_post = np.exp(-5 / 30) + np.exp(-3 / 30) if pairing == "all" else np.exp(-3 / 30)
    assert probe2.data[-1, 0, 0] == pytest.approx(0.5 - 0.012 * x_post, abs=1e-14)


def test_delay_pre_trace_sees_arrival():
    """delay 3 ms: pre emitted at 10 ms arrives at 13 ms, after the post spike at 12 ms: depression only."""
    r = ns.STDP(**RULE)
    net, _, probe = network([[100]], [[120]], np.array([[0.5]]), r, delay=0.003)
    net.run(0.03)
    assert probe.data[-1, 0, 0] == pytest.approx(0.5 - 0.012 * np.exp(-1 / 30), abs=1e-14)
    # without the delay, the same spikes potentiate
    net, _, probe = network([[100]], [[120]], np.array([[0.5]]), r)
    net.run(0.03)
    assert probe.data[-1, 0, 0] == pytest.approx(0.5 + 0.01 * np.exp(-2 / 20), abs=1e-14)


def test_simultaneous_pre_and_post_pre_first():
    """Equal times: the arrival is applied first (Brian2's on_pre before on_post): net change -A-*0 + A+*1."""
    r = ns.STDP(**RULE)
    net, _, probe = network([[100]], [[100]], np.array([[0.5]]), r)
    net.run(0.02)
    assert probe.data[-1, 0, 0] == pytest.approx(0.51, abs=1e-14)


@pytest.mark.parametrize("rule", ["additive", "multiplicative"])
def test_clipped_to_bounds(rule):
    r = ns.STDP(0.02, 0.02, 0.3, 0.3, 0.1, 0.6, rule=rule)
    net, _, probe = network([[100, 110, 120, 300]], [[101, 111, 121]], np.array([[0.5]]), r)
    net.run(0.04)
    w = probe.data[:, 0, 0]
    assert w.min() >= 0.1 and w.max() <= 0.6
    if rule == "additive":
        assert w.max() == 0.6  # reached and held at the bound
    with pytest.raises(ValueError, match="outside the STDP bounds"):
        network([[1]], [[2]], np.array([[0.7]]), r)


# ---- Brian2: the same rule written as Synapses ------------------------------------------------------
def _brian2_weights(pre_steps, post_steps, W, rule, pairing, delay_steps, n_steps, p):
    """Weights recorded by Brian2 at the start of every step (StateMonitor), shape (steps, synapses)."""
    b2 = pytest.importorskip("brian2", reason="pip install brian2 (numpy<2.4) to compare with Brian2")
    b2.start_scope()
    b2.prefs.codegen.target = "numpy"
    b2.defaultclock.dt = DT * b2.second

    def group(steps):
        idx = np.concatenate([np.full(len(s), i) for i, s in enumerate(steps)]).astype(int)
        t = np.concatenate([np.asarray(s, dtype=float) for s in steps]) * DT
        return b2.SpikeGeneratorGroup(len(steps), idx, t * b2.second)

    pre, post = group(pre_steps), group(post_steps)
    bump = "= 1" if pairing == "nearest" else "+= 1"
    if rule == "additive":
        dep, pot = "w - A_minus * xpost", "w + A_plus * xpre"
    else:
        dep, pot = "w - A_minus * xpost * (w - w_min)", "w + A_plus * xpre * (w_max - w)"
    S = b2.Synapses(pre, post, """w : 1
                                  dxpre/dt = -xpre / tau_plus : 1 (event-driven)
                                  dxpost/dt = -xpost / tau_minus : 1 (event-driven)""",
                    on_pre=f"xpre {bump}\nw = clip({dep}, w_min, w_max)",
                    on_post=f"xpost {bump}\nw = clip({pot}, w_min, w_max)",
                    namespace=dict(tau_plus=p["tau_plus"] * b2.second, tau_minus=p["tau_minus"] * b2.second,
                                   A_plus=p["A_plus"], A_minus=p["A_minus"], w_min=p["w_min"], w_max=p["w_max"]))
    i, j = np.nonzero(np.ones_like(W)) if isinstance(W, np.ndarray) else W.nonzero()
    S.connect(i=j, j=i)  # Brian2 connects pre i to post j
    S.w = np.asarray(W[i, j]).ravel()
    S.delay = delay_steps * DT * b2.second
    mon = b2.StateMonitor(S, "w", record=True)
    b2.run(n_steps * DT * b2.second)
    return np.asarray(mon.w).T, i, j  # (steps, synapses), synapse k is (post i[k], pre j[k])


@pytest.mark.parametrize("rule", ["additive", "multiplicative"])
@pytest.mark.parametrize("pairing", ["all", "nearest"])
@pytest.mark.parametrize("delay_steps", [0, 3])
def test_equals_brian2(rule, pairing, delay_steps):
    """Fixed spike trains (3 pre, 2 post, some on equal steps): the weight trajectories of every synapse."""
    rng = np.random.default_rng(1)
    n_steps = 3000
    pre_steps = [np.sort(rng.choice(n_steps - 10, 40, replace=False)) for _ in range(3)]
    post_steps = [np.sort(rng.choice(n_steps - 10, 40, replace=False)) for _ in range(2)]
    post_steps[0][:5] = pre_steps[0][:5]  # exact ties
    post_steps[0].sort()
    p = dict(tau_plus=0.0168, tau_minus=0.0337, A_plus=0.03, A_minus=0.0315, w_min=0.0, w_max=0.2)
    W = rng.uniform(0.05, 0.15, (2, 3))
    ref, i, j = _brian2_weights(pre_steps, post_steps, W, rule, pairing, delay_steps, n_steps, p)
    r = ns.STDP(**p, rule=rule, pairing=pairing)
    net, conn, probe = network(pre_steps, post_steps, W, r, delay=delay_steps * DT, T=n_steps * DT)
    net.run(n_steps * DT)
    ours = probe.data[:, i, j]  # sample at (k + 1) dt: every event before it; Brian2 records at the start
    assert ref.shape == ours.shape
    assert np.abs(ref[1:] - ours[:-1]).max() < 1e-9
    assert np.abs(ref[1:] - ref[0]).max() > 0.02  # the weights did move


# ---- the fast path equals event-by-event application ----------------------------------------------
@pytest.mark.parametrize("rule", ["additive", "multiplicative"])
@pytest.mark.parametrize("pairing", ["all", "nearest"])
def test_vectorized_equals_sequential(rule, pairing):
    """LIF postsynaptic spikes inside the step, Poisson input, delays: the three-stage step == event by event."""
    def run(sequential):
        net = ns.Network(dt=DT, rng=3, backend="numpy")
        inp = net.add_poisson(50, rate=40.0)
        pop = net.add_population(ns.LIF(tau_m=0.01, tau_ref=0.002), 4, bias=0.9)
        W = np.random.default_rng(0).uniform(0.0, 0.01, (4, 50))
        conn = net.connect(inp, pop, W, delay=0.00023, plasticity=ns.STDP(0.02, 0.02, 0.002, 0.0021, 0.0, 0.01,
                                                                         rule=rule, pairing=pairing))
        probe = net.probe(conn, "weights", sample_every=0.01)
        net.build()
        net.runtime.plastic_runtime(conn).force_sequential = sequential
        net.run(0.5)
        return probe.data

    a, b = run(False), run(True)
    assert np.abs(a - a[0]).max() > 1e-3
    assert np.abs(a - b).max() < 1e-12


# ---- batch: per-trial weights ------------------------------------------------------------------------
def test_batch_trials_learn_their_own_copy():
    def build(batch, rng):
        net = ns.Network(dt=DT, rng=rng, batch=batch, backend="numpy")
        inp = net.add_poisson(30, rate=30.0)
        pop = net.add_population(ns.LIF(tau_m=0.01, tau_ref=0.002), 3, bias=0.95)
        conn = net.connect(inp, pop, np.full((3, 30), 0.004), plasticity=ns.STDP(0.02, 0.02, 0.001, 0.00105, 0, 0.01))
        return net, conn, net.probe(conn, "weights", sample_every=0.05)

    net, conn, probe = build(2, 7)
    net.run(0.3)
    assert probe.data.shape == (6, 2, 3, 30)
    assert np.abs(probe.data[-1, 0] - probe.data[-1, 1]).max() > 1e-4  # trials differ
    for k, seed in enumerate(ns.Network.trial_seeds(7, 2)):
        single, conn1, p1 = build(None, seed)
        single.run(0.3)
        assert np.abs(p1.data - probe.data[:, k]).max() < 1e-12
    assert net.current_weights(conn).shape == (2, 3, 30)
    np.testing.assert_array_equal(net.current_weights(conn), probe.data[-1])


# ---- snapshots, interruption, reassigned weights ------------------------------------------------------
def _plastic_net():
    net = ns.Network(dt=DT, rng=5, backend="numpy")
    inp = net.add_poisson(40, rate=40.0)
    pop = net.add_population(ns.LIF(tau_m=0.01, tau_ref=0.002), 5, bias=0.9)
    W = sp.random(5, 40, density=0.3, random_state=1, format="csr") * 0.005
    conn = net.connect(inp, pop, W, delay=0.0012, plasticity=ns.STDP(0.02, 0.02, 0.0005, 0.0006, 0.0, 0.01))
    return net, conn


def test_store_restore_continues_identically():
    net, conn = _plastic_net()
    net.run(0.1)
    net.store()
    net.run(0.2)
    first = net.current_weights(conn).toarray()
    net.restore()
    net.run(0.2)
    np.testing.assert_array_equal(net.current_weights(conn).toarray(), first)
    ref, conn2 = _plastic_net()
    ref.run(0.3)
    np.testing.assert_array_equal(ref.current_weights(conn2).toarray(), first)


def test_failed_commit_then_restore_continues_identically(monkeypatch):
    """An exception inside the plasticity phase marks the runtime invalid; restore brings back the learned state."""
    net, conn = _plastic_net()
    ref, conn_ref = _plastic_net()
    ref.run(0.2)
    net.run(0.05)
    net.store()
    rt = net.runtime
    real, calls = rt.plasticity_step, {"n": 0}

    def flaky(k, plastic):
        calls["n"] += 1
        if calls["n"] == 7:
            raise MemoryError("simulated")
        real(k, plastic)

    monkeypatch.setattr(rt, "plasticity_step", flaky)
    with pytest.raises(MemoryError):
        net.run(0.15)
    with pytest.raises(RuntimeError, match="invalid"):
        net.run(DT)
    monkeypatch.undo()
    net.restore()
    net.run(0.15)
    np.testing.assert_array_equal(net.current_weights(conn).toarray(), ref.current_weights(conn_ref).toarray())


def test_ctrl_c_held_to_step_boundary():
    """SIGINT during a run: the step is committed first, and the continued run equals an uninterrupted one."""
    import os
    import signal

    net, conn = _plastic_net()
    ref, conn_ref = _plastic_net()
    ref.run(0.2)
    net.run(0.05)
    rt = net.runtime
    real, calls = rt.plasticity_step, {"n": 0}

    def signalling(k, plastic):
        real(k, plastic)
        calls["n"] += 1
        if calls["n"] == 10:
            os.kill(os.getpid(), signal.SIGINT)

    rt.plasticity_step = signalling
    with pytest.raises(KeyboardInterrupt):
        net.run(0.15)
    del rt.plasticity_step
    assert 0.05 < net.t < 0.2
    net.run(round((0.2 - net.t) / DT) * DT)
    np.testing.assert_array_equal(net.current_weights(conn).toarray(), ref.current_weights(conn_ref).toarray())


def test_reassigned_weights_restart_learning_from_them():
    net, conn = _plastic_net()
    net.run(0.05)
    learned = net.current_weights(conn).toarray()
    new = conn.weights * 0.5
    conn.weights = new
    assert not np.allclose(learned, new.toarray())
    net.run(DT)  # one step: the new weights, then that step's updates (a few synapses at most)
    now = net.current_weights(conn).toarray()
    assert np.abs(now - new.toarray()).max() < 0.002
    assert np.abs(now - new.toarray()).max() < np.abs(learned - new.toarray()).max()


# ---- sparse: learning on existing synapses only -------------------------------------------------------
def test_sparse_learns_only_existing_synapses():
    net, conn = _plastic_net()
    probe = net.probe(conn, "weights", sample_every=0.05)
    net.run(0.3)
    W0 = conn.weights.tocsr()
    W0.sum_duplicates()
    assert probe.data.shape == (6, W0.nnz)
    now = net.current_weights(conn)
    assert now.nnz == W0.nnz
    np.testing.assert_array_equal(now.indices, W0.indices)
    np.testing.assert_array_equal(now.indptr, W0.indptr)
    np.testing.assert_array_equal(now.data, probe.data[-1])
    assert np.abs(now.data - W0.data).max() > 1e-4


def test_sparse_equals_dense_on_the_same_synapses():
    """A dense matrix is all-to-all; the sparse one with every entry stored learns the same weights."""
    def run(W):
        net = ns.Network(dt=DT, rng=2, backend="numpy")
        inp = net.add_poisson(20, rate=40.0)
        pop = net.add_population(ns.LIF(tau_m=0.01, tau_ref=0.002), 3, bias=0.9)
        conn = net.connect(inp, pop, W, plasticity=ns.STDP(0.02, 0.02, 0.0005, 0.0006, 0.0, 0.01))
        net.run(0.3)
        out = net.current_weights(conn)
        return out if isinstance(out, np.ndarray) else out.toarray()

    W = np.random.default_rng(0).uniform(0.001, 0.009, (3, 20))
    a, b = run(W), run(sp.csr_matrix(W))
    assert np.abs(a - W).max() > 1e-4
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-15)


# ---- propagation with learned weights: with A = 0 it is the static connection -----------------------------
@pytest.mark.parametrize("placement", ["boundary", "exact"])
@pytest.mark.parametrize("delay", [0.0, 0.00137])
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("batch", [None, 2])
def test_frozen_stdp_propagates_like_a_static_connection(placement, delay, sparse, batch):
    def run(plastic):
        net = ns.Network(dt=DT, rng=11, batch=batch, backend="numpy")
        inp = net.add_poisson(30, rate=60.0)
        pop = net.add_population(ns.LIF(tau_m=0.01, tau_ref=0.002), 4, bias=0.5)
        W = np.random.default_rng(1).uniform(0.0, 0.03, (4, 30)) * (np.random.default_rng(2).random((4, 30)) < 0.5)
        rule = ns.STDP(0.02, 0.02, 0.0, 0.0, 0.0, 0.03) if plastic else None
        net.connect(inp, pop, sp.csr_matrix(W) if sparse else W, delay=delay, placement=placement,
                    synapse=ns.PSCFilter(0.004, n=1), plasticity=rule)
        spikes, v = net.probe(pop, "spikes"), net.probe(pop, "v", sample_every=0.01)
        net.run(0.3)
        return spikes.data, v.data

    (a, va), (b, vb) = run(False), run(True)
    assert a[0].size > 20
    assert all(np.array_equal(x, y) for x, y in zip(a[1:], b[1:]))
    np.testing.assert_allclose(a[0], b[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(va, vb, rtol=0, atol=1e-12)


def test_weights_probe_added_after_a_run():
    net, conn = _plastic_net()
    net.run(0.05)
    probe = net.probe(conn, "weights", sample_every=0.01)
    net.run(0.05)
    assert probe.data.shape[0] == 5
    np.testing.assert_allclose(probe.t, [0.06, 0.07, 0.08, 0.09, 0.1])
    np.testing.assert_array_equal(probe.data[-1], net.current_weights(conn).data)


# ---- the sim matrix: grid works in every batch cell; precise and numba refuse --------------------------
def _matrix_net(net):
    inp = net.add_poisson(10, rate=50.0)
    pop = net.add_population(ns.LIF(tau_m=0.01, tau_ref=0.002), 2, bias=0.9)
    conn = net.connect(inp, pop, np.full((2, 10), 0.004), delay=0.001,
                       plasticity=ns.STDP(0.02, 0.02, 0.001, 0.001, 0.0, 0.01))
    return net.probe(conn, "weights", sample_every=0.01)


def test_sim_matrix(sim):
    net = sim.network(dt=DT, rng=0)
    probe = _matrix_net(net)
    if sim.refuses(net):
        return
    if sim.timing == "precise":
        with pytest.raises(ValueError, match="timing='precise' cannot run the STDP"):
            net.build()
        return
    net.run(0.1)
    assert net.backend == "numpy"
    shape = (10, 2, 10) if sim.batch is None else (10, sim.batch, 2, 10)
    assert probe.data.shape == shape
    assert np.abs(probe.data[-1] - 0.004).max() > 1e-4
    # trial 0 learns exactly what an unbatched run with its seed learns (the reference the other tests check)
    ref_net = ns.Network(dt=DT, rng=0 if sim.batch is None else ns.Network.trial_seeds(0, sim.batch)[0],
                         backend="numpy")
    ref = _matrix_net(ref_net)
    ref_net.run(0.1)
    got = probe.data if sim.batch is None else probe.data[:, 0]
    np.testing.assert_allclose(got, ref.data, rtol=0, atol=1e-12)


def test_auto_backend_falls_back_to_numpy():
    pytest.importorskip("numba", reason="pip install numba")
    net = ns.Network(dt=DT, backend="auto")
    src = net.add_spike_source([[0.01]])
    pop = net.add_population(ns.LIF(), 1)
    net.connect(src, pop, 0.1, plasticity=ns.STDP(**RULE))
    assert net.backend == "numpy"
    net.run(0.01)
    assert net.backend == "numpy"
    with pytest.raises(ValueError, match="plasticity \\(STDP\\) has no compiled form"):
        strict = ns.Network(dt=DT, backend="numba")
        src = strict.add_spike_source([[0.01]])
        pop = strict.add_population(ns.LIF(), 1)
        strict.connect(src, pop, 0.1, plasticity=ns.STDP(**RULE))
        strict.build()


# ---- bad input ----------------------------------------------------------------------------------------
def test_bad_parameters():
    with pytest.raises(ValueError, match="tau_plus"):
        ns.STDP(0.0, 0.02, 0.01, 0.01, 0, 1)
    with pytest.raises(TypeError, match="A_plus"):
        ns.STDP(0.02, 0.02, "0.01", 0.01, 0, 1)
    with pytest.raises(ValueError, match="A_minus"):
        ns.STDP(0.02, 0.02, 0.01, -0.01, 0, 1)
    with pytest.raises(ValueError, match="w_min must be below w_max"):
        ns.STDP(0.02, 0.02, 0.01, 0.01, 1, 1)
    with pytest.raises(ValueError, match="rule"):
        ns.STDP(0.02, 0.02, 0.01, 0.01, 0, 1, rule="hebbian")
    with pytest.raises(ValueError, match="pairing"):
        ns.STDP(0.02, 0.02, 0.01, 0.01, 0, 1, pairing="first")
    r = ns.STDP(np.float32(0.02), 0.02, np.float64(0.01), 0.01, 0, 1)  # numpy scalars are valid
    assert r.tau_plus == pytest.approx(0.02)
    with pytest.raises(AttributeError, match="fixed"):
        r.A_plus = 0.5
    net = ns.Network(dt=DT)
    src = net.add_spike_source([[0.01]])
    pop = net.add_population(ns.LIF(), 1)
    with pytest.raises(TypeError, match="plasticity must be a neurosim.STDP"):
        net.connect(src, pop, 0.1, plasticity="stdp")
    static = net.connect(src, pop, 0.1)
    with pytest.raises(ValueError, match="has no plasticity"):
        net.probe(static, "weights")
    with pytest.raises(ValueError, match="must be a Connection with plasticity"):
        net.probe(pop, "weights")
    plastic = net.connect(src, pop, 0.1, plasticity=r)
    with pytest.raises(AttributeError, match="plasticity is fixed"):
        plastic.plasticity = None
    with pytest.raises(ValueError, match="records kind 'weights' only"):
        net.probe(plastic, "v")
    with pytest.raises(ValueError, match="has no plasticity"):
        net.current_weights(static)
    with pytest.raises(TypeError, match="conn must be a Connection"):
        net.current_weights(pop)
    other = ns.Network(dt=DT)
    with pytest.raises(ValueError, match="not one of this network's"):
        other.current_weights(plastic)
    with pytest.raises(ValueError, match="not one of this network's"):
        other.probe(plastic, "weights")
    conv = ns.Convolution(np.ones((1, 1, 1, 1)), input_shape=(1, 1, 1))
    with pytest.raises(ValueError, match="Convolution shares one kernel"):
        net.connect(src, pop, conv, plasticity=r)


# ---- Song, Miller & Abbott 2000: bimodal final weights -------------------------------------------------
def test_song_bimodal_short():
    """Song et al. (2000), short: 100 Poisson inputs, 100 s; uniform initial weights split to the two bounds."""
    import importlib.util
    import pathlib

    path = pathlib.Path(__file__).resolve().parents[2] / "examples" / "stdp.py"
    spec = importlib.util.spec_from_file_location("stdp_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    w, w_max, rate = example.song(n_inputs=100, T=100.0, rng=0)
    low, high = np.mean(w < 0.1 * w_max), np.mean(w > 0.9 * w_max)
    assert low + high > 0.65  # uniform start: 0.2
    assert low > 0.2 and high > 0.2  # both modes
    assert np.mean((w > 0.2 * w_max) & (w < 0.8 * w_max)) < 0.2  # the middle emptied (uniform start: 0.6)
    assert 5.0 < rate < 80.0


# ---- export: PyNN STDPMechanism, NIR refuses ----------------------------------------------------------
def _export_net(rule="additive", pairing="all", w_min=0.0):
    net = ns.Network(dt=DT)
    src = net.add_spike_source([[0.01, 0.02], [0.015]])
    pop = net.add_population(ns.LIF(tau_m=0.02, tau_ref=0.002), 2)
    r = ns.STDP(0.02, 0.03, 0.001, 0.0012, w_min, 0.01, rule=rule, pairing=pairing)
    conn = net.connect(src, pop, np.full((2, 2), 0.005), delay=0.001, plasticity=r)
    return net, conn


@pytest.mark.parametrize("rule", ["additive", "multiplicative"])
def test_pynn_plan_maps_stdp(rule):
    from neurosim.export.pynn import export_plan
    from neurosim.export.units import pynn_units

    net, conn = _export_net(rule)
    zero = rule == "additive"  # a zero weight is a synapse too: it may grow (multiplicative: refused, below)
    if zero:
        conn.weights = np.array([[0.005, 0.0], [0.005, 0.005]])
    meta, arrays = export_plan(net, backend="neuron")
    (proj,) = meta["projections"]
    nA = float(pynn_units(0.02, 0.002, weights=1.0, tau_s=conn.synapse.tau_s).weights)  # nA per unit weight
    rows = arrays[proj["rows"]]
    assert rows.shape[0] == 4
    np.testing.assert_allclose(rows[:, 2], [0.0 if zero and (i, j) == (0, 1) else 0.005 * nA for j, i in rows[:, :2]],
                               rtol=1e-12)
    stdp = proj["stdp"]
    # PyNN's additive amplitudes are fractions of w_max (NEST: lambda * Wmax, NEURON: aLTP * wmax)
    scale = 1 / 0.01 if rule == "additive" else 1.0
    assert stdp.pop("rule") == rule
    assert stdp == pytest.approx({"tau_plus": 20.0, "tau_minus": 30.0, "A_plus": 0.001 * scale,
                                  "A_minus": 0.0012 * scale, "w_min": 0.0, "w_max": 0.01 * nA,
                                  "dendritic_delay_fraction": 0.0}, rel=1e-12)
    pyNN_mock = pytest.importorskip("pyNN.mock", reason="pip install pyNN")
    from neurosim.export.pynn import runner

    pyNN_mock.setup(timestep=0.1, min_delay=0.1)
    syn = runner._synapse_type(pyNN_mock, dict(stdp, rule=rule))
    assert type(syn).__name__ == "STDPMechanism"
    assert type(syn.weight_dependence).__name__ == ("AdditiveWeightDependence" if rule == "additive"
                                                     else "MultiplicativeWeightDependence")
    params = {k: v.base_value for k, v in syn.timing_dependence.parameter_space.items()}
    assert params == pytest.approx({"tau_plus": 20.0, "tau_minus": 30.0, "A_plus": stdp["A_plus"],
                                    "A_minus": stdp["A_minus"]})
    assert syn.dendritic_delay_fraction == 0.0


def test_pynn_refuses_what_it_cannot_carry(tmp_path):
    from neurosim.export import write_pynn_script
    from neurosim.export.pynn import export_plan
    from neurosim.export.pynn.runner import ExportError

    with pytest.raises(ValueError, match="pairing='nearest' cannot be exported"):
        export_plan(_export_net(pairing="nearest")[0], backend="neuron")
    with pytest.raises(ValueError, match="w_min=-0.01 < 0 cannot be exported"):
        export_plan(_export_net(w_min=-0.01)[0], backend="neuron")
    net, conn = _export_net(rule="multiplicative")
    conn.weights = np.array([[0.005, 0.0], [0.005, 0.005]])
    with pytest.raises(ValueError, match="multiplicative STDP with a weight <= 0 cannot be exported to NEURON"):
        export_plan(net, backend="neuron")
    # NEST: every delay is dendritic there; ours is axonal (Brian2's) -> refused, script and live paths
    with pytest.raises(ExportError, match="NEST's stdp_synapse treats every delay as dendritic"):
        write_pynn_script(_export_net()[0], tmp_path / "run.py", sim="nest")
    assert not (tmp_path / "run.py").exists()
    script, data = write_pynn_script(_export_net()[0], tmp_path / "run.py", sim="neuron")
    import json
    meta = json.loads(str(np.load(data)["meta"]))
    assert meta["projections"][0]["stdp"]["rule"] == "additive"
    assert "STDPMechanism" in open(script).read()


def test_nir_refuses_plasticity():
    pytest.importorskip("nir", reason="pip install nir")
    from neurosim.export import to_nir

    with pytest.raises(ValueError, match="learns by STDP .* NIR cannot carry"):
        to_nir(_export_net()[0])


@pytest.mark.parametrize("rule", ["additive", "multiplicative"])
def test_exported_rule_equals_nests_stdp_synapse(rule):
    """NEST's stdp_synapse with the exported parameters learns what neurosim learns, once its dendritic delay is
    undone: NEST pairs (t_post + d) with t_pre, so neurosim gets the postsynaptic spikes d later (no delay)."""
    nest = pytest.importorskip("nest", reason="pip install nest-simulator")
    from neurosim.export.pynn.live import _stdp_plan

    rng = np.random.default_rng(4)
    n_steps, d_steps = 4000, 10
    pre_steps = np.sort(rng.choice(np.arange(2, n_steps - 200, 2), 60, replace=False))  # even steps
    post_steps = np.sort(rng.choice(np.arange(3, n_steps - 200, 2), 50, replace=False))  # odd: no ties
    pre_steps = np.r_[pre_steps, n_steps - 50]  # NEST applies a synapse's updates at its presynaptic spikes
    r = ns.STDP(0.0168, 0.0337, 0.03, 0.0315, 0.0, 0.2, rule=rule)
    plan = _stdp_plan(r, 1.0)  # PyNN's parameters, then PyNN's translation for NEST
    nest.set_verbosity("M_ERROR")
    nest.ResetKernel()
    nest.resolution = 1e3 * DT
    ms = 1e3 * DT
    gens = [nest.Create("spike_generator", params={"spike_times": (s - 1) * ms}) for s in (pre_steps, post_steps)]
    pre, post = nest.Create("parrot_neuron"), nest.Create("parrot_neuron")  # they spike one step after the generators
    post.set({"tau_minus": plan["tau_minus"]})
    for g, p in zip(gens, (pre, post)):
        nest.Connect(g, p, syn_spec={"delay": ms})
    mu = 0.0 if rule == "additive" else 1.0
    w0 = 0.1
    nest.Connect(pre, post, syn_spec={"synapse_model": "stdp_synapse", "receptor_type": 1, "weight": 1000 * w0,
                                      "delay": d_steps * ms, "tau_plus": plan["tau_plus"], "lambda": plan["A_plus"],
                                      "alpha": plan["A_minus"] / plan["A_plus"], "mu_plus": mu, "mu_minus": mu,
                                      "Wmax": 1000 * plan["w_max"]})
    nest.Simulate(n_steps * ms)
    w_nest = nest.GetConnections(pre, post).get("weight") / 1000
    net, conn, probe = network([pre_steps], [post_steps + d_steps], np.array([[w0]]), r, T=n_steps * DT)
    net.run(n_steps * DT)
    assert abs(net.current_weights(conn)[0, 0] - w0) > 0.01
    assert net.current_weights(conn)[0, 0] == pytest.approx(w_nest, abs=1e-9)


def test_csr_positions():
    from neurosim.synapses.plasticity import csr_positions

    pos, lengths = csr_positions(np.array([0, 2, 2, 5]), np.array([2, 0, 2, 1]))
    np.testing.assert_array_equal(pos, [2, 3, 4, 0, 1, 2, 3, 4])
    np.testing.assert_array_equal(lengths, [3, 2, 3, 0])
    pos, lengths = csr_positions(np.array([0, 2, 2, 5]), np.array([1]))
    assert pos.size == 0 and lengths.tolist() == [0]
