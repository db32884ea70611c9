"""Network noise, time-varying inputs, the rate probe and physical units (issue 15, network side)."""
import numpy as np
import pytest

import neurosim
from neurosim import LIF, HodgkinHuxley, LIFUnits, Network, TimedArray, bin_spikes

TAU = 0.02


@pytest.mark.parametrize("dt", [1e-3, 1e-4])
def test_free_population_std_is_sigma_at_any_dt(dt):
    n, sigma = 20000, 0.1
    net = Network(dt=dt, rng=0)
    pop = net.add_population(LIF(TAU), n, bias=0.0)
    net.add_noise(pop, sigma)
    probe = net.probe(pop, "v", sample_every=0.01)
    net.run(0.1)
    expected = sigma * np.sqrt(-np.expm1(-2 * probe.t / TAU))  # from v0 = 0
    std = probe.data.std(axis=1)
    np.testing.assert_allclose(std, expected, rtol=0.02)
    assert abs(std[-3:].mean() / sigma - 1) < 0.01  # stationary by 5 tau_m


def test_noisy_population_rate_matches_siegert_and_batch_trials_are_independent():
    J, sigma, n = 0.95, 0.1, 3000
    net = Network(dt=5e-4, rng=1, batch=2)
    pop = net.add_population(LIF(TAU, 0.002), n, bias=J, v0="uniform")
    net.add_noise(pop, sigma)
    spikes = net.probe(pop, "spikes")
    net.run(0.5)
    times, idx, trials = spikes.data
    late = times >= 0.1
    rates = np.bincount(trials[late], minlength=2) / (n * 0.4)
    np.testing.assert_allclose(rates, neurosim.siegert_rate(J, sigma, TAU, 0.002), rtol=0.03)
    # trial 1 is the unbatched network seeded with trial 1's seed; trials differ
    single = Network(dt=5e-4, rng=Network.trial_seeds(1, 2)[1])
    p1 = single.add_population(LIF(TAU, 0.002), n, bias=J, v0="uniform")
    single.add_noise(p1, sigma)
    s1 = single.probe(p1, "spikes")
    single.run(0.5)
    np.testing.assert_array_equal(s1.data[0], times[trials == 1])
    assert not np.array_equal(times[trials == 0][:50], times[trials == 1][:50])


def test_noise_is_restored_with_the_state():
    net = Network(dt=1e-3, rng=2)
    pop = net.add_population(LIF(TAU), 200, bias=0.9)
    net.add_noise(pop, 0.2, tau_noise=0.005)
    probe = net.probe(pop, "v")
    net.run(0.05)
    net.store()
    net.run(0.05)
    first = probe.data[-50:].copy()
    net.restore()
    net.run(0.05)
    np.testing.assert_array_equal(probe.data[-50:], first)


def test_hh_population_current_noise_intensity():
    # passive membrane: std of V = D 1e3 / C sqrt(tau/2 (1 - e^(-2t/tau))), tau = C/g_L (ms -> s)
    D, n = 0.1, 3000
    net = Network(dt=1e-5, rng=3)
    pop = net.add_population(HodgkinHuxley(g_Na=1e-9, g_K=1e-9, g_L=1.0), n)
    net.add_noise(pop, D)
    probe = net.probe(pop, "v", sample_every=1e-3)
    net.run(5e-3)
    tau = 1e-3
    expected = D * 1e3 * np.sqrt(tau / 2 * -np.expm1(-2 * probe.t / tau))
    np.testing.assert_allclose(probe.data.std(axis=1), expected, rtol=0.05)
    with pytest.raises(ValueError, match="tau_noise"):
        net2 = Network(dt=1e-5)
        net2.add_noise(net2.add_population(HodgkinHuxley(), 1), 0.1, tau_noise=0.01)


