"""XOR with a 2-4-1 network: the problem a single layer cannot solve.

    python examples/xor.py --out figures/

Writes xor_loss.png (loss curve) and xor_boundary.png (decision regions).
"""
import argparse
import os

import matplotlib

matplotlib.use("Agg")

import ratenet  # noqa: E402



class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The docstring as written, and every option's default."""

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=_HelpFormatter)
    ap.add_argument("--out", default="figures", help="folder for the PNG figures (created if missing)")
    ap.add_argument("--epochs", type=int, default=500, help="training epochs")
    ap.add_argument("--seed", type=int, default=0, help="seed (int >= 0) of the initial weights and batches")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)

    X, T = ratenet.xor()
    model = ratenet.Sequential([ratenet.Dense(2, 4, rng=args.seed), ratenet.Tanh(),
                                ratenet.Dense(4, 1, rng=args.seed + 1), ratenet.Sigmoid()])
    history = model.fit(X, T, loss=ratenet.BinaryCrossEntropy(), optimizer=ratenet.Adam(lr=0.05),
                        epochs=args.epochs, batch_size=4, rng=args.seed, verbose=0)
    Y = model.forward(X)
    for x, t, y in zip(X, T, Y):
        print(f"x = {x}  target {t[0]:.0f}  output {y[0]:.3f}")
    print(f"final loss {history.loss[-1]:.4f}, accuracy {history.accuracy[-1]:.2f}")

    ratenet.plotting.plot_history(history, metrics=["loss"], log=True, title="XOR").savefig(
        os.path.join(args.out, "xor_loss.png"), dpi=100)
    ratenet.plotting.plot_decision_boundary(model, X, T, title="XOR decision regions").savefig(
        os.path.join(args.out, "xor_boundary.png"), dpi=100)
    print(f"figures written to {args.out}/")


if __name__ == "__main__":
    main()
