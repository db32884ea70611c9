"""Shared oracle for the autodiff tests: centered finite differences in float64."""
import numpy as np

from ratenet import autodiff as ad


def numeric_grads(f, arrays, h=1e-4):
    """Centered finite-difference gradients of the scalar ``f(*Vars)`` w.r.t. each array.

    Independent of backward: only forward values (under no_grad) are used.
    The fourth-order centered stencil (f(x-2h) - 8f(x-h) + 8f(x+h) - f(x+2h)) / 12h
    has truncation error O(h⁴) and rounding error ~eps·|f|/h, so with h = 1e-4
    it resolves gradients to ~1e-11 even where they are small next to f.
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
            f_at = []
            for step in (-2 * h, -h, h, 2 * h):
                a[i] = old + step
                f_at.append(value())
            a[i] = old
            g[i] = (f_at[0] - 8 * f_at[1] + 8 * f_at[2] - f_at[3]) / (12 * h)
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


def grads_agree(ga, gn, f_scale, tol=1e-7, atol=1e-10):
    """Relative error below ``tol``, or a difference at the oracle's own resolution.

    Finite differences cannot resolve a gradient below ~eps·|f|/h (≈1e-12·|f|
    here), so a gradient that is exactly 0 (or tiny, e.g. through a saturated
    tanh) is compared with an absolute floor of ``atol`` per element, scaled by |f|.
    """
    floor = atol * np.sqrt(np.size(ga)) * max(1.0, abs(f_scale))
    return rel_error(ga, gn) < tol or np.linalg.norm(np.ravel(ga - gn)) < floor


def assert_grads_match(f, arrays, tol=1e-7, h=1e-4):
    """backward against finite differences, for every argument."""
    with ad.no_grad():
        f_scale = float(f(*[ad.Var(np.array(a, dtype=np.float64)) for a in arrays]).item())
    for i, (ga, gn) in enumerate(zip(autodiff_grads(f, arrays), numeric_grads(f, arrays, h))):
        assert ga.shape == np.shape(arrays[i])
        assert grads_agree(ga, gn, f_scale, tol), (
            f"argument {i}: relative error {rel_error(ga, gn):.3g}\nad={ga}\nfd={gn}")


def scalarize(op, rng, out_shape):
    """Wrap ``op`` into a scalar function with random weights, so every output element counts."""
    R = rng.standard_normal(out_shape)
    return lambda *vs: (op(*vs) * R).sum()
