"""One-step integrators and spike location for :mod:`neurosim.neurons.hh`, in place on the (5, N) state in ms units.

The state's rows are m, n, h, V and a constant row of ones (see ``hh_kinetics._ROW``);
steppers touch only the first four. Each stepper is called with its
``coeffs`` already filled for the current state (the simulation loop needs
them anyway for dV/dt at spike location) and advances the state by one step
of ``h`` ms with the input held constant.
"""
import numpy as np

from .hh_kinetics import _Coefficients


def _state_buffer(n):
    Y = np.empty((5, n))
    Y[4] = 1.0
    return Y


class RK4:
    """Classic fourth-order Runge-Kutta (four coefficient evaluations per step)."""

    def __init__(self, model, n, h):
        self.coeffs = _Coefficients(model, n)
        self.h = h
        self.k = [np.empty((4, n)) for _ in range(4)]
        self.Ys = _state_buffer(n)

    def __call__(self, Y, I_bar):
        c, h, Ys = self.coeffs, self.h, self.Ys
        a, b = c.a, c.b
        Y4 = Y[:4]
        Ys4 = Ys[:4]
        k1, k2, k3, k4 = self.k
        mul, sub, add = np.multiply, np.subtract, np.add
        mul(b, Y4, out=k1)
        sub(a, k1, out=k1)
        mul(k1, 0.5 * h, out=Ys4)
        Ys4 += Y4
        c(Ys, I_bar)
        mul(b, Ys4, out=k2)
        sub(a, k2, out=k2)
        mul(k2, 0.5 * h, out=Ys4)
        Ys4 += Y4
        c(Ys, I_bar)
        mul(b, Ys4, out=k3)
        sub(a, k3, out=k3)
        mul(k3, h, out=Ys4)
        Ys4 += Y4
        c(Ys, I_bar)
        mul(b, Ys4, out=k4)
        sub(a, k4, out=k4)
        # Y += h/6 (k1 + 2 k2 + 2 k3 + k4)
        k2 += k3
        k2 *= 2.0
        k2 += k1
        k2 += k4
        k2 *= h / 6.0
        add(Y4, k2, out=Y4)


class ExpEuler:
    """Exponential Euler: y <- y_inf + (y - y_inf) exp(-b h) with a, b from the start of the step."""

    def __init__(self, model, n, h):
        self.coeffs = _Coefficients(model, n)
        self.h = h
        self.E = np.empty((4, n))
        self.X = np.empty((4, n))

    def _advance(self, Y4, h, out):
        """out <- exact solution after h ms of dy/dt = a - b y with the current a, b, from Y4."""
        c, E, X = self.coeffs, self.E, self.X
        np.multiply(c.b, -h, out=E)
        np.exp(E, out=E)
        np.divide(c.a, c.b, out=X)  # b > 0 always: g_L > 0 and alpha + beta > 0
        np.subtract(Y4, X, out=out)
        out *= E
        out += X

    def __call__(self, Y, I_bar):
        Y4 = Y[:4]
        self._advance(Y4, self.h, Y4)


class ExpMidpoint(ExpEuler):
    """Second-order exponential integrator: exponential Euler to the midpoint, then a
    full exponential step from the start with the midpoint's coefficients."""

    def __init__(self, model, n, h):
        super().__init__(model, n, h)
        self.Ys = _state_buffer(n)

    def __call__(self, Y, I_bar):
        Y4 = Y[:4]
        self._advance(Y4, 0.5 * self.h, self.Ys[:4])
        self.coeffs(self.Ys, I_bar)
        self._advance(Y4, self.h, Y4)


class ExpAB2(ExpEuler):
    """Second-order exponential Adams-Bashforth: the exponential step uses coefficients
    extrapolated to the middle of the step, 1.5 K_n - 0.5 K_(n-1), so it costs one
    coefficient evaluation per step like exponential Euler. The input term is not
    extrapolated (input is held constant within each step). The first step is
    exponential Euler (one O(h^2) local error, which keeps second order globally).

    The coefficient routine alternates between its two buffers, so K_(n-1) is
    never copied; one matrix product forms -h * (1.5 K_n - 0.5 K_(n-1)).
    """

    def __init__(self, model, n, h):
        super().__init__(model, n, h)
        c = self.coeffs
        self.KK2 = c.KK.reshape(2, -1)
        self.ext2 = np.empty((1, 8 * n))
        self.ext = self.ext2.reshape(8, n)
        w = -h * np.array([1.5, -0.5])
        self.w = (w[None, :], w[None, ::-1].copy())  # current buffer 0 / current buffer 1
        self.I_prev = None  # a copy of the previous step's input (values, not identity: inputs may change in place)
        self.dI = np.empty(n)

    def __call__(self, Y, I_bar):
        c, Y4 = self.coeffs, Y[:4]
        if self.I_prev is None:  # first step
            self.I_prev = np.array(I_bar, dtype=float)
            self._advance(Y4, self.h, Y4)
            c.select(1 - c.current)
            return
        ext = self.ext
        np.matmul(self.w[c.current], self.KK2, out=self.ext2)  # -h * extrapolated (a, b)
        # time-varying input: a_V uses this step's input, not an extrapolation (dI = 0 for constant input)
        np.subtract(I_bar, self.I_prev, out=self.dI)
        self.dI *= 0.5 * self.h  # -h * 0.5 * (I_prev - I_n)
        ext[3] += self.dI
        np.copyto(self.I_prev, I_bar)
        b_h = ext[4:]
        np.minimum(b_h, -1e-3 * self.h, out=b_h)  # b > 0 (1/ms): guards the extrapolation at large dt
        E, X = self.E, self.X
        np.exp(b_h, out=E)
        np.divide(ext[:4], b_h, out=X)  # a / b
        np.subtract(Y4, X, out=Y4)
        Y4 *= E
        Y4 += X
        c.select(1 - c.current)  # the next evaluation keeps this one as K_(n-1)


