"""Hodgkin-Huxley populations in the compiled network loop.

The loop (:func:`neurosim.network.compiled.kernels.run_steps`) steps an HH population with
:func:`step`: the population's input current J (synaptic terms + bias + injected currents, filled by
the loop as for the numpy runtime's ``_Base.input``) becomes the drive ``(J + g_L E_L) / C`` of
``HHState._drive``, and one step of the compiled HH kernel (:func:`neurosim.neurons.hh.compiled.run`,
the kernel of ``HodgkinHuxley.simulate``) advances the neurons, locates their spikes and checks the
valid range. The neurons' spikes and V are handed to the loop like an LIF population's.

Each HH population's state (the ``HHState``'s Y, coefficient buffers, crossing detector, exp_ab2's
previous input) is copied into flat arrays before a block of steps (:class:`HHTables`) and back after
it, so snapshots, probes and the numpy runtime see the same ``HHState``. Membrane noise is not
drawn by the compiled loop: such populations are refused (:func:`unsupported`).
"""
import numpy as np
from numba import njit

from ...neurons.hh.compiled import METHOD_CODES, kernel_params, run
from ...neurons.hh.kinetics import V_RANGE
from ..._optional import fresh_kernel_cache

fresh_kernel_cache()  # before any cached kernel loads: drop caches older than their sources

# per-population int64 table: is HH, method, offset in the float buffer, offset in the bool buffer,
# current coefficient buffer, primed, exp_ab2 has its previous input
H_ON, H_METHOD, H_FOFF, H_BOFF, H_CUR, H_PRIMED, H_PREV = range(7)
H_COLS = 7
# per-population float64 table: step in ms, dt in s, exp_ab2's weights (2, 2); after a failed step: 1, the
# step, its V range
HF_H, HF_DT, HF_W, HF_FAILED, HF_STEP, HF_LO, HF_HI = 0, 1, 2, 6, 7, 8, 9
HF_COLS = 10
# the float buffer of one population of N neurons, in rows of N: Y (5), KK (16), P2, det_V, det_f,
# I_prev, G (5), thr, leak, C, drive, Ys (8), k1-k3 (12), X (6)
(R_Y, R_KK, R_P2, R_DV, R_DF, R_IPREV, R_G, R_THR, R_LEAK, R_C, R_DRIVE, R_YS, R_K1, R_K2, R_K3,
 R_X) = (0, 5, 21, 22, 23, 24, 25, 30, 31, 32, 33, 34, 42, 46, 50, 54)
ROWS = 60
_W = np.zeros((2, 2))


def unsupported(net):
    """Reasons the compiled loop cannot run the network's HH populations (empty when it can)."""
    from ...neurons.hh.model import HodgkinHuxley

    return [f"population {pop.name!r}: membrane noise on a HodgkinHuxley population is drawn per step by the "
            "numpy runtime; the compiled loop does not draw it yet"
            for pop in net.populations if isinstance(pop.model, HodgkinHuxley) and pop.noise is not None]