@pytest.mark.parametrize("batch", [None, 2])
def test_rate_probe_counts_the_spike_probe_in_half_open_bins(batch):
    # bins [k bin, (k+1) bin) labelled at their centres (issue 24 item 3; before: rint(t / bin), times k bin)
    n, dt, T, width = 50, 1e-4, 0.2, 5e-3
    net = Network(dt=dt, rng=4, batch=batch)
    pop = net.add_population(LIF(TAU), n, bias=np.linspace(1.1, 3.0, n), v0="uniform")
    net.add_noise(pop, 0.05)
    spikes = net.probe(pop, "spikes")
    rate = net.probe(pop, "rate", bin=width)
    smooth = net.probe(pop, "rate", bin=width, synapse=neurosim.PSCFilter(0.01))
    net.run(T)
    data = spikes.data
    trials = [slice(None)] if batch is None else [data[2] == b for b in range(batch)]
    for b, sel in enumerate(trials):
        expected = np.histogram(data[0][sel], bins=np.arange(41) * width)[0] / (width * n)
        got = rate.data if batch is None else rate.data[:, b]
        np.testing.assert_allclose(got, expected, rtol=1e-12)
        # every spike counted once, the last bin included
        assert got.sum() * width * n == pytest.approx(data[0][sel].size, abs=1e-6)
        sm = smooth.data if batch is None else smooth.data[:, b]
        np.testing.assert_allclose(sm, neurosim.filter_binned(neurosim.PSCFilter(0.01), expected, width), rtol=1e-12)
    np.testing.assert_allclose(rate.t, (np.arange(40) + 0.5) * width)


@pytest.mark.parametrize("batch", [None, 3])
def test_rate_probe_of_a_constant_poisson_source_is_flat_first_and_last_bins_included(batch):
    n, rate_hz, T, width = 2000, 50.0, 0.1, 5e-3
    net = Network(dt=1e-4, rng=11, batch=batch)
    src = net.add_poisson(n, rate=rate_hz)
    probe = net.probe(src, "rate", bin=width)
    spikes = net.probe(src, "spikes")
    net.run(T)
    got = probe.data.reshape(20, -1)
    # each bin counts Poisson(n rate bin) = 500 spikes: rate 50 +- 2.24 Hz; 5 sigma, the first and last bins too
    sigma = np.sqrt(n * rate_hz * width) / (n * width)
    assert np.all(np.abs(got - rate_hz) < 5 * sigma), got[[0, -1]]
    assert abs(got.mean() - rate_hz) < 5 * sigma / np.sqrt(got.size)
    assert got.sum() * width * n == pytest.approx(spikes.data[0].size)
    # the same from the events with the public function (a bin of 2.5 dt: no alignment with the grid needed)
    t, r = neurosim.population_rate(spikes.data, n, T, 2.5e-4, n_trials=batch)
    assert t[0] == pytest.approx(1.25e-4) and r.shape[0] == 400
    assert r.sum() * 2.5e-4 * n == pytest.approx(spikes.data[0].size)


def test_time_varying_bias_and_poisson_rate():
    dt = 1e-3
    # a step of bias from 0.3 to 0.8 at 50 ms: the analytic sub-threshold response, as in LIF.simulate
    net = Network(dt=dt)
    pop = net.add_population(LIF(TAU), 2, bias=TimedArray([0.3, 0.8], dt=0.05))
    v = net.probe(pop, "v")
    net.run(0.1)
    ref = LIF(TAU).simulate(TimedArray([0.3, 0.8], dt=0.05), 0.1, dt=dt, record_v=True)
    np.testing.assert_allclose(v.data[:, 0], ref.v[:, 0], atol=1e-12)
    # the same with a function and a (steps, n) array
    for bias in (lambda t: 0.3 if t < 0.05 - 1e-12 else 0.8, np.repeat([[0.3, 0.3], [0.8, 0.8]], 50, axis=0)):
        net = Network(dt=dt)
        pop = net.add_population(LIF(TAU), 2, bias=bias)
        vp = net.probe(pop, "v")
        net.run(0.1)
        np.testing.assert_allclose(vp.data, v.data, atol=1e-12)
    # Poisson sources at 0 Hz then 200 Hz: counts follow the rate in each half
    n = 2000
    for rate in (TimedArray([0.0, 200.0], dt=0.05), lambda t: 0.0 if t < 0.05 - 1e-12 else 200.0):
        net = Network(dt=dt, rng=5)
        src = net.add_poisson(n, rate)
        sp = net.probe(src, "spikes")
        net.run(0.1)
        times = sp.data[0]
        assert np.count_nonzero(times <= 0.05) == 0
        assert np.count_nonzero(times > 0.05) / (n * 0.05) == pytest.approx(200.0, rel=0.03)
    with pytest.raises(ValueError, match="rate"):
        net = Network(dt=dt)
        net.add_poisson(3, lambda t: -1.0)
        net.run(0.01)


