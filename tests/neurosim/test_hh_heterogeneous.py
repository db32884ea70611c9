"""Per-neuron Hodgkin-Huxley parameters (issue 22, item 6): any parameter may be an array of length n.

Oracles: a heterogeneous population equals n separate scalar models, neuron by neuron (every method,
numpy and compiled paths, in ``simulate`` and in a network); one heterogeneous neuron's spikes equal
scipy's solve_ivp on its own scalar right-hand side; the resting potentials solve I_ion(V) = 0.
"""
import numpy as np
import pytest

from neurosim import HodgkinHuxley, Network, PSCFilter
from neurosim.neurons.hh import HHState, METHODS, steady_state
from neurosim.progress import Progress
from neurosim.signals import as_input
from neurosim.spikes import SpikeRecorder

DT = 1e-5
#: four neurons, every parameter different (within ~10-20 % of the squid axon's)
PARAMS = dict(C=np.array([1.0, 0.9, 1.15, 1.05]), g_Na=np.array([120.0, 105.0, 135.0, 118.0]),
              g_K=np.array([36.0, 40.0, 31.0, 36.5]), g_L=np.array([0.3, 0.25, 0.35, 0.3]),
              E_Na=np.array([50.0, 55.0, 47.0, 52.0]), E_K=np.array([-77.0, -80.0, -72.0, -75.0]),
              E_L=np.array([-54.387, -56.0, -52.0, -60.0]), threshold=np.array([0.0, -10.0, 10.0, 0.0]))
I = np.array([10.0, 14.0, 9.0, 25.0])


def _one(i):
    return HodgkinHuxley(**{k: float(v[i]) for k, v in PARAMS.items()})


def _numba():
    try:
        import numba  # noqa: F401
    except ImportError:
        return ()
    return (True,)


def _run(model, I, T, method, compiled):
    """``simulate``'s loop with an exact spike recorder: (spike times per neuron, V trace)."""
    steps = round(T / DT)
    inp = as_input(I, steps, DT, name="I")
    inp.broadcast(inp.n)
    state = HHState(model, inp.n, DT, method, warn=False)
    rec = SpikeRecorder(inp.n, DT, exact=True)
    traces = {"v": np.empty((steps, inp.n))}
    I_bar = (inp.at(0) + state._leak) / state._C
    bar = Progress(T, "test", enabled=False)
    if compiled:
        model._run_compiled(state, inp, steps, True, I_bar, rec, traces, bar)
    else:
        model._run(state, inp, steps, True, I_bar, rec, [(traces["v"], state.V)], bar)
    t, idx = rec.events()
    return [t[idx == i] for i in range(inp.n)], traces["v"]


@pytest.mark.parametrize("compiled", (False,) + _numba(), ids=lambda c: "numba" if c else "numpy")
@pytest.mark.parametrize("method", METHODS)
def test_heterogeneous_population_equals_scalar_models(method, compiled):
    T = 0.04
    times, v = _run(HodgkinHuxley(**PARAMS), I, T, method, compiled)
    counts = []
    for i in range(I.size):
        t1, v1 = _run(_one(i), I[i:i + 1], T, method, compiled)
        # numpy: the membrane matrix is one BLAS product for a scalar model and an einsum per neuron
        # (rounding-level differences); compiled: the same arithmetic, bit for bit
        np.testing.assert_allclose(times[i], t1[0], rtol=0, atol=1e-12 if not compiled else 0)
        np.testing.assert_allclose(v[:, i], v1[:, 0], rtol=0, atol=1e-9 if not compiled else 0)
        counts.append(t1[0].size)
    assert min(counts) >= 3
    # the neurons really differ: neuron 3 with neuron 0's parameters fires elsewhere
    t_default, _ = _run(_one(0), I[3:4], T, method, compiled)
    assert t_default[0].size != times[3].size or np.max(np.abs(t_default[0] - times[3])) > 1e-4


def test_heterogeneous_neuron_matches_solve_ivp():
    model = HodgkinHuxley(**PARAMS)
    res = model.simulate(I, 0.05, DT, backend="numpy")
    exact = model.reference(I, 0.05)  # one adaptive solve per neuron, each with its own parameters
    for got, want in zip(res.spike_times, exact):
        assert want.size >= 4 and got.size == want.size
        np.testing.assert_allclose(got, want, rtol=0, atol=2e-8)  # rk4 at 0.01 ms: ~3e-10 s off
    # and the oracle sees the parameters: neuron 1's input with the default parameters is far off
    default = HodgkinHuxley().reference(I[1], 0.05)[0]
    assert default.size != exact[1].size or np.max(np.abs(default - exact[1])) > 1e-4


def test_resting_potential_per_neuron():
    model = HodgkinHuxley(**PARAMS)
    assert model.per_neuron == 4 and model.V_rest.shape == (4,)
    for i in range(4):
        assert model.V_rest[i] == _one(i).V_rest
    current = model.ionic_current(model.V_rest, *steady_state(model.V_rest))
    np.testing.assert_allclose(current, 0.0, atol=1e-11)
    # the default model's rest is the published -64.996 mV; a per-neuron array of one value is a number
    assert HodgkinHuxley().V_rest == pytest.approx(-64.99638, abs=1e-5)
    assert HodgkinHuxley(g_L=np.array([0.3])).g_L == 0.3
    res = model.simulate(0.0, 0.01, DT, record_v=True)  # at rest without input, each at its own V_rest
    np.testing.assert_allclose(res.v[-1], model.V_rest, atol=1e-9)


