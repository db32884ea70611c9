"""The bridge between ``ratenet.autodiff`` and ratenet's layer API.

- ``AutodiffLoss(fn)`` turns a loss written in autodiff into an object with
  the interface of ratenet's losses (``loss(Y, y) -> float``,
  ``loss.gradient(Y, y) -> dL/dY``), so it can be passed to ``fit``.
- ``check_layer(layer, fn, X)`` runs a ratenet layer (or model) and the same
  computation written in autodiff and reports how far apart their outputs,
  input gradients and parameter gradients are.
"""
from dataclasses import dataclass, field

import numpy as np

from neurosim.validation import as_rng, check_bool, check_str, real_array, renamed_argument
from .core import Var, _as_float_array, no_grad


class AutodiffLoss:
    """A loss written in autodiff, usable wherever ratenet expects a loss.

    Parameters
    ----------
    fn : callable
        ``fn(Y, T) -> Var`` with a single element: the loss of predictions
        ``Y`` (Var, shape (batch, n_out)) against targets ``T`` (Var, same
        batch; a constant). Write it with autodiff operations, e.g.
        ``lambda Y, T: ((Y - T) ** 2).sum() / (2 * len(Y))``.
    name : str, optional
        Shown in ``repr`` and training summaries; defaults to ``fn.__name__``.

    Notes
    -----
    The computation runs in the dtype of ``Y`` (float32 during ordinary
    training, float64 in gradient checks). The gradient is obtained by one
    ``backward`` through the graph that ``fn`` builds, so ``fn`` must
    depend on ``Y`` through autodiff operations only.

    Examples
    --------
    >>> from ratenet import autodiff as ad
    >>> huber = ad.AutodiffLoss(lambda Y, T: ad.mean(ad.softplus(Y - T) + ad.softplus(T - Y)))
    >>> model.fit(X, T, loss=huber)                   # doctest: +SKIP
    """

    def __init__(self, fn, name=None):
        if not callable(fn):
            raise TypeError(f"fn must be callable as fn(Y, T) -> scalar Var, got "
                            f"{type(fn).__name__}")
        self.fn = fn
        self.name = check_str("name", name) if name is not None else getattr(fn, "__name__", "AutodiffLoss")

    def __repr__(self):
        return f"AutodiffLoss({self.name})"

    def _evaluate(self, Y, T):
        Y = _as_float_array(Y, "Y")
        T = _as_float_array(T, "y")
        if T.ndim == 0 or Y.ndim == 0 or len(T) != len(Y):
            raise ValueError(f"Y and y must have the same number of rows (samples), got "
                             f"shapes {Y.shape} and {T.shape}")
        y = Var(Y)
        out = self.fn(y, Var(T, requires_grad=False))
        if not isinstance(out, Var) or out.size != 1:
            got = f"a Var of shape {out.shape}" if isinstance(out, Var) else type(out).__name__
            raise TypeError(f"fn must return a Var with one element (the loss), got {got}")
        return y, out

    @renamed_argument("T", "y")
    def __call__(self, Y, y):
        """The loss as a Python float."""
        with no_grad():
            return float(self._evaluate(Y, y)[1].item())

    @renamed_argument("T", "y")
    def value(self, Y, y):
        """The loss as a Python float (same as calling the loss)."""
        return self(Y, y)

    @renamed_argument("T", "y")
    def gradient(self, Y, y):
        """dL/dY, an ndarray of the shape and dtype of ``Y``."""
        v, out = self._evaluate(Y, y)
        if not out.requires_grad:
            # fn ignored Y (or used only its value): the loss is constant in Y.
            return np.zeros_like(v.value)
        out.backward()
        return v.grad

    @renamed_argument("T", "y")
    def value_and_gradient(self, Y, y):
        """``(loss, dL/dY)`` from one forward and one backward pass."""
        v, out = self._evaluate(Y, y)
        if out.requires_grad:
            out.backward()
        return float(out.item()), v.grad


