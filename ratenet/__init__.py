"""ratenet: feed-forward backprop rate networks in numpy.

Every public name is importable from here, e.g. ``ratenet.Dense``,
``ratenet.Sequential``, ``ratenet.Adam``, ``ratenet.CategoricalCrossEntropy``.
"""
from .parameter import Parameter

__version__ = "0.1.0"
