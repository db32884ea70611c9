"""``Sequential``: a stack of layers, its backward pass, and saving/loading.

Saved models are ``.npz`` files holding the architecture as a JSON string,
a format version number and the arrays. Saving is atomic; loading reads only
the entries a model needs, checks sizes before allocating and never unpickles,
so a model file can never execute code or exhaust memory.
"""
import copy
import json
import math
import os
import re
import zipfile

import numpy as np

from neurosim.io import atomic_write
from neurosim.validation import check_bool, check_int, real_array, renamed_argument
from .layers import LAYER_REGISTRY, Layer, _check_dtype, all_finite, check_batch, shape_text
from . import training as _training

__all__ = ["Sequential", "load", "FORMAT_VERSION", "MAX_LOAD_BYTES"]

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
        shapes = self.layer_shapes()
        self.n_in, self.n_out = shapes[0][0], shapes[-1][1]
        self._plan = self._inplace_plan()

    def layer_shapes(self, input_shape=None):
        """Per layer, its per-sample (input shape, output shape), as far as the layers tell.

        A shape is an int (features of a 2-D batch), a tuple (C, H, W) with None
        for sizes not known before the data arrive, or None. Raises ValueError
        where a layer does not take what the previous one gives.

        Parameters
        ----------
        input_shape : int or tuple of int, optional
            The per-sample input shape, e.g. ``(1, 28, 28)``: every image size is
            then known (and checked). Without it the first entry's input shape is
            the model's ``n_in``.
        """
        width = None if input_shape is None else _shape_arg(input_shape)
        out, leading, n_in = [], True, None     # leading: only shape-preserving layers so far
        for i, layer in enumerate(self.layers):
            need = layer.input_features()
            if width is not None and not layer.accepts(width):
                if isinstance(need, int) and isinstance(width, int):
                    raise ValueError(f"layers[{i}]: {layer!r} expects {need} inputs but the previous layer "
                                     f"gives {width}")
                hint = " (add a Flatten() before it)" if isinstance(width, tuple) and not isinstance(need, tuple) else ""
                given = "the input is" if i == 0 else "the previous layer gives"
                raise ValueError(f"layers[{i}]: {layer!r} expects inputs {shape_text(need)} but {given} "
                                 f"{shape_text(width)}{hint}")
            if leading and width is None and need is not None:
                n_in = need
            leading = leading and layer.preserves_shape
            given = width if width is not None else need
            width = layer.output_features(given)
            out.append((given, width))
        if input_shape is None:
            out[0] = (n_in, out[0][1])
        return out

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
                and X.shape[1] == self.n_in and X.shape[0] > 0) or isinstance(self.n_in, tuple):
            return check_batch(X, self.n_in, self.dtype)
        if not all_finite(X):
            raise ValueError("X: contains NaN or infinite values")
        return X

    def forward(self, X, training=False):
        """Network output.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_in) or (n_samples, C, H, W)
            Finite values; converted to the model dtype if needed. Image batches
            (channels first) for a model that starts with image layers.
        training : bool
            Training mode (dropout active, batch statistics in BatchNorm).

        Returns
        -------
        ndarray, shape (n_samples, n_out) (or (n_samples, C, H, W) for an image output)
        """
        training = check_bool("training", training)
        X = self._check_input(X)
        for i, (layer, (inplace, _)) in enumerate(zip(self.layers, self._plan)):
            try:
                if inplace:
                    layer._inplace_in = True
                    try:
                        X = layer.forward(X, training)
                    finally:
                        layer._inplace_in = False
                else:
                    X = layer.forward(X, training)
            except ValueError as exc:
                if i == 0:
                    raise
                # a shape the layers could not check when the model was built (image sizes)
                raise ValueError(f"layers[{i}] {layer!r}: {exc}") from exc
        return X

    __call__ = forward

    def predict(self, X, batch_size=None):
        """Evaluation-mode output, optionally in chunks of ``batch_size`` rows.

        Returns
        -------
        ndarray, shape (n_samples, n_out)

        Raises
        ------
        ValueError
            If the output is not finite although ``X`` is: an intermediate value
            overflowed the model's dtype (e.g. float32 inputs near 1e38). The
            message says which rows; scale the inputs or use
            ``model.copy(dtype=np.float64)``.
        """
        if batch_size is not None:
            batch_size = check_int("batch_size", batch_size, low=1)
        X = self._check_input(X)
        with np.errstate(over="ignore", invalid="ignore"):   # overflow is reported below, clearly
            if batch_size is None:
                Y = self.forward(X)
            else:
                Y = np.concatenate([self.forward(X[i:i + batch_size]) for i in range(0, X.shape[0], batch_size)])
        if not all_finite(Y):
            raise ValueError(_overflow_message(self, X, Y))
        return Y

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
        input_grad = check_bool("input_grad", input_grad)
        dY = real_array("dY", dY, dtype=None, finite=False, ndim=(2, 4))
        return self._backward_from(len(self.layers) - 1, dY, input_grad)

    def _output_gradient(self, loss, Y, T):
        """(index of the first layer to backprop through, gradient into it)."""
        fused = getattr(loss, "fused_activation", None)
        if fused is not None and type(self.layers[-1]) is fused:
            return len(self.layers) - 2, loss.fused_gradient(Y, T)
        return len(self.layers) - 1, loss.gradient(Y, T)

    @renamed_argument("T", "y")
    def backward_loss(self, loss, Y, y, input_grad=False):
        """Backpropagate ``loss(Y, y)`` where Y is the output of the last forward.

        If the last layer is the loss's ``fused_activation`` (Softmax with
        CategoricalCrossEntropy, Sigmoid with BinaryCrossEntropy, LogSoftmax
        with NLLLoss) the stable fused gradient with respect to that layer's
        input is used and its backward is skipped.

        Returns
        -------
        ndarray (n_samples, n_in) if ``input_grad`` else None
        """
        if input_grad is not True and input_grad is not False:
            input_grad = check_bool("input_grad", input_grad)
        if not callable(getattr(loss, "gradient", None)):
            raise TypeError(f"loss must be a ratenet loss (with .gradient), got {type(loss).__name__}")
        start, dZ = self._output_gradient(loss, Y, y)
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

    def summary(self, input_shape=None):
        """A text table: layer, output shape, parameter count, and the total.

        ``input_shape`` (e.g. ``(1, 28, 28)``) fills in image sizes; see :meth:`layer_shapes`.
        """
        rows = [("#", "Layer", "Output", "Params")]
        for i, (layer, (_, width)) in enumerate(zip(self.layers, self.layer_shapes(input_shape))):
            n = sum(p.data.size for p in layer.parameters())
            rows.append((str(i), repr(layer), shape_text(width), f"{n:,}"))
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
        values = {}
        for key, arr in live.items():       # check everything before copying anything
            value = np.asarray(state[key])
            if value.shape != arr.shape:
                raise ValueError(f"state[{key!r}]: expected shape {arr.shape}, got {value.shape}")
            if value.dtype.kind not in "biuf":
                raise TypeError(f"state[{key!r}]: expected a numeric array, got dtype {value.dtype}")
            if not np.isfinite(value).all():
                raise ValueError(f"state[{key!r}]: contains NaN or inf; a model's weights and "
                                 "statistics must be finite")
            low = _STATE_LOW.get(key.rsplit(".", 1)[-1])
            if low is not None and (value < low).any():
                raise ValueError(f"state[{key!r}]: a variance must be >= {low}, got min {value.min()!r}; "
                                 "it would give NaN predictions")
            values[key] = value
        for key, arr in live.items():
            arr[...] = values[key]

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
    @renamed_argument("T", "y")
    def fit(self, X, y, **kwargs):
        """Train the model: ``model.fit(X, y, loss=..., optimizer=..., ...)``.

        Every keyword of :func:`ratenet.fit` is accepted (``epochs``,
        ``batch_size``, ``validation_data``, ``callbacks``, ``rng``, ``transform``,
        ``progress``, ...); returns its :class:`History`.
        """
        return _training.fit(self, X, y, **kwargs)

    @renamed_argument("T", "y")
    def evaluate(self, X, y, loss=None, batch_size=1024):
        """Loss (and accuracy for classification targets) in evaluation mode.

        Parameters
        ----------
        X : array, shape (n, n_in)
        y : array, shape (n,) of class indices or (n, n_out)
        loss : Loss or None
            None picks the loss that matches the last layer: CategoricalCrossEntropy
            after Softmax, BinaryCrossEntropy after Sigmoid, NLLLoss after
            LogSoftmax, MSE otherwise (integer class labels then need ``loss=``).
        batch_size : int
            Rows per forward pass (bounds memory; the result does not depend on it).

        Returns
        -------
        dict
            What :func:`ratenet.evaluate` returns: ``{"loss": float}`` plus
            ``"accuracy"`` for classification targets.
        """
        if loss is None:
            loss = _default_loss(self.layers[-1], y)
        return _training.evaluate(self, X, y, loss, batch_size=batch_size)

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
        """Save architecture and arrays to a ``.npz`` file (no pickle), atomically.

        The file is written to a temporary file in the same folder, fsynced, then
        moved over ``path``: an interruption (exception, full disk, Ctrl-C) leaves
        any previous file at ``path`` intact, and a reader never sees a torn file.

        Parameters
        ----------
        path : str, os.PathLike or writable binary file
            ``.npz`` is appended to a path without it (as numpy does);
            :func:`load` accepts the same name. Its folder must exist.

        Returns
        -------
        str or file
            The path actually written (with ``.npz``), or the file object.
        """
        arrays = self.state_dict()
        arrays[_META_KEY] = np.array(json.dumps(self.architecture()))
        arrays[_VERSION_KEY] = np.array(FORMAT_VERSION, dtype=np.int64)
        if hasattr(path, "write"):
            np.savez(path, **arrays)
            return path
        path = _npz_path(path)
        with atomic_write(path) as f:
            np.savez(f, **arrays)
        return path


