"""Checks shared by the single-neuron simulations: step counts, bounded work (refused
before anything is allocated) and strict bool flags, on top of :mod:`neurosim.validation`."""
from .. import validation as check

MAX_STEPS = 10**8  # ~10 min of a one-neuron LIF run; raise with max_steps=
MAX_RECORD_BYTES = 2 * 1024**3  # recorded traces; raise with max_record_bytes=


def n_steps(T, dt):
    """Number of steps of length ``dt`` in duration ``T`` (float32 durations accepted; see validation.n_steps)."""
    return check.n_steps(T, dt)


def check_work(steps, n, traces, max_steps, max_record_bytes):
    """Refuse a run whose step count or recorded traces exceed the limits, before allocating.

    Parameters
    ----------
    steps, n : int
        Steps and neurons.
    traces : int
        Number of (steps, n) float64 traces to record.
    max_steps, max_record_bytes : int
        The limits (the caller's keyword arguments of the same names).
    """
    max_steps = check.check_int("max_steps", max_steps, low=1)
    max_record_bytes = check.check_int("max_record_bytes", max_record_bytes, low=0)
    if steps > max_steps:
        raise ValueError(f"the run needs {steps:.3g} steps (T/dt), more than max_steps={max_steps:.3g}; "
                         f"pass a larger max_steps to allow it")
    size = 8 * steps * n * traces
    if size > max_record_bytes:
        raise ValueError(f"recording {traces} trace(s) of {steps} steps x {n} neurons needs {size / 1e9:.3g} GB, "
                         f"more than max_record_bytes={max_record_bytes:.3g}; record less or pass a larger max_record_bytes")


def flag(name, value):
    """Return ``bool(value)`` for a bool or numpy bool; TypeError for anything else (e.g. 'no', 1)."""
    return check.check_bool(name, value)
