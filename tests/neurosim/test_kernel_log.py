"""The compiled kernels' own log (neurosim.neurons.hh.compiled.log; the LIF step's spike times use it)
against the C library's (Python's math module): within 1 ulp."""
import math

import numpy as np
import pytest

pytest.importorskip("numba", reason="the compiled kernels need numba: pip install numba")


def test_kernel_log_within_one_ulp_of_libm():
    from numba import njit

    from neurosim.neurons.hh.compiled import log

    @njit
    def run(x, out):
        for i in range(x.size):
            out[i] = log(x[i])

    rng = np.random.default_rng(1)
    x = np.concatenate([1.0 + rng.random(200_000) * 10,  # 1 + (v - 1)/(J - v): the crossing times
                        1.0 + np.exp(rng.uniform(-50, 0, 100_000)),
                        np.exp(rng.uniform(-700, 700, 100_000)),
                        [1.0, 2.0, 0.5, math.sqrt(2), math.sqrt(0.5), 1e-300, 1e300, 1.0 + 2**-52]])
    got = np.empty_like(x)
    run(x, got)
    ref = np.array([math.log(a) for a in x])
    ulps = np.abs(got - ref) / np.spacing(np.abs(ref))
    ulps[ref == 0] = np.abs(got[ref == 0])
    assert ulps.max() <= 1
    np.testing.assert_array_equal(got[x == 1.0], 0.0)
    assert got[x == 2.0] == math.log(2.0)
