"""Spike location between two grid points: upward threshold crossings found by cubic Hermite interpolation.

A model that integrates its membrane on a grid and whose slope stays moderate within a step (Hodgkin-Huxley,
user models) locates its spikes inside the step with :class:`CrossingDetector`, from the values and slopes at
both ends of the step. Models that blow up at the spike (AdEx, Izhikevich) solve for the crossing with their
own RK4 step instead (:mod:`neurosim.neurons.resetting`): there the slope grows exponentially within the
step and a cubic through the end points misplaces the crossing.
"""
import numpy as np


class CrossingDetector:
    """Finds upward threshold crossings between consecutive states, located by cubic Hermite interpolation."""

    def __init__(self, threshold, n, h):
        """``threshold``: a float, or an ndarray (n,) with one per neuron; ``h``: the step in the slopes' unit."""
        self.threshold = float(threshold) if np.ndim(threshold) == 0 else np.asarray(threshold, dtype=float)
        self.h = h
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
            thr = self.threshold if self.threshold.__class__ is float else self.threshold.item(i)
            theta = _hermite_root_scalar(self.V.item(i), v1, self.f.item(i) * self.h,
                                         (a.item(i) - b.item(i) * v1) * self.h, thr)
            offsets = np.array((theta * dt,))
        elif idx.size:
            f1 = a[idx] - b[idx] * V[idx]
            thr = self.threshold if self.threshold.__class__ is float else self.threshold[idx]
            offsets = _hermite_root(self.V[idx], V[idx], self.f[idx] * self.h, f1 * self.h, thr) * dt
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
