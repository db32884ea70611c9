"""The one validation module of both packages (ratenet imports it).

Plain checks for values users pass in at public entry points; internal calls
and hot loops do not repeat them. Every check raises

- ``TypeError`` for a wrong type: complex numbers, strings, ``None`` where a
  value is needed, a non-bool flag (``training='no'``), a float where an int is
  needed;
- ``ValueError`` for a wrong value: NaN or inf, out of range, wrong shape,
  empty, an unknown choice, work too large to do;

and the message names the parameter, the value it got and what is allowed.
numpy scalar types (``np.float32(0.1)``, ``np.int64(3)``, ``np.bool_(True)``)
are accepted wherever the matching Python type is.
"""
import functools
import math
import numbers
import warnings

import numpy as np

__all__ = ["positive", "finite_array", "n_steps", "check_number", "check_int", "check_bool",
           "check_choice", "check_str", "check_float_dtype", "check_dtype", "check_shape_tuple", "check_strings", "check_shape", "real_array", "as_rng",
           "check_work", "DEFAULT_MAX_WORK", "renamed_argument", "index_array", "MAX_INDEX", "count_int",
           "check_sequence", "check_same_length", "finite_result"]

#: Default limit of :func:`check_work` (elements allocated or steps taken).
DEFAULT_MAX_WORK = 2 * 10**9

#: Largest neuron index events can hold (they are stored as uint32).
MAX_INDEX = 2**32 - 1


def _show(value):
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _is_real_scalar(value):
    return (isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))) or (
        isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf")


def check_number(name, value, low=None, high=None, low_open=False, high_open=False):
    """Return ``float(value)`` after checking it is a finite real number within [low, high].

    ``low_open``/``high_open`` make the corresponding end exclusive; ``None`` means unbounded.
    bool, complex, strings and None raise TypeError.
    """
    if not _is_real_scalar(value):
        raise TypeError(f"{name} must be a real number, got {_show(value)} ({type(value).__name__})")
    value = float(value)
    bad = not math.isfinite(value)
    if low is not None:
        bad |= value <= low if low_open else value < low
    if high is not None:
        bad |= value >= high if high_open else value > high
    if bad:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        left = "(" if low_open or low is None else "["
        right = ")" if high_open or high is None else "]"
        raise ValueError(f"{name} must be a finite number in {left}{lo}, {hi}{right}, got {value!r}")
    return value


def positive(name, value, allow_zero=False):
    """Return ``value`` as float if it is a finite number > 0 (>= 0 with ``allow_zero``)."""
    return check_number(name, value, low=0, low_open=not allow_zero)


def check_int(name, value, low=None, high=None):
    """Return ``int(value)`` after checking it is an integer (not bool) in [low, high].

    Python and numpy integers are accepted; floats (even 3.0), bools and strings raise TypeError.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {_show(value)} ({type(value).__name__})")
    value = int(value)
    if (low is not None and value < low) or (high is not None and value > high):
        rng = (f">= {low}" if high is None else f"<= {high}" if low is None else f"in [{low}, {high}]")
        raise ValueError(f"{name} must be an integer {rng}, got {value}")
    return value


def count_int(name, value, low=1, limit=DEFAULT_MAX_WORK, limit_name=None):
    """Return ``int(value)``, an integer count in [low, limit] (a size to allocate).

    A count above ``limit`` is refused up front (ValueError naming the estimate), never a
    MemoryError halfway through.
    """
    value = check_int(name, value, low=low)
    if value > limit:
        hint = f"; pass a larger {limit_name}= if you really mean it" if limit_name else ""
        raise ValueError(f"{name}={value} is more than the limit {limit:.3g}{hint}")
    return value


def index_array(name, value, n=None):
    """Return ``value`` as a 1-D int64 array of indices in [0, n) (``n`` None: only >= 0).

    Floats (even 1.0), bools, strings, complex and None raise TypeError; negative or
    too large indices ValueError.
    """
    if value is None or isinstance(value, (str, bytes)):
        raise TypeError(f"{name} must be an array of integer indices, got {_show(value)}")
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be an array of integer indices, got {type(value).__name__} ({err})") from None
    if arr.dtype.kind not in "iu" and not (arr.size == 0 and arr.dtype.kind == "f"):
        raise TypeError(f"{name} must hold integers, got dtype {arr.dtype} ({_show(value)})")
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.size:
        lo, hi = int(arr.min()), int(arr.max())
        if lo < 0 or (n is not None and hi >= n):
            allowed = ">= 0" if n is None else f"in [0, {n})"
            raise ValueError(f"{name} must be {allowed}, got values in [{lo}, {hi}]")
    return arr.astype(np.int64, copy=False)


def check_same_length(name_a, a, name_b, b, what="samples"):
    """ValueError naming both arrays when their first dimensions differ.

    When two aligned arguments disagree (inputs and targets, outputs and
    targets), neither is known to be the wrong one: the message names both
    with their shapes, e.g. ``"X and y must have the same number of samples:
    X has shape (9, 4), y has shape (10,)"``. Values without a shape (None,
    ragged lists, scalars) pass: their own checks say what is wrong.

    Returns
    -------
    int or None
        The common length, or None when one has no first dimension.
    """
    sa, sb = _shape_of(a), _shape_of(b)
    if not sa or not sb:
        return None
    if sa[0] != sb[0]:
        raise ValueError(f"{name_a} and {name_b} must have the same number of {what}: "
                         f"{name_a} has shape {sa}, {name_b} has shape {sb}")
    return sa[0]


def _shape_of(value):
    shape = getattr(value, "shape", None)
    if isinstance(shape, tuple):
        return shape
    if isinstance(value, (list, tuple)):
        try:
            return np.shape(value)
        except ValueError:  # ragged
            return (len(value),)
    return None


def check_sequence(name, value, what="a list, tuple or array"):
    """TypeError unless ``value`` is a list, tuple or numpy array."""
    if not isinstance(value, (list, tuple, np.ndarray)):
        raise TypeError(f"{name} must be {what}, got {_show(value)} ({type(value).__name__})")
    return value


def check_bool(name, value):
    """Return ``bool(value)``; only ``True``/``False`` and ``numpy.bool_`` are flags.

    A truthy string such as ``'no'``, an int or None raises TypeError (``training='no'``
    must not mean training mode).
    """
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {_show(value)} ({type(value).__name__})")
    return bool(value)


def check_str(name, value):
    """Return ``value`` if it is a str, else TypeError."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string, got {_show(value)} ({type(value).__name__})")
    return value


