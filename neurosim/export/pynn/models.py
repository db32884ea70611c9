"""PyNN cell types for neurosim's neuron models other than LIF: one mapping function per model.

* :class:`neurosim.AdEx` -> PyNN ``EIF_cond_exp_isfa_ista`` (NEST ``aeif_cond_exp``, adaptive RKF45);
* :class:`neurosim.Izhikevich` -> PyNN ``Izhikevich`` (NEST ``izhikevich``, one Euler step of dt).

AdEx (SI units in neurosim; PyNN in ms, mV, nA, nF, nS)::

    cm = C 1e9 nF          tau_m = C / g_L (ms)     v_rest = E_L        v_thresh = V_T
    delta_T = Delta_T      a = a 1e9 nS             b = b 1e9 nA        tau_w (ms)
    v_reset = V_reset      v_spike = V_peak         tau_refrac = tau_ref (ms)
    i_offset = bias 1e9 nA (the population's constant input J, amperes); v = v0, w = 0

Both hold V at V_reset for the refractory period while w relaxes, as neurosim does.

Izhikevich (published units in both; PyNN's ``i_offset`` is in nA, and NEST's ``izhikevich`` and
PyNN's NEURON mechanism read 1 nA as an input of 1000 mV/ms, R = 1, Cm = 1 pF)::

    a, b, c, d unchanged    i_offset = bias 1e-3 nA    v = v0 (default -65 mV), u = b v

PyNN's ``Izhikevich`` fires at v >= 30 mV (NEST's ``V_th`` is not a PyNN parameter), so a
population with ``v_peak != 30`` is refused.

Synapses: ``EIF_cond_exp_isfa_ista`` has conductance-based exponential synapses and PyNN's
``Izhikevich`` voltage-jump (delta) synapses; neither carries neurosim's current-based
:class:`~neurosim.PSCFilter`, so a connection *into* such a population is refused (naming it);
connections *from* them are exported as usual. Each mapping lists the synapse kinds it accepts in
:data:`ACCEPTED_SYNAPSES`, where exporters of new synapse kinds add theirs.
"""
import numpy as np

from ...neurons.adex import AdEx
from ...neurons.izhikevich import Izhikevich

#: model class -> synapse classes whose connections into it the PyNN export carries (none yet). Adding one
#: also needs its weight conversion where ``live.export_plan`` lists the projections (today LIF's).
ACCEPTED_SYNAPSES = {AdEx: (), Izhikevich: ()}

_WHY_SYNAPSES = {
    AdEx: "PyNN's EIF_cond_exp_isfa_ista has conductance-based exponential synapses only",
    Izhikevich: "PyNN's Izhikevich has voltage-jump (delta) synapses only",
}


def mapped(model):
    """Whether ``model`` has a PyNN cell type here (LIF is mapped by :func:`neurosim.export.pynn_units`)."""
    return type(model) in _MAPPINGS


def check_population(pop, incoming):
    """Refuse (ValueError naming the parameter or connection, and why) what the cell type cannot carry."""
    model = pop.model
    if type(model) is Izhikevich and np.any(np.asarray(model.v_peak) != 30.0):
        raise ValueError(f"population {pop.name!r}: Izhikevich v_peak={model.v_peak!r} mV cannot be exported to "
                         "PyNN, whose Izhikevich cell type fires at v >= 30 mV (NEST's V_th is not a PyNN "
                         "parameter); use v_peak=30.0")
    bias = np.asarray(pop.normalized.bias)
    v0 = pop.normalized.v0
    if bias.ndim > 1 or (v0 is not None and np.ndim(v0) > 1):
        raise ValueError(f"population {pop.name!r}: per-trial (batch) bias or v0 cannot be exported to PyNN, "
                         "which runs one trial; export a network without batch")
    accepted = ACCEPTED_SYNAPSES[type(model)]
    for c in incoming:
        if not isinstance(c.synapse, accepted):
            raise ValueError(f"connection {c.pre.name!r} -> {pop.name!r}: {type(model).__name__} populations receive "
                             f"no {type(c.synapse).__name__} synapses in the PyNN export: "
                             f"{_WHY_SYNAPSES[type(model)]}, not neurosim's current-based PSCs")


def cell(pop):
    """PyNN description of the population ``pop``: (cell type name, parameters, initial values).

    Parameters are floats or (n,) arrays (per-neuron values); initial values are (n,) arrays.
    Units: ms, mV, nA, nF, nS.
    """
    return _MAPPINGS[type(pop.model)](pop)


def _per_neuron(value, n, scale=1.0):
    """A float, or an (n,) float array when the parameter differs between neurons."""
    arr = np.asarray(value, dtype=float) * scale
    if arr.ndim == 0:
        return float(arr)
    return np.array(np.broadcast_to(arr, (n,)), dtype=float)


def _adex(pop):
    m, n = pop.model, pop.n
    C, g_L = np.asarray(m.C, dtype=float), np.asarray(m.g_L, dtype=float)
    params = {
        "cm": _per_neuron(C, n, 1e9),
        "tau_m": _per_neuron(C / g_L, n, 1e3),
        "v_rest": _per_neuron(m.E_L, n, 1e3),
        "v_thresh": _per_neuron(m.V_T, n, 1e3),
        "delta_T": _per_neuron(m.Delta_T, n, 1e3),
        "a": _per_neuron(m.a, n, 1e9),
        "b": _per_neuron(m.b, n, 1e9),
        "tau_w": _per_neuron(m.tau_w, n, 1e3),
        "v_reset": _per_neuron(m.V_reset, n, 1e3),
        "v_spike": _per_neuron(m.V_peak, n, 1e3),
        "tau_refrac": _per_neuron(m.tau_ref, n, 1e3),
        "i_offset": _per_neuron(pop.normalized.bias, n, 1e9),
    }
    state = _initial(pop)
    initial = {"v": 1e3 * state["v"], "w": 1e9 * state["w"]}  # V -> mV, A -> nA
    return "EIF_cond_exp_isfa_ista", params, initial


def _izhikevich(pop):
    m, n = pop.model, pop.n
    params = {"a": _per_neuron(m.a, n), "b": _per_neuron(m.b, n), "c": _per_neuron(m.c, n),
              "d": _per_neuron(m.d, n), "i_offset": _per_neuron(pop.normalized.bias, n, 1e-3)}
    state = _initial(pop)
    return "Izhikevich", params, {"v": state["v"], "u": state["u"]}


def _initial(pop):
    """The model's own initial state of ``pop`` (its ``v0`` if given), as (n,) float arrays."""
    v0 = pop.normalized.v0
    state = pop.model.initial_state((pop.n,), None if v0 is None else np.asarray(v0, dtype=float))
    return {k: np.array(np.broadcast_to(v, (pop.n,)), dtype=float) for k, v in state.items()}


_MAPPINGS = {AdEx: _adex, Izhikevich: _izhikevich}