def _hetero_and_separate(sim, T):
    """The four neurons as one per-neuron population and as four scalar populations, driven by spikes."""
    def build(split):
        net = sim.network(dt=DT, rng=3)
        src = net.add_spike_source([np.arange(0.002, T, 0.0031), np.arange(0.001, T, 0.0047)])
        W = np.array([[0.02, 0.01 * i] for i in range(4)])
        if split:
            pops = [net.add_population(_one(i), 1, bias=I[i] - 6.0, name=f"p{i}") for i in range(4)]
            for i, p in enumerate(pops):
                net.connect(src, p, W[i:i + 1], synapse=PSCFilter(0.002))
        else:
            pops = [net.add_population(HodgkinHuxley(**PARAMS), 4, bias=I - 6.0, name="all")]
            net.connect(src, pops[0], W, synapse=PSCFilter(0.002))
        probes = [(net.probe(p, "spikes"), net.probe(p, "v")) for p in pops]
        return net, probes
    return build(False), build(True)


def test_per_neuron_population_equals_separate_populations(sim):
    T = 0.03
    (a, pa), (b, pb) = _hetero_and_separate(sim, T)
    if sim.refuses(a):
        return
    if sim.timing == "precise":  # HH has no exact spike-time method
        with pytest.raises(ValueError, match="exact spike-time method"):
            a.build()
        return
    a.run(T)
    b.run(T)
    events, v_all = pa[0][0].data, pa[0][1].data
    total = 0
    for i, (spikes, v) in enumerate(pb):
        if sim.batch is None:
            (t_all, idx_all), (t_one, _) = events, spikes.data
            np.testing.assert_allclose(t_all[idx_all == i], t_one, rtol=0, atol=1e-12)
            total += t_one.size
        else:
            (t_all, idx_all, tr_all), (t_one, _, tr_one) = events, spikes.data
            for trial in range(sim.batch):
                np.testing.assert_allclose(t_all[(idx_all == i) & (tr_all == trial)], t_one[tr_one == trial],
                                           rtol=0, atol=1e-12)
            total += np.sum(tr_one == 0)
        np.testing.assert_allclose(v_all[..., i], v.data[..., 0], rtol=0, atol=1e-9)
    assert total >= 8


def test_per_neuron_population_in_a_batch_stepped_compiled():
    """Populations of >= 512 neurons (all trials) step with the compiled kernel inside the numpy loop:
    per-neuron parameters repeat over the trials, as on the numpy steppers."""
    pytest.importorskip("numba", reason="pip install numba")
    n, B = 300, 2
    rng = np.random.default_rng(0)
    params = dict(g_Na=rng.uniform(100, 140, n), E_L=rng.uniform(-58, -52, n), C=rng.uniform(0.9, 1.1, n))
    bias = rng.uniform(5, 20, n)
    out = {}
    for backend in ("numpy", "auto"):
        net = Network(dt=DT, batch=B, backend=backend, rng=1)
        pop = net.add_population(HodgkinHuxley(**params), n, bias=bias)
        probe = net.probe(pop, "spikes")
        net.run(0.02)
        out[backend] = probe.data
    (ta, ia, ra), (tb, ib, rb) = out["numpy"], out["auto"]
    np.testing.assert_array_equal(ia, ib)
    np.testing.assert_array_equal(ra, rb)
    np.testing.assert_allclose(ta, tb, rtol=0, atol=1e-12)
    assert ta.size > 100
    for trial in range(B):  # every trial the same neurons (no noise): the parameters repeat per trial
        np.testing.assert_array_equal(ia[ra == trial], ia[ra == 0])


def test_lengths_and_values_are_checked():
    with pytest.raises(ValueError, match="same length"):
        HodgkinHuxley(g_Na=np.full(3, 120.0), E_K=np.full(2, -77.0))
    with pytest.raises(ValueError, match="C must be finite > 0"):
        HodgkinHuxley(C=np.array([1.0, -1.0]))
    with pytest.raises(ValueError, match=r"g_L must be a finite number in \(0, inf\)"):
        HodgkinHuxley(g_L=0.0)
    with pytest.raises(ValueError, match="E_Na must be finite"):
        HodgkinHuxley(E_Na=np.array([50.0, np.nan]))
    with pytest.raises(ValueError, match="1-D"):
        HodgkinHuxley(threshold=np.zeros((2, 2)))
    with pytest.raises(TypeError, match="g_K"):
        HodgkinHuxley(g_K="36")
    model = HodgkinHuxley(g_Na=np.array([120.0, 110.0, 130.0]))
    with pytest.raises(ValueError, match="n=2"):
        model.simulate(np.ones(2), 0.001, DT)
    with pytest.raises(ValueError, match="n=4"):
        Network(dt=DT).add_population(model, 4)
    with pytest.raises(ValueError, match="n=2"):
        HHState(model, 2, DT)
    with pytest.raises(ValueError, match="multiple of trials"):
        HHState(model, 7, DT, trials=2)
    assert len(model.simulate(10.0, 0.001, DT).spike_times) == 3  # a scalar input: one per neuron
    HodgkinHuxley(C=np.float32(1.0), g_K=np.array([36.0, 30.0], dtype=np.float32))
