"""The plan (neurosim/network/plan.py) and the declared state of the built-in kinds.

Both timing modes build a Plan of the same phases and run it through one executor; probes and
snapshots of a population come from its model's declared state variables.
"""
import numpy as np
import pytest

import neurosim
from neurosim.network.plan import PHASES, Operation, Plan
from neurosim.network.precise.runtime import PreciseRuntime
from neurosim.network.runtime import Runtime


def _small(sim_or_timing="grid", batch=None, backend="numpy"):
    timing = sim_or_timing
    net = neurosim.Network(dt=1e-4, rng=0, timing=timing, batch=batch, backend=backend)
    a = net.add_population(neurosim.LIF(), 20, bias=1.3)
    b = net.add_population(neurosim.LIF(), 10, bias=0.5)
    src = net.add_poisson(5, 200.0)
    net.connect(src, a, np.full((20, 5), 0.05), delay=1e-3)
    net.connect(a, b, np.full((10, 20), 0.02), delay=2e-3)
    net.probe(b)
    net.probe(b, "v")
    return net


@pytest.mark.parametrize("timing", ["grid", "precise"])
def test_both_timings_build_a_plan_of_the_same_phases_in_order(timing):
    plan = _small(timing).plan
    assert isinstance(plan, Plan) and plan.timing == timing
    order = [PHASES.index(op.phase) for op in plan]
    assert order == sorted(order) and len(plan) >= 6
    # every part of the description has its operation
    names = "\n".join(op.name for op in plan)
    assert "'population0'" in names and "'population1'" in names and "'poisson2'" in names
    assert plan.phase("neurons") and plan.phase("record") and plan.phase("prepare")
    assert "Plan(timing=" in repr(plan)


def test_one_executor_runs_both_timing_modes():
    # the precise runtime builds other operations but never its own loop
    assert PreciseRuntime._loop is Runtime._loop
    assert PreciseRuntime.make_plan is not Runtime.make_plan


def test_precise_plan_integrates_blocks_up_to_the_shortest_delay():
    net = neurosim.Network(dt=1e-4, rng=0, timing="precise", backend="numpy")
    a = net.add_population(neurosim.LIF(), 5, bias=1.5)
    net.connect(a, a, np.full((5, 5), 0.01), delay=2e-3)
    net.probe(a)
    assert net.plan.block == 20
    net.probe(a, "v")  # a sampled probe needs every step
    assert net.plan.block == 1


def test_plan_refuses_an_unknown_phase():
    with pytest.raises(ValueError, match="phase must be one of"):
        Operation("later", "x", lambda k, m: None)


def test_operations_added_out_of_order_run_in_phase_order():
    log = []
    ops = [Operation("record", "r", lambda k, m: log.append("r")),
           Operation("neurons", "n1", lambda k, m: log.append("n1")),
           Operation("prepare", "p", lambda k, m: log.append("p")),
           Operation("neurons", "n2", lambda k, m: log.append("n2"))]
    plan = Plan("grid", ops)
    for fn in plan.prepare + plan.commit:
        fn(0, 1)
    assert log == ["p", "n1", "n2", "r"]


# ---- declared state of the built-in kinds -------------------------------------------------------------
def test_built_in_models_declare_their_state():
    assert list(neurosim.LIF.state_variables()) == ["v", "refractory_end"]
    assert list(neurosim.HodgkinHuxley.state_variables()) == ["v", "m", "h", "n"]
    assert neurosim.HodgkinHuxley.state_variables()["v"].unit == "mV"
    assert neurosim.LIF.state_variables()["refractory_end"].unit == "s"


