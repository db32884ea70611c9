"""Tuning curves measured by simulation, for any neuron model with a ``simulate`` method."""
import inspect

from .. import validation as check
from ..progress import Progress
from ..spikes import isi_rate


def tuning_curve(model, J, T=1.0, dt=None, t_start=0.0, progress=False, **simulate_kwargs):
    """Measure firing rates (Hz) of ``model`` for constant inputs ``J``.

    All inputs run in parallel as one vectorized population. Rates come from
    the inter-spike intervals after the first spike (at or after ``t_start``),
    not from spike counts over T, so they do not depend on where the window
    cuts the spike train.

    Parameters
    ----------
    model : object with ``simulate(J, T, dt=..., **kwargs)``
        E.g. :class:`neurosim.LIF` (J normalized) or :class:`neurosim.HodgkinHuxley`
        (J in uA/cm^2). The result must have ``events()`` or ``spike_times``.
    J : array_like, shape (M,)
        Constant inputs, one per simulated neuron.
    T : float
        Simulated time in seconds; choose it to give at least two spikes at the
        lowest rate you want to resolve.
    dt : float, optional
        Step in seconds; the model's default when None.
    t_start : float
        Discard spikes before this time (s), e.g. the onset transient of HH.
    progress : bool
        Show a progress line on stderr while the model runs (models whose
        ``simulate`` takes ``progress``, e.g. HodgkinHuxley; otherwise a line when it ends).
    **simulate_kwargs
        Passed on to ``model.simulate``.

    Returns
    -------
    ndarray, shape (M,)
        Rates in Hz (0 where fewer than two spikes occur after ``t_start``).
    """
    if not hasattr(model, "simulate"):
        raise TypeError(f"model must have a simulate(J, T, dt) method, got {type(model).__name__}")
    J = check.finite_array("J", J)
    if J.ndim > 1:
        raise ValueError(f"J must be a scalar or 1-D array of inputs, got shape {J.shape}")
    J = J.reshape(-1)
    T_float = check.positive("T", T)
    t_start = check.check_number("t_start", t_start, low=0.0)
    if not t_start < T_float:
        raise ValueError(f"t_start must be in [0, T) = [0, {T}), got {t_start!r}")
    if dt is not None:
        simulate_kwargs["dt"] = dt
    progress = check.check_bool("progress", progress)
    if progress and _takes_progress(model.simulate):
        result = model.simulate(J, T, progress=True, **simulate_kwargs)
    else:
        with Progress(1, f"tuning curve ({J.size} inputs)", enabled=progress):
            result = model.simulate(J, T, **simulate_kwargs)
    if hasattr(result, "rates"):  # SimulationResult: O(spikes), straight from the recorder
        return result.rates(t_start)
    if hasattr(result, "events"):
        return isi_rate(result.events(), n_neurons=J.size, t_start=t_start)
    return isi_rate(result.spike_times, t_start=t_start)


def _takes_progress(simulate):
    try:
        return "progress" in inspect.signature(simulate).parameters
    except (TypeError, ValueError):  # no signature (a builtin or extension)
        return False