def check_choice(name, value, choices):
    """Return ``value`` if it is one of the strings ``choices``.

    TypeError for a non-string, ValueError (listing the choices) for an unknown string.
    """
    check_str(name, value)
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}; got {value!r}")
    return value


def check_strings(name, value):
    """Return a list of strings from a sequence of strings.

    A single string is one item (``keys='loss'`` means ``['loss']``, never its characters).
    """
    if isinstance(value, str):
        return [value]
    try:
        items = list(value)
    except TypeError:
        raise TypeError(f"{name} must be a string or a sequence of strings, got "
                        f"{_show(value)} ({type(value).__name__})") from None
    for i, item in enumerate(items):
        if not isinstance(item, str):
            raise TypeError(f"{name}[{i}] must be a string, got {_show(item)} ({type(item).__name__})")
    return items


def real_array(name, value, dtype=np.float64, finite=True, ndim=None, allow_empty=True):
    """Return ``value`` as an array of ``dtype`` (float32/float64), checked.

    Parameters
    ----------
    name : str
        Parameter name used in error messages.
    value : array_like
        Real numbers (bool, int, float of any width). Complex, strings, objects and
        None raise TypeError.
    dtype : numpy dtype
        Result dtype; ``None`` keeps a float input's dtype (ints become float64).
    finite : bool
        Reject NaN and inf (ValueError).
    ndim : int or tuple of int, optional
        Allowed numbers of dimensions (ValueError otherwise).
    allow_empty : bool
        Whether a size-0 array is valid.
    """
    if value is None:
        raise TypeError(f"{name} must be a real number or array, got None")
    if isinstance(value, np.ndarray):
        arr = value
    else:
        try:
            arr = np.asarray(value)
        except (TypeError, ValueError) as err:
            raise TypeError(f"{name} must be a numeric array, got {type(value).__name__} ({err})") from None
    if arr.dtype.kind not in "biuf":
        what = "complex" if arr.dtype.kind == "c" else f"dtype {arr.dtype}"
        raise TypeError(f"{name} must hold real numbers, got {what} ({_show(value)})")
    if dtype is None:
        dtype = arr.dtype if arr.dtype.kind == "f" else np.float64
    arr = arr.astype(dtype, copy=False)
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if arr.ndim not in allowed:
            raise ValueError(f"{name} must be {' or '.join(f'{d}-D' for d in allowed)}, "
                             f"got shape {arr.shape}")
    if not allow_empty and arr.size == 0:
        raise ValueError(f"{name} must not be empty, got shape {arr.shape}")
    if finite and not np.isfinite(arr).all():
        bad = arr[~np.isfinite(arr)].ravel()[0]
        raise ValueError(f"{name} must be finite everywhere, found {bad!r}")
    return arr