def test_lif_units_population_reports_in_volts_and_amperes():
    units = LIFUnits(C=200e-12, g_L=10e-9, V_L=-0.070, V_th=-0.050, V_reset=-0.065, tau_ref=0.002)
    net = Network(dt=1e-4, rng=6)
    bias = np.array([0.1e-9, 0.3e-9])
    pop = net.add_population(units, 2, bias=bias, v0=[-0.060, -0.055])
    # round trips: what went in comes back; normalized values from the formulas written out
    np.testing.assert_allclose(pop.bias, bias, rtol=1e-12)
    np.testing.assert_allclose(pop.v0, [-0.060, -0.055], rtol=1e-12)
    np.testing.assert_allclose(pop.normalized.bias, (-0.070 + 0.065 + bias / 10e-9) / 0.015, rtol=1e-12)
    np.testing.assert_allclose(pop.normalized.v0, [1 / 3, 2 / 3], rtol=1e-12)
    src = net.add_poisson(20, 100.0)
    net.connect(src, pop, np.full((2, 20), 0.02))
    v_si, v_norm = net.probe(pop, "v"), net.probe(pop, "v", normalized=True)
    i_si, i_norm = net.probe(pop, "current"), net.probe(pop, "current", normalized=True)
    net.add_noise(pop, 0.002)  # 2 mV, in the population's units
    net.run(0.05)
    np.testing.assert_allclose(v_si.data, -0.065 + 0.015 * v_norm.data, rtol=1e-12)
    np.testing.assert_allclose(i_si.data, i_norm.data * 10e-9 * 0.015, rtol=1e-12)
    assert v_si.data[:, 0].max() < -0.050 and v_si.data.min() > -0.080  # volts, sub-threshold
    # assigning in amperes converts back
    pop.bias = np.array([0.2e-9, 0.2e-9])
    np.testing.assert_allclose(pop.normalized.bias, (-0.005 + 0.02) / 0.015, rtol=1e-12)


def test_noise_sigma_in_volts_for_a_physical_population():
    units = LIFUnits(C=200e-12, g_L=10e-9, V_L=-0.070, V_th=-0.050, V_reset=-0.070, tau_ref=0.002)
    net = Network(dt=1e-3, rng=7)
    pop = net.add_population(units, 20000, bias=0.0, v0=-0.070)
    net.add_noise(pop, 0.002)  # 2 mV stationary std
    v = net.probe(pop, "v", sample_every=0.02)
    net.run(0.1)
    tau = 0.02
    np.testing.assert_allclose(v.data.std(axis=1), 0.002 * np.sqrt(-np.expm1(-2 * v.t / tau)), rtol=0.02)
    assert v.data.mean() == pytest.approx(-0.070, abs=1e-4)


def test_noisy_runs_in_pieces_equal_one_run():
    def build():
        net = Network(dt=1e-3, rng=8)
        pop = net.add_population(LIF(TAU, 0.002), 300, bias=0.95, v0="uniform")
        net.add_noise(pop, 0.1)
        return net, net.probe(pop, "spikes")

    a, sa = build()
    a.run(0.3)
    b, sb = build()
    for _ in range(3):
        b.run(0.1)
    np.testing.assert_array_equal(sa.data[0], sb.data[0])
    np.testing.assert_array_equal(sa.data[1], sb.data[1])
    assert sa.data[0].size > 100


# ---- the compiled backend: noisy populations give the numpy backend's spikes -------------------
needs_numba = pytest.mark.skipif(not neurosim.network.compiled.numba_available(),
                                 reason="the compiled backend needs numba: pip install numba")


def _noisy_network(backend, tau_noise=None, batch=None, tau_ref=0.002, dt=1e-4, fail_at=None, error=None):
    """A noisy population driving a second one that inhibits it (CSR-free dense weights), with a current f(t)
    that raises ``error`` at its call ``fail_at``."""
    net = Network(dt=dt, backend=backend, rng=3, batch=batch)
    pop = net.add_population(LIF(TAU, tau_ref), 300, bias=np.linspace(0.9, 2.0, 300), v0="uniform")
    net.add_noise(pop, 0.15, tau_noise=tau_noise)
    other = net.add_population(LIF(TAU, 0.002), 50, bias=0.9)
    net.connect(pop, other, weights=np.full((50, 300), 0.002))
    net.connect(other, pop, weights=np.full((300, 50), -0.002))
    if fail_at is not None:
        calls = {"n": 0}

        def current(t):
            calls["n"] += 1
            if calls["n"] == fail_at:
                raise error("injected")
            return 0.0

        net.add_current_input(pop, current)
    return net, [net.probe(pop, "spikes"), net.probe(other, "spikes"), net.probe(pop, "v")]


