"""Progress of long work: one tqdm-like line on stderr, redrawn in place.

The one progress helper of neurosim (network runs, Hodgkin-Huxley tuning
curves, ``fit_lif``, the PyNN export and its scripts). Library calls take
``progress=False`` by default; the command lines turn it on when stderr is a
terminal. This module imports nothing from neurosim: the standalone PyNN
scripts embed its source (see :mod:`neurosim.export.pynn.script`).

Example
-------
>>> with Progress(1000, "simulated", enabled=False) as bar:
...     for k in range(1000):
...         bar.update(k + 1)
"""
import sys
import time


class Progress:
    """A progress line ``label  done/total  pct  elapsed  eta  note`` on a stream (stderr by default).

    Parameters
    ----------
    total : int or float
        Amount of work (steps, seconds, items); > 0.
    label : str
        What is being done, e.g. ``"simulated"``.
    enabled : bool
        False: every call does nothing (the library default).
    stream : file-like, optional
        Where to write (default ``sys.stderr`` at each write).
    interval : float
        Seconds between redraws (the work between them is not slowed by writing).
    unit : str
        Unit of ``done`` and ``total`` in the line, e.g. ``" s"``.
    """

    def __init__(self, total, label="", enabled=True, stream=None, interval=0.2, unit=""):
        self.total = float(total) if total else 0.0
        self.label, self.enabled, self.stream, self.unit = label, bool(enabled), stream, unit
        self.interval = interval
        self.start = time.monotonic()
        self.shown = -float("inf")
        self.done = 0.0
        self.closed = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close(ok=exc[0] is None)
        return False

    def due(self):
        """Whether a redraw is due (cheap: callers in hot loops can check it before computing a note)."""
        return self.enabled and time.monotonic() - self.shown >= self.interval

    def update(self, done, note=""):
        """Record ``done`` (absolute, not an increment); redraw at most every ``interval`` seconds."""
        self.done = done
        if self.due():
            self._draw(note)

    def close(self, note="", ok=True):
        """Draw the final line and end it (once); after an error the line ends where it stopped."""
        if self.enabled and not self.closed:
            if ok:
                self.done = self.total
            self._draw(note, end="\n")
        self.closed = True

    def line(self, note=""):
        """The text of the progress line."""
        elapsed = time.monotonic() - self.start
        parts = [self.label] if self.label else []
        if self.total > 0:
            frac = min(max(self.done / self.total, 0.0), 1.0)
            parts.append(f"{_num(self.done)}/{_num(self.total)}{self.unit}")
            parts.append(f"{100.0 * frac:5.1f}%")
            parts.append(f"{_clock(elapsed)}")
            if 0 < frac < 1:
                parts.append(f"eta {_clock(elapsed * (1 - frac) / frac)}")
        else:
            parts.append(f"{_num(self.done)}{self.unit}  {_clock(elapsed)}")
        if note:
            parts.append(note)
        return "  ".join(parts)

    def _draw(self, note="", end=""):
        stream = self.stream if self.stream is not None else sys.stderr
        stream.write("\r" + self.line(note) + end)
        stream.flush()
        self.shown = time.monotonic()


def _num(x):
    return f"{x:.0f}" if float(x).is_integer() else f"{x:.3g}"


def _clock(seconds):
    seconds = int(seconds)
    return f"{seconds // 60:02d}:{seconds % 60:02d}" if seconds < 3600 else \
        f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


__all__ = ["Progress"]
