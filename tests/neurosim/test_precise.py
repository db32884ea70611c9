"""Precise spike timing: exact spike times against an independent ODE oracle, and across dt."""
import numpy as np
import pytest
from scipy.integrate import solve_ivp

from neurosim import LIF, PSCFilter
from neurosim.network.precise import precise_feedforward
from neurosim.neurons.lif import PreciseLIFState

TAU_M, TAU_REF = 0.02, 0.002


def ode_oracle(tau_m, tau_ref, tau_s, n, W, bias, in_times, in_idx, T, v0=None, max_step=5e-5):
    """Spike times from scipy's DOP853 (rtol 1e-12) on the ODEs, restarted at every input and refractory end.

    Written from the model equations only: tau_m dv/dt = J + x_n - v, tau_s dx_0/dt = -x_0
    (+ w/tau_s per input spike), tau_s dx_k/dt = x_(k-1) - x_k; v held at 0 for tau_ref after v = 1.
    """
    order = np.argsort(in_times, kind="stable")
    tin, iin = in_times[order], in_idx[order]

    def syn(y):
        return [-y[1] / tau_s] + [(y[k] - y[k + 1]) / tau_s for k in range(1, n + 1)]

    def crossing(t, y):
        return y[0] - 1.0

    crossing.terminal, crossing.direction = True, 1
    out = []
    for i in range(W.shape[0]):
        J = bias[i]
        free = lambda t, y: [(J + y[-1] - y[0]) / tau_m] + syn(y)  # noqa: E731
        held = lambda t, y: [0.0] + syn(y)  # noqa: E731
        y = np.zeros(n + 2)
        y[0] = 0.0 if v0 is None else v0[i]
        t, ref_end, spikes, j = 0.0, -1.0, [], 0
        opts = dict(method="DOP853", rtol=1e-12, atol=1e-13, max_step=max_step)
        while t < T:
            while j < tin.size and tin[j] <= t:
                y[1] += W[i, iin[j]] / tau_s
                j += 1
            t_next = min(T, tin[j]) if j < tin.size else T
            if ref_end > t:
                stop = min(t_next, ref_end)
                if stop > t:
                    y = solve_ivp(held, (t, stop), y, **opts).y[:, -1].copy()
                y[0], t = 0.0, stop
                continue
            if t_next > t:
                sol = solve_ivp(free, (t, t_next), y, events=crossing, **opts)
                if sol.status == 1:
                    t = sol.t_events[0][0]
                    y = sol.y_events[0][0].copy()
                    y[0] = 0.0
                    spikes.append(t)
                    ref_end = t + tau_ref
                    continue
                y = sol.y[:, -1].copy()
            t = t_next
        out.append(np.array(spikes))
    return out


def trains(result, n):
    times, idx = result
    return [times[idx == i] for i in range(n)]


def max_gap(a, b):
    """Largest time difference between matching spike trains (inf when the counts differ)."""
    worst = 0.0
    for x, y in zip(a, b):
        if x.size != y.size:
            return np.inf
        if x.size:
            worst = max(worst, float(np.abs(x - y).max()))
    return worst


def feedforward_case(seed=3, P=200, Q=30, T=0.12):
    rng = np.random.default_rng(seed)
    W = rng.normal(0.0005, 0.003, (P, Q))  # charge per spike: input fluctuations of order 0.1
    bias = rng.uniform(0.6, 1.05, P)
    counts = rng.poisson(25 * T, Q)
    idx = np.repeat(np.arange(Q), counts)
    times = rng.uniform(0, T, idx.size)
    return W, bias, times, idx, T


