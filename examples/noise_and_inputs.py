"""Figures for docs/noise-and-inputs.md: noisy f-I curves against Siegert's formula, the membrane
std at any dt, and a network driven by a time-varying Poisson rate read out with the rate probe.

    python examples/noise_and_inputs.py --out docs/img
"""
import argparse
import pathlib

import numpy as np


def fi_figure(out, plt):
    from neurosim import LIF, siegert_rate
    from neurosim.plotting import save_figure

    tau_m, tau_ref, dt = 0.02, 0.002, 1e-4
    model = LIF(tau_m, tau_ref)
    J = np.linspace(0.6, 1.6, 21)
    x = np.linspace(0.6, 1.6, 400)
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    ax.plot(x, model.rate(x), "k-", lw=1.5, label="noiseless G(J)")
    lines = []
    for sigma, color in ((0.1, "tab:blue"), (0.2, "tab:red")):
        n = 1000
        res = model.simulate(np.repeat(J, n), 1.0, dt=dt, noise=sigma, rng=0, v0="uniform")
        times, idx = res.events()
        keep = times >= 0.1
        rate = np.bincount(idx[keep] // n, minlength=J.size) / (n * 0.9)
        theory = siegert_rate(x, sigma, tau_m, tau_ref)
        ax.plot(x, theory, "-", color=color, lw=1.2, label=f"Siegert, sigma = {sigma}")
        ax.plot(J, rate, "o", color=color, ms=4, label=f"simulated, sigma = {sigma} (dt = 0.1 ms)")
        err = np.abs(rate / siegert_rate(J, sigma, tau_m, tau_ref) - 1)
        lines.append(f"sigma = {sigma}: max relative deviation from Siegert {err[rate > 2].max():.3f} "
                     f"over J with rate > 2 Hz ({n} neurons x 0.9 s per point)")
    ax.set_xlabel("mean input J (normalized, threshold 1)")
    ax.set_ylabel("rate (Hz)")
    ax.set_title("LIF with membrane noise: f-I curve vs Siegert/Ricciardi")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out / "noise_fi_siegert.png")
    return lines


def std_figure(out, plt):
    from neurosim import LIF
    from neurosim.plotting import save_figure

    tau, sigma = 0.02, 0.1
    dts = np.array([1e-4, 3e-4, 1e-3, 3e-3, 1e-2])
    measured = []
    for dt in dts:
        n = 20000
        v0 = sigma * np.random.default_rng(1).standard_normal(n)
        res = LIF(tau).simulate(np.zeros(n), 20 * dt, dt=dt, noise=sigma, rng=2, v0=v0, record_v=True)
        measured.append(res.v.std(axis=1).mean())
    a = dts / tau
    euler = sigma * np.sqrt(2 * a / (2 * a - a**2))  # Euler-Maruyama's stationary std
    fig, ax = plt.subplots(figsize=(6, 3.8))
    ax.semilogx(dts * 1e3, np.full(dts.size, sigma), "k--", label="target sigma")
    ax.semilogx(dts * 1e3, euler, "s-", color="tab:gray", label="Euler-Maruyama (analytic)")
    ax.semilogx(dts * 1e3, measured, "o-", color="tab:blue", label="neurosim (exact OU step), measured")
    ax.set_xlabel("dt (ms)")
    ax.set_ylabel("stationary std of v")
    ax.set_title("Free membrane std, tau_m = 20 ms, sigma = 0.1")
    ax.legend(fontsize=8)
    fig.tight_layout()
    save_figure(fig, out / "noise_std_vs_dt.png")
    return [f"std at dt = {d * 1e3:g} ms: {m:.4f} (Euler-Maruyama {e:.4f})" for d, m, e in zip(dts, measured, euler)]


def network_figure(out, plt):
    from neurosim import LIF, Network, PSCFilter, TimedArray
    from neurosim.plotting import save_figure

    net = Network(dt=1e-4, rng=3)
    rate = TimedArray([5.0, 40.0, 10.0, 60.0], dt=0.1)  # Hz, four 100 ms steps
    src = net.add_poisson(400, rate)
    pop = net.add_population(LIF(0.02, 0.002), 200, bias=0.5)
    net.add_noise(pop, 0.1)
    # J = 0.5 + 400 * 6e-5 * rate: 0.62 at 5 Hz (fluctuation-driven), 2.0 at 60 Hz
    net.connect(src, pop, np.full((200, 400), 6e-5), synapse=PSCFilter(0.005))
    spikes = net.probe(pop, "spikes")
    pop_rate = net.probe(pop, "rate", bin=0.005, synapse=PSCFilter(0.01))
    in_rate = net.probe(src, "rate", bin=0.005)
    net.run(0.4)
    fig, (ax0, ax1) = plt.subplots(2, 1, figsize=(7, 5), sharex=True)
    times, idx = spikes.data
    ax0.plot(times, idx, "|", ms=2, color="k")
    ax0.set_ylabel("neuron")
    ax0.set_title("200 noisy LIF neurons driven by Poisson inputs with a TimedArray rate")
    ax1.step(in_rate.t, in_rate.data, where="mid", color="tab:gray", lw=0.8, label="input rate probe (Hz per source)")
    ax1.plot(pop_rate.t, pop_rate.data, color="tab:blue", label="population rate probe, smoothed (Hz per neuron)")
    ax1.set_ylim(bottom=0)
    ax1.plot(np.arange(0, 0.4, 1e-3), rate(np.arange(0, 0.4, 1e-3)), "r--", lw=1, label="TimedArray input rate")
    ax1.set_xlabel("time (s)")
    ax1.set_ylabel("Hz")
    ax1.legend(fontsize=7)
    fig.tight_layout()
    save_figure(fig, out / "network_rate_probe.png")
    return [f"network: {times.size} spikes in 0.4 s"]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/img", help="folder for the PNGs")
    args = parser.parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for make in (fi_figure, std_figure, network_figure):
        for line in make(out, plt):
            print(line)
        plt.close("all")
    print(f"figures written to {out}")


if __name__ == "__main__":
    main()
