"""The training loop: mini-batch epochs, validation, history, callbacks, early stopping.

:func:`fit` runs, per mini-batch, exactly::

    Y = model.forward(Xb, training=True)
    value = loss(Y, Tb)
    model.zero_grad()
    model.backward_loss(loss, Y, Tb)
    optimizer.step()

and records per epoch the mean training loss (and accuracy for classification
targets) and, with validation data, the validation loss and accuracy in
evaluation mode. A non-finite loss or weight stops training with
:class:`TrainingDiverged`, leaving the last finite weights in the model.
"""
import math
import sys
import time

import numpy as np

from neurosim._validate import as_rng, check_int, check_number
from .callbacks import Callback, EarlyStopping, History, TrainingDiverged, _buffers, _copy_weights, _restore_weights

__all__ = ["fit", "evaluate", "History", "Callback", "EarlyStopping", "TrainingDiverged"]

# Weights are copied (into preallocated buffers) every this many steps, so a
# divergence can roll back at most this far without paying a copy per step.
_SNAPSHOT_EVERY = 50


# ----------------------------------------------------------------- targets
def _as_inputs(X, dtype, name):
    try:
        X = np.asarray(X, dtype=dtype)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name} must be a numeric array, got {type(X).__name__}: {e}") from None
    if X.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n_samples, n_features), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError(f"{name} has no samples (shape {X.shape})")
    if not np.isfinite(X).all():
        raise ValueError(f"{name} contains NaN or inf values; clean or impute them before training")
    return X


def _as_targets(T, n, dtype, name):
    T = np.asarray(T)
    if T.dtype.kind in "iub":
        T = T.astype(np.intp) if T.ndim == 1 else T.astype(dtype)
    elif T.dtype.kind == "f":
        T = T.astype(dtype, copy=False)
    else:
        raise TypeError(f"{name} must be numeric (class indices or float targets), got dtype {T.dtype}")
    if T.ndim not in (1, 2) or T.shape[0] != n:
        raise ValueError(f"{name} must have shape ({n},) or ({n}, n_outputs) to match the inputs, got {T.shape}")
    if not np.isfinite(T).all():
        raise ValueError(f"{name} contains NaN or inf values")
    return T


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


def _n_correct(Y, T, task, threshold):
    if task in ("index", "onehot"):
        pred = Y.argmax(axis=1) if Y.ndim == 2 and Y.shape[1] > 1 else (Y.reshape(len(Y)) > threshold)
        truth = T if task == "index" else T.argmax(axis=1)
        return int(np.count_nonzero(pred == truth))
    y, t = Y.reshape(len(Y), -1), T.reshape(len(T), -1)
    if task == "binary":
        return int(np.count_nonzero(((y > threshold) == (t > 0.5)).all(axis=1)))
    return int(np.count_nonzero(((y > 0) == (t > 0)).all(axis=1)))


def _threshold(loss):
    # Losses that take logits (sigmoid fused in) decide at 0, probabilities at 0.5.
    return 0.0 if getattr(loss, "from_logits", False) else 0.5


def evaluate(model, X, T, loss, batch_size=1024):
    """Loss (and accuracy for classification targets) in evaluation mode.

    Parameters
    ----------
    model : Sequential
    X : array, shape (n, n_in)
    T : array, shape (n,) of class indices or (n, n_out)
    loss : callable ``loss(Y, T) -> float``
    batch_size : int
        Rows per forward pass (bounds memory; the result does not depend on it).

    Returns
    -------
    dict
        ``{"loss": float}`` plus ``"accuracy"`` for classification targets.
    """
    params = list(model.parameters())
    dtype = params[0].data.dtype if params else np.float32
    X = _as_inputs(X, dtype, "X")
    T = _as_targets(T, len(X), dtype, "T")
    return _evaluate(model, X, T, loss, _task(T), check_int("batch_size", batch_size, low=1))


