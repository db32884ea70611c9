"""``Sequential``: a stack of layers, its backward pass, and saving/loading.

Saved models are ``.npz`` files holding the architecture as a JSON string,
a format version number and the arrays; they load with
``allow_pickle=False``, so a model file can never execute code.
"""
import copy
import json
import zipfile

import numpy as np

from .layers import LAYER_REGISTRY, Layer, _check_dtype, all_finite, check_batch
from neurosim._validate import check_bool, check_int

__all__ = ["Sequential", "load", "FORMAT_VERSION"]

FORMAT_NAME = "ratenet.Sequential"
#: Version written by :meth:`Sequential.save`; newer files are rejected.
FORMAT_VERSION = 1
_META_KEY, _VERSION_KEY = "__ratenet__", "__version__"


class Sequential:
    """Layers applied in order: ``Y = layers[-1](... layers[0](X))``.

    Parameters
    ----------
    layers : list of Layer
        All layers with parameters must share one dtype (float32 by default).
        Widths must chain: each layer's required input width equals the
        previous output width (checked here).
    """

    def __init__(self, layers):
        if isinstance(layers, Layer) or not isinstance(layers, (list, tuple)):
            raise TypeError(f"layers: expected a list of Layer objects, got {type(layers).__name__}")
        if not layers:
            raise ValueError("layers: expected at least one layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layers[{i}]: expected a Layer, got {type(layer).__name__}")
        if len({id(layer) for layer in layers}) != len(layers):
            raise ValueError("layers: the same layer object appears twice (its caches would clash)")
        self.layers = list(layers)
        dtypes = {p.data.dtype for p in self.parameters()}
        if len(dtypes) > 1:
            raise ValueError(f"layers: parameters mix dtypes {sorted(map(str, dtypes))}; use one dtype")
        self.dtype = dtypes.pop() if dtypes else np.dtype(np.float32)
        self.n_in = None
        width = None
        for i, layer in enumerate(self.layers):
            need = layer.input_features()
            if need is not None and width is not None and need != width:
                raise ValueError(
                    f"layers[{i}]: {layer!r} expects {need} inputs but the previous layer gives {width}")
            if width is None and need is not None and self.n_in is None:
                self.n_in = need
            width = layer.output_features(width if width is not None else need)
        self.n_out = width
        self._plan = self._inplace_plan()

    def _inplace_plan(self):
        """Per layer: may it overwrite its forward input, and its backward dY?

        A layer may overwrite its input when the previous layer of *this* model
        returns an array it does not keep, and its dY when the next layer does.
        The flags are decided per model and set on a layer only for the duration
        of one call (then reset), so a layer shared between models, or called
        directly, never writes into an array its caller holds.
        """
        last = len(self.layers) - 1
        return [(i > 0 and self.layers[i - 1].fresh_output, i < last and self.layers[i + 1].fresh_grad)
                for i in range(len(self.layers))]

    def __len__(self):
        return len(self.layers)

    def __getitem__(self, i):
        return self.layers[i]

    def __iter__(self):
        return iter(self.layers)

    def __repr__(self):
        return "Sequential([" + ", ".join(map(repr, self.layers)) + "])"

    # ---------------------------------------------------------------- passes
    def _check_input(self, X):
        if not (type(X) is np.ndarray and X.dtype == self.dtype and X.ndim == 2
                and X.shape[1] == self.n_in and X.shape[0] > 0):
            return check_batch(X, self.n_in, self.dtype)
        if not all_finite(X):
            raise ValueError("X: contains NaN or infinite values")
        return X

    def forward(self, X, training=False):
        """Network output.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_in)
            Finite values; converted to the model dtype if needed.
        training : bool
            Training mode (dropout active, batch statistics in BatchNorm).

        Returns
        -------
        ndarray, shape (n_samples, n_out)
        """
        training = check_bool("training", training)
        X = self._check_input(X)
        for layer, (inplace, _) in zip(self.layers, self._plan):
            if inplace:
                layer._inplace_in = True
                try:
                    X = layer.forward(X, training)
                finally:
                    layer._inplace_in = False
            else:
                X = layer.forward(X, training)
        return X

    __call__ = forward

    def predict(self, X, batch_size=None):
        """Evaluation-mode output, optionally in chunks of ``batch_size`` rows.

        Returns
        -------
        ndarray, shape (n_samples, n_out)
        """
        if batch_size is None:
            return self.forward(X)
        batch_size = check_int("batch_size", batch_size, low=1)
        X = self._check_input(X)
        return np.concatenate([self.forward(X[i:i + batch_size])
                               for i in range(0, X.shape[0], batch_size)])

    def _backward_from(self, start, dY, input_grad):
        layers, plan = self.layers, self._plan
        for j in range(start, -1, -1):
            layer, want = layers[j], input_grad or j > 0
            if plan[j][1]:
                layer._inplace_grad = True
                try:
                    dY = layer.backward(dY, input_grad=want)
                finally:
                    layer._inplace_grad = False
            else:
                dY = layer.backward(dY, input_grad=want)
        return dY if input_grad else None

    def backward(self, dY, input_grad=True):
        """Backpropagate dE/dY of the last forward; writes every parameter's grad.

        Parameters
        ----------
        dY : ndarray, shape (n_samples, n_out)
        input_grad : bool
            Also compute dE/dX (False skips the first layer's input matmul).

        Returns
        -------
        ndarray, shape (n_samples, n_in), or None if ``input_grad`` is False
        """
        if not isinstance(dY, np.ndarray) or dY.ndim != 2:
            raise ValueError(f"dY: expected a 2-D array, got {np.shape(dY)}")
        return self._backward_from(len(self.layers) - 1, dY, input_grad)

    def _output_gradient(self, loss, Y, T):
        """(index of the first layer to backprop through, gradient into it)."""
        fused = getattr(loss, "fused_activation", None)
        if fused is not None and type(self.layers[-1]) is fused:
            return len(self.layers) - 2, loss.fused_gradient(Y, T)
        return len(self.layers) - 1, loss.gradient(Y, T)

    def backward_loss(self, loss, Y, T, input_grad=False):
        """Backpropagate ``loss(Y, T)`` where Y is the output of the last forward.

        If the last layer is the loss's ``fused_activation`` (Softmax with
        CategoricalCrossEntropy, Sigmoid with BinaryCrossEntropy, LogSoftmax
        with NLLLoss) the stable fused gradient with respect to that layer's
        input is used and its backward is skipped.

        Returns
        -------
        ndarray (n_samples, n_in) if ``input_grad`` else None
        """
        start, dZ = self._output_gradient(loss, Y, T)
        return self._backward_from(start, dZ, input_grad)

    # ------------------------------------------------------------- parameters
    def parameters(self):
        """All trainable :class:`Parameter` objects, first layer first."""
        return [p for layer in self.layers for p in layer.parameters()]

    def buffers(self):
        """Live non-trainable state arrays (e.g. BatchNorm running statistics)."""
        return [getattr(layer, name) for layer in self.layers for name in layer._buffers]

    def zero_grad(self):
        """Set every parameter gradient to zero."""
        for layer in self.layers:
            for p in layer.parameters():
                p.grad.fill(0)

    def n_parameters(self):
        """Total number of trainable scalars."""
        return sum(p.data.size for p in self.parameters())

    def summary(self):
        """A text table: layer, output shape, parameter count, and the total."""
        rows = [("#", "Layer", "Output", "Params")]
        width = self.n_in
        for i, layer in enumerate(self.layers):
            width = layer.output_features(width)
            n = sum(p.data.size for p in layer.parameters())
            rows.append((str(i), repr(layer), f"(n, {width if width is not None else '?'})", f"{n:,}"))
        w = [max(len(r[c]) for r in rows) for c in range(4)]
        fmt = lambda r: f"{r[0]:>{w[0]}}  {r[1]:<{w[1]}}  {r[2]:<{w[2]}}  {r[3]:>{w[3]}}"
        rule = "-" * len(fmt(rows[0]))
        lines = [fmt(rows[0]), rule] + [fmt(r) for r in rows[1:]] + [rule]
        lines.append(f"Total parameters: {self.n_parameters():,} ({self.dtype.name})")
        return "\n".join(lines)

    def state_dict(self):
        """Copies of all parameters and buffers, keyed ``"<layer index>.<name>"``."""
        return {f"{i}.{name}": arr.copy()
                for i, layer in enumerate(self.layers) for name, arr in layer.state().items()}

    def load_state_dict(self, state):
        """Copy arrays from ``state`` (as made by :meth:`state_dict`) into the model.

        Values are copied into the existing arrays, so optimizers holding the
        parameters keep working. Keys and shapes must match exactly.
        """
        if not isinstance(state, dict):
            raise TypeError(f"state: expected a dict, got {type(state).__name__}")
        live = {f"{i}.{name}": arr
                for i, layer in enumerate(self.layers) for name, arr in layer.state().items()}
        missing, unexpected = sorted(set(live) - set(state)), sorted(set(state) - set(live))
        if missing or unexpected:
            raise ValueError(f"state: keys do not match the model (missing {missing}, unexpected {unexpected})")
        for key, arr in live.items():
            value = np.asarray(state[key])
            if value.shape != arr.shape:
                raise ValueError(f"state[{key!r}]: expected shape {arr.shape}, got {value.shape}")
            if value.dtype.kind not in "biuf":
                raise TypeError(f"state[{key!r}]: expected a numeric array, got dtype {value.dtype}")
            arr[...] = value

    def copy(self, dtype=None):
        """An independent deep copy, optionally converted to ``dtype``."""
        new = copy.deepcopy(self)
        if dtype is not None:
            dtype = _check_dtype(dtype)
            for layer in new.layers:
                layer.astype(dtype)
            new.dtype = dtype
        return new

    # --------------------------------------------------------------- training
    def fit(self, X, T, **kwargs):
        """Train the model; see :func:`ratenet.training.fit` for the arguments."""
        from .training import fit
        return fit(self, X, T, **kwargs)

    # ------------------------------------------------------------ persistence
    def architecture(self):
        """The JSON-serializable description saved with the model."""
        layers = []
        for i, layer in enumerate(self.layers):
            config = layer.get_config()
            try:
                json.dumps(config)
            except TypeError as exc:
                raise TypeError(f"layers[{i}]: {type(layer).__name__}.get_config() is not "
                                f"JSON-serializable ({exc})") from exc
            layers.append({"class": type(layer).__name__, "config": config})
        return {"format": FORMAT_NAME, "version": FORMAT_VERSION, "layers": layers}

    def save(self, path):
        """Save architecture and arrays to a ``.npz`` file (no pickle).

        Parameters
        ----------
        path : str, os.PathLike or writable binary file
            numpy appends ``.npz`` to a path without it.
        """
        arrays = self.state_dict()
        arrays[_META_KEY] = np.array(json.dumps(self.architecture()))
        arrays[_VERSION_KEY] = np.array(FORMAT_VERSION, dtype=np.int64)
        np.savez(path, **arrays)


