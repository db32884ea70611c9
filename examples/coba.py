"""The COBA network (Brette et al. 2007, benchmark 1; Vogels & Abbott 2005): 4,000 LIF neurons with
conductance-based synapses, built by ``neurosim.network.examples.coba()``.

Prints the mean rate, the mean CV of the inter-spike intervals and the excitatory and inhibitory
conductances of one neuron; with ``--plot FILE`` saves a raster and that neuron's voltage.

    PYTHONPATH=. python examples/coba.py [--n 4000] [--T 1.0] [--plot coba.png]
"""
import argparse

import numpy as np

import neurosim
from neurosim.network.examples import coba


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=4000)
    parser.add_argument("--T", type=float, default=1.0, help="simulated seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--plot", default=None, help="save a raster and a voltage trace to this file")
    args = parser.parse_args(argv)

    net, spikes = coba(args.n, rng=args.seed)
    pop = net.populations[0]
    v = net.probe(pop[0:1], "v", sample_every=1e-4)          # volts (the population is built from LIFUnits)
    current = net.probe(pop[0:1], "current", sample_every=1e-4)  # amperes: g_e (E_e - V) + g_i (E_i - V)
    net.run(args.T)

    times, idx = spikes.data
    trains = neurosim.from_events(times, idx, n_neurons=args.n)
    cvs = [neurosim.cv(t) for t in trains if t.size >= 3]
    print(f"COBA, n = {args.n}, T = {args.T} s, backend {net.backend}: mean rate {times.size / args.n / args.T:.2f} Hz, "
          f"mean CV of ISIs {np.nanmean(cvs):.2f}")
    print(f"neuron 0: V in [{v.data.min() * 1e3:.1f}, {v.data.max() * 1e3:.1f}] mV, synaptic current "
          f"{current.data.mean() * 1e12:.0f} pA on average")
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (a, b) = plt.subplots(2, 1, figsize=(8, 6), sharex=True)
        keep = idx < 400
        a.plot(times[keep], idx[keep], ",k")
        a.set_ylabel("neuron (first 400)")
        b.plot(v.t, v.data[:, 0] * 1e3)
        b.set_xlabel("time (s)")
        b.set_ylabel("V of neuron 0 (mV)")
        fig.savefig(args.plot, dpi=100)
        print(f"saved {args.plot}")


if __name__ == "__main__":
    main()
