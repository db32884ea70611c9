"""Handwritten digits (scikit-learn's 8x8 set) with a 64-128-10 network.

Needs scikit-learn (an optional extra: pip install scikit-learn); exits with a
message otherwise. Writes digits_history.png and digits_samples.png.

    python examples/digits.py --out figures/
"""
import argparse
import os
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import ratenet  # noqa: E402



class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The docstring as written, and every option's default."""

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=_HelpFormatter)
    ap.add_argument("--out", default="figures", help="folder for the PNG figures (created if missing)")
    ap.add_argument("--epochs", type=int, default=60, help="training epochs")
    ap.add_argument("--seed", type=int, default=0, help="seed (int >= 0) of the initial weights, validation split and batches")
    args = ap.parse_args(argv)
    try:
        Xtr, Xte, Ttr, Tte = ratenet.load_digits_split()
    except ImportError as e:
        sys.exit(f"examples/digits.py: {e}")
    os.makedirs(args.out, exist_ok=True)

    model = ratenet.Sequential([ratenet.Dense(64, 128, rng=args.seed), ratenet.ReLU(),
                                ratenet.Dense(128, 10, rng=args.seed + 1), ratenet.Softmax()])
    history = model.fit(Xtr, Ttr, loss=ratenet.CategoricalCrossEntropy(), optimizer=ratenet.Adam(lr=1e-3),
                        epochs=args.epochs, batch_size=32, validation_split=0.1, rng=args.seed,
                        callbacks=[ratenet.EarlyStopping(patience=15)], verbose=1)
    pred = model.forward(Xte).argmax(axis=1)
    print(f"test accuracy {100 * np.mean(pred == Tte):.2f} % on {len(Tte)} digits")

    ratenet.plotting.plot_history(history, title="digits").savefig(
        os.path.join(args.out, "digits_history.png"), dpi=100)
    fig, axes = plt.subplots(2, 8, figsize=(10, 3))
    for ax, x, t, p in zip(axes.ravel(), Xte, Tte, pred):
        ax.imshow(x.reshape(8, 8), cmap="gray_r")
        ax.set_title(f"{p}" if p == t else f"{p} (true {t})", color="k" if p == t else "r", fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "digits_samples.png"), dpi=100)
    print(f"figures written to {args.out}/")


if __name__ == "__main__":
    main()