def finite_array(name, value, dtype=np.float64):
    """Return ``value`` as an array of ``dtype``; reject complex (TypeError), NaN and inf (ValueError)."""
    return real_array(name, value, dtype=dtype)


def check_float_dtype(name, dtype):
    """Return ``numpy.dtype(dtype)`` if it is float32 or float64 (a dtype, a type or its name)."""
    if dtype is None or isinstance(dtype, (bool, numbers.Number)):
        raise TypeError(f"{name} must be numpy.float32 or numpy.float64, got {_show(dtype)}")
    try:
        out = np.dtype(dtype)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be numpy.float32 or numpy.float64, got {_show(dtype)}") from None
    if out not in (np.float32, np.float64):
        raise ValueError(f"{name} must be numpy.float32 or numpy.float64, got {out}")
    return out


def check_dtype(name, dtype, kinds="biuf"):
    """Return ``numpy.dtype(dtype)`` if its kind is one of ``kinds`` (default: bool, ints, floats)."""
    if dtype is None or isinstance(dtype, (bool, numbers.Number)):
        raise TypeError(f"{name} must be a numeric numpy dtype, got {_show(dtype)}")
    try:
        out = np.dtype(dtype)
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a numeric numpy dtype, got {_show(dtype)}") from None
    if out.kind not in kinds:
        raise ValueError(f"{name} must be a numeric dtype (kinds {kinds!r}), got {out}")
    return out


