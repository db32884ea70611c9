"""Regression tests for bad input (issue 12): TypeError for wrong types, ValueError for wrong values,
the message naming the parameter; huge sizes refused up front; float32 durations accepted."""
import numpy as np
import pytest

import neurosim as ns

HH = ns.HodgkinHuxley


class Obj:
    pass


def _net():
    net = ns.Network(dt=1e-3, rng=0)
    pop = net.add_population(ns.LIF(), 3, bias=1.5, name="a")
    return net, pop


def _on_net(method, *args, **kwargs):
    """Call ``net.<method>(pop, *args)`` on a fresh network and its population."""
    net, pop = _net()
    return lambda: getattr(net, method)(pop, *args, **kwargs)


# (callable, exception, text the message must contain)
CASES = {
    # SpikeRecorder: constructor and the checked record (the runtime uses _record)
    "recorder n float": (lambda: ns.SpikeRecorder(2.5, 1e-3), TypeError, "n_neurons"),
    "recorder n zero": (lambda: ns.SpikeRecorder(0, 1e-3), ValueError, "n_neurons"),
    "recorder n huge": (lambda: ns.SpikeRecorder(10**12, 1e-3), ValueError, "n_neurons"),
    "recorder dt nan": (lambda: ns.SpikeRecorder(3, float("nan")), ValueError, "dt"),
    "recorder dt str": (lambda: ns.SpikeRecorder(3, "a"), TypeError, "dt"),
    "recorder t0 inf": (lambda: ns.SpikeRecorder(3, 1e-3, t0=np.inf), ValueError, "t0"),
    "recorder exact 'no'": (lambda: ns.SpikeRecorder(3, 1e-3, exact="no"), TypeError, "exact"),
    "recorder trials neg": (lambda: ns.SpikeRecorder(3, 1e-3, n_trials=-1), ValueError, "n_trials"),
    "record step float": (lambda: ns.SpikeRecorder(3, 1e-3).record(1.5, [0], [0.0]), TypeError, "step"),
    "record step neg": (lambda: ns.SpikeRecorder(3, 1e-3).record(-1, [0], [0.0]), ValueError, "step"),
    "record index >= n": (lambda: ns.SpikeRecorder(3, 1e-3).record(0, [0, 7], [0.0, 0.0]), ValueError, "indices"),
    "record index neg": (lambda: ns.SpikeRecorder(3, 1e-3).record(0, [-1], [0.0]), ValueError, "indices"),
    "record index float": (lambda: ns.SpikeRecorder(3, 1e-3).record(0, [0.5], [0.0]), TypeError, "indices"),
    "record index None": (lambda: ns.SpikeRecorder(3, 1e-3).record(0, None, [0.0]), TypeError, "indices"),
    "record len mismatch": (lambda: ns.SpikeRecorder(3, 1e-3).record(0, [0, 1], [0.0]), ValueError, "offsets"),
    "record offset nan": (lambda: ns.SpikeRecorder(3, 1e-3).record(0, [0], [np.nan]), ValueError, "offsets"),
    "record offset neg": (lambda: ns.SpikeRecorder(3, 1e-3).record(0, [0], [-1e-4]), ValueError, "offsets"),
    # events and spike statistics
    "from_events indices float": (lambda: ns.from_events([0.1], [0.5]), TypeError, "indices"),
    "from_events times 2-D": (lambda: ns.from_events(np.zeros((1, 1)), [0]), ValueError, "times"),
    "from_events n float": (lambda: ns.from_events([0.1], [0], n_neurons=2.5), TypeError, "n_neurons"),
    "from_events n huge": (lambda: ns.from_events([0.1], [0], n_neurons=10**12), ValueError, "n_neurons"),
    "to_events None": (lambda: ns.to_events(None), TypeError, "spike_times"),
    "cv n huge": (lambda: ns.cv([np.array([0.1, 0.2, 0.4])], n_neurons=10**12), ValueError, "n_neurons"),
    "isi_rate n huge": (lambda: ns.isi_rate([np.array([0.1, 0.2])], n_neurons=10**12), ValueError, "n_neurons"),
    "rates t_start neg": (lambda: ns.LIF().simulate([1.5], 0.05, dt=1e-3).rates(-1.0), ValueError, "t_start"),
    "rates t_start >= T": (lambda: ns.LIF().simulate([1.5], 0.05, dt=1e-3).rates(1.0), ValueError, "t_start"),
    # spike trains
    "poisson n huge": (lambda: ns.poisson_spikes(20.0, n=10**12, T=0.1), ValueError, "n="),
    "poisson n float": (lambda: ns.poisson_spikes(20.0, n=2.5, T=0.1), TypeError, "n must"),
    "poisson rate 3-D": (lambda: ns.poisson_spikes(np.ones((2, 2, 2)), T=0.02, dt=0.01), ValueError, "rate"),
    "poisson rate empty": (lambda: ns.poisson_spikes(np.zeros(0), T=0.02, dt=0.01), ValueError, "rate"),
    "regular rate 2-D": (lambda: ns.regular_spikes([[10.0, 20.0]], T=0.1), ValueError, "rate"),
    "unbin negative": (lambda: ns.unbin_spikes(np.array([[0, -1.0], [1, 0]]), 0.01), ValueError, "binned"),
    # Hodgkin-Huxley
    "hh initial_state n float": (lambda: HH().initial_state(2.5), TypeError, "n"),
    "hh initial_state n huge": (lambda: HH().initial_state(10**12), ValueError, "n="),
    "hh initial_state v0 len": (lambda: HH().initial_state(2, v0=[1.0, 2.0, 3.0]), ValueError, "v0"),
    "hh initial_state v0 complex": (lambda: HH().initial_state(2, v0=[1j, 1.0]), TypeError, "v0"),
    "hh ionic_current V nan": (lambda: HH().ionic_current(np.nan, 0.1, 0.5, 0.3), ValueError, "V"),
    "hh ionic_current m > 1": (lambda: HH().ionic_current(-65.0, 2.0, 0.5, 0.3), ValueError, "m"),
    "hh ionic_current h None": (lambda: HH().ionic_current(-65.0, 0.1, None, 0.3), TypeError, "h"),
    "hh reference T huge": (lambda: HH().reference(10.0, 1e300), ValueError, "max_steps"),
    "hhstate n huge": (lambda: ns.HHState(HH(), 10**12, 1e-5), ValueError, "n="),
    "hhstate warn 'no'": (lambda: ns.HHState(HH(), 2, 1e-5, warn="no"), TypeError, "warn"),
    "hhstate rng neg": (lambda: ns.HHState(HH(), 2, 1e-5, rng=-1), ValueError, "rng"),
    "hhstate step I nan": (lambda: ns.HHState(HH(), 2, 1e-5).step(np.array([np.nan, 1.0])), ValueError, "I"),
    "hhstate step I None": (lambda: ns.HHState(HH(), 2, 1e-5).step(None), TypeError, "I"),
    "hhstate step t0 str": (lambda: ns.HHState(HH(), 2, 1e-5).step(1.0, t0="a"), TypeError, "t0"),
    "hh simulate rng str": (lambda: HH().simulate(10.0, 1e-4, rng="a"), TypeError, "rng"),
    # Network description
    "trial_seeds batch huge": (lambda: ns.Network.trial_seeds(0, 10**12), ValueError, "batch"),
    "network batch huge": (lambda: ns.Network(batch=10**12), ValueError, "batch"),
    "add_population n huge": (lambda: _net()[0].add_population(ns.LIF(), 10**12), ValueError, "n="),
    "add_poisson n huge": (lambda: _net()[0].add_poisson(10**12, 10.0), ValueError, "n="),
    "add_population dup name": (lambda: _net()[0].add_population(ns.LIF(), 2, name="a"), ValueError, "name"),
    "add_population v0 len": (lambda: _net()[0].add_population(ns.LIF(), 3, v0=[0.1, 0.2]), ValueError, "v0"),
    "add_population bias 3-D": (lambda: _net()[0].add_population(ns.LIF(), 3, bias=np.ones((3, 1, 1))),
                                ValueError, "bias"),
    "add_spike_source None": (lambda: _net()[0].add_spike_source(None), TypeError, "spike_times"),
    "add_current_input wrong n": (_on_net("add_current_input", np.ones((10, 5))),
                                  ValueError, "values"),
    "run progress 'no'": (lambda: _net()[0].run(0.01, progress="no"), TypeError, "progress"),
    "probe sample_every between steps": (_on_net("probe", "v", sample_every=1.5e-3), ValueError, "sample_every"),
    "probe synapse str": (_on_net("probe", "spikes", synapse="a"), TypeError, "synapse"),
}