def _overflow_message(model, X, Y):
    bad = np.flatnonzero(~np.isfinite(Y).all(axis=1))
    rows = ", ".join(map(str, bad[:5])) + (", ..." if len(bad) > 5 else "")
    return (f"X: the output of rows [{rows}] is NaN/inf although X is finite: an intermediate value "
            f"overflowed {model.dtype.name} (largest |X| {float(np.abs(X).max()):.3g}, the dtype's maximum "
            f"{float(np.finfo(model.dtype).max):.3g}); scale the inputs (e.g. ratenet.Standardizer) or use "
            "model.copy(dtype=np.float64)")


# Buffers with a lower bound beyond finiteness (a variance below 0 gives sqrt of a negative).
_STATE_LOW = {"running_var": 0}


def _default_loss(last, y):
    """The loss fused with the last layer (how such a model is trained), else MSE."""
    from . import losses
    for cls in (losses.CategoricalCrossEntropy, losses.BinaryCrossEntropy, losses.NLLLoss):
        if type(last) is cls.fused_activation:
            return cls()
    if np.asarray(y).dtype.kind in "iu" and np.ndim(y) == 1:
        raise ValueError(f"y: integer class labels need a classification loss; the last layer is "
                         f"{type(last).__name__}, so pass loss= (e.g. ratenet.CategoricalCrossEntropy())")
    return losses.MSE()


