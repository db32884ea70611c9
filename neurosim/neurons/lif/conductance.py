"""Conductance input of an LIF population in a network (see :mod:`neurosim.synapses.conductance`).

Each step the conductances (units of the leak conductance) are summed at their exact step
means into ``g`` and ``g_E = sum_k g_k E_k``, then :meth:`neurosim.LIFState.step_conductance`
advances the membrane exactly for them.
"""
import numpy as np

from ...synapses.conductance import is_conductance, step_mean_coefficients
from .model import _tiled


class ConductanceInput:
    """The conductance groups into one LIF population: their states, scales and reversal potentials.

    Parameters
    ----------
    pop : Population
        An LIF population (normalized, or from ``LIFUnits``: weights in siemens, E_rev in volts).
    groups : list of SynapseGroup
        All synapse groups into the population; the conductance ones are used.
    dt : float
    state : LIFState
        The population's state (refused with membrane noise).
    """

    def __init__(self, pop, groups, dt, state):
        units = pop.units
        n = state.v.size
        # LIFUnits given per neuron: g_L and the voltage unit per neuron, so each neuron's conductance (in its
        # own g_L) and reversal potential (in its own V_th - V_reset): (pop.n,) repeated per trial (trial-major)
        inv_g_L = 1.0 if units is None else 1.0 / units.g_L
        per_neuron = None if np.ndim(inv_g_L) == 0 else _tiled(inv_g_L, n, "g_L")  # applied after the stages
        inv_g_L = inv_g_L if per_neuron is None else per_neuron
        self.terms, self.instant = [], []
        for g in groups:
            syn = g.synapse
            if not is_conductance(syn):
                continue
            # weights are peak conductances: g(t) = peak_scale * (unit-area cascade), in units of g_L
            e = syn.E_rev if units is None else units.voltage_to_v(syn.E_rev)
            e = float(e) if np.ndim(e) == 0 else _tiled(e, n, "E_rev")
            coef = step_mean_coefficients(syn, dt) * syn.peak_scale * (1.0 if per_neuron is not None else inv_g_L)
            if syn.n == 0:
                self.terms.append((g.state.x[0], float(coef[0]), e, per_neuron))
            else:
                self.terms.append((g.state.x, coef, e, per_neuron))
            self.instant.append((g.state.x[-1], syn.peak_scale * inv_g_L, e))
        if self.terms and state.sigma > 0:
            raise ValueError(f"population {pop.name!r}: conductance synapses with membrane noise (add_noise) are not "
                             "supported: the exact noisy step is written for a fixed tau_m, and a conductance "
                             "changes it every step")
        self.g, self.g_E, self.tmp = (np.empty(n) for _ in range(3)) if self.terms else (None, None, None)

    def __bool__(self):
        return bool(self.terms)

    def sums(self):
        """``(g, g_E)`` over this step (scratch arrays, overwritten at the next call)."""
        g, g_E, tmp = self.g, self.g_E, self.tmp
        for i, (x, c, e, per_neuron) in enumerate(self.terms):
            out = g if i == 0 else tmp
            if c.__class__ is float:
                np.multiply(x, c, out=out)
            else:
                np.dot(c, x, out=out)
            if per_neuron is not None:  # 1/g_L per neuron (scalar factors are in c)
                out *= per_neuron
            if i == 0:
                np.multiply(g, e, out=g_E)
            else:
                g += tmp
                tmp *= e
                g_E += tmp
        return g, g_E

    def current(self, v):
        """Instantaneous conductance current ``sum_k g_k(t) (E_k - v)`` (normalized), shape of v."""
        total = np.zeros(v.shape)
        for x, scale, e in self.instant:
            total += scale * x * (e - v)
        return total


def conductance_current(groups, cond, v):
    """Total synaptic current: the current-based groups' currents plus the conductances' ``g (E - v)``."""
    total = cond.current(v)
    for g in groups:
        if not is_conductance(g.synapse):
            total += g.state.current
    return total
