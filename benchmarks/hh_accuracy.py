"""Accuracy of each Hodgkin-Huxley integrator against the solve_ivp reference, per dt.

For each method and step: the error of the first 10 spike times at I = 10 uA/cm^2
(ms) and the largest relative rate error over I in {7, 10, 20, 50} uA/cm^2
(rates from inter-spike intervals after 0.1 s of a 0.5 s run). Prints a
markdown table (docs/hh.md). Not a timing: needs no quiet machine.

    python benchmarks/hh_accuracy.py
"""
import warnings

import numpy as np

from neurosim import isi_rate
from neurosim.neurons.hh import DT_WARN, HodgkinHuxley

RUNS = {
    "rk4": (1e-5, 2e-5, 2.5e-5, 5e-5, 6.25e-5, 1e-4),
    "exp_ab2": (5e-6, 1e-5, 2e-5, 5e-5, 1e-4),
    "exp_midpoint": (5e-6, 1e-5, 2e-5, 5e-5, 1e-4),
    "exp_euler": (1e-6, 5e-6, 1e-5, 2e-5, 5e-5, 1e-4),
}


def main():
    model = HodgkinHuxley()
    I = np.array([7.0, 10.0, 20.0, 50.0])
    T, t_start = 0.5, 0.1
    ref = model.reference(I, T, rtol=1e-9, atol=1e-9)
    ref_rates = isi_rate(ref, t_start=t_start)
    print("| method | dt (ms) | spike-time error, first 10 at 10 uA/cm^2 (ms) | max rate error (relative) | warns |")
    print("|---|---|---|---|---|")
    for method, dts in RUNS.items():
        for dt in dts:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                with np.errstate(all="ignore"):
                    res = model.simulate(I, T, dt=dt, method=method)
            s, r = res.spike_times[1], ref[1]
            if len(s) < 10:
                st = "diverges"
            else:
                st = f"{np.max(np.abs(s[:10] - r[:10])) * 1e3:.2g}"
            rel = np.max(np.abs(res.rates(t_start) - ref_rates) / ref_rates)
            print(f"| {method} | {dt * 1e3:g} | {st} | {rel:.2g} | {'yes' if dt > DT_WARN[method] else ''} |", flush=True)


if __name__ == "__main__":
    main()
