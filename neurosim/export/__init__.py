"""Run neurosim networks elsewhere: PyNN (NEST, with threads and MPI) and NIR.

* :func:`to_pynn` builds the same network with PyNN's API (``IF_curr_exp`` /
  ``IF_curr_alpha``, spike sources, projections, offset currents), ready to run
  on NEST (``pip install '.[pynn]'``) or NEURON (``pip install '.[mpi]'``).
* :func:`write_pynn_script` writes it as a standalone PyNN script plus a .npz
  that runs unchanged with ``python``, ``mpirun -n K`` or ``srun``;
  :func:`read_spikes` loads the spikes it gathers.
* :func:`to_nir` / :func:`from_nir` convert to and from the Neuromorphic
  Intermediate Representation (``nir.write`` / ``nir.read`` store it in a file).
  Needs ``pip install '.[nir]'``.
* :func:`pynn_units` is the one place where neurosim's normalized LIF units and
  unit-area PSC weights become PyNN's ms, mV, nA and nF.

Importing this module never needs pyNN, NEST or nir; they are imported when a
conversion runs. Times are in seconds at neurosim's interfaces (and in NIR);
PyNN itself works in milliseconds. See docs/scale-out.md.
"""
from .nir import from_nir, to_nir
from .pynn import PyNNNetwork, read_spikes, to_pynn, write_pynn_script
from .units import DEFAULT_SCALE, PyNNUnits, nest_ps_params, pynn_units

__all__ = ["to_pynn", "PyNNNetwork", "write_pynn_script", "read_spikes", "to_nir", "from_nir", "pynn_units",
           "PyNNUnits", "nest_ps_params", "DEFAULT_SCALE"]
