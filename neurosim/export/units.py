"""The one conversion from neurosim's normalized LIF units to PyNN's physical units.

neurosim (normalized, seconds)::

    tau_m dv/dt = s(t) - v + bias,   spike at v = 1, reset to 0, refractory tau_ref
    s(t) = sum_spikes w h(t - t_spike),   h = unit-area PSC kernel (PSCFilter)

so one spike of weight ``w`` delivers the charge ``w`` (normalized current x seconds).

PyNN ``IF_curr_exp`` / ``IF_curr_alpha`` (ms, mV, nA, nF)::

    cm dV/dt = cm/tau_m (v_rest - V) + I_syn(t) + i_offset

with a PSC that is *not* unit-area: ``IF_curr_exp`` jumps by the weight W (nA)
and decays with tau_syn (charge W tau_syn); ``IF_curr_alpha`` is
``W (t/tau_syn) exp(1 - t/tau_syn)``, peaking at W (charge W e tau_syn).

The physical scale is a free choice: a capacitance ``cm`` and the voltages
``v_reset`` and ``v_thresh`` (defaults: PyNN's own defaults, 1 nF, -65 mV,
-50 mV). With ``v_rest = v_reset``, ``g_L = cm / tau_m`` (uS) and
``dV = v_thresh - v_reset`` (mV), the normalized quantities map as

    V        = v_reset + v dV                       (mV)
    i_offset = bias g_L dV                          (nA)
    charge   = w[s] * 1000 g_L dV                   (pC = nA ms)
    W_exp    = charge / tau_syn[ms]                 (nA)
    W_alpha  = charge / (e tau_syn[ms])             (nA)

Any choice of scale gives the same spike times; it only changes the numbers.
"""
import math
from typing import NamedTuple

import numpy as np

from .. import validation as check

#: PyNN's default IF_curr_exp scale, used unless told otherwise.
DEFAULT_SCALE = {"cm": 1.0, "v_reset": -65.0, "v_thresh": -50.0}


class PyNNUnits(NamedTuple):
    """Result of :func:`pynn_units`.

    Attributes
    ----------
    cell : dict
        Keyword arguments for ``IF_curr_exp`` (n = 0) or ``IF_curr_alpha`` (n = 1):
        ``cm`` (nF), ``tau_m``, ``tau_refrac``, ``tau_syn_E``, ``tau_syn_I`` (ms),
        ``v_rest``, ``v_reset``, ``v_thresh`` (mV), ``i_offset`` (nA, float or (N,)).
        ``tau_syn_*`` are present only when ``tau_s`` was given.
    weights : ndarray or None
        PSC amplitudes in nA, same shape and sign as the normalized weights.
    v_init : ndarray or float or None
        Initial membrane potentials in mV when ``v0`` was given.
    """

    cell: dict
    weights: object
    v_init: object


