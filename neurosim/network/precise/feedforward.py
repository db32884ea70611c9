"""Exact spike times of a feed-forward LIF population driven by given spike trains (precise timing without a network)."""
import numpy as np

from ... import validation as check
from ...neurons.lif import LIF, PreciseLIFState
from ...synapses import PSCFilter
from .events import csr_rows, fan_out


def precise_feedforward(model, weights, spikes, T, dt=1e-4, synapse=None, bias=0.0, v0=None, delay=0.0):
    """Exact spike times of a feed-forward LIF population driven by given spike trains.

    Each post neuron i obeys ``tau_m dv_i/dt = b_i + s_i(t) - v_i`` with
    ``s_i = sum_j W_ij sum_p h(t - t_jp - delay)`` (unit-area PSC kernel h, so a spike
    of weight w delivers the charge w), threshold 1, reset 0, refractory tau_ref.
    The result does not depend on ``dt`` beyond rounding (about 1e-12 s).

    Parameters
    ----------
    model : LIF
        Normalized LIF model.
    weights : array_like or scipy.sparse matrix, shape (post, pre)
        Charge per input spike.
    spikes : tuple (times, indices)
        Input spike events: times in seconds, presynaptic indices in ``range(pre)``.
    T : float
        Duration in seconds (a multiple of dt).
    dt : float
        Step in seconds; only the loop granularity.
    synapse : PSCFilter, optional
        Exponential (n = 0) or alpha (n = 1) filter; default ``PSCFilter(0.005)``.
    bias : float or array_like (post,)
        Constant input J.
    v0 : float or array_like (post,), optional
        Initial voltages (default 0).
    delay : float
        Transmission delay in seconds (any value >= 0: the inputs are known in advance).

    Returns
    -------
    times : ndarray
        Output spike times in seconds, sorted.
    indices : ndarray of int
        Post neuron of each spike.
    """
    import scipy.sparse as sp

    if not isinstance(model, LIF):
        raise TypeError(f"model must be a neurosim.LIF, got {type(model).__name__}")
    synapse = PSCFilter(0.005) if synapse is None else synapse
    if not isinstance(synapse, PSCFilter):
        raise TypeError(f"synapse must be a PSCFilter, got {type(synapse).__name__}")
    if synapse.n > 1:
        raise ValueError(f"precise timing handles PSC order n = 0 or 1, got synapse={synapse!r}")
    dt = check.positive("dt", dt)
    steps = check.n_steps(T, dt)
    delay = check.positive("delay", delay, allow_zero=True)
    W = weights if sp.issparse(weights) else check.finite_array("weights", weights)
    if W.ndim != 2:
        raise ValueError(f"weights must have shape (post, pre), got {W.shape}")
    n_post, n_pre = W.shape
    model.check_population(n_post)  # per-neuron parameters: one per post neuron
    times, idx = spikes
    times = check.finite_array("spike times", times).ravel()
    idx = np.asarray(idx).ravel()
    if times.shape != idx.shape or (idx.size and (idx.min() < 0 or idx.max() >= n_pre)):
        raise ValueError(f"spikes must be (times, indices) of equal length with indices in range({n_pre})")
    bias = np.broadcast_to(check.finite_array("bias", bias), (n_post,)).astype(float)
    v0 = None if v0 is None else np.broadcast_to(check.finite_array("v0", v0), (n_post,))
    state = PreciseLIFState(model, n_post, dt, [synapse], v0)
    rows = csr_rows(W, 1.0 / synapse.tau_s)
    arrival = times + delay
    order = np.argsort(arrival, kind="stable")
    arrival, idx = arrival[order], idx[order].astype(np.int64)
    # step k receives the arrivals in [k dt, (k+1) dt)
    step_of = np.floor(arrival / dt).astype(np.int64)
    bounds = np.searchsorted(step_of, np.arange(steps + 1))
    out_i, out_t = [], []
    for k in range(steps):
        t0 = k * dt
        a, b = bounds[k], bounds[k + 1]
        events = None
        if b > a:
            tgt, off, w = fan_out(rows, idx[a:b], np.clip(arrival[a:b] - t0, 0.0, np.nextafter(dt, 0)))
            events = (tgt, off, np.zeros(tgt.size, dtype=np.int64), w)
        i, t = state.step(bias, t0, events)
        if i.size:
            out_i.append(i)
            out_t.append(t)
    if not out_i:
        return np.zeros(0), np.zeros(0, dtype=np.int64)
    t, i = np.concatenate(out_t), np.concatenate(out_i)
    o = np.argsort(t, kind="stable")
    return t[o], i[o]


__all__ = ["PreciseLIFState", "precise_feedforward"]
