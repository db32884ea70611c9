"""The compiled Hodgkin-Huxley loop (neurosim.neurons.hh.compiled) against the numpy steppers, and the oracle.

numpy evaluates exp/expm1 with its SIMD routines and the small linear maps with BLAS; the kernel
uses its own vectorizable exp/expm1 (within 1 / 2 ulp of libm, tested below) and plain loops. None
is bit-identical to another, so the two paths agree to rounding level, not exactly. Measured
(200 neurons, I in [0, 50] uA/cm^2, 0.1 s at dt = 0.01 ms; every method): the same spikes at the
same steps, spike times within 4e-15 s, V within 7.3e-10 mV (the
largest V differences sit on the upstroke, where dV/dt ~ 400 mV/ms amplifies a last-ulp difference).
The tolerances below (1e-12 s, 1e-7 mV) leave a margin of ~100x and are still orders of magnitude
below the methods' own integration errors (>= 3e-10 s for rk4 at 0.01 ms).
"""
import warnings

import numpy as np
import pytest

pytest.importorskip("numba", reason="the compiled backend needs numba: pip install 'neurosim-ratenet[fast]'")

import neurosim  # noqa: E402
from neurosim.errors import SimulationError  # noqa: E402
from neurosim.neurons.hh import HodgkinHuxley  # noqa: E402
from neurosim.neurons.hh.compiled import CompiledRun  # noqa: E402
from neurosim.neurons.hh.model import HHState  # noqa: E402
from neurosim.neurons.hh.kinetics import METHODS  # noqa: E402
from neurosim.progress import Progress  # noqa: E402
from neurosim.signals import as_input  # noqa: E402
from neurosim.spikes import SpikeRecorder  # noqa: E402

T_TOL = 1e-12  # s
V_TOL = 1e-7  # mV
DT = 1e-5


def _run(model, I, T, method, compiled, noise=0.0, rng=None, v0=None):
    """simulate()'s loop on either path with an exact (float64) spike recorder: (events, V trace, state)."""
    steps = round(T / DT)
    inp = as_input(I, steps, DT, name="I")
    n = inp.n
    inp.broadcast(n)
    state = HHState(model, n, DT, method, v0=v0, warn=False, noise=noise, rng=rng)
    rec = SpikeRecorder(n, DT, exact=True)
    traces = {"v": np.empty((steps, n))}
    fixed = inp.constant and noise == 0
    I_bar = (inp.at(0) + model.g_L * model.E_L) / model.C if fixed else None
    bar = Progress(T, "test", enabled=False)
    with np.errstate(over="ignore", invalid="ignore"):
        if compiled:
            model._run_compiled(state, inp, steps, fixed, I_bar, rec, traces, bar)
        else:
            model._run(state, inp, steps, fixed, I_bar, rec, [(traces["v"], state.V)], bar)
    return rec.events(), traces["v"], state


def _assert_same(a, b):
    (ta, ia), va, _ = a
    (tb, ib), vb, _ = b
    np.testing.assert_array_equal(ia, ib)
    np.testing.assert_array_equal(np.floor(ta / DT), np.floor(tb / DT))  # the same steps
    np.testing.assert_allclose(ta, tb, rtol=0, atol=T_TOL)
    np.testing.assert_allclose(va, vb, rtol=0, atol=V_TOL)
    assert ta.size > 50  # the comparison saw spikes


@pytest.fixture(scope="module")
def model():
    return HodgkinHuxley()


@pytest.mark.parametrize("method", METHODS)
def test_constant_input_same_spikes_as_numpy(model, method):
    I = np.linspace(0.0, 50.0, 200)
    _assert_same(_run(model, I, 0.1, method, False), _run(model, I, 0.1, method, True))


@pytest.mark.parametrize("method", METHODS)
def test_per_step_and_noisy_input_same_spikes_as_numpy(model, method):
    steps = round(0.05 / DT)
    t = np.arange(steps)[:, None] * DT
    I = 10.0 + 8.0 * np.sin(2 * np.pi * 40.0 * t + np.linspace(0, 3, 50)[None, :])  # (steps, 50)
    _assert_same(_run(model, I, 0.05, method, False), _run(model, I, 0.05, method, True))
    noisy = [_run(model, np.full(50, 8.0), 0.05, method, c, noise=0.3, rng=4) for c in (False, True)]
    _assert_same(*noisy)


