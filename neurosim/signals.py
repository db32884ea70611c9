"""Inputs that change in time: :class:`TimedArray` and the one helper that turns any
accepted input kind into the value held during each simulation step.

Every simulation (``LIF.simulate``, ``HodgkinHuxley.simulate``, network inputs)
holds its input constant within a step ``[t_k, t_k + dt)``, ``t_k = t0 + k dt``,
at its value at the start of the step (Brian2's rule, and the network's
``add_current_input``). What that value is, per input kind:

* a number or an ``(n,)`` array: the same in every step;
* a ``(steps, n)`` array on the simulation grid: row k;
* :class:`TimedArray` ``(values, dt)``: its sample at the start of the step,
  ``values[floor(t_k / dt)]`` (Brian2's convention: sample i holds on
  ``[i dt, (i + 1) dt)``; after the last sample the last value holds). With the
  same dt as the simulation it is exactly the ``(steps, n)`` array;
* a function ``f(t) -> (n,)`` (or a scalar): ``f(t_k)``, called once per step.

For a smooth f the held value is first-order accurate in dt: the response lags
by about dt/2 (for a sinusoid of angular frequency w, a relative error of about
w dt / 2). Use a smaller dt, or pass ``lambda t: f(t + dt/2)`` for second order.
"""
import math

import numpy as np

from . import validation as check


class TimedArray:
    """Samples of an input on their own time grid, held piecewise constant (Brian2's ``TimedArray``).

    Parameters
    ----------
    values : array_like, shape (samples,) or (samples, n)
        Sample i holds on ``[i dt, (i + 1) dt)`` (seconds); the last one holds forever after.
        A 1-D array is one value per sample for every neuron.
    dt : float
        Sample spacing in seconds (> 0).

    Examples
    --------
    >>> I = TimedArray([-5.0, 0.0, 1.5, 20.0], dt=0.08)   # four 80 ms current steps
    >>> I(0.1)
    array(0.)
    """

    def __init__(self, values, dt):
        values = _real_array("values", values)
        if values.ndim not in (1, 2) or values.shape[0] == 0:
            raise ValueError(f"values must have shape (samples,) or (samples, n) with samples >= 1, got {values.shape}")
        self.values = values
        self.dt = check.positive("dt", dt)

    def __repr__(self):
        return f"TimedArray(values of shape {self.values.shape}, dt={self.dt!r})"

    def index(self, t):
        """Sample index in force at time(s) ``t`` (s): ``floor(t / dt)``, clipped to [0, samples - 1].

        ``t``: finite real seconds (a number or an array); NaN, inf, complex, strings and None raise.
        """
        if not (type(t) is float and math.isfinite(t)):  # a float time, as loops pass, needs no more
            t = check.real_array("t", t)
        # the 1e-9 guards times such as 3 * 0.1 that land a rounding error below a sample boundary
        k = np.floor(np.asarray(t, dtype=float) / self.dt + 1e-9).astype(np.int64)
        return np.clip(k, 0, self.values.shape[0] - 1)

    def __call__(self, t):
        """The held value at time(s) ``t`` in seconds: shape ``t.shape + values.shape[1:]``."""
        return self.values[self.index(t)]


def _real_array(name, value):
    """Float array of ``value``: TypeError for complex, strings, None; ValueError for NaN/inf."""
    arr = np.asarray(value)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be real numbers, got {arr.dtype} ({type(value).__name__})")
    return check.finite_array(name, arr)


class Input:
    """An input resolved against a simulation grid: ``at(k)`` is the value held during step k.

    Built by :func:`as_input`; ``n`` is its number of columns (None when it is one
    value for every neuron), ``constant`` says whether it is the same in every step.
    """

    def __init__(self, kind, value, n, steps, dt, t0, name):
        self.kind, self._value, self.n, self.steps, self.dt, self.t0, self.name = kind, value, n, steps, dt, t0, name
        self.constant = kind == "constant"

    def at(self, k):
        """Value during step k: a float64 array of shape (n,) (or () for one value for all)."""
        if self.kind == "constant":
            return self._value
        if self.kind == "grid":
            return self._value[k]
        t = self.t0 + k * self.dt
        if self.kind == "timed":
            return self._value(t)
        out = _real_array(f"{self.name}(t)", self._value(t))
        if out.ndim > 1 or (self.n is not None and out.shape not in ((), (self.n,))):
            raise ValueError(f"{self.name}(t) must return a scalar or shape ({self.n},), got shape {out.shape}")
        return out

    def broadcast(self, n):
        """Check the input fits ``n`` neurons (a scalar or ``n`` columns)."""
        if self.n not in (None, n):
            raise ValueError(f"{self.name} has {self.n} columns, but there are {n} neurons")
        self.n = n
        if self.kind == "constant":
            self._value = np.broadcast_to(self._value, (n,)).copy()
        return self


def as_input(value, steps, dt, name="input", t0=0.0):
    """Resolve an input of any accepted kind (see the module docstring) against a grid.

    Parameters
    ----------
    value : float, array_like (n,), array_like (steps, n), TimedArray or callable f(t)
        The input. A callable is called with one float time (s) and returns a scalar or (n,).
    steps : int
        Number of steps of the simulation.
    dt : float
        Step in seconds.
    name : str
        Parameter name used in error messages.
    t0 : float
        Time (s) at the start of step 0.

    Returns
    -------
    Input
        ``n`` (columns; None for one value for all), ``constant`` and ``at(k)``.
        The number of columns of a callable is found by calling it once at the first step.
    """
    if isinstance(value, TimedArray):
        n = value.values.shape[1] if value.values.ndim == 2 else None
        if value.dt == dt and t0 == 0.0:  # on the simulation grid: rows are steps, no index arithmetic
            grid = value.values[np.minimum(np.arange(steps), value.values.shape[0] - 1)]
            return Input("grid", grid, n, steps, dt, t0, name)
        return Input("timed", value, n, steps, dt, t0, name)
    if callable(value):
        inp = Input("function", value, None, steps, dt, t0, name)
        first = inp.at(0)
        inp.n = first.shape[0] if first.ndim == 1 else None
        return inp
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a number, an array, a TimedArray or a function of t, got {value!r}")
    arr = _real_array(name, value)
    if arr.ndim == 0:
        return Input("constant", arr.astype(float), None, steps, dt, t0, name)
    if arr.ndim == 1:
        return Input("constant", arr.astype(float), arr.shape[0], steps, dt, t0, name)
    if arr.ndim == 2 and arr.shape[0] == steps:
        return Input("grid", arr.astype(float), arr.shape[1], steps, dt, t0, name)
    raise ValueError(f"{name} must be a scalar, (n,), (steps, n) = ({steps}, n), a TimedArray or a function of t; "
                     f"got shape {arr.shape}")
