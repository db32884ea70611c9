"""Plain checks for values users pass in; each raises a ValueError/TypeError that names the parameter."""
import numbers

import numpy as np


def positive(name, value, allow_zero=False):
    """Return ``value`` as float if it is a finite number > 0 (>= 0 with ``allow_zero``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r} ({type(value).__name__})")
    value = float(value)
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        allowed = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be a finite number {allowed}, got {value!r}")
    return value


def finite_array(name, value, dtype=np.float64):
    """Return ``value`` as an array of ``dtype``; reject NaN and inf."""
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be numeric array-like, got {type(value).__name__}") from err
    if not np.all(np.isfinite(arr)):
        bad = arr[~np.isfinite(arr)].ravel()[0]
        raise ValueError(f"{name} must be finite everywhere, found {bad!r}")
    return arr


def n_steps(T, dt):
    """Number of steps of length ``dt`` in duration ``T`` (both in seconds; T must be a multiple of dt)."""
    T = positive("T", T)
    dt = positive("dt", dt)
    steps = int(round(T / dt))
    if steps < 1 or abs(steps * dt - T) > 1e-9 * max(T, dt):
        raise ValueError(f"T must be a positive multiple of dt, got T={T!r} s, dt={dt!r} s")
    return steps


def as_rng(rng):
    """A numpy Generator from ``None``, an int seed, or a Generator."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or (isinstance(rng, numbers.Integral) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise TypeError(f"rng must be None, an int seed or a numpy.random.Generator, got {type(rng).__name__}")
