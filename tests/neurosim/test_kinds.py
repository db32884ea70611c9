"""User-defined neuron models (neurosim.NeuronModel) and the silent drops of issue 20, each with its oracle."""
import importlib.util
import pathlib

import numpy as np
import pytest

import neurosim
from neurosim import LIF, Network, NeuronModel, PSCFilter, SimulationError, StateVar

_EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "examples" / "custom_neuron.py"


def _example():
    spec = importlib.util.spec_from_file_location("custom_neuron", _EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


class Leak(NeuronModel):
    """tau dv/dt = J - v with an exact step, threshold 1, reset 0: the LIF's f-I curve without refractoriness."""

    state = {"v": 0.0, "count": StateVar(0.0, unit="spikes")}

    def __init__(self, tau=0.02):
        super().__init__(tau=tau)

    def step(self, dt, J, v, count):
        decay = np.exp(-dt / self.tau)
        v_new = J + (v - J) * decay
        spiked = v_new >= 1.0
        with np.errstate(divide="ignore", invalid="ignore"):  # exact crossing time of the exponential approach
            cross = -self.tau * np.log((J - 1.0) / (J - v))
        offsets = np.where(spiked, np.clip(cross, 0.0, np.nextafter(dt, 0)), 0.0)
        # after a spike: restart from 0 at the crossing and integrate the rest of the step
        rest = dt - offsets
        v[...] = np.where(spiked, J * (1.0 - np.exp(-rest / self.tau)), v_new)
        count += spiked
        return spiked, offsets


def test_qif_example_matches_its_analytic_rate():
    """The docs' example: sqrt(J)/(pi tau) to 1e-6 (a rate 1 % off, or the wrong tau, fails)."""
    ex = _example()
    model = ex.QIF(tau=0.01)
    J = np.array([0.25, 1.0, 2.5, 4.0])
    rates = neurosim.tuning_curve(model, J, T=1.0, dt=1e-4)
    np.testing.assert_allclose(rates, np.sqrt(J) / (np.pi * 0.01), rtol=1e-6)
    assert neurosim.tuning_curve(model, [-0.5, -0.1], T=0.5, dt=1e-4).tolist() == [0.0, 0.0]


def test_user_model_rate_equals_lif_rate_without_refractoriness():
    """An exact user step reproduces G(J) with tau_ref = 0 (the analytic LIF curve)."""
    J = np.array([1.2, 2.0, 5.0])
    rates = neurosim.tuning_curve(Leak(0.02), J, T=1.0, dt=1e-3)
    np.testing.assert_allclose(rates, LIF(0.02, 0.0).rate(J), rtol=1e-7)


def _leak_net(rng, batch=None, fail_at=None):
    class Failing(Leak):
        calls = 0

        def step(self, dt, J, v, count):
            Failing.calls += 1
            if Failing.calls == fail_at:
                raise RuntimeError("user step failed")
            return super().step(dt, J, v, count)

    net = Network(dt=1e-4, rng=rng, batch=batch)
    src = net.add_poisson(30, rate=50.0)
    pop = net.add_population(Failing(np.linspace(0.01, 0.03, 6)), 6, bias=0.6)
    net.connect(src, pop, np.full((6, 30), 0.01), synapse=PSCFilter(0.005, 1))
    net.connect(pop, pop, -0.02 * (1 - np.eye(6)), delay=1e-3)
    probes = [net.probe(pop, "spikes"), net.probe(pop, "v", sample_every=5e-4), net.probe(pop, "count"),
              net.probe(pop, "current", sample_every=1e-3)]
    return net, probes


def test_user_model_in_a_network_batch_trial_equals_a_single_run():
    net, probes = _leak_net(4, batch=3)
    net.run(0.1)
    times, idx, trials = probes[0].data
    assert times.size > 50
    for k, seed in enumerate(Network.trial_seeds(4, 3)):
        single, sp = _leak_net(seed)
        single.run(0.1)
        np.testing.assert_array_equal(single.probes[0].data[0], times[trials == k])
        np.testing.assert_array_equal(sp[1].data, probes[1].data[:, k])
        np.testing.assert_array_equal(sp[2].data, probes[2].data[:, k])
    # the declared spike counter agrees with the spike probe
    assert probes[2].data[-1].sum() == times.size


def test_user_model_store_restore_and_failed_step_continue_exactly():
    ref, pr = _leak_net(1)
    ref.run(0.1)
    net, probes = _leak_net(1, fail_at=400)
    with pytest.raises(RuntimeError, match="user step failed"):
        net.run(0.1)
    assert net.t == pytest.approx(399e-4)
    net.run(0.1 - net.t)
    for a, b in zip(pr, probes):
        for x, y in zip(a.data if a.kind == "spikes" else [a.data], b.data if b.kind == "spikes" else [b.data]):
            np.testing.assert_array_equal(x, y)
    net.store()
    net.run(0.02)
    after = probes[0].data[0].copy()
    net.restore()
    net.run(0.02)
    np.testing.assert_array_equal(probes[0].data[0], after)


def test_user_model_errors_are_clear():
    class Bad(NeuronModel):
        state = {"v": 0.0}

        def step(self, dt, J, v):
            return v > 1  # fine

    class Blows(NeuronModel):
        state = {"v": 1.0}

        def step(self, dt, J, v):
            with np.errstate(over="ignore"):
                v *= 1e300
            return v > 1e400

    class WrongReturn(NeuronModel):
        state = {"v": 0.0}

        def step(self, dt, J, v):
            return [False] * v.size

    with pytest.raises(SimulationError, match="'v'.*non-finite"):
        Blows().simulate([1.0, 2.0], T=0.01, dt=1e-3)
    with pytest.raises(TypeError, match="boolean array"):
        WrongReturn().simulate([1.0], T=0.01, dt=1e-3)
    net = Network(dt=1e-4)
    pop = net.add_population(Bad(), 3)
    with pytest.raises(ValueError, match="kind must be one of.*state variable"):
        net.probe(pop, "w")
    with pytest.raises(ValueError, match="add_noise.*Bad"):
        net.add_noise(pop, 0.1)
    with pytest.raises(ValueError, match="per-neuron parameter must have shape \\(3,\\)"):
        Network().add_population(Leak(np.ones(4)), 3)
    with pytest.raises(ValueError, match="record"):
        Bad().simulate([1.0], T=0.01, dt=1e-3, record=["w"])


def test_precise_timing_refuses_a_model_without_exact_spike_times():
    net = Network(dt=1e-4, timing="precise")
    net.add_population(Leak(), 2, bias=1.5)
    with pytest.raises(ValueError, match="exact spike-time method.*Leak"):
        net.build()


# ---- the silent drops listed in issue 20 (each failed before it) -------------------------------------
def _rate_net(timing):
    net = Network(dt=1e-4, rng=1, timing=timing)
    pop = net.add_population(LIF(0.02, 0.002), 4, bias=1.5)
    return net, net.probe(pop, "spikes"), net.probe(pop, "rate", bin=0.01)


@pytest.mark.parametrize("timing", ["grid", "precise"])
def test_rate_probe_counts_the_spikes_in_both_timings(timing):
    """The rate probe equals spikes / (n T), and precise mode no longer reads 0 Hz."""
    net, spikes, rate = _rate_net(timing)
    net.run(1.0)
    n_spikes = spikes.data[0].size
    assert n_spikes > 100
    np.testing.assert_allclose(rate.data.sum() * 0.01, n_spikes / 4, rtol=1e-12)
    np.testing.assert_allclose(n_spikes / 4, LIF(0.02, 0.002).rate(1.5), rtol=0.02)


def test_precise_timing_refuses_noise():
    net = Network(dt=1e-4, timing="precise", rng=0)
    pop = net.add_population(LIF(), 3, bias=0.9)
    net.add_noise(pop, 0.2)
    with pytest.raises(ValueError, match="noise"):
        net.run(0.01)


def _noisy_or_exact(kind):
    net = Network(dt=1e-4, rng=0)
    src = net.add_poisson(5, rate=10.0)
    pop = net.add_population(LIF(), 3, bias=0.9)
    if kind == "noise":
        net.add_noise(pop, 0.2)
        net.connect(src, pop, 0.1)
    else:
        net.connect(src, pop, 0.1, placement="exact")
    return net


@pytest.mark.parametrize("kind", ["noise", "exact"])
def test_exporters_refuse_what_they_cannot_carry(kind, tmp_path):
    from neurosim.export import to_nir, to_pynn, write_pynn_script
    net = _noisy_or_exact(kind)
    match = "noise" if kind == "noise" else "placement='exact'"
    with pytest.raises(ValueError, match=match):
        to_pynn(net, sim="nest")  # refused before any simulator is imported
    with pytest.raises(ValueError, match=match):
        write_pynn_script(net, tmp_path / "net.py")
    pytest.importorskip("nir", reason="pip install '.[nir]'")
    with pytest.raises(ValueError, match=match):
        to_nir(net)


def test_exporters_refuse_user_models(tmp_path):
    from neurosim.export import to_pynn
    net = Network()
    net.add_population(Leak(), 2)
    with pytest.raises(ValueError, match="Leak"):
        to_pynn(net, sim="nest")


# ---- parameters assigned between runs -----------------------------------------------------------------
@pytest.mark.parametrize("timing", ["grid", "precise"])
def test_bias_assigned_between_runs_equals_a_switching_input(timing):
    """pop.bias = b between runs == a TimedArray bias that switches at that time (spike times to 1e-9 s)."""
    def build(bias):
        net = Network(dt=1e-4, timing=timing)
        pop = net.add_population(LIF(0.02, 0.002), 3, bias=bias)
        return net, pop, net.probe(pop, "spikes")

    net, pop, sp = build([1.2, 1.5, 3.0])
    net.run(0.3)
    pop.bias = [2.0, 1.1, 0.5]
    net.run(0.3)
    ref, _, rp = build(neurosim.TimedArray(np.array([[1.2, 1.5, 3.0], [2.0, 1.1, 0.5]]), dt=0.3))
    ref.run(0.6)
    assert sp.data[0].size == rp.data[0].size > 50
    np.testing.assert_allclose(sp.data[0], rp.data[0], atol=1e-9)
    np.testing.assert_array_equal(sp.data[1], rp.data[1])


@pytest.mark.parametrize("timing", ["grid", "precise"])
def test_weights_assigned_between_runs_equal_two_connections_split_in_time(timing):
    """conn.weights = W2 at T1 == the spikes before T1 through W and those after through W2."""
    rng = np.random.default_rng(3)
    times = np.sort(rng.uniform(0, 0.4, 300))
    idx = rng.integers(0, 10, 300)
    W, W2 = rng.uniform(0, 0.1, (4, 10)), rng.uniform(0, 0.2, (4, 10))
    delay = 1e-3 if timing == "precise" else 0.0

    net = Network(dt=1e-4, timing=timing)
    src = net.add_spike_source((times, idx))
    pop = net.add_population(LIF(0.02, 0.002), 4, bias=0.5)
    conn = net.connect(src, pop, W, delay=delay)
    p = net.probe(pop, "v")
    net.run(0.2)
    conn.weights = W2
    net.run(0.2)

    ref = Network(dt=1e-4, timing=timing)
    # a spike is weighted when it is sent (as in NEST): those emitted before the change keep W
    early = times < 0.2 - 1e-4 / 2 if timing == "grid" else times <= 0.2
    a = ref.add_spike_source((times[early], idx[early]))
    b = ref.add_spike_source((times[~early], idx[~early]))
    post = ref.add_population(LIF(0.02, 0.002), 4, bias=0.5)
    ref.connect(a, post, W, delay=delay)
    ref.connect(b, post, W2, delay=delay)
    q = ref.probe(post, "v")
    ref.run(0.4)
    assert np.ptp(p.data) > 0.1
    np.testing.assert_allclose(p.data, q.data, atol=1e-12)


def test_poisson_rate_assigned_between_runs_takes_effect():
    net = Network(dt=1e-4, rng=5)
    src = net.add_poisson(200, rate=20.0)
    sp = net.probe(src, "spikes")
    net.run(0.5)
    first = sp.data[0].size
    src.rate = 80.0
    net.run(0.5)
    second = sp.data[0].size - first
    # Poisson counts: 2,000 and 8,000 expected; 6 standard deviations (a rate 1.5x off fails)
    assert abs(first - 2000) < 6 * np.sqrt(2000)
    assert abs(second - 8000) < 6 * np.sqrt(8000)


def test_what_cannot_change_mid_run_is_refused_with_what_to_call():
    net = Network(dt=1e-4)
    src = net.add_poisson(3, rate=10.0)
    pop = net.add_population(LIF(), 3, bias=0.5)
    conn = net.connect(src, pop, 0.1)
    net.run(0.01)
    for change in (lambda: setattr(pop, "v0", 0.5), lambda: setattr(conn, "delay", 1e-3),
                   lambda: setattr(pop.model, "tau_m", 0.05)):
        fresh = Network(dt=1e-4)
        change()
        with pytest.raises(RuntimeError, match="net.reset\\(\\)"):
            net.run(0.01)
        net.reset()
        net.run(0.01)  # after reset the new value is the one built
        del fresh
    with pytest.raises(ValueError, match="read-only"):
        pop.bias[0] = 2.0  # in place would bypass the check: refused at once
    with pytest.raises(ValueError, match="bias"):
        pop.bias = np.ones(5)
    with pytest.raises(ValueError, match="weights"):
        conn.weights = np.ones((2, 2))


def test_user_model_parameters_apply_at_the_next_run():
    """A NeuronModel reads its parameters each step: tau changed between runs changes the rate at once."""
    model = Leak(0.02)
    net = Network(dt=1e-4)
    pop = net.add_population(model, 1, bias=2.0)
    sp = net.probe(pop, "spikes")
    net.run(1.0)
    first = sp.data[0].size
    model.tau = 0.01
    net.run(1.0)
    second = sp.data[0].size - first
    np.testing.assert_allclose([first, second], [LIF(0.02, 0).rate(2.0), LIF(0.01, 0).rate(2.0)], rtol=0.01)


def test_changes_between_runs_are_the_same_on_every_backend(sim):
    """bias, weights and a Poisson rate assigned between runs: each cell equals the numpy run of its trial 0."""
    def build(make):
        net = make(dt=1e-4, rng=5)
        src = net.add_poisson(40, rate=30.0)
        pop = net.add_population(LIF(0.02, 0.002), 8, bias=0.7)
        conn = net.connect(src, pop, np.full((8, 40), 0.01))
        return net, src, pop, conn, net.probe(pop, "spikes")

    def changes(net, src, pop, conn, probe):
        net.run(0.1)
        pop.bias = np.linspace(0.5, 1.5, 8)
        conn.weights = np.full((8, 40), 0.02)
        src.rate = 60.0
        net.run(0.1)
        return probe.data

    net, *rest = build(sim.network)
    if sim.refuses(net):
        return
    got = changes(net, *rest)
    seed = 5 if sim.batch is None else Network.trial_seeds(5, sim.batch)[0]
    ref = changes(*build(lambda dt, rng: Network(dt=dt, rng=seed, timing=sim.timing, backend="numpy")))
    if sim.batch is not None:
        got = (got[0][got[2] == 0], got[1][got[2] == 0])
    assert ref[0].size > 20
    # neurons with equal inputs spike together: compare the events ordered by (time, neuron)
    order_g, order_r = np.lexsort((got[1], np.round(got[0], 10))), np.lexsort((ref[1], np.round(ref[0], 10)))
    np.testing.assert_allclose(got[0][order_g], ref[0][order_r], rtol=0, atol=1e-12)
    np.testing.assert_array_equal(got[1][order_g], ref[1][order_r])


def test_after_restore_the_description_s_current_rate_applies():
    """restore() brings back the state; a rate assigned since is used again at the next run (not silently lost)."""
    net = Network(dt=1e-4, rng=5, backend="numpy")
    src = net.add_poisson(200, rate=20.0)
    sp = net.probe(src, "spikes")
    net.run(0.1)
    net.store()
    src.rate = 80.0
    net.run(0.1)
    net.restore()
    before = sp.data[0].size
    net.run(0.5)
    after = sp.data[0].size - before
    assert abs(after - 8000) < 6 * np.sqrt(8000)  # 80 Hz x 200 x 0.5 s; at 20 Hz it would be 2,000


# ---- compiled user steps (issue 21: "a user NeuronModel whose step numba can compile runs compiled") ---------

def _qif_net(backend, batch=3):
    qif = _example().QIF
    net = Network(dt=1e-4, rng=5, batch=batch, backend=backend)
    drive = net.add_poisson(40, rate=60.0)
    pop = net.add_population(qif(tau=np.linspace(0.008, 0.012, 8)), 8, bias=0.3)  # per-neuron tau: an array
    net.connect(drive, pop, np.full((8, 40), 0.004), synapse=PSCFilter(0.005))
    return net, pop, net.probe(pop, "spikes"), net.probe(pop, "theta")


def test_compiled_user_step_equals_the_python_step():
    """The QIF example compiled by numba: the same spikes (steps and offsets to 1e-12 s) and state (1e-12)
    as its Python step, in simulate (1-D state) and in a batched network (2-D state)."""
    pytest.importorskip("numba", reason="needs numba: pip install numba")
    from neurosim.neurons.compiled_model import CompiledStep
    model = _example().QIF(tau=0.01)
    J = np.linspace(-0.5, 4.0, 23)
    runs = {b: model.simulate(J, T=0.2, dt=1e-4, record=["theta"], backend=b) for b in ("numba", "numpy")}
    (ta, ia), (tb, ib) = runs["numba"].events(), runs["numpy"].events()
    assert ta.size > 100
    np.testing.assert_array_equal(ia, ib)
    np.testing.assert_allclose(ta, tb, rtol=0, atol=1e-12)
    np.testing.assert_allclose(runs["numba"].theta, runs["numpy"].theta, rtol=0, atol=1e-12)
    # the compiled path really ran (not a silent fallback)
    step = CompiledStep(model)
    theta = np.full(J.shape, -np.pi)
    step(1e-4, J, theta=theta)
    assert step.compiled is True

    nets = {b: _qif_net(b) for b in ("auto", "numpy")}
    for net, *_ in nets.values():
        net.run(0.1)
    (net_a, pop_a, sp_a, th_a), (_, _, sp_b, th_b) = nets["auto"], nets["numpy"]
    assert net_a.backend == "numpy"  # the loop is numpy's; only the user step is compiled
    assert net_a.runtime.pops[pop_a].step_fn.compiled is True
    assert sp_a.data[0].size > 20
    for a, b in zip(sp_a.data[1:], sp_b.data[1:]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(sp_a.data[0], sp_b.data[0], rtol=0, atol=1e-12)
    np.testing.assert_allclose(th_a.data, th_b.data, rtol=0, atol=1e-12)


def test_a_step_numba_cannot_compile_runs_as_python_with_one_warning():
    pytest.importorskip("numba", reason="needs numba: pip install numba")

    class Euler(NeuronModel):
        """tau dv/dt = J - v by Euler, threshold 1, reset 0; ``self.rhs`` is a method: numba cannot compile it."""
        state = {"v": 0.0}

        def __init__(self, tau=0.02):
            super().__init__(tau=tau)

        def rhs(self, v, J):
            return (J - v) / self.tau

        def step(self, dt, J, v):
            v += dt * self.rhs(v, J)
            spiked = v >= 1.0
            v[spiked] = 0.0
            return spiked

    J = np.array([1.5, 3.0])
    with pytest.warns(RuntimeWarning, match=r"Euler.step runs as Python: numba cannot compile it \(.*rhs") as rec:
        first = Euler().simulate(J, T=0.5, dt=1e-4, record=["v"], backend="numba")
        again = Euler(tau=0.03).simulate(J, T=0.5, dt=1e-4, backend="auto")  # the same class: no second warning
    assert sum(issubclass(w.category, RuntimeWarning) for w in rec) == 1
    ref = Euler().simulate(J, T=0.5, dt=1e-4, record=["v"], backend="numpy")
    np.testing.assert_array_equal(first.v, ref.v)
    # the fallback runs the model correctly: Euler's rate is close to the exact 1 / (tau ln(J / (J - 1)))
    exact = 1.0 / (0.03 * np.log(J / (J - 1.0)))
    np.testing.assert_allclose(again.rates(), exact, rtol=0.01)


def test_compiled_step_choice_without_numba_and_bad_backend(monkeypatch):
    """Without numba (import failure simulated), "auto" runs the Python step silently and "numba" raises an
    ImportError naming the extra; a wrong backend is a ValueError naming the choices."""
    import builtins
    import warnings
    from neurosim.neurons import compiled_model
    real_import = builtins.__import__

    def no_numba(name, *args, **kwargs):
        if name == "numba" or name.startswith("numba."):
            raise ImportError("No module named 'numba' (simulated)")
        return real_import(name, *args, **kwargs)

    model = _example().QIF(tau=0.01)
    with pytest.raises(ValueError, match="backend.*'auto', 'numpy', 'numba'|backend"):
        model.simulate([1.0], T=0.01, backend="cuda")
    monkeypatch.setattr(builtins, "__import__", no_numba)
    assert compiled_model.numba_enabled() is False
    assert compiled_model.stepper(model) == model.step
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rates = model.simulate([1.0], T=1.0, dt=1e-4, backend="auto").rates()
    np.testing.assert_allclose(rates, 1.0 / (np.pi * 0.01), rtol=1e-6)
    with pytest.raises(ImportError, match=r"\[fast\]"):
        model.simulate([1.0], T=0.01, backend="numba")


@pytest.mark.parametrize("batch", [None, 3])
def test_if_populations_run_as_the_generic_model_runtime_does(monkeypatch, batch):
    """IFRuntime (the built-in step, in the commit phase) == ModelRuntime running IF.step on scratch copies."""
    from neurosim.network import populations

    def run(generic):
        if generic:
            monkeypatch.setitem(populations.KINDS, neurosim.IF, populations.ModelRuntime)
        net = neurosim.Network(dt=1e-3, rng=5, batch=batch, backend="numpy")
        src = net.add_poisson(30, rate=80.0)
        a = net.add_population(neurosim.IF(threshold=np.linspace(0.5, 2.0, 20)), 20, bias=np.linspace(-5, 60, 20))
        b = net.add_population(neurosim.IF(reset="zero"), 10)
        net.connect(src, a, np.random.default_rng(0).uniform(0, 0.3, (20, 30)))
        net.connect(a, b, np.random.default_rng(1).uniform(-0.1, 0.4, (10, 20)), delay=2e-3)
        probes = [net.probe(a), net.probe(b), net.probe(a, "v", sample_every=5e-3)]
        net.run(0.3)
        monkeypatch.undo()
        assert type(net.runtime.pops[a]).__name__ == ("ModelRuntime" if generic else "IFRuntime")
        return [p.data for p in probes]

    fast, generic = run(False), run(True)
    assert fast[0][0].size > 100 and fast[1][0].size > 10
    for f, g in zip(fast[:2], generic[:2]):
        for x, y in zip(f, g):
            np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(fast[2][0], generic[2][0])


@pytest.mark.filterwarnings("ignore:overflow encountered")
def test_if_population_refuses_a_non_finite_state():
    net = neurosim.Network(dt=1e-3, rng=0, backend="numpy")
    pop = net.add_population(neurosim.IF(), 2, bias=1e308)
    net.add_current_input(pop, lambda t: np.full(2, 1e308))  # J = 2e308 overflows to inf
    with pytest.raises(neurosim.errors.SimulationError, match="non-finite"):
        net.run(0.01)
