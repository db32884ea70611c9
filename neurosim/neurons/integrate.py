"""Integrate-and-fire neurons without leak: the spiking form of a ReLU (Rueckauer et al. 2017).

``dv/dt = J`` (J in units of v per second); a spike when ``v`` reaches ``threshold``.
With constant input the step is exact: ``v ← v + J dt``, and a neuron that reaches the
threshold spikes at the offset ``(threshold − v)/J`` inside the step. After a spike:

* ``reset="subtract"`` (default): ``v ← v − threshold``. The charge above threshold is
  kept, so over any window the count is floor((v0 + J T)/threshold): the rate is exactly
  ``J/threshold`` for J > 0, up to one spike, and this is why ReLU networks convert with
  it (the rate is linear in J, like the ReLU);
* ``reset="zero"``: ``v ← 0``; the charge above threshold is lost, so the rate is
  ``1/(dt · ceil(threshold/(J dt)))``, below J/threshold (Rueckauer et al.'s other variant).

At most one spike per step: the rate saturates at 1/dt. While saturated (J dt > threshold)
the charge beyond one spike per step is dropped (v is capped at the threshold), so a neuron
leaves saturation at once when its input falls.
"""
import numpy as np

from .. import validation as check
from .base import NeuronModel, StateVar

__all__ = ["IF", "settle"]

RESETS = ("subtract", "zero")


class IF(NeuronModel):
    """Non-leaky integrate-and-fire neuron, ``dv/dt = J``, threshold ``threshold``.

    Parameters
    ----------
    threshold : float > 0, or array (n,) of them
        Spike threshold (v is dimensionless; J is in threshold units per second when
        threshold = 1, so a constant J > 0 fires at J Hz).
    reset : {"subtract", "zero"}
        Reset by subtraction (rate exactly J/threshold, the ReLU route) or to zero.

    State: ``v`` (dimensionless, initial 0). A population's ``v0`` sets it.

    Examples
    --------
    >>> import numpy as np, neurosim
    >>> res = neurosim.IF().simulate(np.array([37.0, 250.0]), T=1.0, dt=1e-3)
    >>> np.round(res.rates(), 6).tolist()          # from the inter-spike intervals
    [37.0, 250.0]
    """

    state = {"v": StateVar(0.0)}
    default_dt = 1e-3
    jit = False  # a sparse numpy step (only the spiking neurons are touched): kept in Python, no numba warning

    def __init__(self, threshold=1.0, reset="subtract"):
        if np.ndim(threshold) == 0:
            threshold = check.positive("threshold", threshold)
        elif np.any(check.finite_array("threshold", threshold) <= 0):
            raise ValueError(f"threshold: expected values > 0 (one per neuron), got {threshold!r}")
        reset = check.check_choice("reset", reset, RESETS)
        super().__init__(threshold=threshold, reset=reset)

    def rate(self, J, dt=None):
        """Steady firing rate (Hz) for constant inputs J.

        Parameters
        ----------
        J : array_like
            Input, threshold units per second.
        dt : float, optional
            Step (s): the rate is capped at 1/dt (one spike per step), and reset to zero
            rounds the interval up to whole steps. None: the continuous-time rate
            max(J, 0)/threshold (reset="zero" then needs dt).

        Returns
        -------
        ndarray, the shape of J
        """
        J = check.finite_array("J", J)
        drive = np.maximum(J, 0.0) / self.threshold
        if dt is None:
            if self.reset == "zero":
                raise ValueError("dt: reset='zero' has a rate that depends on the step; pass dt (s)")
            return drive
        dt = check.positive("dt", dt)
        if self.reset == "subtract":
            return np.minimum(drive, 1.0 / dt)
        with np.errstate(divide="ignore"):
            steps = np.ceil(np.where(drive > 0, 1.0 / (drive * dt), np.inf) * (1 - 1e-12))
        return np.where(drive > 0, 1.0 / (np.maximum(steps, 1.0) * dt), 0.0)

    def step(self, dt, J, v):
        threshold = self.threshold
        v += J * dt
        spiked = v >= threshold
        offsets = np.zeros(J.shape)
        if not spiked.any():
            return spiked, offsets
        th = threshold if np.ndim(threshold) == 0 else np.broadcast_to(threshold, v.shape)[spiked]
        offsets[spiked] = settle(v, J, spiked, th, dt, self.reset)
        return spiked, offsets


def settle(v, J, spiked, threshold, dt, reset):
    """The neurons ``spiked`` (a mask or indices) after ``v += J dt`` crossed ``threshold``: reset them in place
    and return their spike offsets (s) inside the step.

    Only the spiking neurons are touched (few passes over the rest). ``threshold`` is a number or the
    spiking neurons' thresholds. The one implementation of the IF spike, used by :meth:`IF.step` and
    the network runtime of IF populations.
    """
    Js, vs = J[spiked], v[spiked]
    rising = Js > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        # the crossing of the linear ramp from v - J dt; 0 for a neuron already at threshold
        off = np.where(rising, (threshold - (vs - Js * dt)) / np.where(rising, Js, 1.0), 0.0)
    if reset == "subtract":
        v[spiked] = np.minimum(vs - threshold, threshold)  # saturation: at most one spike per step
    else:
        v[spiked] = 0.0
    return np.clip(off, 0.0, np.nextafter(dt, 0.0))
