"""Ctrl-C held to a transaction boundary: a step is applied completely or not at all.

The network runtime holds SIGINT over a run and checks it between committed
steps; ratenet's optimizers hold it over one parameter update and ``fit`` over
its loop, checking between batches. A Ctrl-C then never leaves half of the
state updated.
"""
import signal
import threading

__all__ = ["HeldInterrupt"]


class HeldInterrupt:
    """Context manager: hold SIGINT (Ctrl-C) until the block ends or :meth:`check` is called.

    On entry, Python's default SIGINT handler is replaced by one that only
    records the signal. :meth:`check` (between two transactions) and a normal
    exit raise :class:`KeyboardInterrupt` if one arrived; an exception leaving
    the block propagates as it is. The previous handler is always restored.

    Nothing is held outside the main thread (other threads never receive
    KeyboardInterrupt), or when a handler other than Python's default is
    installed. Inside an enclosing ``HeldInterrupt`` nothing is installed again:
    the outermost one sees the signal, and a nested enter costs one attribute
    read (an optimizer step inside ``fit``).

    Examples
    --------
    >>> with HeldInterrupt() as held:          # doctest: +SKIP
    ...     for batch in batches:
    ...         update(batch)                  # never torn by Ctrl-C
    ...         held.check()                   # KeyboardInterrupt here, between updates
    """

    # Holds installed in the main thread: a nested one skips signal.getsignal (the
    # per-call cost of an optimizer step inside fit is then one attribute read).
    _installed = 0

    def __init__(self):
        self.pending = False
        self._previous = None

    def _handler(self, signum, frame):
        self.pending = True

    def __enter__(self):
        if HeldInterrupt._installed or threading.current_thread() is not threading.main_thread():
            return self
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT, self._handler)
            HeldInterrupt._installed += 1
        return self

    def check(self):
        """Raise KeyboardInterrupt if Ctrl-C arrived (call it at a transaction boundary)."""
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
            HeldInterrupt._installed -= 1
        if self.pending and exc[0] is None:
            self.pending = False
            raise KeyboardInterrupt
        return False
