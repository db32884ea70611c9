"""Analytic firing rates of the LIF neuron: noiseless (:func:`lif_rate`, the one implementation
of G(J)) and with white membrane noise (:func:`siegert_rate`)."""
import numpy as np

from .. import validation as check


def lif_rate(excess, tau_m, tau_ref):
    """The LIF tuning curve as a function of the excess current ``x = J - 1``, in Hz.

    ``G = 1 / (tau_ref + tau_m log1p(1/x))`` for x > 0, which equals
    ``1 / (tau_ref - tau_m ln(1 - 1/J))``; log1p keeps it accurate near threshold.
    This is the one formula of G: :meth:`LIF.rate`, :func:`neurosim.fit_lif`
    and ratenet's LIF activations use it (through the unchecked ``lif_rate_unchecked``).

    Parameters
    ----------
    excess : float or array_like
        J - 1, any shape, real and not NaN. ``+inf`` gives 1/tau_ref; entries
        x <= 0 (at or below threshold, ``-inf`` included) give 0; tiny x (1/x
        overflows to inf) gives exactly 0.
    tau_m, tau_ref : float or array_like
        Membrane time constant (> 0) and refractory period (>= 0) in seconds,
        finite; broadcast with ``excess``.

    Returns
    -------
    ndarray of float, the broadcast shape of the inputs (a numpy float for scalars)

    Raises
    ------
    TypeError
        Complex, string, None or object input.
    ValueError
        NaN in ``excess``; non-finite, non-positive ``tau_m``; negative ``tau_ref``.
    """
    excess = check.real_array("excess", excess, dtype=None, finite=False)  # float32 stays float32
    if np.isnan(excess).any():
        raise ValueError("excess (J - 1) must not contain NaN; +-inf are allowed")
    tau_m = check.real_array("tau_m", tau_m)
    if np.any(tau_m <= 0):
        raise ValueError(f"tau_m must be > 0 (seconds), got {tau_m.min()!r}")
    tau_ref = check.real_array("tau_ref", tau_ref)
    if np.any(tau_ref < 0):
        raise ValueError(f"tau_ref must be >= 0 (seconds), got {tau_ref.min()!r}")
    try:
        x, tm, tr = np.broadcast_arrays(excess, tau_m, tau_ref)
    except ValueError:
        raise ValueError(f"excess, tau_m and tau_ref must broadcast together, got shapes {excess.shape}, "
                         f"{tau_m.shape}, {tau_ref.shape}") from None
    out = np.zeros(x.shape, dtype=excess.dtype)
    above = x > 0
    out[above] = lif_rate_unchecked(x[above], tm[above], tr[above])
    return out[()]


def lif_rate_unchecked(excess, tau_m, tau_ref):
    """:func:`lif_rate` without input checks, for internal callers and hot paths (float
    arrays; entries x <= 0 are the caller's to mask)."""
    with np.errstate(divide="ignore", over="ignore"):
        return 1.0 / (tau_ref + tau_m * np.log1p(1.0 / excess))


def siegert_rate(J, sigma, tau_m=0.02, tau_ref=0.002):
    """Mean firing rate (Hz) of a LIF neuron with white membrane noise (Siegert 1951; Ricciardi 1977).

    For ``tau_m dv/dt = J - v + sigma sqrt(2 tau_m) xi`` (threshold 1, reset 0; sigma
    the free membrane's stationary std, as in :meth:`neurosim.LIF.simulate`)::

        1/rate = tau_ref + tau_m sqrt(pi) * integral_{-J/s}^{(1-J)/s} e^(u^2) (1 + erf u) du,   s = sqrt(2) sigma

    (Brunel 2000, eq. 21, whose noise amplitude is ``s``). The integrand is
    ``erfcx(-u)``, which never overflows for u < 0; it is integrated adaptively.
    ``sigma = 0`` gives the noiseless curve :func:`neurosim.lif_rate`.

    Parameters
    ----------
    J : float or array_like
        Mean normalized input, any shape.
    sigma : float or array_like
        Stationary std of the free membrane (normalized units, >= 0); broadcast with J.
    tau_m, tau_ref : float
        Membrane time constant and refractory period in seconds.

    Returns
    -------
    ndarray of float, the broadcast shape of J and sigma
    """
    from scipy.integrate import quad
    from scipy.special import erfcx

    J = check.finite_array("J", J)
    sigma = check.finite_array("sigma", sigma)
    if np.any(sigma < 0):
        raise ValueError(f"sigma must be >= 0, got {sigma.min()!r}")
    tau_m = check.positive("tau_m", tau_m)
    tau_ref = check.positive("tau_ref", tau_ref, allow_zero=True)
    J, sigma = np.broadcast_arrays(J, sigma)
    out = np.zeros(J.shape)
    for i in np.ndindex(J.shape):
        j, s = float(J[i]), float(sigma[i])
        if s == 0:
            out[i] = lif_rate_unchecked(j - 1.0, tau_m, tau_ref) if j > 1 else 0.0
            continue
        lo, hi = -j / (np.sqrt(2.0) * s), (1.0 - j) / (np.sqrt(2.0) * s)
        if hi > 26.0:  # e^(hi^2) > 1e293: the rate underflows to 0
            continue
        integral = quad(lambda u: erfcx(-u), lo, hi, epsabs=0.0, epsrel=1e-11, limit=500)[0]
        out[i] = 1.0 / (tau_ref + tau_m * np.sqrt(np.pi) * integral)
    return out
