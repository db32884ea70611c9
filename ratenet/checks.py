"""Diagnostics: finite-difference gradient checks and per-layer gradient norms."""
import numpy as np

from .initializers import as_rng
from .layers import Dropout, check_batch, check_targets
from neurosim.validation import check_bool, check_int, check_number, check_same_length, check_work, renamed_argument
from .model import Sequential

__all__ = ["gradient_check", "gradient_norms"]


def _prepare(model, loss, X, T, training, dtype):
    if not isinstance(model, Sequential):
        raise TypeError(f"model: expected a Sequential, got {type(model).__name__}")
    if not callable(loss) or not hasattr(loss, "gradient"):
        raise TypeError(f"loss: expected a Loss object, got {type(loss).__name__}")
    if training and any(isinstance(l, Dropout) and l.rate > 0 for l in model.layers):
        raise ValueError("training: dropout masks are random, so finite differences "
                         "are meaningless with training=True; use training=False")
    X = check_batch(X, model.n_in, dtype)
    check_same_length("X", X, "y", T)
    return X, check_targets(T, len(X), dtype, "y")


def _rel_error(a, n, floor):
    # Max error relative to the array's largest entry: elementwise relative
    # error is meaningless where the gradient is (close to) zero. A gradient
    # whose entries are all below the finite-difference rounding noise
    # (e.g. a bias followed by BatchNorm, exactly zero in theory) cannot be
    # resolved, and both sides agreeing on "about zero" counts as a pass.
    scale = max(np.abs(a).max(initial=0.0), np.abs(n).max(initial=0.0))
    return 0.0 if scale <= floor else float(np.abs(a - n).max(initial=0.0) / scale)


@renamed_argument("T", "y")
def gradient_check(model, loss, X, y, eps=1e-6, training=False, max_elements=None, rng=None,
                   max_work=10**11):
    """Compare backprop gradients with centered finite differences.

    The check runs on a float64 copy of ``model``; the model itself is not
    touched. For every parameter (and the input) it computes
    ``(E(w + eps) − E(w − eps)) / (2 eps)`` elementwise and compares it with
    the analytic gradient from :meth:`Sequential.backward_loss` (so fused
    output gradients are checked too).

    Parameters
    ----------
    model : Sequential
    loss : Loss
    X : array_like, shape (n_samples, n_in)
    y : array_like, targets for ``loss`` (``T=`` is a deprecated spelling)
    eps : float
        Finite-difference step.
    training : bool
        Run forward in training mode (BatchNorm batch statistics). Not allowed
        with active Dropout.
    max_elements : int, optional
        Check at most this many randomly chosen entries per array (all by default).
    rng : None, int or numpy.random.Generator
        Chooses the entries when ``max_elements`` is set.
    max_work : int
        Refuse (ValueError, before any work) when the estimated multiply-adds
        (2 forward passes per checked entry) exceed this; about a minute of work.

    Returns
    -------
    dict
        ``{"<layer>.<name>": error, ..., "input": error}`` where error is
        max |analytic − numeric| / max(|analytic|, |numeric|) over the array;
        0 when the whole array's gradient is below the finite-difference
        rounding noise (100 · machine eps · max(1, |E|) / eps), i.e. zero as
        far as the check can tell. Below 1e-7 is a pass in float64.
    """
    eps = check_number("eps", eps, low=0, high=1, low_open=True, high_open=True)
    training = check_bool("training", training)
    if max_elements is not None:
        max_elements = check_int("max_elements", max_elements, low=1)
    if not isinstance(model, Sequential):
        raise TypeError(f"model: expected a Sequential, got {type(model).__name__}")
    max_work = check_int("max_work", max_work, low=1)
    X, T = _prepare(model, loss, X, y, training, np.float64)
    # Bounded work: two forward passes (~ n_samples * n_parameters multiply-adds each) per entry.
    cap = max_elements or X.size + model.n_parameters()
    entries = sum(min(p.data.size, cap) for p in model.parameters()) + min(X.size, cap)
    check_work("gradient_check", 2.0 * entries * len(X) * max(model.n_parameters(), 1), max_work, "max_work",
               unit="multiply-adds (or check a random subset with max_elements=)")
    m = model.copy(dtype=np.float64)
    X = X.copy()
    gen = as_rng(rng)

    def energy():
        return loss(m.forward(X, training), T)

    Y = m.forward(X, training)
    # rounding noise of a centered difference: ~ machine eps · |E| / step
    floor = 100 * np.finfo(np.float64).eps * max(1.0, abs(loss(Y, T))) / eps
    m.zero_grad()
    dX = m.backward_loss(loss, Y, T, input_grad=True)
    arrays = {f"{i}.{p.name}": (p.data, p.grad.copy())
              for i, layer in enumerate(m.layers) for p in layer.parameters()}
    arrays["input"] = (X, dX)

    errors = {}
    for key, (w, analytic) in arrays.items():
        flat = w.reshape(-1)             # a view: perturbing it perturbs w
        idx = np.arange(flat.size)
        if max_elements is not None and flat.size > max_elements:
            idx = gen.choice(flat.size, max_elements, replace=False)
        numeric = np.empty(idx.size)
        for k, i in enumerate(idx):
            orig = flat[i]
            flat[i] = orig + eps
            e_plus = energy()
            flat[i] = orig - eps
            e_minus = energy()
            flat[i] = orig
            numeric[k] = (e_plus - e_minus) / (2 * eps)
        errors[key] = _rel_error(analytic.reshape(-1)[idx], numeric, floor)
    return errors


@renamed_argument("T", "y")
def gradient_norms(model, loss, X, y, training=False):
    """Per-layer ‖∂E/∂z‖ for every layer with parameters, z being that layer's output.

    For a Dense layer z is the pre-activation W x + b; shrinking norms from the
    last layer to the first show vanishing gradients, growing ones exploding
    gradients. The model's parameter gradients are overwritten.

    Parameters
    ----------
    model : Sequential
    loss : Loss
    X : array_like, shape (n_samples, n_in)
    y : array_like, targets (``T=`` is a deprecated spelling)
    training : bool

    Returns
    -------
    dict
        ``{"<index>.<ClassName>": norm}`` in layer order (Frobenius norm over
        the batch).
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"model: expected a Sequential, got {type(model).__name__}")
    training = check_bool("training", training)
    X, T = _prepare(model, loss, X, y, training, model.dtype)
    Y = model.forward(X, training)
    start, dY = model._output_gradient(loss, Y, T)
    norms = {}
    for j in range(start, -1, -1):
        layer = model.layers[j]
        if layer.parameters():
            norms[f"{j}.{type(layer).__name__}"] = float(np.linalg.norm(dY.astype(np.float64)))
        dY = layer.backward(dY, input_grad=False) if j == 0 else layer.backward(dY)
    return dict(reversed(list(norms.items())))
