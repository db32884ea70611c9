"""matplotlib figures for ratenet: loss curves, activation functions, decision boundaries.

Every function returns the :class:`matplotlib.figure.Figure` it drew on (pass
``ax=`` to draw into an existing axes, then its figure is returned).
"""
import numpy as np

from neurosim.validation import check_alloc, check_bool, check_int, check_number, check_same_length, renamed_argument
from .activations import _labels

__all__ = ["plot_history", "plot_activations", "plot_decision_boundary"]


def _figure(ax, **kw):
    import matplotlib.pyplot as plt  # lazy: importing ratenet must not need a display backend

    if ax is None:
        fig, ax = plt.subplots(**kw)
        return fig, ax
    return ax.figure, ax


def plot_history(history, metrics=None, ax=None, title=None, log=False):
    """Training (solid) and validation (dashed) curves per epoch.

    Parameters
    ----------
    history : History or dict of str -> sequence
        As returned by :func:`ratenet.fit`.
    metrics : sequence of str, optional
        Base names to plot, e.g. ``("loss", "accuracy")``; default: all recorded.
        Each gets its own axes (unless ``ax`` is given, which takes one metric).
    ax : matplotlib Axes, optional
    title : str, optional
    log : bool
        Logarithmic y axis for loss panels.

    Returns
    -------
    matplotlib.figure.Figure
    """
    log = check_bool("log", log)
    h = getattr(history, "history", history)
    if not isinstance(h, dict) or "loss" not in h:
        raise TypeError("history must be a ratenet History or a dict with at least a 'loss' entry")
    if metrics is None:
        metrics = [k for k in h if not k.startswith("val_")]
    metrics = list(metrics)
    for m in metrics:
        if m not in h:
            raise ValueError(f"metric {m!r} not in history; recorded: {sorted(h)}")
    if ax is not None and len(metrics) != 1:
        raise ValueError(f"ax= draws one metric; got metrics={metrics}")
    fig, axes = _figure(ax, ncols=len(metrics), figsize=(5 * len(metrics), 3.6), squeeze=False) \
        if ax is None else _figure(ax)
    axes = np.atleast_1d(axes).ravel()
    for a, m in zip(axes, metrics):
        epochs = np.arange(1, len(h[m]) + 1)
        line, = a.plot(epochs, h[m], label=f"train {m}")
        if "val_" + m in h:
            a.plot(epochs, h["val_" + m], "--", color=line.get_color(), label=f"validation {m}")
        a.set_xlabel("epoch")
        a.set_ylabel(m)
        if log and "loss" in m:
            a.set_yscale("log")
        a.legend()
        a.grid(alpha=0.3)
    best = getattr(history, "best_epoch", None)
    if best is not None:
        for a in axes:
            a.axvline(best, color="k", lw=0.8, alpha=0.5)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _curves(act, X):
    """(f(z), f'(z)) at z = X: ``function``/``derivative`` if present, else forward/backward."""
    if callable(getattr(act, "function", None)) and callable(getattr(act, "derivative", None)):
        return np.asarray(act.function(X)), np.asarray(act.derivative(X))
    if not callable(getattr(act, "forward", None)):
        raise TypeError(f"activations need function/derivative or forward/backward methods, got {act!r}")
    y = np.asarray(act.forward(X))
    return y, np.asarray(act.backward(np.ones_like(y)))