class CrossingDetector:
    """Finds upward threshold crossings between consecutive states, located by cubic Hermite interpolation."""

    def __init__(self, threshold, n, h):
        self.threshold, self.h = threshold, h
        self.above = np.zeros(n, dtype=bool)
        self.was_above = np.ones(n, dtype=bool)  # no crossing before the first state
        self.new = np.empty(n, dtype=bool)
        self.V = np.empty(n)
        self.f = np.empty(n)

    def prime(self, V, a, b):
        """Store the first state (no crossing can end there)."""
        np.copyto(self.V, V)
        self.was_above[:] = True  # nothing before the first state
        np.multiply(b, V, out=self.f)
        np.subtract(a, self.f, out=self.f)

    def locate(self, V, a, b, dt):
        """Upward crossings between the stored state and V: ``(indices, offsets in s)``; then store V."""
        np.greater_equal(V, self.threshold, out=self.above)
        np.greater(self.above, self.was_above, out=self.new)
        idx = self.new.nonzero()[0]  # cheaper than flatnonzero on a 1-D mask
        if idx.size == 1:  # the common case: plain floats are ~20x cheaper than numpy calls
            i = int(idx[0])
            v1 = V.item(i)
            theta = _hermite_root_scalar(self.V.item(i), v1, self.f.item(i) * self.h,
                                         (a.item(i) - b.item(i) * v1) * self.h, self.threshold)
            offsets = np.array((theta * dt,))
        elif idx.size:
            f1 = a[idx] - b[idx] * V[idx]
            offsets = _hermite_root(self.V[idx], V[idx], self.f[idx] * self.h, f1 * self.h, self.threshold) * dt
        else:
            offsets = _NO_OFFSETS
        self.above, self.was_above = self.was_above, self.above
        np.copyto(self.V, V)
        np.multiply(b, V, out=self.f)
        np.subtract(a, self.f, out=self.f)
        return idx, offsets


_NO_OFFSETS = np.zeros(0)
_NO_OFFSETS.flags.writeable = False


def _hermite_root(v0, v1, d0, d1, thr):
    """theta in [0, 1] where the cubic Hermite through (v0, d0), (v1, d1) (slopes per step) equals thr.

    Newton from the linear guess; the upstroke is nearly linear within a step,
    so three iterations reach rounding level.
    """
    c2 = 3.0 * (v1 - v0) - 2.0 * d0 - d1  # p(theta) = v0 + theta (d0 + theta (c2 + theta c3))
    c3 = 2.0 * (v0 - v1) + d0 + d1
    theta = np.clip((thr - v0) / (v1 - v0), 0.0, 1.0)
    for _ in range(3):
        p = v0 + theta * (d0 + theta * (c2 + theta * c3)) - thr
        dp = d0 + theta * (2.0 * c2 + 3.0 * theta * c3)
        dp = np.where(dp > 0, dp, v1 - v0)  # secant slope if the cubic is not increasing here
        theta = np.clip(theta - p / dp, 0.0, 1.0)
    return theta


def _hermite_root_scalar(v0, v1, d0, d1, thr):
    c2 = 3.0 * (v1 - v0) - 2.0 * d0 - d1
    c3 = 2.0 * (v0 - v1) + d0 + d1
    theta = min(max((thr - v0) / (v1 - v0), 0.0), 1.0)
    for _ in range(3):
        p = v0 + theta * (d0 + theta * (c2 + theta * c3)) - thr
        dp = d0 + theta * (2.0 * c2 + 3.0 * theta * c3)
        theta = min(max(theta - p / (dp if dp > 0 else v1 - v0), 0.0), 1.0)
    return theta


STEPPERS = {"rk4": RK4, "exp_midpoint": ExpMidpoint, "exp_ab2": ExpAB2, "exp_euler": ExpEuler}
