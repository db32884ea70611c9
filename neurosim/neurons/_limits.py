"""Checks shared by the single-neuron simulations: step counts from float32 durations,
bounded work (refused before anything is allocated) and strict bool flags.

Candidates for :mod:`neurosim._validate` (kept here to avoid editing that shared module).
"""
import numpy as np

from .. import _validate as check

MAX_STEPS = 10**8  # ~10 min of a one-neuron LIF run; raise with max_steps=
MAX_RECORD_BYTES = 2 * 1024**3  # recorded traces; raise with max_record_bytes=


def n_steps(T, dt):
    """Number of steps of length ``dt`` in duration ``T`` (seconds; T a multiple of dt).

    The tolerance is relative 1e-9, or 1e-6 when T or dt is a float32 (whose
    rounding is 6e-8 relative), so ``np.float32(0.3)`` with dt = 1e-3 is 300 steps.
    """
    single = isinstance(T, np.float32) or isinstance(dt, np.float32)
    T = check.positive("T", T)
    dt = check.positive("dt", dt)
    ratio = T / dt
    if ratio > 1e15:
        raise ValueError(f"T/dt = {ratio:.3g} steps (T={T!r} s, dt={dt!r} s) is far beyond max_steps "
                         f"(default {MAX_STEPS:.3g}) and any feasible run")
    steps = int(round(ratio))
    tol = 1e-6 if single else 1e-9
    if steps < 1 or abs(steps * dt - T) > tol * max(T, dt):
        raise ValueError(f"T must be a positive multiple of dt, got T={T!r} s, dt={dt!r} s")
    return steps


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
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    raise TypeError(f"{name} must be True or False, got {value!r} ({type(value).__name__})")
