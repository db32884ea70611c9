"""Inputs of a Network: Poisson sources, given spike times, and injected currents.

Spike sources follow the same timing rule as neurons: a spike at time ts is
delivered to synapses at the first step boundary at or after ts (a spike at
exactly ``m * dt`` arrives at ``m * dt``).
"""
import numbers

import numpy as np

from .. import _validate as check
from ..spikes import to_events

_BLOCK = 1000  # steps of Poisson spikes drawn at once (aligned to absolute steps, so chunking does not matter)


class SpikeSource:
    """Neurons that fire at given times.

    Attributes
    ----------
    n : int
    name : str
    spike_times : list of ndarray
        Spike times (s) of each neuron.
    """

    kind = "spikes"

    def __init__(self, spike_times, name):
        if isinstance(spike_times, tuple):  # events (times, indices)
            times, indices = (np.asarray(a) for a in spike_times)
            from ..spikes import from_events

            spike_times = from_events(times, indices)
        elif isinstance(spike_times, np.ndarray) and spike_times.ndim == 1:
            spike_times = [spike_times]
        self.spike_times = [check.finite_array("spike_times", s).ravel() for s in spike_times]
        self.n = len(self.spike_times)
        if self.n == 0:
            raise ValueError("spike_times must hold at least one neuron's train")
        self.name = name
        times, indices = to_events(self.spike_times)
        if times.size and times.min() < 0:
            raise ValueError(f"spike times must be >= 0 s, got {times.min()!r}")
        self._times, self._indices = times, indices

    def __repr__(self):
        return f"SpikeSource(n={self.n}, name={self.name!r})"

    def _build(self, dt):
        # delivery step m = ceil(t/dt); the tolerance keeps t = m*dt (up to rounding) at m
        self._m = np.ceil(self._times / dt - 1e-9).astype(np.int64)
        self._dt = dt

    def _emit(self, m):
        """Indices, times of the spikes delivered at ``m * dt``."""
        a, b = np.searchsorted(self._m, (m, m + 1))
        return self._indices[a:b], self._times[a:b]


class PoissonSource:
    """Independent Poisson spike trains with constant rates.

    Attributes
    ----------
    n : int
    rate : ndarray (n,)
        Rates in Hz.
    name : str
    """

    kind = "poisson"

    def __init__(self, n, rate, name, rng):
        self.n = _count("n", n)
        rate = check.finite_array("rate", rate)
        if rate.ndim > 1 or rate.size not in (1, self.n) or np.any(rate < 0):
            raise ValueError(f"rate must be a rate >= 0 Hz or shape ({self.n},), got {rate!r}")
        self.rate = np.broadcast_to(rate, (self.n,)).copy()
        self.name = name
        self._rng = np.random.default_rng(rng.integers(2**63))  # own stream: independent of other draws
        self._block = -1

    def __repr__(self):
        return f"PoissonSource(n={self.n}, name={self.name!r})"

    def _build(self, dt):
        self._dt = dt

    def _emit(self, m):
        """Indices, times of the spikes in ``((m-1) dt, m dt]``, delivered at ``m * dt``."""
        k = m - 1
        if k < 0:  # nothing happens exactly at t = 0 in a Poisson process
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        b = k // _BLOCK
        if b != self._block:
            self._draw(b)
        lo, hi = self._bounds[k - b * _BLOCK], self._bounds[k - b * _BLOCK + 1]
        return self._idx[lo:hi], self._times[lo:hi]

    def _draw(self, b):
        counts = self._rng.poisson(self.rate * (_BLOCK * self._dt))
        idx = np.repeat(np.arange(self.n, dtype=np.int64), counts)
        pos = _BLOCK * (1.0 - self._rng.random(idx.size))  # in (0, BLOCK] steps from the block start
        step = np.clip(np.ceil(pos).astype(np.int64) - 1, 0, _BLOCK - 1)
        order = np.argsort(step, kind="stable")
        self._idx, self._times = idx[order], (b * _BLOCK + pos[order]) * self._dt
        self._bounds = np.searchsorted(step[order], np.arange(_BLOCK + 1))
        self._block = b


class CurrentInput:
    """Input current added to a population: an array (steps, n) indexed by absolute step, or ``f(t)``.

    ``f(t)`` gets the time (s) at the start of each step and returns a scalar or (n,).
    With a physical population (built from ``LIFUnits``) values are amperes,
    otherwise normalized input J.
    """

    def __init__(self, target, values, scale):
        self.target = target
        self.scale = scale
        if callable(values):
            self.function, self.values = values, None
        else:
            values = check.finite_array("values", values)
            if values.ndim != 2 or values.shape[1] != target.n:
                raise ValueError(f"current array must have shape (steps, {target.n}) for {target.name!r}, got {values.shape}")
            self.function, self.values = None, values * scale

    def add_to(self, J, k, t0):
        if self.values is not None:
            if k >= len(self.values):
                raise ValueError(f"current input for {self.target.name!r} has {len(self.values)} steps; the run needs step {k}")
            J += self.values[k]
        else:
            value = np.asarray(self.function(t0), dtype=float)
            # a user function: check each value, or a wrong shape broadcasts and a NaN spreads silently
            if value.ndim > 1 or value.size not in (1, J.size) or not np.isfinite(value).all():
                raise ValueError(f"current function for {self.target.name!r} must return finite values, a scalar "
                                 f"or shape ({J.size},); at t={t0:g} s it returned {value!r}")
            J += value * self.scale


def _count(name, n):
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {n!r}")
    return int(n)
