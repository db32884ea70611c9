"""Figures comparing a rate network with its spiking version (:func:`ratenet.to_spiking`).

Sweeps (:func:`accuracy_sweep`) compute; ``plot_*`` functions draw and return
the :class:`matplotlib.figure.Figure`.
"""
import numpy as np

from neurosim import fit_lif
from neurosim.neurons.hh import HodgkinHuxley

from .activations import LIFRate, SoftLIFRate, TuningCurveActivation

__all__ = ["accuracy_sweep", "plot_rate_vs_spiking", "plot_accuracy_sweep", "plot_rate_histograms",
           "plot_tuning_curves", "bridge_curves"]


def _subplots(n, width=3.6, height=3.2):
    import matplotlib.pyplot as plt  # lazy: importing ratenet needs no display

    fig, axes = plt.subplots(1, n, figsize=(width * n, height), squeeze=False)
    return fig, axes[0]


def accuracy_sweep(snn, X, labels, T=(0.02, 0.05, 0.1, 0.2, 0.5), tau_s=None, **predict_kwargs):
    """Spiking accuracy over presentation times, or over synaptic time constants.

    Parameters
    ----------
    snn : SpikingModel
    X : array_like (n_samples, n_in); labels : array_like (n_samples,) int
    T : float or sequence of float
        Presentation times in seconds (a sequence unless ``tau_s`` is given).
    tau_s : sequence of float, optional
        Synaptic time constants in seconds to scan at the single time ``T``
        (exponential synapses of the model's order).
    **predict_kwargs
        Passed to :meth:`SpikingModel.predict`.

    Returns
    -------
    values, accuracies : ndarray (k,), ndarray (k,)
        The scanned T (or tau_s) values and the accuracy (fraction) at each.
    """
    from neurosim.synapses import PSCFilter

    if tau_s is None:
        values = np.atleast_1d(np.asarray(T, dtype=float))
        acc = [snn.accuracy(X, labels, T=float(t), **predict_kwargs) for t in values]
    else:
        if np.ndim(T) != 0:
            raise ValueError(f"T: expected one presentation time when scanning tau_s, got {T!r}")
        values = np.atleast_1d(np.asarray(tau_s, dtype=float))
        acc = [snn.accuracy(X, labels, T=float(T), synapse=PSCFilter(float(ts), snn.synapse.n),
                            **predict_kwargs) for ts in values]
    return values, np.array(acc)


def plot_rate_vs_spiking(snn, X, result=None, T=0.2, exact=True, max_points=4000, rng=0):
    """Scatter of rate-model vs spiking values, one panel per layer plus the read-out.

    Parameters
    ----------
    snn : SpikingModel
    X : array_like (n_samples, n_in)
    result : SpikingResult, optional
        From ``snn.run(X)``; computed with ``T`` if None.
    T : float
        Presentation time (s) when ``result`` is None.
    exact : bool
        Compare with the exact LIF curve (True) or the model's own activations.
    max_points : int
        Subsample each panel to at most this many points (drawn with ``rng``).

    Returns
    -------
    matplotlib.figure.Figure
    """
    if result is None:
        result = snn.run(X, T=T)
    _, rate_readout, rate_act = snn.rate_layers(X, exact=exact)
    pairs = [(f"layer {i + 1} ({a.shape[1]} units)", a, s)
             for i, (a, s) in enumerate(zip(rate_act, result.activity))]
    if snn.readout is not None:
        pairs.append(("read-out", rate_readout, result.readout))
    fig, axes = _subplots(len(pairs))
    gen = np.random.default_rng(rng)
    for ax, (name, a, s) in zip(axes, pairs):
        a, s = a.ravel(), s.ravel()
        keep = gen.choice(a.size, min(a.size, max_points), replace=False)
        ax.plot(a[keep], s[keep], ".", ms=2, alpha=0.4)
        lo, hi = min(a.min(), s.min()), max(a.max(), s.max())
        ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
        r = np.corrcoef(a, s)[0, 1] if a.std() > 0 and s.std() > 0 else np.nan
        ax.set(title=f"{name}: r = {r:.4f}", xlabel="rate network", ylabel="spiking (time average)")
    w0, w1 = result.window
    fig.suptitle(f"rate vs spiking, averaged over [{w0:.3g}, {w1:.3g}] s")
    fig.tight_layout()
    return fig


