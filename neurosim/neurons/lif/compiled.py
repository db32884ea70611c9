"""The noisy LIF step compiled with numba: many steps per call, the same arithmetic as
:meth:`neurosim.LIFState._step_noisy` (white and coloured noise), on the same pre-drawn numbers.

Imported only when numba is importable (:func:`use_compiled`). No fastmath: every operation is
done in the numpy step's order, so the spikes are the same (same neurons, same steps, offsets
equal to rounding).
"""
import math

import numpy as np
from numba import njit
from ..._optional import fresh_kernel_cache

fresh_kernel_cache()  # before any cached kernel loads: drop caches older than their sources

_GATHER = 1 << 18  # random numbers drawn for one kernel call (2 MB: stays in cache), in whole blocks of LIFState.draw_steps


@njit(cache=True, error_model="numpy")
def _free_white(J, r, tau_m, sigma, z):
    # noise.ou_step from v0 = 0 over r seconds, in its operation order
    d = math.exp(-r / tau_m)
    out = (0.0 - J) * d
    out += J
    return out + (sigma * math.sqrt(-math.expm1(2.0 * math.log(d)))) * z


@njit(cache=True, error_model="numpy")
def noisy_step(k, dt, v, re, eta, Jr, Jd, decay, step_std, tau_m, tau_ref, bridge_rate, bridge_var, sigma, white,
               phi, z, u, slow, slow_a, start_a, near, out_idx, out_off, count):
    """One step from t0 = k dt (:meth:`neurosim.LIFState._step_noisy`, operation for operation).

    ``Jr`` is the input J (n,), ``Jd`` = J (1 - exp(-dt/tau_m)); parameters (1,) or (n,); z (K_n, n) standard
    normals and u (K_u, n) uniforms of this step; slow, slow_a, start_a, near: scratch (n,). Spikes go to
    ``out_idx`` (as float) and ``out_off`` from ``count`` on, pass by pass (the first spikes in ascending neuron
    order, then the further spikes of the step), as numpy gives them; the buffers must hold
    n * (spikes per step) more. Returns the new count, or -1 when a neuron would need more draws than drawn.
    """
    n = v.size
    t0 = k * dt
    t1 = t0 + dt
    kz = z.shape[0]
    per, per_ref = decay.size > 1, tau_ref.size > 1
    z0 = z[0]
    m_slow = 0
    # the full-step update of every neuron, a branch-free pass; the few others are finished below
    if white:
        if not per:  # one tau_m for all (the usual case): the parameters stay in registers
            dc, sd, lim = decay[0], step_std[0], 25.0 * bridge_var[0]
            for i in range(n):  # (vectorized: no branch)
                v_i = v[i]
                a = 1.0 - v_i
                v_i = v_i * dc + Jd[i]
                v_i += z0[i] * sd
                v[i] = v_i
                start_a[i] = a
                near[i] = ((1.0 - v_i) * a < lim) | (re[i] > t0)
        else:
            for i in range(n):
                v_i = v[i]
                a = 1.0 - v_i
                v_i = v_i * decay[i] + Jd[i]
                v_i += z0[i] * step_std[i]
                v[i] = v_i
                start_a[i] = a
                near[i] = ((1.0 - v_i) * a < 25.0 * bridge_var[i]) | (re[i] > t0)
    else:
        p00, p01, p11, l00, l10, l11 = phi[0], phi[1], phi[2], phi[3], phi[4], phi[5]
        z1 = z[1]
        for i in range(n):
            v_i = v[i]
            Ji = Jr[i]
            x = v_i - Ji
            e = eta[i]
            v[i] = Ji + p00 * x + p01 * e + l00 * z0[i]
            eta[i] = e * p11 + (l10 * z0[i] + l11 * z1[i])
            start_a[i] = v_i
            near[i] = (v[i] > 1.0) | (re[i] > t0)
    for i in range(n):
        if near[i]:
            slow[m_slow] = i
            slow_a[m_slow] = start_a[i]
            m_slow += 1
    # first pass: refractory neurons, crossings; a neuron that may spike again stays in slow[:m_next]
    m_next = 0
    for j in range(m_slow):
        i = slow[j]
        q = i if per else 0  # per-neuron parameters (tau_m), or one value
        Ji = Jr[i]
        end_i = re[i]
        refr = end_i > t0
        v_i = v[i]
        a = slow_a[j]  # white: 1 - v at the start; coloured: v at the start
        if refr:
            r = max(t1 - end_i, 0.0)
            if white:
                v_i = _free_white(Ji, r, tau_m[q], sigma, z0[i])
                a = 1.0
            else:
                Jn = Ji + eta[i]
                v_i = Jn + (0.0 - Jn) * math.exp(-r / tau_m[q])
                a = 0.0
        v[i] = v_i
        spiked = False
        if white:
            x = 1.0 - v_i
            x *= a
            if x < 25.0 * bridge_var[q]:
                var = bridge_var[q]
                if refr:
                    var = bridge_rate[q] * max(t1 - end_i, 0.0)
                p = math.exp(-2.0 * x / var)
                spiked = u[0, i] < p
            v0s = 1.0 - a
        else:
            spiked = v_i > 1.0
            v0s = a
        if spiked:
            end = _spike(i, k, 1, v0s, v_i, max(end_i, t0), t0, t1, Ji, v, re, eta, tau_m[q],
                         tau_ref[i if per_ref else 0], sigma, white, z, kz, out_idx, out_off, count)
            count += 1
            if end < 0.0:
                return -1
            if _again(i, end, t1, v, bridge_rate[q], white, u, 1):
                slow[m_next] = i
                slow_a[m_next] = end
                m_next += 1
    # further passes: refractory periods that end inside the step (tau_ref < dt)
    m = 1
    while m_next:
        m += 1
        m_now, m_next = m_next, 0
        for j in range(m_now):
            i = slow[j]
            q = i if per else 0
            end = _spike(i, k, m, 0.0, v[i], slow_a[j], t0, t1, Jr[i], v, re, eta, tau_m[q],
                         tau_ref[i if per_ref else 0], sigma, white, z, kz, out_idx, out_off, count)
            count += 1
            if end < 0.0:
                return -1
            if _again(i, end, t1, v, bridge_rate[q], white, u, m):
                slow[m_next] = i
                slow_a[m_next] = end
                m_next += 1
    return count


