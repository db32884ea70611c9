"""Delta (voltage-jump) synapses, as NEST's ``iaf_psc_delta``.

A spike of weight w arriving at time ta adds w to the postsynaptic membrane
potential at ta: ``v(ta+) = v(ta-) + w``. There is no synaptic current and no
time constant. The weight is a voltage, in the units of the target population:
normalized (threshold 1, reset 0) for :class:`neurosim.LIF`, volts for a
population built from :class:`neurosim.LIFUnits` (NEST's ``weight`` in mV / 1000).

Timing (see :class:`neurosim.network.connections.Connection` for the delay rule):

* grid (``timing="grid"``): a spike arriving at ta inside the step ``[t0, t0 + dt)``
  jumps v at t0, the start of that step (the same boundary at which a PSC starts);
  a neuron lifted to ``v >= 1`` fires at t0, then is reset and refractory from t0;
* precise (``timing="precise"``): the jump happens at ta exactly, and so does the
  spike it may trigger.

Refractoriness: a jump that arrives while the target is refractory, i.e. at
``ts < ta <= ts + tau_ref`` after its spike at ts, is discarded, as NEST's
``iaf_psc_delta`` does by default (``refractory_input=False``; on NEST's grid the
inputs of the tau_ref/dt steps after the spike step, the last one included).
"""
import numpy as np

_TOL = 1e-9  # relative to dt: a refractory period ending this close to a boundary ends on it


class Delta:
    """A voltage-jump synapse: each spike of weight w adds w to the target's v at its arrival.

    Weights are voltages: normalized for :class:`neurosim.LIF` targets, volts for
    ``LIFUnits`` targets. Targets must be LIF populations (Hodgkin-Huxley and
    :class:`neurosim.NeuronModel` targets are refused). Exported to PyNN as
    ``IF_curr_delta`` (NEST ``iaf_psc_delta``).

    Examples
    --------
    >>> import neurosim
    >>> net = neurosim.Network(dt=1e-4)
    >>> src = net.add_spike_source([[0.001]])
    >>> pop = net.add_population(neurosim.LIF(tau_m=0.02), 1)
    >>> conn = net.connect(src, pop, 0.5, synapse=neurosim.Delta(), delay=1e-3)
    """

    #: one state slot per target (the jumps due at the next boundary), like a PSC of order 0
    n = 0
    #: no synaptic time constant
    tau_s = None

    def __repr__(self):
        return "Delta()"

    def __eq__(self, other):
        return isinstance(other, Delta)

    def __hash__(self):
        return hash(Delta)

    def make_state(self, n_targets, dt):
        """A :class:`DeltaState` collecting the jumps of ``n_targets`` targets."""
        return DeltaState(self, n_targets, dt)


class DeltaState:
    """Jumps due at the next step boundary, per target: ``x[0]`` (shape (n_targets,)).

    Spikes add their weights to ``x[0]``; the target population adds ``x[0]`` to its
    voltage at the start of its next step and clears it (:func:`apply_jumps`), so
    ``advance`` does nothing.
    """

    decay = None

    def __init__(self, synapse, n_targets, dt):
        self.synapse, self.dt = synapse, float(dt)
        self.x = np.zeros((1, int(n_targets)))

    def advance(self):
        """Nothing: the jumps wait for their target."""

    @property
    def current(self):
        raise ValueError("a delta synapse has no current (its current is a sum of Dirac pulses); "
                         "probe 'v' instead")


def apply_jumps(state, jumps, t0):
    """Apply the jumps due at ``t0`` to a grid LIF state; fire the neurons they lift to threshold.

    Parameters
    ----------
    state : neurosim.LIFState
        Normalized LIF state at the boundary ``t0`` (before its step from t0).
    jumps : ndarray (M,)
        Voltage jumps arriving at t0 (normalized); cleared here.
    t0 : float
        Time of the boundary (s).

    Returns
    -------
    ndarray of int
        Neurons that fire at t0 (reset to 0 and refractory from t0).

    Notes
    -----
    A refractory neuron (``refractory_end > t0``) discards its jump: the jump is
    added to its v, which the step then holds at 0 until the period ends (the
    LIF step already does that), and it cannot fire. Threshold is ``v >= 1``, as in NEST.
    """
    v = state.v
    ends = state.refractory_end
    # a period ending at t0 itself (up to rounding) still discards: NEST's grid neuron ignores the
    # inputs of the t_ref/dt steps after its spike step, the last one included
    near = state._refr if state._refr is not None else np.arange(v.size)
    near = near[np.abs(ends[near] - t0) <= _TOL * state.dt]
    if near.size:
        ends[near] = t0 + _TOL * state.dt  # refractory "at t0": the step holds v at 0 (and frees it at once)
    v += jumps
    jumps[...] = 0.0
    fired = (v >= 1.0).nonzero()[0]
    if fired.size:
        fired = fired[ends[fired] <= t0]
        if fired.size:
            v[fired] = 0.0
            tau_ref = state.tau_ref  # a number, or one per neuron
            ends[fired] = t0 + (tau_ref[fired] if isinstance(tau_ref, np.ndarray) else tau_ref)
            # the step filters its list of refractory neurons (see LIFState._refractory): add these
            if state._refr is not None:
                state._refr = np.concatenate((state._refr, fired))
    return fired


__all__ = ["Delta", "DeltaState", "apply_jumps"]
