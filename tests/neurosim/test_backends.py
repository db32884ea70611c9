"""Backends: the compiled (numba) runtime gives the numpy runtime's spikes; selection, fallback and refusals.

The oracle is the numpy backend (itself tested against analytic solutions in
test_network.py / test_runtime.py): same seed, same neurons spiking at the same
steps, offsets within 1e-12 s, sampled probes equal.
"""
import os
import signal
import sys
import threading

import numpy as np
import pytest
import scipy.sparse as sp

from neurosim import LIF, HodgkinHuxley, Network, PSCFilter
from neurosim.network.examples import cuba

try:
    import numba  # noqa: F401
    HAVE_NUMBA = True
except ImportError:
    HAVE_NUMBA = False

needs_numba = pytest.mark.skipif(not HAVE_NUMBA, reason="needs numba: pip install '.[fast]' (or pip install numba)")


def assert_same_spikes(a, b, dt):
    """Same events, times within 1e-12 s (so the same steps: events sorted by time in both)."""
    assert len(a) == len(b)
    np.testing.assert_array_equal(a[1], b[1])
    if len(a) == 3:
        np.testing.assert_array_equal(a[2], b[2])
    np.testing.assert_allclose(a[0], b[0], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(np.floor(a[0] / dt + 1e-9), np.floor(b[0] / dt + 1e-9))


def assert_same(pa, pb, dt):
    for x, y in zip(pa, pb):
        if x.kind == "spikes":
            assert_same_spikes(x.data, y.data, dt)
        else:
            np.testing.assert_array_equal(x.t, y.t)
            np.testing.assert_allclose(x.data, y.data, rtol=1e-12, atol=1e-12)


def assert_same_relative(pa, pb, dt, min_spikes, min_scale):
    """As :func:`assert_same`, sampled values to 1e-12 of their largest size, with a floor on what was seen."""
    for x, y in zip(pa, pb):
        if x.kind == "spikes":
            assert y.data[0].size > min_spikes
            assert_same_spikes(x.data, y.data, dt)
        else:
            np.testing.assert_array_equal(x.t, y.t)
            scale = np.abs(y.data).max()
            assert scale > min_scale
            np.testing.assert_allclose(x.data, y.data, rtol=1e-12, atol=1e-12 * scale)


def recurrent(backend, rng=3, batch=None, sparse=False, bias=0.8, order=0, delay=1e-3, tau_ref=0.002, dt=1e-4):
    """Poisson input, two LIF populations, recurrent dense/CSR connections, a delay, spike and sampled probes."""
    net = Network(dt=dt, rng=rng, batch=batch, backend=backend)
    inp = net.add_poisson(40, rate=40.0)
    exc = net.add_population(LIF(0.02, tau_ref), 30, bias=bias, v0="uniform")
    inh = net.add_population(LIF(0.01, 0.001), 10, v0="uniform")
    w = np.random.default_rng(7)
    conv = sp.csr_matrix if sparse else np.asarray
    net.connect(inp, exc, conv(w.uniform(0, 0.012, (30, 40))), synapse=PSCFilter(0.005, order))
    net.connect(exc, exc, conv(w.uniform(0, 0.004, (30, 30)) * (w.random((30, 30)) < 0.3)), synapse=PSCFilter(0.005),
                delay=delay)
    net.connect(exc, inh, 0.003, synapse=PSCFilter(0.003))
    net.connect(inh, exc, conv(-w.uniform(0, 0.01, (30, 10))), synapse=PSCFilter(0.01))
    probes = [net.probe(exc, "spikes"), net.probe(inh, "spikes"), net.probe(inp, "spikes"),
              net.probe(inh, "v", sample_every=5 * dt), net.probe(exc, "current"), net.probe(exc, "rate", bin=1e-2)]
    return net, probes


def both(build, T, **kw):
    nets = {}
    for backend in ("numpy", "numba"):
        net, probes = build(backend, **kw)
        net.run(T)
        assert net.backend == backend
        nets[backend] = (net, probes)
    return nets


# ---- equality ---------------------------------------------------------------------------------
@needs_numba
def test_cuba_one_second_gives_identical_spikes():
    spikes = {}
    for backend in ("numpy", "numba"):
        net, probe = cuba(4000, rng=1, backend=backend)
        net.run(1.0)
        assert net.backend == backend
        spikes[backend] = probe.data
    assert spikes["numpy"][0].size > 10000  # CUBA fires ~5 Hz
    assert_same_spikes(spikes["numpy"], spikes["numba"], 1e-4)


@needs_numba
@pytest.mark.parametrize("sparse", [False, True])
@pytest.mark.parametrize("order", [0, 1])
def test_recurrent_network_with_delays_poisson_and_probes(sparse, order):
    nets = both(recurrent, 0.3, sparse=sparse, order=order)
    (a, pa), (b, pb) = nets["numpy"], nets["numba"]
    assert pa[0].data[0].size > 100 and pa[2].data[0].size > 100
    assert_same(pa, pb, a.dt)


@needs_numba
@pytest.mark.parametrize("sparse", [False, True])
def test_batch_gives_identical_spikes(sparse):
    bias = np.array([0.6, 0.8, 1.0])[:, None] * np.ones(30)
    nets = both(recurrent, 0.2, batch=3, sparse=sparse, bias=bias)
    (a, pa), (b, pb) = nets["numpy"], nets["numba"]
    assert np.unique(pa[0].data[2]).size == 3
    assert_same(pa, pb, a.dt)


@needs_numba
def test_refractory_period_shorter_than_the_step_repeats_spikes_identically():
    # dt = 1 ms, tau_ref = 0.2 ms and strong drive: several spikes per neuron in one step
    nets = both(recurrent, 0.2, bias=np.linspace(2, 40, 30), tau_ref=2e-4, dt=1e-3, delay=2e-3)
    (a, pa), (b, pb) = nets["numpy"], nets["numba"]
    t, i = pa[0].data
    steps = np.floor(t / a.dt + 1e-9).astype(int)
    assert np.unique(np.c_[steps, i], axis=0).shape[0] < t.size  # repeats inside a step happened
    assert_same(pa, pb, a.dt)


def inputs_net(backend, rng=0):
    net = Network(dt=1e-4, rng=rng, batch=2, backend=backend)
    src = net.add_spike_source([np.array([0.0, 0.0101, 0.02]), np.array([0.005, 0.03])])
    a = net.add_population(LIF(0.02, 0.002), 5, bias=np.array([[0.5] * 5, [0.9] * 5]))
    c = net.add_population(LIF(0.015, 0.003), 4)  # no synapses: a constant input
    net.add_current_input(a, np.tile(np.linspace(0.2, 0.9, 5), (3000, 1)))
    net.add_current_input(a, lambda t: 0.4 * np.sin(2 * np.pi * 20 * t))
    net.connect(src, a, np.full((5, 2), 0.05), synapse=PSCFilter(0.004, 2))
    net.connect(a, c, np.full((4, 5), 0.2), synapse=PSCFilter(0.002), delay=3.5e-4)  # a delay that is not whole steps
    return net, [net.probe(a, "spikes"), net.probe(c, "spikes"), net.probe(src, "spikes"), net.probe(a, "v"),
                 net.probe(c, "current", sample_every=1e-3)]


@needs_numba
def test_a_delay_from_a_source_is_refused_not_approximated():
    """Source spikes with a delay >= dt need their in-step times, which the compiled loop lacks: refused (auto: numpy)."""
    def build(backend):
        net = Network(dt=1e-4, backend=backend)
        src = net.add_poisson(3, rate=50.0)
        net.connect(src, net.add_population(LIF(), 2), 0.1, delay=1e-3)
        return net
    with pytest.raises(ValueError, match="delay >= dt from a source"):
        build("numba").build()
    net = build("auto")
    net.run(0.01)
    assert net.backend == "numpy"


@needs_numba
def test_current_inputs_functions_spike_sources_and_higher_order_synapses():
    nets = both(inputs_net, 0.25)
    (a, pa), (b, pb) = nets["numpy"], nets["numba"]
    assert pa[0].data[0].size > 50 and pa[1].data[0].size > 5 and pa[2].data[0].size == 10
    assert_same(pa, pb, a.dt)


@needs_numba
def test_a_constant_population_and_a_too_short_current_array():
    for backend in ("numpy", "numba"):
        net = Network(dt=1e-4, rng=0, backend=backend)
        pop = net.add_population(LIF(), 3, bias=[1.5, 2.0, 3.0])
        net.add_current_input(pop, np.zeros((1500, 3)))
        p = net.probe(pop)
        with pytest.raises(ValueError, match="1500 steps"):
            net.run(0.2)
        assert net.t == pytest.approx(0.15)  # the steps before the missing one are committed
        if backend == "numpy":
            ref = p.data
    assert_same_spikes(ref, p.data, 1e-4)


# ---- transactions: exceptions, Ctrl-C, store/restore -------------------------------------------
class Boom(Exception):
    pass


@needs_numba
@pytest.mark.parametrize("error", [Boom, KeyboardInterrupt])
def test_exception_in_a_user_function_then_continue_equals_one_run(error):
    ref, pr = recurrent("numba")
    ref.add_current_input(ref.populations[0], lambda t: 0.0)
    ref.run(0.1)
    net, probes = recurrent("numba")
    calls = {"n": 0}

    def current(t):
        calls["n"] += 1
        if calls["n"] == 432:
            raise error("injected")
        return 0.0

    net.add_current_input(net.populations[0], current)
    with pytest.raises(error):
        net.run(0.1)
    assert net.t == pytest.approx(431e-4, abs=1e-12)
    assert probes[4].data.shape[0] == 431
    net.run(0.1 - net.t)
    assert_same(probes, pr, net.dt)
    assert net.backend == "numba"


@needs_numba
def test_ctrl_c_stops_at_a_step_boundary_and_the_continued_run_is_identical():
    T = 3.0
    ref, pr = cuba(4000, rng=2)
    ref.run(T)
    net, probe = cuba(4000, rng=2)
    assert net.backend == "numba"
    net.run(1e-4)  # built and compiled before the timer starts
    timer = threading.Timer(0.05, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            net.run(T - 1e-4)
    finally:
        timer.cancel()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    steps = round(net.t / net.dt)
    assert 0 < steps < round(T / net.dt)  # stopped inside the run, at a step boundary
    net.run(T - steps * net.dt)
    assert_same_spikes(pr.data, probe.data, net.dt)


@needs_numba
def test_store_restore_and_reset_on_the_compiled_backend():
    net, probes = recurrent("numba", delay=5e-4)
    net.run(0.05)
    net.store()
    net.run(0.05)
    first = [p.data for p in probes]
    net.restore()
    net.run(0.05)
    for p, d in zip(probes, first):
        for u, v in zip(p.data, d):
            np.testing.assert_array_equal(u, v)
    net.reset()
    net.run(0.1)
    for p, d in zip(probes, first):
        for u, v in zip(p.data, d):
            np.testing.assert_array_equal(u, v)


# ---- selection, fallback and refusals ----------------------------------------------------------
def test_auto_falls_back_to_numpy_without_numba_and_numba_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "numba", None)  # import numba now raises ImportError
    net, probes = recurrent("auto")
    assert net.backend == "numpy"
    net.run(0.01)
    assert net.backend == "numpy"
    with pytest.raises(ImportError, match=r"\[fast\]"):
        Network(backend="numba")


def test_backend_argument_is_checked():
    with pytest.raises(ValueError, match="backend"):
        Network(backend="cuda")
    with pytest.raises(TypeError, match="backend"):
        Network(backend=1)
    net = Network(backend="numpy")
    net.add_population(LIF(), 2, bias=2.0)
    net.run(0.01)
    assert net.backend == "numpy"


def hh_net(backend):  # HH populations run compiled, but not their membrane noise
    net = Network(dt=1e-5, backend=backend)
    net.add_noise(net.add_population(HodgkinHuxley(), 2, bias=10.0), 1.0)
    return net


def exact_placement_net(backend):  # exact placement from a population compiles; from a source not yet
    net = Network(backend=backend)
    a = net.add_population(LIF(), 3, bias=1.5)
    net.connect(net.add_poisson(3, rate=100.0), a, np.full((3, 3), 0.01), placement="exact")
    return net


def source_filter_net(backend):
    net = Network(backend=backend)
    net.probe(net.add_poisson(3, rate=100.0), "filtered")
    return net


@needs_numba
@pytest.mark.parametrize("build, words", [(hh_net, "HodgkinHuxley"), (exact_placement_net, "placement='exact'"),
                                          (source_filter_net, "'filtered' of the source")])
def test_what_does_not_compile_is_refused_with_numba_and_runs_on_numpy_with_auto(build, words):
    with pytest.raises(ValueError, match=words):
        build("numba").run(1e-3)
    net = build("auto")
    assert net.backend == "numpy"
    net.run(1e-3)
    assert net.backend == "numpy"


@needs_numba
def test_a_probe_the_compiled_loop_cannot_record_is_refused_after_build():
    net, probes = recurrent("numba")
    net.run(1e-3)
    with pytest.raises(ValueError, match="'filtered_mean'.*backend='numba'"):
        net.probe(net.sources[0], "filtered_mean")
    net.run(1e-3)  # the network is unchanged and runs on
    assert net.backend == "numba"


def filtered(sim, order, every, noise):
    """Two LIF populations (one noisy, or one with tau_ref < dt) with filtered / filtered_mean probes of both."""
    net = sim.network(dt=1e-4, rng=2)
    inp = net.add_poisson(20, rate=200.0)
    a = net.add_population(LIF(0.02, 0.002), 15, bias=1.2, v0="uniform")
    # without noise tau_ref < dt: repeated spikes in one step (with noise, offsets differing in the last bit
    # could tip such a knife-edge repeat one way or the other)
    b = net.add_population(LIF(0.01, 1e-3 if noise else 5e-5), 5)
    w = np.random.default_rng(1)
    net.connect(inp, a, w.uniform(0, 0.01, (15, 20)))
    net.connect(a, b, w.uniform(0, 0.1, (5, 15)), synapse=PSCFilter(0.003, 1), delay=2e-4)
    if noise:
        net.add_noise(a, 0.3)
    return net, [net.probe(a, "filtered_mean", sample_every=every * 1e-4, synapse=PSCFilter(0.005, order)),
                 net.probe(b, "filtered_mean", synapse=PSCFilter(0.002)),
                 net.probe(b, "filtered", synapse=PSCFilter(0.004, order)), net.probe(a, "spikes"),
                 net.probe(b, "spikes")]


@pytest.mark.parametrize("order, every, noise", [(0, 3, False), (2, 7, True)])
def test_filtered_probes_equal_on_both_backends(sim, order, every, noise):
    """The read-out of spiking inference: "filtered" / "filtered_mean" samples to 1e-12 (relative to their
    size), the same spikes, over two runs (the sums carried across calls)."""
    net, probes = filtered(sim, order, every, noise)
    if sim.timing == "precise" and noise:  # precise timing refuses membrane noise (tested in test_precise*.py)
        with pytest.raises(ValueError):
            net.build()
        return
    if sim.refuses(net):
        return
    from dataclasses import replace

    if sim.backend == "numpy":  # the reference itself: nothing to compare
        pytest.skip("backend equality: the numpy cell is the reference")
    ref, pr = filtered(replace(sim, backend="numpy"), order, every, noise)
    for n in (net, ref):
        n.run(0.05)
        n.run(0.031)
    assert net.backend == sim.backend
    assert_same_relative(probes, pr, net.dt, min_spikes=20, min_scale=100)  # Hz: the filters saw spikes


@needs_numba
def test_a_kernel_call_that_returns_early_on_a_full_spike_log_continues_identically(monkeypatch):
    from neurosim.network.compiled import runtime as compiled_runtime

    ref, pr = recurrent("numba")
    ref.run(0.2)
    monkeypatch.setattr(compiled_runtime, "_MAX_LOG", 5)  # a return every few steps
    net, probes = recurrent("numba")
    net.run(0.2)
    assert_same(pr, probes, net.dt)


def test_the_environment_can_make_auto_mean_numpy(monkeypatch):
    monkeypatch.setenv("NEUROSIM_BACKEND", "numpy")
    net, probes = recurrent("auto")
    net.run(0.01)
    assert net.backend == "numpy"
    if HAVE_NUMBA:  # an explicit request is not overridden
        net, probes = recurrent("numba")
        net.run(0.01)
        assert net.backend == "numba"


# ---- the compiled loop's own pieces ----------------------------------------------------------------
@needs_numba
def test_log1p_of_the_kernels_is_within_two_ulp_of_libm():
    import math

    from neurosim.network.compiled.kernels import log1p

    x = np.concatenate([np.geomspace(1e-300, 1e6, 20000), np.random.default_rng(0).random(20000), [0.0]])
    ref = np.array([math.log1p(v) for v in x])
    got = np.array([log1p(v) for v in x])
    np.testing.assert_array_less(np.abs(got - ref), 2.5 * np.spacing(np.maximum(ref, 1e-300)))
    assert got[-1] == 0.0 and log1p(1e-20) == 1e-20


@needs_numba
@pytest.mark.parametrize("exact", [True, False])
def test_the_spike_log_converted_in_the_kernel_equals_the_recorders_own_conversion(exact):
    from neurosim.network.compiled import kernels as K
    from neurosim.spikes.events import _FRACTION_STEPS, SpikeRecorder

    g = np.random.default_rng(1)
    n, dt = 500, 1e-3
    log_k = np.sort(g.integers(3, 40, n))
    log_e = g.integers(0, 2, n)
    log_i = g.integers(0, 20, n)
    log_o = g.random(n) * dt
    log_o[:3] = [0.0, dt * (1 - 1e-17), dt * 0.5 / _FRACTION_STEPS]  # the fraction's edge cases
    for emitter, first in ((-1, 0), (1, 10)):
        a = SpikeRecorder(20, dt, t0=0.25, exact=exact)
        b = SpikeRecorder(20, dt, t0=0.25, exact=exact)
        sel = (log_k >= first) & ((log_e == emitter) | (emitter < 0))
        a._record_many(log_k[sel], log_i[sel], log_o[sel])
        times, idx, frac = K.convert_log(log_k, log_e, log_i, log_o, n, emitter, first, exact, b.t0, dt,
                                         _FRACTION_STEPS / dt, _FRACTION_STEPS - 1)
        b._record_stored((times, idx) if exact else (times, idx.astype(np.uint32), frac))
        ea, eb = a.events(), b.events()
        assert ea[0].size == sel.sum() > 100
        for x, y in zip(ea, eb):
            np.testing.assert_array_equal(x, y)


@needs_numba
def test_a_spike_probe_added_between_runs_records_the_same_spikes_on_both_backends():
    out = {}
    for backend in ("numpy", "numba"):
        net = Network(dt=1e-4, backend=backend)
        pop = net.add_population(LIF(0.02, 0.002), 300, bias=np.linspace(0.5, 3.0, 300))
        early = net.probe(pop)
        net.run(0.05)
        late = net.probe(pop)  # starts at step 500: a filter on the kernel's spike log
        net.run(0.1)
        out[backend] = (early.data, late.data)
    for a, b in zip(out["numpy"], out["numba"]):
        assert a[0].size > 1000
        assert_same_spikes(a, b, 1e-4)
    assert out["numba"][1][0].min() >= 0.05


def exact_layers(sim, sparse, order, delay, noise):
    """Poisson -> a -> b -> c, the hidden layers joined with placement="exact" (dense or CSR, PSC order 0 / 1,
    a delay whose arrivals fall into one or two steps), a recurrent exact connection, b with tau_ref < dt
    (spikes repeated in a step) or a noisy with several spikes per step."""
    net = sim.network(dt=1e-4, rng=5)
    inp = net.add_poisson(20, rate=300.0)
    a = net.add_population(LIF(0.02, 0.002), 12, bias=0.9, v0="uniform")
    b = net.add_population(LIF(0.01, 1e-3 if noise else 5e-5), 8, v0="uniform")
    c = net.add_population(LIF(0.015, 0.001), 6)
    w = np.random.default_rng(4)
    conv = sp.csr_matrix if sparse else np.asarray
    net.connect(inp, a, w.uniform(0, 0.02, (12, 20)))
    least = 1e-4 if sim.timing == "precise" else 0.0  # precise timing needs delays >= dt (and ignores placement)
    net.connect(a, b, conv(w.uniform(0, 0.025, (8, 12)) * (w.random((8, 12)) < 0.6)),
                synapse=PSCFilter(0.003, order), placement="exact", delay=max(delay, least))
    net.connect(b, c, conv(w.uniform(-0.002, 0.006, (6, 8))), synapse=PSCFilter(0.004, order), placement="exact",
                delay=least)
    net.connect(a, a, conv(w.uniform(-0.02, 0.01, (12, 12))), synapse=PSCFilter(0.002), placement="exact",
                delay=2.5e-4)
    if noise:
        net.add_noise(a, 0.3)
    probes = [net.probe(a, "spikes"), net.probe(b, "spikes"), net.probe(c, "spikes"), net.probe(c, "v"),
              net.probe(b, "current", sample_every=3e-4), net.probe(c, "filtered_mean", sample_every=2e-3)]
    return net, probes


@pytest.mark.parametrize("sparse, order, delay, noise", [(False, 0, 0.0, False), (True, 1, 1.5e-4, False),
                                                         (False, 1, 3.3e-4, True), (True, 0, 0.0, True)])
def test_exact_placement_equals_on_both_backends(sim, sparse, order, delay, noise):
    """placement="exact" (grid): each spike enters its arrival step with the kernel from its exact arrival
    time; the compiled loop gives the numpy loop's spikes (same steps, offsets within 1e-12 s) and probes to
    1e-12, over two runs."""
    from dataclasses import replace

    net, probes = exact_layers(sim, sparse, order, delay, noise)
    if sim.timing == "precise" and noise:  # precise timing refuses membrane noise (tested in test_precise*.py)
        with pytest.raises(ValueError):
            net.build()
        return
    if sim.refuses(net):
        return
    if sim.backend == "numpy":  # the reference itself: nothing to compare
        pytest.skip("backend equality: the numpy cell is the reference")
    ref, pr = exact_layers(replace(sim, backend="numpy"), sparse, order, delay, noise)
    for n in (net, ref):
        n.run(0.04)
        n.run(0.023)
    assert net.backend == sim.backend
    assert_same_relative(probes, pr, net.dt, min_spikes=20, min_scale=0)


def test_stale_kernel_caches_are_dropped_when_a_source_changes(tmp_path, monkeypatch):
    """numba keys a cached kernel on its own file only: neurosim drops its caches when any kernel source
    (here a dependency next to the kernel's module) changed, and keeps them otherwise."""
    from neurosim import _optional

    (tmp_path / "neurons").mkdir()
    (tmp_path / "neurons" / "k.py").write_text("x = 1\n")
    (tmp_path / "other.py").write_text("y = 1\n")
    cache = tmp_path / "neurons" / "__pycache__"
    cache.mkdir()
    cached = [cache / "k.f-12.py311.nbi", cache / "k.f-12.py311.1.nbc"]
    bytecode = cache / "k.cpython-311.pyc"

    def fill():
        for path in cached + [bytecode]:
            path.write_bytes(b"x")

    def check():
        monkeypatch.setattr(_optional, "_checked", set())  # a new process
        _optional.fresh_kernel_cache(tmp_path, modules=("neurons/k.py",), sources=("neurons",))
        return [path.exists() for path in cached]

    fill()
    assert check() == [False, False] and bytecode.exists()  # no stamp yet: caches of unknown age dropped
    fill()
    assert check() == [True, True]                           # sources unchanged: kept
    (tmp_path / "other.py").write_text("y = 2\n")
    assert check() == [True, True]                           # not a kernel source
    (tmp_path / "neurons" / "dep.py").write_text("z = 1\n")
    assert check() == [False, False]                         # a dependency changed: dropped
    fill()
    (tmp_path / "neurons" / "k.py").write_text("x = 2\n")
    assert check() == [False, False] and bytecode.exists()
