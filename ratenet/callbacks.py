"""Training history, callbacks and early stopping used by :func:`ratenet.training.fit`."""
import math
import numbers

import numpy as np

from neurosim.validation import check_bool, check_choice, check_int, check_number, check_str, check_strings

__all__ = ["History", "Callback", "EarlyStopping", "TrainingDiverged"]


class TrainingDiverged(FloatingPointError, RuntimeError):
    """Training produced a NaN/inf loss or weight; the model holds the last finite weights.

    Attributes
    ----------
    epoch, batch : int
        Where it happened (1-based epoch, 0-based batch).
    history : History
        The epochs completed before the divergence.
    """

    def __init__(self, message, epoch=None, batch=None, history=None):
        super().__init__(message)
        self.epoch, self.batch, self.history = epoch, batch, history


def _metric(key, value):
    """A logged metric as float; NaN/inf are kept (a diverging run is recorded as it is)."""
    if isinstance(value, (bool, np.bool_)) or not (isinstance(value, numbers.Real) or (
            isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf")):
        raise TypeError(f"logs[{key!r}] must be a real number, got {value!r} ({type(value).__name__})")
    return float(value)


class History:
    """Per-epoch metrics returned by :func:`fit`.

    Attributes
    ----------
    history : dict of str -> list of float
        ``"loss"`` always; ``"accuracy"`` for classification targets;
        ``"val_loss"``/``"val_accuracy"`` with validation data. One entry per epoch.
    epochs : list of int
        1-based epoch numbers.
    best_epoch : int or None
        Epoch whose weights were restored by :class:`EarlyStopping`.
    stopped_epoch : int or None
        Epoch after which a callback stopped training.
    """

    def __init__(self, keys=("loss",)):
        # A single string is one key, never split into its characters.
        self.history = {k: [] for k in check_strings("keys", keys)}
        self.epochs = []
        self.best_epoch = None
        self.stopped_epoch = None

    def append(self, epoch, logs):
        """Record the metrics ``logs`` (dict name -> real number) of ``epoch`` (int >= 0)."""
        epoch = check_int("epoch", epoch, low=0)
        if not isinstance(logs, dict):
            raise TypeError(f"logs must be a dict of metric name -> number, got {type(logs).__name__}")
        values = {check_str("logs key", k): _metric(k, v) for k, v in logs.items()}
        self.epochs.append(epoch)
        for k, v in values.items():
            self.history.setdefault(k, []).append(v)

    def __getitem__(self, key):
        """``history["val_loss"]`` as a float array of shape (n_epochs,)."""
        return np.asarray(self.history[key], dtype=float)

    def __contains__(self, key):
        return key in self.history

    def __len__(self):
        return len(self.epochs)

    def __getattr__(self, name):
        # history.loss, history.val_accuracy, ...
        h = self.__dict__.get("history", {})
        if name in h:
            return np.asarray(h[name], dtype=float)
        raise AttributeError(name)

    def __repr__(self):
        last = {k: round(v[-1], 4) for k, v in self.history.items() if v}
        return f"History(epochs={len(self)}, last={last})"


class Callback:
    """Base class. ``fit`` calls ``set_context(model, history)``, ``on_train_begin(logs_keys)``,
    ``on_epoch_end(epoch, logs)`` (return True to stop) and ``on_train_end()``."""

    def set_context(self, model, history):
        self.model, self.history = model, history

    def on_train_begin(self, keys):
        pass

    def on_epoch_end(self, epoch, logs):
        return False

    def on_train_end(self):
        pass


def _copy_weights(model):
    return [p.data.copy() for p in model.parameters()] + [b.copy() for b in _buffers(model)]


def _restore_weights(model, saved):
    for dst, src in zip(list(p.data for p in model.parameters()) + _buffers(model), saved):
        np.copyto(dst, src)


def _buffers(model):
    """Non-trainable arrays (e.g. BatchNorm running statistics), if the model exposes them."""
    get = getattr(model, "buffers", None)
    return list(get()) if callable(get) else []


class EarlyStopping(Callback):
    """Stop when a monitored metric stops improving; optionally restore the best weights.

    Parameters
    ----------
    monitor : str
        A history key: ``"val_loss"`` (default), ``"loss"``, ``"val_accuracy"``, ...
    patience : int
        Epochs without improvement before stopping, >= 0.
    min_delta : float
        Minimum change that counts as improvement, >= 0.
    mode : {"auto", "min", "max"}
        "auto" maximizes keys containing "accuracy", minimizes the rest.
    restore_best_weights : bool
        Put the best epoch's weights back at the end of training.
    """

    def __init__(self, monitor="val_loss", patience=5, min_delta=0.0, mode="auto",
                 restore_best_weights=True):
        check_str("monitor", monitor)
        check_choice("mode", mode, ("auto", "min", "max"))
        self.monitor, self.patience = monitor, check_int("patience", patience, low=0)
        self.min_delta = check_number("min_delta", min_delta, low=0)
        self.maximize = mode == "max" or (mode == "auto" and "accuracy" in monitor)
        self.restore_best_weights = check_bool("restore_best_weights", restore_best_weights)

    def on_train_begin(self, keys):
        if self.monitor not in keys:
            raise ValueError(f"EarlyStopping monitor={self.monitor!r} is not recorded by this fit; "
                             f"available: {sorted(keys)} (val_* keys need validation_data or validation_split)")
        self.best, self.best_epoch, self.wait, self.best_weights = None, None, 0, None

    def on_epoch_end(self, epoch, logs):
        check_int("epoch", epoch, low=0)
        if not isinstance(logs, dict) or self.monitor not in logs:
            raise TypeError(f"logs must be a dict holding {self.monitor!r}, got {type(logs).__name__}")
        value = check_number(f"logs[{self.monitor!r}]", logs[self.monitor]) if not isinstance(
            logs[self.monitor], float) else logs[self.monitor]
        better = math.isfinite(value) and (
            self.best is None
            or (value > self.best + self.min_delta if self.maximize else value < self.best - self.min_delta))
        if better:
            self.best, self.best_epoch, self.wait = value, epoch, 0
            if self.restore_best_weights:
                self.best_weights = _copy_weights(self.model)
            return False
        self.wait += 1
        return self.wait >= self.patience

    def on_train_end(self):
        if self.restore_best_weights and self.best_weights is not None:
            _restore_weights(self.model, self.best_weights)
            self.history.best_epoch = self.best_epoch
