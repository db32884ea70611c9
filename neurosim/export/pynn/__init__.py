"""Export to PyNN (NEST threads, NEURON under MPI): in process (:mod:`.live`, :func:`to_pynn`), or as a
standalone script plus data (:mod:`.script`, :func:`write_pynn_script`) whose text is :mod:`.runner`, the one
builder both routes share. The runner never imports neurosim: a cluster node needs only numpy, pyNN and a backend.
"""
from .live import PyNNNetwork, export_plan, to_pynn  # noqa: F401
from .script import read_spikes, write_pynn_script  # noqa: F401
