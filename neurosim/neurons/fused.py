"""Fused population steps compiled with numba: one pass over a (batched) population per step.

The numpy steps of :class:`neurosim.IF` (``IFRuntime``) and :class:`neurosim.LIFState` stream
each neuron's state through memory several times per step (update, threshold test, nonzero,
a finiteness check), which dominates a large batched network such as a spiking CNN.
These kernels do the same arithmetic in one pass:

* :func:`if_step`: ``v += J dt``, the crossing test, the exact offset and the reset of
  :func:`neurosim.neurons.integrate.settle`;
* :func:`lif_free_update`: the LIF's free update ``v = v exp(-dt/tau_m) + J_decayed`` and the
  list of neurons above threshold, which :meth:`neurosim.LIFState._step_updated_compiled` settles
  with :func:`lif_refractory`, :func:`lif_spikers` and :func:`lif_reset` (the index bookkeeping; the
  exponentials and logarithms of the few settled neurons stay numpy's calls);
* :func:`event_grid`, :func:`event_grid_flat`: a batched convolution's event grid;
  :func:`arrival_lags`: exact-placement arrival steps and lags; :func:`add_at`: ``np.add.at``'s
  additions, in its order, for large probe filters.

Imported only when numba is importable; the network runtime uses them under ``backend="auto"``
(see :data:`FUSED_MIN`). No ``fastmath``: every operation is the numpy step's, in its order
(no contraction into fused multiply-adds), so the spikes, offsets and states are bit-identical
to the numpy path's (tested).
"""
import math

from numba import njit
from .._optional import fresh_kernel_cache

fresh_kernel_cache()  # before any cached kernel loads: drop caches older than their sources

#: neurons (all trials) from which the runtime uses these kernels under backend "auto": below, a kernel
#: call costs more than numpy's few whole-array passes
FUSED_MIN = 4096


@njit(cache=True, error_model="numpy")
def if_step(v, J, dt, threshold, thresholds, per_neuron, subtract, idx_out, off_out):
    """One IF step over all neurons (``IFRuntime.step``): ``v += J dt``, spikes at ``v >= threshold``.

    Parameters
    ----------
    v : float64 (N,)
        Membrane state, updated in place (spiking neurons reset).
    J : float64 (N,)
        Input held over the step.
    dt : float
        Step (s).
    threshold : float
        The threshold when ``per_neuron`` is False.
    thresholds : float64 (N,) or (1,)
        Per-neuron thresholds when ``per_neuron`` is True.
    subtract : bool
        Reset by subtraction (capped at the threshold: one spike per step) or to zero.
    idx_out : int64 (N,), off_out : float64 (N,)
        Receive the spiking neurons (ascending) and their offsets (s) in the step.

    Returns
    -------
    count : int
        Spikes written.
    finite : bool
        False when some updated v is not finite (the caller raises).
    """
    n = v.size
    count = 0
    finite = True
    top = math.nextafter(dt, 0.0)
    for i in range(n):
        Ji = J[i]
        vi = v[i] + Ji * dt
        if not math.isfinite(vi):
            finite = False
        th = thresholds[i] if per_neuron else threshold
        if vi >= th:
            # settle(): the crossing of the linear ramp from v - J dt (0 when not rising), clipped into the step
            off = (th - (vi - Ji * dt)) / Ji if Ji > 0 else 0.0
            off = min(max(off, 0.0), top)
            vi = min(vi - th, th) if subtract else 0.0
            idx_out[count] = i
            off_out[count] = off
            count += 1
        v[i] = vi
    return count, finite


@njit(cache=True, error_model="numpy")
def lif_free_update(v, decay, J_decayed, idx_out):
    """``v = v decay + J_decayed`` (numpy's ``v *= decay; v += J_decayed``, rounded alike) and the neurons
    now above threshold (v > 1), ascending, into ``idx_out``; returns their number."""
    count = 0
    for i in range(v.size):
        vi = v[i] * decay
        vi = vi + J_decayed[i]
        v[i] = vi
        if vi > 1.0:
            idx_out[count] = i
            count += 1
    return count


@njit(cache=True, error_model="numpy")
def event_grid(pre, trial, weight, cells, n, grid):
    """The grid of :meth:`neurosim.Convolution.apply_events`, filled in one pass: event e adds ``weight[e]``
    at cell ``cells[pre[e]]`` (channel, row, column of the padded, block-pooled grid; -1: past the last whole
    block, dropped) of sample ``trial[e]``, in ``grid`` (cells * n,), zeroed here. The additions run in event
    order, as ``np.bincount``'s."""
    grid[:] = 0.0
    for e in range(pre.size):
        g = cells[pre[e]]
        if g >= 0:
            grid[g * n + trial[e]] += weight[e]


