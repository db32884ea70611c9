"""Standalone PyNN runner for a network exported by neurosim (written by neurosim.export.write_pynn_script).

This file is the text of every generated script, and :func:`neurosim.export.to_pynn`
builds with the same :func:`build` function, so an in-process export and a
script on a cluster create the same PyNN objects. It must not import neurosim:
a cluster node needs only numpy, pyNN and the backend (NEST or NEURON).

The data file beside the script (same name, ``.npz``, loaded with
``allow_pickle=False``) holds a JSON description ``meta`` and the arrays:
weights and delays of every projection (rows pre, post, weight nA, delay ms),
cell parameters, initial voltages and the spike times of every source, already
in PyNN units (ms, mV, nA, nF). Nothing in the script is random: Poisson
sources were drawn when the script was written, so every run -- one process,
``mpirun -n K``, ``srun``, any thread count -- simulates the same network.

Usage::

    python net.py [--sim nest|neuron] [--threads K] [--T seconds] [--out spikes.npz] [--[no-]progress]
    mpirun -n 4 python net.py --sim neuron --out spikes.npz
    srun -n 64 python net.py --sim neuron --out spikes.npz

The output .npz holds, for each neuron population NAME, ``NAME_times`` (s,
float64) and ``NAME_indices`` (int64), sorted by time then index, gathered
from all ranks; plus ``populations``, ``sizes``, ``T``, ``dt``, ``sim``,
``ranks``, ``threads``, ``build_s``, ``run_s``.
"""
import argparse
import json
import os
import sys
import time

import numpy as np

from ...progress import Progress  # a generated script embeds neurosim/progress.py here instead

FORMAT = "neurosim-pynn/1"
BACKENDS = ("nest", "neuron")


class ExportError(ValueError):
    """The backend cannot run this network as exported (a clear refusal, never a wrong run)."""


def check_backend(meta, backend, ranks=1, threads=1):
    """Raise ExportError for what ``backend`` cannot run; return None when it can.

    * NEURON under MPI (ranks > 1) needs every delay > dt: its spike exchange
      interval is the minimum delay, and NEURON 9 aborts the run ("mindelay is 0
      (or less than dt for fixed step method)") when it is not above dt -- a
      delay of exactly one step is refused too (measured). Delays are whole
      steps, so the minimum is 2 dt.
    * NEST needs every delay >= dt.
    * NEURON runs one thread per process through PyNN, and has no precise-timing models.
    """
    if backend not in BACKENDS:
        raise ExportError(f"sim must be one of {BACKENDS}, got {backend!r}")
    dt, dmin = meta["dt_ms"], meta["min_delay_ms"]
    if meta["timing"] == "precise" and backend != "nest":
        raise ExportError(f"this network uses precise spike timing (timing='precise'), which needs NEST's "
                          f"iaf_psc_exp_ps/iaf_psc_alpha_ps models; {backend} has no precise-timing models: "
                          "use --sim nest")
    if dmin is not None and backend == "neuron" and ranks > 1 and dmin <= dt * (1 + 1e-9):
        raise ExportError(f"NEURON under MPI needs every delay > dt = {dt} ms (its spike exchange interval is the "
                          f"minimum delay; at {dmin} ms NEURON aborts with 'mindelay is 0'); this network's minimum "
                          f"delay is {dmin} ms. Give every connection a delay of at least 2 dt = {2 * dt:g} ms "
                          "(net.connect(..., delay=...)) and export again, or run NEURON in one process")
    if backend == "nest" and any("stdp" in proj for proj in meta["projections"]):
        raise ExportError("this network has STDP (plasticity=neurosim.STDP), whose delay is axonal (the presynaptic "
                          "spike reaches the synapse at its arrival, as in Brian2); NEST's stdp_synapse treats "
                          "every delay as dendritic, which shifts each spike pair by twice the delay, so it would "
                          "learn differently: use --sim neuron (PyNN's dendritic_delay_fraction=0)")
    if dmin is not None and backend == "nest" and dmin < dt * (1 - 1e-9):
        raise ExportError(f"NEST needs every delay >= dt = {dt} ms; this network's minimum delay is {dmin} ms")
    if backend == "neuron" and threads != 1:
        raise ExportError(f"--threads {threads}: PyNN runs NEURON with one thread per process; "
                          "use MPI ranks instead (mpirun -n K python script.py --sim neuron)")