def _assert_same(a, b):
    for p, q in zip(a[:2], b[:2]):
        assert p.data[0].size == q.data[0].size and p.data[0].size > 50
        np.testing.assert_allclose(q.data[0], p.data[0], rtol=0, atol=1e-12)  # times
        for x, y in zip(p.data[1:], q.data[1:]):  # indices (and trials)
            np.testing.assert_array_equal(x, y)
    np.testing.assert_allclose(b[2].data, a[2].data, rtol=0, atol=1e-12)


@needs_numba
@pytest.mark.parametrize("kw", [{}, dict(tau_noise=0.005), dict(batch=2), dict(tau_ref=3e-4, dt=1e-3),
                                dict(tau_noise=0.005, tau_ref=3e-4, dt=1e-3)],
                         ids=["white", "coloured", "batch", "white, several spikes per step",
                              "coloured, several spikes per step"])
def test_compiled_noisy_network_gives_the_numpy_spikes(kw):
    ref, pr = _noisy_network("numpy", **kw)
    ref.run(0.2)
    net, probes = _noisy_network("numba", **kw)
    assert net.backend == "numba"
    net.run(0.2)
    _assert_same(pr, probes)


@needs_numba
def test_compiled_noisy_network_store_restore_and_pieces():
    ref, pr = _noisy_network("numpy")
    ref.run(0.1)
    net, probes = _noisy_network("numba")
    net.run(0.03)
    net.store()
    net.run(0.04)
    first = probes[2].data[-100:].copy()
    net.restore()
    net.run(0.04)
    np.testing.assert_array_equal(probes[2].data[-100:], first)
    net.run(0.03)  # 0.03 + 0.04 (restored) + 0.03: the numpy run's 0.1 s
    assert net.t == pytest.approx(0.1)
    ref2, pr2 = _noisy_network("numpy")
    ref2.run(0.03)
    ref2.store()
    ref2.run(0.04)
    ref2.restore()
    ref2.run(0.04)
    ref2.run(0.03)
    _assert_same(pr2, probes)


@needs_numba
@pytest.mark.parametrize("error", [KeyboardInterrupt, RuntimeError])
def test_compiled_noisy_network_interrupted_then_continued_equals_one_run(error):
    ref, pr = _noisy_network("numba", fail_at=10 ** 9, error=error)
    ref.run(0.1)
    net, probes = _noisy_network("numba", fail_at=432, error=error)
    with pytest.raises(error):
        net.run(0.1)
    assert net.t == pytest.approx(431e-4, abs=1e-12)
    net.run(0.1 - net.t)
    _assert_same(pr, probes)
    ref_np, pr_np = _noisy_network("numpy", fail_at=10 ** 9, error=error)
    ref_np.run(0.1)
    _assert_same(pr_np, probes)


@needs_numba
def test_compiled_backend_refuses_coloured_noise_with_a_very_short_refractory_period():
    def build(backend):
        net = Network(dt=1e-3, backend=backend)
        net.add_noise(net.add_population(LIF(TAU, 0.0), 3, bias=1.2), 0.1, tau_noise=0.005)
        return net

    with pytest.raises(ValueError, match="tau_ref < dt / 64"):
        build("numba").run(1e-3)
    net = build("auto")
    net.run(1e-2)
    assert net.backend == "numpy"


@needs_numba
def test_compiled_noisy_network_whose_kernel_returns_early_keeps_the_draws_of_the_steps_not_run(monkeypatch):
    from neurosim.network.compiled import runtime as compiled_runtime

    monkeypatch.setattr(compiled_runtime, "_MAX_LOG", 5)  # the kernel returns after the step that logs > 5 spikes
    ref, pr = _noisy_network("numpy")
    ref.run(0.15)
    net, probes = _noisy_network("numba")
    net.run(0.15)
    _assert_same(pr, probes)
