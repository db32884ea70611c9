"""Small argument checks, and the one rng helper, shared across ratenet.

Each raises TypeError/ValueError naming the parameter, the value and what is allowed.
"""
import math
import numbers

import numpy as np


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
