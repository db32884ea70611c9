"""Smoke tests: bridge comparison figures and the ``ratenet demo`` command."""
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
