"""Parity with NEST's precise-timing models (iaf_psc_exp_ps, iaf_psc_alpha_ps) on the feed-forward case."""
import numpy as np
import pytest

from neurosim import LIF, PSCFilter
from neurosim.network.precise import precise_feedforward

nest = pytest.importorskip("nest", reason="needs NEST: pip install nest-simulator")


def nest_feedforward(model, W, bias, times, idx, T, tau_m, tau_ref, tau_s, delay):
    """The normalized LIF in NEST's units: E_L = V_reset = 0 mV, V_th = 1 mV, and C_m (pF) = tau_m (ms),
    so that a current of x pA is the normalized input x. A weight is the PSC amplitude in pA:
    w / tau_s for the exponential kernel, w / (e tau_s) (the peak) for the alpha kernel."""
    nest.ResetKernel()
    nest.SetKernelStatus({"resolution": 0.1})
    params = dict(C_m=tau_m * 1e3, tau_m=tau_m * 1e3, t_ref=tau_ref * 1e3, E_L=0.0, V_reset=0.0, V_th=1.0,
                  V_m=0.0, tau_syn_ex=tau_s * 1e3, tau_syn_in=tau_s * 1e3)
    params = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in params.items()}  # per neuron: lists
    post = nest.Create(model, W.shape[0], params=params)
    post.I_e = bias
    gens = nest.Create("spike_generator", W.shape[1], params={"precise_times": True})
    for j in range(W.shape[1]):
        gens[j].spike_times = np.sort(times[idx == j]) * 1e3
    scale = 1.0 / tau_s if model == "iaf_psc_exp_ps" else 1.0 / (np.e * tau_s)
    nest.Connect(gens, post, "all_to_all", syn_spec={"weight": W * scale, "delay": delay * 1e3})
    rec = nest.Create("spike_recorder")
    nest.Connect(post, rec)
    nest.Simulate(T * 1e3 + 0.1)
    t = np.asarray(rec.events["times"]) * 1e-3
    i = np.asarray(rec.events["senders"]) - post[0].global_id
    keep = t < T
    return t[keep], i[keep]


@pytest.mark.parametrize("order, model", [(0, "iaf_psc_exp_ps"), (1, "iaf_psc_alpha_ps")])
def test_feedforward_spike_times_match_nest_ps_models(order, model):
    rng = np.random.default_rng(3)
    P, Q, T = 50, 30, 0.4
    W = rng.normal(0.0005, 0.003, (P, Q))
    bias = rng.uniform(0.6, 1.05, P)
    counts = rng.poisson(25 * T, Q)
    idx = np.repeat(np.arange(Q), counts)
    times = rng.uniform(0, T, idx.size)
    ours = precise_feedforward(LIF(0.02, 0.002), W, (times, idx), T, 1e-3, PSCFilter(0.005, order), bias,
                               delay=1e-3)
    theirs = nest_feedforward(model, W, bias, times, idx, T, 0.02, 0.002, 0.005, 1e-3)
    a, b = np.lexsort((ours[0], ours[1])), np.lexsort((theirs[0], theirs[1]))
    assert ours[0].size > 300 and ours[0].size == theirs[0].size
    np.testing.assert_array_equal(ours[1][a], theirs[1][b])
    np.testing.assert_allclose(ours[0][a], theirs[0][b], rtol=0, atol=1e-6)


@pytest.mark.parametrize("order, model", [(0, "iaf_psc_exp_ps"), (1, "iaf_psc_alpha_ps")])
def test_per_neuron_tau_m_and_tau_ref_match_nest_ps_models(order, model):
    # per-neuron tau_m (2 - 40 ms, around tau_s = 5 ms) and tau_ref: NEST's precise models with per-node values
    rng = np.random.default_rng(4)
    P, Q, T = 40, 30, 0.4
    W = rng.normal(0.0005, 0.003, (P, Q))
    bias = rng.uniform(0.6, 1.05, P)
    tau_m = rng.uniform(0.002, 0.04, P)
    tau_ref = rng.integers(5, 41, P) * 1e-4  # NEST holds t_ref in whole steps of its 0.1 ms resolution
    counts = rng.poisson(25 * T, Q)
    idx = np.repeat(np.arange(Q), counts)
    times = rng.uniform(0, T, idx.size)
    ours = precise_feedforward(LIF(tau_m, tau_ref), W, (times, idx), T, 1e-3, PSCFilter(0.005, order), bias,
                               delay=1e-3)
    theirs = nest_feedforward(model, W, bias, times, idx, T, tau_m, tau_ref, 0.005, 1e-3)
    a, b = np.lexsort((ours[0], ours[1])), np.lexsort((theirs[0], theirs[1]))
    assert ours[0].size > 200 and ours[0].size == theirs[0].size
    np.testing.assert_array_equal(ours[1][a], theirs[1][b])
    np.testing.assert_allclose(ours[0][a], theirs[0][b], rtol=0, atol=1e-12)  # measured 1.8e-15 s
