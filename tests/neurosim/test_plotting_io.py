"""neurosim.plotting.save_figure: checked arguments, atomic write, the previous file kept on failure."""
import matplotlib.pyplot as plt
import numpy as np
import pytest

from neurosim import fit_lif
from neurosim.plotting import save_figure


@pytest.mark.parametrize("kwargs, err", [
    (dict(fig=1), TypeError), (dict(path=None), TypeError), (dict(path=""), ValueError),
    (dict(dpi=float("nan")), ValueError), (dict(dpi=0), ValueError), (dict(dpi="high"), TypeError)])
def test_save_figure_rejects_bad_arguments(tmp_path, kwargs, err):
    fig = plt.figure()
    args = dict(fig=fig, path=str(tmp_path / "a.png"), dpi=50)
    args.update(kwargs)
    with pytest.raises(err):
        save_figure(**args)
    plt.close(fig)


def test_save_figure_refuses_a_folder_and_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    fig = plt.figure()
    with pytest.raises(ValueError, match="folder"):
        save_figure(fig, tmp_path)
    target = tmp_path / "a.png"
    assert save_figure(fig, target, dpi=40) == str(target)
    before = target.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(fig, "savefig", broken)
    with pytest.raises(OSError):
        save_figure(fig, target)
    assert target.read_bytes() == before and sorted(p.name for p in tmp_path.iterdir()) == ["a.png"]
    plt.close(fig)


@pytest.fixture(scope="module")
def linear_fit():
    """One (slow: the linear curve drives tau_m to its bound) fit shared by the input checks below."""
    I = np.linspace(0, 50, 20)
    with pytest.warns(RuntimeWarning):
        return fit_lif(I, np.maximum(0, np.linspace(-10, 100, 20)))


@pytest.mark.parametrize("bad, err", [("x", TypeError), (1j, TypeError), (np.nan, ValueError), (None, TypeError)])
def test_lif_fit_J_checks_its_input(bad, err, linear_fit):
    fit = linear_fit
    with pytest.raises(err, match="I"):
        fit.J(bad)
    np.testing.assert_allclose(fit.J(np.float32(2.0)), fit.gain * 2.0 + fit.bias, rtol=1e-7)


def test_plot_network_activity_refuses_a_huge_population_before_allocating():
    import tracemalloc
    from neurosim.plotting import plot_network_activity
    events = (np.array([0.01, 0.02]), np.array([0, 3]))
    figures = plt.get_fignums()  # figures other tests left open
    tracemalloc.start()
    with pytest.raises(ValueError, match="n_neurons=1000000000000 would allocate"):   # was MemoryError
        plot_network_activity(events, 10**12, 0.1)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 10**6 and plt.get_fignums() == figures  # refused before the figure and the counts


@pytest.mark.parametrize("args, err, match", [
    (((np.array([0.01]), np.array([5])), 4, 0.1), ValueError, "events indices"),
    (((np.array([0.01, 0.2]), np.array([1])), 4, 0.1), ValueError, "same length"),
    (((np.array([0.01]), np.array([1])), 4, 0.0), ValueError, "T"),
    ((np.array([0.01]), 4, 0.1), TypeError, "pair"),
    (((np.array([0.01]), np.array([1])), 4.0, 0.1), TypeError, "n_neurons")])
def test_plot_network_activity_checks_its_arguments(args, err, match):
    from neurosim.plotting import plot_network_activity
    with pytest.raises(err, match=match):
        plot_network_activity(*args)


def test_plot_network_activity_draws_the_rates():
    from neurosim.plotting import plot_network_activity
    fig = plot_network_activity((np.array([0.01, 0.02, 0.05]), np.array([0, 0, 2])), 3, 0.5)
    assert "mean rate 2.00 Hz" in fig.axes[0].get_title()     # 3 spikes / 3 neurons / 0.5 s
    plt.close(fig)
