"""Lazy imports of optional dependencies, with an install hint when they are missing."""
import importlib


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