@pytest.mark.parametrize("method", METHODS)
def test_switching_paths_mid_run_keeps_the_state(model, method):
    # the kernel works on HHState's own buffers (coefficients, detector, exp_ab2's history): numpy for
    # 300 steps, then compiled, gives numpy's run
    I = np.linspace(5.0, 40.0, 40)
    I_bar = (I + model.g_L * model.E_L) / model.C
    runs = []
    for switch in (False, True):
        s = HHState(model, I.size, DT, method, warn=False)
        rec = SpikeRecorder(I.size, DT, exact=True)
        for k in range(300):
            idx, off = s._advance(I_bar, changed=k == 0)
            rec._record(k, idx, off)
        if switch:
            CompiledRun(s).advance(I_bar[None, :], True, False, 300, 2000, {}, rec)
        else:
            for k in range(300, 2300):
                idx, off = s._advance(I_bar, changed=False)
                rec._record(k, idx, off)
        runs.append((rec.events(), s.Y.copy(), s.snapshot()))
    (ta, ia), Ya, sa = runs[0]
    (tb, ib), Yb, sb = runs[1]
    np.testing.assert_array_equal(ia, ib)
    np.testing.assert_allclose(ta, tb, rtol=0, atol=T_TOL)
    np.testing.assert_allclose(Ya, Yb, rtol=0, atol=V_TOL)
    assert sa["current"] == sb["current"] and sa["primed"] == sb["primed"]
    np.testing.assert_array_equal(sa["was_above"], sb["was_above"])
    used = [0, 1] if method == "exp_ab2" else [sa["current"]]  # the other buffer is exp_ab2's history only
    np.testing.assert_allclose(sa["KK"][used], sb["KK"][used], rtol=1e-9, atol=1e-12)


def test_compiled_spike_times_match_the_reference(model):
    # independent oracle: solve_ivp (DOP853); rk4 at 0.01 ms is within 1e-8 s of it (numpy's tolerance too)
    I = np.array([8.0, 15.0, 40.0])
    ref = model.reference(I, 0.15, rtol=1e-10, atol=1e-10)
    res = model.simulate(I, 0.15, dt=DT, method="rk4", backend="numba")
    for got, want in zip(res.spike_times, ref):
        assert got.size == want.size > 3
        np.testing.assert_allclose(got, want, rtol=0, atol=1e-8)


def test_simulate_backends_agree_on_traces(model):
    I = np.linspace(0.0, 30.0, 20)
    a = model.simulate(I, 0.03, dt=DT, method="exp_ab2", record_v=True, record_gates=True, backend="numpy")
    b = model.simulate(I, 0.03, dt=DT, method="exp_ab2", record_v=True, record_gates=True, backend="numba")
    for name in ("v", "m", "h", "n"):
        np.testing.assert_allclose(getattr(a, name), getattr(b, name), rtol=0, atol=V_TOL)
    assert b.V is b.v
    for x, y in zip(a.spike_times, b.spike_times):
        np.testing.assert_allclose(x, y, rtol=0, atol=DT / 65536 + T_TOL)  # stored as a uint16 fraction of dt


@pytest.mark.parametrize("compiled", [False, True])
def test_leaving_the_valid_range_raises_identically(model, compiled):
    # rk4 at 0.1 ms diverges; both paths raise at the same step with the same message and leave the same state
    I = np.array([0.0, 10.0, 40.0])
    results = []
    for path in (False, compiled):
        s = HHState(model, I.size, 1e-4, "rk4", warn=False)
        I_bar = (I + model.g_L * model.E_L) / model.C
        rec = SpikeRecorder(I.size, 1e-4, exact=True)
        k = 0
        with np.errstate(over="ignore", invalid="ignore"), pytest.raises(SimulationError) as err:
            if path:
                CompiledRun(s).advance(I_bar[None, :], True, True, 0, 2000, {}, rec)
            else:
                for k in range(2000):
                    idx, off = s._advance(I_bar, changed=k == 0)
                    rec._record(k, idx, off)
        results.append((str(err.value), s.Y.copy(), s._detector.V.copy(), rec.events()))
    (ma, Ya, da, ea), (mb, Yb, db, eb) = results
    assert "left its valid range" in ma and "method='rk4'" in ma
    assert ma == mb
    np.testing.assert_array_equal(ea[1], eb[1])
    np.testing.assert_allclose(da, db, rtol=0, atol=V_TOL)  # the detector stays at the last valid step
    finite = np.isfinite(Ya)
    np.testing.assert_array_equal(finite, np.isfinite(Yb))
    np.testing.assert_allclose(Ya[finite], Yb[finite], rtol=1e-9)