def _cases():
    return [pytest.param(*v, id=k) for k, v in CASES.items()]


@pytest.mark.parametrize("call, exc, text", _cases())
def test_bad_input_gets_a_clear_error(call, exc, text):
    with pytest.raises(exc, match=text):
        call()


def test_probe_with_foreign_network_target_is_refused():
    net, _ = _net()
    _, other = _net()
    with pytest.raises(ValueError, match="target"):
        net.probe(other, "spikes")


def test_float32_durations_and_steps_are_accepted():
    trains = ns.poisson_spikes(np.array([10.0, 20.0, 30.0]), T=0.03, dt=np.float32(0.01), rng=0)
    assert len(trains) == 1
    r32 = ns.tuning_curve(ns.LIF(), [1.5, 2.0], T=np.float32(0.2), dt=1e-3)
    r64 = ns.tuning_curve(ns.LIF(), [1.5, 2.0], T=0.2, dt=1e-3)
    np.testing.assert_array_equal(r32, r64)


def test_checked_record_equals_unchecked_record():
    a, b = ns.SpikeRecorder(3, 1e-3), ns.SpikeRecorder(3, 1e-3)
    a.record(np.int64(2), np.array([0, 2]), np.array([1e-4, 5e-4]))
    b._record(2, np.array([0, 2]), np.array([1e-4, 5e-4]))
    for x, y in zip(a.events(), b.events()):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_allclose(a.events()[0], [0.0021, 0.0025], rtol=0, atol=1e-3 / 65536)


