"""Matplotlib figures. Every function returns the Figure (and draws into ``ax`` when given)."""
import numpy as np


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
