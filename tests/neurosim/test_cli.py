"""The neurosim command: the main demo and the tuning subcommand write their files."""
import os
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
    assert "--tau-m" in capsys.readouterr().err


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
    assert main(["hh", "--duration", "50", "--out", str(blocker / "sub" / "x.png")]) == 2  # would take minutes
    assert "folder" in capsys.readouterr().err
    target = tmp_path / "new" / "deeper" / "somedir"
    assert main(["hh", "--duration", "0.002", "--out", str(target)]) == 0
    written = target.with_name("somedir.png")
    assert written.read_bytes()[:4] == b"\x89PNG"
    assert f"wrote {written}" in capsys.readouterr().out


def test_help_shows_defaults(capsys):
    assert main(["tuning", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())  # argparse wraps where its columns fall
    assert "--imax" in text and "default: 50.0" in text and "default: tuning.png" in text


def test_hh_tuning_takes_imax(tmp_path):
    csv = tmp_path / "hh.csv"
    assert main(["tuning", "--model", "hh", "--imax", "12", "--points", "4", "--out", str(tmp_path / "hh"),
                 "--csv", str(csv)]) == 0
    data = np.loadtxt(csv, delimiter=",", skiprows=1)
    assert data[-1, 0] == 12.0 and data[-1, 1] > 50  # ~ 70 Hz at 12 uA/cm^2
    assert (tmp_path / "hh.png").exists()


# ---- fresh-machine findings: size limits, unwritable paths, one-line errors, --seed, flag names ----------------
def _refused(argv, capsys):
    """Run; return the stderr lines (asserting status 2)."""
    assert main(argv) == 2
    return capsys.readouterr().err.strip().splitlines()


@pytest.mark.parametrize("argv, words", [
    (["tuning", "--points", "100000000"], ["--points", "100000"]),
    (["tuning", "--model", "hh", "--points", "5000"], ["--points", "2000"]),
    (["network", "--n", "100000000"], ["--n", "1000000"]),
    (["network", "--T", "1e5"], ["--n x --T", "limit"]),
    (["hh", "--duration", "1e6"], ["--duration / --dt", "limit", "larger --dt"]),
    (["hh", "--duration", "-1"], ["--duration"]),
    (["hh", "--dt", "0"], ["--dt"]),
    (["hh", "--dt", "6e-5", "--duration", "0.005"], ["--duration", "whole number of --dt steps"]),
    (["network", "--n", "80", "--T", "0.00015"], ["--T", "whole number", "--T 0.0001"]),
    (["hh", "--current", "nan"], ["--current"]),
    (["tuning", "--tau-m", "-1"], ["--tau-m"]),
    (["tuning", "--model", "hh", "--jmax", "3"], ["--jmax", "--model hh"]),
    (["tuning", "--model", "lif", "--imax", "3"], ["--imax", "--model lif"]),
    (["tuning", "--model", "hh", "--tau-m", "0.01"], ["--tau-m", "--model hh"]),
    (["demo", "--seed", "-1"], ["--seed"]),
])
def test_cli_values_are_checked_up_front_naming_the_flag(argv, words, tmp_path, capsys, monkeypatch):
    import neurosim.demo
    import neurosim.neurons.tuning

    monkeypatch.setattr(neurosim.neurons.tuning, "tuning_curve", lambda *a, **k: pytest.fail("computed"))
    monkeypatch.setattr(neurosim.HodgkinHuxley, "simulate", lambda *a, **k: pytest.fail("computed"))
    monkeypatch.setattr(neurosim.demo, "run_demo", lambda *a, **k: pytest.fail("computed"))
    err = _refused(argv + ["--out", str(tmp_path / "x.png")], capsys)
    assert len(err) == 1 and all(w in err[0] for w in words), err
    assert "max_steps" not in err[0] and "error: T must" not in err[0]


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="needs Linux /proc (an unwritable folder even for root)")
@pytest.mark.parametrize("argv, flag", [
    (["network", "--n", "80", "--T", "0.01", "--out", "/proc/x.png"], "--out"),
    (["hh", "--out", "/proc/x.png"], "--out"),
    (["tuning", "--out", "/proc/x.png"], "--out"),
    (["tuning", "--points", "3", "--csv", "/proc/x.csv"], "--csv"),
    (["demo", "--out", "/proc/x"], "--out"),
])
def test_unwritable_output_refused_before_computing(argv, flag, tmp_path, capsys, monkeypatch):
    import neurosim.demo
    import neurosim.network.examples as ex
    import neurosim.neurons.tuning

    monkeypatch.chdir(tmp_path)  # tuning --csv: the default --out lands here
    monkeypatch.setattr(neurosim.neurons.tuning, "tuning_curve", lambda *a, **k: pytest.fail("computed"))
    monkeypatch.setattr(neurosim.HodgkinHuxley, "simulate", lambda *a, **k: pytest.fail("computed"))
    monkeypatch.setattr(neurosim.demo, "run_demo", lambda *a, **k: pytest.fail("computed"))
    monkeypatch.setitem(ex.EXAMPLES, "cuba", lambda *a, **k: pytest.fail("computed"))
    err = _refused(argv, capsys)
    assert len(err) == 1 and flag in err[0] and "/proc/x" in err[0] and ".tmp" not in err[0], err
    assert not list(tmp_path.iterdir())  # nothing written, not even the PNG before the CSV


