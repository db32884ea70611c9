"""A tqdm-like progress line on stderr for long calls (``progress=True``).

One line, redrawn in place with ``\\r`` at most every ``every`` seconds, so the
cost per update is one clock read: safe to call once per batch or step.
"""
import sys
import time

__all__ = ["ProgressLine"]


class ProgressLine:
    """A redrawn ``desc  42% |████      | 420/1000 [3.1s<4.3s] postfix`` line.

    Parameters
    ----------
    total : int
        Units of work (batches, steps, samples), >= 1.
    desc : str
        Printed first (e.g. ``"epoch 3/10"``).
    stream : file, optional
        Default ``sys.stderr`` (looked up when drawing, so pytest's capture works).
    every : float
        Minimum seconds between redraws.
    width : int
        Characters of the bar.
    """

    def __init__(self, total, desc="", stream=None, every=0.1, width=20):
        self.total, self.desc, self.stream = max(int(total), 1), desc, stream
        self.every, self.width = every, width
        self.start = self._last = time.monotonic()
        self._shown = 0

    def update(self, done, postfix=""):
        """Redraw for ``done`` units finished, unless the last redraw was under ``every`` s ago."""
        now = time.monotonic()
        if now - self._last >= self.every:
            self._last = now
            self._draw(done, postfix, now)

    def close(self, done=None, postfix="", keep=True):
        """Draw the final state and end the line (``keep=False`` erases it instead)."""
        if keep:
            self._draw(self.total if done is None else done, postfix, time.monotonic(), end="\n")
        else:
            self._write("\r" + " " * self._shown + "\r")

    def _draw(self, done, postfix, now, end=""):
        frac = min(max(done / self.total, 0.0), 1.0)
        fill = int(frac * self.width)
        elapsed = now - self.start
        eta = elapsed * (1 - frac) / frac if frac > 0 else float("nan")
        line = (f"{self.desc} {100 * frac:3.0f}% |{'#' * fill}{' ' * (self.width - fill)}| "
                f"{done}/{self.total} [{_clock(elapsed)}<{_clock(eta)}]")
        if postfix:
            line += " " + postfix
        pad = max(self._shown - len(line), 0)
        self._shown = len(line)
        self._write("\r" + line + " " * pad + end)

    def _write(self, text):
        stream = self.stream or sys.stderr
        stream.write(text)
        stream.flush()


def _clock(seconds):
    """``12.3s``, ``4:05`` or ``2:03:04``; ``?`` when unknown."""
    if seconds != seconds or seconds == float("inf"):
        return "?"
    if seconds < 60:
        return f"{seconds:.1f}s"
    m, s = divmod(int(seconds), 60)
    h, m = divmod(m, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"
