"""Fit an LIF tuning curve to a measured one (e.g. Hodgkin-Huxley's f-I curve).

The fitted curve is ``rate(I) = G(gain * I + bias)`` with ``G`` the analytic LIF
rate of :class:`neurosim.LIF` (threshold J = 1), so an LIF population driven
through ``J = gain * I + bias`` reproduces the measured neuron's rates.
"""
import warnings
from dataclasses import dataclass

import numpy as np

from .. import validation as check
from ..progress import Progress
from .lif import LIF
from .rates import lif_rate_unchecked


@dataclass
class LIFFit:
    """An LIF neuron and the input map ``J = gain * I + bias`` fitted to a tuning curve.

    Attributes
    ----------
    model : LIF
        Fitted ``tau_m`` and ``tau_ref`` (seconds).
    gain : float
        Normalized input per unit of the measured input (e.g. per uA/cm^2).
    bias : float
        Normalized input at I = 0.
    rms_error : float
        Root-mean-square rate error in Hz over the points used in the fit.
    n_points : int
        Number of points used in the fit.
    at_bound : tuple of str
        Fitted time constants that ran out of ``FIT_RANGE`` (e.g. ``("tau_ref",)``
        when the data do not determine a refractory period and it went to ~0): the
        curve may still match, but that parameter is not a measurement. ``fit_lif``
        warns when this is not empty.
    """

    model: LIF
    gain: float
    bias: float
    rms_error: float
    n_points: int
    at_bound: tuple = ()

    @property
    def threshold(self):
        """Input where the fitted LIF starts firing (J = 1), in the units of the measured input."""
        return (1.0 - self.bias) / self.gain

    def J(self, I):
        """Normalized LIF input for measured input(s) ``I`` (finite real numbers, any shape)."""
        return self.gain * check.real_array("I", I) + self.bias

    def rate(self, I):
        """Fitted firing rate in Hz at input(s) ``I`` (any shape)."""
        return self.model.rate(self.J(I))


# plausible range (s) of fitted time constants; outside it the fit is degenerate (the parameter ran off)
FIT_RANGE = {"tau_m": (1e-5, 10.0), "tau_ref": (1e-6, 1.0)}


