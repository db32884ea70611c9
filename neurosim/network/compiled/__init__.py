"""The compiled (numba) backend of the network runtime; see :mod:`.support` for the selection rule.

numba is imported only when a compiled runtime is built, so ``import neurosim`` never needs it.
"""
import os

from .support import BACKENDS, INSTALL, check_backend, numba_available, unsupported


def build_runtime(net, backend):
    """The runtime for ``net`` under the requested ``backend`` ("auto", "numpy" or "numba").

    Returns ``(runtime, name)``, name the backend that runs ("numpy" or "numba"). The environment variable
    ``NEUROSIM_BACKEND=numpy`` makes "auto" mean numpy (to run a test suite on the reference backend).
    """
    from ..precise import PreciseRuntime
    from ..runtime import Runtime

    numpy_runtime = PreciseRuntime if net.timing == "precise" else Runtime
    if backend == "auto" and os.environ.get("NEUROSIM_BACKEND") == "numpy":  # CI runs the suite on numpy this way
        backend = "numpy"
    if backend == "numpy" or (backend == "auto" and not numba_available()):
        return numpy_runtime(net), "numpy"
    why = unsupported(net)
    if why:
        if backend == "numba":
            raise ValueError("backend='numba' cannot run this network: " + "; ".join(why)
                             + ". Use backend='numpy' (or 'auto', which then runs it on numpy)")
        return numpy_runtime(net), "numpy"
    check_backend("numba")  # an ImportError naming the [fast] extra if numba went away since
    if net.timing == "precise":
        from .precise import CompiledPreciseRuntime

        return CompiledPreciseRuntime(net), "numba"
    from .runtime import CompiledRuntime

    return CompiledRuntime(net), "numba"


__all__ = ["BACKENDS", "INSTALL", "build_runtime", "check_backend", "numba_available", "unsupported"]
