"""A script written by write_pynn_script under `mpirun -n 2` on NEURON equals a one-process NEURON run exactly.

Needs the MPI stack (docs/scale-out.md): Open MPI (`apt-get install -y openmpi-bin libopenmpi-dev`),
`pip install '.[mpi]'` (pyNN neuron mpi4py) and PyNN's NEURON mechanisms compiled once with nrnivmodl.
Without it every test here skips with that command as the reason.
"""
import glob
import importlib.util
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest

from neurosim import LIF, Network, PSCFilter
from neurosim.export import read_spikes, write_pynn_script

INSTALL = ("the MPI stack: apt-get install -y openmpi-bin libopenmpi-dev && pip install '.[mpi]' && "
           "(cd $(python -c 'import pyNN, os; print(os.path.dirname(pyNN.__file__))')/neuron/nmodl && nrnivmodl)")


def _mpi_stack_missing():
    if shutil.which("mpirun") is None:
        return "no mpirun"
    for module in ("neuron", "mpi4py", "pyNN"):
        if importlib.util.find_spec(module) is None:
            return f"no {module}"
    nmodl = os.path.join(os.path.dirname(importlib.util.find_spec("pyNN").origin), "neuron", "nmodl")
    if not glob.glob(os.path.join(nmodl, "*", "libnrnmech*")):
        return "PyNN's NEURON mechanisms are not compiled"
    return None


missing = _mpi_stack_missing()
pytestmark = pytest.mark.skipif(missing is not None, reason=f"{missing}: needs {INSTALL}")

# Open MPI: allowed as root in CI containers, and 2 ranks on a machine that may report 1 slot
MPI_ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OMP_NUM_THREADS="1")


def recurrent(delay, seed=5):
    """Poisson input and a spike-time source into an E/I recurrent LIF network, all delays `delay`."""
    dt = 1e-4
    net = Network(dt=dt, rng=seed)
    rng = np.random.default_rng(seed)
    inp = net.add_poisson(30, rate=50.0, name="inp")
    ss = net.add_spike_source([np.array([0.01, 0.02, 0.03])], name="kick")
    exc = net.add_population(LIF(0.02, 0.002), 40, bias=rng.uniform(0.7, 1.2, 40), v0="uniform", name="exc")
    inh = net.add_population(LIF(0.01, 0.001), 10, bias=0.9, v0="uniform", name="inh")
    mask = rng.random((40, 30)) < 0.3
    net.connect(inp, exc, np.where(mask, 0.006, 0.0), synapse=PSCFilter(0.005), delay=delay)
    net.connect(ss, exc, 0.01, synapse=PSCFilter(0.005), delay=delay)
    net.connect(exc, inh, np.where(rng.random((10, 40)) < 0.2, 0.01, 0.0), synapse=PSCFilter(0.005), delay=delay)
    net.connect(exc, exc, np.where(rng.random((40, 40)) < 0.1, 0.004, 0.0), synapse=PSCFilter(0.005), delay=delay)
    net.connect(inh, exc, np.where(rng.random((40, 10)) < 0.3, -0.01, 0.0), synapse=PSCFilter(0.01), delay=delay)
    return net


def run(script, ranks, out, check=True):
    prefix = ["mpirun", "-n", str(ranks)] if ranks > 1 else []
    result = subprocess.run(prefix + [sys.executable, str(script), "--sim", "neuron", "--out", str(out)],
                            capture_output=True, text=True, env=MPI_ENV, timeout=120)
    if check:
        assert result.returncode == 0, result.stdout[-1500:] + result.stderr[-1500:]
    return result


def test_two_mpi_ranks_on_neuron_equal_one_process_exactly(tmp_path):
    script, _ = write_pynn_script(recurrent(delay=2e-4), tmp_path / "net.py", sim="neuron", T=0.3, rng=0)
    run(script, 1, tmp_path / "one.npz")
    run(script, 2, tmp_path / "two.npz")
    one, two = read_spikes(tmp_path / "one.npz"), read_spikes(tmp_path / "two.npz")
    assert set(one) == {"exc", "inh"}
    assert one["exc"][0].size > 200 and one["inh"][0].size > 20  # a busy network: equality is not vacuous
    for name in one:
        np.testing.assert_array_equal(one[name][0], two[name][0])
        np.testing.assert_array_equal(one[name][1], two[name][1])
    with np.load(tmp_path / "two.npz", allow_pickle=False) as f:
        assert int(f["ranks"]) == 2 and str(f["sim"]) == "neuron"
    # both ranks own neurons: the gathered indices cover the whole population
    assert np.unique(two["exc"][1]).size > 20


def test_one_step_delays_are_refused_under_mpi_on_neuron(tmp_path):
    # neurosim's zero delay is one step on NEURON; NEURON 9 under MPI aborts unless every delay > dt
    script, _ = write_pynn_script(recurrent(delay=0.0), tmp_path / "net.py", sim="neuron", T=0.05, rng=0)
    result = run(script, 2, tmp_path / "two.npz", check=False)
    assert result.returncode != 0
    assert "NEURON under MPI needs every delay > dt" in result.stderr
    assert not (tmp_path / "two.npz").exists()
