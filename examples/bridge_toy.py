"""The bridge in seconds: train with LIF-shaped activations, run as spiking LIF neurons.

1. The tuning curves used as activations (LIF, soft-LIF) on one plot.
2. XOR with 16 soft-LIF hidden units and a sigmoid output: the spiking
   network's outputs for the four corners next to the rate network's.
3. The noisy discrete mapping (10 features, 4 classes): accuracy of the rate
   network and of its spiking version for several presentation times, a
   rate-vs-spiking scatter per layer and the firing-rate histogram.

    python examples/bridge_toy.py --out figures/
"""
import argparse
import pathlib

import numpy as np

import ratenet
from neurosim.synapses import PSCFilter
from ratenet.spiking import plots as sp
from ratenet.data import noisy_mapping, xor
from ratenet.spiking.activations import SoftLIFRate
from ratenet.optimizers import Adam
from ratenet.training import fit

AMP = 1 / 63          # output ≈ 1 at z = 1 (63 Hz for tau_m = 20 ms, tau_ref = 2 ms)


def xor_bridge(seed=0):
    """Train XOR with soft-LIF units; return (rate outputs, spiking outputs) for the 4 corners."""
    X, T = xor(n=400, noise=0.1, rng=seed)
    rng = np.random.default_rng(seed)
    model = ratenet.Sequential([ratenet.Dense(2, 16, rng=rng), SoftLIFRate(amplitude=AMP),
                                ratenet.Dense(16, 1, rng=rng), ratenet.Sigmoid()])
    fit(model, X, T, ratenet.BinaryCrossEntropy(), Adam(lr=0.01), epochs=60, batch_size=16, rng=seed, verbose=0)
    corners, _ = xor(n=4)
    snn = ratenet.to_spiking(model, synapse=PSCFilter(0.005))
    return corners, model.predict(corners)[:, 0], snn.predict(corners, T=0.5)[:, 0]


def mapping_bridge(seed=0, T_values=(0.02, 0.05, 0.1, 0.2, 0.5)):
    """Train the noisy mapping; return a dict with the spiking model, data, accuracies and a result."""
    X, labels = noisy_mapping(800, n_classes=4, n_features=10, noise=0.8, rng=seed)
    Xtr, Ttr, Xte, Tte = X[:600], labels[:600], X[600:], labels[600:]
    rng = np.random.default_rng(seed)
    model = ratenet.Sequential([ratenet.Dense(10, 32, rng=rng), SoftLIFRate(amplitude=AMP),
                                ratenet.Dense(32, 4, rng=rng), ratenet.Softmax()])
    fit(model, Xtr, Ttr, ratenet.CategoricalCrossEntropy(), Adam(lr=3e-3), epochs=40, batch_size=32,
        rng=seed, verbose=0)
    snn = ratenet.to_spiking(model, synapse=PSCFilter(0.005), dt=1e-3)
    Ts, accs = sp.accuracy_sweep(snn, Xte, Tte, T=T_values)
    return {"snn": snn, "X": Xte, "labels": Tte, "T": Ts, "spiking_accuracy": accs,
            "rate_accuracy": float(np.mean(model.predict(Xte).argmax(1) == Tte)),
            "result": snn.run(Xte, T=0.2)}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", default=None, help="directory for PNG figures (default: show nothing, print only)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    corners, rate, spiking = xor_bridge(args.seed)
    print("XOR corner   rate    spiking (T = 0.5 s)")
    for c, r, s in zip(corners, rate, spiking):
        print(f"  {c.astype(int)}     {r:.3f}   {s:.3f}")

    m = mapping_bridge(args.seed)
    print(f"\nnoisy mapping: rate accuracy {100 * m['rate_accuracy']:.1f} %")
    for T, a in zip(m["T"], m["spiking_accuracy"]):
        print(f"  spiking, T = {T:5.3f} s: {100 * a:.1f} %")

    if args.out:
        import matplotlib
        matplotlib.use("Agg")
        out = pathlib.Path(args.out)
        out.mkdir(parents=True, exist_ok=True)
        figs = {
            "bridge_tuning_curves": sp.plot_tuning_curves(sp.bridge_curves(hh=False)),
            "bridge_rate_vs_spiking": sp.plot_rate_vs_spiking(m["snn"], m["X"], result=m["result"]),
            "bridge_accuracy_vs_T": sp.plot_accuracy_sweep(m["T"], m["spiking_accuracy"], m["rate_accuracy"]),
            "bridge_rate_histograms": sp.plot_rate_histograms(m["result"]),
        }
        for name, fig in figs.items():
            fig.savefig(out / f"{name}.png", dpi=110)
            print(f"wrote {out / name}.png")


if __name__ == "__main__":
    main()
