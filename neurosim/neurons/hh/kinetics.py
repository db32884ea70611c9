"""Hodgkin-Huxley channel kinetics: the alpha/beta rate functions and the in-place
coefficient routine that the steppers in :mod:`neurosim.neurons.hh.steppers` share.

Units: V in mV, rates per ms (the public interface converts seconds once).
"""
import warnings

import numpy as np
from scipy.special import exprel

from ... import validation as check

_MS_PER_S = 1e3  # rate functions are per ms; the public interface is in seconds

# Rate-function arguments, one row each, as A = SLOPE * V + OFFSET:
#   0 alpha_m = 1 / exprel(-(V + 40)/10)           (removable singularity at -40 mV)
#   1 alpha_n = 0.1 / exprel(-(V + 55)/10)         (removable singularity at -55 mV)
#   2 alpha_h = 0.07 exp(-(V + 65)/20)
#   3 (unused: keeps the exponentials contiguous in the kernel's buffer)
#   4 beta_m  = 4 exp(-(V + 65)/18)
#   5 beta_n  = 0.125 exp(-(V + 65)/80)
#   6 beta_h  = 1 / (1 + exp(-(V + 35)/10))
# Constant factors of plain exponentials are folded into the offsets (log).
_SLOPE = np.array([-0.1, -0.1, -1 / 20, 0.0, -1 / 18, -1 / 80, -0.1])[:, None]
_OFFSET = np.array([-4.0, -5.5, -3.25 + np.log(0.07), 0.0, -65 / 18 + np.log(4.0), -0.8125 + np.log(0.125), -3.5])[:, None]
_EXPREL_SCALE = np.array([1.0, 0.1])[:, None]  # alpha_m, alpha_n = scale / exprel(A)
_TINY = 1e-300
# Internal state layout (5, N): rows m, n, h, V and a constant row of ones, so that
# the rate arguments are one matrix product SO @ state[3:5]. Public order is V, m, h, n.
_ROW = {"m": 0, "n": 1, "h": 2, "V": 3}

METHODS = ("rk4", "exp_midpoint", "exp_ab2", "exp_euler")
# Largest dt (s) at which each method stayed bounded (V in [-150, 100] mV) for I from -10 to
# 200 uA/cm^2 over 0.2 s (measured; rk4 diverges at 0.1 ms). Quoted in SimulationError messages.
DT_STABLE = {"rk4": 8e-5, "exp_midpoint": 5e-4, "exp_ab2": 2.5e-4, "exp_euler": 5e-4}
V_RANGE = (-150.0, 100.0)  # mV; a state outside it means the integration has left the valid range

# dt (s) above which simulate() warns: beyond these the f-I curve is off by more
# than ~1 % (exponential methods) or RK4 nears its stability limit (it
# diverges at dt = 0.1 ms). Measured against ``reference``; see docs/hh.md.
DT_WARN = {"rk4": 5e-5, "exp_midpoint": 5e-5, "exp_ab2": 5e-5, "exp_euler": 1e-5}


def _warn_dt(method, dt, stacklevel):
    if dt > DT_WARN[method]:
        warnings.warn(f"dt={dt:g} s is too large for method {method!r} to be accurate "
                      f"(rate error above ~1 % or unstable); use dt <= {DT_WARN[method]:g} s", UserWarning,
                      stacklevel=stacklevel)


def rate_functions(V):
    """The six HH rate functions at membrane potential ``V``.

    Finite and smooth everywhere: alpha_m and alpha_n are written with
    ``exprel(x) = (e^x - 1)/x`` so their removable singularities are exact
    (alpha_m(-40) = 1/ms, alpha_n(-55) = 0.1/ms) and raise no warnings.

    Parameters
    ----------
    V : float or array_like
        Membrane potential in mV, any shape.

    Returns
    -------
    dict of str -> ndarray
        ``alpha_m, beta_m, alpha_h, beta_h, alpha_n, beta_n`` in 1/ms, each the shape of V.
    """
    V = check.finite_array("V", V)
    R = _rates(V.ravel())
    rows = {"alpha_m": 0, "alpha_n": 1, "alpha_h": 2, "beta_m": 4, "beta_n": 5, "beta_h": 6}
    return {name: R[i].reshape(V.shape) for name, i in rows.items()}


def _rates(V):
    """(7, N) array of rates (rows as in _SLOPE) for a 1-D V, allocating."""
    A = _SLOPE * V + _OFFSET
    R = np.exp(A)
    R[0:2] = _EXPREL_SCALE / exprel(A[0:2])
    R[6] = 1.0 / (1.0 + R[6])
    return R


def steady_state(V):
    """Steady-state gates ``(m_inf, h_inf, n_inf)`` at potential ``V`` (mV)."""
    r = rate_functions(V)
    return tuple(r["alpha_" + x] / (r["alpha_" + x] + r["beta_" + x]) for x in "mhn")


