"""The noisy LIF step compiled with numba: many steps per call, the same arithmetic as
:meth:`neurosim.LIFState._step_noisy` (white and coloured noise), on the same pre-drawn numbers.

Imported only when numba is importable (:func:`use_compiled`). No fastmath: every operation is
done in the numpy step's order, so the spikes are the same (same neurons, same steps, offsets
equal to rounding).
"""
import math

import numpy as np
from numba import njit


@njit(cache=True, error_model="numpy")
def _free_white(J, r, tau_m, sigma, z):
    # noise.ou_step from v0 = 0 over r seconds, in its operation order
    d = math.exp(-r / tau_m)
    out = (0.0 - J) * d
    out += J
    return out + (sigma * math.sqrt(-math.expm1(2.0 * math.log(d)))) * z


@njit(cache=True, error_model="numpy")
def noisy_steps(k0, nsteps, dt, v, re, eta, J, j_const, omd, decay, step_std, tau_m, tau_ref, bridge_rate,
                bridge_var, sigma, white, phi, z, u, v_out, record_v, out_step, out_idx, out_off, max_spikes):
    """Advance ``nsteps`` steps from step ``k0`` (t0 = k dt); returns (steps done, spikes written).

    Stops early, at a step boundary, when the spike buffers could overflow in the next step.
    J is (1, n) when ``j_const`` else (nsteps, n); the parameters are (1,) or (n,); z (nsteps, K_n, n), u (nsteps, K_u, n).
    phi = (p00, p01, p11, l00, l10, l11) of the coloured step.
    """
    n = v.size
    p00, p01, p11, l00, l10, l11 = phi[0], phi[1], phi[2], phi[3], phi[4], phi[5]
    kz = z.shape[1]
    slow = np.empty(n, dtype=np.int64)  # neurons refractory or near threshold in this step
    slow_a = np.empty(n)  # their 1 - v (white) or v (coloured) at the start of the step
    start_a = np.empty(n)
    near = np.empty(n, dtype=np.bool_)
    per, per_ref = decay.size > 1, tau_ref.size > 1
    count = 0
    for s in range(nsteps):
        if count + max_spikes > out_idx.size:
            return s, count
        k = k0 + s
        t0 = k * dt
        t1 = t0 + dt
        row = 0 if j_const else s
        Jr = J[row]
        z0 = z[s, 0]
        m_slow = 0
        # the full-step update of every neuron, a branch-free pass; the few others are finished below
        if white:
            if decay.size == 1:  # one tau_m for all (the usual case): the parameters stay in registers
                dc, om, sd, lim = decay[0], omd[0], step_std[0], 25.0 * bridge_var[0]
                for i in range(n):  # (vectorized: no branch)
                    v_i = v[i]
                    a = 1.0 - v_i
                    v_i = v_i * dc + Jr[i] * om
                    v_i += z0[i] * sd
                    v[i] = v_i
                    start_a[i] = a
                    near[i] = ((1.0 - v_i) * a < lim) | (re[i] > t0)
            else:
                for i in range(n):
                    v_i = v[i]
                    a = 1.0 - v_i
                    v_i = v_i * decay[i] + Jr[i] * omd[i]
                    v_i += z0[i] * step_std[i]
                    v[i] = v_i
                    start_a[i] = a
                    near[i] = ((1.0 - v_i) * a < 25.0 * bridge_var[i]) | (re[i] > t0)
            for i in range(n):
                if near[i]:
                    slow[m_slow] = i
                    slow_a[m_slow] = start_a[i]
                    m_slow += 1
        else:
            z1 = z[s, 1]
            for i in range(n):
                v_i = v[i]
                Ji = Jr[i]
                x = v_i - Ji
                e = eta[i]
                v_n = Ji + p00 * x + p01 * e + l00 * z0[i]
                eta[i] = e * p11 + (l10 * z0[i] + l11 * z1[i])
                v[i] = v_n
                if re[i] > t0 or v_n > 1.0:
                    slow[m_slow] = i
                    slow_a[m_slow] = v_i
                    m_slow += 1
        for j in range(m_slow):
            i = slow[j]
            q = i if per else 0  # per-neuron parameters (tau_m), or one value
            qr = i if per_ref else 0
            Ji = Jr[i]
            end_i = re[i]
            refr = end_i > t0
            v_i = v[i]
            if white:
                a = slow_a[j]
            else:
                v_start = slow_a[j]
            if refr:
                r = max(t1 - end_i, 0.0)
                if white:
                    v_i = _free_white(Ji, r, tau_m[q], sigma, z0[i])
                    a = 1.0
                else:
                    Jn = Ji + eta[i]
                    v_i = Jn + (0.0 - Jn) * math.exp(-r / tau_m[q])
                    v_start = 0.0
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
                    spiked = u[s, 0, i] < p
                v0s = 1.0 - a
            else:
                spiked = v_i > 1.0
                v0s = v_start
            if spiked:
                v1s = v_i
                s0 = max(end_i, t0)
                m = 0
                while True:
                    m += 1
                    if v1s > 1.0:
                        frac = (1.0 - v0s) / (v1s - v0s)
                    else:
                        frac = 0.5
                    if math.isnan(frac):
                        frac = 0.0
                    frac = min(max(frac, 0.0), 1.0)
                    spike_time = s0 + frac * (t1 - s0)
                    out_step[count] = k
                    out_idx[count] = i
                    out_off[count] = spike_time - t0
                    count += 1
                    end = spike_time + tau_ref[qr]
                    re[i] = end
                    rest = max(t1 - end, 0.0)
                    if white:
                        if m >= kz and rest > 0:  # cannot happen with tau_ref >= dt / kz: refuse, never guess
                            return -1, count
                        zz = z[s, m, i] if m < kz else 0.0  # beyond the drawn count rest is 0: z is unused
                        v_new = _free_white(Ji, rest, tau_m[q], sigma, zz)
                    else:
                        Jn = Ji + eta[i]
                        v_new = Jn + (0.0 - Jn) * math.exp(-rest / tau_m[q])
                    v[i] = v_new
                    if not rest > 0:
                        break
                    crossed = v_new > 1.0
                    if white:
                        var = bridge_rate[q] * rest
                        b = max(1.0 - v_new, 0.0)
                        pr = math.exp(-2.0 * 1.0 * b / var) if var > 0 else 0.0
                        crossed = crossed or u[s, m, i] < pr
                    if not crossed:
                        break
                    v0s, v1s, s0 = 0.0, v_new, end
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
    per_step = min(state.spikes_per_step, 1 << 20) * n  # spikes one step can write at most
    cap = max(per_step, 1 << 16)
    out_step = np.empty(cap, dtype=np.int64)
    out_idx = np.empty(cap, dtype=np.int64)
    out_off = np.empty(cap)
    J_const = np.ascontiguousarray(np.broadcast_to(J.at(0), (n,)), dtype=float)[None] if J.constant else None
    dummy_v = np.zeros((1, 1))
    k = 0
    while k < steps:
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
            recorder._record_many(out_step[:count].copy(), out_idx[:count].copy(), out_off[:count].copy())
            done += ran
        k += got
