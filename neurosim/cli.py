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


def output_path(path, kind="figure", default_ext=".png", flag="--out"):
    """The file that will actually be written for ``--out path``: checked, its folder created.

    A figure path without an extension gets ``.png`` (what matplotlib writes), so
    ``--out somedir`` writes and reports ``somedir.png``.
    """
    p = pathlib.Path(os.path.expanduser(str(path)))
    if str(path) == "" or p.name in ("", ".", ".."):
        raise CLIError(f"{flag} must name a file, got {str(path)!r}")
    if kind == "figure":
        if p.suffix == "":
            p = p.with_name(p.name + default_ext)
        if p.suffix.lstrip(".").lower() not in FIGURE_FORMATS:
            raise CLIError(f"{flag} {str(p)!r} must end in one of {', '.join('.' + f for f in FIGURE_FORMATS)}")
    if p.is_dir():
        raise CLIError(f"{flag} {str(p)!r} is a folder; give a file name")
    try:
        p.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CLIError(f"{flag}: cannot create the folder {str(p.parent)!r}: {err.strerror or err}") from None
    _check_writable(p.parent, f"cannot write {flag} {str(p)!r}")
    if p.exists() and not os.access(p, os.W_OK):
        raise CLIError(f"cannot write {flag} {str(p)!r}: permission denied")
    return p


def _check_writable(folder, what):
    """Create and remove a temporary file in ``folder`` (what atomic_write will do), before any work."""
    import tempfile

    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise CLIError(f"{what}: {err.strerror or err}") from None


def output_folder(path):
    """Check and create an output folder before computing."""
    p = pathlib.Path(os.path.expanduser(str(path)))
    if str(path) == "":
        raise CLIError("--out must name a folder")
    if p.exists() and not p.is_dir():
        raise CLIError(f"--out {str(p)!r} exists and is not a folder")
    try:
        p.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise CLIError(f"--out {str(p)!r}: cannot create the folder ({err.strerror or err})") from None
    _check_writable(p, f"cannot write into --out {str(p)!r}")
    return p


# Size limits of the CLI (the Python API has its own, raised with max_steps= etc.): a command line
# should never run out of memory or hours; use the Python API for larger runs.
MAX_POINTS = {"lif": 100_000, "hh": 2_000}  # tuning inputs (LIF: 1000 steps each; HH: 24000 RK4 steps each)
MAX_NEURONS = 1_000_000                     # network --n (80 synapses each)
MAX_NEURON_SECONDS = 1e6                    # network --n x --T (spikes recorded ~ 20 per neuron-second)
NETWORK_DT = 1e-4                           # network step (s): --T must be a whole number of steps
MAX_HH_STEPS = 10**7                        # hh --duration / --dt (5 traces recorded and plotted)


def _positive(name, value, allow_zero=False, high=None):
    if not np.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        raise CLIError(f"{name} must be a finite number {'>= 0' if allow_zero else '> 0'}, got {value!r}")
    if high is not None and value > high:
        raise CLIError(f"{name} must be <= {high:g}, got {value!r}")
    return value


def _at_least(name, value, low, high=None):
    if value < low or (high is not None and value > high):
        allowed = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise CLIError(f"{name} must be an integer {allowed}, got {value}" +
                       (" (the CLI's limit; use the Python API for larger runs)" if high is not None and value > high else ""))
    return value


def _limit(what, estimate, limit, advice):
    if estimate > limit:
        raise CLIError(f"{what} = {estimate:.3g}, more than the CLI's limit of {limit:.3g}; {advice}")


def _whole_steps(flag, T, step_name, dt):
    steps = T / dt
    if steps < 0.5 or abs(steps - round(steps)) > 1e-9 * max(steps, 1.0):
        suggestion = max(round(steps), 1) * dt
        raise CLIError(f"{flag} must be a whole number of {step_name} steps ({dt:g} s), got {flag} {T:g} "
                       f"({steps:.6g} steps); e.g. {flag} {suggestion:.6g}")


def _add_seed(p, what):
    p.add_argument("--seed", type=int, default=0, help=f"seed (integer >= 0) for {what}")


