"""Noisy LIF population: neurosim (exact OU step + Brownian-bridge crossings) vs Brian2
(``sigma*sqrt(2/tau)*xi``, Euler-Maruyama, its only method for this equation).

Same work: N neurons, 1 s, dt = 0.1 ms, J spread over the fluctuation-driven range, sigma = 0.1.
Prints wall time, the ratio, and each simulator's rate error against neurosim.siegert_rate.

    PYTHONPATH=. OMP_NUM_THREADS=1 python benchmarks/noise.py [--n 10000]

(in a virtualenv with Brian2; without it only neurosim runs). ``--n`` is the exact number of
neurons: the 11 input levels get ``n // 11`` or ``n // 11 + 1`` neurons each.
"""
import argparse
import os
import time

import numpy as np

import neurosim

TAU_M, TAU_REF, SIGMA = 0.02, 0.002, 0.1


def rate_error(times, idx, J, T, t_start=0.1):
    counts = np.bincount(idx[times >= t_start], minlength=J.size) / (T - t_start)
    groups = np.unique(J)
    measured = np.array([counts[J == g].mean() for g in groups])
    expected = neurosim.siegert_rate(groups, SIGMA, TAU_M, TAU_REF)
    ok = expected > 2
    return np.max(np.abs(measured[ok] / expected[ok] - 1))


def run_neurosim(J, T, dt, backend):
    """``LIF.simulate`` with noise on one backend (NEUROSIM_BACKEND=numpy forces the numpy step)."""
    old = os.environ.get("NEUROSIM_BACKEND")
    os.environ["NEUROSIM_BACKEND"] = backend
    try:
        start, cpu = time.perf_counter(), time.process_time()
        res = neurosim.LIF(TAU_M, TAU_REF).simulate(J, T, dt=dt, noise=SIGMA, rng=0, v0="uniform")
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        if old is None:
            del os.environ["NEUROSIM_BACKEND"]
        else:
            os.environ["NEUROSIM_BACKEND"] = old
    return wall, cpu, res.events()


def run_draws(J, T, dt):
    """Only the random numbers neurosim's run draws (one normal and one uniform per neuron and step here), drawn
    by numpy into one reused buffer as the compiled run draws them: the part of its time no kernel can remove."""
    state = neurosim.LIFState(neurosim.LIF(TAU_M, TAU_REF), J.size, dt, noise=SIGMA, rng=0)
    steps, ds = round(T / dt), state.draw_steps
    kz, ku = state.draws_per_step
    z, u = np.empty((ds, kz, J.size)), np.empty((ds, ku, J.size))
    start, cpu = time.perf_counter(), time.process_time()
    for _ in range(-(-steps // ds)):
        state.draw_blocks(z, u)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return wall, cpu, (np.zeros(0), np.zeros(0, dtype=np.int64))


def run_network(J, T, dt, backend):
    """The same neurons as a noisy ``Network`` population (bias J, a spike probe); build excluded."""
    net = neurosim.Network(dt=dt, rng=0, backend=backend)
    pop = net.add_population(neurosim.LIF(TAU_M, TAU_REF), J.size, bias=J, v0="uniform")
    net.add_noise(pop, SIGMA)
    probe = net.probe(pop, "spikes")
    net.run(dt)  # build (and compile or load the cache) outside the timing
    start, cpu = time.perf_counter(), time.process_time()
    net.run(T - dt)
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    times, idx = probe.data
    return wall * T / (T - dt), cpu * T / (T - dt), (times, idx)


def run_brian2(J, T, dt, target):
    import brian2 as b2

    b2.prefs.codegen.target = target
    b2.start_scope()
    b2.defaultclock.dt = dt * b2.second
    eqs = "dv/dt = (J - v) / tau + sigma * sqrt(2 / tau) * xi : 1 (unless refractory)\nJ : 1\ntau : second\nsigma : 1"
    group = b2.NeuronGroup(J.size, eqs, threshold="v > 1", reset="v = 0", refractory=TAU_REF * b2.second,
                           method="euler")
    group.J, group.tau, group.sigma = J, TAU_M * b2.second, SIGMA
    group.v = "rand()"
    monitor = b2.SpikeMonitor(group)
    net = b2.Network(group, monitor)
    net.run(dt * b2.second, namespace={})  # compile outside the timing
    start, cpu = time.perf_counter(), time.process_time()
    net.run(T * b2.second, namespace={})
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return wall, cpu, (np.asarray(monitor.t / b2.second) - dt, np.asarray(monitor.i))


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    p.add_argument("--n", type=int, default=10000, help="number of neurons (>= 11: one group per input level)")
    p.add_argument("--T", type=float, default=1.0, help="simulated time (s)")
    p.add_argument("--dt", type=float, default=1e-4, help="time step (s)")
    p.add_argument("--network", action="store_true", help="also time the neurons as a noisy Network population")
    p.add_argument("--brian2", nargs="*", default=["cython"], choices=["cython", "numpy"],
                   help="Brian2 code generation targets to time")
    args = p.parse_args(argv)
    if args.n < 11:
        p.error(f"--n must be >= 11 (one group per input level), got {args.n}")
    levels = np.linspace(0.8, 1.3, 11)
    J = levels[np.arange(args.n) * levels.size // args.n]  # exactly n neurons, groups differ by at most one
    rows = []
    try:
        import numba  # noqa: F401
        start = time.perf_counter()
        run_neurosim(J[:11], 10 * args.dt, args.dt, "auto")  # compile (or load numba's on-disk cache)
        print(f"neurosim numba build (first call in this process): {time.perf_counter() - start:.2f} s")
        rows.append(("neurosim (numba)",) + run_neurosim(J, args.T, args.dt, "auto"))
    except ImportError:
        print("numba not installed: pip install numba")
    rows.append(("neurosim (numpy)",) + run_neurosim(J, args.T, args.dt, "numpy"))
    if args.network:
        for backend in ("numba", "numpy") if len(rows) > 1 else ("numpy",):
            rows.append((f"network ({backend})",) + run_network(J, args.T, args.dt, backend))
    draws = run_draws(J, args.T, args.dt)
    try:
        for target in args.brian2:
            rows.append((f"brian2 ({target})",) + run_brian2(J, args.T, args.dt, target))
    except ImportError:
        print("brian2 not installed: pip install brian2")
    base, base_cpu = rows[0][1], rows[0][2]
    print(f"{J.size} noisy LIF neurons, {args.T:g} s at dt = {args.dt * 1e3:g} ms, sigma = {SIGMA}; wall and CPU "
          f"seconds (on a loaded machine the wall time also counts time spent waiting for a core)")
    for name, wall, cpu, (times, idx) in rows:
        print(f"{name:18s} {wall:7.2f} s  ({wall / base:5.2f}x {rows[0][0]})  CPU {cpu:7.2f} s  ({cpu / base_cpu:5.2f}x)"
              f"  max rate error vs Siegert {rate_error(times, idx, J, args.T):.3f}")
    print(f"{'numpy draws alone':18s} {draws[0]:7.2f} s  ({draws[0] / base:5.2f}x {rows[0][0]})  CPU {draws[1]:7.2f} s  "
          f"({draws[1] / base_cpu:5.2f}x)  (the normals and uniforms neurosim's run draws, nothing else)")


if __name__ == "__main__":
    main()
