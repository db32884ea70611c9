"""Every probe in every mode, or refused at build: population kind x input kind x probe kind x (timing x backend x batch).

Each cell runs one network carrying every probe kind, and compares it with the grid-mode, numpy,
unbatched reference of the same description:

* grid mode (any backend, batch or none): trial 0 equals the reference (numpy: spikes bit for bit,
  samples to 1e-12; numba: the same neurons at the same steps, times to 1e-12 s), the per-trial
  seeding contract of ``Network(batch=)``;
* precise mode: exact spike times instead of grid ones, so it agrees with the grid reference within
  the grid's own error (spike counts within 15 %, voltages close), and is never zero where the
  reference is not;
* a cell that a mode cannot honour raises ValueError at build (or when the part is added), with the
  reason; the expected refusals are listed in :func:`refused`, so a cell that should run but raises
  fails too. No cell may return zeros or ignore an input.
"""
import functools

import numpy as np
import pytest

from neurosim import HodgkinHuxley, LIF, LIFUnits, Network, NeuronModel, PSCFilter, StateVar

POP_KINDS = ("lif", "lif_units", "hh", "user")
INPUT_KINDS = ("bias", "current", "poisson", "spikes", "noise")
PROBE_KINDS = ("spikes", "rate", "v", "current", "filtered", "filtered_mean", "state")
#: "state": a declared state variable other than v, probed by name
STATE = {"lif": "refractory_end", "lif_units": "refractory_end", "hh": "m", "user": "count"}
N = 4


class Leak(NeuronModel):
    """A user model: tau dv/dt = J - v, threshold 1, reset 0 (exact step, spikes at the step start)."""

    state = {"v": 0.0, "count": StateVar(0.0)}

    def __init__(self, tau=0.02):
        super().__init__(tau=tau)

    def step(self, dt, J, v, count):
        v[...] = J + (v - J) * np.exp(-dt / self.tau)
        spiked = v >= 1.0
        v[spiked] = 0.0
        count += spiked
        return spiked


UNITS = LIFUnits(C=2e-10, g_L=1e-8)
_SCALE = UNITS.g_L * (UNITS.V_th - UNITS.V_reset)  # amperes per normalized unit of input
KIND = {  # model, dt, T, bias, input amplitude, weight, noise sigma
    "lif": (lambda: LIF(0.02, 0.002), 1e-4, 0.1, 1.3, 0.6, 5e-4, 0.15),
    "lif_units": (lambda: UNITS, 1e-4, 0.1, UNITS.J_to_current(1.3), 0.6 * _SCALE, 5e-4, 0.15 * 0.015),
    "hh": (lambda: HodgkinHuxley(), 1e-5, 0.03, 8.0, 4.0, 5e-3, 1.0),
    "user": (lambda: Leak(0.02), 1e-4, 0.1, 1.3, 0.6, 5e-4, 0.15),
}


#: Probe kinds the compiled backend records; it refuses the others at build (tested below).
COMPILED_PROBES = ("spikes", "rate", "v", "current")


def refused(pop_kind, input_kind, sim):
    """Why a cell is refused (None: it must run)."""
    if input_kind == "noise" and pop_kind == "user":
        return "add_noise"
    if sim.backend == "numba" and sim.timing == "precise":
        return "precise-timing event loop has no compiled form"
    if sim.timing == "precise" and pop_kind in ("hh", "user"):
        return "exact spike-time method"
    if sim.timing == "precise" and input_kind == "noise":
        return "noise"
    if sim.backend == "numba" and pop_kind == "user":
        return "no compiled step"
    if sim.backend == "numba" and pop_kind == "hh" and input_kind == "noise":
        return "membrane noise on a HodgkinHuxley population"
    return None


def build(pop_kind, input_kind, net, kinds=PROBE_KINDS):
    make, dt, T, bias, amp, w, sigma = KIND[pop_kind]
    first = np.zeros(N) + bias if input_kind != "current" else np.zeros(N)
    pop = net.add_population(make(), N, bias=first)
    if input_kind == "current":
        net.add_current_input(pop, lambda t: bias + amp * (t > T / 4))
    elif input_kind == "poisson":
        src = net.add_poisson(10, rate=100.0)
        net.connect(src, pop, w, synapse=PSCFilter(0.005))
    elif input_kind == "spikes":
        times = np.arange(1, 40) * (T / 40)
        src = net.add_spike_source((np.repeat(times, 2), np.tile([0, 1], times.size)))
        net.connect(src, pop, 20 * w, synapse=PSCFilter(0.005, 1))
    elif input_kind == "noise":
        net.add_noise(pop, sigma)
    probes = {"spikes": net.probe(pop, "spikes"), "rate": net.probe(pop, "rate", bin=T / 10)}
    every = 10 * dt
    for kind in ("v", "current", "filtered", "filtered_mean"):
        if kind in kinds:
            probes[kind] = net.probe(pop, kind, sample_every=every)
    if "state" in kinds:
        probes["state"] = net.probe(pop, STATE[pop_kind], sample_every=every)
    return probes, T