def check_shape_tuple(name, shape):
    """Return ``shape`` (an int or a sequence of ints >= 0) as a tuple of ints."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, (bool, np.bool_)):
        shape = (shape,)
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__iter__"):
        raise TypeError(f"{name} must be a tuple of ints, got {_show(shape)} ({type(shape).__name__})")
    return tuple(check_int(f"{name}[{i}]", n, low=0) for i, n in enumerate(shape))


def check_shape(name, arr, shape):
    """Check ``arr.shape`` against ``shape`` (a tuple whose ``None`` entries match any size)."""
    got = np.shape(arr)
    if len(got) != len(shape) or any(s is not None and g != s for g, s in zip(got, shape)):
        want = "(" + ", ".join("n" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"
        raise ValueError(f"{name} must have shape {want}, got {got}")
    return arr


def _eps_of(*values):
    """Relative precision of the least precise input (float32 inputs get float32's)."""
    eps = np.finfo(np.float64).eps
    for v in values:
        dt = np.asarray(v).dtype
        if dt.kind == "f":
            eps = max(eps, float(np.finfo(dt).eps))
    return eps


def n_steps(T, dt, T_name="T", dt_name="dt", max_steps=None):
    """Number of steps of length ``dt`` in duration ``T`` (both in seconds; T a multiple of dt).

    The multiple is checked to a few units of the inputs' float precision, so a float32
    duration such as ``np.float32(0.3)`` with ``dt=1e-4`` is accepted. With ``max_steps``
    the count is also bounded (see :func:`check_work`).
    """
    eps = _eps_of(T, dt)
    T_f = positive(T_name, T)
    dt_f = positive(dt_name, dt)
    ratio = T_f / dt_f
    if not math.isfinite(ratio):
        raise ValueError(f"{T_name}/{dt_name} = {T_f!r}/{dt_f!r} is too large to count in steps")
    steps = round(ratio)
    if steps < 1 or abs(steps - ratio) > 8 * eps * max(ratio, 1.0):
        raise ValueError(f"{T_name} must be a positive multiple of {dt_name}, got "
                         f"{T_name}={T_f!r} s, {dt_name}={dt_f!r} s ({T_name}/{dt_name} = {ratio!r})")
    steps = int(steps)
    if max_steps is not None:
        check_work(f"{T_name}/{dt_name}", steps, max_steps, "max_steps", unit="steps")
    return steps


def check_work(what, estimate, limit=DEFAULT_MAX_WORK, limit_name="max_work", unit="elements"):
    """Refuse work before it starts: ValueError if ``estimate`` exceeds ``limit``.

    Parameters
    ----------
    what : str
        What is being counted, e.g. ``"T/dt"`` or ``"recorded samples"``.
    estimate : int or float
        The work (steps, elements to allocate) the call would do.
    limit : int or float
        The largest allowed estimate.
    limit_name : str
        The parameter that raises the limit, named in the message.
    unit : str
        Unit of the estimate in the message.

    Returns
    -------
    The estimate, unchanged.
    """
    if not (estimate <= limit):   # also catches NaN
        raise ValueError(f"{what} needs {estimate:.3g} {unit}, more than the limit {limit:.3g}; "
                         f"pass a larger {limit_name}= if you really mean it")
    return estimate


def as_rng(rng, name="rng"):
    """Turn ``rng`` into a :class:`numpy.random.Generator`.

    Parameters
    ----------
    rng : None, int, numpy.random.SeedSequence or numpy.random.Generator
        ``None`` gives fresh OS entropy, a non-negative int (or a SeedSequence)
        is a seed (same seed -> same numbers), a Generator is returned unchanged.
    name : str
        Parameter name used in error messages.

    Returns
    -------
    numpy.random.Generator
    """
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, np.random.SeedSequence):
        return np.random.default_rng(rng)
    if isinstance(rng, numbers.Integral) and not isinstance(rng, (bool, np.bool_)):
        if rng < 0:
            raise ValueError(f"{name} must be a seed >= 0, a Generator or a SeedSequence, got {rng}")
        return np.random.default_rng(int(rng))
    raise TypeError(f"{name} must be None, an int seed >= 0, a numpy Generator or a SeedSequence, "
                    f"got {_show(rng)} ({type(rng).__name__})")


def renamed_argument(old, new):
    """Decorator: accept the keyword ``old`` as a deprecated spelling of ``new``.

    Positional calls are unaffected; ``f(old=v)`` warns (DeprecationWarning) and
    calls ``f(new=v)``; giving both is a TypeError.
    """
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            if old in kwargs:
                if new in kwargs:
                    raise TypeError(f"{fn.__qualname__}() got both {new}= and its deprecated name {old}=")
                warnings.warn(f"{fn.__qualname__}(): the keyword {old}= is deprecated, use {new}=",
                              DeprecationWarning, stacklevel=2)
                kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)
        return wrapper
    return decorate


# -- allocation bounds ------------------------------------------------------------------
#: Largest allocation (bytes) a size argument may ask for, lowered to the machine's physical
#: memory when known; larger requests are refused up front with ValueError instead of
#: failing with MemoryError halfway through.
MAX_ALLOC_BYTES = 2**34