@njit(cache=True, error_model="numpy")
def event_grid_flat(spiked, n_pre, weight, cells, n, grid):
    """:func:`event_grid` for events given as flat (trial-major) indices ``spiked = trial * n_pre + pre``:
    the division into (trial, pre) done per event here instead of a numpy ``divmod`` pass. The same
    additions in the same order."""
    grid[:] = 0.0
    for e in range(spiked.size):
        s = spiked[e]
        t = s // n_pre
        g = cells[s - t * n_pre]
        if g >= 0:
            grid[g * n + t] += weight[e]


@njit(cache=True, error_model="numpy")
def arrival_lags(offsets, delay, dt, tol, rel, lag):
    """``ConnectionRuntime.deliver``'s arrival steps and lags in one pass: for spikes emitted ``offsets`` (s)
    into their step, ``rel`` = the boundary that ends the arrival step (counted from the next one) and ``lag``
    (s) = the arrival's time before it. Returns True when every spike arrives in the same step."""
    same = True
    for e in range(offsets.size):
        total = offsets[e] + delay
        r = max(math.ceil(total / dt - tol) - 1, 0)
        rel[e] = r
        lag[e] = max((r + 1) * dt - total, 0.0)
        if r != rel[0]:
            same = False
    return same


@njit(cache=True, error_model="numpy")
def lif_refractory(v, refractory_end, refr, t0, t1, above, keep_out, free_out, ends_out, spiked_out):
    """The refractory pass of :meth:`neurosim.LIFState._step_updated` in one pass over its lists.

    Of the neurons ``refr`` (last step's refractory list), those with ``refractory_end > t0`` get
    ``v = 0``; those whose period ends inside the step (``refractory_end < t1``) go to ``free_out`` with
    their ends in ``ends_out`` (the caller integrates them again from there), the others to ``keep_out``.
    Then the candidates ``above`` (ascending) still above threshold (v > 1) go to ``spiked_out``.
    Returns the numbers written: (kept, freed, spiked)."""
    n_keep = 0
    n_free = 0
    for k in range(refr.size):
        i = refr[k]
        e = refractory_end[i]
        if e > t0:
            v[i] = 0.0
            if e < t1:
                free_out[n_free] = i
                ends_out[n_free] = e
                n_free += 1
            else:
                keep_out[n_keep] = i
                n_keep += 1
    n_spiked = 0
    for k in range(above.size):
        i = above[k]
        if v[i] > 1.0:
            spiked_out[n_spiked] = i
            n_spiked += 1
    return n_keep, n_free, n_spiked


@njit(cache=True, error_model="numpy")
def lif_spikers(v, refractory_end, spiked, t0, refr_out, start_out, v_out):
    """For the spiking neurons ``spiked``: append them to the refractory list ``refr_out`` (from its
    element ``refr_out.size - spiked.size``), ``start_out`` = when each began integrating
    (``max(refractory_end, t0)``) and ``v_out`` = their v."""
    base = refr_out.size - spiked.size
    for k in range(spiked.size):
        i = spiked[k]
        refr_out[base + k] = i
        start_out[k] = max(refractory_end[i], t0)
        v_out[k] = v[i]


@njit(cache=True, error_model="numpy")
def lif_reset(v, refractory_end, spiked, spike_time, tau_ref, tau_refs, per_neuron):
    """The spikers' reset: ``refractory_end = spike_time + tau_ref`` (per neuron when ``per_neuron``), v = 0."""
    for k in range(spiked.size):
        i = spiked[k]
        refractory_end[i] = spike_time[k] + (tau_refs[i] if per_neuron else tau_ref)
        v[i] = 0.0


@njit(cache=True, error_model="numpy")
def add_at(target, indices, values, value, scalar):
    """``np.add.at(target, indices, values)`` (or of the number ``value`` when ``scalar``): the additions one
    by one in the order of ``indices``, as ``np.add.at`` does them, so repeated indices round alike."""
    if scalar:
        for k in range(indices.size):
            target[indices[k]] += value
    else:
        for k in range(indices.size):
            target[indices[k]] += values[k]
