"""Spike-train generation (regular, Poisson) and binning. Times in seconds."""

import warnings

import numpy as np

from .. import validation as check
from . import _order
from .events import _as_trains

MAX_SPIKES = 10**9  # spikes (or bins) a call may produce before it is refused: ~8 GB of float64


def _bounded(what, estimate, unit, smaller):
    """Refuse, before allocating, output beyond MAX_SPIKES (also catches NaN and inf)."""
    if not estimate <= MAX_SPIKES:
        raise ValueError(f"{what} = {estimate:.3g} {unit} is more than the limit {MAX_SPIKES:.0e} "
                         f"(neurosim.spikes.trains.MAX_SPIKES); use a smaller {smaller}")


def regular_spikes(rate, T, phase=0.0):
    """Regular spike trains: neuron i fires at ``(phase_i + m) / rate_i`` for m = 0, 1, ... < T.

    Parameters
    ----------
    rate : float or array_like (N,)
        Rates in Hz (>= 0; 0 gives no spikes).
    T : float
        Duration in seconds.
    phase : float or array_like (N,)
        Fraction of an interval before the first spike, in [0, 1).

    Returns
    -------
    list of N ndarrays of spike times (s)
    """
    T = check.positive("T", T)
    rate = np.atleast_1d(check.real_array("rate", rate, ndim=(0, 1)))
    phase = np.broadcast_to(check.finite_array("phase", phase), rate.shape)
    if np.any(rate < 0) or np.any(phase < 0) or np.any(phase >= 1):
        raise ValueError("rate must be >= 0 Hz and phase in [0, 1)")
    _bounded("T * sum(rate)", T * float(rate.sum()), "spikes", "T")
    out = []
    for r, p in zip(rate, phase):
        out.append(np.zeros(0) if r == 0 else (p + np.arange(int(np.ceil(T * r - p)))) / r)
    return [s[s < T] for s in out]


def poisson_spikes(rate, *args, n=None, T=None, rng=None, dt=None, rate_max=None):
    """Poisson spike trains, homogeneous or with a time-varying rate.

    Argument order as every spike-train helper: what (``rate``), how many (``n``),
    then time (``T``, keyword): ``poisson_spikes(20.0, 100, T=1.0)``. The old order
    ``poisson_spikes(rate, T, n=...)`` still works with a DeprecationWarning (it is
    recognized by T not being given as a keyword).

    Parameters
    ----------
    rate : float, array_like, or callable
        * float or (N,) -- constant rates in Hz;
        * (steps,) or (steps, N) with ``dt`` -- piecewise-constant rate, row k
          holding on ``[k dt, (k+1) dt)`` (exact: Poisson counts per bin);
        * callable ``rate(t) -> Hz`` (vectorized over a 1-D array of times,
          returning (len(t),) or (len(t), N)) with ``rate_max`` -- by thinning.
    n : int, optional
        Number of trains when ``rate`` does not say (default 1).
    T : float
        Duration in seconds (keyword).
    rng : int or numpy.random.Generator, optional
    dt : float, optional
        Bin width (s) of an array of rates over time.
    rate_max : float, optional
        Upper bound (Hz) of a callable rate; required for callables.

    Returns
    -------
    list of N ndarrays of sorted spike times (s) in [0, T)
    """
    v = _order.resolve("poisson_spikes", args, dict(n=n, T=T, rng=rng, dt=dt, rate_max=rate_max), "T", "n",
                       ("T", "n", "rng", "dt", "rate_max"), "poisson_spikes(20.0, 100, T=1.0)")
    n, T, rng, dt, rate_max = v["n"], v["T"], v["rng"], v["dt"], v["rate_max"]
    T_given = T
    T = check.positive("T", T)
    rng = check.as_rng(rng)
    if rate_max is not None:
        rate_max = check.positive("rate_max", rate_max)
    if n is not None:  # the number of trains
        n = check.count_int("n", n, limit=MAX_SPIKES)
    if callable(rate):
        if rate_max is None:
            raise ValueError("a callable rate needs rate_max (Hz), an upper bound for thinning")
        rate_max = check.positive("rate_max", rate_max)
        trains = poisson_spikes(rate_max, n=1 if n is None else n, T=T, rng=rng)
        out = []
        for i, cand in enumerate(trains):
            r = np.asarray(rate(cand))
            if r.dtype.kind not in "biuf":
                raise TypeError(f"rate(t) must return real numbers, got dtype {r.dtype}")
            r = r.astype(float)
            r = r if r.ndim < 2 else r[:, i]
            bad = r[~(np.isfinite(r) & (r >= 0))]
            if bad.size:
                raise ValueError(f"rate(t) must be finite and >= 0 Hz, got {bad[0]!r}")
            if np.any(r > rate_max * (1 + 1e-12)):
                raise ValueError(f"rate(t) exceeded rate_max={rate_max} Hz (max {r.max()} Hz)")
            out.append(cand[rng.random(cand.size) * rate_max < r])
        return out
    rate = check.real_array("rate", rate, ndim=(0, 1) if dt is None else (0, 1, 2),
                            allow_empty=False)
    if np.any(rate < 0):
        raise ValueError("rate must be >= 0 Hz")
    if dt is not None:  # piecewise-constant rate over time
        steps = check.n_steps(T_given, dt)  # the given values: float32 T or dt keep their precision
        dt = check.positive("dt", dt)
        r = rate.reshape(len(rate), -1) if rate.ndim else rate.reshape(1, 1)
        if r.shape[0] != steps:
            raise ValueError(f"rate with dt must have T/dt = {steps} rows, got shape {rate.shape}")
        N = r.shape[1] if n is None else n
        if r.shape[1] not in (1, N):
            raise ValueError(f"rate of shape {rate.shape} has {r.shape[1]} columns, which does not match n={n}")
        r = np.broadcast_to(r, (steps, N))
        counts = rng.poisson(r * dt)
        out = []
        for i in range(N):
            k = np.repeat(np.arange(steps), counts[:, i])
            out.append(np.sort((k + rng.random(k.size)) * dt))
        return out
    rate = np.atleast_1d(rate)
    N = rate.size if n is None else int(n)
    if rate.size not in (1, N):
        raise ValueError(f"rate of shape {rate.shape} does not match n={n}")
    rate = np.broadcast_to(rate.ravel(), (N,))
    _bounded("T * sum(rate)", T * float(rate.sum()), "expected spikes", "T")
    counts = rng.poisson(rate * T)
    return [np.sort(rng.uniform(0.0, T, c)) for c in counts]


