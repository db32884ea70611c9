"""The ``neurosim`` command (also ``python -m neurosim``).

Each subcommand is a pair: ``add_<name>(subparsers)`` declares its options and
``run_<name>(args)`` does the work; ``COMMANDS`` lists them.
"""
import argparse
import pathlib
import sys

import numpy as np


def add_demo(sub):
    p = sub.add_parser("demo", help="run the main demo: figures (PNG) and a text summary")
    p.add_argument("--out", default="demo_out", help="output folder (default: demo_out)")


def run_demo(args):
    from .demo import run_demo as demo

    print(demo(args.out), end="")
    print(f"figures written to {pathlib.Path(args.out).resolve()}")


def add_tuning(sub):
    p = sub.add_parser("tuning", help="plot a tuning curve (analytic and simulated)")
    p.add_argument("--model", default="lif", choices=sorted(TUNING_MODELS), help="neuron model")
    p.add_argument("--tau-m", type=float, default=0.02, help="LIF membrane time constant (s)")
    p.add_argument("--tau-ref", type=float, default=0.002, help="LIF refractory period (s)")
    p.add_argument("--jmax", type=float, default=None, help="largest input (LIF: normalized; HH: uA/cm^2)")
    p.add_argument("--points", type=int, default=100, help="number of input values")
    p.add_argument("--out", default="tuning.png", help="output PNG file")
    p.add_argument("--csv", default=None, help="also write input,rate columns to this CSV file")


def tuning_lif(args):
    """Return (J, {label: rates}, xlabel, csv columns) for the LIF model."""
    from .neurons.lif import LIF
    from .neurons.tuning import tuning_curve

    model = LIF(tau_m=args.tau_m, tau_ref=args.tau_ref)
    J = np.linspace(0, 10.0 if args.jmax is None else args.jmax, args.points)
    analytic = model.rate(J)
    simulated = tuning_curve(model, J, T=1.0, dt=1e-3)
    curves = {"analytic G(J)": analytic, "simulated (dt = 1 ms)": simulated}
    return J, curves, "input current J (normalized, threshold 1)", {"J": J, "rate_analytic_hz": analytic, "rate_simulated_hz": simulated}


def tuning_hh(args):
    """Return (I, {label: rates}, xlabel, csv columns) for Hodgkin-Huxley, with a fitted LIF curve."""
    from .neurons.fit import fit_lif
    from .neurons.hh import HodgkinHuxley
    from .neurons.tuning import tuning_curve

    I = np.linspace(0, 50.0 if args.jmax is None else args.jmax, args.points)
    # RK4 at 0.025 ms is within 1e-5 relative of the reference (docs/hh.md); rates after the onset transient
    measured = tuning_curve(HodgkinHuxley(), I, T=0.6, dt=2.5e-5, t_start=0.2)
    curves = {"measured (HH, RK4)": measured}
    columns = {"I": I, "rate_hh_hz": measured}
    if np.count_nonzero(measured) >= 4:
        fit = fit_lif(I, measured)
        x = np.linspace(I.min(), I.max(), 400)
        label = f"fitted LIF (tau_m={fit.model.tau_m * 1e3:.3g} ms, tau_ref={fit.model.tau_ref * 1e3:.3g} ms)"
        curves[label] = (x, fit.rate(x))
        columns["rate_lif_fit_hz"] = fit.rate(I)
        print(f"fitted LIF: tau_m={fit.model.tau_m:.4g} s, tau_ref={fit.model.tau_ref:.4g} s, "
              f"J = {fit.gain:.4g} * I + {fit.bias:.4g}, rms error {fit.rms_error:.3g} Hz")
    return I, curves, "input current I (uA/cm^2)", columns


TUNING_MODELS = {"lif": tuning_lif, "hh": tuning_hh}


