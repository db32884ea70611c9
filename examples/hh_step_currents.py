"""The notes' experiment: a Hodgkin-Huxley neuron driven by a current that steps
from negative, through zero, to slightly and then strongly positive values.

Negative input hyperpolarizes, and its release gives a rebound (anode-break) spike;
zero input then settles back to -65 mV, a small positive step gives a subthreshold
damped oscillation, and a strong one gives sustained spiking.

    python examples/hh_step_currents.py --out figures/
"""
import argparse
import pathlib

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "),
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--out", default=".", help="folder for the PNG")
    parser.add_argument("--levels", type=float, nargs="+", default=[-5.0, 0.0, 1.5, 20.0],
                        help="current levels in uA/cm^2, one per step")
    parser.add_argument("--step", type=float, default=0.08, help="duration of each step (s)")
    args = parser.parse_args(argv)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from neurosim import HodgkinHuxley, TimedArray

    dt = 1e-5
    I = TimedArray(args.levels, dt=args.step)  # level k holds on [k step, (k + 1) step)
    res = HodgkinHuxley().simulate(I, len(args.levels) * args.step, dt=dt, record_v=True)
    fig, (ax_v, ax_i) = plt.subplots(2, 1, figsize=(8, 5), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax_v.plot(res.t * 1e3, res.v[:, 0], lw=1, color="k")
    ax_v.set_ylabel("V (mV)")
    ax_v.set_title("Hodgkin-Huxley response to step currents")
    ax_i.plot(res.t * 1e3, I(res.t - dt), color="tab:red")  # the value held during each step
    ax_i.set_ylabel("I (uA/cm^2)")
    ax_i.set_xlabel("time (ms)")
    spikes = res.spike_times[0]
    for k, level in enumerate(args.levels):
        t0, t1 = k * args.step, (k + 1) * args.step
        n = np.count_nonzero((spikes >= t0) & (spikes < t1))
        ax_v.text((t0 + t1) / 2 * 1e3, 45, f"{level:g}: {n} spikes", ha="center", fontsize=8)
        print(f"I = {level:6.2f} uA/cm^2 for {t0 * 1e3:.0f}-{t1 * 1e3:.0f} ms: {n} spikes, "
              f"V in [{res.v[int(t0 / dt):int(t1 / dt), 0].min():.1f}, {res.v[int(t0 / dt):int(t1 / dt), 0].max():.1f}] mV")
    ax_v.set_ylim(-90, 55)
    fig.tight_layout()
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from neurosim.plotting import save_figure

    save_figure(fig, out / "hh_step_currents.png")
    print(f"wrote {out / 'hh_step_currents.png'}")


if __name__ == "__main__":
    main()
