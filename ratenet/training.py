"""The training loop: mini-batch epochs, validation, history, callbacks, early stopping.

:func:`fit` runs, per mini-batch, exactly::

    Y = model.forward(Xb, training=True)
    value = loss(Y, yb)
    model.zero_grad()
    model.backward_loss(loss, Y, yb)
    optimizer.step()

and records per epoch the mean training loss (and accuracy for classification
targets) and, with validation data, the validation loss and accuracy in
evaluation mode. A non-finite loss or weight stops training with
:class:`TrainingDiverged`, leaving in the model the last weights that gave
finite predictions.
"""
import math
import sys
import time

import numpy as np

from neurosim.validation import as_rng, check_bool, check_int, check_number, renamed_argument
from .activations import _labels
from .layers import check_batch, check_targets
from .callbacks import Callback, EarlyStopping, History, TrainingDiverged, _buffers, _copy_weights, _restore_weights
from .threads import limit_blas_threads

__all__ = ["fit", "evaluate", "History", "Callback", "EarlyStopping", "TrainingDiverged"]

# Weights are copied (into preallocated buffers) every this many steps, so a
# divergence can roll back at most this far without paying a copy per step.
_SNAPSHOT_EVERY = 50


# ----------------------------------------------------------------- targets
def _task(T):
    """'index', 'onehot', 'binary', 'sign' or None (regression: no accuracy)."""
    if T.dtype.kind in "iu":
        return "index"
    if T.ndim == 2 and T.shape[1] > 1:
        if np.isin(T, (0, 1)).all() and (T.sum(axis=1) == 1).all():
            return "onehot"
        return None
    values = np.unique(T)
    if np.isin(values, (0, 1)).all():
        return "binary"
    if np.isin(values, (-1, 1)).all():
        return "sign"
    return None


def _n_correct(Y, T, task):
    if task in ("index", "onehot"):
        truth = T if task == "index" else T.argmax(axis=1)
        return int(np.count_nonzero(_labels(Y, 0.5) == truth))
    y, t = Y.reshape(len(Y), -1), T.reshape(len(T), -1)
    if task == "binary":
        return int(np.count_nonzero(((y > 0.5) == (t > 0.5)).all(axis=1)))
    return int(np.count_nonzero(((y > 0) == (t > 0)).all(axis=1)))


@renamed_argument("T", "y")
def evaluate(model, X, y, loss, batch_size=1024):
    """Loss (and accuracy for classification targets) in evaluation mode.

    Parameters
    ----------
    model : Sequential
    X : array, shape (n, n_in)
    y : array, shape (n,) of class indices or (n, n_out)
        Targets (``T=`` is a deprecated spelling).
    loss : callable ``loss(Y, y) -> float``
    batch_size : int
        Rows per forward pass (bounds memory; the result does not depend on it).

    Returns
    -------
    dict
        ``{"loss": float}`` plus ``"accuracy"`` for classification targets.
    """
    _check_model(model)
    params = list(model.parameters())
    dtype = params[0].data.dtype if params else np.float32
    X = check_batch(X, getattr(model, "n_in", None), dtype, "X")
    T = check_targets(y, len(X), dtype, "y")
    _check_loss(loss)
    return _evaluate(model, X, T, loss, _task(T), check_int("batch_size", batch_size, low=1))


def _check_model(model):
    for method in ("forward", "parameters", "zero_grad", "backward_loss"):
        if not callable(getattr(model, method, None)):
            raise TypeError(f"model must be a ratenet Sequential (with {method}()), got {type(model).__name__}")


def _check_loss(loss):
    if not callable(loss) or not callable(getattr(loss, "gradient", None)):
        raise TypeError(f"loss must be a ratenet loss (callable with .gradient), got {loss!r}")


def _evaluate(model, X, T, loss, task, chunk):
    total, correct, n = 0.0, 0, len(X)
    for s in range(0, n, chunk):
        Y = model.forward(X[s:s + chunk], training=False)
        total += float(loss(Y, T[s:s + chunk])) * len(Y)
        if task:
            correct += _n_correct(Y, T[s:s + chunk], task)
    out = {"loss": total / n}
    if task:
        out["accuracy"] = correct / n
    return out