@dataclass
class LayerCheck:
    """What ``check_layer`` found: max differences per compared quantity.

    Attributes
    ----------
    diffs : dict of str -> (float, float)
        For ``"output"``, ``"dX"`` and each parameter (by name): the maximum
        absolute difference and the relative one, max|a − b| / max(max|a|, max|b|).
    """

    diffs: dict = field(default_factory=dict)

    @property
    def max_abs(self):
        return max((a for a, _ in self.diffs.values()), default=0.0)

    @property
    def max_rel(self):
        return max((r for _, r in self.diffs.values()), default=0.0)

    def __str__(self):
        rows = [f"{'':>10} {'max abs':>10} {'max rel':>10}"]
        rows += [f"{k:>10} {a:10.3g} {r:10.3g}" for k, (a, r) in self.diffs.items()]
        return "\n".join(rows)


def _difference(a, b, what):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"{what}: the layer gives shape {a.shape}, the autodiff function "
                         f"gives shape {b.shape}; they must be equal")
    if a.size == 0:
        return 0.0, 0.0
    err = float(np.max(np.abs(a - b)))
    scale = max(float(np.max(np.abs(a))), float(np.max(np.abs(b))))
    return err, (err / scale if scale > 0 else 0.0)


def check_layer(layer, fn, X, dY=None, training=False, rng=None):
    """Compare a ratenet layer with the same computation written in autodiff.

    Runs ``layer.forward(X)`` and ``layer.backward(dY)``, then
    ``fn(X, *params)`` and its ``backward(dY)`` in autodiff, where
    ``params`` are Vars sharing the arrays of ``layer.parameters()`` in
    that order, and compares output, dX and each parameter's gradient.

    Parameters
    ----------
    layer : object
        Anything with ``forward(X, training=...)``, ``backward(dY) -> dX``
        and optionally ``parameters()`` (a Dense layer, an activation, a
        Sequential model).
    fn : callable
        ``fn(X, *params) -> Var``, e.g. ``lambda X, W, b: X @ W.T + b`` for Dense.
    X : array_like, shape (batch, n_in) or an image batch (batch, C, H, W)
        Input; use float64 (and a float64 layer) for tight comparisons.
    dY : array_like, optional
        The upstream gradient, shape of the output; random normal by default.
    training : bool, default False
        Passed to ``layer.forward``.
    rng : int or numpy.random.Generator, optional
        Seed or generator for the default ``dY``.

    Returns
    -------
    LayerCheck
        ``.diffs`` maps "output", "dX" and the parameter names to
        (max abs, max rel) differences; ``.max_abs`` and ``.max_rel`` are the
        largest of them.
    """
    if not callable(fn):
        raise TypeError(f"fn must be callable as fn(X, *params) -> Var, got {type(fn).__name__}")
    if not (callable(getattr(layer, "forward", None)) and callable(getattr(layer, "backward", None))):
        raise TypeError(f"layer must have forward(X, training) and backward(dY), got {type(layer).__name__}")
    training = check_bool("training", training)
    gen = as_rng(rng)
    X = real_array("X", X, dtype=None, finite=True, ndim=(2, 3, 4), allow_empty=False)
    params = list(layer.parameters()) if hasattr(layer, "parameters") else []
    for p in params:
        p.grad[...] = 0            # layers may accumulate into grad

    # Copies in and out: layers may work in place on their input / upstream
    # gradient or reuse output buffers, and both are used again below.
    Y = np.array(layer.forward(X.copy(), training=training))
    if dY is None:
        dY = gen.standard_normal(Y.shape).astype(Y.dtype)
    dY = real_array("dY", dY, dtype=None, finite=True)
    if dY.shape != Y.shape:
        raise ValueError(f"dY has shape {dY.shape}, the layer output has shape {Y.shape}; "
                         "they must be equal")
    dX = np.array(layer.backward(dY.copy()))

    x = Var(X)
    param_vars = [Var(p.data, name=getattr(p, "name", None)) for p in params]
    out = fn(x, *param_vars)
    if not isinstance(out, Var):
        raise TypeError(f"fn must return a Var, got {type(out).__name__}")

    result = LayerCheck()
    result.diffs["output"] = _difference(Y, out.value, "output")
    out.backward(dY.astype(out.dtype) if dY.shape == out.shape else dY)
    result.diffs["dX"] = _difference(dX, x.grad, "dX")
    for i, (p, v) in enumerate(zip(params, param_vars)):
        name = getattr(p, "name", None) or f"param{i}"
        if name in result.diffs:
            name = f"{name}{i}"
        result.diffs[name] = _difference(p.grad, v.grad, f"gradient of {name}")
    return result