def bin_spikes(spike_times, T, dt):
    """Spike trains -> dense array with one row per time ``k * dt``; each spike adds 1/dt.

    A spike at time t goes to the nearest grid time ``rint(t / dt) * dt``, so
    ``dt * binned.sum(axis=0)`` counts spikes and the PSC-filtered binned train
    (:func:`neurosim.synapses.filter_binned`) equals the exact filter of spikes on the grid.

    Parameters
    ----------
    spike_times : list of arrays, one array, or (times, indices) events
        Spike times in seconds.
    T : float
        Duration (s); rows are ``0, dt, ..., T - dt``; later spikes are dropped.
    dt : float
        Bin width in seconds.

    Returns
    -------
    ndarray, shape (steps, n_neurons)
    """
    steps = check.n_steps(T, dt)
    if not isinstance(spike_times, (list, tuple, np.ndarray)):
        raise TypeError(f"spike_times must be a list of arrays, one array, or (times, indices) events; "
                        f"got {type(spike_times).__name__}")
    trains = _as_trains(spike_times)
    _bounded("T/dt x neurons", steps * max(len(trains), 1), "bins", "T or a larger dt")
    out = np.zeros((steps, len(trains)))
    for i, s in enumerate(trains):
        k = np.rint(np.asarray(s) / dt).astype(np.int64)
        k = k[(k >= 0) & (k < steps)]
        out[:, i] = np.bincount(k, minlength=steps) / dt
    return out


def unbin_spikes(binned, dt):
    """Dense binned array (steps, N) (spikes of height 1/dt) -> list of N spike-time arrays.

    A bin holding m spikes (value m/dt) yields m spikes at time ``k * dt``.
    """
    binned = check.finite_array("binned", binned)
    dt = check.positive("dt", dt)
    if binned.ndim == 0 or binned.ndim > 2 or binned.size == 0:
        raise ValueError(f"binned must have shape (steps,) or (steps, N) with steps, N >= 1, got {binned.shape}")
    binned = binned.reshape(len(binned), -1)
    if np.any(binned < 0):
        raise ValueError(f"binned must be >= 0 (spike counts / dt), got {binned.min()!r}")
    scaled = binned * dt
    counts = np.rint(scaled)
    off = np.abs(scaled - counts)
    if np.any(off > 1e-6 * np.maximum(counts, 1.0)):  # bin_spikes gives whole counts / dt
        # a warning, not an error: callers passing counts instead of counts / dt are common
        k = np.unravel_index(np.argmax(off), off.shape)
        warnings.warn(f"unbin_spikes: binned * dt should be whole spike counts (binned holds counts / dt, as "
                      f"bin_spikes returns), got {scaled[k]!r} spikes at step {k[0]}; rounded to "
                      f"{int(counts[k])}", RuntimeWarning, stacklevel=2)
    counts = counts.astype(np.int64)
    return [np.repeat(np.arange(len(binned)) * dt, counts[:, i]) for i in range(binned.shape[1])]