@pytest.mark.parametrize("timing", ["grid", "precise"])
def test_lif_snapshot_and_probes_follow_the_declaration(timing):
    net = neurosim.Network(dt=1e-4, rng=0, timing=timing, backend="numpy")
    J, model = 1.5, neurosim.LIF(tau_m=0.02, tau_ref=0.002)
    pop = net.add_population(model, 3, bias=J)
    p = net.probe(pop, "refractory_end")
    spikes = net.probe(pop)
    net.run(0.05)
    snap = net.runtime.pops[pop].snapshot()
    assert sorted(snap["state"]) == ["refractory_end", "v"]
    # oracle: a constant input J fires every tau_ref - tau_m ln(1 - 1/J); the last spike + tau_ref
    period = model.tau_ref - model.tau_m * np.log(1 - 1 / J)
    n_spikes = int(0.05 // period)
    times, idx = spikes.data
    assert times.size == 3 * n_spikes
    np.testing.assert_allclose(p.data[-1], n_spikes * period, rtol=1e-9)  # spike k at k period - tau_ref


def _hh_gate_steady_state(V):
    """m, h, n at their steady state for V (mV), from the textbook HH rates (Dayan & Abbott 5.22-5.24)."""
    am = 0.1 * (V + 40) / (1 - np.exp(-(V + 40) / 10))
    bm = 4 * np.exp(-(V + 65) / 18)
    ah = 0.07 * np.exp(-(V + 65) / 20)
    bh = 1 / (1 + np.exp(-(V + 35) / 10))
    an = 0.01 * (V + 55) / (1 - np.exp(-(V + 55) / 10))
    bn = 0.125 * np.exp(-(V + 65) / 80)
    return am / (am + bm), ah / (ah + bh), an / (an + bn)


def test_hh_gates_are_probed_by_their_declared_names():
    net = neurosim.Network(dt=1e-5, rng=0, backend="numpy")
    hh = neurosim.HodgkinHuxley()
    pop = net.add_population(hh, 2)
    probes = {name: net.probe(pop, name) for name in ("v", "m", "h", "n")}
    net.run(0.005)
    V = probes["v"].data[-1]
    np.testing.assert_allclose(V, hh.V_rest, atol=1e-6)  # at rest without input
    for name, expected in zip("mhn", _hh_gate_steady_state(hh.V_rest)):
        np.testing.assert_allclose(probes[name].data[-1], expected, rtol=1e-6)
    snap = net.runtime.pops[pop].snapshot()
    assert sorted(snap["state"]) == ["h", "m", "n", "v"]


def test_hh_restore_from_declared_state_continues_exactly():
    def run(split):
        net = neurosim.Network(dt=1e-5, rng=0, backend="numpy")
        pop = net.add_population(neurosim.HodgkinHuxley(), 3, bias=[6.0, 10.0, 15.0])
        probe = net.probe(pop)
        if split:
            net.run(0.01)
            net.store()
            net.run(0.01)  # discarded
            net.restore()
        net.run(0.01 if split else 0.02)
        return probe.data

    whole, again = run(False), run(True)
    assert whole[0].size > 3
    np.testing.assert_array_equal(whole[1], again[1])
    np.testing.assert_allclose(whole[0], again[0], rtol=0, atol=1e-15)


def test_probe_of_an_undeclared_variable_names_the_declaration():
    net = neurosim.Network(dt=1e-4, rng=0)
    pop = net.add_population(neurosim.LIF(), 2)
    with pytest.raises(ValueError, match="refractory_end"):
        net.probe(pop, "w")


@pytest.mark.parametrize("timing", ["grid", "precise"])
def test_every_part_of_a_runtime_declares_its_state(timing):
    """Populations, synapse groups, sources, drives and probe buffers snapshot through one protocol."""
    from neurosim.network.plan import Stateful
    net = _small(timing)
    rt = net.build()
    parts = list(rt.pops.values()) + list(rt.sources.values()) + list(rt.buffers.values()) + list(rt.groups)
    parts += [inp for p in rt.pops.values() for inp in p.inputs]
    assert parts and all(isinstance(part, Stateful) for part in parts), \
        [type(p).__name__ for p in parts if not isinstance(p, Stateful)]
    for part in parts:  # the declared arrays are the runtime's own (a snapshot copies them)
        snap = part.snapshot()
        for name, a in part.arrays().items():
            assert snap["state"][name] is not a and np.array_equal(snap["state"][name], a)
