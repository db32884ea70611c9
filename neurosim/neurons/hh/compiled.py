"""The compiled Hodgkin-Huxley step loop: one numba call advances all neurons by many steps.

The kernel repeats, per neuron, the operations of the numpy steppers
(:mod:`neurosim.neurons.hh.steppers`), the coefficient routine
(:class:`neurosim.neurons.hh.kinetics._Coefficients`) and the crossing detector
(:class:`neurosim.neurons.crossings.CrossingDetector`) in the same order, on the
same buffers (the (5, N) state ``Y``, the two coefficient buffers ``KK``, the
detector's last voltage, slope and side of threshold, exp_ab2's previous input),
so an :class:`~neurosim.neurons.hh.model.HHState` can switch between the two
paths at any step boundary and its snapshots are the same.

The results are not bit-identical to numpy's: numpy evaluates ``exp``/``expm1``
with its own SIMD routines and the small linear maps with BLAS, numba with libm
and plain loops; each differs in the last ulp now and then. The differences stay
at rounding level (see tests/neurosim/test_hh_compiled.py for the measured size).

No ``fastmath`` (it would reorder and contract the arithmetic); the machine code
is cached on disk (``cache=True``).

The validity check is numpy's: after a step the whole population's V must be finite
and within ``V_RANGE``. A step that fails is left applied to ``Y`` and the
coefficients, the detector untouched, exactly as :meth:`HHState._advance` leaves
them before raising; the caller raises the same ``SimulationError``.
"""
import math

import numpy as np
from numba import njit

from .kinetics import _OFFSET, _SLOPE, _TINY

METHOD_CODES = {"rk4": 0, "exp_midpoint": 1, "exp_ab2": 2, "exp_euler": 3}
# the rate-argument constants, as plain floats (A_r = SLOPE_r * V + OFFSET_r)
_S = tuple(float(x) for x in _SLOPE[:, 0])
_O = tuple(float(x) for x in _OFFSET[:, 0])
S0, S1, S2, S4, S5, S6 = _S[0], _S[1], _S[2], _S[4], _S[5], _S[6]
O0, O1, O2, O4, O5, O6 = _O[0], _O[1], _O[2], _O[4], _O[5], _O[6]
TINY = float(_TINY)


@njit(cache=True)
def _coeffs(K, i, m, ng, hg, V, Ib, G):
    """Fill K[0:8, i] (a: m, n, h, V; b: m, n, h, V) for one neuron, as ``_Coefficients.__call__``."""
    x0 = (S0 * V + O0) + TINY
    x1 = (S1 * V + O1) + TINY
    am = x0 / math.expm1(x0)
    an = (x1 / math.expm1(x1)) * 0.1
    ah = math.exp(S2 * V + O2)
    bm = math.exp(S4 * V + O4)
    bn = math.exp(S5 * V + O5)
    bh = 1.0 / (math.exp(S6 * V + O6) + 1.0)
    K[0, i] = am
    K[1, i] = an
    K[2, i] = ah
    K[4, i] = bm + am
    K[5, i] = bn + an
    K[6, i] = bh + ah
    p0 = (m * m) * (m * hg)
    n2 = ng * ng
    p1 = n2 * n2
    K[3, i] = G[0, 0] * p0 + G[0, 1] * p1 + G[0, 2] * Ib + G[0, 3]
    K[7, i] = G[1, 0] * p0 + G[1, 1] * p1 + G[1, 2] * Ib + G[1, 3]


@njit(cache=True)
def _exp_advance(K, i, y, r, h):
    """Exact solution after h ms of dy/dt = a - b y for row r, from y (ExpEuler._advance)."""
    b = K[4 + r, i]
    E = math.exp(b * -h)
    X = K[r, i] / b
    return (y - X) * E + X


@njit(cache=True)
def _hermite_root(v0, v1, d0, d1, thr):
    """As :func:`neurosim.neurons.crossings._hermite_root_scalar`."""
    c2 = 3.0 * (v1 - v0) - 2.0 * d0 - d1
    c3 = 2.0 * (v0 - v1) + d0 + d1
    theta = min(max((thr - v0) / (v1 - v0), 0.0), 1.0)
    for _ in range(3):
        p = v0 + theta * (d0 + theta * (c2 + theta * c3)) - thr
        dp = d0 + theta * (2.0 * c2 + 3.0 * theta * c3)
        theta = min(max(theta - p / (dp if dp > 0 else v1 - v0), 0.0), 1.0)
    return theta