def test_simulate_raises_the_same_error_on_both_backends(model):
    msgs = []
    for backend in ("numpy", "numba"):
        with warnings.catch_warnings(), pytest.raises(SimulationError) as err:
            warnings.simplefilter("ignore")
            model.simulate([10.0, 40.0], 0.05, dt=1e-4, method="rk4", backend=backend)
        msgs.append(str(err.value))
    assert msgs[0] == msgs[1]


def test_backend_selection(model, monkeypatch):
    from neurosim import _optional as support  # where the model's backend rule looks numba up

    monkeypatch.delenv("NEUROSIM_BACKEND", raising=False)  # CI runs the suite once with it set to numpy
    with pytest.raises(ValueError, match="backend"):
        model.simulate(10.0, 1e-3, backend="cuda")
    with pytest.raises(TypeError):
        model.simulate(10.0, 1e-3, backend=1)
    used = []
    real = HodgkinHuxley._run_compiled

    def spy(*args):
        used.append(True)
        return real(*args)

    monkeypatch.setattr(HodgkinHuxley, "_run_compiled", staticmethod(spy))
    model.simulate(10.0, 1e-3)  # auto: numba is importable here
    assert used == [True]
    monkeypatch.setenv("NEUROSIM_BACKEND", "numpy")
    model.simulate(10.0, 1e-3)  # auto: forced to numpy
    assert used == [True]
    model.simulate(10.0, 1e-3, backend="numba")  # an explicit request wins over the environment
    assert used == [True, True]
    monkeypatch.delenv("NEUROSIM_BACKEND")
    monkeypatch.setattr(support, "numba_available", lambda: False)  # simulate numba missing
    res = model.simulate(10.0, 0.02)  # auto falls back to numpy without an error
    assert used == [True, True] and len(res.spike_times[0]) >= 1

    def no_numba():
        raise ImportError("backend='numba' needs numba (simulated)")

    monkeypatch.setattr(support, "require_numba", no_numba)
    with pytest.raises(ImportError, match="numba"):
        model.simulate(10.0, 1e-3, backend="numba")


def test_kernel_exp_and_expm1_within_two_ulp_of_libm():
    # the kernel's own exp/expm1 (vectorizable; libm's are opaque calls) against libm (math), in ulp
    import math

    from numba import njit

    from neurosim.neurons.hh.compiled import exp, expm1

    @njit(error_model="numpy")
    def both(x, e, em):
        for i in range(x.size):
            e[i] = exp(x[i])
            em[i] = expm1(x[i])

    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-700, 700, 20000), rng.uniform(-3, 3, 20000), np.geomspace(1e-300, 1, 500),
                        -np.geomspace(1e-300, 1, 500), [0.0, -0.0, 1.0, -1.0, 0.5 * np.log(2), 709.0, -708.0]])
    e, em = np.empty_like(x), np.empty_like(x)
    both(x, e, em)
    ref_e = np.array([math.exp(v) for v in x])
    ref_em = np.array([math.expm1(v) for v in x])
    assert np.max(np.abs(e - ref_e) / np.spacing(ref_e)) <= 1.0
    assert np.max(np.abs(em - ref_em) / np.spacing(np.abs(ref_em))) <= 2.0
    special = np.array([np.nan, np.inf, -np.inf, 710.0, -800.0])
    e, em = np.empty(5), np.empty(5)
    both(special, e, em)
    np.testing.assert_array_equal(e, [np.nan, np.inf, 0.0, np.inf, 0.0])
    np.testing.assert_array_equal(em, [np.nan, np.inf, -1.0, np.inf, -1.0])