@functools.lru_cache(maxsize=None)
def reference(pop_kind, input_kind, seed):
    """The grid-mode, numpy, unbatched run: {probe kind: data}."""
    net = Network(dt=KIND[pop_kind][1], rng=seed)
    probes, T = build(pop_kind, input_kind, net)
    net.run(T)
    return {k: p.data for k, p in probes.items()}


def trial0(data, batched, kind):
    if not batched:
        return data
    if kind == "spikes":
        times, idx, trials = data
        return times[trials == 0], idx[trials == 0]
    return data[:, 0] if data.ndim >= 2 else data


@pytest.mark.parametrize("input_kind", INPUT_KINDS)
@pytest.mark.parametrize("pop_kind", POP_KINDS)
def test_every_probe_in_every_mode_or_refused(sim, pop_kind, input_kind):
    seed = 11
    why = refused(pop_kind, input_kind, sim)
    kinds = PROBE_KINDS if sim.backend == "numpy" else COMPILED_PROBES
    cell_seed = seed if sim.batch is None else Network.trial_seeds(seed, sim.batch)[0]
    net = sim.network(dt=KIND[pop_kind][1], rng=seed)
    if why is not None:
        with pytest.raises(ValueError, match=why):
            build(pop_kind, input_kind, net, kinds)
            net.build()
        return
    probes, T = build(pop_kind, input_kind, net, kinds)
    net.run(T)
    ref = reference(pop_kind, input_kind, cell_seed)
    assert ref["spikes"][0].size > 3, "the reference must spike: a cell returning zeros would pass otherwise"
    got = {k: trial0(p.data, sim.batch is not None, k) for k, p in probes.items()}
    if sim.timing == "grid":
        for kind, data in got.items():
            if kind == "spikes":  # the same neurons at the same steps; the compiled backend's times to 1e-12 s
                np.testing.assert_allclose(data[0], ref[kind][0], rtol=0, atol=0 if sim.backend == "numpy" else 1e-12,
                                           err_msg=kind)
                np.testing.assert_array_equal(data[1], ref[kind][1], err_msg=kind)
            else:
                np.testing.assert_allclose(data, ref[kind], rtol=1e-12 if sim.backend == "numpy" else 1e-9,
                                           atol=1e-12, err_msg=kind)
        return
    # precise: exact times, so within the grid's error of the reference, and never silent
    n_got, n_ref = got["spikes"][0].size, ref["spikes"][0].size
    assert abs(n_got - n_ref) <= max(3, 0.15 * n_ref), (n_got, n_ref)
    if "state" in got:  # refractory_end: -inf until a neuron's first spike, then its last spike + tau_ref
        a, b = got["state"], ref["state"]
        assert a.shape == b.shape and np.isfinite(a).any()
        both = np.isfinite(a) & np.isfinite(b)
        # mostly the same last spike within the grid's error (a spike more or fewer shifts it by an interval)
        assert np.mean(np.abs(a[both] - b[both]) <= 2e-3) >= 0.8, "last spike + tau_ref"
        assert (a[np.isfinite(a)] <= T + 0.01).all()
    for kind in [k for k in ("rate", "v", "filtered", "filtered_mean") if k in got] + \
            (["current"] if input_kind in ("poisson", "spikes") else []):
        a, b = np.asarray(got[kind]), np.asarray(ref[kind])
        assert a.shape == b.shape, kind
        assert np.abs(a).max() > 0, f"{kind} reads zeros in precise mode"
        scale = np.abs(b).mean()
        assert abs(a.mean() - b.mean()) <= 0.2 * scale + 1e-12, (kind, a.mean(), b.mean())


@pytest.mark.parametrize("kind", sorted(set(PROBE_KINDS) - set(COMPILED_PROBES)))
def test_the_compiled_backend_refuses_the_probes_it_does_not_record(kind):
    """The probe kinds outside COMPILED_PROBES: refused at build by backend='numba', run on numpy by 'auto'."""
    pytest.importorskip("numba", reason="pip install '.[fast]'")
    for backend in ("numba", "auto"):
        net = Network(dt=1e-4, backend=backend)
        pop = net.add_population(LIF(), 2, bias=1.5)
        name = STATE["lif"] if kind == "state" else kind
        net.probe(pop, name)
        if backend == "numba":
            with pytest.raises(ValueError, match=f"probe {name!r}.*not recorded by the compiled loop"):
                net.build()
        else:
            net.run(0.01)
            assert net.backend == "numpy"
