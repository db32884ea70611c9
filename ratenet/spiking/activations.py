"""Activations derived from neuron models: a neuron's tuning curve is its activation.

Convention (LIF-derived activations)
------------------------------------
A rate unit with pre-activation ``z`` drives an LIF neuron (normalized units:
threshold 1, reset 0) with the input current ``J = z + 1``, so ``z = 0`` is the
firing threshold and the bias of a :class:`ratenet.Dense` layer is the neuron's
bias current minus 1. The activation is ``amplitude · G(z + 1)`` where

    G(J) = 1 / (tau_ref − tau_m ln(1 − 1/J))   for J > 1, else 0     (Hz)

is :func:`neurosim.lif_rate` (the one implementation of G). ``amplitude``
(units: output per Hz) scales the rates to the order of 1 for training (e.g.
1/63 gives a maximum output of about 1 for tau_m = 0.02 s, tau_ref = 0.002 s
at z = 1). When the network is run with spiking neurons
(:func:`ratenet.to_spiking`) each spike of such a unit contributes
``amplitude`` to the post-synaptic filtered rate.

Classes
-------
LIFRate               exactly amplitude · G(z + 1); infinite slope at z = 0+.
SoftLIFRate           Hunsberger & Eliasmith (2015): the same with max(z, 0)
                      replaced by sigma · softplus(z / sigma); smooth, → LIFRate
                      as sigma → 0.
TuningCurveActivation any measured tuning curve (e.g. Hodgkin–Huxley f–I),
                      interpolated monotonically (PCHIP), differentiable.

The LIF activations compute in the input's float dtype (float32 stays float32:
``benchmarks/activations.py`` measures the cost in accuracy, a few float32
ulps) and cache in ``forward`` what ``backward`` needs, so backward evaluates no
exp or log.
"""
import math

import numpy as np
from scipy.interpolate import PchipInterpolator

from neurosim.neurons.rates import lif_rate_unchecked

from ..activations import Activation, _as_float_array
from ..layers import _check_float, backward_args
from neurosim.validation import check_bool, real_array

__all__ = ["LIFRate", "SoftLIFRate", "TuningCurveActivation"]

# Below u = z/sigma = _U_TAIL, SoftLIFRate uses the asymptotic expansion of
# log1p(1/j), j = sigma·softplus(u) (as NengoDL does): the exact form underflows
# to G = 0 (float64: u < −706, float32: u < −87). At u = −20 the dropped terms
# are O(e^(2u)) ~ 4e-18 relative, below float64's rounding.
_U_TAIL = -20.0


def _elementwise(f, z):
    """``f`` (which needs a non-empty array of at least 1-D) applied to ``z`` of any shape, also 0-d or empty."""
    if z.size == 0:
        return np.empty_like(z)
    if z.ndim == 0:
        return f(z.reshape(1)).reshape(())
    return f(z)


class _LIFBase(Activation):
    """Shared parameters and the forward/backward plumbing of the LIF activations.

    Subclasses implement ``_forward(z) -> (y, cache)`` and ``_grad(cache) -> dy/dz``;
    ``forward`` keeps the cache for ``backward``, ``function``/``derivative``
    call the same two methods (one formula for all four).
    """

    _abstract = True   # ratenet.load refuses it: only its subclasses are layers
    fresh_grad = True

    def __init__(self, tau_m=0.02, tau_ref=0.002, amplitude=1.0):
        self.tau_m = _check_float(tau_m, "tau_m", low=0, low_open=True)
        self.tau_ref = _check_float(tau_ref, "tau_ref", low=0)
        self.amplitude = _check_float(amplitude, "amplitude", low=0, low_open=True)

    def neuron(self):
        """The spiking neuron this activation models, a :class:`neurosim.LIF`."""
        import neurosim
        return neurosim.LIF(tau_m=self.tau_m, tau_ref=self.tau_ref)

    def max_output(self):
        """Supremum of the output, amplitude / tau_ref (inf when tau_ref = 0)."""
        return np.inf if self.tau_ref == 0 else self.amplitude / self.tau_ref

    def function(self, z):
        return _elementwise(lambda x: self._forward(x)[0], _as_float_array(z))

    def derivative(self, z):
        return _elementwise(lambda x: self._grad(self._forward(x)[1]), _as_float_array(z))

    def forward(self, X, training=False):
        """(n_samples, n) → (n_samples, n); caches what backward needs."""
        if training is not False and training is not True:
            check_bool("training", training)
        if type(X) is not np.ndarray or X.dtype.kind != "f":
            X = _as_float_array(X, "X")
        y, self._cache = self._forward(X)
        self._shape = X.shape
        return y

    def backward(self, dY, input_grad=True):
        """dE/dX = dE/dY · dy/dz from the cache of the last forward (no exp/log)."""
        cache = getattr(self, "_cache", None)
        if cache is None:
            raise RuntimeError(f"{type(self).__name__}.backward called before forward")
        dY, input_grad = backward_args(dY, input_grad, self._shape)
        if not input_grad:
            return None
        d = self._grad(cache)
        np.multiply(d, dY, out=d)
        return d

    def __getstate__(self):
        state = self.__dict__.copy()
        state.pop("_cache", None)
        return state


