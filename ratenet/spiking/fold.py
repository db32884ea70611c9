"""A Sequential cut into the linear maps between its activations, for conversion to spikes.

Between two populations of spiking neurons there can only be one connection, so every run
of linear layers between two activations is folded into one linear map ``z = A(s) + b``:

* ``Dense`` is a (post, pre) matrix; ``Conv2D`` a :class:`neurosim.Convolution` (its
  kernel, stride, padding and input shape; never the dense matrix);
* ``BatchNorm`` (inference mode: running mean and variance, gamma, beta, eps, as
  :class:`ratenet.BatchNorm` evaluates) is folded into the map before it: per output
  channel/feature, ``W ← W·g``, ``b ← (b − mean)·g + beta`` with ``g = gamma/sqrt(var + eps)``;
* ``AvgPool2D`` is a convolution with the fixed kernel 1/(kh·kw) on each channel (as
  Rueckauer et al. 2017 convert it), composed with the maps around it: a pool between an
  activation and a ``Conv2D`` gives one convolution with a larger kernel and stride, a pool
  before ``Flatten → Dense`` gives the Dense matrix over the unpooled image;
* ``Flatten`` changes nothing: ratenet flattens (C, H, W) row-major, which is neurosim's
  image layout (neuron ``c·H·W + y·W + x``);
* ``Dropout`` is the identity at inference;
* ``MaxPool2D`` has no rate-exact spiking form and is refused.

Every fold is exact in real arithmetic (tests compare with the unfolded rate model to 1e-10).
"""
import numpy as np

from neurosim import Convolution

from ..layers import AvgPool2D, BatchNorm, Conv2D, Dense, Dropout, Flatten, MaxPool2D

__all__ = ["LinearMap", "fold_batchnorm", "pool_convolution", "compose"]


class LinearMap:
    """``z = A(s) + b`` on flat inputs: A a dense (post, pre) array or a :class:`neurosim.Convolution`.

    Attributes
    ----------
    A : ndarray (n_out, n_in) or neurosim.Convolution
    b : ndarray (n_out,)  -- one value per output neuron
    out_shape : int or (C, H, W)
    """

    def __init__(self, A, b, out_shape):
        self.A, self.b, self.out_shape = A, np.asarray(b, dtype=np.float64), out_shape

    @property
    def is_conv(self):
        return isinstance(self.A, Convolution)

    @property
    def shape(self):
        return self.A.shape

    def apply(self, S):
        """A(S) for rows S (n, n_in) -> (n, n_out); a convolution through ``Convolution.apply`` (im2col, no dense matrix)."""
        if not self.is_conv:
            return S @ self.A.T
        return self.A.apply(S)

    def scaled(self, factor):
        """A · factor (a new dense array or Convolution)."""
        if not self.is_conv:
            return self.A * factor
        # the same factor gives the same Convolution object, whose propagation table neurosim keeps: predict's
        # batches then build their networks without recomputing it
        cached = getattr(self, "_scaled", None)
        if cached is None or cached[0] is not self.A or cached[1] != factor:
            c = self.A
            cached = self._scaled = (c, factor, Convolution(c.kernel * factor, c.input_shape, c.stride, c.padding))
        return cached[2]

    def channel_bias(self):
        """The bias per output channel of a convolution (b is constant over each channel's pixels)."""
        C = self.A.output_shape[0]
        return self.b.reshape(C, -1)[:, 0]


def fold_batchnorm(W, b, bn):
    """(W, b) of a Conv2D/Dense followed by ``bn`` in inference mode, as one layer.

    Parameters
    ----------
    W : ndarray (out, ...) ; b : ndarray (out,)
    bn : ratenet.BatchNorm with ``n_features == out``

    Returns
    -------
    W', b' : float64 arrays
    """
    g = bn.gamma.data.astype(np.float64) / np.sqrt(bn.running_var.astype(np.float64) + bn.eps)
    W = W * g.reshape((-1,) + (1,) * (W.ndim - 1))
    b = (b - bn.running_mean.astype(np.float64)) * g + bn.beta.data.astype(np.float64)
    return W, b


def pool_convolution(pool, in_shape):
    """AvgPool2D as a :class:`neurosim.Convolution`: kernel 1/(kh·kw) from each channel to itself."""
    C = in_shape[0]
    kernel = np.zeros((C, C) + pool.kernel)
    kernel[np.arange(C), np.arange(C)] = 1.0 / (pool.kernel[0] * pool.kernel[1])
    return Convolution(kernel, in_shape, pool.stride, pool.padding)


