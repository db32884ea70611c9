"""Matplotlib figures. Every function returns the Figure (and draws into ``ax`` when given)."""
import numpy as np

from . import validation as check


def _figure(ax, figsize=(6, 4)):
    import matplotlib.pyplot as plt

    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    else:
        fig = ax.figure
    return fig, ax


def plot_tuning_curves(J, curves, ax=None, xlabel="input current J (normalized)", title="Tuning curves"):
    """Plot firing rate against input.

    Parameters
    ----------
    J : array_like, shape (M,)
        Inputs (x axis).
    curves : dict of label -> array (M,) or (J_i, rates_i) tuple
        Rates in Hz; a tuple gives a curve with its own x values; labels containing
        "simulated" or "measured" are drawn as markers.
    """
    fig, ax = _figure(ax)
    for label, rates in curves.items():
        x, y = (rates if isinstance(rates, tuple) else (J, rates))
        style = "o" if any(w in label for w in ("simulated", "measured")) else "-"
        ax.plot(x, y, style, ms=3, label=label)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("firing rate (Hz)")
    ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    return fig


def plot_raster(spike_times, ax=None, t_max=None, title="Spike raster", ylabel="neuron"):
    """Raster plot: one row of ticks per neuron.

    Parameters
    ----------
    spike_times : list of arrays, or (times, indices) events
        Spike times in seconds.
    """
    fig, ax = _figure(ax)
    if isinstance(spike_times, tuple):
        times, indices = spike_times
    else:
        times = np.concatenate([np.asarray(s) for s in spike_times]) if len(spike_times) else np.zeros(0)
        indices = np.repeat(np.arange(len(spike_times)), [len(s) for s in spike_times])
    ax.scatter(times, indices, s=2, marker="|", color="k", linewidths=0.5)
    ax.set_xlabel("time (s)")
    ax.set_ylabel(ylabel)
    if t_max is not None:
        ax.set_xlim(0, t_max)
    ax.set_title(title)
    return fig


def plot_voltage(t, v, ax=None, ylabel="v (normalized)", title="Membrane voltage", labels=None):
    """Voltage traces: ``t`` (steps,) in seconds, ``v`` (steps, N)."""
    fig, ax = _figure(ax)
    v = np.asarray(v).reshape(len(t), -1)
    for i in range(v.shape[1]):
        ax.plot(t, v[:, i], lw=1, label=None if labels is None else labels[i])
    ax.set_xlabel("time (s)")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if labels is not None:
        ax.legend()
    return fig


def plot_psc_filters(synapses, spike_times, t, title="PSC filters"):
    """Kernels of several PSC filters (left) and one spike train filtered by each (right).

    Parameters
    ----------
    synapses : list of PSCFilter
    spike_times : array_like
        One spike train (s).
    t : array_like
        Times (s) for the filtered trains.
    """
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    tk = np.linspace(0, 6 * max(s.tau_s * (s.n + 1) for s in synapses), 400)
    for s in synapses:
        label = f"n={s.n}, tau_s={s.tau_s * 1e3:g} ms"
        ax1.plot(tk * 1e3, s.kernel(tk), label=label)
        ax2.plot(t, s.filter(spike_times, t), label=label)
    ax1.set_xlabel("time since spike (ms)")
    ax1.set_ylabel("h(t) (1/s)")
    ax1.set_title("kernels (unit area)")
    ax1.legend()
    ax2.plot(spike_times, np.zeros(len(spike_times)), "k|", ms=12, label="spikes")
    ax2.set_xlabel("time (s)")
    ax2.set_ylabel("filtered train (Hz)")
    ax2.set_title("filtered spike train")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_network_activity(events, n_neurons, T, title="Network activity", max_neurons=500):
    """Raster of the first ``max_neurons`` neurons (top) and the histogram of firing rates (bottom).

    Parameters
    ----------
    events : (times, indices)
        Spikes of the population.
    n_neurons : int
        Neurons in the population (>= 1; indices must be below it). Refused
        before anything is allocated when its per-neuron counts would not fit
        in memory.
    T : float
        Duration (s), > 0.
    title : str
    max_neurons : int
        Neurons shown in the raster, >= 1.
    """
    import matplotlib.pyplot as plt

    times, indices, n_neurons, T = _check_activity(events, n_neurons, T)
    max_neurons = check.check_int("max_neurons", max_neurons, low=1)
    title = check.check_str("title", title)
    fig, (ax1, ax2) = plt.subplots(2, 1, figsize=(7, 7), gridspec_kw={"height_ratios": [2, 1]})
    shown = indices < max_neurons
    ax1.scatter(times[shown], indices[shown], s=1, marker="|", color="k", linewidths=0.5)
    ax1.set_xlim(0, T)
    ax1.set_xlabel("time (s)")
    ax1.set_ylabel(f"neuron (first {min(max_neurons, n_neurons)})")
    counts = np.bincount(indices, minlength=n_neurons)
    rates = counts / T
    ax1.set_title(f"{title}: {n_neurons} neurons, mean rate {rates.mean():.2f} Hz")
    # rates are counts / T: bin edges between whole counts, or bins would alias into gaps
    width = max(1, int(np.ceil((counts.max() + 1) / 40)))
    edges = (np.arange(0, counts.max() + width + 1, width) - 0.5) / T
    ax2.hist(rates, bins=edges, color="0.4")
    ax2.set_xlabel("firing rate (Hz)")
    ax2.set_ylabel("neurons")
    fig.tight_layout()
    return fig


