"""Bad input to the LIF/PSC state classes and the rate functions: a TypeError for a wrong type,
a ValueError for a wrong value, each naming the parameter; valid numpy scalars and float32 pass.
The runtime calls the unchecked ``_step``/``_add``/``lif_rate_unchecked``; their results equal the checked ones."""
import numpy as np
import pytest

import neurosim
from neurosim import LIF, LIFState, LIFUnits, PSCFilter, PSCState, filter_binned, lif_rate
from neurosim.network.connections import synaptic_weight
from neurosim.neurons.rates import lif_rate_unchecked


class Obj:
    pass


C = 1 + 1j
# (value, expected error) classes reused below
NUMBER_BAD = [(np.nan, ValueError), (np.inf, ValueError), (-np.inf, ValueError), (C, TypeError),
              ("a", TypeError), (Obj(), TypeError), (None, TypeError)]
ARRAY_BAD = [(np.array([1.0, np.nan, 1.0]), ValueError), (np.array([1.0, np.inf, 1.0]), ValueError),
             (np.ones(3) * C, TypeError), (np.array(["a"] * 3), TypeError), (Obj(), TypeError), (None, TypeError)]
SHAPE_BAD = [np.ones((3, 1, 3)), np.ones(0), np.ones(5)]


def _raises(err, name, fn, *args, **kwargs):
    with pytest.raises(err, match=name):
        fn(*args, **kwargs)


# ---- LIFState -------------------------------------------------------------------------------
@pytest.mark.parametrize("model,err", [("lif", TypeError), (3, TypeError), (Obj(), TypeError), (None, TypeError)])
def test_lifstate_model(model, err):
    _raises(err, "model", LIFState, model, 3, 1e-3)


@pytest.mark.parametrize("n,err", [(2.5, TypeError), (np.nan, TypeError), (np.inf, TypeError), (C, TypeError),
                                   ("a", TypeError), (Obj(), TypeError), (None, TypeError), (-1, ValueError),
                                   (0, ValueError), (10**12, ValueError)])
def test_lifstate_n(n, err):
    _raises(err, "n", LIFState, LIF(), n, 1e-3)


def test_lifstate_huge_n_names_bytes():
    with pytest.raises(ValueError, match=r"n=1000000000000 would allocate about 3.2e\+13 bytes"):
        LIFState(LIF(), 10**12, 1e-3)


@pytest.mark.parametrize("v0,err", ARRAY_BAD[:-1] + [(np.zeros((3, 3)), ValueError)])
def test_lifstate_v0(v0, err):
    _raises(err, "v0", LIFState, LIF(), 3, 1e-3, v0=v0)


@pytest.mark.parametrize("rng,err", [(-1, ValueError), (2.5, TypeError), ("a", TypeError), (np.nan, TypeError),
                                     (C, TypeError), (Obj(), TypeError)])
def test_lifstate_rng(rng, err):
    _raises(err, "rng", LIFState, LIF(), 3, 1e-3, rng=rng)
    _raises(err, r"rng\[1\]", LIFState, LIF(), 4, 1e-3, rng=[0, rng])  # one per trial, each checked


@pytest.mark.parametrize("J,err", ARRAY_BAD + [(s, ValueError) for s in SHAPE_BAD])
@pytest.mark.parametrize("which", ["J", "J_decayed"])
def test_lifstate_step_J(J, err, which):
    if which == "J_decayed" and J is None:
        return  # J_decayed=None is the default (computed from J)
    s = LIFState(LIF(), 3, 1e-3)
    args = (J, 0.0) if which == "J" else (np.ones(3), 0.0, J)
    _raises(err, which, s.step, *args)
    assert np.all(s.v == 0)  # refused before anything changed


@pytest.mark.parametrize("t0,err", NUMBER_BAD + [([0.0], TypeError)])
def test_lifstate_step_t0(t0, err):
    _raises(err, "t0", LIFState(LIF(), 3, 1e-3).step, np.ones(3), t0)


def test_lifstate_step_equals_unchecked_step_and_takes_numpy_scalars():
    a, b = LIFState(LIF(), 3, 1e-3), LIFState(LIF(), 3, 1e-3)
    J = np.array([0.5, 2.0, 40.0])
    for k in range(50):
        ia, oa = a.step(J.astype(np.float32) if k % 2 else J, np.float32(k * 1e-3) if k % 3 else k * 1e-3)
        ib, ob = b._step(J.astype(np.float32).astype(float) if k % 2 else J,
                         float(np.float32(k * 1e-3)) if k % 3 else k * 1e-3)
        np.testing.assert_array_equal(ia, ib)
        np.testing.assert_array_equal(oa, ob)
    np.testing.assert_array_equal(a.v, b.v)
    s = LIFState(LIF(), 3, 1e-3)
    s.step(np.float64(2.0), 0.0)  # one number for all neurons
    assert s.v[0] == pytest.approx(2.0 * -np.expm1(-1e-3 / 0.02), rel=1e-15)


