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

Two places compute the same values by a different route: RK4's four stages run fused, a neuron's stages in
registers (:func:`_rk4`), and the rate functions share exponentials between them (:func:`rates`: four
evaluations instead of six, one division instead of three; each shared value within ~3 ulp).

The kernels vectorize with 512-bit registers where the CPU has them (:func:`wide_vectors`).

No ``fastmath`` (it would reorder and contract the arithmetic; the only contractions are the explicit
``fmuladd`` steps of exp/expm1's polynomials); the machine code is cached on disk (``cache=True``).

The validity check is numpy's: after a step the whole population's V must be finite
and within ``V_RANGE``. A step that fails is left applied to ``Y`` and the
coefficients, the detector untouched, exactly as :meth:`HHState._advance` leaves
them before raising; the caller raises the same ``SimulationError``.
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from ..crossings import _hermite_root_scalar
from .kinetics import _OFFSET, _SLOPE, _TINY
from ..._optional import fresh_kernel_cache

fresh_kernel_cache()  # before any cached kernel loads: drop caches older than their sources

METHOD_CODES = {"rk4": 0, "exp_midpoint": 1, "exp_ab2": 2, "exp_euler": 3}
# the rate-argument constants, as plain floats (A_r = SLOPE_r * V + OFFSET_r)
_S = tuple(float(x) for x in _SLOPE[:, 0])
_O = tuple(float(x) for x in _OFFSET[:, 0])
S0, S1, S2, S4, S5, S6 = _S[0], _S[1], _S[2], _S[4], _S[5], _S[6]
O0, O1, O2, O4, O5, O6 = _O[0], _O[1], _O[2], _O[4], _O[5], _O[6]
_O5 = -0.8125  # beta_n's argument without its folded-in log(0.125): the kernel also derives alpha_h from it
TINY = float(_TINY)


@intrinsic
def _as_float(typingctx, bits):
    """The float64 whose bit pattern is the int64 ``bits``."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


@intrinsic
def _as_int(typingctx, x):
    """The int64 bit pattern of the float64 ``x``."""
    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def _fmuladd(typingctx, a, b, c):
    """``a * b + c``, fused into one FMA where the CPU has one (LLVM's ``fmuladd``), else a multiply and an add.

    Used only for the Horner steps of :func:`exp` and :func:`expm1` (whose error bounds hold either way);
    an explicit contraction of these operations, not fastmath (nothing else is reordered or contracted).
    """
    def codegen(context, builder, signature, args):
        fnty = ir.FunctionType(ir.DoubleType(), [ir.DoubleType()] * 3)
        fn = builder.module.declare_intrinsic("llvm.fmuladd", [ir.DoubleType()], fnty)
        return builder.call(fn, args)
    return types.float64(types.float64, types.float64, types.float64), codegen


@intrinsic
def wide_vectors(typingctx):
    """Let LLVM vectorize the calling function's loops with the widest vector registers the CPU has.

    LLVM's x86 cost model prefers 256-bit vectors even where the CPU has AVX-512 (the ``prefer-256-bit``
    tuning of most Intel targets, against a possible clock drop); the HH kernels are long chains of
    arithmetic per neuron (polynomials, divisions), where 512-bit vectors measured ~1.4x faster (rk4's
    fused pass and the coefficient pass, N = 1000: 57 -> 41 ns per neuron-step, side by side).
    This sets the calling function's ``prefer-vector-width`` attribute to 512: the same per-lane operations
    in the same order, only more lanes per instruction, so bit-identical results (tested); a CPU without
    AVX-512 is unaffected (LLVM uses the widest vectors it has). Call it once in the function's body; it
    does nothing at run time. LLVM inlines small kernels into their callers and then generates code by
    the caller's attribute: every function on the path (here :func:`run` and the passes it calls) calls it.
    """
    def codegen(context, builder, signature, args):
        # a string attribute, which llvmlite's list of known attributes does not have: added to the set
        # (llvmlite emits its items verbatim); an llvmlite that stores attributes otherwise gets none (only speed)
        attrs = builder.function.attributes
        if isinstance(attrs, set):
            set.add(attrs, '"prefer-vector-width"="512"')
        return context.get_dummy_value()
    return types.none(), codegen


_LOG2E = 1.4426950408889634
_LN2_HI = 6.93147180369123816490e-01  # ln 2 split in two (Cody-Waite): LN2_HI * k is exact for |k| < 2^11
_LN2_LO = 1.90821492927058770002e-10
_SHIFTER = 6755399441055744.0  # 1.5 * 2^52: adding it rounds to an integer, kept in the low mantissa bits
_SHIFTER_BITS = 0x4338000000000000
_EXP_HI = 709.0  # above: inf (true overflow is at 709.78; 709 < x < 709.78 loses nothing we use)
_EXP_LO = -708.0  # below: 0 (the true value is < 3.3e-308, subnormal)


@njit(cache=True, inline="always", error_model="numpy")
def _exp_clamped(xc):
    """e^xc for xc in [_EXP_LO, _EXP_HI] (no checks): the body of :func:`exp`."""
    t = xc * _LOG2E + _SHIFTER
    k = t - _SHIFTER
    r = _fmuladd(-k, _LN2_LO, xc - k * _LN2_HI)  # k * LN2_HI is exact
    p = _fmuladd(1.0 / 6227020800.0, r, 1.0 / 479001600.0)
    p = _fmuladd(p, r, 1.0 / 39916800.0)
    p = _fmuladd(p, r, 1.0 / 3628800.0)
    p = _fmuladd(p, r, 1.0 / 362880.0)
    p = _fmuladd(p, r, 1.0 / 40320.0)
    p = _fmuladd(p, r, 1.0 / 5040.0)
    p = _fmuladd(p, r, 1.0 / 720.0)
    p = _fmuladd(p, r, 1.0 / 120.0)
    p = _fmuladd(p, r, 1.0 / 24.0)
    p = _fmuladd(p, r, 1.0 / 6.0)
    p = _fmuladd(p, r, 0.5)
    p = _fmuladd(p, r, 1.0)
    p = _fmuladd(p, r, 1.0)
    # p in [0.7, 1.42]: adding k to its exponent field multiplies by 2^k (no overflow for |k| <= 1022)
    return _as_float(_as_int(p) + ((_as_int(t) - _SHIFTER_BITS) << 52))


@njit(cache=True, inline="always", error_model="numpy")
def exp(x):
    """e^x within ~1 ulp, written so that LLVM vectorizes loops calling it (libm's exp is an opaque call).

    Cody-Waite reduction x = k ln 2 + r with |r| <= ln 2 / 2, a degree-13 Taylor polynomial for e^r
    (truncation error < 5e-18 relative), and 2^k added to the exponent bits. NaN stays NaN;
    overflow gives inf, underflow 0 (numpy gives subnormals below -708; those only ever scale to zero here).
    """
    y = _exp_clamped(min(max(x, _EXP_LO), _EXP_HI))
    if x > _EXP_HI:
        y = np.inf
    if x < _EXP_LO:
        y = 0.0
    if x != x:
        y = x
    return y


@njit(cache=True, inline="always", error_model="numpy")
def _expm1_exp_clamped(xc):
    """``(e^xc - 1, e^xc)`` for xc in [-60, _EXP_HI] (no checks): the body of :func:`expm1_exp`."""
    t = xc * _LOG2E + _SHIFTER
    k = t - _SHIFTER
    r = _fmuladd(-k, _LN2_LO, xc - k * _LN2_HI)  # k * LN2_HI is exact
    p = _fmuladd(1.0 / 87178291200.0, r, 1.0 / 6227020800.0)
    p = _fmuladd(p, r, 1.0 / 479001600.0)
    p = _fmuladd(p, r, 1.0 / 39916800.0)
    p = _fmuladd(p, r, 1.0 / 3628800.0)
    p = _fmuladd(p, r, 1.0 / 362880.0)
    p = _fmuladd(p, r, 1.0 / 40320.0)
    p = _fmuladd(p, r, 1.0 / 5040.0)
    p = _fmuladd(p, r, 1.0 / 720.0)
    p = _fmuladd(p, r, 1.0 / 120.0)
    p = _fmuladd(p, r, 1.0 / 24.0)
    p = _fmuladd(p, r, 1.0 / 6.0)
    p = _fmuladd(p, r, 0.5)
    em = _fmuladd(p * r, r, r)  # expm1(r)
    two_k = _as_float((_as_int(t) - _SHIFTER_BITS + 1023) << 52)  # 2^k, exact
    return two_k * em + (two_k - 1.0), two_k * (em + 1.0)


@njit(cache=True, inline="always", error_model="numpy")
def expm1_exp(x):
    """``(e^x - 1, e^x)`` from one range reduction: e^x - 1 within ~2 ulp, vectorizable like :func:`exp`:
    x = k ln 2 + r, expm1(r) from its Taylor series to degree 14 (no cancellation near 0), then
    2^k expm1(r) + (2^k - 1); e^x = 2^k (expm1(r) + 1) within ~1.5 ulp (for x >= -60; below, both are
    held at their value at -60). NaN stays NaN."""
    y, e = _expm1_exp_clamped(min(max(x, -60.0), _EXP_HI))  # below -60, e^x - 1 rounds to -1
    if x > _EXP_HI:
        y = np.inf
        e = np.inf
    if x != x:
        y = x
        e = x
    return y, e


@njit(cache=True, inline="always", error_model="numpy")
def expm1(x):
    """e^x - 1 within ~2 ulp (:func:`expm1_exp`)."""
    return expm1_exp(x)[0]


_E_HALF = float(np.exp(0.5))  # beta_h's exponential is alpha_m's times e^(1/2) (arguments 1/2 apart)


@njit(cache=True, inline="always", error_model="numpy")
def rates(V):
    """The six rate functions at V (mV), 1/ms: ``(alpha_m, alpha_n, alpha_h, beta_m, beta_n, beta_h)``.

    Four exponential evaluations instead of six, sharing exact relations between the arguments:
    beta_h's e^(-(V+35)/10) is alpha_m's e^(-(V+40)/10) (from the same reduction as its expm1) times
    e^(1/2); alpha_h's e^(-(V+65)/20) is the fourth power of beta_n's e^(-(V+65)/80). Each shared value
    is within ~3 ulp (against ~1 ulp computed alone): rounding level, far below the integrators' errors.
    alpha_m and alpha_n keep their own expm1 (x / expm1(x), exact at the removable singularities).

    The exponentials' arguments are clamped but not checked for NaN or overflow (a quarter of their
    operations): those arise only for V far outside [-150, 100] mV or NaN, and then V's own update,
    which contains V itself, carries the NaN/inf or out-of-range value to the validity check.
    """
    x0 = (S0 * V + O0) + TINY
    x1 = (S1 * V + O1) + TINY
    em0, e0 = _expm1_exp_clamped(min(max(x0, -60.0), _EXP_HI))
    em1 = _expm1_exp_clamped(min(max(x1, -60.0), _EXP_HI))[0]
    d = e0 * _E_HALF + 1.0
    # one division for the three quotients x0 / em0, x1 / em1, 1 / d (divisions are the slowest vector
    # operation here); the product stays finite (< 1e14) for V in the valid range [-150, 100] mV
    e01 = em0 * em1
    R = 1.0 / (e01 * d)
    am = x0 * (em1 * d) * R
    an = (x1 * (em0 * d) * R) * 0.1
    q = _exp_clamped(min(max(S5 * V + _O5, _EXP_LO), _EXP_HI))  # e^(-(V+65)/80)
    q2 = q * q
    ah = (q2 * q2) * 0.07
    bm = _exp_clamped(min(max(S4 * V + O4, _EXP_LO), _EXP_HI))
    bn = q * 0.125
    bh = e01 * R
    return am, an, ah, bm, bn, bh


@njit(cache=True, inline="always", error_model="numpy")
def coefficients(m, n, h, V, Ib, g0, g1, g2, g3, g4):
    """One neuron's a (m, n, h, V) and b (m, n, h, V) (``_Coefficients.__call__``'s values, ms units) at
    the state (m, n, h, V) with drive Ib (mV/ms) and membrane entries g0..g4 (:func:`kernel_params`)."""
    am, an, ah, bm, bn, bh = rates(V)
    p0 = (m * m) * (m * h)
    n2 = n * n
    p1 = n2 * n2
    # G @ [p0, p1, Ib, 1] with G[0, 2] = 1, G[0, 3] = G[1, 2] = 0 (the same value as the full sum)
    return (am, an, ah, g0 * p0 + g1 * p1 + Ib,
            bm + am, bn + an, bh + ah, g2 * p0 + g3 * p1 + g4)


# fdlibm's e_log.c minimax coefficients
_LG1, _LG2, _LG3, _LG4 = 6.666666666666735130e-01, 3.999999999940941908e-01, 2.857142874366239149e-01, \
    2.222219843214978396e-01
_LG5, _LG6, _LG7 = 1.818357216161805012e-01, 1.531383769920937332e-01, 1.479819860511658591e-01


@njit(cache=True, inline="always", error_model="numpy")
def log(x):
    """Natural log of a positive, finite, normal x within 1 ulp, vectorizable like :func:`exp` (the compiled
    LIF step takes its spike times' logarithms with it). fdlibm's e_log.c without its special cases:
    x = 2^e m with m in [sqrt(2)/2, sqrt(2)), f = m - 1, s = f / (2 + f),
    log(1 + f) = f - f^2/2 + s (f^2/2 + R(s^2)). Zero, negative, subnormal, inf and NaN inputs give garbage."""
    bits = _as_int(x)
    m_bits = (bits & 0x000FFFFFFFFFFFFF) | 0x3FF0000000000000  # m in [1, 2)
    big = m_bits > 0x3FF6A09E667F3BCD  # m > sqrt(2): m / 2, e + 1
    m = _as_float(m_bits - (np.int64(big) << 52))
    k = float((bits >> 52) - 1023 + np.int64(big))
    f = m - 1.0
    hfsq = 0.5 * f * f
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    R = t2 + t1
    return k * _LN2_HI - ((hfsq - (s * (hfsq + R) + k * _LN2_LO)) - f)


@njit(cache=True, error_model="numpy")
def _coeffs(K, Ym, Yn, Yh, YV, Ib, G, X):
    """Fill K (8, N) (a: m, n, h, V; b: m, n, h, V) for the state rows, as ``_Coefficients.__call__``.

    ``G`` (5, N): per neuron, the entries of the membrane matrix (:func:`kinetics.membrane_matrix`) that
    are not 0 or 1: g_Na E_Na / C, g_K E_K / C, g_Na / C, g_K / C, g_L / C (:func:`kernel_params`).
    ``X``: unused (kept for the signature).
    """
    wide_vectors()
    N = YV.shape[0]
    for i in range(N):
        a0, a1, a2, a3, b0, b1, b2, b3 = coefficients(Ym[i], Yn[i], Yh[i], YV[i], Ib[i],
                                                      G[0, i], G[1, i], G[2, i], G[3, i], G[4, i])
        K[0, i] = a0
        K[1, i] = a1
        K[2, i] = a2
        K[3, i] = a3
        K[4, i] = b0
        K[5, i] = b1
        K[6, i] = b2
        K[7, i] = b3


@njit(cache=True, error_model="numpy")
def _rk4(K, Y, Ib, G, h):
    """One classic RK4 step of every neuron, fused: the four stages of a neuron in registers (the numpy
    stepper's operations in its order), one pass that reads K (the coefficients at the current state:
    stage 1) and writes only Y. (Writing K in the same loop stops LLVM from vectorizing it: the caller
    fills K at the new state with :func:`_coeffs`.)"""
    wide_vectors()
    N = Y.shape[1]
    hh = 0.5 * h
    h6 = h / 6.0
    for i in range(N):
        g0, g1, g2, g3, g4 = G[0, i], G[1, i], G[2, i], G[3, i], G[4, i]
        I = Ib[i]
        y0, y1, y2, y3 = Y[0, i], Y[1, i], Y[2, i], Y[3, i]
        k10 = K[0, i] - K[4, i] * y0
        k11 = K[1, i] - K[5, i] * y1
        k12 = K[2, i] - K[6, i] * y2
        k13 = K[3, i] - K[7, i] * y3
        s0, s1, s2, s3 = k10 * hh + y0, k11 * hh + y1, k12 * hh + y2, k13 * hh + y3
        a0, a1, a2, a3, b0, b1, b2, b3 = coefficients(s0, s1, s2, s3, I, g0, g1, g2, g3, g4)
        k20, k21, k22, k23 = a0 - b0 * s0, a1 - b1 * s1, a2 - b2 * s2, a3 - b3 * s3
        s0, s1, s2, s3 = k20 * hh + y0, k21 * hh + y1, k22 * hh + y2, k23 * hh + y3
        a0, a1, a2, a3, b0, b1, b2, b3 = coefficients(s0, s1, s2, s3, I, g0, g1, g2, g3, g4)
        k30, k31, k32, k33 = a0 - b0 * s0, a1 - b1 * s1, a2 - b2 * s2, a3 - b3 * s3
        s0, s1, s2, s3 = k30 * h + y0, k31 * h + y1, k32 * h + y2, k33 * h + y3
        a0, a1, a2, a3, b0, b1, b2, b3 = coefficients(s0, s1, s2, s3, I, g0, g1, g2, g3, g4)
        k40, k41, k42, k43 = a0 - b0 * s0, a1 - b1 * s1, a2 - b2 * s2, a3 - b3 * s3
        Y[0, i] = y0 + (((k20 + k30) * 2.0 + k10) + k40) * h6
        Y[1, i] = y1 + (((k21 + k31) * 2.0 + k11) + k41) * h6
        Y[2, i] = y2 + (((k22 + k32) * 2.0 + k12) + k42) * h6
        Y[3, i] = y3 + (((k23 + k33) * 2.0 + k13) + k43) * h6


@njit(cache=True, error_model="numpy")
def _exp_advance(K, Y, out, h):
    """out[r] <- exact solution after h ms of dy/dt = a - b y from Y[r], r < 4 (ExpEuler._advance)."""
    wide_vectors()
    N = out.shape[1]
    for r in range(4):
        for i in range(N):
            b = K[4 + r, i]
            E = exp(b * -h)
            X = K[r, i] / b
            out[r, i] = (Y[r, i] - X) * E + X


@njit(cache=True, error_model="numpy")
def _exp_advance_inplace(K, Y, h):
    """:func:`_exp_advance` with out = Y (a separate loop: an exact overlap would fail LLVM's runtime
    alias check and run the scalar loop)."""
    wide_vectors()
    N = Y.shape[1]
    for r in range(4):
        for i in range(N):
            b = K[4 + r, i]
            E = exp(b * -h)
            X = K[r, i] / b
            Y[r, i] = (Y[r, i] - X) * E + X


# the crossing detector's own scalar root (one implementation), compiled
_hermite_root = njit(cache=True, error_model="numpy")(_hermite_root_scalar)


@njit(cache=True, error_model="numpy")
def run(method, Y, KK, cur, P2, det_V, det_f, was_above, primed, I_prev, has_prev, G, W,
        h, dt, thr, v_lo, v_hi, Ibar, const, changed_first, k0, n_steps,
        tv, tm, th, tn, sk, si, so, Ys, k1, k2, k3, X):
    """Advance N neurons by up to ``n_steps`` steps (step numbers k0, k0 + 1, ...).

    ``Ibar``: (rows, N) drive ``(I + g_L E_L) / C`` in mV/ms, row 0 every step when ``const``
    (only the first step of the call may change the input: ``changed_first``), else row j for step k0 + j.
    ``cur``, ``primed``, ``has_prev``: one-element int64 arrays (coefficient buffer in use, detector primed,
    exp_ab2 has its previous input), updated in place. Traces tv, tm, th, tn (rows per global step) are
    written when they have rows. Spikes go to sk (step), si (index), so (offset in s); the call stops early
    when fewer than N free slots are left. ``W`` (2, 2): exp_ab2's weights -h (1.5, -0.5) per current buffer.
    ``G`` (5, N) and ``thr`` (N,): the per-neuron parameters (:func:`kernel_params`; mV for thr).
    Scratch: Ys (8, N), k1, k2, k3 (4, N), X (6, N).

    Returns ``(status, steps_done, n_spikes, lo, hi)``: status 1 when step ``k0 + steps_done`` left the
    valid range (lo, hi: its V range, NaN if any V is NaN), else 0.
    """
    wide_vectors()
    N = Y.shape[1]
    cap = sk.shape[0]
    count = 0
    for j in range(n_steps):
        if count + N > cap:
            return 0, j, count, 0.0, 0.0
        Ib = Ibar[0] if const else Ibar[j]
        changed = changed_first if j == 0 else (not const)
        K = KK[cur[0]]
        if primed[0] == 0:  # first step: coefficients and dV/dt of the initial state
            _coeffs(K, Y[0], Y[1], Y[2], Y[3], Ib, G, X)
            for i in range(N):
                P2[i] = Ib[i]
                det_V[i] = Y[3, i]
                det_f[i] = K[3, i] - K[7, i] * Y[3, i]
                was_above[i] = True
            primed[0] = 1
        elif changed:  # a_V (and dV/dt) shift by the change in the drive
            for i in range(N):
                dI = Ib[i] - P2[i]
                K[3, i] += dI
                P2[i] = Ib[i]
                det_f[i] += dI
        if method == 0:  # rk4: the four stages in one fused pass
            _rk4(K, Y, Ib, G, h)
            Kn = K
        elif method == 1:  # exp_midpoint
            _exp_advance(K, Y, Ys, 0.5 * h)
            _coeffs(K, Ys[0], Ys[1], Ys[2], Ys[3], Ib, G, X)
            _exp_advance_inplace(K, Y, h)
            Kn = K
        elif method == 3:  # exp_euler
            _exp_advance_inplace(K, Y, h)
            Kn = K
        else:  # exp_ab2: coefficients extrapolated to the middle of the step; the end fills the other buffer
            if has_prev[0] == 0:  # first step: exponential Euler
                has_prev[0] = 1
                _exp_advance_inplace(K, Y, h)
            else:
                wa = W[cur[0], 0]
                wb = W[cur[0], 1]
                K0 = KK[0]
                K1 = KK[1]
                bmax = -1e-3 * h
                for r in range(4):
                    for i in range(N):
                        ext = wa * K0[r, i] + wb * K1[r, i]
                        if r == 3:
                            ext += (Ib[i] - I_prev[i]) * (0.5 * h)
                        bh_ = min(wa * K0[4 + r, i] + wb * K1[4 + r, i], bmax)
                        E = exp(bh_)
                        Xr = ext / bh_
                        Y[r, i] = (Y[r, i] - Xr) * E + Xr
            for i in range(N):
                I_prev[i] = Ib[i]
            cur[0] = 1 - cur[0]
            Kn = KK[cur[0]]
        # coefficients at the end of the step = start of the next; dV/dt for spike location
        _coeffs(Kn, Y[0], Y[1], Y[2], Y[3], Ib, G, X)
        K = Kn
        lo = np.inf
        hi = -np.inf
        nan = False
        for i in range(N):
            v = Y[3, i]
            if v != v:
                nan = True
            lo = min(lo, v)
            hi = max(hi, v)
        if nan or not (lo >= v_lo and hi <= v_hi):
            if nan:
                lo = np.nan
                hi = np.nan
            return 1, j, count, lo, hi
        k = k0 + j
        for i in range(N):
            v1 = Y[3, i]
            above = v1 >= thr[i]
            if above and not was_above[i]:
                theta = _hermite_root(det_V[i], v1, det_f[i] * h, (K[3, i] - K[7, i] * v1) * h, thr[i])
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


def kernel_params(G, threshold, n):
    """The parameters :func:`run` reads, one column per neuron: ``(G (5, n), thr (n,))`` from the numpy
    path's membrane matrix (2, 4) or (2, 4, n) and the spike threshold (float or (n,), mV)."""
    rows = np.empty((5, n))
    for r, (j, k) in enumerate(((0, 0), (0, 1), (1, 0), (1, 1), (1, 3))):
        rows[r] = G[j, k]
    thr = np.empty(n)
    thr[:] = threshold
    return rows, thr


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
        self.Ys = np.empty((8, n))
        self.k1, self.k2, self.k3 = np.empty((4, n)), np.empty((4, n)), np.empty((4, n))
        self.X = np.empty((6, n))
        h = state.dt * 1e3
        w = -h * np.array([1.5, -0.5])
        self.W = np.array([[w[0], w[1]], [w[1], w[0]]])
        self.h = h
        self.none = np.empty((0, n))
        self.G, self.thr = kernel_params(state._coeffs.G, state._detector.threshold, n)

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
                    self.G, self.W, self.h, s.dt, self.thr, V_RANGE[0], V_RANGE[1], rows, const,
                    changed_first if done == 0 else not const, k0 + done, n_steps - done, tv, tm, th, tn,
                    self.sk, self.si, self.so, self.Ys, self.k1, self.k2, self.k3, self.X)
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
