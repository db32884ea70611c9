"""Conductance-based synapses: a spike opens a conductance g(t), which drives ``g (E_rev - V)``.

The conductance has the shape of a PSC kernel of order n (n = 0 exponential,
n = 1 alpha; see :mod:`neurosim.synapses.psc`), scaled so that a weight w is the
*peak* conductance of one spike, as in Brian2's ``ge += w`` and PyNN's
``IF_cond_exp`` / ``IF_cond_alpha``:

    g(t) = w e^(-t/tau_s)                       (n = 0)
    g(t) = w (t/tau_s) e^(1 - t/tau_s)          (n = 1)
    g(t) = w (t/(n tau_s))^n e^(n - t/tau_s)    (order n)

Units of w (and g): siemens onto a population built from :class:`neurosim.LIFUnits`
(``E_rev`` in volts); onto a normalized :class:`neurosim.LIF` population, units of the
leak conductance (``g = 1`` doubles the leak) with ``E_rev`` in normalized voltage
(threshold 1, reset 0). In normalized units the membrane is

    tau_m dv/dt = J - v + sum_k g_k (E_k - v),

which, with each g_k held constant over a step, is the leaky membrane with
``tau_eff = tau_m / (1 + g)`` and ``J_eff = (J + sum_k g_k E_k) / (1 + g)``
(physically ``tau_eff = C/(g_L + g)``, ``V_inf = (g_L E_L + g E + I)/(g_L + g)``), stepped
exactly by :meth:`neurosim.LIFState.step_conductance`. The network holds each conductance
at its exact mean over the step (:func:`step_mean_coefficients`); the remaining error is
that of a piecewise-constant conductance, second order in dt/tau_s (measured against
scipy's solve_ivp in tests/neurosim/test_conductance.py).
"""
import math

import numpy as np

from .. import validation as check
from .psc import PSCFilter


class Conductance(PSCFilter):
    """A conductance-based synapse: PSC-shaped conductance with reversal potential ``E_rev``.

    Parameters
    ----------
    tau_s : float
        Synaptic time constant in seconds (> 0).
    E_rev : float
        Reversal potential: volts onto a ``LIFUnits`` population, normalized voltage
        (threshold 1, reset 0) onto a normalized ``LIF`` population.
    n : int
        Order of the conductance's kernel (0 exponential, 1 alpha, ...).

    Notes
    -----
    It is a :class:`PSCFilter` (same kernel and state cascade, so delays, batches and
    placements work unchanged) whose weights are peak conductances. Connections into one
    population with equal ``(tau_s, n, E_rev)`` share one conductance state. Grid timing
    with LIF targets only: precise timing, other neuron models, the compiled backend and
    NIR refuse it when the network is built or exported.
    """

    def __init__(self, tau_s=0.005, E_rev=0.0, n=0):
        super().__init__(tau_s, n)
        self.E_rev = check.check_number("E_rev", E_rev)

    def __repr__(self):
        return f"Conductance(tau_s={self.tau_s!r}, E_rev={self.E_rev!r}, n={self.n!r})"

    def __eq__(self, other):
        return isinstance(other, Conductance) and (self.tau_s, self.n, self.E_rev) == (other.tau_s, other.n,
                                                                                          other.E_rev)

    def __hash__(self):
        return hash((Conductance, self.tau_s, self.n, self.E_rev))

    @property
    def peak_scale(self):
        """Area of the peak-normalised kernel in seconds: ``g(t) = peak_scale * w * h(t)`` for weight w.

        ``n! tau_s e^n / n^n`` (``tau_s`` for n = 0): the unit-area kernel's peak is
        ``n^n e^(-n) / (n! tau_s)`` at ``t = n tau_s``.
        """
        n = self.n
        if n == 0:
            return self.tau_s
        return self.tau_s * math.exp(math.lgamma(n + 1) + n - n * math.log(n))

    def conductance(self, t):
        """Conductance of one spike of unit weight at time ``t`` (s) after it (peak 1); 0 for t < 0."""
        return self.peak_scale * self.kernel(t)


def is_conductance(synapse):
    """True for a :class:`Conductance` synapse (a current-based :class:`PSCFilter` is not one)."""
    return isinstance(synapse, Conductance)


def step_mean_coefficients(synapse, dt):
    """Weights c_k such that ``sum_k c_k x_k`` is the exact mean of the last stage over the next step.

    The cascade ``x' = A x`` (stage 0 decays, stage k fed by stage k - 1) gives
    ``mean_[0, dt] x_n = (1/dt) [integral_0^dt e^(A t) dt] x``, whose last row is computed
    with the matrix exponential of the augmented system ``[[A, I], [0, 0]]``.

    Returns
    -------
    ndarray, shape (n + 1,)
    """
    from scipy.linalg import expm

    dt = check.positive("dt", dt)
    n = synapse.n
    A = np.zeros((n + 1, n + 1))
    for k in range(n + 1):
        A[k, k] = -1.0 / synapse.tau_s
        if k:
            A[k, k - 1] = 1.0 / synapse.tau_s
    M = np.zeros((2 * (n + 1), 2 * (n + 1)))
    M[:n + 1, :n + 1] = A
    M[:n + 1, n + 1:] = np.eye(n + 1)
    integral = expm(M * dt)[:n + 1, n + 1:]
    return integral[n] / dt


__all__ = ["Conductance", "step_mean_coefficients"]
