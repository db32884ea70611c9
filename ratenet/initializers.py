"""Weight initializers.

Every initializer has the signature ``init(shape, rng=None, dtype=np.float32)``
and returns a new array. Weight shapes are ``(n_out, n_in)`` (post, pre), so
the fan-in is ``shape[1]`` and the fan-out ``shape[0]``; for a convolution
kernel ``(out_ch, in_ch, kh, kw)`` they are ``in_ch·kh·kw`` and ``out_ch·kh·kw``.

Random numbers are always drawn in float64 and then cast, so a float32 and a
float64 model built from the same seed start from the same weights (up to
rounding) — useful when comparing precisions or running gradient checks.
"""
import numpy as np

import math

from neurosim.validation import as_rng as _as_rng, check_alloc, check_str, check_float_dtype, check_shape_tuple

__all__ = [
    "as_rng", "gaussian", "glorot_uniform", "glorot_normal", "he_normal",
    "he_uniform", "zeros", "get", "INITIALIZERS",
]


def as_rng(rng, name="rng"):
    """:func:`neurosim.validation.as_rng` (None, int seed >= 0, Generator or SeedSequence → Generator).

    ``name`` (a str) is the parameter named in error messages.
    """
    return _as_rng(rng, check_str("name", name))


def _fans(shape, name):
    # Convolution kernels (out, in, kh, kw): each output sees in·kh·kw inputs and each
    # input feeds out·kh·kw outputs (the convention of torch and Keras).
    shape = check_shape_tuple("shape", shape)
    if len(shape) < 2 or min(shape) < 1:
        raise ValueError(
            f"{name}: shape must be (n_out, n_in) or (n_out, n_in, kh, kw) with all sizes >= 1, got {shape}")
    check_alloc("shape", shape, math.prod(shape), 8)    # drawn in float64
    receptive = math.prod(shape[2:])
    return shape, shape[1] * receptive, shape[0] * receptive


def gaussian(shape, rng=None, dtype=np.float32):
    """Gaussian N(0, 1/m) with m the fan-in, as in LeCun et al. (1998), "Efficient BackProp".

    Keeps the variance of ``z = W x`` equal to the variance of ``x``.

    Parameters
    ----------
    shape : tuple (n_out, n_in), or (out_ch, in_ch, kh, kw) for a convolution
    rng : None, int or numpy.random.Generator
    dtype : numpy dtype

    Returns
    -------
    ndarray, shape (n_out, n_in)
    """
    rng, dtype = as_rng(rng), check_float_dtype("dtype", dtype)
    shape, fan_in, _ = _fans(shape, "gaussian")
    return (rng.standard_normal(shape) / np.sqrt(fan_in)).astype(dtype)


def glorot_uniform(shape, rng=None, dtype=np.float32):
    """Xavier/Glorot uniform: U(-a, a) with a = sqrt(6 / (fan_in + fan_out)).

    Parameters and returns as in :func:`gaussian`.
    """
    rng, dtype = as_rng(rng), check_float_dtype("dtype", dtype)
    shape, fan_in, fan_out = _fans(shape, "glorot_uniform")
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape).astype(dtype)


def glorot_normal(shape, rng=None, dtype=np.float32):
    """Xavier/Glorot normal: N(0, 2 / (fan_in + fan_out)).

    Parameters and returns as in :func:`gaussian`.
    """
    rng, dtype = as_rng(rng), check_float_dtype("dtype", dtype)
    shape, fan_in, fan_out = _fans(shape, "glorot_normal")
    std = np.sqrt(2.0 / (fan_in + fan_out))
    return (rng.standard_normal(shape) * std).astype(dtype)


def he_normal(shape, rng=None, dtype=np.float32):
    """He/Kaiming normal: N(0, 2 / fan_in), for ReLU networks.

    Parameters and returns as in :func:`gaussian`.
    """
    rng, dtype = as_rng(rng), check_float_dtype("dtype", dtype)
    shape, fan_in, _ = _fans(shape, "he_normal")
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


def he_uniform(shape, rng=None, dtype=np.float32):
    """He/Kaiming uniform: U(-a, a) with a = sqrt(6 / fan_in).

    Parameters and returns as in :func:`gaussian`.
    """
    rng, dtype = as_rng(rng), check_float_dtype("dtype", dtype)
    shape, fan_in, _ = _fans(shape, "he_uniform")
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, shape).astype(dtype)


def zeros(shape, rng=None, dtype=np.float32):
    """All zeros (the default for biases). ``rng`` is accepted and ignored.

    Parameters
    ----------
    shape : int or tuple of int
    rng : ignored
    dtype : numpy dtype

    Returns
    -------
    ndarray of ``shape``
    """
    rng, dtype = as_rng(rng), check_float_dtype("dtype", dtype)
    shape = check_shape_tuple("shape", shape)
    check_alloc("shape", shape, math.prod(shape), dtype.itemsize)
    return np.zeros(shape, dtype=dtype)


INITIALIZERS = {
    "gaussian": gaussian,
    "glorot_uniform": glorot_uniform, "xavier_uniform": glorot_uniform,
    "glorot_normal": glorot_normal, "xavier_normal": glorot_normal,
    "he_normal": he_normal, "kaiming_normal": he_normal,
    "he_uniform": he_uniform, "kaiming_uniform": he_uniform,
    "zeros": zeros,
}


def get(init):
    """Look up an initializer by name, or pass a callable through.

    Parameters
    ----------
    init : str or callable
        One of ``INITIALIZERS`` (case-insensitive) or a function
        ``f(shape, rng=None, dtype=...) -> ndarray``.

    Returns
    -------
    callable
    """
    if callable(init):
        return init
    if isinstance(init, str):
        key = init.lower()
        if key in INITIALIZERS:
            return INITIALIZERS[key]
        raise ValueError(
            f"init: unknown initializer {init!r}; allowed: {sorted(INITIALIZERS)}")
    raise TypeError(f"init: expected a name or a callable, got {type(init).__name__}")
