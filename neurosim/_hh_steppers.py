"""One-step integrators and spike location for :mod:`neurosim.hh`, in place on the (5, N) state in ms units.

The state's rows are m, n, h, V and a constant row of ones (see ``hh._ROW``);
steppers touch only the first four. Each stepper is called with its
``coeffs`` already filled for the current state (the simulation loop needs
them anyway for dV/dt at spike location) and advances the state by one step
of ``h`` ms with the input held constant.
"""
import numpy as np

from .hh import _Coefficients


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
        self._views = {}

    def __call__(self, Y, I_bar):
        c, h, Ys = self.coeffs, self.h, self.Ys
        a, b = c.a, c.b
        Y4 = self._views.get(id(Y))
        if Y4 is None or Y4.base is not Y:
            Y4 = self._views[id(Y)] = Y[:4]
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
        self.I_prev = None
        self.dI = np.empty(n)

    def __call__(self, Y, I_bar):
        c, Y4 = self.coeffs, Y[:4]
        if self.I_prev is None:  # first step
            self.I_prev = I_bar
            self._advance(Y4, self.h, Y4)
            c.select(1 - c.current)
            return
        ext = self.ext
        np.matmul(self.w[c.current], self.KK2, out=self.ext2)  # -h * extrapolated (a, b)
        if I_bar is not self.I_prev:  # time-varying input: a_V uses this step's input, not an extrapolation
            np.subtract(I_bar, self.I_prev, out=self.dI)
            self.dI *= 0.5 * self.h  # -h * 0.5 * (I_prev - I_n)
            ext[3] += self.dI
            self.I_prev = I_bar
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


class HHState:
    """Mutable state of N Hodgkin-Huxley neurons and the step that advances it.

    The per-step interface of :meth:`HodgkinHuxley.simulate` (which runs on it)
    and of HH populations in :class:`neurosim.Network`; the counterpart of
    :class:`neurosim.LIFState`.

    Parameters
    ----------
    model : HodgkinHuxley
    n : int
        Number of neurons.
    dt : float
        Step in seconds. Warns above ``neurosim.hh.DT_WARN[method]``.
    method : {"rk4", "exp_midpoint", "exp_ab2", "exp_euler"}
        Integrator (see :mod:`neurosim.hh`).
    V0 : float or array_like (n,), optional
        Initial potential in mV, gates at their steady values; default: rest.

    Attributes
    ----------
    V : ndarray (n,)
        Membrane potential in mV (a live view, updated in place each step; ``v`` is the same array).
    m, h, n : ndarray (n,)
        Gating variables (live views).
    """

    def __init__(self, model, n, dt, method="rk4", V0=None, warn=True):
        from . import hh, _validate as check

        if not isinstance(model, hh.HodgkinHuxley):
            raise TypeError(f"model must be a HodgkinHuxley, got {type(model).__name__}")
        if method not in hh.METHODS:
            raise ValueError(f"method must be one of {hh.METHODS}, got {method!r}")
        self.model, self.method, self.n_neurons = model, method, int(n)
        self.dt = check.positive("dt", dt)
        if warn:
            hh._warn_dt(method, self.dt, stacklevel=3)
        if V0 is not None:
            V0 = check.finite_array("V0", V0)
            if V0.ndim > 1 or V0.size not in (1, n):
                raise ValueError(f"V0 must be a scalar or shape ({n},) in mV, got shape {V0.shape}")
        h = self.dt * hh._MS_PER_S
        self.Y = model._state(n, V0)
        R = hh._ROW
        self.V = self.v = self.Y[R["V"]]
        self.m, self.h, self.n = self.Y[R["m"]], self.Y[R["h"]], self.Y[R["n"]]
        self._stepper = STEPPERS[method](model, n, h)
        self._coeffs = self._stepper.coeffs
        self._detector = CrossingDetector(model.threshold, n, h)
        self._I_bar = None  # input (mV/ms) the current coefficients hold; None before the first step
        self._dI = np.empty(n)
        self._leak = model.g_L * model.E_L

    def step(self, I, t0=0.0):
        """Advance all neurons by dt with input ``I`` (uA/cm^2, scalar or (n,)) held constant.

        Parameters
        ----------
        I : float or ndarray (n,)
            Input current in uA/cm^2 during this step.
        t0 : float
            Time (s) at the start of the step (only for symmetry with ``LIFState.step``;
            the HH equations are autonomous).

        Returns
        -------
        indices : ndarray of int
            Neurons whose V crossed ``model.threshold`` upwards during the step.
        offsets : ndarray of float
            Crossing times in seconds after ``t0`` (cubic Hermite interpolation).
        """
        I_bar = np.add(I, self._leak)  # a new array each step: the coefficient cache keys on identity
        I_bar /= self.model.C
        if I_bar.shape != self.V.shape:
            if I_bar.ndim > 1 or I_bar.size != 1:
                raise ValueError(f"I must be a scalar or shape ({self.V.size},) in uA/cm^2, got shape {I_bar.shape}")
            I_bar = np.full(self.V.shape, I_bar.item())
        return self._advance(I_bar)

    def _advance(self, I_bar):
        """One step with ``I_bar = (I + g_L E_L) / C`` (mV/ms). Pass the same object for an unchanged input."""
        c, det, Y, V = self._coeffs, self._detector, self.Y, self.V
        if self._I_bar is None:  # first step: coefficients and dV/dt of the initial state
            c(Y, I_bar)
            det.prime(V, c.aV, c.bV)
        elif I_bar is not self._I_bar:  # new input: a_V (and so dV/dt) shift by the change in I_bar
            np.subtract(I_bar, c.P[2], out=self._dI)
            c.set_input(I_bar, self._dI)
            det.f += self._dI
        self._I_bar = I_bar
        self._stepper(Y, I_bar)
        c(Y, I_bar)  # coefficients at the end of the step = start of the next; dV/dt for spike location
        return det.locate(V, c.aV, c.bV, self.dt)


STEPPERS = {"rk4": RK4, "exp_midpoint": ExpMidpoint, "exp_ab2": ExpAB2, "exp_euler": ExpEuler}