def _shape_arg(shape):
    """A per-sample shape argument: an int >= 1 or a tuple of ints >= 1."""
    if isinstance(shape, (tuple, list)):
        if not shape:
            raise ValueError("input_shape: expected an int or a tuple such as (1, 28, 28), got ()")
        return tuple(check_int("input_shape", s, low=1) for s in shape)
    return check_int("input_shape", shape, low=1)


def _npz_path(path):
    """The file name ``save`` writes for ``path``: ``.npz`` appended when missing."""
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str, os.PathLike or a binary file, got {type(path).__name__}")
    path = os.fspath(path)
    if not isinstance(path, str):
        path = os.fsdecode(path)
    if path == "" or os.path.basename(path) in ("", ".", ".."):
        raise ValueError(f"path must name a file, got {path!r}")
    return path if path.endswith(".npz") else path + ".npz"


def _bad(path, why):
    return ValueError(f"{_name(path)} is not a readable ratenet model file: {why}")


def _name(path):
    return repr(os.fspath(path)) if isinstance(path, (str, os.PathLike)) else f"<{type(path).__name__}>"


#: Default limit of :func:`load` on the bytes of all arrays a model file declares.
MAX_LOAD_BYTES = 2**30
_MAX_META_BYTES = 16 * 2**20     # the architecture JSON (activations may hold small tables)
_MAX_JSON_DEPTH = 32


