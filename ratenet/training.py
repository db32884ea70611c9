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

from neurosim.interrupts import HeldInterrupt
from neurosim.progress import Progress
from neurosim.validation import as_rng, check_bool, check_int, check_number, check_same_length, renamed_argument
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
    X, T = _check_pair(X, y, getattr(model, "n_in", None), dtype)
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
        validation_split=0.0, shuffle=True, rng=None, callbacks=(), verbose=1, input_noise=0.0,
        transform=None, progress=False):
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
        Passes over the training data, >= 1. Any number is allowed: training
        can be stopped between batches with Ctrl-C (see Notes).
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
        Drives the split, shuffling, ``transform`` and input noise (same seed ->
        same history).
    callbacks : iterable of Callback
        E.g. ``[EarlyStopping(patience=10)]``.
    verbose : int
        1 prints one line per epoch on stdout; 0 is silent.
    input_noise : float
        Standard deviation of Gaussian noise added to each training batch's
        inputs (augmentation), >= 0.
    transform : callable or None
        On-the-fly augmentation: ``transform(X_batch, rng) -> X_batch`` is applied
        to every training batch (shape (b, n_in), the model's dtype) before
        ``input_noise``; ``rng`` is fit's Generator, so a seeded run is
        reproducible. It must return an array of the same shape (converted to the
        model's dtype, checked finite) and may modify its argument (it is a
        scratch copy, never your ``X``). Validation data is never transformed.
    progress : bool
        Show a progress line on stderr (epoch, batch, elapsed and remaining
        time, running loss), redrawn at most 10 times a second. Off by default.

    Returns
    -------
    History

    Raises
    ------
    TrainingDiverged
        On a NaN/inf loss or weight; the model keeps its last finite weights.
    KeyboardInterrupt
        On Ctrl-C, raised between two batches: the interrupted batch's update is
        applied completely, so the model, its BatchNorm statistics and the
        optimizer are consistent and training can be continued with another
        ``fit`` call. Callbacks' ``on_train_end`` runs first.

    Notes
    -----
    Ctrl-C is held only in the main thread and when Python's default SIGINT
    handler is installed (:class:`neurosim.interrupts.HeldInterrupt`).
    """
    _check_model(model)
    params = list(model.parameters())
    if not params:
        raise ValueError("model has no trainable parameters")
    dtype = params[0].data.dtype
    X, T = _check_pair(X, y, getattr(model, "n_in", None), dtype)
    _check_loss(loss)
    _check_optimizer(optimizer)
    epochs = check_int("epochs", epochs, low=1)
    batch_size = check_int("batch_size", batch_size, low=1)
    validation_split = check_number("validation_split", validation_split, low=0, high=1, high_open=True)
    input_noise = check_number("input_noise", input_noise, low=0)
    verbose = check_int("verbose", verbose, low=0)
    shuffle = check_bool("shuffle", shuffle)
    progress = check_bool("progress", progress)
    if transform is not None and not callable(transform):
        raise TypeError(f"transform must be a callable transform(X_batch, rng) -> X_batch or None, "
                        f"got {type(transform).__name__}")
    seeded = rng is not None
    rng = as_rng(rng)
    if seeded:
        _seed_layers(model, rng)
    callbacks = _check_callbacks(callbacks)
    X, T, Xv, Tv = _validation_split(X, T, validation_data, validation_split, rng, dtype)

    task = _task(T)
    history = _start(model, optimizer, params, callbacks, task, Xv is not None)
    batches = _Batches(X, T, batch_size, shuffle, rng, transform, input_noise, getattr(model, "n_in", None))
    guard = _Guard(model, optimizer, history)
    val_task = Xv is not None and _task(Tv) and task  # once: _task scans all validation targets
    try:
        with HeldInterrupt() as held:
            for epoch in range(1, epochs + 1):
                t0 = time.perf_counter()
                logs = _train_epoch(model, loss, optimizer, batches, task, guard, epoch, epochs, progress, held)
                if Xv is not None:
                    for k, v in _evaluate(model, Xv, Tv, loss, val_task, max(batches.size, 1024)).items():
                        logs["val_" + k] = v
                history.append(epoch, logs)
                if verbose:
                    _report(epoch, epochs, time.perf_counter() - t0, logs)
                if _callbacks_stop(callbacks, epoch, logs):
                    history.stopped_epoch = epoch
                    if verbose:
                        print(f"stopped early after epoch {epoch}", file=sys.stdout, flush=True)
                    break
                held.check()
    finally:
        for cb in callbacks:
            cb.on_train_end()
    return history


def _start(model, optimizer, params, callbacks, task, validation):
    """Bind the optimizer, make the History and start the callbacks; returns the History."""
    keys = ["loss"] + (["accuracy"] if task else [])
    if validation:
        keys += ["val_" + k for k in keys]
    history = History(keys)
    _bind(optimizer, params)
    for cb in callbacks:
        cb.set_context(model, history)
        cb.on_train_begin(set(keys))
    return history


def _check_pair(X, y, n_in, dtype, names=("X", "y")):
    """``X`` as a (n, n_in) batch of ``dtype`` and ``y`` as n targets; a length mismatch names both."""
    X = check_batch(X, n_in, dtype, names[0])
    check_same_length(names[0], X, names[1], y)
    return X, check_targets(y, len(X), dtype, names[1])


def _check_optimizer(optimizer):
    if not callable(getattr(optimizer, "step", None)):
        raise TypeError(f"optimizer must be a ratenet optimizer with step(), got {optimizer!r}")


def _check_callbacks(callbacks):
    try:
        callbacks = list(callbacks or ())
    except TypeError:
        raise TypeError(f"callbacks must be a list of Callback instances, got {type(callbacks).__name__}") from None
    for cb in callbacks:
        if not isinstance(cb, Callback):
            raise TypeError(f"callbacks must be Callback instances, got {type(cb).__name__}")
    return callbacks


def _validation_split(X, T, validation_data, validation_split, rng, dtype):
    """(X, T, X_val, T_val): the training rows and the validation rows (None without validation)."""
    if validation_data is not None and validation_split:
        raise ValueError("give either validation_data or validation_split, not both")
    if validation_split:
        n_val = int(round(validation_split * len(X)))
        if n_val < 1 or n_val >= len(X):
            raise ValueError(f"validation_split={validation_split} leaves {n_val} of {len(X)} samples "
                             "for validation; need at least one for validation and one for training")
        perm = rng.permutation(len(X))
        return X[perm[n_val:]], T[perm[n_val:]], X[perm[:n_val]], T[perm[:n_val]]
    if validation_data is None:
        return X, T, None, None
    try:
        Xv, Tv = validation_data
    except (TypeError, ValueError):
        raise TypeError("validation_data must be a pair (X_val, y_val)") from None
    Xv, Tv = _check_pair(Xv, Tv, None, dtype, ("validation_data X", "validation_data y"))
    if Xv.shape[1] != X.shape[1]:
        raise ValueError(f"validation_data X has {Xv.shape[1]} features, X has {X.shape[1]}")
    return X, T, Xv, Tv


def _bind(optimizer, params):
    bound = getattr(optimizer, "params", None)
    if not bound:
        optimizer.bind(params)
    elif {id(p) for p in bound} != {id(p) for p in params}:
        # Stepping another model's parameters would silently train nothing here.
        raise ValueError("optimizer is bound to parameters that are not this model's; "
                         "create a new optimizer or call optimizer.bind(model.parameters())")


def _callbacks_stop(callbacks, epoch, logs):
    """Run every callback's ``on_epoch_end`` (all of them, in order); True if any asks to stop."""
    stop = False
    for cb in callbacks:
        stop |= bool(cb.on_epoch_end(epoch, logs))
    return stop


class _Batches:
    """The training batches of one epoch: shuffled rows, ``transform`` and input noise applied.

    Batches are gathered into one preallocated buffer (no allocation per batch).
    """

    def __init__(self, X, T, batch_size, shuffle, rng, transform, input_noise, n_in):
        self.X, self.T, self.rng = X, T, rng
        self.n = len(X)
        self.size = min(batch_size, self.n)
        self.count = -(-self.n // self.size)
        self.shuffle, self.transform, self.noise, self.n_in = shuffle, transform, input_noise, n_in
        self.xbuf = np.empty((self.size,) + X.shape[1:], X.dtype)
        self.nbuf = np.empty_like(self.xbuf) if input_noise else None

    def __iter__(self):
        """Yield ``(b, Xb, Tb)`` for batch ``b`` of a new epoch."""
        X, T, size = self.X, self.T, self.size
        order = self.rng.permutation(self.n) if self.shuffle else None
        for b in range(self.count):
            lo, hi = b * size, min(self.n, (b + 1) * size)
            if order is None:
                Xb, Tb = X[lo:hi], T[lo:hi]
            else:
                idx = order[lo:hi]
                Xb, Tb = np.take(X, idx, axis=0, out=self.xbuf[:hi - lo], mode="clip"), T[idx]
            if self.transform is not None:
                Xb = self._transformed(Xb, order is None)
            if self.noise:
                nb = self.nbuf[:hi - lo]
                self.rng.standard_normal(dtype=X.dtype, out=nb)
                nb *= self.noise
                nb += Xb
                Xb = nb
            yield b, Xb, Tb

    def _transformed(self, Xb, is_view):
        if is_view:  # a slice of the caller's X: the transform gets a copy it may overwrite
            np.copyto(self.xbuf[:len(Xb)], Xb)
            Xb = self.xbuf[:len(Xb)]
        out = self.transform(Xb, self.rng)
        name = "transform(X_batch, rng)"
        if getattr(out, "shape", None) != Xb.shape:
            raise ValueError(f"{name} must return an array of the batch's shape {Xb.shape}, "
                             f"got {type(out).__name__} of shape {getattr(out, 'shape', None)}")
        return check_batch(out, self.n_in, Xb.dtype, name)


class _Guard:
    """Divergence guard: a periodic snapshot of finite weights, and the rollback to it."""

    def __init__(self, model, optimizer, history):
        self.model, self.optimizer, self.history = model, optimizer, history
        self.saved, self.saved_step, self.step = _copy_weights(model), 0, 0

    def before_update(self, Xb, epoch, b):
        """Every ``_SNAPSHOT_EVERY`` updates, remember the weights if they predict finite values."""
        if self.step - self.saved_step < _SNAPSHOT_EVERY:
            return
        # Evaluation mode uses BatchNorm's running statistics: check those too.
        if not _state_finite(self.model):
            self.diverged(epoch, b, _what_nonfinite(self.model))
        if _predicts_finite(self.model, Xb):
            _save_into(self.saved, self.model)
            self.saved_step = self.step

    def check_state(self, epoch, b):
        if not _state_finite(self.model):
            self.diverged(epoch, b, _what_nonfinite(self.model))

    def diverged(self, epoch, b, what):
        _diverged(self.model, self.saved, self.saved_step, self.step, epoch, b, what,
                  self.history, self.optimizer)


def _train_epoch(model, loss, optimizer, batches, task, guard, epoch, epochs, progress, held):
    """One pass over the batches; returns the epoch's logs (mean loss, accuracy)."""
    bar = Progress(batches.count, f"epoch {epoch}/{epochs}", unit=" batches") if progress else None
    total, correct, seen = 0.0, 0, 0
    for b, Xb, Tb in batches:
        guard.before_update(Xb, epoch, b)
        Y = model.forward(Xb, training=True)
        value = loss(Y, Tb)
        if not math.isfinite(value):
            guard.diverged(epoch, b, f"loss is {value}")
        total += float(value) * len(Xb)
        seen += len(Xb)
        if task:
            correct += _n_correct(Y, Tb, task)
        model.zero_grad()
        model.backward_loss(loss, Y, Tb)
        optimizer.step()
        guard.step += 1
        if held.pending:  # Ctrl-C: raised here, between two complete updates
            if bar is not None:
                bar.done = b + 1
                bar.close(f"loss {total / seen:.4f} (interrupted)", ok=False)
            held.check()
        if bar is not None:
            bar.update(b + 1, f"loss {total / seen:.4f}")
    guard.check_state(epoch, batches.count - 1)
    if hasattr(optimizer, "epoch_end"):
        optimizer.epoch_end()
    logs = {"loss": total / batches.n}
    if task:
        logs["accuracy"] = correct / batches.n
    if bar is not None:
        bar.close(f"loss {logs['loss']:.4f}")
    return logs


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


def _report(epoch, epochs, seconds, logs):
    width = len(str(epochs))
    parts = [f"epoch {epoch:{width}d}/{epochs}", f"{seconds:.2f}s"]
    parts += [f"{k} {v:.4f}" for k, v in logs.items()]
    print(" - ".join(parts), file=sys.stdout, flush=True)