@pytest.mark.parametrize("order", [0, 1])
def test_feedforward_matches_ode_oracle_and_is_dt_independent(order):
    W, bias, times, idx, T = feedforward_case()
    P = W.shape[0]
    model, syn = LIF(TAU_M, TAU_REF), PSCFilter(0.005, order)
    runs = {dt: trains(precise_feedforward(model, W, (times, idx), T, dt, syn, bias), P) for dt in (1e-3, 1e-4, 1e-5)}
    counts = np.array([s.size for s in runs[1e-4]])
    assert counts.sum() > 300 and (counts == 0).sum() > 5  # a mix of silent and busy neurons
    assert max_gap(runs[1e-3], runs[1e-4]) < 1e-9
    assert max_gap(runs[1e-5], runs[1e-4]) < 1e-9
    # the oracle on a subsample: the busiest, a few silent-ish and some random neurons
    busy = np.argsort(counts)
    sub = np.unique(np.concatenate([busy[-2:], busy[:1], busy[P // 2: P // 2 + 3]]))
    oracle = ode_oracle(TAU_M, TAU_REF, 0.005, order, W[sub], bias[sub], times, idx, T)
    assert max_gap([runs[1e-3][i] for i in sub], oracle) < 1e-9
    assert sum(o.size for o in oracle) > 20


def test_feedforward_alpha_with_tau_s_equal_and_near_tau_m():
    """tau_s = tau_m (the limit forms) and tau_s = tau_m (1 + 1e-9) (no cancellation)."""
    W, bias, times, idx, T = feedforward_case(seed=5, P=6, Q=20, T=0.1)
    W *= 3.0
    for tau_s in (TAU_M, TAU_M * (1 + 1e-9)):
        for order in (0, 1):
            got = trains(precise_feedforward(LIF(TAU_M, TAU_REF), W, (times, idx), T, 1e-3, PSCFilter(tau_s, order),
                                             bias), 6)
            oracle = ode_oracle(TAU_M, TAU_REF, tau_s, order, W, bias, times, idx, T, max_step=2e-4)
            assert sum(o.size for o in oracle) > 5
            assert max_gap(got, oracle) < 1e-9


def test_peak_above_threshold_and_back_inside_one_step():
    """v rises above 1 and falls below again between two step boundaries: a spike, found at the oracle's time."""
    tau_m, tau_s, J, dt = 0.002, 0.0005, 0.5, 0.01
    model = LIF(tau_m, 0.001)
    t_in = np.array([0.0032])
    W = np.array([[0.0016], [0.0015858], [0.0013]])  # peaks at 1.004, 0.9995 and 0.91
    got = trains(precise_feedforward(model, W, (t_in, np.array([0])), 0.02, dt, PSCFilter(tau_s, 0),
                                     np.full(3, J), v0=np.full(3, J)), 3)
    # the voltage without reset, by the oracle's ODE: below 1 at every step boundary, above 1 in between
    sol = solve_ivp(lambda t, y: [(J + y[1] - y[0]) / tau_m, -y[1] / tau_s], (t_in[0], dt),
                    [J, W[0, 0] / tau_s], rtol=1e-12, atol=1e-13, dense_output=True, method="DOP853")
    fine = sol.sol(np.linspace(t_in[0], dt, 20001))[0]
    assert fine.max() > 1.0 and sol.y[0, -1] < 1.0 and J < 1.0
    oracle = ode_oracle(tau_m, 0.001, tau_s, 0, W, np.full(3, J), t_in, np.array([0]), 0.02, v0=np.full(3, J),
                        max_step=1e-5)
    assert [o.size for o in oracle] == [1, 0, 0]
    assert max_gap(got, oracle) < 1e-9


def test_alpha_peak_above_threshold_and_back():
    tau_m, tau_s, J = 0.002, 0.0005, 0.5
    t_in, W = np.array([0.0032]), np.array([[0.0018236], [0.0018074], [0.0015]])  # peaks 1.004, 0.9995, 0.91
    got = trains(precise_feedforward(LIF(tau_m, 0.001), W, (t_in, np.array([0])), 0.02, 0.01, PSCFilter(tau_s, 1),
                                     np.full(3, J), v0=np.full(3, J)), 3)
    oracle = ode_oracle(tau_m, 0.001, tau_s, 1, W, np.full(3, J), t_in, np.array([0]), 0.02, v0=np.full(3, J),
                        max_step=1e-5)
    assert [o.size for o in oracle] == [1, 0, 0]
    assert max_gap(got, oracle) < 1e-9


def test_state_step_batches_equal_single_runs():
    """The flat state treats every row independently: two copies of a neuron spike at the same times."""
    model, dt = LIF(TAU_M, TAU_REF), 1e-3
    one = PreciseLIFState(model, 1, dt, [PSCFilter(0.005)])
    two = PreciseLIFState(model, 2, dt, [PSCFilter(0.005)])
    a, b = [], []
    for k in range(50):
        ev = (np.array([0]), np.array([0.3e-3]), np.array([0]), np.array([4.0])) if k % 3 == 0 else None
        ev2 = None if ev is None else (np.array([0, 1]), np.full(2, 0.3e-3), np.zeros(2, int), np.full(2, 4.0))
        a.append(one.step(np.array([1.1]), k * dt, ev)[1])
        i, t = two.step(np.array([1.1, 1.1]), k * dt, ev2)
        b.append(t[i == 1])
    a, b = np.concatenate(a), np.concatenate(b)
    assert a.size > 5 and np.array_equal(a, b)


def test_orders_above_alpha_and_bad_input_are_refused():
    with pytest.raises(ValueError, match="n = 0 or 1"):
        precise_feedforward(LIF(), np.ones((2, 1)), (np.array([0.01]), np.array([0])), 0.1, 1e-3, PSCFilter(0.005, 2))
    with pytest.raises(ValueError, match="indices"):
        precise_feedforward(LIF(), np.ones((2, 1)), (np.array([0.01]), np.array([3])), 0.1, 1e-3)
    with pytest.raises(TypeError):
        precise_feedforward(LIF(), np.ones((2, 1)), (np.array([0.01]), np.array([0])), 0.1, 1e-3, synapse=0.005)


@pytest.mark.parametrize("excess, crosses", [(-1e-11, False), (1e-9, True), (-1e-6, False)])
def test_crossing_search_decides_grazing_maxima(excess, crosses):
    """v rises to a flat maximum at 1 + excess (exc 5 ms, inh 10 ms currents, J > 1): the bracketing search
    ends quickly and decides by the sign of the excess (a regression: it used to split without end)."""
    from scipy.optimize import brentq, minimize_scalar

    from neurosim.neurons.lif.kernel import MembraneKernel

    k = MembraneKernel(0.02, [(0.005, 0), (0.01, 0)])
    J, v0, xi = np.array([1.1]), np.array([0.9]), -20.0

    def peak(xe):
        r = minimize_scalar(lambda u: -k.voltage(v0, J, [np.array([[xe]]), np.array([[xi]])], np.array([u]))[0],
                            bounds=(0, 0.01), method="bounded", options=dict(xatol=1e-12))
        return -r.fun, r.x

    xe = brentq(lambda a: peak(a)[0] - (1 + excess), 20, 30, xtol=1e-15)
    u = k.first_crossing(v0, J, [np.array([[xe]]), np.array([[xi]])], np.array([0.01]))[0]
    assert np.isnan(u) != crosses
    if crosses:
        assert abs(u - peak(xe)[1]) < 1e-4
