"""A tqdm-like progress line on stderr for long ratenet calls (spiking ``predict``, NIR runs).

    predict:  42%|########            | 12,600/30,000 steps [00:05<00:07]

Off in library calls unless ``progress=True``; the ``ratenet`` CLI turns it on.
The line is redrawn at most five times a second, so the cost is one clock
read per update, and it ends with a newline when the work is done.
(A stop-gap until neurosim has a shared progress helper; same look as
``Network.run(progress=True)``.)
"""
import sys
import time

__all__ = ["Progress"]


class Progress:
    """One progress line.

    Parameters
    ----------
    total : int
        Units of work in all (e.g. steps times batches).
    desc : str
        Label at the start of the line.
    unit : str
        Name of a unit of work.
    enabled : bool
        False: every method does nothing.
    stream : file, optional
        Default ``sys.stderr`` (looked up when the line is drawn).
    """

    _EVERY = 0.2  # seconds between redraws

    def __init__(self, total, desc, unit="steps", enabled=True, stream=None):
        self.total, self.desc, self.unit, self.enabled = max(int(total), 1), desc, unit, bool(enabled)
        self.stream = stream
        self.done = 0
        self.start = self._shown = time.monotonic()
        if self.enabled:
            self._draw()

    def update(self, n):
        """Add n units of work done; redraw if the last draw is older than 0.2 s."""
        if not self.enabled:
            return
        self.done += n
        now = time.monotonic()
        if now - self._shown >= self._EVERY:
            self._shown = now
            self._draw()

    def close(self):
        """Draw the final state and end the line."""
        if self.enabled:
            self._draw(end="\n")
            self.enabled = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.close()
        elif self.enabled:  # interrupted: end the line where it stands
            self._draw(end="\n")
            self.enabled = False
        return False

    def _draw(self, end=""):
        done = min(self.done, self.total)
        frac = done / self.total
        elapsed = time.monotonic() - self.start
        left = elapsed * (1 - frac) / frac if frac > 0 else None
        bar = "#" * int(20 * frac)
        eta = "?" if left is None else _clock(left)
        stream = sys.stderr if self.stream is None else self.stream
        stream.write(f"\r{self.desc}: {100 * frac:3.0f}%|{bar:<20}| {done:,}/{self.total:,} {self.unit} "
                     f"[{_clock(elapsed)}<{eta}]{end}")
        stream.flush()


def _clock(seconds):
    seconds = int(seconds)
    h, rest = divmod(seconds, 3600)
    return f"{h}:{rest // 60:02d}:{rest % 60:02d}" if h else f"{rest // 60:02d}:{rest % 60:02d}"
