"""Which networks the compiled backend runs, and the backend selection rule.

``Network(backend=...)``:

- ``"numpy"``: the reference runtime, every kind.
- ``"numba"``: the compiled runtime. A network with a part it cannot run is
  refused when it is built (``ValueError`` naming the part and why); without
  numba, an ``ImportError`` naming the ``[fast]`` extra.
- ``"auto"`` (default): numba when it is importable and runs every part of the
  network, else numpy, silently. ``net.backend`` tells which one runs.

Nothing is mixed within a run: a network runs wholly compiled or wholly on numpy.
"""
from ..._optional import NUMBA_INSTALL, numba_available, require_numba  # noqa: F401  (public here)

BACKENDS = ("auto", "numpy", "numba")
INSTALL = NUMBA_INSTALL

# probe kinds the compiled loop records ("filtered" and "filtered_mean" of populations only)
PROBE_KINDS = ("spikes", "rate", "v", "current", "filtered", "filtered_mean")
_MAX_FILTER_ORDER = 170  # PSCFilter._kernel's closed form (n! a finite float); above it goes through scipy


def unsupported(net):
    """Reasons (list of str) why the compiled backend cannot run ``net`` as described now; empty if it can."""
    from ..inputs import PoissonSource, SpikeSource
    from ..transforms import Convolution
    from ...neurons.lif import LIF
    from ...neurons.lif.model import _MAX_NOISE_DRAWS, _spikes_per_step

    if net.timing == "precise":
        # the compiled precise runtime (.precise) runs every network the precise runtime accepts: what precise
        # timing refuses on every backend (other kinds, noise, conductances, STDP) that runtime refuses itself
        return []
    why = []
    from .hh import unsupported as hh_unsupported
    from ...neurons.hh.model import HodgkinHuxley

    why += hh_unsupported(net)
    for pop in net.populations:
        if isinstance(pop.model, HodgkinHuxley):
            continue  # compiled/hh.py
        if not isinstance(pop.model, LIF):
            why.append(f"population {pop.name!r}: {type(pop.model).__name__} neurons have no compiled step yet")
        elif pop.model.per_neuron is not None and pop.noise is not None:
            why.append(f"population {pop.name!r}: LIF parameters per neuron with membrane noise have no compiled "
                       "step yet")
        elif pop.noise is not None and _spikes_per_step(net.dt, float(pop.model.tau_ref)) > _MAX_NOISE_DRAWS:
            why.append(f"population {pop.name!r}: membrane noise with tau_ref < dt / {_MAX_NOISE_DRAWS}: the "
                       "compiled step holds at most that many spikes per neuron and step")
    for src in net.sources:
        if not isinstance(src, (PoissonSource, SpikeSource)):
            why.append(f"source {src.name!r}: {type(src).__name__} has no compiled form")
    sources = set(map(id, net.sources))
    for c in net.connections:
        drive = getattr(c.pre, "independent_per_target", False)  # counts per step: no spike times needed
        if id(c.pre) in sources and c.delay_bounds[1] >= net.dt * (1 - 1e-9) and not drive:
            why.append(f"connection {c.pre.name!r} -> {c.post.name!r}: a delay >= dt from a source needs the "
                       "sources' spike times inside the step, which the compiled loop does not have yet")
        if c.plasticity is not None:
            why.append(f"connection {c.pre.name!r} -> {c.post.name!r}: plasticity (STDP) has no compiled "
                       "form yet")
        if c.synapse.tau_s is None and c.post.noise is not None:  # neurosim.Delta
            why.append(f"connection {c.pre.name!r} -> {c.post.name!r}: Delta (voltage-jump) synapses into a "
                       "population with membrane noise have no compiled step yet")
        if (net.batch or 1) > 1 and isinstance(c.weights, Convolution):
            why.append(f"connection {c.pre.name!r} -> {c.post.name!r}: a neurosim.Convolution in a batch; numpy "
                       "propagates a step with many spikes as one dense convolution (sums in another order than "
                       "the compiled loop's table), so the two backends could differ in the last bits")
        if c.placement != "boundary" and id(c.pre) in sources:
            why.append(f"connection {c.pre.name!r} -> {c.post.name!r}: placement={c.placement!r} from a source "
                       "needs the sources' spike times inside the step, which the compiled loop does not have yet")
    from ...neurons.base import NeuronModel
    for pop in net.populations:  # where a NeuronModel runs instead
        if isinstance(pop.model, NeuronModel):
            how = " with its step compiled by numba where numba can" if pop.model.jit else ""
            why.append(f"population {pop.name!r}: the compiled loop does not call a NeuronModel's step; "
                       f"backend='auto' runs it on the numpy loop{how}")
    why += [w for w in map(probe_unsupported, net.probes) if w is not None]
    return why


def probe_unsupported(probe):
    """Reason why the compiled loop cannot record ``probe``, or None."""
    if probe.kind not in PROBE_KINDS:
        return (f"probe {probe.kind!r} of {probe.target.name!r}: not recorded by the compiled loop yet "
                f"(it records {', '.join(PROBE_KINDS)})")
    if probe.kind in ("filtered", "filtered_mean"):
        if not hasattr(probe.target, "model"):
            return (f"probe {probe.kind!r} of the source {probe.target.name!r}: the compiled loop filters the "
                    "spikes of populations only (a source's spike times are not inside its step)")
        if probe.synapse.n > _MAX_FILTER_ORDER:
            return (f"probe {probe.kind!r} of {probe.target.name!r}: a filter of order n = {probe.synapse.n} > "
                    f"{_MAX_FILTER_ORDER} has no compiled kernel")
    return None


def check_backend(backend):
    """Validate ``Network(backend=...)``."""
    from ... import validation as check

    backend = check.check_choice("backend", backend, BACKENDS)
    if backend == "numba":
        require_numba()
    return backend