class HHTables:
    """The flat state of a network's HH populations for the compiled loop: ``hh`` lists (row, HHRuntime) of
    the loop's ``n_pops`` populations (the other rows stay zero)."""

    def __init__(self, hh, n_pops):
        self.hh = hh
        self.i = np.zeros((max(n_pops, 1), H_COLS), dtype=np.int64)
        self.f = np.zeros((max(n_pops, 1), HF_COLS))
        fo, bo, cap = 0, 0, 1
        for p, rt in self.hh:
            N = rt.N
            self.i[p, H_ON], self.i[p, H_METHOD], self.i[p, H_FOFF], self.i[p, H_BOFF] = 1, METHOD_CODES[
                rt.state.method], fo, bo
            h = rt.state.dt * 1e3
            w = -h * np.array([1.5, -0.5])  # as CompiledRun
            self.f[p, HF_H], self.f[p, HF_DT] = h, rt.state.dt
            self.f[p, HF_W:HF_W + 4] = [w[0], w[1], w[1], w[0]]
            fo += ROWS * N
            bo += N
            cap = max(cap, N)
        self.buf = np.zeros(max(fo, 1))
        self.above = np.zeros(max(bo, 1), dtype=np.bool_)
        self.sk, self.si, self.so = np.empty(cap, dtype=np.int64), np.empty(cap, dtype=np.int64), np.empty(cap)
        self.none = np.empty((0, 1))  # "no trace" for the kernel

    def load(self):
        """Copy each HHState into the flat buffers (before a block)."""
        for p, rt in self.hh:
            s, N = rt.state, rt.N
            c, det = s._coeffs, s._detector
            b = self.rows(p, N)
            b[R_Y:R_Y + 5] = s.Y
            b[R_KK:R_KK + 16] = c.KK.reshape(16, N)
            b[R_P2], b[R_DV], b[R_DF] = c.P[2], det.V, det.f
            prev = getattr(s._stepper, "I_prev", None)
            if prev is not None:
                b[R_IPREV] = prev
            G, thr = kernel_params(c.G, det.threshold, N)
            b[R_G:R_G + 5], b[R_THR] = G, thr
            b[R_LEAK], b[R_C] = s._leak, s._C
            o = self.i[p, H_BOFF]
            self.above[o:o + N] = det.was_above
            self.i[p, H_CUR], self.i[p, H_PRIMED], self.i[p, H_PREV] = c.current, int(s._primed), int(prev is not None)

    def store(self):
        """Copy the flat buffers back into each HHState (after a block)."""
        for p, rt in self.hh:
            s, N = rt.state, rt.N
            c, det = s._coeffs, s._detector
            b = self.rows(p, N)
            s.Y[...] = b[R_Y:R_Y + 5]
            c.KK[...] = b[R_KK:R_KK + 16].reshape(2, 8, N)
            c.P[2], det.V[...], det.f[...] = b[R_P2], b[R_DV], b[R_DF]
            o = self.i[p, H_BOFF]
            det.was_above[...] = self.above[o:o + N]
            c.select(int(self.i[p, H_CUR]))
            s._primed = bool(self.i[p, H_PRIMED])
            if self.i[p, H_PREV] and hasattr(s._stepper, "I_prev"):
                s._stepper.I_prev = b[R_IPREV].copy()

    def rows(self, p, N):
        o = self.i[p, H_FOFF]
        return self.buf[o:o + ROWS * N].reshape(ROWS, N)

    def diverged(self):
        """``(step, SimulationError)`` of the numpy path for the population whose step left the valid range
        (after the kernel raised), or None when none did."""
        for p, rt in self.hh:
            if self.f[p, HF_FAILED]:
                self.f[p, HF_FAILED] = 0.0
                try:
                    rt.state._diverged(self.f[p, HF_LO], self.f[p, HF_HI])
                except Exception as exc:  # noqa: BLE001  (the SimulationError it raises, returned)
                    return int(self.f[p, HF_STEP]), exc
        return None

    def args(self):
        """The tables as the loop's one ``hh`` argument."""
        return self.i, self.f, self.buf, self.above, self.sk, self.si, self.so, self.none


@njit(cache=True, error_model="numpy")
def step(p, k, hh, J, v, idx_out, off_out):
    """Advance HH population ``p`` by step k with input current J (N,) uA/cm^2: its spikes (flat index as float,
    offset in s) into idx_out / off_out, V into v. Returns the spike count; raises RuntimeError (after writing
    the step's V range into ``hh_f``) when the state leaves the valid range, as ``HHState._advance`` does."""
    hh_i, hh_f, buf, above, sk, si, so, none = hh
    N = J.shape[0]
    o = hh_i[p, H_FOFF]
    b = buf[o:o + ROWS * N].reshape((ROWS, N))
    drive = b[R_DRIVE]
    leak, C = b[R_LEAK], b[R_C]
    for i in range(N):  # HHState._drive: (I + g_L E_L) / C
        drive[i] = (J[i] + leak[i]) / C[i]
    ob = hh_i[p, H_BOFF]
    cur = hh_i[p, H_CUR:H_CUR + 1]
    primed = hh_i[p, H_PRIMED:H_PRIMED + 1]
    prev = hh_i[p, H_PREV:H_PREV + 1]
    status, _, count, lo, hi = run(
        hh_i[p, H_METHOD], b[R_Y:R_Y + 5], b[R_KK:R_KK + 16].reshape((2, 8, N)), cur, b[R_P2], b[R_DV], b[R_DF],
        above[ob:ob + N], primed, b[R_IPREV], prev, b[R_G:R_G + 5], hh_f[p, HF_W:HF_W + 4].reshape((2, 2)), hh_f[p, HF_H],
        hh_f[p, HF_DT], b[R_THR], V_RANGE[0], V_RANGE[1], drive.reshape((1, N)), False, True, k, 1,
        none, none, none, none, sk, si, so, b[R_YS:R_YS + 8], b[R_K1:R_K1 + 4], b[R_K2:R_K2 + 4],
        b[R_K3:R_K3 + 4], b[R_X:R_X + 6])
    if status:
        hh_f[p, HF_FAILED] = 1.0
        hh_f[p, HF_STEP] = k
        hh_f[p, HF_LO] = lo
        hh_f[p, HF_HI] = hi
        raise RuntimeError("Hodgkin-Huxley state left its valid range")
    V = b[R_Y + 3]
    for i in range(N):
        v[i] = V[i]
    for s in range(count):
        idx_out[s] = si[s]
        off_out[s] = so[s]
    return count
