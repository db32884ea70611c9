"""Connectors with per-synapse delays in a network, and the network and an AdEx cell run again on NEST.

A sparse excitatory/inhibitory LIF network is built with PyNN-named connectors
(``fixed_in_degree``, ``bernoulli``), its recurrent synapses with delays drawn per synapse.
neurosim runs it; with ``--nest`` (``pip install pyNN nest-simulator``) the same network is
exported with ``to_pynn`` and run on NEST, and Naud et al.'s adapting AdEx cell is compared spike
by spike.

    python examples/connectors_export.py [--T 1.0] [--nest]
"""
import argparse

import numpy as np


def network(seed=1):
    import neurosim
    from neurosim import connectors

    net = neurosim.Network(dt=1e-4, rng=seed)
    drive = net.add_poisson(1000, rate=8.0, name="drive")
    exc = net.add_population(neurosim.LIF(tau_m=0.02, tau_ref=0.002), 800, bias=0.0, v0="uniform", name="exc")
    inh = net.add_population(neurosim.LIF(tau_m=0.01, tau_ref=0.002), 200, bias=0.0, v0="uniform", name="inh")
    syn = neurosim.PSCFilter(0.005)
    net.connect(drive, exc, connectors.fixed_in_degree(50, weights=0.004), synapse=syn)
    net.connect(drive, inh, connectors.fixed_in_degree(50, weights=0.002), synapse=syn)
    delays = ("uniform", 1e-3, 3e-3)  # per synapse, seconds
    net.connect(exc, exc, connectors.fixed_in_degree(80, weights=("normal", 5e-4, 1e-4), delays=delays,
                                                     allow_self_connections=False), synapse=syn)
    net.connect(exc, inh, connectors.bernoulli(0.1, weights=1e-3, delays=delays), synapse=syn)
    net.connect(inh, exc, connectors.fixed_in_degree(20, weights=-2e-3, delays=1.5e-3), synapse=syn)
    return net


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--T", type=float, default=1.0, help="simulated time (s)")
    parser.add_argument("--nest", action="store_true", help="also run the exported network on NEST")
    args = parser.parse_args(argv)

    import neurosim

    net = network()
    exc = net.connections[2]
    print(f"exc -> exc: {exc.weights.nnz} synapses, exactly {np.unique(np.diff(exc.weights.indptr))} inputs "
          f"per neuron, delays {exc.delay_bounds[0] * 1e3:.2f}..{exc.delay_bounds[1] * 1e3:.2f} ms")
    probes = {p.name: net.probe(p, "spikes") for p in net.populations}
    net.run(args.T)
    for name, probe in probes.items():
        print(f"neurosim {name}: {probe.data[0].size / probe.target.n / args.T:.2f} Hz")
    if not args.nest:
        return
    from neurosim.export import to_pynn

    exported = to_pynn(network())  # the same seed: the same synapses and Poisson rates (NEST draws its own spikes)
    exported.record(["exc", "inh"])
    exported.run(args.T)
    for name in ("exc", "inh"):
        trains = exported.spike_times(name)
        print(f"NEST     {name}: {sum(t.size for t in trains) / len(trains) / args.T:.2f} Hz")

    from neurosim.neurons.adex import NAUD_2008

    cell = neurosim.Network(dt=1e-4)
    pop = cell.add_population(neurosim.AdEx.preset("adapting"), 1, bias=NAUD_2008["adapting"]["I"], name="adex")
    probe = cell.probe(pop, "spikes")
    import pyNN.nest as sim

    sim.setup(timestep=0.01)  # NEST stamps spikes on its grid: 0.01 ms
    exported = to_pynn(cell, sim=sim, setup=False)
    exported.record("adex")
    exported.run(0.5)
    cell.run(0.5)
    ours, theirs = probe.data[0], exported.spike_times("adex")[0]
    print(f"AdEx adapting: {ours.size} spikes in neurosim, {theirs.size} on NEST; largest difference "
          f"{1e3 * np.max(np.abs(ours - theirs)):.3f} ms")


if __name__ == "__main__":
    main()