class LIFRate(_LIFBase):
    """Analytic LIF rate curve: y = amplitude · G(z + 1).

    Parameters
    ----------
    tau_m : float
        Membrane time constant in seconds (> 0).
    tau_ref : float
        Refractory period in seconds (>= 0).
    amplitude : float
        Output per Hz (> 0); 1 gives rates in Hz.

    Notes
    -----
    y = 0 for z <= 0. For z > 0, with G = 1/(tau_ref + tau_m log(1 + 1/z)),
    dy/dz = amplitude · tau_m · G² / (z (z + 1)), which diverges as z → 0+
    (the derivative at z <= 0 is 0). Train with :class:`SoftLIFRate` and
    evaluate either; gradient checks pass away from z = 0.
    """

    def _forward(self, z):
        x = np.maximum(z, 0)
        # G(0) = 1/(tau_ref + inf) = 0: no mask needed below threshold
        y = lif_rate_unchecked(x, self.tau_m, self.tau_ref)
        y *= y.dtype.type(self.amplitude)
        return y, (x, y)

    def _grad(self, cache):
        x, y = cache
        t = x + 1
        t *= x
        d = y * y
        d *= d.dtype.type(self.tau_m / self.amplitude)   # A·tau_m·G² = (tau_m/A)·y²
        with np.errstate(divide="ignore", invalid="ignore"):
            np.divide(d, t, out=d)
        d[y == 0] = 0                                     # z <= 0, or 1/z overflowed
        return d


class SoftLIFRate(_LIFBase):
    """Smoothed LIF rate curve (Hunsberger & Eliasmith, 2015).

    y = amplitude · 1 / (tau_ref + tau_m log(1 + 1/j)),  j = sigma · log(1 + e^(z/sigma))

    i.e. the excess current max(J − 1, 0) = max(z, 0) of :class:`LIFRate` is
    replaced by a softplus of width ``sigma``. The curve is smooth, strictly
    positive and strictly increasing for every finite z, converges to LIFRate
    as sigma → 0 (uniformly; the largest difference is near z = 0), and is
    computed without overflow for any finite z.

    Parameters
    ----------
    tau_m : float
        Membrane time constant in seconds (> 0).
    tau_ref : float
        Refractory period in seconds (>= 0).
    amplitude : float
        Output per Hz (> 0).
    sigma : float
        Smoothing width in normalized current units (> 0).

    Notes
    -----
    dy/dz = amplitude · tau_m · G² · sigmoid(u) / (j (j + 1)), u = z/sigma.
    For u < −20 the exact form underflows (to y = 0 at u < −706 in float64);
    there log(1 + 1/j) is replaced by its expansion
    −log(sigma) − u + (1/2 + sigma) e^u (error O(e^(2u)), below rounding), as
    NengoDL does, written so that no step overflows even at z = −1e308.
    """

    def __init__(self, tau_m=0.02, tau_ref=0.002, amplitude=1.0, sigma=0.02):
        super().__init__(tau_m, tau_ref, amplitude)
        self.sigma = _check_float(sigma, "sigma", low=0, low_open=True)

    def _forward(self, z):
        f = z.dtype.type
        sigma = self.sigma
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            e = np.abs(z)
            e *= f(-1.0 / sigma)
            np.exp(e, out=e)                  # e^(−|u|) in [0, 1], u = z/sigma
            j = np.log1p(e)
            j *= f(sigma)
            j += np.maximum(z, 0)             # sigma·softplus(u), no overflow
            y = lif_rate_unchecked(j, self.tau_m, self.tau_ref)
            y *= f(self.amplitude)
            tail = None
            if z.min() < _U_TAIL * sigma:
                tail = z < _U_TAIL * sigma
                # y = (sigma/b) / (K + sigma c e^u − z), b = tau_m/A,
                # K = sigma (tau_ref/tau_m − log sigma), c = 1/2 + sigma;
                # the e^u term is below float32 rounding there, so skipped
                b = self.tau_m / self.amplitude
                K = sigma * (self.tau_ref / self.tau_m - math.log(sigma))
                den = f(K) - z
                if z.dtype != np.float32:
                    den += e * f(sigma * (0.5 + sigma))
                np.divide(f(sigma / b), den, out=den)
                np.putmask(y, tail, den)   # putmask: 2x faster than copyto(where=)
        return y, (z, e, j, y, tail)

    def _grad(self, cache):
        z, e, j, y, tail = cache
        f = y.dtype.type
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            # 1 / sigmoid(u) = 1 + e^(−u): overflows only in the tail (replaced below)
            t = z * f(-1.0 / self.sigma)
            np.exp(t, out=t)
            t += 1
            t *= j
            t *= j + 1
            if tail is not None:              # −d log(1+1/j)/dz = (1 − c e^u)/sigma there
                if z.dtype == np.float32:
                    np.putmask(t, tail, f(self.sigma))
                else:
                    q = e * f(-(0.5 + self.sigma) / self.sigma)
                    q += f(1 / self.sigma)
                    np.divide(1, q, out=q)
                    np.putmask(t, tail, q)
            d = y * y
            d *= f(self.tau_m / self.amplitude)
            d /= t                            # (tau_m/A) y² sigmoid(u) / (j (j + 1))
        return d


