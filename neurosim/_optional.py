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