def fit_lif(inputs, rates, tau_m=None, tau_ref=None, include_silent=False, progress=False):
    """Least-squares fit of ``tau_m``, ``tau_ref``, gain and bias to a tuning curve.

    Parameters
    ----------
    inputs : array_like, shape (M,)
        Input values (e.g. I in uA/cm^2), at least 4 of them firing.
    rates : array_like, shape (M,)
        Measured rates in Hz (>= 0), e.g. from :func:`neurosim.tuning_curve`.
    tau_m, tau_ref : float, optional
        Fix these (seconds) instead of fitting them.
    include_silent : bool
        By default only points with rate > 0 enter the fit. A type II neuron
        such as Hodgkin-Huxley jumps from 0 to ~50 Hz at rheobase, which the
        continuous LIF curve cannot do; fitting the firing part puts the LIF
        threshold a little below the jump (it predicts low rates where HH is
        silent) but matches the firing rates closely. With ``True`` the silent
        points also count (residual = predicted rate), which pulls the
        threshold up to rheobase at the cost of the fit near it.
    progress : bool
        Show a progress line on stderr (one entry per start of the optimizer).

    Returns
    -------
    LIFFit

    Warns
    -----
    RuntimeWarning
        When a fitted time constant leaves ``FIT_RANGE`` (listed in ``LIFFit.at_bound``),
        e.g. tau_ref -> 0 for a curve that does not bend towards a maximum rate.
    """
    from scipy.optimize import least_squares

    x = check.real_array("inputs", inputs, ndim=(0, 1)).reshape(-1)
    r = check.real_array("rates", rates, ndim=(0, 1)).reshape(-1)
    include_silent = check.check_bool("include_silent", include_silent)
    progress = check.check_bool("progress", progress)
    if x.shape != r.shape:
        raise ValueError(f"inputs and rates must have the same length, got {x.size} and {r.size}")
    if np.any(r < 0):
        raise ValueError("rates must be >= 0 Hz")
    firing = r > 0
    if firing.sum() < 4:
        raise ValueError(f"need at least 4 firing points (rate > 0) to fit, got {int(firing.sum())}")
    fixed_m = None if tau_m is None else check.positive("tau_m", tau_m)
    fixed_ref = None if tau_ref is None else check.positive("tau_ref", tau_ref, allow_zero=True)
    use = np.ones_like(firing) if include_silent else firing
    # residuals in units of the largest rate (the least-squares minimum does not change): squares of rates
    # up to the float64 range never overflow; inputs in units of their largest magnitude, for the same reason
    r_scale = float(r.max())
    x_scale = float(np.abs(x).max()) or 1.0
    x = x / x_scale
    xu, ru = x[use], r[use] / r_scale

    def unpack(p):
        tm = fixed_m if fixed_m is not None else np.exp(p[0])
        tr = fixed_ref if fixed_ref is not None else np.exp(p[1])
        gain = np.exp(p[2])
        return tm, tr, gain, 1.0 - gain * p[3]  # p[3] = threshold input

    def residuals(p):
        tm, tr, gain, bias = unpack(p)
        J = gain * xu + bias
        pred = np.zeros_like(ru)
        above = J > 1
        pred[above] = lif_rate_unchecked(J[above] - 1.0, tm, tr)
        return pred / r_scale - ru

    x_fire, r_max = x[firing], r_scale
    span = np.ptp(x_fire) if x_fire.size > 1 else 1.0
    best = None
    # a few starts: the tau_m / gain trade-off has shallow valleys
    starts = (0.005, 0.02, 0.08) if fixed_m is None else (fixed_m,)
    bar = Progress(len(starts), "fit_lif: starts", enabled=progress)
    for i, tm0 in enumerate(starts):
        tr0 = fixed_ref if fixed_ref is not None else 0.3 / r_max
        th0 = x_fire.min() - 0.02 * span
        J_top = LIF(tm0, tr0).inverse_rate(np.array([min(r_max, 0.95 / tr0 if tr0 > 0 else r_max)]))[0]
        gain0 = max(J_top - 1.0, 1e-6) / max(x_fire.max() - th0, 1e-12)
        p0 = np.array([np.log(tm0), np.log(max(tr0, 1e-9)), np.log(gain0), th0])
        sol = least_squares(residuals, p0, x_scale=np.array([1.0, 1.0, 1.0, span]), xtol=1e-14, ftol=1e-14, gtol=1e-14,
                            max_nfev=5000)
        if best is None or sol.cost < best.cost:
            best = sol
        bar.update(i + 1, f"{sol.nfev} evaluations")
    bar.close()
    tm, tr, gain, bias = unpack(best.x)
    gain /= x_scale  # back to the given input units (bias = 1 - gain * threshold is unchanged)
    rms = float(np.sqrt(np.mean(best.fun**2)) * r_scale)
    if not all(np.isfinite(v) for v in (tm, tr, gain, bias, rms)):
        raise ValueError(f"fit_lif: the fit is not finite (tau_m={tm!r}, tau_ref={tr!r}, gain={gain!r}, "
                         f"bias={bias!r}) for inputs in [{x.min() * x_scale:g}, {x.max() * x_scale:g}] and rates "
                         f"up to {r_scale:g} Hz: an LIF neuron cannot produce such rates")
    fitted = {"tau_m": (tm, fixed_m), "tau_ref": (tr, fixed_ref)}
    at_bound = tuple(name for name, (value, fixed) in fitted.items()
                     if fixed is None and not FIT_RANGE[name][0] <= value <= FIT_RANGE[name][1])
    if at_bound:
        warnings.warn(f"fit_lif: {', '.join(f'{n}={fitted[n][0]:.3g} s' for n in at_bound)} outside the plausible "
                      f"range {', '.join(f'{n} in {FIT_RANGE[n]} s' for n in at_bound)}: the data do not determine "
                      f"it (e.g. a range of inputs too small to show the rate saturating); widen the input range or "
                      f"fix it with {at_bound[0]}=", RuntimeWarning, stacklevel=2)
    return LIFFit(LIF(tau_m=float(tm), tau_ref=float(tr)), float(gain), float(bias), rms, int(xu.size),
                  at_bound)