def _out(value, like):
    """Cast a float64 result back to the input's float dtype."""
    return value.astype(like.dtype, copy=False)


def _float_array(value, name):
    """``value`` as float64, real (TypeError otherwise); finiteness and shape are checked by the caller."""
    return real_array(name, value, finite=False)


def _isotonic(y, w=None):
    """Least-squares non-decreasing fit to y (pool adjacent violators)."""
    w = np.ones(len(y)) if w is None else np.asarray(w, float)
    vals, wts, counts = [], [], []
    for yi, wi in zip(y, w):
        vals.append(yi)
        wts.append(wi)
        counts.append(1)
        while len(vals) > 1 and vals[-2] > vals[-1]:
            v2, w2, c2 = vals.pop(), wts.pop(), counts.pop()
            v1, w1, c1 = vals.pop(), wts.pop(), counts.pop()
            vals.append((v1 * w1 + v2 * w2) / (w1 + w2))
            wts.append(w1 + w2)
            counts.append(c1 + c2)
    return np.repeat(vals, counts)


class TuningCurveActivation(Activation):
    """A measured tuning curve (input current → firing rate) as an activation.

    y = amplitude · f(scale · z + offset), where f interpolates the points
    (J, rates) with a monotone cubic (PCHIP: C¹, no overshoot). Rates are first
    made non-decreasing by isotonic regression (measured curves are noisy). Below
    J[0] the curve is flat at its first value; above J[-1] it continues
    linearly with the end slope (``extrapolate="linear"``, C¹) or flat
    (``"flat"``). Sample the curve from below threshold so that the flat left
    end joins smoothly.

    Parameters
    ----------
    J : array_like, shape (M,)
        Input currents in any units (e.g. µA/cm² for Hodgkin–Huxley), strictly
        increasing, M >= 2, finite.
    rates : array_like, shape (M,)
        Firing rates in Hz (>= 0, finite).
    amplitude : float
        Output per Hz (> 0).
    offset : float
        Current at z = 0, in the units of J (e.g. the threshold, so that z = 0
        is threshold as for :class:`LIFRate`).
    scale : float
        Current per unit of z (> 0).
    extrapolate : {"linear", "flat"}
        Continuation above J[-1].

    Examples
    --------
    >>> import numpy as np, neurosim
    >>> J = np.linspace(0.5, 4, 40)
    >>> act = TuningCurveActivation(J, neurosim.tuning_curve(neurosim.LIF(), J, T=2.0),
    ...                             amplitude=1/63, offset=1.0)
    """

    def __init__(self, J, rates, amplitude=1.0, offset=0.0, scale=1.0, extrapolate="linear"):
        J, r = _float_array(J, "J"), _float_array(rates, "rates")
        if J.ndim != 1 or J.size < 2 or not np.isfinite(J).all():
            raise ValueError(f"J: expected a 1-D array of >= 2 finite currents, got {np.shape(J)}")
        if np.any(np.diff(J) <= 0):
            raise ValueError("J: currents must be strictly increasing")
        if r.shape != J.shape:
            raise ValueError(f"rates: expected shape {J.shape} (like J), got {np.shape(rates)}")
        if not np.isfinite(r).all() or np.any(r < 0):
            raise ValueError("rates: expected finite firing rates >= 0 Hz")
        self.amplitude = _check_float(amplitude, "amplitude", low=0, low_open=True)
        self.offset = _check_float(offset, "offset")
        self.scale = _check_float(scale, "scale", low=0, low_open=True)
        if extrapolate not in ("linear", "flat"):
            raise ValueError(f"extrapolate: expected 'linear' or 'flat', got {extrapolate!r}")
        self.extrapolate = extrapolate
        self.J = J.tolist()                  # lists: JSON-serializable for save/load
        self.rates = r.tolist()
        self._f = PchipInterpolator(J, _isotonic(r), extrapolate=False)
        self._df = self._f.derivative()
        self._lo, self._hi = J[0], J[-1]
        self._f_hi = float(self._f(J[-1]))
        self._slope_hi = float(self._df(J[-1])) if extrapolate == "linear" else 0.0

    @classmethod
    def from_callable(cls, rate_fn, J, **kwargs):
        """Sample ``rate_fn(J) -> rates (Hz)`` at the currents ``J`` and interpolate.

        For example ``neurosim.LIF(...).rate`` or an LIF fitted to a
        Hodgkin–Huxley curve. Keyword arguments go to the constructor.
        """
        if not callable(rate_fn):
            raise TypeError(f"rate_fn: expected a callable J -> rates, got {type(rate_fn).__name__}")
        J = _float_array(J, "J")
        rates = _float_array(rate_fn(J), "rate_fn(J)")
        if rates.shape != J.shape or not np.isfinite(rates).all() or np.any(rates < 0):
            raise ValueError(f"rate_fn: must return finite rates >= 0 Hz of shape {J.shape} (like J), "
                             f"got shape {rates.shape}, min {np.min(rates, initial=np.inf)!r}")
        return cls(J, rates, **kwargs)

    @classmethod
    def from_model(cls, neuron, J, T=1.0, dt=None, t_start=0.0, **kwargs):
        """Measure a neuron model's tuning curve by simulation and interpolate it.

        Parameters
        ----------
        neuron : object with ``simulate`` (e.g. ``neurosim.LIF``, ``neurosim.HodgkinHuxley``)
        J : array_like (M,)
            Constant inputs in the model's units (µA/cm² for Hodgkin–Huxley).
        T, dt, t_start : float
            Passed to :func:`neurosim.tuning_curve` (seconds).
        **kwargs
            Constructor arguments (amplitude, offset, scale, extrapolate).
        """
        from neurosim import tuning_curve
        if not callable(getattr(neuron, "simulate", None)):
            raise TypeError(f"neuron: expected a neuron model with a simulate(J, T, dt) method "
                            f"(e.g. neurosim.LIF()), got {type(neuron).__name__}")
        J = _float_array(J, "J")
        if J.ndim != 1 or J.size < 2:
            raise ValueError(f"J: expected a 1-D array of >= 2 currents, got shape {J.shape}")
        t_start = _check_float(t_start, "t_start", low=0)
        return cls(J, tuning_curve(neuron, J, T=T, dt=dt, t_start=t_start), **kwargs)

    def get_config(self):
        return {"J": list(self.J), "rates": list(self.rates), "amplitude": self.amplitude,
                "offset": self.offset, "scale": self.scale, "extrapolate": self.extrapolate}

    def __repr__(self):
        return (f"TuningCurveActivation(<{len(self.J)} points in [{self._lo:g}, {self._hi:g}]>, "
                f"amplitude={self.amplitude!r}, offset={self.offset!r}, scale={self.scale!r})")

    def _current(self, z):
        return self.scale * _as_float_array(z).astype(np.float64) + self.offset

    def function(self, z):
        z = _as_float_array(z)
        c = self._current(z)
        inside = np.clip(c, self._lo, self._hi)
        y = self._f(inside)
        y = np.where(c > self._hi, self._f_hi + self._slope_hi * (c - self._hi), y)
        return _out(self.amplitude * y, z)

    def derivative(self, z):
        z = _as_float_array(z)
        c = self._current(z)
        d = self._df(np.clip(c, self._lo, self._hi))
        d = np.where(c > self._hi, self._slope_hi, np.where(c < self._lo, 0.0, d))
        return _out(self.amplitude * self.scale * d, z)