def plot_activations(activations, x=None, ax=None, derivatives=True, title=None):
    """Activation functions and (dashed) their derivatives.

    Parameters
    ----------
    activations : activation object or sequence of them
        Each has ``function(z)`` and ``derivative(z)`` (ratenet activations, or a
        tuning-curve activation), or else ``forward``/``backward``. Evaluated on
        ``x`` reshaped to (n, 1).
    x : array, shape (n,), optional
        Inputs; default ``linspace(-5, 5, 501)``.
    ax : matplotlib Axes, optional
        One axes for everything; default: two panels (functions, derivatives).
    derivatives : bool
    title : str, optional

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not isinstance(activations, (list, tuple)):
        activations = [activations]
    x = np.linspace(-5, 5, 501) if x is None else np.asarray(x, dtype=float).ravel()
    X = x[:, None]
    if ax is None:
        fig, axes = _figure(None, ncols=2 if derivatives else 1, figsize=(10 if derivatives else 5, 3.6),
                            squeeze=False)
        a_f, a_d = axes[0, 0], (axes[0, 1] if derivatives else None)
    else:
        fig, a_f = _figure(ax)
        a_d = ax if derivatives else None
    for act in activations:
        name = getattr(act, "name", None) or type(act).__name__
        y, dy = _curves(act, X.copy())
        line, = a_f.plot(x, y.ravel(), label=name)
        if a_d is not None:
            a_d.plot(x, dy.ravel(), "--", color=line.get_color(), label=f"{name}'")
    for a, lab in ((a_f, "f(z)"), (a_d, "f'(z)")):
        if a is not None and (ax is None or a is a_f):
            a.set_xlabel("z")
            a.set_ylabel(lab if ax is None else "f(z), f'(z)")
            a.grid(alpha=0.3)
            a.legend(fontsize="small")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


@renamed_argument("T", "y")
def plot_decision_boundary(model, X, y=None, ax=None, resolution=200, margin=0.5, title=None):
    """Predicted class over a 2-D input plane, with the data points on top.

    Parameters
    ----------
    model : object with ``forward(X, training=False)`` or ``predict(X)``
        Outputs of shape (m, k): class = argmax for k > 1, ``y > 0.5`` for k = 1.
    X : array, shape (n, 2)
    y : array, shape (n,) or (n, k), optional
        Targets to colour the points (``T=`` is a deprecated spelling).
        Labels for colouring the points (indices, one-hot or 0/1).
    resolution : int
        Grid points per axis.
    margin : float
        Extra space around the data, in input units.

    Returns
    -------
    matplotlib.figure.Figure
    """
    if not (callable(getattr(model, "forward", None)) or callable(getattr(model, "predict", None))):
        raise TypeError(f"model must have forward(X, training=False) or predict(X), got {type(model).__name__}")
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (n, 2) for a 2-D decision boundary, got {X.shape}")
    if y is not None:
        check_same_length("X", X, "y", np.asarray(y))
    resolution = check_int("resolution", resolution, low=2)
    check_alloc("resolution", resolution, 4 * resolution**2, 8)      # grid, outputs, labels
    margin = check_number("margin", margin, low=0)
    fig, ax = _figure(ax, figsize=(5, 4.5))
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.column_stack([g0.ravel(), g1.ravel()])
    dtype = np.float32
    params = getattr(model, "parameters", None)
    if callable(params) and list(params()):
        dtype = list(params())[0].data.dtype
    # forward (network outputs) rather than predict, whose output format may be labels
    if callable(getattr(model, "forward", None)):
        Y = np.asarray(model.forward(grid.astype(dtype), training=False))
    else:
        Y = np.asarray(model.predict(grid.astype(dtype)))
    Y = Y.reshape(len(grid), -1)
    cls = _labels(Y, 0.5)
    ax.contourf(g0, g1, cls.reshape(g0.shape), levels=np.arange(cls.max() + 2) - 0.5, cmap="coolwarm", alpha=0.35)
    if y is not None:
        T = np.asarray(y)
        labels = _labels(T.reshape(len(T), -1), 0.5) if T.dtype.kind == "f" or T.ndim == 2 else T
        ax.scatter(X[:, 0], X[:, 1], c=np.asarray(labels, dtype=float), cmap="coolwarm", edgecolors="k", s=25)
    else:
        ax.scatter(X[:, 0], X[:, 1], c="k", s=10)
    ax.set_xlabel("x1")
    ax.set_ylabel("x2")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return fig