# ---------------------------------------------------------------------- fit
@renamed_argument("T", "y")
@limit_blas_threads             # one BLAS thread for small layers: measured faster (ratenet/threads.py)
def fit(model, X, y, loss, optimizer, epochs=10, batch_size=32, validation_data=None,
        validation_split=0.0, shuffle=True, rng=None, callbacks=(), verbose=1, input_noise=0.0):
    """Train ``model`` by mini-batch gradient descent.

    Parameters
    ----------
    model : Sequential
        Needs ``forward(X, training)``, ``zero_grad()``, ``backward_loss(loss, Y, T)``
        and ``parameters()``.
    X : array, shape (n, n_in)
        Inputs; converted to the model's parameter dtype (float32 by default).
    y : array, shape (n,) of int class indices, or (n, n_out)
        Targets (one-hot, probabilities, or regression values). ``T=`` is a
        deprecated spelling of this keyword.
    loss : callable
        ``loss(Y, T) -> float`` with ``loss.gradient(Y, T)``.
    optimizer : Optimizer
        Bound to ``model.parameters()`` here if it has no parameters yet.
    epochs : int
        Passes over the training data, >= 1.
    batch_size : int
        Rows per update, >= 1 (capped at n).
    validation_data : (X_val, T_val), optional
        Evaluated in evaluation mode after every epoch.
    validation_split : float
        Fraction in [0, 1) of (X, T), drawn at random with ``rng``, held out for
        validation. Not together with ``validation_data``.
    shuffle : bool
        Reshuffle the training rows every epoch.
    rng : None, int or numpy Generator
        Drives the split, shuffling and input noise (same seed -> same history).
    callbacks : iterable of Callback
        E.g. ``[EarlyStopping(patience=10)]``.
    verbose : int
        1 prints one line per epoch; 0 is silent.
    input_noise : float
        Standard deviation of Gaussian noise added to each training batch's
        inputs (augmentation), >= 0.

    Returns
    -------
    History

    Raises
    ------
    TrainingDiverged
        On a NaN/inf loss or weight; the model keeps its last finite weights.
    """
    _check_model(model)
    params = list(model.parameters())
    if not params:
        raise ValueError("model has no trainable parameters")
    dtype = params[0].data.dtype
    X = check_batch(X, getattr(model, "n_in", None), dtype, "X")
    T = check_targets(y, len(X), dtype, "y")
    _check_loss(loss)
    if not callable(getattr(optimizer, "step", None)):
        raise TypeError(f"optimizer must be a ratenet optimizer with step(), got {optimizer!r}")
    epochs = check_int("epochs", epochs, low=1)
    batch_size = check_int("batch_size", batch_size, low=1)
    validation_split = check_number("validation_split", validation_split, low=0, high=1, high_open=True)
    input_noise = check_number("input_noise", input_noise, low=0)
    verbose = check_int("verbose", verbose, low=0)
    shuffle = check_bool("shuffle", shuffle)
    seeded = rng is not None
    rng = as_rng(rng)
    if seeded:
        _seed_layers(model, rng)
    try:
        callbacks = list(callbacks or ())
    except TypeError:
        raise TypeError(f"callbacks must be a list of Callback instances, got {type(callbacks).__name__}") from None
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks must be Callback instances, got {type(cb).__name__}")

    if validation_data is not None and validation_split:
        raise ValueError("give either validation_data or validation_split, not both")
    if validation_split:
        n_val = int(round(validation_split * len(X)))
        if n_val < 1 or n_val >= len(X):
            raise ValueError(f"validation_split={validation_split} leaves {n_val} of {len(X)} samples "
                             "for validation; need at least one for validation and one for training")
        perm = rng.permutation(len(X))
        X, Xv, T, Tv = X[perm[n_val:]], X[perm[:n_val]], T[perm[n_val:]], T[perm[:n_val]]
    elif validation_data is not None:
        try:
            Xv, Tv = validation_data
        except (TypeError, ValueError):
            raise TypeError("validation_data must be a pair (X_val, y_val)") from None
        Xv = check_batch(Xv, None, dtype, "validation_data X")
        Tv = check_targets(Tv, len(Xv), dtype, "validation_data y")
        if Xv.shape[1] != X.shape[1]:
            raise ValueError(f"validation_data X has {Xv.shape[1]} features, X has {X.shape[1]}")
    else:
        Xv = Tv = None

    task = _task(T)
    keys = ["loss"] + (["accuracy"] if task else [])
    if Xv is not None:
        keys += ["val_" + k for k in keys]
    history = History(keys)
    bound = getattr(optimizer, "params", None)
    if not bound:
        optimizer.bind(params)
    elif {id(p) for p in bound} != {id(p) for p in params}:
        # Stepping another model's parameters would silently train nothing here.
        raise ValueError("optimizer is bound to parameters that are not this model's; "
                         "create a new optimizer or call optimizer.bind(model.parameters())")
    for cb in callbacks:
        cb.set_context(model, history)
        cb.on_train_begin(set(keys))

    n = len(X)
    bs = min(batch_size, n)
    n_batches = -(-n // bs)
    xbuf = np.empty((bs,) + X.shape[1:], dtype)   # reused: no allocation per batch
    nbuf = np.empty_like(xbuf) if input_noise else None
    saved, saved_step, step = _copy_weights(model), 0, 0
    try:
        for epoch in range(1, epochs + 1):
            t0 = time.perf_counter()
            order = rng.permutation(n) if shuffle else None
            total, correct = 0.0, 0
            for b in range(n_batches):
                lo, hi = b * bs, min(n, (b + 1) * bs)
                if order is None:
                    Xb, Tb = X[lo:hi], T[lo:hi]
                else:
                    idx = order[lo:hi]
                    Xb = np.take(X, idx, axis=0, out=xbuf[:hi - lo], mode="clip")
                    Tb = T[idx]
                if input_noise:
                    nb = nbuf[:hi - lo]
                    rng.standard_normal(dtype=dtype, out=nb)
                    nb *= input_noise
                    nb += Xb
                    Xb = nb
                if step - saved_step >= _SNAPSHOT_EVERY:
                    # Remember these weights if they are finite and predict finite values
                    # in evaluation mode (which uses BatchNorm's running statistics).
                    if not _state_finite(model):
                        _diverged(model, saved, saved_step, step, epoch, b, _what_nonfinite(model),
                                  history, optimizer)
                    if _predicts_finite(model, Xb):
                        _save_into(saved, model)
                        saved_step = step
                Y = model.forward(Xb, training=True)
                value = loss(Y, Tb)
                if not math.isfinite(value):
                    _diverged(model, saved, saved_step, step, epoch, b, f"loss is {value}", history, optimizer)
                total += float(value) * (hi - lo)
                if task:
                    correct += _n_correct(Y, Tb, task)
                model.zero_grad()
                model.backward_loss(loss, Y, Tb)
                optimizer.step()
                step += 1
            if not _state_finite(model):
                _diverged(model, saved, saved_step, step, epoch, n_batches - 1, _what_nonfinite(model),
                          history, optimizer)
            if hasattr(optimizer, "epoch_end"):
                optimizer.epoch_end()
            logs = {"loss": total / n}
            if task:
                logs["accuracy"] = correct / n
            if Xv is not None:
                for k, v in _evaluate(model, Xv, Tv, loss, _task(Tv) and task, max(bs, 1024)).items():
                    logs["val_" + k] = v
            history.append(epoch, logs)
            if verbose:
                _progress(epoch, epochs, time.perf_counter() - t0, logs)
            stop = False
            for cb in callbacks:
                stop |= bool(cb.on_epoch_end(epoch, logs))
            if stop:
                history.stopped_epoch = epoch
                if verbose:
                    print(f"stopped early after epoch {epoch}", file=sys.stdout, flush=True)
                break
    finally:
        for cb in callbacks:
            cb.on_train_end()
    return history


def _seed_layers(model, rng):
    """Give layers without their own rng (e.g. Dropout(rate)) a stream drawn from fit's rng.

    Without this, ``fit(rng=0)`` would still depend on OS entropy through them.
    """
    for layer in getattr(model, "layers", ()):
        if hasattr(layer, "rng_given") and not layer.rng_given:
            layer.rng = np.random.default_rng(int(rng.integers(2**63)))


def _save_into(saved, model):
    """Copy the model's current weights into the preallocated ``saved`` arrays."""
    for dst, src in zip(saved, [p.data for p in model.parameters()] + _buffers(model)):
        np.copyto(dst, src)


def _finite(arr):
    # np.sum is one fast pass and is non-finite iff an element is (or the sum overflows: divergence too).
    return math.isfinite(float(np.sum(arr, dtype=np.float64)))


def _state_finite(model):
    """Parameters and buffers (BatchNorm running statistics) are all finite."""
    return all(_finite(p.data) for p in model.parameters()) and all(_finite(b) for b in _buffers(model))


def _what_nonfinite(model):
    if all(_finite(p.data) for p in model.parameters()):
        return "a buffer (e.g. BatchNorm running_var) is NaN/inf"
    return "a weight is NaN/inf"


def _predicts_finite(model, Xb):
    """Evaluation-mode output on ``Xb`` is finite (one extra forward per snapshot, ~1 % of the work)."""
    with np.errstate(all="ignore"):
        return _finite(model.forward(Xb, training=False))


def _diverged(model, saved, saved_step, step, epoch, batch, what, history, optimizer):
    # The current weights produced the non-finite value: go back to the last snapshot,
    # whose weights and buffers were finite and gave finite predictions.
    _restore_weights(model, saved)
    kept = (f"the weights were restored to the last ones that gave finite predictions "
            f"(after update {saved_step})")
    lr = getattr(optimizer, "current_lr", None)
    hint = f" (lr={lr:g})" if isinstance(lr, float) else ""
    raise TrainingDiverged(
        f"training diverged at epoch {epoch}, batch {batch}: {what}; {kept}. "
        f"Try a smaller learning rate{hint}, gradient clipping (clip_norm=...) or standardized inputs.",
        epoch=epoch, batch=batch, history=history)


def _progress(epoch, epochs, seconds, logs):
    width = len(str(epochs))
    parts = [f"epoch {epoch:{width}d}/{epochs}", f"{seconds:.2f}s"]
    parts += [f"{k} {v:.4f}" for k, v in logs.items()]
    print(" - ".join(parts), file=sys.stdout, flush=True)
