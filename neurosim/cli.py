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
    from .lif import LIF
    from .tuning import tuning_curve

    model = LIF(tau_m=args.tau_m, tau_ref=args.tau_ref)
    J = np.linspace(0, 10.0 if args.jmax is None else args.jmax, args.points)
    analytic = model.rate(J)
    simulated = tuning_curve(model, J, T=1.0, dt=1e-3)
    curves = {"analytic G(J)": analytic, "simulated (dt = 1 ms)": simulated}
    return J, curves, "input current J (normalized, threshold 1)", {"J": J, "rate_analytic_hz": analytic, "rate_simulated_hz": simulated}


TUNING_MODELS = {"lif": tuning_lif}


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
    from .network_examples import EXAMPLES

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


COMMANDS = {"demo": (add_demo, run_demo), "tuning": (add_tuning, run_tuning), "network": (add_network, run_network)}


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