def _check_activity(events, n_neurons, T):
    """(times, indices, n_neurons, T) checked; n_neurons before anything of its size is allocated."""
    n_neurons = check.check_int("n_neurons", n_neurons, low=1)
    check.check_alloc("n_neurons", n_neurons, n_neurons, itemsize=16)   # counts (int64) + rates (float64)
    T = check.check_number("T", T, low=0, low_open=True)
    if not isinstance(events, (tuple, list)) or len(events) != 2:
        raise TypeError(f"events must be a pair (times, indices), got {type(events).__name__}")
    times = check.real_array("events times", events[0], ndim=1)
    indices = check.index_array("events indices", events[1], n_neurons)
    if len(times) != len(indices):
        raise ValueError(f"events: times and indices must have the same length, "
                         f"got {len(times)} times and {len(indices)} indices")
    return times, indices, n_neurons, T


def plot_population_rate(events, n_neurons, T, bin=0.005, ax=None, synapse=None, title="Population rate",
                         label=None):
    """Population rate over time, in Hz per neuron (Brian2's ``PopulationRateMonitor`` plotted).

    Spikes are counted in bins ``[k*bin, (k+1)*bin)`` (:func:`neurosim.population_rate`,
    the same bins as a ``"rate"`` probe) and drawn as steps over each bin; with a
    batch, one line per trial.

    Parameters
    ----------
    events : (times, indices) or (times, indices, trials)
        Spikes in seconds, e.g. ``spike_probe.data``.
    n_neurons : int
        Neurons of the population.
    T : float
        Duration (s).
    bin : float
        Bin width (s).
    ax : matplotlib Axes, optional
    synapse : PSCFilter, optional
        Also draw the rate smoothed by this filter (:func:`neurosim.filter_binned`).
    title, label : str, optional
    """
    from .spikes.stats import population_rate

    t, rate = population_rate(events, n_neurons, T, bin)
    fig, ax = _figure(ax, figsize=(7, 3))
    rows = rate.reshape(len(t), -1)
    edges = np.arange(len(t) + 1) * bin
    for col in range(rows.shape[1]):
        ax.stairs(rows[:, col], edges, label=label if rows.shape[1] == 1 else f"trial {col}")
    if synapse is not None and len(t):
        from .synapses import filter_binned

        ax.plot(t, filter_binned(synapse, rows, bin), color="k", lw=1, label=f"smoothed ({synapse!r})")
    ax.set_xlim(0, T)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("rate (Hz per neuron)")
    ax.set_title(f"{title}: {n_neurons} neurons, bins of {bin * 1e3:g} ms, mean {rate.mean() if rate.size else 0:.2f} Hz")
    if label is not None or rows.shape[1] > 1 or synapse is not None:
        ax.legend()
    ax.grid(alpha=0.3)
    return fig


