"""Lazy imports of optional dependencies, with an install hint when they are missing."""
import importlib
import os

#: how to get the compiled backend
NUMBA_INSTALL = "pip install 'neurosim-ratenet[fast]' (or pip install numba)"


def require(module, extra, package=None):
    """Import ``module`` or raise ImportError naming the extra that provides it.

    Parameters
    ----------
    module : str
        Dotted module name, e.g. ``"nir"`` or ``"pyNN.nest"``.
    extra : str
        The ``[project.optional-dependencies]`` extra that installs it (``"nir"``, ``"pynn"``).
    package : str, optional
        PyPI name(s) to mention in the message (default: the top-level module name).
    """
    try:
        return importlib.import_module(module)
    except ImportError as err:
        package = package or module.split(".")[0]
        raise ImportError(
            f"{module} is needed for this export but could not be imported ({err}). "
            f"Install it with `pip install '.[{extra}]'` (from the repository root) "
            f"or `pip install {package}`."
        ) from err


def numba_available():
    """True when numba can be imported (checked at each call: cheap once imported)."""
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def numba_enabled():
    """True when the compiled paths are used by default: numba importable and ``NEUROSIM_BACKEND`` not "numpy"."""
    return os.environ.get("NEUROSIM_BACKEND") != "numpy" and numba_available()


def require_numba():
    """Raise an ImportError that says how to install numba when it is not importable."""
    try:
        import numba  # noqa: F401
    except ImportError as err:
        raise ImportError(f"backend='numba' needs numba, which is not importable ({err}); install the "
                          f"optional extra [fast]: {NUMBA_INSTALL}, or use backend='numpy' or 'auto'") from None


#: modules (relative to the package) whose numba kernels are cached on disk
CACHED_KERNEL_MODULES = ("network/compiled/kernels.py", "network/compiled/hh.py", "network/compiled/precise.py",
                         "neurons/lif/compiled.py", "neurons/hh/compiled.py", "neurons/fused.py")
#: the folders whose sources compiled kernels take code or constants from (numba keys a cached kernel on its
#: own file's time stamp only, so a kernel that inlines a function or a constant of another file keeps stale
#: machine code when only that file changed: an edited checkout, a ``git pull`` on an editable install)
KERNEL_SOURCES = ("neurons", "synapses", "network/compiled", "network/precise")
_STAMP = "numba-kernels.sha1"
_checked = set()


def fresh_kernel_cache(root=None, modules=CACHED_KERNEL_MODULES, sources=KERNEL_SOURCES):
    """Delete the on-disk numba caches of ``modules`` when a source they may use changed since the last check.

    Called (once per process) by every module that defines cached kernels, before any kernel is loaded.
    The SHA-1 of the ``.py`` files below ``sources`` is kept in ``<root>/__pycache__/numba-kernels.sha1``;
    when it differs (or is missing), the ``*.nbi``/``*.nbc`` files of each module are removed, so numba
    compiles afresh. A folder that cannot be written is left alone (numba then caches elsewhere, and such
    an install is replaced whole, which changes every time stamp numba checks).

    Parameters
    ----------
    root : path-like, optional
        The package folder (default: neurosim's).
    modules : sequence of str
        Modules with cached kernels, relative to ``root``.
    sources : sequence of str
        Folders (relative to ``root``) whose ``.py`` files the digest covers.
    """
    import hashlib
    from pathlib import Path

    root = Path(root) if root is not None else Path(__file__).parent
    if root in _checked:
        return
    _checked.add(root)
    try:
        digest = hashlib.sha1()
        for folder in sources:
            for path in sorted((root / folder).rglob("*.py")):
                digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
        stamp = root / "__pycache__" / _STAMP
        if stamp.exists() and stamp.read_text() == digest.hexdigest():
            return
        for name in modules:
            module = root / name
            for cached in (module.parent / "__pycache__").glob(f"{module.stem}.*.nb[ic]"):
                cached.unlink()
        stamp.parent.mkdir(exist_ok=True)
        stamp.write_text(digest.hexdigest())
    except OSError:
        return