def _bad(path, why):
    return ValueError(f"{path!r} is not a readable ratenet model file: {why}")


def load(path):
    """Load a model saved by :meth:`Sequential.save`.

    Parameters
    ----------
    path : str, os.PathLike or readable binary file

    Returns
    -------
    Sequential

    Raises
    ------
    ValueError
        For anything that is not a ratenet model file of a supported version:
        random bytes, a foreign ``.npz``/``.npy``, pickled objects, unknown
        layer classes, mismatched arrays, or a newer format version.
    """
    try:
        data = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise _bad(path, exc) from exc
    if not isinstance(data, np.lib.npyio.NpzFile):
        raise _bad(path, "not an .npz archive")
    with data:
        try:
            if _META_KEY not in data.files or _VERSION_KEY not in data.files:
                raise _bad(path, f"missing {_META_KEY!r}/{_VERSION_KEY!r} entries")
            version = data[_VERSION_KEY]
            if version.shape != () or version.dtype.kind not in "iu":
                raise _bad(path, f"bad format version {version!r}")
            version = int(version)
            if version > FORMAT_VERSION:
                raise _bad(path, f"format version {version} is newer than this ratenet "
                                 f"supports ({FORMAT_VERSION}); upgrade ratenet")
            if version < 1:
                raise _bad(path, f"bad format version {version}")
            meta = data[_META_KEY]
            if meta.shape != () or meta.dtype.kind != "U":
                raise _bad(path, "architecture entry is not a string")
            meta = json.loads(str(meta))
            if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
                raise _bad(path, "architecture does not describe a ratenet.Sequential")
            layers = []
            for i, spec in enumerate(meta.get("layers") or ()):
                cls = LAYER_REGISTRY.get(spec.get("class")) if isinstance(spec, dict) else None
                if cls is None:
                    raise _bad(path, f"layer {i}: unknown layer class {spec!r} "
                                     "(import the module defining it before loading)")
                config = spec.get("config", {})
                if not isinstance(config, dict):
                    raise _bad(path, f"layer {i}: config is not a mapping")
                layers.append(cls(**config))
            model = Sequential(layers)
            state = {k: data[k] for k in data.files if k not in (_META_KEY, _VERSION_KEY)}
            model.load_state_dict(state)
        except ValueError as exc:
            if str(exc).startswith(repr(path)):
                raise
            raise _bad(path, exc) from exc
        except (TypeError, KeyError, AttributeError, OSError, zipfile.BadZipFile, EOFError) as exc:
            raise _bad(path, exc) from exc
    return model