def _evaluate(model, X, T, loss, task, chunk):
    total, correct, n = 0.0, 0, len(X)
    for s in range(0, n, chunk):
        Y = model.forward(X[s:s + chunk], training=False)
        total += float(loss(Y, T[s:s + chunk])) * len(Y)
        if task:
            correct += _n_correct(Y, T[s:s + chunk], task, _threshold(loss))
    out = {"loss": total / n}
    if task:
        out["accuracy"] = correct / n
    return out


# ---------------------------------------------------------------------- fit
def fit(model, X, T, loss, optimizer, epochs=10, batch_size=32, validation_data=None,
        validation_split=0.0, shuffle=True, rng=None, callbacks=(), verbose=1, input_noise=0.0):
    """Train ``model`` by mini-batch gradient descent.

    Parameters
    ----------
    model : Sequential
        Needs ``forward(X, training)``, ``zero_grad()``, ``backward_loss(loss, Y, T)``
        and ``parameters()``.
    X : array, shape (n, n_in)
        Inputs; converted to the model's parameter dtype (float32 by default).
    T : array, shape (n,) of int class indices, or (n, n_out)
        Targets (one-hot, probabilities, or regression values).
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
    params = list(model.parameters())
    if not params:
        raise ValueError("model has no trainable parameters")
    dtype = params[0].data.dtype
    X = _as_inputs(X, dtype, "X")
    T = _as_targets(T, len(X), dtype, "T")
    if not callable(loss) or not callable(getattr(loss, "gradient", None)):
        raise TypeError(f"loss must be a ratenet loss (callable with .gradient), got {loss!r}")
    if not callable(getattr(optimizer, "step", None)):
        raise TypeError(f"optimizer must be a ratenet optimizer with step(), got {optimizer!r}")
    epochs = check_int("epochs", epochs, low=1)
    batch_size = check_int("batch_size", batch_size, low=1)
    validation_split = check_number("validation_split", validation_split, low=0, high=1, high_open=True)
    input_noise = check_number("input_noise", input_noise, low=0)
    verbose = check_int("verbose", verbose, low=0)
    rng = as_rng(rng)
    callbacks = list(callbacks or ())
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
            raise TypeError("validation_data must be a pair (X_val, T_val)") from None
        Xv = _as_inputs(Xv, dtype, "validation_data X")
        Tv = _as_targets(Tv, len(Xv), dtype, "validation_data T")
        if Xv.shape[1] != X.shape[1]:
            raise ValueError(f"validation_data X has {Xv.shape[1]} features, X has {X.shape[1]}")
    else:
        Xv = Tv = None

    task, threshold = _task(T), _threshold(loss)
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
                Y = model.forward(Xb, training=True)
                value = loss(Y, Tb)
                if not math.isfinite(value):
                    _diverged(model, saved, saved_step, step, epoch, b, f"loss is {value}", history, optimizer)
                if step - saved_step >= _SNAPSHOT_EVERY:
                    # These weights just gave a finite loss: remember them.
                    if not _weights_finite(model):
                        _diverged(model, saved, saved_step, step, epoch, b, "a weight is NaN/inf",
                                  history, optimizer)
                    _save_into(saved, model)
                    saved_step = step
                total += float(value) * (hi - lo)
                if task:
                    correct += _n_correct(Y, Tb, task, threshold)
                model.zero_grad()
                model.backward_loss(loss, Y, Tb)
                optimizer.step()
                step += 1
            if not _weights_finite(model):
                _diverged(model, saved, saved_step, step, epoch, n_batches - 1, "a weight is NaN/inf",
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


def _save_into(saved, model):
    """Copy the model's current weights into the preallocated ``saved`` arrays."""
    for dst, src in zip(saved, [p.data for p in model.parameters()] + _buffers(model)):
        np.copyto(dst, src)


def _weights_finite(model):
    # np.sum is one fast pass and is non-finite iff an element is (barring overflow, also divergence).
    return all(math.isfinite(float(np.sum(p.data, dtype=np.float64))) for p in model.parameters())


def _diverged(model, saved, saved_step, step, epoch, batch, what, history, optimizer):
    if _weights_finite(model):
        kept = f"the current weights (after update {step}) are finite and were kept"
    else:
        _restore_weights(model, saved)
        kept = f"the weights were restored to their last finite values (after update {saved_step})"
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
