"""The ``ratenet`` command.

    ratenet demo --out DIR        # or: python -m ratenet demo --out DIR

Errors (bad arguments, an unwritable ``--out``, a simulation leaving its valid
range) print one line on stderr and exit with status 2; the output folder is
checked (and created) before anything is computed.

``demo`` runs the toy bridge in a few seconds: a 10-32-4 network with soft-LIF
hidden units trained on the noisy discrete mapping, converted with
:func:`ratenet.to_spiking` and run as spiking LIF neurons; it prints the rate
and spiking accuracies and writes the comparison figures as PNG files.
"""
import argparse
import sys

import numpy as np

from neurosim.io import atomic_write
from neurosim.errors import SimulationError

__all__ = ["main", "toy_bridge", "build_parser"]


def toy_bridge(seed=0, T_values=(0.02, 0.05, 0.1, 0.2, 0.5)):
    """Train, convert and compare on the noisy mapping.

    Returns
    -------
    dict
        ``snn`` (SpikingModel), ``X``/``labels`` (test set), ``T`` and
        ``spiking_accuracy`` (arrays), ``rate_accuracy`` (float) and ``result``
        (SpikingResult at T = 0.2 s).
    """
    import ratenet
    from neurosim.synapses import PSCFilter
    from .data import noisy_mapping
    from .spiking.activations import SoftLIFRate
    from .optimizers import Adam
    from .spiking.plots import accuracy_sweep
    from .training import fit

    X, labels = noisy_mapping(800, n_classes=4, n_features=10, noise=0.8, rng=seed)
    rng = np.random.default_rng(seed)
    model = ratenet.Sequential([ratenet.Dense(10, 32, rng=rng), SoftLIFRate(amplitude=1 / 63),
                                ratenet.Dense(32, 4, rng=rng), ratenet.Softmax()])
    fit(model, X[:600], labels[:600], ratenet.CategoricalCrossEntropy(), Adam(lr=3e-3), epochs=40,
        batch_size=32, rng=seed, verbose=0)
    Xte, Tte = X[600:], labels[600:]
    snn = ratenet.to_spiking(model, synapse=PSCFilter(0.005), dt=1e-3)
    Ts, accs = accuracy_sweep(snn, Xte, Tte, T=T_values)
    return {"snn": snn, "X": Xte, "labels": Tte, "T": Ts, "spiking_accuracy": accs,
            "rate_accuracy": float(np.mean(ratenet.to_labels(model.predict(Xte)) == Tte)),
            "result": snn.run(Xte, T=0.2)}


def _prepare_out(out):
    """Create the output folder (and its parents) and check it is writable, before any work."""
    from neurosim.cli import output_folder

    return output_folder(out)


def _demo(args):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .spiking import plots as sp

    out = _prepare_out(args.out)
    m = toy_bridge(args.seed)
    print(f"toy bridge (noisy mapping, 10-32-4 soft-LIF): rate accuracy {100 * m['rate_accuracy']:.1f} %")
    for T, a in zip(m["T"], m["spiking_accuracy"]):
        print(f"  spiking LIF network, T = {T:5.3f} s: {100 * a:.1f} %")
    figs = {
        "bridge_tuning_curves": sp.plot_tuning_curves(sp.bridge_curves(hh=args.hh)),
        "bridge_rate_vs_spiking": sp.plot_rate_vs_spiking(m["snn"], m["X"], result=m["result"]),
        "bridge_accuracy_vs_T": sp.plot_accuracy_sweep(m["T"], m["spiking_accuracy"], m["rate_accuracy"]),
        "bridge_rate_histograms": sp.plot_rate_histograms(m["result"]),
    }
    for name, fig in figs.items():
        path = out / f"{name}.png"
        with atomic_write(path) as f:          # a figure file is the old one or the new one
            fig.savefig(f, format="png", dpi=110)
        plt.close(fig)  # main() may run many times in one process
        print(f"wrote {path}")
    return 0


def _seed(text):
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser():
    """The ``ratenet`` argument parser (``--help`` shows every default)."""
    fmt = argparse.ArgumentDefaultsHelpFormatter
    parser = _Parser(prog="ratenet", description="ratenet command line", formatter_class=fmt)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    demo = sub.add_parser("demo", help="run the toy rate → spiking bridge and write figures", formatter_class=fmt)
    demo.add_argument("--out", default="ratenet_demo", help="output folder for the PNG figures (created if missing)")
    demo.add_argument("--seed", type=_seed, default=0, help="random seed (integer >= 0)")
    demo.add_argument("--hh", action="store_true",
                      help="also measure the Hodgkin–Huxley tuning curve (a few seconds more)")
    return parser


def main(argv=None):
    """Entry point of ``ratenet``; returns the exit status (0 ok, 2 for any error)."""
    args = build_parser().parse_args(argv)
    try:
        return _demo(args)
    except (ValueError, TypeError, SimulationError, OSError) as err:
        print(f"ratenet {args.command}: error: {' '.join(str(err).split())}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
