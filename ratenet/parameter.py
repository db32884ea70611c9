"""A trainable array and its gradient.

Optimizers keep their state keyed by the ``Parameter`` object itself (not by a
name), so one optimizer can serve any number of layers without collisions.
"""
import numpy as np


class Parameter:
    """A trainable array ``data`` with a gradient buffer ``grad`` of the same shape.

    Parameters
    ----------
    data : array_like
        Initial value; stored as a contiguous array of ``dtype``.
    name : str
        Short name for summaries and saved files (e.g. ``"W"``, ``"b"``).
    dtype : numpy dtype, optional
        Defaults to the dtype of ``data`` (float32 for ratenet layers).
    """

    __slots__ = ("data", "grad", "name")

    def __init__(self, data, name="param", dtype=None):
        self.data = np.ascontiguousarray(data, dtype=dtype)
        self.grad = np.zeros_like(self.data)
        self.name = name

    @property
    def shape(self):
        return self.data.shape

    def zero_grad(self):
        """Set the gradient to zero in place."""
        self.grad.fill(0)

    def __repr__(self):
        return f"Parameter({self.name}, shape={self.data.shape}, dtype={self.data.dtype})"