def test_wide_vectors_give_bit_identical_kernels():
    # wide_vectors (512-bit vectors where the CPU has AVX-512) changes only how many neurons an instruction
    # handles: the rk4 and coefficient passes give the same bits as the same code compiled without it
    # (odd sizes: the vector loop's scalar remainder too), and the attribute reaches the machine code
    import types as pytypes

    import llvmlite.binding as llvm
    from numba import njit, types
    from numba.extending import intrinsic

    from neurosim.neurons.hh import compiled

    @intrinsic
    def noop(typingctx):
        return types.none(), lambda context, builder, signature, args: context.get_dummy_value()

    def recompiled(f, wide):  # f's code, not cached (for inspection), with or without the attribute
        g = dict(f.py_func.__globals__)
        if not wide:
            g["wide_vectors"] = noop
        return njit(error_model="numpy")(pytypes.FunctionType(f.py_func.__code__, g, f.py_func.__name__))

    kernels = {wide: (recompiled(compiled._rk4, wide), recompiled(compiled._coeffs, wide)) for wide in (True, False)}
    rng = np.random.default_rng(3)
    for n in (37, 203):
        Y = np.zeros((5, n))
        Y[:3] = rng.uniform(0.0, 1.0, (3, n))
        Y[3] = rng.uniform(-90.0, 40.0, n)
        Ib = rng.uniform(0.0, 5.0, n)
        G, _ = compiled.kernel_params(HHState(HodgkinHuxley(), n, DT, "rk4", warn=False)._coeffs.G, 0.0, n)
        out = []
        for wide in (True, False):
            rk4, coeffs = kernels[wide]
            K, Yw = np.empty((8, n)), Y.copy()
            coeffs(K, Yw[0], Yw[1], Yw[2], Yw[3], Ib, G, np.empty((6, n)))
            K0 = K.copy()
            rk4(K, Yw, Ib, G, 0.01)
            out.append((K0, Yw))
            if wide and "avx512f" in {k for k, v in llvm.get_host_cpu_features().items() if v}:
                assert "zmm" in next(iter(rk4.inspect_asm().values()))
        np.testing.assert_array_equal(out[0][0], out[1][0])
        np.testing.assert_array_equal(out[0][1], out[1][1])
        assert not np.array_equal(out[0][1], Y)  # the step did something


@pytest.mark.parametrize("batch", [None, 2])
def test_network_hh_population_steps_compiled_with_numpy_s_spikes(batch):
    """Under backend="auto" a large HH population steps with the compiled kernel (numpy loop around it):
    the same spikes as backend="numpy", times within 1e-12 s, voltages within 1e-9 mV; store/restore continues."""
    pytest.importorskip("numba", reason="pip install '.[fast]'")
    from neurosim.network import populations

    def run(backend, split=False):
        net = neurosim.Network(dt=2e-5, rng=3, backend=backend, batch=batch)
        n = populations._HH_COMPILED_MIN
        hh = net.add_population(neurosim.HodgkinHuxley(), n, bias=np.linspace(4, 25, n))
        src = net.add_poisson(20, rate=300.0)
        net.connect(src, hh, np.random.default_rng(0).uniform(0, 3e-3, (n, 20)))
        spikes, v = net.probe(hh), net.probe(hh, "v", sample_every=1e-3)
        if split:
            net.run(0.01)
            net.store()
            net.run(0.01)
            net.restore()
            net.run(0.01)
        else:
            net.run(0.02)
        compiled = getattr(net.runtime.pops[hh], "compiled", None) is not None
        return spikes.data, v.data[0], compiled

    ref, got, again = run("numpy"), run("auto"), run("auto", split=True)
    assert not ref[2] and got[2] and again[2]
    assert ref[0][0].size > 100
    for other in (got, again):
        np.testing.assert_array_equal(other[0][1], ref[0][1])
        np.testing.assert_allclose(other[0][0], ref[0][0], rtol=0, atol=1e-12)
        np.testing.assert_allclose(other[1], ref[1], rtol=0, atol=1e-9)