def setup_kwargs(meta, backend, threads=1):
    """Arguments of ``sim.setup`` for this network (ms).

    NEURON exchanges spikes between ranks every ``min_delay``: the network's
    minimum delay (fewer exchanges). NEST gets ``min_delay = dt``: it finds the
    real minimum from the connections itself, and PyNN delivers spike-source
    spikes through parrot neurons with ``min_delay``, so a larger value would
    hide early source spikes.
    """
    dt = meta["dt_ms"]
    dmin = max(meta["min_delay_ms"] or dt, dt)
    kwargs = {"timestep": dt, "min_delay": dmin if backend == "neuron" else dt,
              "max_delay": max(meta["max_delay_ms"] or dt, dmin)}
    if backend == "nest":
        kwargs["spike_precision"] = "off_grid" if meta["timing"] == "precise" else "on_grid"
        kwargs["threads"] = int(threads)
    return kwargs


def native_cell_type(sim, name, params, state):
    """``sim.native_cell_type(name)`` with only the parameters in ``params`` and the state variable ``state``.

    NEST keeps its own defaults for the rest.

    PyNN 0.13 would pass every NEST default back to NEST 3.10, which rejects some
    of them (numpy bools such as ``ignore_and_spike``; read-only entries such as
    ``dI_syn_ex`` of ``iaf_psc_alpha_ps``).
    """
    celltype = sim.native_cell_type(name)
    celltype.default_parameters = {k: v for k, v in celltype.default_parameters.items() if k in params}
    celltype.default_initial_values = {k: v for k, v in celltype.default_initial_values.items() if k == state}
    return celltype


def build(sim, meta, arrays, progress=False):
    """Create the populations and projections described by ``meta``/``arrays`` with the PyNN module ``sim``.

    ``sim.setup`` must have been called. Returns (populations dict name -> Population,
    list of Projections), sources first, then cells, in the exported order.
    """
    pops = {}
    for src in meta["sources"]:
        if src["type"] == "SpikeSourcePoisson":
            cell = sim.SpikeSourcePoisson(rate=np.asarray(arrays[src["rate"]], dtype=float))
        else:
            times, counts = arrays[src["times"]], arrays[src["counts"]]
            trains = np.split(np.asarray(times, dtype=float), np.cumsum(counts)[:-1])
            if getattr(sim, "__name__", "") == "pyNN.nest":
                # PyNN on NEST emits array spikes through parrot neurons, min_delay later: a spike before
                # min_delay + dt cannot be emitted, so the first step's spikes arrive one step later
                first = sim.get_min_delay() + meta["dt_ms"]
                trains = [np.maximum(t, first) for t in trains]
                merged = sum(int(np.count_nonzero(np.diff(t) == 0)) for t in trains)
                if merged:  # the export keeps one spike before 2 dt per train; more would be lost here
                    raise ExportError(f"source {src['name']!r}: {merged} spike(s) before min_delay + dt = {first} ms "
                                      "would coincide (PyNN on NEST emits no earlier); set up with min_delay = dt")
            cell = sim.SpikeSourceArray(spike_times=[sim.Sequence(t) for t in trains])
        pops[src["name"]] = sim.Population(src["n"], cell, label=src["name"])
    for pop in meta["cells"]:
        params = dict(pop["params"])
        params.update({k: np.asarray(arrays[key], dtype=float) for k, key in pop["array_params"].items()})
        kind = pop["type"]
        if kind.startswith("native:"):
            celltype = native_cell_type(sim, kind[7:], params, pop["v_name"])
        else:
            celltype = getattr(sim, kind)
        initial = {pop["v_name"]: np.asarray(arrays[pop["v_init"]], dtype=float)}
        initial.update({k: np.asarray(arrays[key], dtype=float) for k, key in pop.get("initial", {}).items()})
        pops[pop["name"]] = sim.Population(pop["n"], celltype(**params), initial_values=initial, label=pop["name"])
        if kind == "IF_curr_delta" and getattr(sim, "__name__", "") == "pyNN.nest":
            # PyNN's IF_curr_delta on NEST (iaf_psc_delta_ps) ignores the initial v (NEST's V_m stays at its
            # default -70 mV): set V_m itself
            pops[pop["name"]].node_collection.set(V_m=initial[pop["v_name"]])
    projections = []
    bar = Progress(len(meta["projections"]), "PyNN build: projections", enabled=progress)
    for i, proj in enumerate(meta["projections"]):
        bar.update(i, proj["label"])
        rows = np.asarray(arrays[proj["rows"]], dtype=float)
        projections.append(sim.Projection(
            pops[proj["pre"]], pops[proj["post"]], sim.FromListConnector(rows, column_names=["weight", "delay"]),
            synapse_type=_synapse_type(sim, proj.get("stdp")), receptor_type=proj["receptor"], label=proj["label"]))
    bar.close()
    return pops, projections


