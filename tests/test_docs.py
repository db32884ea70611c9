"""Every ```python block of README.md and docs/*.md runs as written, on its own (issue 24 item 12).

Each block runs with ``exec`` in a fresh namespace (``__name__ == "__main__"``), in a
temporary working folder, with matplotlib's Agg backend: nothing from another block
is defined, and files it writes stay in the temporary folder. (In this process, so
the package imports are paid once; ``NEUROSIM_DOCS_SUBPROCESS=1`` runs each block in
a fresh interpreter instead, which also isolates module state.)

Markers, an HTML comment on the line(s) just before the block:

* ``<!-- slow -->``: the block takes more than a few seconds; it is skipped
  (saying so) unless ``NEUROSIM_DOCS_SLOW=1`` is set.
* ``<!-- needs: module[, module] (install command) -->``: the block needs an
  optional extra; it is skipped, with the install command, when a module is missing.

Run one block: ``pytest tests/test_docs.py -k "network.md:120"``.
"""
import importlib.util
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FILES = ["README.md"] + sorted(os.path.join("docs", f) for f in os.listdir(os.path.join(ROOT, "docs"))
                                if f.endswith(".md"))
SLOW = os.environ.get("NEUROSIM_DOCS_SLOW") == "1"
TIMEOUT = 600


def blocks(path):
    """[(line of the opening fence, code, markers)] of the ```python blocks in ``path``."""
    lines = open(os.path.join(ROOT, path), encoding="utf-8").read().splitlines()
    out, i = [], 0
    while i < len(lines):
        if lines[i].strip() == "```python":
            start, code = i + 1, []
            i += 1
            while i < len(lines) and lines[i].strip() != "```":
                code.append(lines[i])
                i += 1
            markers, j = [], start - 2
            while j >= 0 and lines[j].strip().startswith("<!--"):
                markers.append(lines[j].strip())
                j -= 1
            out.append((start, "\n".join(code) + "\n", markers))
        i += 1
    return out


CASES = [pytest.param(path, line, code, markers, id=f"{path}:{line}")
         for path in FILES for line, code, markers in blocks(path)]


def _skip_reason(markers):
    for marker in markers:
        needs = re.match(r"<!--\s*needs:\s*([\w., ]+?)\s*(\((.*)\))?\s*-->", marker)
        if needs:
            missing = [m.strip() for m in needs.group(1).split(",") if importlib.util.find_spec(m.strip()) is None]
            if missing:
                return f"needs {', '.join(missing)}: {needs.group(3) or 'pip install ' + ' '.join(missing)}"
    if any(re.match(r"<!--\s*slow\b", m) for m in markers) and not SLOW:
        return "slow block (marked <!-- slow -->): set NEUROSIM_DOCS_SLOW=1 to run it"
    return None


def test_every_block_is_collected():
    assert len(CASES) >= 30  # README and docs hold ~34 blocks; a parsing slip would drop them
    assert all(code.strip() for *_, code, _ in (c.values for c in CASES))


@pytest.mark.parametrize("path, line, code, markers", CASES)
def test_block_runs_on_its_own(path, line, code, markers, tmp_path, monkeypatch):
    reason = _skip_reason(markers)
    if reason:
        pytest.skip(reason)
    if os.environ.get("NEUROSIM_DOCS_SUBPROCESS") == "1":
        env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=os.pathsep.join(
            [ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
        result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True,
                                text=True, timeout=TIMEOUT)
        assert result.returncode == 0, f"{path}:{line} failed:\n{result.stderr[-3000:]}"
        return
    import matplotlib
    import matplotlib.pyplot as plt

    matplotlib.use("Agg")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [f"{path}:{line}"])
    try:
        exec(compile(code, f"{path}:{line}", "exec"), {"__name__": "__main__"})
    finally:
        plt.close("all")