@njit(cache=True)
def run(method, Y, KK, cur, P2, det_V, det_f, was_above, primed, I_prev, has_prev, G, W,
        h, dt, thr, v_lo, v_hi, Ibar, const, changed_first, k0, n_steps,
        tv, tm, th, tn, sk, si, so, Ys, k1, k2, k3):
    """Advance N neurons by up to ``n_steps`` steps (step numbers k0, k0 + 1, ...).

    ``Ibar``: (rows, N) drive ``(I + g_L E_L) / C`` in mV/ms, row 0 every step when ``const``
    (only the first step of the call may change the input: ``changed_first``), else row j for step k0 + j.
    ``cur``, ``primed``, ``has_prev``: one-element int64 arrays (coefficient buffer in use, detector primed,
    exp_ab2 has its previous input), updated in place. Traces tv, tm, th, tn (rows per global step) are
    written when they have rows. Spikes go to sk (step), si (index), so (offset in s); the call stops early
    when fewer than N free slots are left. ``W`` (2, 2): exp_ab2's weights -h (1.5, -0.5) per current buffer.

    Returns ``(status, steps_done, n_spikes, lo, hi)``: status 1 when step ``k0 + steps_done`` left the
    valid range (lo, hi: its V range, NaN if any V is NaN), else 0.
    """
    N = Y.shape[1]
    cap = sk.shape[0]
    count = 0
    for j in range(n_steps):
        if count + N > cap:
            return 0, j, count, 0.0, 0.0
        row = 0 if const else j
        changed = changed_first if j == 0 else (not const)
        K = KK[cur[0]]
        if primed[0] == 0:  # first step: coefficients and dV/dt of the initial state
            for i in range(N):
                _coeffs(K, i, Y[0, i], Y[1, i], Y[2, i], Y[3, i], Ibar[row, i], G)
                P2[i] = Ibar[row, i]
                det_V[i] = Y[3, i]
                det_f[i] = K[3, i] - K[7, i] * Y[3, i]
                was_above[i] = True
            primed[0] = 1
        elif changed:  # a_V (and dV/dt) shift by the change in the drive
            for i in range(N):
                dI = Ibar[row, i] - P2[i]
                K[3, i] += dI
                P2[i] = Ibar[row, i]
                det_f[i] += dI
        first_ab2 = False
        wa = 0.0
        wb = 0.0
        if method == 2:
            if has_prev[0] == 0:
                first_ab2 = True
                has_prev[0] = 1
            wa = W[cur[0], 0]
            wb = W[cur[0], 1]
        lo = np.inf
        hi = -np.inf
        nan = False
        Kn = KK[1 - cur[0]] if method == 2 else K  # exp_ab2 fills the other buffer at the end of the step
        for i in range(N):
            Ib = Ibar[row, i]
            if method == 0:  # rk4
                for r in range(4):
                    k1[r] = K[r, i] - K[4 + r, i] * Y[r, i]
                    Ys[r] = k1[r] * (0.5 * h) + Y[r, i]
                _coeffs(K, i, Ys[0], Ys[1], Ys[2], Ys[3], Ib, G)
                for r in range(4):
                    k2[r] = K[r, i] - K[4 + r, i] * Ys[r]
                for r in range(4):
                    Ys[r] = k2[r] * (0.5 * h) + Y[r, i]
                _coeffs(K, i, Ys[0], Ys[1], Ys[2], Ys[3], Ib, G)
                for r in range(4):
                    k3[r] = K[r, i] - K[4 + r, i] * Ys[r]
                    Ys[r] = k3[r] * h + Y[r, i]
                _coeffs(K, i, Ys[0], Ys[1], Ys[2], Ys[3], Ib, G)
                for r in range(4):
                    k4 = K[r, i] - K[4 + r, i] * Ys[r]
                    s = (((k2[r] + k3[r]) * 2.0 + k1[r]) + k4) * (h / 6.0)
                    Y[r, i] = Y[r, i] + s
            elif method == 1:  # exp_midpoint
                for r in range(4):
                    Ys[r] = _exp_advance(K, i, Y[r, i], r, 0.5 * h)
                _coeffs(K, i, Ys[0], Ys[1], Ys[2], Ys[3], Ib, G)
                for r in range(4):
                    Y[r, i] = _exp_advance(K, i, Y[r, i], r, h)
            elif method == 3 or first_ab2:  # exp_euler (and exp_ab2's first step)
                for r in range(4):
                    Y[r, i] = _exp_advance(K, i, Y[r, i], r, h)
            else:  # exp_ab2: coefficients extrapolated to the middle of the step
                for r in range(8):
                    Ys[r] = wa * KK[0, r, i] + wb * KK[1, r, i]
                Ys[3] += (Ib - I_prev[i]) * (0.5 * h)
                for r in range(4):
                    bh_ = min(Ys[4 + r], -1e-3 * h)
                    E = math.exp(bh_)
                    X = Ys[r] / bh_
                    Y[r, i] = (Y[r, i] - X) * E + X
            if method == 2:
                I_prev[i] = Ib
            # coefficients at the end of the step = start of the next; dV/dt for spike location
            _coeffs(Kn, i, Y[0, i], Y[1, i], Y[2, i], Y[3, i], Ib, G)
            v = Y[3, i]
            if v != v:
                nan = True
            lo = min(lo, v)
            hi = max(hi, v)
        if method == 2:
            cur[0] = 1 - cur[0]
            P2[:] = Ibar[row]
            K = Kn
        if nan or not (lo >= v_lo and hi <= v_hi):
            if nan:
                lo = np.nan
                hi = np.nan
            return 1, j, count, lo, hi
        k = k0 + j
        for i in range(N):
            v1 = Y[3, i]
            above = v1 >= thr
            if above and not was_above[i]:
                theta = _hermite_root(det_V[i], v1, det_f[i] * h, (K[3, i] - K[7, i] * v1) * h, thr)
                sk[count] = k
                si[count] = i
                so[count] = theta * dt
                count += 1
            was_above[i] = above
            det_V[i] = v1
            det_f[i] = K[3, i] - K[7, i] * v1
        if tv.shape[0]:
            tv[k] = Y[3]
        if tm.shape[0]:
            tm[k] = Y[0]
        if th.shape[0]:
            th[k] = Y[2]
        if tn.shape[0]:
            tn[k] = Y[1]
    return 0, n_steps, count, 0.0, 0.0