class _Coefficients:
    """Preallocated buffers and the in-place routine filling ``a`` and ``b`` for a (5, N) state.

    Linear maps are small matrix products (numpy's broadcasting of a (k, 1)
    column against (N,) rows is ~3x slower than one BLAS call here), buffers
    are laid out so every ufunc works on contiguous rows, and views are made
    once: at N ~ 1000 the per-call overhead dominates.
    """

    def __init__(self, params, n):
        self.SO = np.hstack([_SLOPE, _OFFSET])  # A = SO @ [V; 1]
        self.A = A = np.empty((7, n))
        # two coefficient buffers: exp_ab2 keeps the previous step's while filling the next
        self.KK = np.empty((2, 8, n))  # rows 0-3: a (m, n, h, V); rows 4-7: b
        # P rows: m^3 h, n^4, I_bar, 1; then [a_V; b_V] = G @ P in one product
        self.P = P = np.ones((4, n))
        self.G = membrane_matrix(params, n)  # (2, 4), or (2, 4, n) with per-neuron parameters
        self.X = np.empty((2, n))
        self.mh = np.empty(n)
        self._views = [(A[0:2], K[0:2], K[1], A[2:7], K[2:7], K[6], K[4:7], K[0:3], P[0:2], P[0], P[1], P[2], K[3:8:4])
                       for K in self.KK]
        self.select(0)

    def select(self, i):
        """Fill buffer ``i`` (0 or 1) from now on; ``K``, ``a``, ``b``, ``aV``, ``bV`` refer to it."""
        self.current = i
        self.K = K = self.KK[i]
        self.a, self.b = K[:4], K[4:]
        self.aV, self.bV = K[3], K[7]
        self._v = self._views[i]

    def set_input(self, I_bar, dI):
        """Switch the current buffer's coefficients to input ``I_bar`` (a_V shifts by ``dI = I_bar - old``)."""
        self.aV += dI
        np.copyto(self.P[2], I_bar)

    def __call__(self, Y, I_bar):
        """Fill a, b (ms units) for state Y (5, N); ``I_bar = (I + g_L E_L) / C`` (N,) in mV/ms."""
        V1, mn, m, h = Y[3:5], Y[0:2], Y[0], Y[2]  # views of the caller's state, made per call (no caching on id)
        A02, K01, K1, A27, K27, K6, Kb, Ka, P01, P0, P1, PI, KV = self._v
        X = self.X
        np.copyto(PI, I_bar)
        np.matmul(self.SO, V1, out=self.A)
        # alpha = A / expm1(A) (x 0.1 for n). A is either exactly 0 or |A| >~ 1e-32
        # (rounding residue of SLOPE*V + OFFSET), so adding 1e-300 only turns 0/0
        # into tiny/tiny = the limit 1; scipy's exprel is 5x slower here.
        np.add(A02, _TINY, out=X)
        np.expm1(X, out=K01)
        np.divide(X, K01, out=K01)
        K1 *= 0.1
        np.exp(A27, out=K27)  # alpha_h, (unused), beta_m, beta_n, beta_h's exponential
        K6 += 1.0
        np.reciprocal(K6, out=K6)
        Kb += Ka  # gate b = alpha + beta
        # m^3 h and n^4 as (m^2 * mh, n^2 * n^2)
        np.multiply(mn, mn, out=P01)
        np.multiply(m, h, out=self.mh)
        P0 *= self.mh
        P1 *= P1
        if self.G.ndim == 2:
            np.matmul(self.G, self.P, out=KV)
        else:  # per neuron: [a_V; b_V][j, i] = sum_k G[j, k, i] P[k, i]
            np.einsum("jki,ki->ji", self.G, self.P, out=KV)


def membrane_matrix(params, n):
    """G with ``[a_V; b_V] = G @ [m^3 h; n^4; I_bar; 1]`` (1/ms, mV/ms), from a neuron's parameters.

    ``params``: {name: float or ndarray (n,)} (conductances mS/cm^2, reversals mV, C uF/cm^2).
    Returns (2, 4) when all are numbers, else (2, 4, n) (one matrix per neuron). Entry by entry
    the same arithmetic either way, so a neuron of a heterogeneous population and a scalar model
    with its values get the same G.
    """
    C, gNa, gK, gL = params["C"], params["g_Na"], params["g_K"], params["g_L"]
    rows = [[gNa * params["E_Na"], gK * params["E_K"], C, 0.0], [gNa, gK, 0.0, gL]]
    if not any(isinstance(x, np.ndarray) for x in (C, gNa, gK, gL, params["E_Na"], params["E_K"])):
        return np.array(rows) / C
    G = np.empty((2, 4, n))
    for j, row in enumerate(rows):
        for k, x in enumerate(row):
            G[j, k] = x
    G /= C
    return G
