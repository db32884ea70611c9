"""The one fixture every network test can run through: timing mode x backend x batch (as Nengo runs its
suite once per Simulator). A cell a feature does not support has a refusal test (tests/neurosim/test_matrix.py)."""
import inspect
from dataclasses import dataclass

import pytest

from neurosim import Network

TIMINGS = ("grid", "precise")
BATCHES = (None, 2)


def _backends():
    """Backends this Network knows: numpy always; the compiled one when Network takes ``backend=``."""
    if "backend" not in inspect.signature(Network).parameters:
        return ("numpy",)
    return ("numpy", "numba")


def _numba_missing():
    try:
        import numba  # noqa: F401
    except ImportError:
        return True
    return False


BACKENDS = _backends()


@dataclass(frozen=True)
class SimConfig:
    timing: str
    backend: str
    batch: object

    def network(self, dt=1e-4, rng=None, **kwargs):
        """A Network of this cell of the matrix."""
        extra = {} if self.backend == "numpy" and "backend" not in inspect.signature(Network).parameters \
            else {"backend": self.backend}
        return Network(dt=dt, rng=rng, batch=self.batch, timing=self.timing, **extra, **kwargs)

    def refuses(self, *nets):
        """True when this cell's backend refuses one of ``nets`` (asserted: its build raises, saying why)."""
        if self.backend != "numba":
            return False
        from neurosim.network.compiled import unsupported
        refused = [net for net in nets if unsupported(net)]
        for net in refused:
            with pytest.raises(ValueError, match="backend='numba' cannot run this network"):
                net.build()
        return bool(refused)

    def __str__(self):
        return f"{self.timing}-{self.backend}-{'nobatch' if self.batch is None else f'batch{self.batch}'}"


CONFIGS = [SimConfig(t, b, n) for t in TIMINGS for b in BACKENDS for n in BATCHES]


@pytest.fixture(params=CONFIGS, ids=str)
def sim(request):
    """A cell of timing mode x backend x batch; ``sim.network(dt, rng)`` builds a Network in it."""
    if request.param.backend == "numba" and _numba_missing():
        pytest.skip("the numba backend needs numba: pip install '.[fast]'")
    return request.param