class CompiledRun:
    """Runs an :class:`~neurosim.neurons.hh.model.HHState` through :func:`run`, on the state's own buffers.

    Scratch arrays (spike slots, per-neuron stage values) are allocated once per state.
    """

    def __init__(self, state):
        n = state.n_neurons
        self.state = state
        self.method = METHOD_CODES[state.method]
        cap = max(4 * n, 1 << 16)
        self.sk = np.empty(cap, dtype=np.int64)
        self.si = np.empty(cap, dtype=np.int64)
        self.so = np.empty(cap)
        self.Ys = np.empty(8)
        self.k1, self.k2, self.k3 = np.empty(4), np.empty(4), np.empty(4)
        h = state.dt * 1e3
        w = -h * np.array([1.5, -0.5])
        self.W = np.array([[w[0], w[1]], [w[1], w[0]]])
        self.h = h
        self.none = np.empty((0, n))

    def advance(self, Ibar, const, changed_first, k0, n_steps, traces, recorder):
        """Advance ``n_steps`` steps from step ``k0``; spikes to ``recorder``, trace rows into ``traces``.

        ``Ibar`` (1, N) with ``const`` (only the first step may change the input, if ``changed_first``),
        else (n_steps, N), one drive row per step (mV/ms). Raises the numpy path's ``SimulationError``
        at the same step when the state leaves its valid range.
        """
        s = self.state
        c, det, stepper = s._coeffs, s._detector, s._stepper
        cur = np.array([c.current], dtype=np.int64)
        primed = np.array([int(s._primed)], dtype=np.int64)
        I_prev = getattr(stepper, "I_prev", None)
        has_prev = np.array([0 if I_prev is None else 1], dtype=np.int64)
        if I_prev is None:
            I_prev = np.empty(s.n_neurons)
        from .kinetics import V_RANGE
        tv, tm, th, tn = (traces.get(k, self.none) for k in ("v", "m", "h", "n"))
        done = 0
        try:
            while done < n_steps:
                rows = Ibar if const else Ibar[done:]
                status, steps, count, lo, hi = run(
                    self.method, s.Y, c.KK, cur, c.P[2], det.V, det.f, det.was_above, primed, I_prev, has_prev,
                    c.G, self.W, self.h, s.dt, s._detector.threshold, V_RANGE[0], V_RANGE[1], rows, const,
                    changed_first if done == 0 else not const, k0 + done, n_steps - done, tv, tm, th, tn,
                    self.sk, self.si, self.so, self.Ys, self.k1, self.k2, self.k3)
                if count:
                    recorder._record_many(self.sk[:count].astype(np.float64), self.si[:count].copy(),
                                          self.so[:count].copy())
                done += steps
                if status:
                    s._diverged(lo, hi)
        finally:  # the state's Python-side flags follow the arrays, also when a step raised
            c.select(int(cur[0]))
            s._primed = bool(primed[0])
            if has_prev[0] and hasattr(stepper, "I_prev"):
                stepper.I_prev = I_prev
        return done