def test_atomic_write_errors_name_the_destination(tmp_path, monkeypatch):
    from neurosim.io import atomic_write

    target = tmp_path / "a.txt"
    real_replace = os.replace

    def failing_replace(src, dst):
        raise PermissionError(13, "Permission denied", src)

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(PermissionError) as info:
        with atomic_write(target, "w") as f:
            f.write("x")
    assert info.value.filename == str(target) and ".tmp" not in str(info.value)
    monkeypatch.setattr(os, "replace", real_replace)
    assert list(tmp_path.iterdir()) == []  # temporary removed
    with pytest.raises(FileNotFoundError) as info:
        with atomic_write(tmp_path / "missing" / "b.txt", "w") as f:
            f.write("x")
    assert info.value.filename == str(tmp_path / "missing" / "b.txt")


def test_hh_error_is_exactly_one_line_warnings_only_on_success(tmp_path, capsys):
    err = _refused(["hh", "--dt", "1e-4", "--duration", "0.05", "--out", str(tmp_path / "x.png")], capsys)
    assert len(err) == 1 and "--dt" in err[0] and "--method" in err[0] and "method=" not in err[0], err
    assert main(["hh", "--dt", "6.25e-5", "--duration", "0.005", "--out", str(tmp_path / "y.png")]) == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert err and all(line.startswith("neurosim hh: warning:") for line in err), err


def test_hh_tuning_warns_about_a_degenerate_fit(tmp_path, capsys, monkeypatch):
    import neurosim.neurons.tuning

    # rates of an LIF with no refractory period: the fitted tau_ref runs to ~0
    monkeypatch.setattr(neurosim.neurons.tuning, "tuning_curve",
                        lambda model, I, **k: neurosim.LIF(0.01, 0.0).rate(0.8 + 0.05 * np.asarray(I)))
    assert main(["tuning", "--model", "hh", "--imax", "20", "--points", "12", "--out", str(tmp_path / "x")]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "tau_ref" in err


def test_demo_takes_a_seed(tmp_path, monkeypatch, capsys):
    import neurosim.demo

    seen = {}
    monkeypatch.setattr(neurosim.demo, "run_demo", lambda out, seed=0: seen.setdefault("seed", seed) and "")
    assert main(["demo", "--seed", "7", "--out", str(tmp_path / "d")]) == 0
    assert seen == {"seed": 7}
    assert main(["demo", "--help"]) == 0
    assert "--seed" in capsys.readouterr().out


def test_demo_seed_reaches_the_random_section(tmp_path):
    from neurosim.demo import synapse_section

    a, b, c = (synapse_section(tmp_path, seed=s) for s in (1, 1, 2))
    assert a == b and a != c


def test_network_progress_only_on_a_terminal(tmp_path, capsys):
    args = ["network", "--n", "80", "--T", "0.02", "--out", str(tmp_path / "r.png")]
    assert main(args) == 0
    assert "\r" not in capsys.readouterr().err  # pytest's stderr is not a terminal
    assert main(args + ["--progress"]) == 0
    assert "\r" in capsys.readouterr().err


def test_hh_tuning_out_of_range_names_imax(tmp_path, capsys):
    err = _refused(["tuning", "--model", "hh", "--imax", "1e6", "--points", "2", "--out", str(tmp_path / "x")], capsys)
    assert len(err) == 1 and "--imax" in err[0] and "smaller --imax" in err[0] and "dt=" not in err[0], err
