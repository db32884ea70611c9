"""Side-by-side timing of this tree against another git revision (default: the start of this round).

Each case runs in a fresh subprocess per measurement, alternating the two trees (A = this tree,
B = the reference revision checked out into a temporary git worktree), one thread each, so both see the
same machine load. It prints the median time of each and the ratio A/B (< 1: this tree is faster).

    PYTHONPATH=. python benchmarks/compare_main.py --ref 4e0b29a --repeats 5
    PYTHONPATH=. python benchmarks/compare_main.py --cases cuba_4000 hh_1000

The setup of each case (building the network, the first call) is excluded; only the timed part counts.
"""
import argparse
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile

ROOT = pathlib.Path(__file__).resolve().parents[1]
ROUND_START = "4e0b29a"  # main when round 3 began

# name -> (setup, timed): Python source run with the tree's packages first on sys.path
CASES = {
    "cuba_4000": ("from neurosim.network.examples import cuba\n"
                  "net = cuba(4000, rng=1)[0]\nnet.build()\n",
                  "net.run(0.5)\n"),
    "cuba_4000_precise": ("from neurosim.network.examples import cuba\n"
                          "net = cuba(4000, rng=1)[0]\n"
                          "for c in net.connections:\n    c.delay = 1e-3  # precise timing needs delays >= dt\n"
                          "net.timing = 'precise'\nnet.build()\n",
                          "net.run(0.2)\n"),
    "lif_population_1e5": ("import numpy as np, neurosim\n"
                           "model = neurosim.LIF(0.02, 0.002)\nJ = np.linspace(0, 5, 100000)\n",
                           "model.simulate(J, T=0.5, dt=1e-3)\n"),
    "lif_network_dt01": ("import numpy as np, neurosim\n"
                         "net = neurosim.Network(dt=1e-4, rng=0)\n"
                         "pop = net.add_population(neurosim.LIF(0.02, 0.002), 100000, bias=np.linspace(0, 3, 100000))\n"
                         "net.probe(pop, 'spikes')\nnet.build()\n",
                         "net.run(0.05)\n"),
    "hh_1000": ("import numpy as np, neurosim\n"
                "model = neurosim.HodgkinHuxley()\nI = np.linspace(0, 20, 1000)\n",
                "model.simulate(I, T=0.05, dt=1e-5)\n"),
    "noise_lif": ("import numpy as np, neurosim\n"
                  "net = neurosim.Network(dt=1e-4, rng=0)\n"
                  "pop = net.add_population(neurosim.LIF(0.02, 0.002), 10000, bias=0.9)\n"
                  "net.add_noise(pop, 0.2)\nnet.probe(pop, 'spikes')\nnet.build()\n",
                  "net.run(0.2)\n"),
    "batch_16": ("import numpy as np, neurosim\n"
                 "net = neurosim.Network(dt=1e-4, rng=0, batch=16)\n"
                 "src = net.add_poisson(200, rate=20.0)\n"
                 "pop = net.add_population(neurosim.LIF(0.02, 0.002), 1000, bias=0.5)\n"
                 "net.connect(src, pop, np.random.default_rng(0).uniform(0, 0.02, (1000, 200)))\n"
                 "net.connect(pop, pop, -0.002 * (np.random.default_rng(1).random((1000, 1000)) < 0.1))\n"
                 "net.probe(pop, 'spikes')\nnet.build()\n",
                 "net.run(0.1)\n"),
    # benchmarks/spiking_inference.py's timed part: 360 digits x T = 0.2 s, dt = 1 ms (15 training epochs here)
    "spiking_inference": ("sys.path.insert(0, os.path.join(os.getcwd(), 'benchmarks'))\n"
                          "import ratenet\nfrom neurosim.synapses import PSCFilter\n"
                          "from spiking_inference import trained_model\n"
                          "model, X, labels = trained_model(epochs=15)\n"
                          "snn = ratenet.to_spiking(model, synapse=PSCFilter(0.005), dt=1e-3)\n"
                          "snn.predict(X[:10], T=0.2)\n",
                          "snn.predict(X, T=0.2)\n"),
}

RUNNER = """
import sys, time, os
sys.path.insert(0, {tree!r})
{setup}
t, c = time.perf_counter(), time.process_time()
{timed}
print(time.perf_counter() - t, time.process_time() - c)
"""


def measure(tree, case, backend="numpy", cpu=False):
    setup, timed = CASES[case]
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONPATH="",
               NEUROSIM_BACKEND="numpy")  # numpy against numpy by default (the old tree has no other backend)
    if backend == "auto":  # this tree's default: numba where it runs the network
        env.pop("NEUROSIM_BACKEND")
    code = RUNNER.format(tree=str(tree), setup=setup, timed=timed)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=tree)
    if out.returncode != 0:
        raise RuntimeError(f"{case} failed in {tree}:\n{out.stderr[-2000:]}")
    wall, used = map(float, out.stdout.strip().splitlines()[-1].split())
    return used if cpu else wall


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ref", default=ROUND_START, help="git revision to compare with")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--backend", default="numpy", choices=("numpy", "auto"),
                        help="backend of this tree (A); the reference always runs numpy")
    parser.add_argument("--cpu", action="store_true",
                        help="CPU time of the process instead of wall time (steadier on a loaded machine)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        ref = pathlib.Path(tmp) / "ref"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", str(ref), args.ref], check=True,
                       capture_output=True)
        try:
            print(f"A = this tree (backend {args.backend}), B = {args.ref}; median {'CPU' if args.cpu else 'wall'} time of "
                  f"{args.repeats} alternating runs, one thread; "
                  f"load {os.getloadavg()[0]:.1f}")
            print(f"{'case':24s} {'A (s)':>8s} {'B (s)':>8s} {'A/B':>6s}")
            for case in args.cases:
                a, b = [], []
                for _ in range(args.repeats):
                    a.append(measure(ROOT, case, args.backend, args.cpu))
                    b.append(measure(ref, case, cpu=args.cpu))
                ma, mb = statistics.median(a), statistics.median(b)
                print(f"{case:24s} {ma:8.3f} {mb:8.3f} {ma / mb:6.2f}", flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(ref)], capture_output=True)


if __name__ == "__main__":
    main()
