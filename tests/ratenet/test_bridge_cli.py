"""Smoke tests: bridge comparison figures and the ``ratenet demo`` command."""
import pathlib

import matplotlib
import numpy as np
import pytest

import ratenet
from ratenet.spiking import plots as sp
from ratenet.cli import main
from ratenet.spiking.activations import SoftLIFRate


@pytest.fixture(scope="module")
def snn_data():
    rng = np.random.default_rng(0)
    model = ratenet.Sequential([ratenet.Dense(5, 12, rng=rng), SoftLIFRate(amplitude=1 / 63),
                                ratenet.Dense(12, 3, rng=rng), ratenet.Softmax()])
    model.layers[0].b = np.full(12, 0.8, np.float32)
    X = rng.uniform(-1, 1, (30, 5))
    labels = model.predict(X).argmax(1)
    return ratenet.to_spiking(model), X, labels


def test_figures_are_returned(snn_data):
    snn, X, labels = snn_data
    res = snn.run(X, T=0.1)
    figs = [sp.plot_rate_vs_spiking(snn, X, result=res), sp.plot_rate_histograms(res),
            sp.plot_tuning_curves(sp.bridge_curves(hh=False))]
    Ts, acc = sp.accuracy_sweep(snn, X, labels, T=(0.02, 0.1))
    figs.append(sp.plot_accuracy_sweep(Ts, acc, rate_accuracy={"rate": 1.0}))
    taus, acc_tau = sp.accuracy_sweep(snn, X, labels, T=0.1, tau_s=(0.002, 0.01))
    figs.append(sp.plot_accuracy_sweep(taus, acc_tau, 1.0, xlabel="tau_s (s)"))
    assert all(isinstance(f, matplotlib.figure.Figure) for f in figs)
    assert acc.shape == (2,) and acc[-1] > 0.8
    with pytest.raises(ValueError, match="T"):
        sp.accuracy_sweep(snn, X, labels, T=(0.1, 0.2), tau_s=(0.005,))


def test_demo_command_writes_figures(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    assert len(list(tmp_path.glob("*.png"))) == 4
    assert "rate accuracy" in capsys.readouterr().out


def test_cli_errors_are_one_line_exit_2_before_any_work(tmp_path, capsys, monkeypatch):
    import ratenet.cli as cli
    monkeypatch.setattr(cli, "toy_bridge", lambda seed: pytest.fail("computed before checking --out"))
    (tmp_path / "afile").write_text("x")
    for argv in (["demo", "--seed", "-1"], ["demo", "--seed", "x"], ["demo", "--out", str(tmp_path / "afile")],
                 ["nope"]):
        with pytest.raises(SystemExit) as info:
            code = main(argv)
            raise SystemExit(code)
        assert info.value.code == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "error" in err, (argv, err)


def test_cli_creates_nested_out_and_prints_the_files_written(tmp_path, capsys, monkeypatch):
    out = tmp_path / "a" / "b"
    assert main(["demo", "--out", str(out)]) == 0
    printed = [line[len("wrote "):] for line in capsys.readouterr().out.splitlines() if line.startswith("wrote ")]
    assert len(printed) == 4 and all(pathlib.Path(p).is_file() for p in printed)
    assert sorted(map(str, out.iterdir())) == sorted(printed)


def test_cli_help_shows_defaults(capsys):
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    text = capsys.readouterr().out
    assert "default: 0" in text and "default: ratenet_demo" in text


@pytest.mark.skipif(not pathlib.Path("/proc/self").is_dir(), reason="needs Linux /proc (unwritable even for root)")
def test_cli_unwritable_out_names_the_flag_and_path(capsys, monkeypatch):
    import ratenet.cli as cli
    monkeypatch.setattr(cli, "toy_bridge", lambda seed: pytest.fail("computed before checking --out"))
    for out in ("/proc/x", "/proc/x/y", "/proc"):
        assert main(["demo", "--out", out]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and f"--out {out!r}" in err and "Errno" not in err, err