def load(path, max_bytes=MAX_LOAD_BYTES):
    """Load a model saved by :meth:`Sequential.save`.

    The file is read defensively: only the entries a model needs are read (a
    zip bomb in another entry is never touched), every array's declared shape is
    checked against the layer's architecture and against the bytes actually
    stored, and the total against ``max_bytes``, all before anything is
    allocated. Nothing is ever unpickled.

    Parameters
    ----------
    path : str, os.PathLike or readable binary file
        A name ``save`` accepted: ``load("m")`` reads ``m.npz`` when ``m`` itself
        does not exist.
    max_bytes : int
        Largest total size of the model's arrays, in bytes (default 1 GiB).

    Returns
    -------
    Sequential

    Raises
    ------
    FileNotFoundError, PermissionError, IsADirectoryError
        The file cannot be opened (OS errors).
    ValueError
        For anything that is not a ratenet model file of a supported version:
        random bytes, a foreign ``.npz``/``.npy``, object arrays, unknown layer
        classes, mismatched or oversized arrays, deeply nested JSON, or a newer
        format version.
    """
    max_bytes = check_int("max_bytes", max_bytes, low=1)
    if isinstance(path, (str, os.PathLike)):
        name = os.fspath(path)
        if not isinstance(name, str):
            name = os.fsdecode(name)
        if name == "":
            raise ValueError("path must name a file, got ''")
        if not os.path.exists(name) and not name.endswith(".npz") and os.path.exists(name + ".npz"):
            path = name + ".npz"
        with open(path, "rb") as f:        # OS errors propagate as themselves
            return _load_from(f, path, max_bytes)
    if not hasattr(path, "read"):
        raise TypeError(f"path must be a str, os.PathLike or a readable binary file, got {type(path).__name__}")
    return _load_from(path, path, max_bytes)


def _load_from(f, path, max_bytes):
    try:
        with zipfile.ZipFile(f) as zf:
            return _read_model(zf, max_bytes)
    except _LoadError as exc:
        raise _bad(path, exc) from None
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError, TypeError, KeyError,
            OverflowError, NotImplementedError, RuntimeError, OSError, UnicodeError) as exc:
        if isinstance(exc, (PermissionError, IsADirectoryError)):
            raise
        raise _bad(path, f"{type(exc).__name__}: {exc}") from None


def _abstract(cls):
    """A base class: marked ``_abstract = True`` in its body, or without forward (an Activation without function)."""
    from .activations import Activation
    if cls.__dict__.get("_abstract", False) or cls.forward is Layer.forward:
        return True
    return issubclass(cls, Activation) and cls.function is Activation.function


class _LoadError(Exception):
    """Why a file is not a model file (turned into ValueError with the path)."""


def _header(zf, key):
    """(ZipInfo, shape, dtype, offset of the data) of member ``key`` + '.npy', data unread."""
    try:
        info = zf.getinfo(key + ".npy")
    except KeyError:
        raise _LoadError(f"missing entry {key!r}") from None
    with zf.open(info) as fh:
        version = np.lib.format.read_magic(fh)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh, max_header_size=10000)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh, max_header_size=10000)
        else:
            raise _LoadError(f"entry {key!r}: unsupported .npy version {version}")
        offset = fh.tell()
    if dtype.hasobject or dtype.kind not in "biufU":
        raise _LoadError(f"entry {key!r} holds {dtype} data; only numeric arrays are read")
    n = math.prod(shape) * dtype.itemsize
    if info.file_size - offset != n:
        raise _LoadError(f"entry {key!r} declares shape {shape} ({n} bytes) but stores "
                         f"{info.file_size - offset} bytes")
    return info, tuple(shape), dtype, fortran, offset


def _read(zf, key, max_bytes):
    info, shape, dtype, fortran, offset = _header(zf, key)
    if math.prod(shape) * dtype.itemsize > max_bytes:
        raise _LoadError(f"entry {key!r} needs {math.prod(shape) * dtype.itemsize} bytes, "
                         f"more than max_bytes={max_bytes}")
    with zf.open(info) as fh:
        fh.read(offset)
        data = fh.read()
    arr = np.frombuffer(data, dtype=dtype).reshape(shape, order="F" if fortran else "C")
    return arr.copy()


