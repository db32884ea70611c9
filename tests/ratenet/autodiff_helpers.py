"""Shared oracle for the autodiff tests: centered finite differences in float64."""
import numpy as np

from ratenet import autodiff as ad


def numeric_grads(f, arrays, h=1e-6):
    """Centered finite-difference gradients of the scalar ``f(*Vars)`` w.r.t. each array.

    Independent of backward: only forward values (under no_grad) are used.
    """
    arrays = [np.array(a, dtype=np.float64) for a in arrays]

    def value():
        with ad.no_grad():
            return float(f(*[ad.Var(a) for a in arrays]).item())

    grads = []
    for a in arrays:
        g = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            old = a[i]
            a[i] = old + h
            up = value()
            a[i] = old - h
            down = value()
            a[i] = old
            g[i] = (up - down) / (2 * h)
        grads.append(g)
    return grads


def autodiff_grads(f, arrays):
    """Gradients of the scalar ``f(*Vars)`` by backward."""
    vs = [ad.Var(np.array(a, dtype=np.float64)) for a in arrays]
    out = f(*vs)
    out.backward()
    return [v.grad for v in vs]


def rel_error(a, b):
    """||a − b|| / (||a|| + ||b||), 0 when both are 0."""
    num = np.linalg.norm(np.ravel(a - b))
    den = np.linalg.norm(np.ravel(a)) + np.linalg.norm(np.ravel(b))
    return 0.0 if den == 0 else num / den


def assert_grads_match(f, arrays, tol=1e-7, h=1e-6):
    """backward against finite differences, for every argument."""
    for i, (ga, gn) in enumerate(zip(autodiff_grads(f, arrays), numeric_grads(f, arrays, h))):
        assert ga.shape == np.shape(arrays[i])
        err = rel_error(ga, gn)
        assert err < tol, f"argument {i}: relative error {err:.3g}\nad={ga}\nfd={gn}"


def scalarize(op, rng, out_shape):
    """Wrap ``op`` into a scalar function with random weights, so every output element counts."""
    R = rng.standard_normal(out_shape)
    return lambda *vs: (op(*vs) * R).sum()
