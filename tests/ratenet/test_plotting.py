"""Every plotting function returns a Figure with the expected content."""
import matplotlib
import numpy as np
import pytest
from matplotlib.figure import Figure

from ratenet import data, plotting
from ratenet.activations import ReLU, Sigmoid, Softmax, Tanh
from ratenet.callbacks import History
from ratenet.layers import Dense
from ratenet.model import Sequential

matplotlib.use("Agg")


@pytest.fixture(autouse=True)
def _close_figures():
    """Close every figure a test opened (matplotlib warns beyond 20 and keeps them in memory)."""
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def test_plot_history():
    h = History()
    for e, (l, vl) in enumerate([(1.0, 1.1), (0.5, 0.7), (0.3, 0.8)], start=1):
        h.append(e, {"loss": l, "val_loss": vl, "accuracy": 0.5 + e / 10, "val_accuracy": 0.5})
    fig = plotting.plot_history(h)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    np.testing.assert_allclose(fig.axes[0].lines[1].get_ydata(), [1.1, 0.7, 0.8])
    with pytest.raises(ValueError, match="metric"):
        plotting.plot_history(h, metrics=["nope"])


def test_plot_activations_draws_function_and_derivative():
    fig = plotting.plot_activations([Sigmoid(), Tanh(), ReLU()], x=np.linspace(-3, 3, 61))
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    y = fig.axes[0].lines[0].get_ydata()
    d = fig.axes[1].lines[0].get_ydata()
    s = 1 / (1 + np.exp(-np.linspace(-3, 3, 61)))
    np.testing.assert_allclose(y, s, rtol=1e-6)
    np.testing.assert_allclose(d, s * (1 - s), rtol=1e-6)


def test_plot_decision_boundary():
    X, T = data.noisy_mapping(60, n_classes=3, n_features=2, rng=0)
    model = Sequential([Dense(2, 3, rng=0), Softmax()])
    fig = plotting.plot_decision_boundary(model, X, T, resolution=30)
    assert isinstance(fig, Figure) and fig.axes[0].collections
    with pytest.raises(ValueError, match="shape"):
        plotting.plot_decision_boundary(model, np.zeros((5, 3)))