def plot_hh_trace(t, V, gates=None, title="Hodgkin-Huxley neuron", labels=None):
    """Membrane potential (top) and gating variables (bottom) of HH neurons.

    Parameters
    ----------
    t : ndarray, shape (steps,)
        Times in seconds (plotted in ms).
    V : ndarray, shape (steps,) or (steps, N)
        Membrane potential in mV.
    gates : dict of name -> ndarray (steps,) or (steps, N), optional
        E.g. ``{"m": res.m, "h": res.h, "n": res.n}``; first neuron shown. Omitted: V only.
    labels : list of str, optional
        One label per neuron in V.
    """
    import matplotlib.pyplot as plt

    rows = 2 if gates else 1
    fig, axes = plt.subplots(rows, 1, figsize=(7, 2.6 * rows + 0.6), sharex=True, squeeze=False)
    t_ms = np.asarray(t) * 1e3
    V = np.asarray(V).reshape(len(t_ms), -1)
    ax = axes[0, 0]
    for i in range(V.shape[1]):
        ax.plot(t_ms, V[:, i], lw=1, label=None if labels is None else labels[i])
    ax.set_ylabel("V (mV)")
    ax.set_title(title)
    if labels is not None:
        ax.legend(fontsize=8)
    if gates:
        ax = axes[1, 0]
        for name, x in gates.items():
            ax.plot(t_ms, np.asarray(x).reshape(len(t_ms), -1)[:, 0], lw=1, label=name)
        ax.set_ylabel("gate")
        ax.set_ylim(-0.02, 1.02)
        ax.legend(fontsize=8, loc="upper right")
    axes[-1, 0].set_xlabel("time (ms)")
    fig.tight_layout()
    return fig


def plot_fi_fit(I, rates, fit=None, ax=None, title="Hodgkin-Huxley f-I curve", xlabel="input current I (uA/cm^2)"):
    """Measured f-I curve (markers) with an LIF fit (line) from :func:`neurosim.fit_lif`.

    Parameters
    ----------
    I : array_like, shape (M,)
        Inputs.
    rates : array_like, shape (M,)
        Measured rates in Hz.
    fit : LIFFit, optional
        Drawn on a fine grid over the range of I, labelled with its parameters.
    """
    fig, ax = _figure(ax)
    I = np.asarray(I, dtype=float)
    ax.plot(I, rates, "o", ms=3, label="measured (HH)")
    if fit is not None:
        x = np.linspace(I.min(), I.max(), 400)
        ax.plot(x, fit.rate(x), "-", label=(f"fitted LIF: tau_m={fit.model.tau_m * 1e3:.3g} ms, "
                                              f"tau_ref={fit.model.tau_ref * 1e3:.3g} ms"))
    ax.set_xlabel(xlabel)
    ax.set_ylabel("firing rate (Hz)")
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return fig


def save_figure(fig, path, dpi=120):
    """Write ``fig`` to ``path`` atomically (the old file survives a failed write); the format is
    the file's extension. Returns the path written."""
    import os

    from matplotlib.figure import Figure

    from . import validation as check
    from .io import atomic_write

    if not isinstance(fig, Figure):
        raise TypeError(f"fig must be a matplotlib Figure, got {type(fig).__name__}")
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    path = os.fspath(path)
    if not os.path.basename(path):
        raise ValueError(f"path must name a file, got {path!r}")
    if os.path.isdir(path):
        raise ValueError(f"path {path!r} is a folder; give a file name such as {os.path.join(path, 'figure.png')!r}")
    dpi = check.positive("dpi", dpi)
    fmt = os.path.splitext(path)[1].lstrip(".").lower() or "png"
    with atomic_write(path, "wb") as f:
        fig.savefig(f, format=fmt, dpi=dpi)
    return path


__all__ = ["plot_tuning_curves", "plot_raster", "plot_voltage", "plot_psc_filters", "plot_network_activity",
           "plot_population_rate", "plot_hh_trace", "plot_fi_fit", "save_figure"]
