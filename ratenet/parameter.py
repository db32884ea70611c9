"""A trainable array and its gradient.

Optimizers keep their state keyed by the ``Parameter`` object itself (not by a
name), so one optimizer can serve any number of layers without collisions.
"""
import numpy as np

from neurosim.validation import check_float_dtype, check_str, real_array


class Parameter:
    """A trainable array ``data`` with a gradient buffer ``grad`` of the same shape.

    Parameters
    ----------
    data : array_like
        Initial value, finite real numbers; stored as a contiguous array of ``dtype``.
    name : str
        Short name for summaries and saved files (e.g. ``"W"``, ``"b"``).
    dtype : numpy dtype, optional
        float32 or float64; defaults to the dtype of float ``data``, float64 otherwise.
    """

    __slots__ = ("data", "grad", "name")

    def __init__(self, data, name="param", dtype=None):
        dtype = None if dtype is None else check_float_dtype("dtype", dtype)
        self.data = np.ascontiguousarray(real_array("data", data, dtype=dtype))
        self.grad = np.zeros_like(self.data)
        self.name = check_str("name", name)

    @property
    def shape(self):
        return self.data.shape

    def zero_grad(self):
        """Set the gradient to zero in place."""
        self.grad.fill(0)

    def __repr__(self):
        return f"Parameter({self.name}, shape={self.data.shape}, dtype={self.data.dtype})"
