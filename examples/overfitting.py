"""Overfitting and its cures on a small synthetic dose -> blood-sugar regression (ratenet.data.dose_sugar).

A 1-64-64-1 tanh network is trained on 12 noisy points and tested on 300:
no regularization, L2 weight decay, dropout, and the same network with 10x
more data. Prints train/test MSE and writes overfitting_fits.png (the fitted
curves) and overfitting_curves.png (train vs test loss per epoch).

    python examples/overfitting.py --out figures/
"""
import argparse
import os

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import ratenet  # noqa: E402



class _HelpFormatter(argparse.RawDescriptionHelpFormatter, argparse.ArgumentDefaultsHelpFormatter):
    """The docstring as written, and every option's default."""

def network(seed, dropout=0.0):
    layers = [ratenet.Dense(1, 64, rng=seed), ratenet.Tanh()]
    layers += [ratenet.Dropout(dropout, rng=seed + 10)] if dropout else []
    layers += [ratenet.Dense(64, 64, rng=seed + 1), ratenet.Tanh()]
    layers += [ratenet.Dropout(dropout, rng=seed + 11)] if dropout else []
    return ratenet.Sequential(layers + [ratenet.Dense(64, 1, rng=seed + 2)])


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=_HelpFormatter)
    ap.add_argument("--out", default="figures", help="folder for the PNG figures (created if missing)")
    ap.add_argument("--epochs", type=int, default=1500, help="training epochs of each model")
    ap.add_argument("--seed", type=int, default=0, help="seed (int >= 0) of the data, initial weights and dropout")
    args = ap.parse_args(argv)
    os.makedirs(args.out, exist_ok=True)

    (Xs, Ts), (Xte, Tte) = ratenet.dose_sugar(n_train=12, n_test=300, noise=0.5, rng=args.seed)
    (Xb, Tb), _ = ratenet.dose_sugar(n_train=120, n_test=1, noise=0.5, rng=args.seed + 1)
    # Standardize inputs and targets with training statistics only.
    xs, ts = ratenet.Standardizer().fit(Xs), ratenet.Standardizer().fit(Ts)
    cases = {
        "no regularization": (network(args.seed), Xs, Ts, 0.0),
        "weight decay 1e-3": (network(args.seed), Xs, Ts, 1e-3),
        "dropout 0.2": (network(args.seed, dropout=0.2), Xs, Ts, 0.0),
        "10x more data": (network(args.seed), Xb, Tb, 0.0),
    }
    grid = np.linspace(0, 1, 200, dtype=np.float32)[:, None]
    fig_fit, axes = plt.subplots(1, len(cases), figsize=(4 * len(cases), 3.4), sharey=True)
    fig_curves, ax_c = plt.subplots(figsize=(6, 4))
    for ax, (name, (model, X, T, wd)) in zip(axes, cases.items()):
        h = model.fit(xs.transform(X), ts.transform(T), loss=ratenet.MSE(),
                      optimizer=ratenet.Adam(lr=3e-3, weight_decay=wd), epochs=args.epochs,
                      batch_size=len(X) if len(X) < 32 else 32, rng=args.seed, verbose=0,
                      validation_data=(xs.transform(Xte), ts.transform(Tte)))
        pred = ts.inverse_transform(model.forward(xs.transform(grid)))
        test_mse = float(np.mean((ts.inverse_transform(model.forward(xs.transform(Xte))) - Tte) ** 2))
        train_mse = float(np.mean((ts.inverse_transform(model.forward(xs.transform(X))) - T) ** 2))
        print(f"{name:<20} train MSE {train_mse:6.3f}   test MSE {test_mse:6.3f}  (mmol/L)^2")
        ax.plot(Xte, Tte, ".", color="0.7", ms=3, label="test")
        ax.plot(X, T, "o", color="C3", ms=4, label="train")
        ax.plot(grid, ratenet.data.dose_sugar_curve(grid), "k:", label="truth")
        ax.plot(grid, pred, "C0", label="network")
        ax.set_title(f"{name}\ntest MSE {test_mse:.2f}")
        ax.set_xlabel("dose")
        line, = ax_c.plot(h.loss, label=f"{name} (train)")
        ax_c.plot(h.val_loss, "--", color=line.get_color(), label=f"{name} (test)")
    axes[0].set_ylabel("blood sugar (mmol/L)")
    axes[0].legend(fontsize="small")
    ax_c.set_yscale("log")
    ax_c.set_xlabel("epoch")
    ax_c.set_ylabel("MSE (standardized)")
    ax_c.legend(fontsize="x-small")
    for fig, fname in ((fig_fit, "overfitting_fits.png"), (fig_curves, "overfitting_curves.png")):
        fig.tight_layout()
        fig.savefig(os.path.join(args.out, fname), dpi=100)
    print(f"figures written to {args.out}/")


if __name__ == "__main__":
    main()
