"""Property tests for ratenet.autodiff over random expression trees (hypothesis)."""
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings, strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from autodiff_helpers import autodiff_grads, grads_agree, numeric_grads, rel_error  # noqa: E402
from ratenet import autodiff as ad  # noqa: E402

# Three leaves whose shapes broadcast together to (3, 4).
SHAPES = [(3, 4), (4,), (3, 1)]

# Smooth operations whose values stay moderate for inputs in [-2, 2], so
# finite differences are accurate; each is (name, arity, function).
UNARY = [
    ("sin", ad.sin), ("cos", ad.cos), ("tanh", ad.tanh), ("sigmoid", ad.sigmoid),
    ("softplus", ad.softplus), ("neg", lambda a: -a), ("square", lambda a: a ** 2),
    ("exp_tanh", lambda a: ad.exp(ad.tanh(a))), ("log1p_sq", lambda a: ad.log(1 + a * a)),
    ("softmax", lambda a: ad.softmax(a, axis=-1)), ("log_softmax", ad.log_softmax),
    ("row_mean", lambda a: ad.mean(a, axis=-1, keepdims=True)),
    ("col_sum", lambda a: ad.sum(a, axis=0, keepdims=True) * 0.5),
]
BINARY = [
    ("add", lambda a, b: a + b), ("sub", lambda a, b: a - b), ("mul", lambda a, b: a * b),
    ("div", lambda a, b: a / (1.5 + ad.sin(b))),
    ("matmul", lambda a, b: ad.tanh(a @ b.T) @ b * 0.25),
]


def _as_matrix(v):
    # matmul needs matching inner dimensions; lift any operand to (3, 4).
    return v + np.zeros((3, 4)) if v.shape != (3, 4) else v


def trees():
    leaf = st.sampled_from(range(len(SHAPES))).map(lambda i: ("leaf", i))

    def extend(children):
        return st.one_of(
            st.tuples(st.sampled_from(range(len(UNARY))), children).map(lambda t: ("u",) + t),
            st.tuples(st.sampled_from(range(len(BINARY))), children, children)
            .map(lambda t: ("b",) + t))

    return st.recursive(leaf, extend, max_leaves=8)


def evaluate(tree, leaves):
    kind = tree[0]
    if kind == "leaf":
        return leaves[tree[1]]
    if kind == "u":
        return UNARY[tree[1]][1](evaluate(tree[2], leaves))
    name, fn = BINARY[tree[1]]
    a, b = evaluate(tree[2], leaves), evaluate(tree[3], leaves)
    if name == "matmul":
        a, b = _as_matrix(a), _as_matrix(b)
    return fn(a, b)


def leaf_values():
    return st.tuples(*[hnp.arrays(np.float64, s, elements=st.floats(-2, 2)) for s in SHAPES])


def scalar_loss(tree, weights):
    # Every output shape here broadcasts to (3, 4); random weights make every element count.
    return lambda *leaves: ad.sum(evaluate(tree, leaves) * weights)


PROPERTY_SETTINGS = settings(max_examples=150, deadline=None, derandomize=True)


@PROPERTY_SETTINGS
@given(tree=trees(), values=leaf_values(), seed=st.integers(0, 2**16))
def test_random_expression_gradient_matches_finite_differences(tree, values, seed):
    weights = np.random.default_rng(seed).standard_normal((3, 4))
    f = scalar_loss(tree, weights)
    with ad.no_grad():
        f_scale = f(*[ad.Var(v) for v in values]).item()
    for i, (ga, gn) in enumerate(zip(autodiff_grads(f, values), numeric_grads(f, values))):
        assert ga.shape == SHAPES[i]
        assert grads_agree(ga, gn, f_scale), (tree, i, rel_error(ga, gn), ga, gn)


@PROPERTY_SETTINGS
@given(tree=trees(), values=leaf_values(), seed=st.integers(0, 2**16),
       alpha=st.floats(-3, 3), beta=st.floats(-3, 3))
def test_backward_is_linear_in_the_seed(tree, values, seed, alpha, beta):
    """backward(αs₁ + βs₂) = α·backward(s₁) + β·backward(s₂): it is a vector-Jacobian product."""
    rng = np.random.default_rng(seed)

    def grads(seed_fn):
        leaves = [ad.Var(v) for v in values]
        out = evaluate(tree, leaves)
        if not out.requires_grad:
            return None
        out.backward(seed_fn(out.shape))
        return [v.grad for v in leaves]

    probe = evaluate(tree, [ad.Var(v) for v in values])
    s1, s2 = rng.standard_normal(probe.shape), rng.standard_normal(probe.shape)
    g1, g2 = grads(lambda _: s1), grads(lambda _: s2)
    g12 = grads(lambda _: alpha * s1 + beta * s2)
    for a, b, c in zip(g1, g2, g12):
        np.testing.assert_allclose(c, alpha * a + beta * b, rtol=1e-9, atol=1e-9)


@PROPERTY_SETTINGS
@given(values=leaf_values(), tree=trees())
def test_no_grad_gives_the_same_values(values, tree):
    with_graph = evaluate(tree, [ad.Var(v) for v in values])
    with ad.no_grad():
        without = evaluate(tree, [ad.Var(v) for v in values])
    assert without.creator is None
    np.testing.assert_array_equal(with_graph.value, without.value)
