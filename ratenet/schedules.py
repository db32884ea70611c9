"""Learning-rate schedules (step annealing, exponential decay, and Darken & Moody's 1990
"search then converge" 1/t decay).

A schedule is a callable ``schedule(t) -> lr``. ``t`` counts from 0 and is,
depending on the optimizer's ``schedule_unit``, the number of updates already
taken or the number of epochs already finished.

- :class:`Constant`: ``lr(t) = lr``
- :class:`StepDecay` (step annealing): ``lr(t) = lr * drop ** floor(t / every)``
- :class:`ExponentialDecay`: ``lr(t) = lr * exp(-k t)``
- :class:`InverseDecay` ("search then converge"): ``lr(t) = lr * tau / max(t, tau)``,
  constant for ``t <= tau`` and then decaying as 1/t.
"""
import math
import numbers

from neurosim.validation import check_number

__all__ = ["Schedule", "Constant", "StepDecay", "ExponentialDecay", "InverseDecay"]


def _positive(name, value, allow_zero=False):
    return check_number(name, value, low=0, low_open=not allow_zero)


class Schedule:
    """Base class: subclasses implement ``__call__(t) -> float``.

    Parameters
    ----------
    lr : float
        Initial learning rate ``lr(0)``, > 0.
    """

    def __init__(self, lr):
        self.lr = _positive("lr", lr)

    def _check_t(self, t):
        return check_number("t", t, low=0)

    def __call__(self, t):
        raise NotImplementedError

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({args})"


class Constant(Schedule):
    """``lr(t) = lr`` for every ``t``."""

    def __call__(self, t):
        self._check_t(t)
        return self.lr


class StepDecay(Schedule):
    """Step annealing: multiply the rate by ``drop`` every ``every`` steps.

    ``lr(t) = lr * drop ** floor(t / every)``

    Parameters
    ----------
    lr : float
        Initial rate, > 0.
    drop : float
        Factor in (0, 1] applied at each drop. Default 0.5.
    every : int
        Steps (or epochs) between drops, >= 1. Default 10.
    """

    def __init__(self, lr, drop=0.5, every=10):
        super().__init__(lr)
        drop = _positive("drop", drop)
        if drop > 1:
            raise ValueError(f"drop must be in (0, 1], got {drop!r}")
        if isinstance(every, bool) or not isinstance(every, numbers.Integral) or every < 1:
            raise ValueError(f"every must be an integer >= 1, got {every!r}")
        self.drop, self.every = drop, int(every)

    def __call__(self, t):
        t = self._check_t(t)
        return self.lr * self.drop ** math.floor(t / self.every)


class ExponentialDecay(Schedule):
    """Exponential decay ``lr(t) = lr * exp(-k t)``.

    Parameters
    ----------
    lr : float
        Initial rate alpha_0, > 0.
    k : float
        Decay constant per step (or epoch), >= 0.
    """

    def __init__(self, lr, k):
        super().__init__(lr)
        self.k = _positive("k", k, allow_zero=True)

    def __call__(self, t):
        t = self._check_t(t)
        return self.lr * math.exp(-self.k * t)


class InverseDecay(Schedule):
    """``lr(t) = lr * tau / max(t, tau)``: constant until ``tau``, then ~ 1/t.

    The 1/t tail satisfies the Robbins-Monro conditions (sum of rates
    diverges, sum of squares converges), so SGD can settle.

    Parameters
    ----------
    lr : float
        Initial rate alpha_0, > 0.
    tau : float
        Length of the constant "search" phase in steps (or epochs), > 0.
    """

    def __init__(self, lr, tau):
        super().__init__(lr)
        self.tau = _positive("tau", tau)

    def __call__(self, t):
        t = self._check_t(t)
        return self.lr * self.tau / max(t, self.tau)