@njit(cache=True, error_model="numpy")
def _spike(i, k, m, v0s, v1s, s0, t0, t1, Ji, v, re, eta, tau_m, tau_ref, sigma, white, z, kz, out_idx, out_off,
           count):
    """The m-th spike of neuron i in the step (it crossed between v0s at s0 and v1s at the end): record it, start
    its refractory period, integrate the rest of the step (draw m of the neuron); the period's end, or -1 when
    that would need a draw beyond the drawn count (tau_ref < dt / count: never with the count LIFState draws)."""
    if v1s > 1.0:
        frac = (1.0 - v0s) / (v1s - v0s)
    else:
        frac = 0.5  # a bridge crossing: mid-segment
    if math.isnan(frac):
        frac = 0.0
    frac = min(max(frac, 0.0), 1.0)
    spike_time = s0 + frac * (t1 - s0)
    out_idx[count] = i
    out_off[count] = spike_time - t0
    end = spike_time + tau_ref
    re[i] = end
    rest = max(t1 - end, 0.0)
    if white:
        if m >= kz and rest > 0:
            return -1.0
        v[i] = _free_white(Ji, rest, tau_m, sigma, z[m, i] if m < kz else 0.0)  # rest 0: z unused
    else:
        Jn = Ji + eta[i]
        v[i] = Jn + (0.0 - Jn) * math.exp(-rest / tau_m)
    return end


@njit(cache=True, error_model="numpy")
def _again(i, end, t1, v, bridge_rate, white, u, m):
    """Whether neuron i, integrating again from ``end``, crosses before the end of the step (uniform m)."""
    rest = max(t1 - end, 0.0)
    if not rest > 0:
        return False
    ve = v[i]
    crossed = ve > 1.0
    if white:
        var = bridge_rate * rest
        b = max(1.0 - ve, 0.0)
        pr = math.exp(-2.0 * 1.0 * b / var) if var > 0 else 0.0
        crossed = (u[m, i] < pr) or crossed
    return crossed


