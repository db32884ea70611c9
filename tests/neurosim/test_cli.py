"""The neurosim command: the main demo and the tuning subcommand write their files."""
import subprocess
import sys

import numpy as np

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
