"""Synaptic events of precise timing: the fan-out of presynaptic spikes through a (post, pre) weight matrix.

One event per nonzero weight: the target neuron, the arrival offset inside the step, and the jump of
the target's synapse stage 0 (``w / tau_s``). Used by :func:`neurosim.network.precise.precise_feedforward`
and by the precise runtime's connections.
"""
import numpy as np

from ..connections import per_post


def csr_rows(weights, scale=1.0):
    """Rows per presynaptic neuron of a (post, pre) weight matrix: ``(indptr, indices, data * scale)``;
    ``scale`` a number or one per post neuron (post.n,)."""
    import scipy.sparse as sp

    rows = sp.csr_matrix(weights.T if not sp.issparse(weights) else weights.T.tocsr(), dtype=np.float64)
    rows.sum_duplicates()
    rows.eliminate_zeros()
    indices = rows.indices.astype(np.int64)
    return rows.indptr.astype(np.int64), indices, rows.data * per_post(scale, indices)


def fan_out(rows, pre, offsets):
    """Synaptic events of presynaptic spikes: every nonzero of each spiking neuron's row.

    Parameters
    ----------
    rows : tuple (indptr, indices, data)
        From :func:`csr_rows`.
    pre : ndarray of int (S,)
        Spiking presynaptic neurons (repeats allowed).
    offsets : ndarray (S,)
        Arrival offsets inside the step (s).

    Returns
    -------
    target, offset, increment : ndarray (E,)
    """
    indptr, indices, data = rows
    starts = indptr[pre]
    lengths = indptr[pre + 1] - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0)
    ends = np.cumsum(lengths)
    pos = np.arange(total) + np.repeat(starts - (ends - lengths), lengths)
    return indices[pos], np.repeat(offsets, lengths), data[pos]