# ---- LIF.rate, lif_rate, gain_bias, LIFUnits --------------------------------------------------
@pytest.mark.parametrize("J,err", [(np.ones(3) * C, TypeError), (np.array(["a"]), TypeError), (Obj(), TypeError),
                                   (None, TypeError), (np.array([np.nan]), ValueError)])
def test_lif_rate_method_J(J, err):
    _raises(err, "J", LIF().rate, J)


def test_lif_rate_method_infinities_are_valid():
    r = LIF(0.02, 0.002).rate([np.inf, -np.inf, 2.0])
    np.testing.assert_allclose(r, [500.0, 0.0, 1 / (0.002 + 0.02 * np.log(2.0))], rtol=1e-14)


@pytest.mark.parametrize("x,err", [(np.array([np.nan]), ValueError), (np.ones(2) * C, TypeError),
                                   (np.array(["a"]), TypeError), (Obj(), TypeError), (None, TypeError)])
def test_lif_rate_excess(x, err):
    _raises(err, "excess", lif_rate, x, 0.02, 0.002)


@pytest.mark.parametrize("name", ["tau_m", "tau_ref"])
@pytest.mark.parametrize("value,err", [(np.nan, ValueError), (np.inf, ValueError), (-np.inf, ValueError),
                                       (C, TypeError), ("a", TypeError), (Obj(), TypeError), (None, TypeError),
                                       (-0.01, ValueError), ([1.0, np.nan], ValueError)])
def test_lif_rate_time_constants(name, value, err):
    kw = dict(tau_m=0.02, tau_ref=0.002)
    kw[name] = value
    _raises(err, name, lif_rate, 1.0, **kw)


def test_lif_rate_zero_tau_m_refused_zero_tau_ref_valid():
    _raises(ValueError, "tau_m", lif_rate, 1.0, 0.0, 0.002)
    assert lif_rate(1.0, 0.02, 0.0) == pytest.approx(1 / (0.02 * np.log(2.0)), rel=1e-14)


def test_lif_rate_checked_equals_kernel_and_is_zero_at_or_below_threshold():
    x = np.array([-np.inf, -2.0, -0.5, 0.0, 1e-300, 1e-3, 1.0, 1e6, np.inf])
    got = lif_rate(x, 0.02, 0.002)
    pos = x > 0
    np.testing.assert_array_equal(got[pos], lif_rate_unchecked(x[pos], 0.02, 0.002))
    np.testing.assert_array_equal(got[~pos], 0.0)  # was NaN for -1 < x < 0
    assert got[-1] == 500.0 and got[-2] == pytest.approx(1 / (0.002 + 0.02 * np.log1p(1e-6)), rel=1e-14)
    assert got[-3] == pytest.approx(1 / (0.002 + 0.02 * np.log(2.0)), rel=1e-14)
    assert lif_rate(np.float32(1.0), np.float32(0.02), 0.002) == pytest.approx(1 / (0.002 + 0.02 * np.log(2)),
                                                                              rel=1e-6)
    assert np.ndim(lif_rate(1.0, 0.02, 0.002)) == 0


def test_gain_bias_length_mismatch():
    _raises(ValueError, "same length", LIF().gain_bias, [100.0, 200.0], [0.0, 0.1, 0.2])
    _raises(ValueError, "1-D", LIF().gain_bias, np.full((2, 2), 100.0), [0.0, 0.1])
    g, b = LIF().gain_bias(100.0, [0.0, 0.5])  # one rate for all neurons stays valid
    assert g.shape == (2,)


UNITS = dict(C=200e-12, g_L=10e-9, V_L=-0.07, V_th=-0.05, V_reset=-0.07, tau_ref=0.002)


@pytest.mark.parametrize("method,name", [("J_to_current", "J"), ("current_to_J", "current"),
                                         ("v_to_voltage", "v"), ("voltage_to_v", "V")])
@pytest.mark.parametrize("value,err", ARRAY_BAD)
def test_lifunits_conversions(method, name, value, err):
    _raises(err, name, getattr(LIFUnits(**UNITS), method), value)


def test_lifunits_conversions_keep_values_and_float32():
    u = LIFUnits(**UNITS)
    assert u.current_to_J(0.5e-9) == pytest.approx(0.5e-9 / 10e-9 / 0.02, rel=1e-14)
    assert u.J_to_current(np.float32(2.0)) == pytest.approx(2.0 * 0.02 * 10e-9, rel=1e-7)
    np.testing.assert_allclose(u.voltage_to_v(u.v_to_voltage([0.0, 0.5, 1.0])), [0.0, 0.5, 1.0], rtol=1e-12)


# ---- PSCFilter, PSCState, filter_binned ---------------------------------------------------
@pytest.mark.parametrize("n,err", [(2.5, TypeError), (np.nan, TypeError), (np.inf, TypeError), (C, TypeError),
                                   ("a", TypeError), (Obj(), TypeError), (None, TypeError), (-1, ValueError),
                                   (0, ValueError), (10**12, ValueError)])