def compose(first, second, where):
    """``second ∘ first`` as one :class:`LinearMap` (exact; refused where no single map is exact).

    Dense after anything: a dense matrix (second.A @ first's matrix, built column-wise from
    first's sparse form for a convolution). Convolution after convolution: one convolution
    with kernel size (k2 − 1)·s1 + k1, stride s1·s2 and padding p2·s1 + p1, exact when the
    second has no padding, or when the first tiles its input exactly (stride = kernel, no
    padding, no remainder) and has no bias.
    """
    if not second.is_conv:
        if first.is_conv:
            sp = first.A.to_sparse()                           # (mid, pre)
            A = np.asarray((sp.T @ second.A.T).T)              # (out, pre): second's own (dense) size × pool
            return LinearMap(A, second.A @ first.b + second.b, second.out_shape)
        return LinearMap(second.A @ first.A, second.A @ first.b + second.b, second.out_shape)
    if not first.is_conv:
        raise ValueError(f"{where}: a Conv2D after a Dense layer without an activation between has "
                         "no convolution form")
    c1, c2 = first.A, second.A
    k1, s1, p1 = np.array(c1.kernel.shape[2:]), np.array(c1.stride), np.array(c1.padding)
    k2, s2, p2 = np.array(c2.kernel.shape[2:]), np.array(c2.stride), np.array(c2.padding)
    if np.any(p2):
        tiles = np.all(k1 == s1) and not np.any(p1) and \
            all(h == k * m for h, k, m in zip(c1.input_shape[1:], s1, c1.output_shape[1:]))
        if not tiles or np.any(first.b):
            raise ValueError(f"{where}: the padded layer after {c1!r} has no exact single-convolution "
                             "form; use padding 0 there, or a pool that tiles its input exactly")
    K = np.zeros((c2.kernel.shape[0], c1.kernel.shape[1]) + tuple((k2 - 1) * s1 + k1))
    for a in range(k2[0]):
        for c in range(k2[1]):
            K[:, :, a * s1[0]:a * s1[0] + k1[0], c * s1[1]:c * s1[1] + k1[1]] += \
                np.einsum("om,mcuv->ocuv", c2.kernel[:, :, a, c], c1.kernel)
    conv = Convolution(K, c1.input_shape, tuple(s1 * s2), tuple(p2 * s1 + p1))
    if conv.output_shape != c2.output_shape:
        raise ValueError(f"{where}: composing {c1!r} with {c2!r} changes the output shape "
                         f"({conv.output_shape} instead of {c2.output_shape}); crop the image or change the stride")
    b_mid = first.channel_bias()
    b = np.repeat(second.channel_bias() + np.einsum("omuv,m->o", c2.kernel, b_mid),
                  int(np.prod(c2.output_shape[1:])))
    return LinearMap(conv, b, conv.output_shape)


def linear_map(layer, shape, where):
    """One layer as a LinearMap on the flat input of ``shape`` (int or (C, H, W)); None for a no-op."""
    if isinstance(layer, Dense):
        if isinstance(shape, tuple):
            shape = int(np.prod(shape))   # Dense directly on images flattens them row-major too
        W = layer.W.astype(np.float64)
        b = np.zeros(W.shape[0]) if layer.b is None else layer.b.astype(np.float64)
        if W.shape[1] != shape:
            raise ValueError(f"{where}: {layer!r} expects {W.shape[1]} inputs, the layer before gives {shape}")
        return LinearMap(W, b, W.shape[0])
    if isinstance(layer, Conv2D):
        if not isinstance(shape, tuple):
            raise ValueError(f"{where}: {layer!r} needs images (C, H, W); pass input_shape=(C, H, W) "
                             f"to to_spiking (the layer before gives {shape} flat features)")
        conv = Convolution(layer.W.astype(np.float64), shape, layer.stride, layer.padding)
        b = np.zeros(layer.out_ch) if layer.b is None else layer.b.astype(np.float64)
        return LinearMap(conv, np.repeat(b, int(np.prod(conv.output_shape[1:]))), conv.output_shape)
    if isinstance(layer, AvgPool2D):
        if not isinstance(shape, tuple):
            raise ValueError(f"{where}: {layer!r} needs images (C, H, W), got {shape} flat features")
        conv = pool_convolution(layer, shape)
        return LinearMap(conv, np.zeros(conv.shape[0]), conv.output_shape)
    if isinstance(layer, MaxPool2D):
        raise ValueError(f"{where}: MaxPool2D has no rate-exact spiking form (Rueckauer et al. 2017); "
                         "train with AvgPool2D instead to convert the network to spikes")
    raise TypeError(f"{where}: {layer!r} is not a linear layer")


def fold_layers(layers, shape, where):
    """Fold a run of linear layers into one LinearMap on inputs of ``shape``; (map or None, out shape).

    ``layers``: (index, layer) pairs of Dense, Conv2D, AvgPool2D, BatchNorm, Flatten, Dropout.
    """
    current = None
    for i, layer in layers:
        here = f"{where}[{i}]"
        if isinstance(layer, Dropout):
            continue
        if isinstance(layer, Flatten):
            shape = int(np.prod(shape)) if isinstance(shape, tuple) else shape
            continue
        if isinstance(layer, BatchNorm):
            if current is None:
                raise ValueError(f"{here}: BatchNorm must follow a Conv2D, Dense or AvgPool2D layer to be "
                                 "folded into its weights (an input BatchNorm has no spiking form)")
            current = _fold_bn(current, layer, here)
            continue
        step = linear_map(layer, shape, here)
        current = step if current is None else compose(current, step, here)
        shape = step.out_shape
    return current, shape


def _fold_bn(current, bn, where):
    n_out = current.A.output_shape[0] if current.is_conv else current.shape[0]
    if bn.n_features != n_out:
        raise ValueError(f"{where}: BatchNorm({bn.n_features}) after a layer with {n_out} outputs")
    if not current.is_conv:
        W, b = fold_batchnorm(current.A, current.b, bn)
        return LinearMap(W, b, current.out_shape)
    c = current.A
    K, bc = fold_batchnorm(c.kernel, current.channel_bias(), bn)
    conv = Convolution(K, c.input_shape, c.stride, c.padding)
    return LinearMap(conv, np.repeat(bc, int(np.prod(c.output_shape[1:]))), current.out_shape)