def _synapse_type(sim, stdp):
    """``StaticSynapse``, or the ``STDPMechanism`` described by an export's "stdp" entry (ms, nA)."""
    if stdp is None:
        return sim.StaticSynapse()
    dependence = sim.AdditiveWeightDependence if stdp["rule"] == "additive" else sim.MultiplicativeWeightDependence
    return sim.STDPMechanism(
        timing_dependence=sim.SpikePairRule(tau_plus=stdp["tau_plus"], tau_minus=stdp["tau_minus"],
                                            A_plus=stdp["A_plus"], A_minus=stdp["A_minus"]),
        weight_dependence=dependence(w_min=stdp["w_min"], w_max=stdp["w_max"]),
        dendritic_delay_fraction=stdp["dendritic_delay_fraction"])


def run(sim, T_ms, dt_ms, progress=False, pieces=100):
    """``sim.run(T_ms)``; with ``progress``, in about ``pieces`` runs of whole steps and a line on stderr.

    A simulation run in pieces equals one run in a single call (NEST and NEURON
    continue from their state), so the line costs only the extra calls.
    """
    if not progress:
        sim.run(T_ms)
        return
    total = int(round(T_ms / dt_ms))
    chunk = max(1, -(-total // pieces))
    with Progress(T_ms / 1000.0, f"{getattr(sim, '__name__', 'PyNN')}: simulated", unit=" s") as bar:
        done = 0
        while done < total:
            n = min(chunk, total - done)
            sim.run(n * dt_ms)
            done += n
            bar.update(done * dt_ms / 1000.0)


def load(path):
    """(meta, arrays) from an exported .npz; never unpickles."""
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    meta = json.loads(str(arrays.pop("meta")))
    if meta.get("format") != FORMAT:
        raise ExportError(f"{path}: not a {FORMAT} file (format {meta.get('format')!r})")
    return meta, arrays


def local_events(population):
    """(times s, indices) of this rank's neurons of ``population``, sorted by time then index.

    Reads the recorder's spike times directly: PyNN 0.13's ``get_data`` on
    NEURON is quadratic in the number of neurons (about 7 minutes for 40,000);
    falls back to ``get_data`` where that internal is missing.
    """
    ids = np.asarray(population.local_cells, dtype=np.int64)
    getter = getattr(population.recorder, "_get_spiketimes", None)
    if getter is None or ids.size == 0:
        return _local_events_neo(population)
    data = getter(list(population.local_cells))
    if isinstance(data, dict):  # NEURON: {id: times ms}
        trains = [np.asarray(data.get(int(i), ()), dtype=float) for i in ids]
        times = np.concatenate(trains) if trains else np.zeros(0)
        senders = np.repeat(ids, [t.size for t in trains])
    else:  # NEST: (ids, times ms)
        senders, times = (np.asarray(a) for a in data)
        times = times.astype(float)
    senders = senders.astype(np.int64)
    indices = np.asarray(population.id_to_index(senders), dtype=np.int64).reshape(-1) if senders.size else \
        np.zeros(0, dtype=np.int64)
    times = times / 1000.0
    order = np.lexsort((indices, times))
    return times[order], indices[order]


def _local_events_neo(population):
    segment = population.get_data("spikes", gather=False, clear=False).segments[-1]
    times, indices = [np.zeros(0)], [np.zeros(0, dtype=np.int64)]
    for st in segment.spiketrains:
        t = np.asarray(st.rescale("ms").magnitude, dtype=float) / 1000.0
        times.append(t)
        indices.append(np.full(t.size, int(st.annotations["source_index"]), dtype=np.int64))
    times, indices = np.concatenate(times), np.concatenate(indices)
    order = np.lexsort((indices, times))
    return times[order], indices[order]


def gather_events(population, ranks):
    """All ranks' spikes of ``population`` on rank 0 (others get None), sorted by time then index."""
    times, indices = local_events(population)
    if ranks > 1:
        from mpi4py import MPI

        parts = MPI.COMM_WORLD.gather((times, indices), root=0)
        if parts is None:
            return None
        times = np.concatenate([p[0] for p in parts])
        indices = np.concatenate([p[1] for p in parts])
    order = np.lexsort((indices, times))
    return times[order], indices[order]


def save(path, arrays):
    """Write ``arrays`` to ``path`` (.npz) atomically: a temp file, fsync, then os.replace.

    As ``neurosim.io.atomic_write`` (this file must not import neurosim): a new file
    gets 0o666 minus the umask, a replaced file keeps its mode, a symlink is
    followed and kept.
    """
    target = os.path.realpath(path) if os.path.islink(path) else os.path.abspath(path)
    folder, base = os.path.split(target)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0)
    for _ in range(100):
        tmp = os.path.join(folder, f".{base}.{os.urandom(4).hex()}.tmp")
        try:
            fd = os.open(tmp, flags, 0o666)   # the kernel applies the umask
            break
        except FileExistsError:
            continue
    else:
        raise FileExistsError(f"no free temporary name beside {target!r}")
    if os.path.exists(target):
        try:
            os.chmod(tmp, os.stat(target).st_mode & 0o777)
        except OSError:
            pass
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv=None, data=None, default_sim="nest"):
    """Command line of a generated script; ``data`` is the .npz beside it."""
    parser = argparse.ArgumentParser(description="Run a network exported by neurosim with PyNN.")
    parser.add_argument("--sim", choices=BACKENDS, default=default_sim, help="PyNN backend")
    parser.add_argument("--threads", type=int, default=1, help="threads per process (NEST only)")
    parser.add_argument("--T", type=float, default=None, help="simulated seconds (default: as exported)")
    parser.add_argument("--out", default=None, help="gathered spikes (.npz); default: none written")
    parser.add_argument("--data", default=data, help="exported network (.npz)")
    parser.add_argument("--progress", action=argparse.BooleanOptionalAction, default=None,
                        help="show a progress line on stderr (default: when stderr is a terminal; rank 0 only)")
    args = parser.parse_args(argv)
    meta, arrays = load(args.data)
    T = meta["T"] if args.T is None else args.T
    if not T > 0:
        raise ExportError(f"--T must be > 0 s, got {T!r}")
    if meta["T"] is not None and meta["sources_drawn"] and T > meta["T"] * (1 + 1e-12):
        raise ExportError(f"--T {T} s is longer than the {meta['T']} s of Poisson spikes drawn at export: "
                          "export again with a longer T")
    if args.threads < 1:
        raise ExportError(f"--threads must be >= 1, got {args.threads}")
    import importlib

    sim = importlib.import_module(f"pyNN.{args.sim}")
    kwargs = setup_kwargs(meta, args.sim, args.threads)
    t0 = time.perf_counter()
    sim.setup(**kwargs)
    ranks, rank = sim.num_processes(), sim.rank()
    check_backend(meta, args.sim, ranks, args.threads)
    progress = sys.stderr.isatty() if args.progress is None else args.progress
    pops, _ = build(sim, meta, arrays, progress=progress and rank == 0)
    cells = [p["name"] for p in meta["cells"]]
    for name in cells:
        pops[name].record("spikes")
    build_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    run(sim, 1000.0 * T, meta["dt_ms"], progress=progress and rank == 0)
    run_s = time.perf_counter() - t0
    out = {"populations": np.array(cells), "sizes": np.array([p["n"] for p in meta["cells"]], dtype=np.int64),
           "T": np.float64(T), "dt": np.float64(meta["dt_ms"] / 1000.0), "sim": np.array(args.sim),
           "ranks": np.int64(ranks), "threads": np.int64(args.threads),
           "build_s": np.float64(build_s), "run_s": np.float64(run_s)}
    count = 0
    for name in cells:
        events = gather_events(pops[name], ranks)
        if events is not None:
            out[f"{name}_times"], out[f"{name}_indices"] = events
            count += events[0].size
    if rank == 0:
        print(f"{args.sim}: {ranks} rank(s) x {args.threads} thread(s), build {build_s:.2f} s, "
              f"run {run_s:.2f} s ({T:g} s simulated), {count} spikes", flush=True)
        if args.out:
            save(args.out, out)
    sim.end()
    return out if rank == 0 else None


def cli(data, default_sim):
    """Entry point of a generated script: clear message and exit status 2 on a refusal."""
    try:
        main(data=data, default_sim=default_sim)
    except ExportError as err:
        print(f"error: {err}", file=sys.stderr, flush=True)
        sys.exit(2)