def run_tuning(args):
    from . import plotting

    J, curves, xlabel, columns = TUNING_MODELS[args.model](args)
    fig = plotting.plot_tuning_curves(J, curves, xlabel=xlabel, title=f"{args.model.upper()} tuning curve")
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")
    if args.csv:
        names = list(columns)
        np.savetxt(args.csv, np.column_stack([columns[k] for k in names]), delimiter=",", header=",".join(names), comments="")
        print(f"wrote {args.csv}")


def add_network(sub):
    p = sub.add_parser("network", help="run an example network; write a raster and rate histogram")
    p.add_argument("--example", default="cuba", choices=["cuba"], help="network to run (cuba: Vogels & Abbott 2005)")
    p.add_argument("--n", type=int, default=4000, help="number of neurons (in-degree stays 80)")
    p.add_argument("--T", type=float, default=1.0, help="simulated time (s)")
    p.add_argument("--seed", type=int, default=0, help="seed for connectivity and initial voltages")
    p.add_argument("--out", default="raster.png", help="output PNG file")
    p.add_argument("--no-progress", action="store_true", help="do not show progress")


def run_network(args):
    import time

    from . import plotting
    from .network.examples import EXAMPLES

    net, spikes = EXAMPLES[args.example](args.n, rng=args.seed)
    start = time.perf_counter()
    net.run(args.T, progress=not args.no_progress)
    wall = time.perf_counter() - start
    times, indices = spikes.data
    print(f"{args.example}: {args.n} neurons, {args.T:g} s in {wall:.2f} s wall, {times.size} spikes, "
          f"mean rate {times.size / (args.n * args.T):.2f} Hz")
    fig = plotting.plot_network_activity((times, indices), args.n, args.T, title=args.example.upper())
    fig.savefig(args.out, dpi=120)
    print(f"wrote {args.out}")


def add_hh(sub):
    p = sub.add_parser("hh", help="simulate one Hodgkin-Huxley neuron; plot V and the gates")
    p.add_argument("--current", type=float, default=10.0, help="constant input current (uA/cm^2)")
    p.add_argument("--duration", type=float, default=0.1, help="simulated time (s)")
    p.add_argument("--dt", type=float, default=1e-5, help="time step (s)")
    p.add_argument("--method", default="rk4", choices=["rk4", "exp_midpoint", "exp_ab2", "exp_euler"], help="integrator")
    p.add_argument("--out", default="hh_trace.png", help="output PNG file")


def run_hh(args):
    from . import plotting
    from .neurons.hh import HodgkinHuxley

    res = HodgkinHuxley().simulate(args.current, args.duration, dt=args.dt, method=args.method,
                                   record_v=True, record_gates=True)
    title = f"Hodgkin-Huxley, I = {args.current:g} uA/cm^2 ({args.method}, dt = {args.dt * 1e3:g} ms)"
    fig = plotting.plot_hh_trace(res.t, res.V, {"m": res.m, "h": res.h, "n": res.n}, title=title)
    fig.savefig(args.out, dpi=120)
    spikes = res.spike_times[0]
    print(f"{spikes.size} spikes" + (f", first at {spikes[0] * 1e3:.4f} ms" if spikes.size else ""))
    print(f"wrote {args.out}")


COMMANDS = {"demo": (add_demo, run_demo), "tuning": (add_tuning, run_tuning), "network": (add_network, run_network), "hh": (add_hh, run_hh)}


def build_parser():
    parser = argparse.ArgumentParser(prog="neurosim", description="Simulate neurons and plot what they do.")
    sub = parser.add_subparsers(dest="command", required=True)
    for add, _ in COMMANDS.values():
        add(sub)
    return parser


def main(argv=None):
    """Entry point of the ``neurosim`` command; returns the exit status."""
    import matplotlib

    matplotlib.use("Agg")  # files only; works without a display
    args = build_parser().parse_args(argv)
    try:
        COMMANDS[args.command][1](args)
    except (ValueError, TypeError) as err:
        print(f"neurosim {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