def _json_depth(text):
    """Deepest nesting of [] and {} in JSON ``text`` (outside strings), without recursion."""
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)
    b = np.frombuffer(stripped.encode("utf-8", "replace"), dtype=np.uint8)
    step = np.isin(b, (ord("["), ord("{"))).astype(np.int64) - np.isin(b, (ord("]"), ord("}")))
    return int(np.cumsum(step).max(initial=0))


def _read_meta(zf):
    _, shape, dtype, _, _ = _header(zf, _VERSION_KEY)
    if shape != () or dtype.kind not in "iu":
        raise _LoadError(f"bad format version entry (shape {shape}, dtype {dtype})")
    version = int(_read(zf, _VERSION_KEY, 64))
    if version > FORMAT_VERSION:
        raise _LoadError(f"format version {version} is newer than this ratenet supports "
                         f"({FORMAT_VERSION}); upgrade ratenet")
    if version < 1:
        raise _LoadError(f"bad format version {version}")
    _, shape, dtype, _, _ = _header(zf, _META_KEY)
    if shape != () or dtype.kind != "U":
        raise _LoadError("architecture entry is not a string")
    if dtype.itemsize > _MAX_META_BYTES:
        raise _LoadError(f"architecture entry is {dtype.itemsize} bytes, more than {_MAX_META_BYTES}")
    text = str(_read(zf, _META_KEY, _MAX_META_BYTES)[()])
    if _json_depth(text) > _MAX_JSON_DEPTH:
        raise _LoadError(f"architecture JSON is nested deeper than {_MAX_JSON_DEPTH} levels")
    try:
        meta = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise _LoadError(f"architecture is not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise _LoadError("architecture does not describe a ratenet.Sequential")
    if meta.get("version") != version:
        raise _LoadError(f"architecture version {meta.get('version')!r} does not match the "
                         f"file's format version {version}")
    specs = meta.get("layers")
    if not isinstance(specs, list) or not specs:
        raise _LoadError("architecture has no list of layers")
    return specs


def _read_model(zf, max_bytes):
    specs = _read_meta(zf)
    classes, configs = [], []
    for i, spec in enumerate(specs):
        cls = LAYER_REGISTRY.get(spec.get("class")) if isinstance(spec, dict) else None
        if cls is None:
            raise _LoadError(f"layer {i}: unknown layer class {spec!r} "
                             "(import the module defining it before loading)")
        if _abstract(cls):
            raise _LoadError(f"layer {i}: {cls.__name__} is an abstract base class, not a layer "
                             "a model can hold")
        config = spec.get("config", {})
        if not isinstance(config, dict):
            raise _LoadError(f"layer {i}: config is not a mapping")
        classes.append(cls)
        configs.append(config)
    # Check every declared array against the architecture and max_bytes before
    # building a layer: building allocates what the architecture declares.
    total = 0
    for i, (cls, config) in enumerate(zip(classes, configs)):
        shapes = cls.state_shapes(config)
        for name, shape in (shapes or {}).items():
            key = f"{i}.{name}"
            _, stored, dtype, _, _ = _header(zf, key)
            if stored != tuple(shape):
                raise _LoadError(f"entry {key!r} has shape {stored}, the architecture "
                                 f"({cls.__name__} {config}) needs {tuple(shape)}")
            total += math.prod(stored) * dtype.itemsize
            if dtype.kind not in "biuf":
                raise _LoadError(f"entry {key!r} is not numeric ({dtype})")
    if total > max_bytes:
        raise _LoadError(f"the model's arrays need {total} bytes, more than max_bytes={max_bytes}")
    try:
        layers = [cls(**config) for cls, config in zip(classes, configs)]
    except (TypeError, ValueError) as exc:
        raise _LoadError(f"bad layer configuration ({exc})") from None
    model = Sequential(layers)
    live = {f"{i}.{name}": arr for i, layer in enumerate(model.layers) for name, arr in layer.state().items()}
    state = {}
    for key, arr in live.items():
        value = _read(zf, key, max_bytes)
        if value.dtype.kind not in "biuf":
            raise _LoadError(f"entry {key!r} is not numeric ({value.dtype})")
        state[key] = value
    model.load_state_dict(state)
    return model