def pynn_units(tau_m, tau_ref, bias=0.0, weights=None, tau_s=None, n=0, v0=None,
               cm=DEFAULT_SCALE["cm"], v_reset=DEFAULT_SCALE["v_reset"],
               v_thresh=DEFAULT_SCALE["v_thresh"]):
    """Convert normalized LIF parameters and unit-area PSC weights to PyNN units.

    Parameters
    ----------
    tau_m : float or array_like (N,)
        Membrane time constant in seconds (> 0), or one per neuron.
    tau_ref : float or array_like (N,)
        Refractory period in seconds (>= 0), or one per neuron.
    bias : float or array_like (N,)
        Normalized constant input (threshold at 1).
    weights : float or array_like or scipy.sparse matrix, optional
        Unit-area PSC weights in normalized units x seconds (the charge of one
        spike), any shape, e.g. (post, pre). With per-neuron ``tau_m`` (N,), the
        conversion factor is per post neuron: pass ``weights=1.0`` to get it (shape (N,)).
    tau_s : float, optional
        PSC time constant in seconds (> 0); required when ``weights`` is given.
    n : {0, 1}
        PSC order: 0 exponential (``IF_curr_exp``), 1 alpha (``IF_curr_alpha``).
    v0 : float or array_like (N,), optional
        Normalized initial voltages, converted to mV.
    cm : float
        Physical scale: membrane capacitance in nF (> 0).
    v_reset, v_thresh : float
        Physical scale: reset (= resting) and threshold potentials in mV, v_thresh > v_reset.

    Returns
    -------
    PyNNUnits
        ``cell`` parameters (ms, mV, nA, nF), ``weights`` in nA, ``v_init`` in mV.

    Raises
    ------
    ValueError
        For n other than 0 or 1 (PyNN's standard current-based cells have no
        higher-order PSC), non-positive time constants or ``v_thresh <= v_reset``.
    """
    tau_m = check.per_neuron("tau_m", tau_m)  # a number, or one value per neuron (then so are g_L and
    tau_ref = check.per_neuron("tau_ref", tau_ref, allow_low=True)  # i_offset, and the weights per post neuron)
    cm = check.positive("cm", cm)
    v_reset = check.check_number("v_reset", v_reset)
    v_thresh = check.check_number("v_thresh", v_thresh)
    if not v_thresh > v_reset:
        raise ValueError(f"v_thresh must be above v_reset, got v_thresh={v_thresh!r} mV, v_reset={v_reset!r} mV")
    if isinstance(n, bool) or n not in (0, 1):
        raise ValueError(
            f"n must be 0 (exponential PSC, IF_curr_exp) or 1 (alpha PSC, IF_curr_alpha); got {n!r}: "
            "PyNN's standard current-based cells have no PSC of order n >= 2")
    g_L = cm / (1000.0 * tau_m)  # uS (nF / ms)
    dV = v_thresh - v_reset  # mV
    bias = check.finite_array("bias", bias)
    cell = {
        "cm": cm,
        "tau_m": 1000.0 * tau_m,
        "tau_refrac": 1000.0 * tau_ref,
        "v_rest": v_reset,  # resting = reset: the bias carries any offset
        "v_reset": v_reset,
        "v_thresh": v_thresh,
        "i_offset": float(bias) * g_L * dV if bias.ndim == 0 else bias * (g_L * dV),
    }
    if tau_s is not None:
        tau_s = check.positive("tau_s", tau_s)
        cell["tau_syn_E"] = cell["tau_syn_I"] = 1000.0 * tau_s
    w_pynn = None
    if weights is not None:
        if tau_s is None:
            raise ValueError("tau_s (PSC time constant, seconds) is required to convert weights")
        per_charge = 1.0 / (1000.0 * tau_s) if n == 0 else 1.0 / (math.e * 1000.0 * tau_s)  # nA per pC
        factor = 1000.0 * g_L * dV * per_charge  # nA per (normalized unit x s)
        if hasattr(weights, "tocsr"):  # scipy.sparse: keep it sparse
            if np.ndim(factor):
                raise ValueError("per-neuron tau_m: convert weights=1.0 and scale each post neuron's row")
            w_pynn = weights.tocsr(copy=True).astype(float) * factor
        else:
            w_pynn = check.real_array("weights", weights, ndim=(0, 1, 2), allow_empty=False) * factor
    v_init = None
    if v0 is not None:
        v0 = check.finite_array("v0", v0)
        v_init = v_reset + v0 * dV
    return PyNNUnits(cell, w_pynn, v_init)


_CELL_KEYS = ("cm", "tau_m", "tau_refrac", "v_rest", "v_reset", "v_thresh", "i_offset", "tau_syn_E", "tau_syn_I")


def nest_ps_params(cell):
    """PyNN ``IF_curr_exp``/``IF_curr_alpha`` parameters (from :func:`pynn_units`) in NEST's own names and units.

    For NEST's precise-timing models ``iaf_psc_exp_ps`` and ``iaf_psc_alpha_ps``,
    created through ``sim.native_cell_type``, which take NEST's units: pF and pA
    instead of PyNN's nF and nA (times in ms and voltages in mV are the same).
    Their PSCs have the same shapes as PyNN's standard cells (exponential: jump
    by the weight; alpha: peak equal to the weight), and PyNN converts
    projection weights from nA to pA for every NEST cell, so weights are unchanged.

    Parameters
    ----------
    cell : dict
        ``cm``, ``tau_m``, ``tau_refrac``, ``v_rest``, ``v_reset``, ``v_thresh``,
        ``i_offset``, ``tau_syn_E``, ``tau_syn_I`` as returned in ``pynn_units(...).cell``.

    Returns
    -------
    dict
        ``C_m`` (pF), ``tau_m``, ``t_ref``, ``tau_syn_ex``, ``tau_syn_in`` (ms),
        ``E_L``, ``V_reset``, ``V_th`` (mV), ``I_e`` (pA, float or (N,)).
    """
    if not isinstance(cell, dict):
        raise TypeError(f"cell must be the dict of PyNN cell parameters from pynn_units(...).cell, "
                        f"got {type(cell).__name__}")
    missing = sorted(set(_CELL_KEYS) - set(cell))
    if missing:
        raise ValueError(f"cell (from pynn_units(...).cell) misses the parameters {missing}")
    i_offset = cell["i_offset"]
    return {"C_m": 1000.0 * cell["cm"], "tau_m": cell["tau_m"], "t_ref": cell["tau_refrac"],
            "E_L": cell["v_rest"], "V_reset": cell["v_reset"], "V_th": cell["v_thresh"],
            "I_e": 1000.0 * i_offset if np.ndim(i_offset) == 0 else 1000.0 * np.asarray(i_offset, dtype=float),
            "tau_syn_ex": cell["tau_syn_E"], "tau_syn_in": cell["tau_syn_I"]}


__all__ = ["pynn_units", "PyNNUnits", "DEFAULT_SCALE", "nest_ps_params"]
