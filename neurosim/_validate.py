"""The one validation module of both packages (ratenet imports it).

Plain checks for values users pass in; each raises TypeError (wrong type) or
ValueError (wrong value) naming the parameter, the value and what is allowed.
"""
import math
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


def check_number(name, value, low=None, high=None, low_open=False, high_open=False):
    """Return ``float(value)`` after checking it is finite and within [low, high].

    ``low_open``/``high_open`` make the corresponding end exclusive; ``None`` means unbounded.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    bad = not math.isfinite(value)
    if low is not None:
        bad |= value <= low if low_open else value < low
    if high is not None:
        bad |= value >= high if high_open else value > high
    if bad:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        left = "(" if low_open or low is None else "["
        right = ")" if high_open or high is None else "]"
        raise ValueError(f"{name} must be a finite number in {left}{lo}, {hi}{right}, got {value!r}")
    return value


def check_int(name, value, low=None):
    """Return ``int(value)`` after checking it is an integer (not bool) >= low."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    if low is not None and value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def as_rng(rng, name="rng"):
    """Turn ``rng`` into a :class:`numpy.random.Generator`.

    Parameters
    ----------
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
        ``None`` gives fresh OS entropy, a non-negative int (or a SeedSequence)
        is a seed (same seed -> same numbers), a Generator is returned unchanged.
    name : str
        Parameter name used in error messages.

    Returns
    -------
    numpy.random.Generator
    """
    if rng is None or isinstance(rng, (np.random.Generator, np.random.SeedSequence)):
        return np.random.default_rng(rng)
    if isinstance(rng, numbers.Integral) and not isinstance(rng, (bool, np.bool_)):
        if rng < 0:
            raise ValueError(f"{name}: seed must be >= 0, got {rng}")
        return np.random.default_rng(int(rng))
    raise TypeError(f"{name} must be None, a non-negative int seed or a numpy Generator, "
                    f"got {type(rng).__name__}")
