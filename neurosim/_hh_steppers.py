"""One-step integrators for :mod:`neurosim.hh`, all in place on the (4, N) state in ms units.

Each stepper is called with its ``coeffs`` already filled for the current
state (the simulation loop needs them anyway for dV/dt at spike location),
and advances the state by one step of ``h`` ms with the input held constant.
"""
import numpy as np

from .hh import _Coefficients


class RK4:
    """Classic fourth-order Runge-Kutta (four coefficient evaluations per step)."""

    def __init__(self, model, n, h):
        self.coeffs = _Coefficients(model, n)
        self.h = h
        self.k = [np.empty((4, n)) for _ in range(4)]
        self.Ys = np.empty((4, n))

    def _slope(self, Y, out):
        c = self.coeffs
        np.multiply(c.b, Y, out=out)
        np.subtract(c.a, out, out=out)

    def __call__(self, Y, I_bar):
        c, h, Ys = self.coeffs, self.h, self.Ys
        k1, k2, k3, k4 = self.k
        self._slope(Y, k1)
        np.multiply(k1, 0.5 * h, out=Ys)
        Ys += Y
        c(Ys, I_bar)
        self._slope(Ys, k2)
        np.multiply(k2, 0.5 * h, out=Ys)
        Ys += Y
        c(Ys, I_bar)
        self._slope(Ys, k3)
        np.multiply(k3, h, out=Ys)
        Ys += Y
        c(Ys, I_bar)
        self._slope(Ys, k4)
        k2 += k3
        k2 *= 2.0
        k2 += k1
        k2 += k4
        k2 *= h / 6.0
        Y += k2


class ExpEuler:
    """Exponential Euler: y <- y_inf + (y - y_inf) exp(-b h) with a, b from the start of the step."""

    def __init__(self, model, n, h):
        self.coeffs = _Coefficients(model, n)
        self.h = h
        self.E = np.empty((4, n))
        self.X = np.empty((4, n))

    def _advance(self, Y, h, out):
        """out <- exact solution after h ms of dy/dt = a - b y with the current a, b, from Y."""
        c, E, X = self.coeffs, self.E, self.X
        np.multiply(c.b, -h, out=E)
        np.exp(E, out=E)
        np.divide(c.a, c.b, out=X)  # b > 0 always: g_L > 0 and alpha + beta > 0
        np.subtract(Y, X, out=out)
        out *= E
        out += X

    def __call__(self, Y, I_bar):
        self._advance(Y, self.h, Y)


class ExpMidpoint(ExpEuler):
    """Second-order exponential integrator: exponential Euler to the midpoint, then a
    full exponential step from the start with the midpoint's coefficients."""

    def __init__(self, model, n, h):
        super().__init__(model, n, h)
        self.Ys = np.empty((4, n))

    def __call__(self, Y, I_bar):
        self._advance(Y, 0.5 * self.h, self.Ys)
        self.coeffs(self.Ys, I_bar)
        self._advance(Y, self.h, Y)


STEPPERS = {"rk4": RK4, "exp_midpoint": ExpMidpoint, "exp_euler": ExpEuler}
