"""The neurosim command: the main demo and the tuning subcommand write their files."""
import re
import subprocess
import sys

import numpy as np
import pytest

import neurosim
from neurosim.cli import main


def test_tuning_writes_png_and_csv(tmp_path):
    png, csv = tmp_path / "lif.png", tmp_path / "lif.csv"
    assert main(["tuning", "--model", "lif", "--tau-m", "0.02", "--tau-ref", "0.002", "--jmax", "6",
                 "--points", "30", "--out", str(png), "--csv", str(csv)]) == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    data = np.loadtxt(csv, delimiter=",", skiprows=1)
    assert data.shape == (30, 3)
    np.testing.assert_allclose(data[:, 1], neurosim.LIF().rate(data[:, 0]))
    np.testing.assert_allclose(data[:, 2], data[:, 1], rtol=1e-6)


def test_bad_parameter_is_a_clear_error(tmp_path, capsys):
    assert main(["tuning", "--tau-m", "-1", "--out", str(tmp_path / "x.png")]) == 2
    assert "tau_m" in capsys.readouterr().err


def test_demo_writes_figures_and_summary(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "neurosim", "demo", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "LIF" in proc.stdout
    assert (out / "summary.txt").read_text().strip()
    pngs = list(out.glob("*.png"))
    assert len(pngs) >= 2 and all(p.stat().st_size > 1000 for p in pngs)


# ---- errors are one line with status 2; paths checked before computing (issue 12) -------------------------
@pytest.mark.parametrize("argv, word", [
    (["hh", "--dt", "1e-4", "--duration", "0.05"], "SimulationError|valid range"),
    (["hh", "--current", "1e30", "--duration", "0.001"], "valid range"),
    (["network", "--n", "0"], "--n"),
    (["network", "--seed", "-1"], "--seed"),
    (["tuning", "--points", "1"], "--points"),
    (["tuning", "--model", "hh", "--imax", "nan"], "--imax"),
])
def test_errors_print_one_line_and_exit_2(argv, word, tmp_path, capsys):
    assert main(argv + ["--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert re.search(word, err[-1]) and err[-1].startswith("neurosim")
    assert all(line.startswith("neurosim") for line in err)
    assert not (tmp_path / "x.png").exists()


def test_output_path_checked_before_computing_and_printed_as_written(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert main(["hh", "--duration", "1000", "--out", str(blocker / "sub" / "x.png")]) == 2  # would take minutes
    assert "folder" in capsys.readouterr().err
    target = tmp_path / "new" / "deeper" / "somedir"
    assert main(["hh", "--duration", "0.002", "--out", str(target)]) == 0
    written = target.with_name("somedir.png")
    assert written.read_bytes()[:4] == b"\x89PNG"
    assert f"wrote {written}" in capsys.readouterr().out


def test_help_shows_defaults(capsys):
    assert main(["tuning", "--help"]) == 0
    text = capsys.readouterr().out
    assert "--imax" in text and "default: 50.0" in text and "default: tuning.png" in text


def test_hh_tuning_takes_imax(tmp_path):
    csv = tmp_path / "hh.csv"
    assert main(["tuning", "--model", "hh", "--imax", "12", "--points", "4", "--out", str(tmp_path / "hh"),
                 "--csv", str(csv)]) == 0
    data = np.loadtxt(csv, delimiter=",", skiprows=1)
    assert data[-1, 0] == 12.0 and data[-1, 1] > 50  # ~ 70 Hz at 12 uA/cm^2
    assert (tmp_path / "hh.png").exists()
