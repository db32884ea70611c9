"""One-step integrators for :mod:`neurosim.neurons.hh`, in place on the (5, N) state in ms units.

The state's rows are m, n, h, V and a constant row of ones (see ``kinetics._ROW``);
steppers touch only the first four. Each stepper is built from the model's parameters for
the N neurons (``HHState.params``: numbers or per-neuron arrays). Each stepper is called with its
``coeffs`` already filled for the current state (the simulation loop needs
them anyway for dV/dt at spike location) and advances the state by one step
of ``h`` ms with the input held constant.
"""
import numpy as np

from .kinetics import _Coefficients


def _state_buffer(n):
    Y = np.empty((5, n))
    Y[4] = 1.0
    return Y


class RK4:
    """Classic fourth-order Runge-Kutta (four coefficient evaluations per step)."""

    def __init__(self, params, n, h):
        self.coeffs = _Coefficients(params, n)
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

    def __init__(self, params, n, h):
        self.coeffs = _Coefficients(params, n)
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

    def __init__(self, params, n, h):
        super().__init__(params, n, h)
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

    def __init__(self, params, n, h):
        super().__init__(params, n, h)
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


STEPPERS = {"rk4": RK4, "exp_midpoint": ExpMidpoint, "exp_ab2": ExpAB2, "exp_euler": ExpEuler}
