"""Subgroups: ``pop[a:b]``, ``pop[[0, 5, 7]]`` or ``pop[mask]`` name some neurons of a population or source.

A view is a description too, and holds no state: ``connect`` places its weights at the view's rows and
columns of the parent's (post, pre) matrix (as a sparse matrix, without an N x N intermediate), a probe
records the parent and selects the view's neurons when read, and ``add_current_input`` drives only the
view's neurons. So a network of views runs, exports and snapshots exactly as the parents do.
"""
import numpy as np


class View:
    """Neurons ``indices`` of ``parent`` (a population or a source), in the given order.

    Attributes
    ----------
    parent : Population or source
    indices : ndarray of int64, read-only
        Distinct neuron indices into the parent.
    n : int
    name : str
        ``"parent[...]"``.
    """

    def __init__(self, parent, indices, label):
        self.parent, self.indices, self.n = parent, indices, int(indices.size)
        self.name = f"{parent.name}[{label}]"

    @property
    def model(self):
        return self.parent.model

    @property
    def units(self):
        return getattr(self.parent, "units", None)

    def __getitem__(self, key):
        idx, label = _indices(self, key)
        out = View(self.parent, self.indices[idx], label)
        out.name = f"{self.name}[{label}]"
        return out

    def __len__(self):
        return self.n

    def __repr__(self):
        return f"View({self.name!r}, n={self.n})"


def select(parent, key):
    """``parent[key]`` as a :class:`View`: a slice, an int, an integer array (distinct) or a boolean mask (n,)."""
    return View(parent, *_indices(parent, key))


def _indices(parent, key):
    """(read-only int64 indices, label) of ``parent[key]``."""
    n = parent.n
    if isinstance(key, slice):
        idx = np.arange(n)[key]
        label = f"{'' if key.start is None else key.start}:{'' if key.stop is None else key.stop}" + \
            ("" if key.step is None else f":{key.step}")
    elif isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
        if not -n <= key < n:
            raise IndexError(f"index {key} is out of range for {parent.name!r} with {n} neurons")
        idx, label = np.array([key % n]), str(int(key))
    else:
        arr = np.asarray(key)
        if arr.dtype == bool:
            if arr.shape != (n,):
                raise ValueError(f"a boolean mask selecting from {parent.name!r} must have shape ({n},), "
                                 f"got {arr.shape}")
            idx = np.flatnonzero(arr)
        elif arr.dtype.kind in "iu" and arr.ndim == 1:
            if arr.size and (arr.min() < -n or arr.max() >= n):
                raise IndexError(f"indices must be in [-{n}, {n}) for {parent.name!r}, got {arr.min()}..{arr.max()}")
            idx = arr % n
        else:
            raise TypeError(f"a subgroup of {parent.name!r} is selected by a slice, an int, a 1-D integer array "
                            f"or a boolean mask, got {type(key).__name__}"
                            + (f" of dtype {arr.dtype}" if isinstance(key, np.ndarray) else ""))
        label = f"{idx.size} neurons"
    idx = np.asarray(idx, dtype=np.int64)
    if idx.size == 0:
        raise ValueError(f"the subgroup {parent.name}[{label}] selects no neuron")
    if np.unique(idx).size != idx.size:
        raise ValueError(f"the subgroup {parent.name}[{label}] repeats neurons; each may appear once")
    idx.setflags(write=False)
    return idx, label


def resolve(obj):
    """``(parent, indices or None)``: a view's parent and indices, or the object itself."""
    if isinstance(obj, View):
        return obj.parent, obj.indices
    return obj, None


def embed(W, post_idx, pre_idx, shape):
    """(post_view.n, pre_view.n) weights placed at the views' rows and columns of a (post.n, pre.n) CSR matrix."""
    import scipy.sparse as sp
    M = sp.coo_matrix(W) if sp.issparse(W) else sp.coo_matrix(np.asarray(W))
    rows = M.row if post_idx is None else post_idx[M.row]
    cols = M.col if pre_idx is None else pre_idx[M.col]
    return sp.csr_matrix((M.data, (rows, cols)), shape=shape)


def events_of(events, indices, n_parent):
    """Spike events of a parent restricted to ``indices`` and renumbered 0..len(indices)-1."""
    lookup = np.full(n_parent, -1, dtype=np.int64)
    lookup[indices] = np.arange(indices.size)
    local = lookup[events[1]]
    keep = local >= 0
    return (events[0][keep], local[keep]) + tuple(e[keep] for e in events[2:])
