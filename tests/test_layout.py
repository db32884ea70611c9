"""The package layout: imports go one way and form no cycle.

Walks the source of neurosim and ratenet statically (ast), including imports
inside functions (lazy imports form cycles too, just later), and fails on

- any neurosim module importing ratenet (ratenet builds on neurosim, never the reverse);
- any cycle between modules.

Importing a package runs its ``__init__``; the graph here is between modules:
``from .x import y`` is an edge to ``pkg.x`` (or to ``pkg.x.y`` if that is a module),
and ``from . import x`` an edge to ``pkg.x``. An edge into a package ``__init__`` that
only re-exports (``from neurosim import LIF`` from inside neurosim) is resolved to the
module that defines the name, so a convenience import of the top-level package does not
count as a cycle unless the definition itself is in one.
"""
import ast
import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
PACKAGES = ("neurosim", "ratenet")


def _modules():
    """{dotted name: path} for every .py file of both packages."""
    out = {}
    for pkg in PACKAGES:
        for path in (ROOT / pkg).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


MODULES = _modules()


def _is_package(name):
    return MODULES.get(name, pathlib.Path()).name == "__init__.py"


def _resolve(base, level, module):
    """Absolute module name of a (possibly relative) import inside module ``base``."""
    if level == 0:
        return module
    pkg = base if _is_package(base) else base.rpartition(".")[0]
    for _ in range(level - 1):
        pkg = pkg.rpartition(".")[0]
    return f"{pkg}.{module}" if module else pkg


def _reexports(name):
    """{imported name: defining module} for ``from .x import y`` lines of a package __init__."""
    table = {}
    tree = ast.parse(MODULES[name].read_text())
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            target = _resolve(name, node.level, node.module)
            for alias in node.names:
                sub = f"{target}.{alias.name}"
                table[alias.asname or alias.name] = sub if sub in MODULES else target
    return table


def _edges(name):
    """Modules of our packages that module ``name`` imports (anywhere in its body)."""
    tree = ast.parse(MODULES[name].read_text())
    found = set()
    for node in ast.walk(tree):
        targets = []
        if isinstance(node, ast.Import):
            targets = [(a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(name, node.level, node.module)
            targets = [(base, a.name) for a in node.names]
        for module, attr in targets:
            if module.split(".")[0] not in PACKAGES:
                continue
            if attr is not None and f"{module}.{attr}" in MODULES:
                found.add(f"{module}.{attr}")
            elif attr is not None and _is_package(module) and module != name:
                found.add(_reexports(module).get(attr, module))
            else:
                found.add(module)
    found.discard(name)
    return {m for m in found if m in MODULES}


GRAPH = {name: _edges(name) for name in MODULES}


def _cycles(graph):
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index, low, on_stack, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        m = stack.pop()
                        on_stack.discard(m)
                        comp.append(m)
                        if m == node:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def test_the_walk_sees_both_packages():
    assert {"neurosim", "ratenet", "ratenet.autodiff.core", "ratenet.model"} <= set(MODULES)
    assert any(m.startswith("ratenet.layers") for m in GRAPH["ratenet.model"])
    # lazy imports inside functions are edges too
    assert any(GRAPH[m] for m in MODULES if m.startswith("ratenet.spiking"))


def test_neurosim_never_imports_ratenet():
    bad = sorted(f"{m} -> {t}" for m, targets in GRAPH.items() if m.startswith("neurosim")
                 for t in targets if t.startswith("ratenet"))
    assert not bad, "neurosim must not import ratenet: " + "; ".join(bad)


def test_no_import_cycles():
    cycles = _cycles(GRAPH)
    assert not cycles, "import cycles between modules: " + "; ".join(" <-> ".join(c) for c in cycles)


@pytest.mark.parametrize("graph, expected", [
    ({"a": {"b"}, "b": {"a"}, "c": set()}, [["a", "b"]]),
    ({"a": {"b"}, "b": {"c"}, "c": set()}, []),
    ({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}, [["a", "b", "c"]]),
])
def test_cycle_finder_finds_cycles(graph, expected):
    assert _cycles(graph) == expected


def _prefix_siblings():
    """Pairs (a, b) of modules or packages in one folder where b's name is a's plus "_..." (precise.py, precise_kernel.py)."""
    found = []
    for pkg in PACKAGES:
        for folder in [ROOT / pkg] + [p for p in (ROOT / pkg).rglob("*") if p.is_dir() and p.name != "__pycache__"]:
            names = sorted({p.stem for p in folder.glob("*.py") if p.stem != "__init__"}
                           | {p.name for p in folder.iterdir() if p.is_dir() and (p / "__init__.py").exists()})
            names = [n.lstrip("_") for n in names]
            found += [(folder.relative_to(ROOT) / a, b) for a in names for b in names
                      if a != b and b.startswith(a + "_")]
    return found


def test_no_prefix_named_siblings():
    """A family of files is a folder (neurons/hh/: model, kinetics, steppers), not hh.py beside hh_kinetics.py."""
    assert not _prefix_siblings()
