"""The plan: a network built into one ordered list of operations over the runtime's state.

``Network.build()`` turns the description into a runtime (the state arrays) and this plan
(what to do with them in every step), in the spirit of Nengo's builder, whose operators
read and write signals. Grid and precise timing build different operations from the same
description, but both plans have the same phases and run through the same executor
(:meth:`neurosim.network.runtime.Runtime.run`):

========== ===================================================================================
phase      what its operations do, in this order within a step (or a block of steps)
========== ===================================================================================
prepare    Everything that may fail, draw random numbers or call user code: injected
           currents f(t), noise draws, Poisson and spike-source emissions, a user model's
           step on scratch copies. Nothing committed changes here.
deliver    Events that arrive inside the step are filed where the neurons read them
           (precise timing: source spikes into the targets' event queues).
neurons    Every population advances over the step; each returns its spikes (flat
           indices, offsets after the step's start in s).
emit       Spikes become events: spike probes record them, sources commit theirs.
synapses   Synapse states advance to the step's end and take the delayed events due there.
propagate  Spikes travel through the connections' transforms (dense, CSR, convolution)
           into the synapses (or the targets' queues), and into filtered probes.
plasticity Weight updates from this step's pre and post spikes.
record     Sampled probes take their values.
========== ===================================================================================

Every operation after ``prepare`` is the simulator's own arithmetic: the executor holds
Ctrl-C until they have all run, so a step is a transaction.

``print(net.plan)`` shows the plan of a built network.
"""
import numpy as np


class Stateful:
    """A part of a runtime that declares its state: arrays that carry from step to step, plus extras.

    ``arrays()`` returns ``{name: array}`` (the runtime's own arrays, not copies); ``snapshot`` and
    ``restore`` (``Network.store``/``restore``, the retry after Ctrl-C) are derived from it. Whatever is
    not an array (random streams, queued events, an integrator's buffers) goes through
    ``snapshot_extra``/``restore_extra``.
    """

    def arrays(self):
        return {}

    def snapshot_extra(self):
        return None

    def restore_extra(self, extra):
        pass

    def snapshot(self):
        return {"state": {name: a.copy() for name, a in self.arrays().items()}, "extra": self.snapshot_extra()}

    def restore(self, snap):
        arrays = self.arrays()
        for name, a in snap["state"].items():
            np.copyto(arrays[name], a)
        self.restore_extra(snap["extra"])


PHASES = ("prepare", "deliver", "neurons", "emit", "synapses", "propagate", "plasticity", "record")
_ORDER = {phase: i for i, phase in enumerate(PHASES)}


class Operation:
    """One operation of a plan: ``fn(k, m)`` advances its part of the state over steps ``k .. m - 1``.

    Parameters
    ----------
    phase : str
        One of :data:`PHASES`.
    name : str
        What it does, for ``print(plan)`` (e.g. ``"step 'exc' (LIF)"``).
    fn : callable
        ``fn(k, m)``: k is the first step of the block, m the step count after it (``k + 1``
        on the grid; precise timing integrates blocks of steps at once).
    """

    __slots__ = ("phase", "name", "fn")

    def __init__(self, phase, name, fn):
        if phase not in _ORDER:
            raise ValueError(f"phase must be one of {PHASES}, got {phase!r}")
        self.phase, self.name, self.fn = phase, name, fn

    def __repr__(self):
        return f"Operation({self.phase!r}, {self.name!r})"


class Plan:
    """The ordered operations of a built network (see the module docstring).

    Operations are kept in phase order; within a phase, in the order they were added.

    Attributes
    ----------
    timing : str
        "grid" or "precise".
    block : int
        Steps one pass of the plan advances at most (1 on the grid; precise timing integrates
        up to the shortest delay between populations at once).
    operations : list of Operation
    """

    def __init__(self, timing, operations, block=1):
        self.timing, self.block = timing, int(block)
        self.operations = sorted(operations, key=lambda op: _ORDER[op.phase])  # stable: keeps order in a phase
        self.prepare = [op.fn for op in self.operations if op.phase == "prepare"]
        self.commit = [op.fn for op in self.operations if op.phase != "prepare"]

    def __len__(self):
        return len(self.operations)

    def __iter__(self):
        return iter(self.operations)

    def phase(self, name):
        """The operations of one phase, in order."""
        return [op for op in self.operations if op.phase == name]

    def __repr__(self):
        lines = [f"Plan(timing={self.timing!r}, block={self.block} step{'s' if self.block > 1 else ''}, "
                 f"{len(self)} operations)"]
        lines += [f"  {op.phase:<10} {op.name}" for op in self.operations]
        return "\n".join(lines)


def transform_name(weights):
    """How a connection's weights propagate spikes: "dense", "CSR" or "convolution"."""
    if hasattr(weights, "kernel"):
        return "convolution"
    return "CSR" if hasattr(weights, "tocsr") else "dense"