def plot_accuracy_sweep(values, accuracies, rate_accuracy=None, xlabel="presentation time T (s)",
                        label="spiking", ax=None, log=True):
    """Accuracy (%) against T or tau_s, with the rate network's accuracy as a line.

    Parameters
    ----------
    values, accuracies : array_like (k,)
        As returned by :func:`accuracy_sweep`; accuracies as fractions.
    rate_accuracy : float or dict of str -> float, optional
        Horizontal reference line(s), fractions.
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if ax is None:
        fig, (ax,) = _subplots(1, 5, 3.6)
    fig = ax.figure
    ax.plot(values, 100 * np.asarray(accuracies), "o-", label=label)
    refs = rate_accuracy if isinstance(rate_accuracy, dict) else (
        {} if rate_accuracy is None else {"rate network": rate_accuracy})
    for (name, acc), style in zip(refs.items(), ("--", ":", "-.")):
        ax.axhline(100 * acc, color="k", ls=style, lw=1, label=f"{name} ({100 * acc:.1f} %)")
    if log:
        ax.set_xscale("log")
        ax.minorticks_off()
    ax.set_xticks(np.asarray(values, dtype=float))
    ax.set_xticklabels([f"{v:g}" for v in np.asarray(values, dtype=float)])
    ax.set(xlabel=xlabel, ylabel="test accuracy (%)")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_rate_histograms(result, bins=30):
    """Histogram of firing rates (Hz) per layer, with the fraction of silent neurons.

    Parameters
    ----------
    result : SpikingResult

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig, axes = _subplots(len(result.rates))
    for i, (ax, r) in enumerate(zip(axes, result.rates)):
        r = r.ravel()
        silent = np.mean(r == 0)
        ax.hist(r[r > 0], bins=bins)
        ax.set(title=f"layer {i + 1}: mean {r.mean():.1f} Hz, {100 * silent:.0f} % silent",
               xlabel="firing rate (Hz)", ylabel="neurons × samples")
    fig.tight_layout()
    return fig


def bridge_curves(tau_m=0.02, tau_ref=0.002, sigma=0.02, hh=True, hh_scale=10.0, T_hh=0.4):
    """The tuning curves of the bridge as activations (amplitude 1: output in Hz).

    Returns a dict name -> Activation: ``"LIF"``, ``"soft-LIF (sigma=…)"`` and,
    when ``hh``, ``"HH"``: the measured Hodgkin–Huxley f–I curve with z = 0 at
    its measured threshold and ``hh_scale`` µA/cm² per unit z (a few seconds of
    simulation), and ``"LIF fitted to HH"`` (:func:`neurosim.fit_lif`).
    """
    curves = {"LIF": LIFRate(tau_m, tau_ref), f"soft-LIF (σ={sigma:g})": SoftLIFRate(tau_m, tau_ref, sigma=sigma)}
    if not hh:
        return curves
    I = np.concatenate([np.linspace(0.0, 12.0, 25), np.linspace(13.0, 60.0, 20)])
    hh_act = TuningCurveActivation.from_model(HodgkinHuxley(), I, T=T_hh, dt=2.5e-5, t_start=0.1)
    rates = np.asarray(hh_act.rates)
    threshold = float(I[np.argmax(rates > 0)]) if np.any(rates > 0) else 0.0
    curves["HH"] = TuningCurveActivation(I, rates, offset=threshold, scale=hh_scale)
    fitted = fit_lif(I, rates)
    curves["LIF fitted to HH"] = TuningCurveActivation.from_callable(
        fitted.rate, np.linspace(I[0], I[-1], 400), offset=threshold, scale=hh_scale)
    return curves


def plot_tuning_curves(curves, z=None, ax=None):
    """Tuning curves used as activations, on one axes: rate (Hz) against z.

    Parameters
    ----------
    curves : dict of str -> Activation
        E.g. from :func:`bridge_curves`; each is drawn as ``function(z) / amplitude``.
    z : array_like, optional
        Normalized input (z = 0 at threshold); default linspace(-0.5, 3, 600).
    ax : matplotlib Axes, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    z = np.linspace(-0.5, 3.0, 600) if z is None else np.asarray(z, dtype=float)
    if ax is None:
        fig, (ax,) = _subplots(1, 5.5, 3.8)
    for i, (name, act) in enumerate(curves.items()):
        ax.plot(z, act.function(z) / getattr(act, "amplitude", 1.0), ("-", "--", "-", ":")[i % 4], label=name)
    ax.set(xlabel="z (normalized input, 0 = threshold)", ylabel="firing rate (Hz)",
           title="tuning curves as activation functions")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return ax.figure
