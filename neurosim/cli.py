"""The ``neurosim`` command (also ``python -m neurosim``).

Each subcommand is a pair: ``add_<name>(subparsers)`` declares its options and
``run_<name>(args)`` does the work; ``COMMANDS`` lists them. Output paths are
checked (and their folders created) before any computation; every error prints
one line on stderr and exits with status 2.
"""
import argparse
import os
import pathlib
import sys

import numpy as np

from .errors import SimulationError

FIGURE_FORMATS = ("png", "pdf", "svg", "jpg", "jpeg", "eps", "ps", "tif", "tiff", "webp")


class CLIError(ValueError):
    """A bad command-line value; printed as one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, status 2 (argparse prints usage too)
        self.exit(2, f"{self.prog}: error: {message}\n")


def output_path(path, kind="figure", default_ext=".png"):
    """The file that will actually be written for ``--out path``: checked, its folder created.

    A figure path without an extension gets ``.png`` (what matplotlib writes), so
    ``--out somedir`` writes and reports ``somedir.png``.
    """
    p = pathlib.Path(os.path.expanduser(str(path)))
    if str(path) == "" or p.name in ("", ".", ".."):
        raise CLIError(f"--out must name a file, got {str(path)!r}")
    if kind == "figure":
        if p.suffix == "":
            p = p.with_name(p.name + default_ext)
        if p.suffix.lstrip(".").lower() not in FIGURE_FORMATS:
            raise CLIError(f"figure file {str(p)!r} must end in one of {', '.join('.' + f for f in FIGURE_FORMATS)}")
    if p.is_dir():
        raise CLIError(f"{str(p)!r} is a folder; give a file name")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CLIError(f"cannot create the folder {str(p.parent)!r}: {err.strerror or err}") from err
    if not os.access(p.parent, os.W_OK) or (p.exists() and not os.access(p, os.W_OK)):
        raise CLIError(f"cannot write {str(p)!r}: permission denied")
    return p


def output_folder(path):
    """Check and create an output folder before computing."""
    p = pathlib.Path(os.path.expanduser(str(path)))
    if str(path) == "":
        raise CLIError("--out must name a folder")
    if p.exists() and not p.is_dir():
        raise CLIError(f"{str(p)!r} exists and is not a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CLIError(f"cannot create the folder {str(p)!r}: {err.strerror or err}") from err
    if not os.access(p, os.W_OK):
        raise CLIError(f"cannot write into {str(p)!r}: permission denied")
    return p


def _positive(name, value, allow_zero=False):
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise CLIError(f"{name} must be a finite number {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    return value


def _at_least(name, value, low):
    if value < low:
        raise CLIError(f"{name} must be an integer >= {low}, got {value}")
    return value


def write_csv(path, columns):
    """Columns (dict name -> 1-D array) as CSV with a header line, written atomically."""
    from ._io import atomic_write

    names = list(columns)
    with atomic_write(path, "w") as f:
        np.savetxt(f, np.column_stack([columns[k] for k in names]), delimiter=",", header=",".join(names), comments="")


def add_demo(sub):
    p = sub.add_parser("demo", help="run the main demo: figures (PNG) and a text summary",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", default="demo_out", help="output folder")


def run_demo(args):
    from .demo import run_demo as demo

    out = output_folder(args.out)
    print(demo(out), end="")
    print(f"figures written to {out.resolve()}")


def add_tuning(sub):
    p = sub.add_parser("tuning", help="plot a tuning curve (analytic and simulated)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--model", default="lif", choices=sorted(TUNING_MODELS), help="neuron model")
    p.add_argument("--tau-m", type=float, default=0.02, help="LIF membrane time constant (s)")
    p.add_argument("--tau-ref", type=float, default=0.002, help="LIF refractory period (s)")
    p.add_argument("--jmax", type=float, default=10.0, help="LIF: largest normalized input J")
    p.add_argument("--imax", type=float, default=50.0, help="HH: largest input current (uA/cm^2)")
    p.add_argument("--points", type=int, default=100, help="number of input values")
    p.add_argument("--out", default="tuning.png", help="output figure (.png unless another extension is given)")
    p.add_argument("--csv", default=None, help="also write input,rate columns to this CSV file")


def tuning_lif(args):
    """Return (J, {label: rates}, xlabel, csv columns) for the LIF model."""
    from .neurons.lif import LIF
    from .neurons.tuning import tuning_curve

    model = LIF(tau_m=args.tau_m, tau_ref=args.tau_ref)
    J = np.linspace(0, _positive("--jmax", args.jmax), args.points)
    analytic = model.rate(J)
    simulated = tuning_curve(model, J, T=1.0, dt=1e-3)
    curves = {"analytic G(J)": analytic, "simulated (dt = 1 ms)": simulated}
    return J, curves, "input current J (normalized, threshold 1)", {"J": J, "rate_analytic_hz": analytic, "rate_simulated_hz": simulated}


def tuning_hh(args):
    """Return (I, {label: rates}, xlabel, csv columns) for Hodgkin-Huxley, with a fitted LIF curve."""
    from .neurons.fit import fit_lif
    from .neurons.hh import HodgkinHuxley
    from .neurons.tuning import tuning_curve

    I = np.linspace(0, _positive("--imax", args.imax), args.points)
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

    _at_least("--points", args.points, 2)
    out = output_path(args.out)
    csv = output_path(args.csv, kind="csv") if args.csv else None
    J, curves, xlabel, columns = TUNING_MODELS[args.model](args)
    fig = plotting.plot_tuning_curves(J, curves, xlabel=xlabel, title=f"{args.model.upper()} tuning curve")
    print(f"wrote {plotting.save_figure(fig, out)}")
    if csv:
        write_csv(csv, columns)
        print(f"wrote {csv}")


def add_network(sub):
    p = sub.add_parser("network", help="run an example network; write a raster and rate histogram",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--example", default="cuba", choices=["cuba"], help="network to run (cuba: Vogels & Abbott 2005)")
    p.add_argument("--n", type=int, default=4000, help="number of neurons (in-degree stays 80)")
    p.add_argument("--T", type=float, default=1.0, help="simulated time (s)")
    p.add_argument("--seed", type=int, default=0, help="seed (>= 0) for connectivity and initial voltages")
    p.add_argument("--out", default="raster.png", help="output figure (.png unless another extension is given)")
    p.add_argument("--no-progress", action="store_true", help="do not show progress")


def run_network(args):
    import time

    from . import plotting
    from .network.examples import EXAMPLES

    _at_least("--n", args.n, 80)  # the example keeps 80 inputs per neuron
    _at_least("--seed", args.seed, 0)
    _positive("--T", args.T)
    out = output_path(args.out)
    net, spikes = EXAMPLES[args.example](args.n, rng=args.seed)
    start = time.perf_counter()
    net.run(args.T, progress=not args.no_progress)
    wall = time.perf_counter() - start
    times, indices = spikes.data
    print(f"{args.example}: {args.n} neurons, {args.T:g} s in {wall:.2f} s wall, {times.size} spikes, "
          f"mean rate {times.size / (args.n * args.T):.2f} Hz")
    fig = plotting.plot_network_activity((times, indices), args.n, args.T, title=args.example.upper())
    print(f"wrote {plotting.save_figure(fig, out)}")


def add_hh(sub):
    p = sub.add_parser("hh", help="simulate one Hodgkin-Huxley neuron; plot V and the gates",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--current", type=float, default=10.0, help="constant input current (uA/cm^2)")
    p.add_argument("--duration", type=float, default=0.1, help="simulated time (s)")
    p.add_argument("--dt", type=float, default=1e-5, help="time step (s)")
    p.add_argument("--method", default="rk4", choices=["rk4", "exp_midpoint", "exp_ab2", "exp_euler"], help="integrator")
    p.add_argument("--out", default="hh_trace.png", help="output figure (.png unless another extension is given)")


def run_hh(args):
    from . import plotting
    from .neurons.hh import HodgkinHuxley

    out = output_path(args.out)
    res = HodgkinHuxley().simulate(args.current, args.duration, dt=args.dt, method=args.method,
                                   record_v=True, record_gates=True)
    title = f"Hodgkin-Huxley, I = {args.current:g} uA/cm^2 ({args.method}, dt = {args.dt * 1e3:g} ms)"
    fig = plotting.plot_hh_trace(res.t, res.v, {"m": res.m, "h": res.h, "n": res.n}, title=title)
    spikes = res.spike_times[0]
    print(f"{spikes.size} spikes" + (f", first at {spikes[0] * 1e3:.4f} ms" if spikes.size else ""))
    print(f"wrote {plotting.save_figure(fig, out)}")


COMMANDS = {"demo": (add_demo, run_demo), "tuning": (add_tuning, run_tuning), "network": (add_network, run_network), "hh": (add_hh, run_hh)}


def build_parser():
    parser = _Parser(prog="neurosim", description="Simulate neurons and plot what they do.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add, _ in COMMANDS.values():
        add(sub)
    return parser


def main(argv=None):
    """Entry point of the ``neurosim`` command; returns the exit status."""
    import matplotlib

    matplotlib.use("Agg")  # files only; works without a display
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # argparse: --help (0) or a usage error (2, message already printed)
        return exit_.code if isinstance(exit_.code, int) else 2
    import warnings

    def one_line(message, category, *_args, **_kwargs):
        print(f"neurosim {args.command}: warning: {' '.join(str(message).split())}", file=sys.stderr)

    try:
        with warnings.catch_warnings():
            warnings.showwarning = one_line
            COMMANDS[args.command][1](args)
    except (ValueError, TypeError, SimulationError, OSError) as err:
        message = " ".join(str(err).split())  # one line
        print(f"neurosim {args.command}: error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"neurosim {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
