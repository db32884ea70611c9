"""Automatic differentiation with ratenet.autodiff, in three steps.

1. f = sin(x) + x·y, evaluated and differentiated (checked against the
   closed form ∂f/∂x = cos x + y, ∂f/∂y = x).
2. Gradient descent where every gradient comes from backward().
3. A 2-8-1 network on noisy XOR trained purely through autodiff: weights
   are Vars, the loss is written with autodiff operations, and the update
   runs under no_grad().

Usage::

    python examples/autodiff_demo.py --out demo_out

Writes ``autodiff_demo.png`` into the output directory (a few seconds).
"""
import argparse
import os

import numpy as np

from ratenet import autodiff as ad
from ratenet.data import xor


def sin_plus_product(x0=2.0, y0=3.0):
    """Step 1: f = sin(x) + x·y and its gradient."""
    x, y = ad.Var(x0, name="x"), ad.Var(y0, name="y")
    f = ad.sin(x) + x * y
    f.backward()
    print(f"f({x0}, {y0}) = {f.item():.6f}")
    print(f"df/dx = {x.grad:.6f}   (cos x + y = {np.cos(x0) + y0:.6f})")
    print(f"df/dy = {y.grad:.6f}   (x = {x0:.6f})")
    return f


def rosenbrock(x, y):
    """A curved valley, minimum at (1, 1); written once, used for Vars and arrays."""
    return (1 - x) ** 2 + 10 * (y - x * x) ** 2


def gradient_descent(lr=0.01, steps=2000, start=(-1.2, 1.5)):
    """Step 2: plain gradient descent, with the gradient from autodiff."""
    p = ad.Var(np.array(start), name="p")
    path = [p.value.copy()]
    for _ in range(steps):
        p.zero_grad()
        f = rosenbrock(p[0], p[1])
        f.backward()
        with ad.no_grad():           # the update is not part of the graph
            p.value -= lr * p.grad
        path.append(p.value.copy())
    print(f"gradient descent: {steps} steps from {start} -> ({p.value[0]:.4f}, {p.value[1]:.4f}), "
          f"f = {rosenbrock(*p.value):.2e}")
    return np.array(path)


def mlp(X, W1, b1, W2, b2):
    """The 2-8-1 network: tanh hidden layer, logit output (batch rows, W is (post, pre))."""
    return ad.tanh(X @ W1.T + b1) @ W2.T + b2


def binary_cross_entropy_from_logits(Z, T):
    """Mean of −[t log σ(z) + (1−t) log(1−σ(z))] = mean of softplus(z) − t·z (stable)."""
    return ad.mean(ad.softplus(Z) - T * Z)


def train_xor(epochs=1500, lr=0.5, hidden=8, rng=0):
    """Step 3: a small network trained purely through autodiff."""
    rng = np.random.default_rng(rng)
    X, T = xor(n=200, noise=0.15, rng=rng, dtype=np.float64)
    params = [ad.Var(rng.normal(0, 1.0, (hidden, 2)), name="W1"), ad.Var(np.zeros(hidden), name="b1"),
              ad.Var(rng.normal(0, 1.0, (1, hidden)), name="W2"), ad.Var(np.zeros(1), name="b2")]
    x, t = ad.Var(X, requires_grad=False), ad.Var(T, requires_grad=False)
    losses = []
    for _ in range(epochs):
        loss = binary_cross_entropy_from_logits(mlp(x, *params), t)
        ad.zero_grad(loss)           # clear every gradient in the graph
        loss.backward()
        with ad.no_grad():
            for p in params:
                p.value -= lr * p.grad
        losses.append(loss.item())
    with ad.no_grad():
        accuracy = np.mean((mlp(x, *params).value > 0) == (T > 0.5))
    print(f"XOR network: loss {losses[0]:.3f} -> {losses[-1]:.4f}, training accuracy {accuracy:.1%}")
    return X, T, params, np.array(losses)


def plot(path, X, T, params, losses, out_dir):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, 2, figsize=(10, 8.5))

    # (a) f(x, y=3) and df/dx from autodiff against the closed form
    ax = axes[0, 0]
    xs = np.linspace(-2 * np.pi, 2 * np.pi, 200)
    x = ad.Var(xs)
    f = ad.sin(x) + x * 3.0
    f.backward(np.ones_like(xs))     # seed 1 for every x: elementwise derivatives
    ax.plot(xs, f.value, label="f = sin x + x·y  (y = 3)")
    ax.plot(xs, x.grad, lw=3, alpha=0.5, label="∂f/∂x by autodiff")
    ax.plot(xs, np.cos(xs) + 3, "k--", lw=1, label="cos x + y")
    ax.set(xlabel="x", title="(a) f and its derivative")
    ax.legend(fontsize=8)

    # (b) gradient-descent path on the Rosenbrock valley
    ax = axes[0, 1]
    gx, gy = np.meshgrid(np.linspace(-1.6, 1.6, 200), np.linspace(-0.6, 2.0, 200))
    ax.contour(gx, gy, np.log10(rosenbrock(gx, gy) + 1e-3), levels=20, cmap="viridis")
    ax.plot(path[:, 0], path[:, 1], "r.-", ms=2, lw=1, label="gradient descent")
    ax.plot(1, 1, "k*", ms=12, label="minimum")
    ax.set(xlabel="x", ylabel="y", title="(b) gradient descent, gradients by backward()")
    ax.legend(fontsize=8)

    # (c) training loss of the XOR network
    ax = axes[1, 0]
    ax.semilogy(losses)
    ax.set(xlabel="epoch (full batch)", ylabel="cross-entropy", title="(c) XOR network, trained by autodiff")

    # (d) its decision function
    ax = axes[1, 1]
    gx, gy = np.meshgrid(np.linspace(-0.6, 1.6, 150), np.linspace(-0.6, 1.6, 150))
    with ad.no_grad():
        Z = mlp(ad.Var(np.column_stack([gx.ravel(), gy.ravel()])), *params).value
    prob = 1 / (1 + np.exp(-Z.reshape(gx.shape)))
    ax.contourf(gx, gy, prob, levels=np.linspace(0, 1, 11), cmap="RdBu_r", alpha=0.6)
    ax.scatter(X[:, 0], X[:, 1], c=T[:, 0], cmap="RdBu_r", vmin=0, vmax=1, edgecolors="k", linewidths=0.4, s=22)
    ax.set(xlabel="x₁", ylabel="x₂", title="(d) P(class 1) of the trained network")

    fig.tight_layout()
    os.makedirs(out_dir, exist_ok=True)
    path_png = os.path.join(out_dir, "autodiff_demo.png")
    fig.savefig(path_png, dpi=110)
    plt.close(fig)
    print(f"wrote {path_png}")
    return path_png


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", default="demo_out", help="directory for the PNG (default: demo_out)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the XOR data and weights")
    args = parser.parse_args(argv)
    sin_plus_product()
    path = gradient_descent()
    X, T, params, losses = train_xor(rng=args.seed)
    return plot(path, X, T, params, losses, args.out)


if __name__ == "__main__":
    main()