def test_checked_hh_step_equals_unchecked_step():
    a, b = ns.HHState(HH(), 2, 1e-5), ns.HHState(HH(), 2, 1e-5)
    for k in range(300):
        a.step(np.array([10.0, 20.0]), np.float32(k * 1e-5))
        b._step(np.array([10.0, 20.0]), k * 1e-5)
    np.testing.assert_array_equal(a.Y, b.Y)


def test_ionic_current_values_unchanged_by_checks():
    hh = HH()
    V, m, h, n = -65.0, 0.05, 0.6, 0.32
    want = hh.g_Na * m**3 * h * (V - hh.E_Na) + hh.g_K * n**4 * (V - hh.E_K) + hh.g_L * (V - hh.E_L)
    assert float(hh.ionic_current(V, m, h, n)) == pytest.approx(want, rel=1e-15)


def test_unbin_spikes_warns_on_fractional_counts():
    with pytest.warns(RuntimeWarning, match="whole spike counts"):
        ns.unbin_spikes(np.array([[0, 0.5], [1, 0]]), 1.0)


@pytest.mark.parametrize("flag", ["no", 2, 1.5, None])
def test_recorder_exact_flag_is_a_bool(flag):
    with pytest.raises(TypeError, match="exact"):
        ns.SpikeRecorder(3, 1e-3, exact=flag)


@pytest.mark.parametrize("indices, offsets, text", [
    (np.array([0, 7]), np.array([0.0, 1e-4]), "indices"),
    (np.array([-1, 1]), np.array([0.0, 1e-4]), "indices"),
    (np.array([0, 1]), np.array([np.nan, 1e-4]), "offsets"),
    (np.array([0, 1]), np.array([-1e-4, 1e-4]), "offsets"),
])
def test_record_checks_numpy_arrays_at_once(indices, offsets, text):
    rec = ns.SpikeRecorder(3, 1e-3)
    rec.record(0, np.array([1]), np.array([2e-4]))
    with pytest.raises(ValueError, match=text):
        rec.record(1, indices, offsets)       # refused at the call: nothing recorded
    times, idx = rec.events()
    np.testing.assert_array_equal(idx, [1])
    np.testing.assert_allclose(times, [2e-4], rtol=0, atol=1e-3 / 65536)  # the recorder's resolution


@pytest.mark.parametrize("kwargs, exc, text", [
    (dict(excess=np.array([1j])), TypeError, "excess"),
    (dict(excess=None), TypeError, "excess"),
    (dict(tau_m=0.0), ValueError, "tau_m"),
    (dict(tau_m=np.nan), ValueError, "tau_m"),
    (dict(tau_m="a"), TypeError, "tau_m"),
    (dict(tau_ref=-1e-3), ValueError, "tau_ref"),
    (dict(tau_ref=np.array([1e-3, -1e-3])), ValueError, "tau_ref"),
])
def test_lif_rate_checks_its_arguments(kwargs, exc, text):
    args = dict(excess=np.array([0.5, 1.0]), tau_m=0.02, tau_ref=0.002)
    with pytest.raises(exc, match=text):
        ns.lif_rate(**{**args, **kwargs})


def test_lif_rate_values_and_dtype_unchanged_by_checks():
    x = np.array([0.5, 1.0, np.inf], dtype=np.float32)
    got = ns.lif_rate(x, 0.02, 0.002)
    assert got.dtype == np.float32
    want = 1.0 / (0.002 + 0.02 * np.log1p(1.0 / np.array([0.5, 1.0, np.inf])))
    np.testing.assert_allclose(got, want, rtol=1e-6)
    np.testing.assert_array_equal(ns.lif_rate(x.astype(float), 0.02, 0.002),
                                  ns.neurons.rates.lif_rate_unchecked(x.astype(float), 0.02, 0.002))


@pytest.mark.parametrize("t, exc", [(np.nan, ValueError), (np.inf, ValueError), (None, TypeError),
                                    ("a", TypeError), (1j, TypeError), (np.array([0.0, np.nan]), ValueError)])
def test_timed_array_time_is_checked(t, exc):
    with pytest.raises(exc, match="t must"):
        ns.TimedArray(np.arange(3.0), dt=1e-3)(t)


def test_timed_array_values_unchanged_by_checks():
    ta = ns.TimedArray(np.arange(3.0), dt=1e-3)
    np.testing.assert_array_equal(ta(np.array([0.0, 1.5e-3, 1.0])), [0.0, 1.0, 2.0])
    assert ta(1.5e-3) == 1.0 and ta(np.float32(1.5e-3)) == 1.0 and ta(2) == 2.0