def _memory_bytes():
    try:
        import os

        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def check_alloc(name, value, n_elements, itemsize=8, limit=None):
    """Refuse a size argument whose arrays would exceed ``limit`` bytes (ValueError).

    Parameters
    ----------
    name : str
        The size parameter named in the message (e.g. ``"n_in"``, ``"shape"``).
    value
        Its value, shown in the message.
    n_elements : int or float
        Number of elements the call would allocate.
    itemsize : int
        Bytes per element.
    limit : int, optional
        Bytes; default :data:`MAX_ALLOC_BYTES` capped at the machine's physical memory.

    Returns
    -------
    float
        The estimated number of bytes.
    """
    nbytes = float(n_elements) * itemsize
    if limit is None:
        ram = _memory_bytes()
        limit = MAX_ALLOC_BYTES if not ram else min(MAX_ALLOC_BYTES, ram)
    if not nbytes <= limit:
        raise ValueError(f"{name}={_show(value)} would allocate about {nbytes:.3g} bytes "
                         f"({nbytes / 2**30:.3g} GiB), more than the limit of {limit / 2**30:.3g} GiB; "
                         f"use a smaller {name}")
    return nbytes


def scalar_or_shape(name, value, n, finite=True):
    """Return ``value`` as a float64 array that is a scalar (0-d or size 1) or has shape ``(n,)``.

    Wrong types raise TypeError (via :func:`real_array`), other shapes ValueError.
    """
    arr = real_array(name, value, finite=finite)
    if not (arr.ndim == 0 or (arr.ndim == 1 and arr.size in (1, n))):
        raise ValueError(f"{name} must be a number or an array of shape ({n},), got shape {arr.shape}")
    return arr


def finite_result(name, value, compute, what="the result"):
    """``compute()`` with overflow silenced, or ValueError if it is not finite for a finite ``value``.

    For conversions whose result can leave the float64 range (about 1.8e308) although
    the input is finite: the error names the parameter, its value and why, instead of
    returning inf (or NaN from inf - inf).
    """
    with np.errstate(over="ignore", invalid="ignore"):
        result = compute()
    if not np.all(np.isfinite(result)):
        bad = np.asarray(value)
        shown = _show(bad.flat[int(np.argmax(np.abs(bad)))].item() if bad.size else value)
        raise ValueError(f"{name}={shown} is too large: {what} would exceed the float64 range (~1.8e308)")
    return result


def per_neuron(name, value, low=0.0, allow_low=False):
    """A model parameter: a float, or a read-only 1-D float64 array with one value per neuron.

    Every entry must be finite and > ``low`` (>= ``low`` with ``allow_low``; ``low=None``: any finite value).
    A 0-d array or a size-1 list is returned as a float. Wrong types (bools included) raise TypeError, empty or
    multi-dimensional arrays and values out of range ValueError.
    """
    if _is_real_scalar(value):
        return check_number(name, value, low=low, low_open=not allow_low)
    try:
        is_bool = np.asarray(value).dtype == np.bool_
    except (TypeError, ValueError):
        is_bool = False  # real_array names the problem
    if is_bool:  # True is not 1.0 s or 1.0 mV
        raise TypeError(f"{name} must be a number or an array of numbers (one per neuron), got {_show(value)}")
    arr = real_array(name, value, finite=False)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a number or a 1-D array with one value per neuron, got shape {arr.shape}")
    bad = ~np.isfinite(arr)
    if low is not None:
        bad |= (arr < low) if allow_low else (arr <= low)
    if bad.any():
        rel = "" if low is None else (f" >= {low:g}" if allow_low else f" > {low:g}")
        raise ValueError(f"{name} must be finite{rel} for every neuron, got {_show(arr[bad][0].item())} at "
                         f"index {int(np.flatnonzero(bad)[0])}")
    if arr.size == 1:
        return float(arr[0])
    arr = arr.copy()
    arr.flags.writeable = False
    return arr


def per_neuron_size(*params):
    """The length of the first per-neuron (array) parameter among ``params``, or None when all are numbers."""
    return next((x.size for x in params if isinstance(x, np.ndarray)), None)


def check_per_neuron(kind, size, n):
    """Refuse per-neuron parameters of length ``size`` (None: all numbers) for a population of ``n`` neurons."""
    if size is not None and size != n:
        raise ValueError(f"{kind} parameters given per neuron have {size} values, but the population has n={n} "
                         f"neurons; give one value per neuron (or a number for all)")