def _given(args, *names):
    """The options among ``names`` (dests) set on the command line (their default is None)."""
    return ["--" + n.replace("_", "-") for n in names if getattr(args, n) is not None]


def write_csv(path, columns):
    """Columns (dict name -> 1-D array) as CSV with a header line, written atomically."""
    from .io import atomic_write

    names = list(columns)
    with atomic_write(path, "w") as f:
        np.savetxt(f, np.column_stack([columns[k] for k in names]), delimiter=",", header=",".join(names), comments="")


def add_demo(sub):
    p = sub.add_parser("demo", help="run the main demo: figures (PNG) and a text summary",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--out", default="demo_out", help="output folder")
    _add_seed(p, "the Poisson train and the network")


def run_demo(args):
    from .demo import run_demo as demo

    _at_least("--seed", args.seed, 0)
    out = output_folder(args.out)
    print(demo(out, seed=args.seed), end="")
    print(f"figures written to {out.resolve()}")


# per-model options of `tuning`: default None so that an option given for the other model is refused
TUNING_DEFAULTS = {"lif": {"tau_m": 0.02, "tau_ref": 0.002, "jmax": 10.0}, "hh": {"imax": 50.0}}


def add_tuning(sub):
    p = sub.add_parser("tuning", help="plot a tuning curve (analytic and simulated)",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    lif = TUNING_DEFAULTS["lif"]
    p.add_argument("--model", default="lif", choices=sorted(TUNING_MODELS), help="neuron model")
    p.add_argument("--tau-m", type=float, default=argparse.SUPPRESS,
                   help=f"LIF only: membrane time constant in s (default: {lif['tau_m']})")
    p.add_argument("--tau-ref", type=float, default=argparse.SUPPRESS,
                   help=f"LIF only: refractory period in s (default: {lif['tau_ref']})")
    p.add_argument("--jmax", type=float, default=argparse.SUPPRESS,
                   help=f"LIF only: largest normalized input J (default: {lif['jmax']})")
    p.add_argument("--imax", type=float, default=argparse.SUPPRESS,
                   help=f"HH only: largest input current in uA/cm^2 (default: {TUNING_DEFAULTS['hh']['imax']})")
    p.add_argument("--points", type=int, default=100,
                   help=f"number of input values (LIF: at most {MAX_POINTS['lif']}, HH: at most {MAX_POINTS['hh']})")
    p.add_argument("--out", default="tuning.png", help="output figure (.png unless another extension is given)")
    p.add_argument("--csv", default=None, help="also write input,rate columns to this CSV file")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress line on stderr (default: only when stderr is a terminal)")


def _tuning_options(args):
    """Refuse options of the other model; fill in this model's defaults."""
    other = [k for m, d in TUNING_DEFAULTS.items() if m != args.model for k in d if k in vars(args)]
    if other:
        raise CLIError(f"{', '.join('--' + k.replace('_', '-') for k in other)} "
                       f"{'does' if len(other) == 1 else 'do'} not apply to --model {args.model}")
    for k, v in TUNING_DEFAULTS[args.model].items():
        setattr(args, k, getattr(args, k, v))


def tuning_lif(args):
    """Return (J, {label: rates}, xlabel, csv columns) for the LIF model."""
    from .neurons.lif import LIF
    from .neurons.tuning import tuning_curve

    model = LIF(tau_m=args.tau_m, tau_ref=args.tau_ref)
    J = np.linspace(0, args.jmax, args.points)
    analytic = model.rate(J)
    simulated = tuning_curve(model, J, T=1.0, dt=1e-3)
    curves = {"analytic G(J)": analytic, "simulated (dt = 1 ms)": simulated}
    return J, curves, "input current J (normalized, threshold 1)", {"J": J, "rate_analytic_hz": analytic, "rate_simulated_hz": simulated}


def tuning_hh(args):
    """Return (I, {label: rates}, xlabel, csv columns) for Hodgkin-Huxley, with a fitted LIF curve."""
    from .neurons.fit import fit_lif
    from .neurons.hh import HodgkinHuxley
    from .neurons.tuning import tuning_curve

    I = np.linspace(0, args.imax, args.points)
    # RK4 at 0.025 ms is within 1e-5 relative of the reference (docs/hh.md); rates after the onset transient
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    try:
        measured = tuning_curve(HodgkinHuxley(), I, T=0.6, dt=2.5e-5, t_start=0.2, progress=progress)
    except SimulationError as err:  # the only way out of range here is a too large current
        raise SimulationError(f"--imax {args.imax:g} uA/cm^2 drives Hodgkin-Huxley out of its valid range at "
                              f"this command's RK4 step of 0.025 ms ({str(err).split(' with ')[0]}); "
                              f"use a smaller --imax") from None
    curves = {"measured (HH, RK4)": measured}
    columns = {"I": I, "rate_hh_hz": measured}
    if np.count_nonzero(measured) >= 4:
        fit = fit_lif(I, measured, progress=progress)  # warns when a fitted time constant runs to its limit
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

    _tuning_options(args)
    _at_least("--points", args.points, 2, MAX_POINTS[args.model])
    if args.model == "lif":
        _positive("--tau-m", args.tau_m)
        _positive("--tau-ref", args.tau_ref, allow_zero=True)
        _positive("--jmax", args.jmax)
    else:
        _positive("--imax", args.imax)
    out = output_path(args.out)
    csv = output_path(args.csv, kind="csv", flag="--csv") if args.csv else None
    J, curves, xlabel, columns = TUNING_MODELS[args.model](args)
    fig = plotting.plot_tuning_curves(J, curves, xlabel=xlabel, title=f"{args.model.upper()} tuning curve")
    print(f"wrote {_save(fig, out)}")
    if csv:
        write_csv(csv, columns)
        print(f"wrote {csv}")


def add_network(sub):
    p = sub.add_parser("network", help="run an example network; write a raster and rate histogram",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--example", default="cuba", choices=["cuba", "coba"],
                   help="network to run (cuba, coba: Vogels & Abbott 2005, Brette et al. 2007 benchmarks 2 and 1)")
    p.add_argument("--n", type=int, default=4000, help=f"number of neurons (in-degree stays 80), at most {MAX_NEURONS}")
    p.add_argument("--T", type=float, default=1.0, help=f"simulated time (s), a multiple of the {NETWORK_DT * 1e3:g} ms step; --n x --T at most "
                   f"{MAX_NEURON_SECONDS:g}")
    _add_seed(p, "connectivity and initial voltages")
    p.add_argument("--out", default="raster.png", help="output figure (.png unless another extension is given)")
    p.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                   help="show a progress line on stderr (default: only when stderr is a terminal)")


def run_network(args):
    import time

    from . import plotting
    from .network.examples import EXAMPLES

    _at_least("--n", args.n, 80, MAX_NEURONS)  # the example keeps 80 inputs per neuron
    _at_least("--seed", args.seed, 0)
    _positive("--T", args.T)
    _whole_steps("--T", args.T, "the network's step", NETWORK_DT)
    _limit("--n x --T (neuron-seconds)", args.n * args.T, MAX_NEURON_SECONDS,
           "use a smaller --n or --T, or the Python API for larger runs")
    out = output_path(args.out)
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    net, spikes = EXAMPLES[args.example](args.n, rng=args.seed, dt=NETWORK_DT)
    start = time.perf_counter()
    net.run(args.T, progress=progress)
    wall = time.perf_counter() - start
    times, indices = spikes.data
    print(f"{args.example}: {args.n} neurons, {args.T:g} s in {wall:.2f} s wall, {times.size} spikes, "
          f"mean rate {times.size / (args.n * args.T):.2f} Hz")
    fig = plotting.plot_network_activity((times, indices), args.n, args.T, title=args.example.upper())
    print(f"wrote {_save(fig, out)}")


def add_hh(sub):
    p = sub.add_parser("hh", help="simulate one Hodgkin-Huxley neuron; plot V and the gates",
                       formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--current", type=float, default=10.0, help="constant input current (uA/cm^2)")
    p.add_argument("--duration", type=float, default=0.1,
                   help=f"simulated time (s); --duration / --dt at most {MAX_HH_STEPS:g} steps")
    p.add_argument("--dt", type=float, default=1e-5, help="time step (s)")
    p.add_argument("--method", default="rk4", choices=["rk4", "exp_midpoint", "exp_ab2", "exp_euler"], help="integrator")
    p.add_argument("--out", default="hh_trace.png", help="output figure (.png unless another extension is given)")


def run_hh(args):
    from . import plotting
    from .neurons.hh import HodgkinHuxley

    if not np.isfinite(args.current):
        raise CLIError(f"--current must be a finite number (uA/cm^2), got {args.current!r}")
    _positive("--duration", args.duration)
    _positive("--dt", args.dt)
    if args.dt > args.duration:
        raise CLIError(f"--dt ({args.dt:g} s) must not exceed --duration ({args.duration:g} s)")
    _limit("--duration / --dt (steps)", args.duration / args.dt, MAX_HH_STEPS,
           "use a shorter --duration or a larger --dt")
    _whole_steps("--duration", args.duration, "--dt", args.dt)
    out = output_path(args.out)
    try:
        res = HodgkinHuxley().simulate(args.current, args.duration, dt=args.dt, method=args.method,
                                       record_v=True, record_gates=True, max_steps=MAX_HH_STEPS + 1)
    except SimulationError as err:  # name the CLI's flags, not the API's parameters
        raise SimulationError(_flags(str(err))) from None
    title = f"Hodgkin-Huxley, I = {args.current:g} uA/cm^2 ({args.method}, dt = {args.dt * 1e3:g} ms)"
    fig = plotting.plot_hh_trace(res.t, res.v, {"m": res.m, "h": res.h, "n": res.n}, title=title)
    spikes = res.spike_times[0]
    print(f"{spikes.size} spikes" + (f", first at {spikes[0] * 1e3:.4f} ms" if spikes.size else ""))
    print(f"wrote {_save(fig, out)}")


COMMANDS = {"demo": (add_demo, run_demo), "tuning": (add_tuning, run_tuning), "network": (add_network, run_network), "hh": (add_hh, run_hh)}


def build_parser():
    from . import __version__

    parser = _Parser(prog="neurosim", description="Simulate neurons and plot what they do.")
    parser.add_argument("--version", action="version", version=f"neurosim {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    for add, _ in COMMANDS.values():
        add(sub)
    return parser


def _save(fig, path):
    """Write the figure, close it (main() may run many times in one process), return the path."""
    import matplotlib.pyplot as plt

    from . import plotting

    try:
        return plotting.save_figure(fig, path)
    finally:
        plt.close(fig)


def _flags(message):
    """An HH error message in terms of the ``hh`` command's flags."""
    import re

    message = re.sub(r"\bmethod='(\w+)'", r"--method \1", message)
    message = re.sub(r"\bdt=", "--dt ", message)
    message = re.sub(r"\bsmaller dt\b", "smaller --dt", message)
    return message.replace("smaller input current", "smaller --current")


def _one_line(text):
    return " ".join(str(text).split())


def main(argv=None):
    """Entry point of the ``neurosim`` command; returns the exit status.

    Warnings raised during the run are printed (one line each, on stderr) only if
    the command succeeds: an error is exactly one line.
    """
    import warnings

    import matplotlib

    matplotlib.use("Agg")  # files only; works without a display
    try:
        args = build_parser().parse_args(argv)
    except SystemExit as exit_:  # argparse: --help (0) or a usage error (2, message already printed)
        return exit_.code if isinstance(exit_.code, int) else 2
    try:
        with warnings.catch_warnings(record=True) as caught:
            COMMANDS[args.command][1](args)
    except (ValueError, TypeError, SimulationError, OSError) as err:
        print(f"neurosim {args.command}: error: {_one_line(err)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"neurosim {args.command}: interrupted", file=sys.stderr)
        return 130
    for w in caught:
        print(f"neurosim {args.command}: warning: {_one_line(w.message)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
