"""Brunel (2000) with delta synapses, in the published setting and the slow synchronous-irregular regime:
raster of 100 neurons and the population rate in 1 ms bins (docs/models.md, README).

    python examples/brunel.py --out docs/img [--order 2500] [--T 0.5]

``neurosim.network.examples.brunel`` builds NEST's ``brunel_delta_nest.py`` network: 5 * order LIF
neurons, Delta synapses (J = 0.1 mV, inhibition -g J, delay 1.5 ms), fixed in-degrees, and each
neuron's own Poisson drive (``add_poisson(..., independent_per_target=True)``).
"""
import argparse
import pathlib

import numpy as np

SETTINGS = (("published: g = 5, eta = 2", 5.0, 2.0), ("slow SI: g = 4.5, eta = 0.9", 4.5, 0.9))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default="docs/img")
    ap.add_argument("--order", type=int, default=2500)
    ap.add_argument("--T", type=float, default=0.5)
    ap.add_argument("--seed", type=int, default=1)
    a = ap.parse_args()
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from neurosim import cv, from_events
    from neurosim.network.examples import brunel
    from neurosim.plotting import save_figure

    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    n = 5 * a.order
    fig, axes = plt.subplots(2, 2, figsize=(10, 5.5), sharex=True, gridspec_kw={"height_ratios": [2, 1]})
    for col, (title, g, eta) in enumerate(SETTINGS):
        net, spikes = brunel(order=a.order, g=g, eta=eta, rng=a.seed)
        net.run(a.T)
        times, idx = spikes.data
        keep = times >= 0.1
        rate = keep.sum() / (n * (a.T - 0.1))
        mean_cv = np.nanmean(cv(from_events(times[keep], idx[keep], n)))
        shown = idx < 100
        axes[0, col].plot(times[shown] * 1e3, idx[shown], "k.", ms=1.5)
        axes[0, col].set_title(f"{title}\nrate {rate:.1f} Hz, CV {mean_cv:.2f} (t > 100 ms)", fontsize=9)
        axes[0, col].set_ylabel("neuron")
        bins = np.arange(0.0, a.T + 1e-9, 1e-3)
        counts = np.histogram(times, bins=bins)[0]
        axes[1, col].plot(bins[:-1] * 1e3, counts / (n * 1e-3), "k-", lw=0.7)
        axes[1, col].set_xlabel("time (ms)")
        axes[1, col].set_ylabel("rate (Hz)")
        print(f"{title}: {rate:.2f} Hz, mean CV {mean_cv:.3f}")
    fig.suptitle(f"Brunel 2000, delta synapses, {n} neurons (neurosim, dt = 0.1 ms)", fontsize=10)
    fig.tight_layout()
    save_figure(fig, out / "brunel.png")
    print(f"wrote {out / 'brunel.png'}")


if __name__ == "__main__":
    main()