@njit(cache=True, error_model="numpy")
def noisy_steps(k0, nsteps, dt, v, re, eta, J, j_const, omd, decay, step_std, tau_m, tau_ref, bridge_rate,
                bridge_var, sigma, white, phi, z, u, v_out, record_v, out_step, out_idx, out_off, max_spikes):
    """:func:`noisy_step` for steps k0 .. k0 + nsteps - 1; returns (steps done, spikes written), or (-1, .) when
    a step needed more draws than drawn.

    Stops early, at a step boundary, when the spike buffers could overflow in the next step.
    J is (1, n) when ``j_const`` else (nsteps, n); z (nsteps, K_n, n), u (nsteps, K_u, n).
    """
    n = v.size
    slow = np.empty(n, dtype=np.int64)
    slow_a, start_a, Jd = np.empty(n), np.empty(n), np.empty(n)
    near = np.empty(n, dtype=np.bool_)
    per = omd.size > 1
    count = 0
    for s in range(nsteps):
        if count + max_spikes > out_idx.size:
            return s, count
        Jr = J[0 if j_const else s]
        if s == 0 or not j_const:
            for i in range(n):
                Jd[i] = Jr[i] * omd[i if per else 0]
        c = noisy_step(k0 + s, dt, v, re, eta, Jr, Jd, decay, step_std, tau_m, tau_ref, bridge_rate, bridge_var,
                       sigma, white, phi, z[s], u[s], slow, slow_a, start_a, near, out_idx, out_off, count)
        if c < 0:
            return -1, count
        for q in range(count, c):
            out_step[q] = k0 + s
        count = c
        if record_v:
            v_out[s] = v
    return nsteps, count


def simulate_noisy(state, J, steps, recorder, v_trace):
    """Run ``steps`` steps of the noisy :class:`neurosim.LIFState` ``state`` with the compiled step.

    ``J`` is the simulation's input (:func:`neurosim.signals.as_input`); spikes go to ``recorder``,
    voltages to ``v_trace`` (steps, n) when given. Consumes the same draws as stepping with numpy.
    """
    from ...errors import SimulationError

    n = state.v.size
    dt = state.dt

    def full(x):  # one value (shape (1,)) or one per neuron (n,)
        return np.ascontiguousarray(np.atleast_1d(np.asarray(x, dtype=float)))

    omd, decay, tau_m, tau_ref = (full(x) for x in (state.one_minus_decay, state.decay, state.tau_m,
                                                    state.tau_ref))
    step_std, bridge_rate, bridge_var = (full(x) for x in (state.step_std, state.bridge_rate, state.bridge_var))
    white = state.eta is None
    if white:
        phi = np.zeros(6)
        eta = np.zeros(1)
    else:
        (p00, p01), (_, p11) = state.Phi
        (l00, _), (l10, l11) = state.L
        phi = np.array([p00, p01, p11, l00, l10, l11], dtype=float)
        eta = state.eta
    per_step = state.spikes_per_step * n  # spikes one step can write at most (<= 64 n: see LIF.simulate)
    cap = max(per_step, 1 << 16)
    out_step = np.empty(cap, dtype=np.int64)
    out_idx = np.empty(cap)
    out_off = np.empty(cap)
    J_const = np.ascontiguousarray(np.broadcast_to(J.at(0), (n,)), dtype=float)[None] if J.constant else None
    dummy_v = np.zeros((1, 1))
    # whole blocks of draws are drawn several at a time into one reused buffer (the same numbers as block by
    # block): one kernel call runs them all, so the per-call cost is paid once per ~_GATHER numbers
    ds = state.draw_steps
    kz, ku = state.draws_per_step
    gather = max(1, _GATHER // (ds * (kz + ku) * n))
    z_buf = u_buf = None
    k = 0
    while k < steps:
        if steps - k >= 2 * ds and (state._buf is None or state._buf_pos == ds):  # no drawn steps pending
            blocks = min(gather, (steps - k) // ds)
            if z_buf is None:
                z_buf, u_buf = np.empty((gather * ds, kz, n)), np.empty((gather * ds, ku, n))
            z, u = z_buf[:blocks * ds], u_buf[:blocks * ds]
            state.draw_blocks(z, u)
        else:
            z, u = state.take_draws(steps - k)
        got = z.shape[0]
        if J_const is not None:
            Jrows = J_const
        else:
            Jrows = np.empty((got, n))
            for s in range(got):
                Jrows[s] = np.broadcast_to(J.at(k + s), (n,))
        done = 0
        while done < got:
            v_out = v_trace[k + done:k + got] if v_trace is not None else dummy_v
            J_part = Jrows if J_const is not None else Jrows[done:]
            ran, count = noisy_steps(k + done, got - done, dt, state.v, state.refractory_end, eta, J_part,
                                     J_const is not None, omd, decay, step_std, tau_m, tau_ref, bridge_rate,
                                     bridge_var, state.sigma, white, phi, z[done:], u[done:], v_out,
                                     v_trace is not None, out_step, out_idx, out_off, per_step)
            if ran < 0:
                raise SimulationError("internal: a neuron spiked more often in one step than its refractory "
                                      "period allows")
            recorder._record_many(out_step[:count].copy(), out_idx[:count].astype(np.int64), out_off[:count].copy())
            done += ran
        k += got
