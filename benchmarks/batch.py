"""Batch benchmark: 16 trials of a 1,000-neuron recurrent LIF network as one batched run vs 16 separate runs.

800 excitatory and 200 inhibitory LIF neurons (tau_m = 20 ms, tau_ref = 2 ms),
recurrent connection probability 0.1 (sparse weights, or dense with --dense),
200 Poisson inputs at 20 Hz, exponential synapses (5 ms / 10 ms), one bias per
trial (so trials differ in input as well as in their random streams),
T = 1 s, dt = 0.1 ms. Trial k of the batch uses the seed
``Network.trial_seeds(seed, 16)[k]``; the separate runs are built with those
seeds, so both must give the same spikes. Prints the wall times of both, the
speed-up, and the largest difference between them.

Run single-threaded from the repository root::

    PYTHONPATH=. OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 python benchmarks/batch.py
"""
import argparse
import time

import numpy as np
import scipy.sparse as sp

from neurosim import LIF, Network, PSCFilter

N, N_EXC, N_IN = 1000, 800, 200


def weights(dense):
    rng = np.random.default_rng(123)
    mask = rng.random((N, N)) < 0.1
    W = np.where(mask, rng.uniform(0, 1, (N, N)), 0.0)
    W[:, :N_EXC] *= 0.0005  # charge per spike (normalized): ~0.4 mean excitatory input at 20 Hz
    W[:, N_EXC:] *= -0.003
    W_in = np.where(rng.random((N, N_IN)) < 0.2, rng.uniform(0, 0.0015, (N, N_IN)), 0.0)
    conv = np.asarray if dense else sp.csr_matrix
    return conv(W[:, :N_EXC]), conv(W[:, N_EXC:]), conv(W_in)


def build(rng, bias, batch, W):
    W_e, W_i, W_in = W
    net = Network(dt=1e-4, rng=rng, batch=batch)
    inp = net.add_poisson(N_IN, rate=20.0)
    exc = net.add_population(LIF(0.02, 0.002), N_EXC, bias=bias[..., :N_EXC], v0="uniform")
    inh = net.add_population(LIF(0.02, 0.002), N - N_EXC, bias=bias[..., N_EXC:], v0="uniform")
    for post, sl in ((exc, slice(0, N_EXC)), (inh, slice(N_EXC, N))):
        net.connect(inp, post, W_in[sl], synapse=PSCFilter(0.005))
        net.connect(exc, post, W_e[sl], synapse=PSCFilter(0.005))
        net.connect(inh, post, W_i[sl], synapse=PSCFilter(0.010))
    return net, [net.probe(exc), net.probe(inh)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=16)
    parser.add_argument("--T", type=float, default=1.0, help="duration in seconds")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dense", action="store_true", help="dense weight matrices")
    args = parser.parse_args()
    B, W = args.trials, weights(args.dense)
    bias = np.linspace(0.5, 0.7, B)[:, None] * np.ones(N)

    t0 = time.perf_counter()
    net, probes = build(args.seed, bias, B, W)
    net.run(args.T)
    batched = time.perf_counter() - t0
    t0 = time.perf_counter()
    singles = []
    for k, seed in enumerate(Network.trial_seeds(args.seed, B)):
        one, p1 = build(seed, bias[k], None, W)
        one.run(args.T)
        singles.append([p.data for p in p1])
    separate = time.perf_counter() - t0

    max_dt, same_indices, n_spikes = 0.0, True, 0
    for j, probe in enumerate(probes):
        times, indices, trials = probe.data
        for k in range(B):
            t_k, i_k = times[trials == k], indices[trials == k]
            ts, is_ = singles[k][j]
            n_spikes += ts.size
            if t_k.size != ts.size or not np.array_equal(i_k, is_):
                same_indices = False
                continue
            if ts.size:
                max_dt = max(max_dt, float(np.abs(t_k - ts).max()))
    rate = n_spikes / (B * N * args.T)
    print(f"{B} trials of {N} LIF neurons ({'dense' if args.dense else 'sparse'} weights), T = {args.T} s, dt = 0.1 ms, "
          f"mean rate {rate:.2f} Hz")
    print(f"  batch={B}:           {batched:8.3f} s (build + run)")
    print(f"  {B} separate runs:    {separate:8.3f} s (build + run)")
    print(f"  speed-up:           {separate / batched:8.2f}x")
    print(f"  same spikes (neurons, order): {same_indices};  max |spike time difference|: {max_dt:.3g} s")


if __name__ == "__main__":
    main()
