"""Accuracy of each Hodgkin-Huxley integrator against the solve_ivp reference, per dt.

For each method and step: the error of the first 10 spike times at I = 10 uA/cm^2
(ms) and the largest relative rate error over I in {7, 10, 20, 50} uA/cm^2
(rates from inter-spike intervals after 0.1 s of a 0.5 s run). Prints a
markdown table (docs/hh.md). Not a timing: needs no quiet machine. A step that
leaves HH's valid range raises SimulationError; its row says so.

    python benchmarks/hh_accuracy.py            # the full table (about a minute)
    python benchmarks/hh_accuracy.py --quick    # without the steps below 0.01 ms (same figures for the rest)
"""
import argparse
import warnings

import numpy as np

from neurosim import SimulationError, isi_rate
from neurosim.neurons.hh import DT_WARN, HodgkinHuxley

RUNS = {
    "rk4": (1e-5, 2e-5, 2.5e-5, 5e-5, 6.25e-5, 1e-4),
    "exp_ab2": (5e-6, 1e-5, 2e-5, 5e-5, 1e-4),
    "exp_midpoint": (5e-6, 1e-5, 2e-5, 5e-5, 1e-4),
    "exp_euler": (1e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4),
}


QUICK_MIN_DT = 1e-5  # --quick skips the (slow) smaller steps


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=f"skip steps below {QUICK_MIN_DT * 1e3:g} ms")
    parser.add_argument("--methods", nargs="+", default=list(RUNS), choices=list(RUNS), help="integrators to run")
    args = parser.parse_args(argv)
    model = HodgkinHuxley()
    I = np.array([7.0, 10.0, 20.0, 50.0])
    T, t_start = 0.5, 0.1
    ref = model.reference(I, T, rtol=1e-9, atol=1e-9)
    ref_rates = isi_rate(ref, t_start=t_start)
    print("| method | dt (ms) | spike-time error, first 10 at 10 uA/cm^2 (ms) | max rate error (relative) | warns |")
    print("|---|---|---|---|---|")
    for method in args.methods:
        for dt in RUNS[method]:
            if args.quick and dt < QUICK_MIN_DT:
                continue
            warns = "yes" if dt > DT_WARN[method] else ""
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    res = model.simulate(I, T, dt=dt, method=method)
            except SimulationError:
                print(f"| {method} | {dt * 1e3:g} | raises SimulationError | - | {warns} |", flush=True)
                continue
            s, r = res.spike_times[1], ref[1]
            if len(s) < 10:
                st = "diverges"
            else:
                st = f"{np.max(np.abs(s[:10] - r[:10])) * 1e3:.2g}"
            rel = np.max(np.abs(res.rates(t_start) - ref_rates) / ref_rates)
            print(f"| {method} | {dt * 1e3:g} | {st} | {rel:.2g} | {warns} |", flush=True)


if __name__ == "__main__":
    main()
