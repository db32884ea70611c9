"""SimulationResult.rates() in O(spikes): time and extra memory for a large recorded result.

Builds a SpikeRecorder as a 1 s run of N neurons at dt = 1 ms would fill it
(default: 10^6 neurons, 75 M spikes, like a 75 Hz population), then times
``rates()`` and measures its peak extra memory with tracemalloc (numpy reports
its buffers to it), relative to the recorder's own spike storage (6 bytes/spike).

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/rates.py [--neurons 1000000] [--rate 75]
"""
import argparse
import time
import tracemalloc

import numpy as np

from neurosim.spikes import SimulationResult, SpikeRecorder


def build(n_neurons, rate, T=1.0, dt=1e-3, seed=0):
    rng = np.random.default_rng(seed)
    rec = SpikeRecorder(n_neurons, dt)
    steps = int(round(T / dt))
    per_step = int(round(n_neurons * rate * dt))
    for k in range(steps):
        idx = rng.integers(0, n_neurons, per_step, dtype=np.uint32)
        rec.record(k, idx, rng.random(per_step) * dt)
    return SimulationResult(rec, T)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--neurons", type=int, default=10**6)
    p.add_argument("--rate", type=float, default=75.0, help="mean rate (Hz) over 1 s")
    args = p.parse_args(argv)
    res = build(args.neurons, args.rate)
    storage = res.n_spikes * 6
    tracemalloc.start()
    start = time.perf_counter()
    rates = res.rates()
    wall = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"{res.n_spikes / 1e6:.1f} M spikes over {args.neurons} neurons (storage {storage / 1e6:.0f} MB)")
    print(f"rates(): {wall:.2f} s, peak extra memory {peak / 1e6:.0f} MB = {peak / storage:.2f} x spike storage "
          f"(target < 2 s, < 2 x); mean rate {rates.mean():.2f} Hz")


if __name__ == "__main__":
    main()
