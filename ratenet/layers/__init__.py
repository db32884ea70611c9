"""Layers: the ``Layer`` contract and the built-in layers.

- ``base``           ``Layer``, the layer registry, batch and argument checks
- ``dense``          ``Dense`` (fully connected, ``Z = X Wᵀ + b``)
- ``conv``           ``Conv2D``, ``AvgPool2D``, ``MaxPool2D``, ``Flatten`` (image batches (n, C, H, W))
- ``normalization``  ``BatchNorm`` (per feature, or per channel of images)
- ``dropout``        ``Dropout``

Every name is importable from here (``from ratenet.layers import Dense``) and
from ``ratenet``.
"""
from .base import (LAYER_REGISTRY, Layer, _check_dtype, _check_float, all_finite, backward_args,
                   check_batch, check_targets, shape_text, shapes_match)
from .dense import Dense
from .conv import AvgPool2D, Conv2D, Flatten, MaxPool2D
from .normalization import BatchNorm
from .dropout import Dropout

__all__ = ["Layer", "Dense", "Conv2D", "AvgPool2D", "MaxPool2D", "Flatten", "BatchNorm", "Dropout",
           "LAYER_REGISTRY"]
