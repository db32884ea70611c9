"""Errors a simulation raises when it leaves its valid range."""


class SimulationError(RuntimeError):
    """A simulation left its valid range (non-finite or out-of-range state, dt too large for the method).

    Raised instead of returning numbers that are silently wrong. The message names
    the method, the step dt and, where known, the largest dt that works.
    """