@pytest.mark.parametrize("how", ["PSCState", "make_state"])
def test_pscstate_n_targets(n, err, how):
    syn = PSCFilter(0.005, 1)
    fn = (lambda: PSCState(syn, n, 1e-3)) if how == "PSCState" else (lambda: syn.make_state(n, 1e-3))
    _raises(err, "n_targets", fn)


def test_pscstate_huge_names_bytes():
    with pytest.raises(ValueError, match=r"n_targets=1000000000000 would allocate about 3.2e\+13 bytes"):
        PSCFilter(0.005, 1).make_state(10**12, 1e-3)


@pytest.mark.parametrize("syn", ["exp", 3, Obj(), None])
def test_synapse_type(syn):
    _raises(TypeError, "synapse", PSCState, syn, 3, 1e-3)
    _raises(TypeError, "synapse", filter_binned, syn, np.ones(3), 1e-3)


def test_filter_binned_empty():
    _raises(ValueError, "binned", filter_binned, PSCFilter(), np.ones(0), 1e-3)
    _raises(ValueError, "binned", filter_binned, PSCFilter(), np.ones((4, 0)), 1e-3)


@pytest.mark.parametrize("inc,err", ARRAY_BAD + [(s, ValueError) for s in SHAPE_BAD])
@pytest.mark.parametrize("method", ["add", "step"])
def test_pscstate_increment(inc, err, method):
    s = PSCFilter(0.005, 1).make_state(3, 1e-3)
    _raises(err, "increment", getattr(s, method), inc)
    assert np.all(s.x == 0)  # refused before the state changed


@pytest.mark.parametrize("lag,err", NUMBER_BAD[:-1] + [(-1e-3, ValueError)])
@pytest.mark.parametrize("method", ["add", "step"])
def test_pscstate_lag(lag, err, method):
    s = PSCFilter(0.005, 1).make_state(3, 1e-3)
    _raises(err, "lag", getattr(s, method), 1.0, lag)
    assert np.all(s.x == 0)


def test_pscstate_step_equals_unchecked_and_the_kernel():
    syn = PSCFilter(0.005, 1)
    a, b = syn.make_state(2, 1e-3), syn.make_state(2, 1e-3)
    a.step(np.float32(1.0)), b._step(1.0)
    for _ in range(9):
        ya, yb = a.step(np.zeros(2, dtype=np.float32)), b._step(0.0)
    np.testing.assert_array_equal(ya, yb)
    np.testing.assert_allclose(ya, syn.kernel(9e-3), rtol=1e-12)  # the exact kernel at 9 steps
    a.add(np.array([1.0, 2.0]), lag=np.float32(5e-4))
    b._add(np.array([1.0, 2.0]), lag=float(np.float32(5e-4)))
    np.testing.assert_array_equal(a.x, b.x)


@pytest.mark.parametrize("t,err", [(np.ones(2) * C, TypeError), (np.array(["a"]), TypeError), (Obj(), TypeError),
                                   (None, TypeError), (np.array([np.nan]), ValueError)])
def test_kernel_t(t, err):
    _raises(err, "t", PSCFilter().kernel, t)


@pytest.mark.parametrize("order,err", [(1.5, TypeError), ("a", TypeError), (True, TypeError), (-1, ValueError)])
def test_kernel_order(order, err):
    _raises(err, "order", PSCFilter().kernel, 0.001, order=order)


@pytest.mark.parametrize("w,err", [(np.ones(3) * C, TypeError), (np.array(["a"] * 3), TypeError),
                                   (Obj(), TypeError), (np.ones((3, 1, 3)), ValueError), (np.ones(0), ValueError),
                                   (np.ones(5), ValueError), (np.array([1.0, np.nan, 1.0]), ValueError)])
@pytest.mark.parametrize("trains", [False, True])
def test_filter_weights(w, err, trains):
    spikes = [np.array([0.001]), np.array([0.002]), np.array([0.003])] if trains else np.array([1e-3, 2e-3, 3e-3])
    _raises(err, "weights", PSCFilter().filter, spikes, np.linspace(0, 0.01, 5), w)


def test_filter_t_ndim():
    _raises(ValueError, "t", PSCFilter().filter, [0.001], np.zeros((2, 2)))


# ---- synaptic_weight ----------------------------------------------------------------------
def test_synaptic_weight_charge_with_current():
    u = LIFUnits(**UNITS)
    with pytest.raises(ValueError, match="exactly one"):
        synaptic_weight(u, PSCFilter(), charge=1e-12, current=1e-10)
    assert synaptic_weight(u, PSCFilter(), charge=np.float32(2e-12)) == pytest.approx(2e-12 / (10e-9 * 0.02),
                                                                                      rel=1e-7)


def test_top_level_names():
    assert neurosim.lif_rate is lif_rate and neurosim.PSCState is PSCState
