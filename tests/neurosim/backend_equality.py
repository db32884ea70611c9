"""Shared checks of the backend-equality tests (a compiled run against the numpy backend's run)."""
import numpy as np


def assert_same_events(got, want, min_events):
    """Spike probe data ``(times, indices[, trials])``: the same neurons (and trials) in the same order, times
    within 1e-12 s; ``want`` (the reference) has more than ``min_events`` spikes, so the check compares something."""
    assert want[0].size > min_events
    assert len(got) == len(want)
    for a, b in zip(got[1:], want[1:]):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_allclose(got[0], want[0], rtol=0, atol=1e-12)
