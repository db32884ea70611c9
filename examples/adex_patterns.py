"""Naud et al. (2008)'s AdEx firing patterns, and Izhikevich (2003)'s cell classes, under step currents.

All patterns run as one population with per-neuron parameters (one row of NAUD_2008 per neuron),
each at its own step current from t = 0. Writes adex_patterns.png (V and w of every pattern)
and izhikevich_presets.png to --out.

    python examples/adex_patterns.py --out figures/
"""
import argparse
import pathlib

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "),
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", default=".", help="folder for the PNGs")
    parser.add_argument("--T", type=float, default=0.5, help="simulated time (s)")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from neurosim import AdEx, Izhikevich
    from neurosim.neurons.adex import NAUD_2008
    from neurosim.neurons.izhikevich import IZHIKEVICH_2003
    from neurosim.plotting import save_figure

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    # ---- AdEx: one population, one pattern per neuron ---------------------------------------------
    names = list(NAUD_2008)
    keys = ["C", "g_L", "E_L", "V_T", "Delta_T", "a", "tau_w", "b", "V_reset"]
    model = AdEx(**{k: np.array([NAUD_2008[n][k] for n in names]) for k in keys})
    I = np.array([NAUD_2008[n]["I"] for n in names])
    res = model.simulate(I, args.T, record=["v", "w"])
    t_spk, i_spk = res.events()
    fig, axes = plt.subplots(len(names), 2, figsize=(10, 1.6 * len(names)), sharex=True)
    for j, name in enumerate(names):
        v = res.v[:, j] * 1e3
        spikes = t_spk[i_spk == j]
        ax_v, ax_w = axes[j]
        ax_v.plot(res.t * 1e3, v, lw=0.8, color="k")
        ax_v.vlines(spikes * 1e3, model.V_peak[j] * 1e3, 0.0, lw=0.8, color="k")  # draw the cut spikes
        ax_v.set_ylabel("V (mV)")
        ax_v.set_title(f"{name.replace('_', ' ')}, I = {I[j] * 1e12:g} pA: {spikes.size} spikes", fontsize=9)
        ax_w.plot(res.t * 1e3, res.w[:, j] * 1e12, lw=0.8, color="tab:blue")
        ax_w.set_ylabel("w (pA)")
        print(f"{name:25s} I = {I[j] * 1e12:5.0f} pA: {spikes.size:3d} spikes, first ISIs (ms) "
              f"{np.round(np.diff(spikes[:6]) * 1e3, 1)}")
    axes[-1, 0].set_xlabel("time (ms)")
    axes[-1, 1].set_xlabel("time (ms)")
    fig.suptitle("AdEx firing patterns (Naud et al. 2008)")
    fig.tight_layout()
    save_figure(fig, out / "adex_patterns.png")
    print(f"wrote {out / 'adex_patterns.png'}")

    # ---- Izhikevich presets at I = 10 -------------------------------------------------------------------
    presets = list(IZHIKEVICH_2003)
    a, b, c, d = (np.array(col) for col in zip(*(IZHIKEVICH_2003[n] for n in presets)))
    res = Izhikevich(a, b, c, d).simulate(np.full(len(presets), 10.0), min(args.T, 0.3), record=["v"])
    t_spk, i_spk = res.events()
    fig, axes = plt.subplots(len(presets), 1, figsize=(8, 1.5 * len(presets)), sharex=True)
    for j, name in enumerate(presets):
        spikes = t_spk[i_spk == j]
        axes[j].plot(res.t * 1e3, res.v[:, j], lw=0.8, color="k")
        axes[j].vlines(spikes * 1e3, c[j], 30.0, lw=0.8, color="k")
        axes[j].set_ylabel(f"{name}\nv (mV)")
        print(f"Izhikevich {name:4s} I = 10: {spikes.size:3d} spikes")
    axes[-1].set_xlabel("time (ms)")
    fig.suptitle("Izhikevich (2003) cell classes, I = 10")
    fig.tight_layout()
    save_figure(fig, out / "izhikevich_presets.png")
    print(f"wrote {out / 'izhikevich_presets.png'}")


if __name__ == "__main__":
    main()
