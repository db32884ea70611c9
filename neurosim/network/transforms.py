"""Structured connection transforms: a 2-D convolution between populations laid out as images.

A connection's weights are a dense (post, pre) array, a scipy.sparse matrix, or a
:class:`Convolution`. The convolution keeps its structure in the description (kernel, stride,
padding, input shape), so exporters can write it as such (NIR ``Conv2d``), and the runtime
propagates spikes through a sparse table built from the kernel: memory grows with
``pre.n * out_ch * kh * kw / stride**2``, never with the dense ``post.n * pre.n``.

Layout, as in PyTorch: a population of ``C * H * W`` neurons is an image (C, H, W) flattened
row-major (neuron ``c * H * W + y * W + x``), and the kernel is ``Conv2d.weight``
(out_ch, in_ch, kh, kw), applied as a cross-correlation::

    out[o, i, j] = sum_{c, u, v} kernel[o, c, u, v] * in[c, i * sh - ph + u, j * sw - pw + v]

(zero outside the input).
"""
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .. import validation as check


def _pair(name, value, low):
    """An int or a pair of ints >= low, as a tuple of two ints."""
    values = (value, value) if np.ndim(value) == 0 else tuple(value)
    if len(values) != 2:
        raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
    return tuple(check.check_int(name, v, low=low) for v in values)


class Convolution:
    """A 2-D convolution as the transform of a connection (Nengo's ``Convolution``).

    Parameters
    ----------
    kernel : array_like, shape (out_ch, in_ch, kh, kw)
        Weights, in the units of a connection's weights (charge per spike).
    input_shape : tuple (C, H, W)
        Layout of the presynaptic population (``pre.n == C * H * W``, C == in_ch).
    stride : int or (int, int)
    padding : int or (int, int)
        Zero padding on each side.

    Attributes
    ----------
    output_shape : tuple (out_ch, H_out, W_out)
        Layout of the postsynaptic population, ``H_out = (H + 2 ph - kh) // sh + 1``.
    shape : tuple (post.n, pre.n)
        The shape of the equivalent weight matrix (which is never formed densely).

    Examples
    --------
    >>> import numpy as np, neurosim
    >>> conv = neurosim.Convolution(np.ones((4, 1, 3, 3)) * 0.01, input_shape=(1, 8, 8), padding=1)
    >>> conv.output_shape, conv.shape
    ((4, 8, 8), (256, 64))
    """

    def __init__(self, kernel, input_shape, stride=1, padding=0):
        kernel = check.finite_array("kernel", kernel)
        if kernel.ndim != 4 or 0 in kernel.shape:
            raise ValueError(f"kernel must have shape (out_ch, in_ch, kh, kw), got shape {kernel.shape}")
        shape = tuple(np.atleast_1d(np.asarray(input_shape)).tolist()) if np.ndim(input_shape) else (input_shape,)
        if len(shape) != 3:
            raise ValueError(f"input_shape must be (C, H, W), got {input_shape!r}")
        C, H, W = (check.check_int("input_shape", v, low=1) for v in shape)
        if C != kernel.shape[1]:
            raise ValueError(f"input_shape has C={C} channels but the kernel expects in_ch={kernel.shape[1]}")
        self.stride = _pair("stride", stride, 1)
        self.padding = _pair("padding", padding, 0)
        kh, kw = kernel.shape[2:]
        Ho = (H + 2 * self.padding[0] - kh) // self.stride[0] + 1
        Wo = (W + 2 * self.padding[1] - kw) // self.stride[1] + 1
        if Ho < 1 or Wo < 1:
            raise ValueError(f"a {kh}x{kw} kernel with padding {self.padding} does not fit the input {H}x{W}")
        self.kernel = kernel.copy()
        self.kernel.setflags(write=False)
        self.input_shape = (C, H, W)
        self.output_shape = (kernel.shape[0], Ho, Wo)
        self.shape = (int(np.prod(self.output_shape)), C * H * W)

    @property
    def nnz_bound(self):
        """Entries of the sparse table before edge clipping: post.n * in_ch * kh * kw."""
        return self.shape[0] * int(np.prod(self.kernel.shape[1:]))

    def to_sparse(self):
        """The equivalent (post, pre) weights as a scipy.sparse CSR matrix, built row by row without a dense array.

        Rows (post neurons) come out in order and, within a row, columns increase with (c, u, v),
        so the CSR arrays are written directly: the temporaries are the size of the result.
        """
        import scipy.sparse as sp
        O, C, kh, kw = self.kernel.shape
        _, H, W = self.input_shape
        _, Ho, Wo = self.output_shape
        (sh, sw), (ph, pw) = self.stride, self.padding
        y = (np.arange(Ho) * sh - ph)[:, None] + np.arange(kh)  # (Ho, kh) input row of kernel row u
        x = (np.arange(Wo) * sw - pw)[:, None] + np.arange(kw)  # (Wo, kw)
        # inside[i, j, u, v]: the kernel tap lands in the image (the same for every channel)
        inside = ((y >= 0) & (y < H))[:, None, :, None] & ((x >= 0) & (x < W))[None, :, None, :]
        per_pixel = inside.reshape(Ho * Wo, -1).sum(axis=1) * C  # entries in each row of one output channel
        counts = np.tile(per_pixel, O)
        indptr = np.zeros(O * Ho * Wo + 1, dtype=np.int64)
        np.cumsum(counts, out=indptr[1:])
        taps = np.broadcast_to(inside[:, :, None], (Ho, Wo, C, kh, kw))  # (i, j, c, u, v)
        pre = ((np.arange(C)[:, None, None] * H + y[:, None, None, :, None]) * W
               + x[None, :, None, None, :])  # (Ho, Wo, C, kh, kw) by broadcasting
        pre = np.broadcast_to(pre, taps.shape)[taps].astype(np.int32 if C * H * W < 2**31 else np.int64)
        indices = np.tile(pre, O)
        data = np.empty(indices.size)
        ii, jj, cc, uu, vv = np.nonzero(taps)
        block = pre.size
        for o in range(O):  # one output channel at a time: temporaries stay one channel's size
            data[o * block:(o + 1) * block] = self.kernel[o, cc, uu, vv]
        return sp.csr_matrix((data, indices, indptr), shape=self.shape)

    def to_sparse_rows(self):
        """The transpose of :meth:`to_sparse`, one CSR row per presynaptic neuron (shape (pre.n, post.n)).

        What the runtime propagates spikes through. Computed once and kept (the kernel is
        immutable); each call returns a copy of the kept matrix, so callers may change theirs.
        """
        if getattr(self, "_rows", None) is None:
            rows = self.to_sparse().T.tocsr()
            rows.sum_duplicates()
            self._rows = rows
        return self._rows.copy()

    def apply(self, x, out=None):
        """Convolve a batch of flat images: ``x`` (n, pre.n) -> (n, post.n), with im2col and BLAS products.

        The dense counterpart of the sparse table (equal to ``x @ to_sparse().T`` to float
        rounding), for many inputs at once: the runtime uses it to propagate a step's spike
        maps of all trials when many neurons spike. Images are laid out samples last, so
        every copy moves runs of n values. With a horizontal stride of 1 the patches are
        gathered for whole kernel rows only (n * H_out * W_in * in_ch * kh floats; each kernel
        column is then a contiguous slice, one GEMM per output row and kernel column), else
        as the full patch matrix (n * H_out * W_out * in_ch * kh * kw floats, one GEMM);
        never the (post, pre) matrix.

        A kernel that is constant over aligned ``stride`` x ``stride`` blocks (an average pool
        composed into the next convolution is one) is applied as the block sums of the input
        (a sum pool with that stride) convolved with stride 1 by the block values: the same
        sums regrouped, with stride**2 times fewer products.

        Parameters
        ----------
        x : array_like, shape (n, pre.n) or (n, C, H, W)
        out : ndarray, shape (n, post.n), float64, optional
            When given, the result is added into it (and it is returned).

        Returns
        -------
        ndarray, shape (n, post.n)
        """
        C, H, W = self.input_shape
        x = check.real_array("x", x)
        if x.ndim not in (2, 4) or x.shape[0] == 0 or x[0].size != C * H * W:
            raise ValueError(f"x must have shape (n, {C * H * W}) or (n, {C}, {H}, {W}), got {x.shape}")
        n = x.shape[0]
        if out is None:
            out = np.zeros((n, self.shape[0]))
        elif not isinstance(out, np.ndarray) or out.dtype != np.float64:
            raise TypeError(f"out must be a float64 numpy array, got {type(out).__name__}"
                            + (f" of {out.dtype}" if isinstance(out, np.ndarray) else ""))
        elif out.shape != (n, self.shape[0]) or not out.flags.c_contiguous:
            raise ValueError(f"out must be a C-contiguous array of shape ({n}, {self.shape[0]}), got shape "
                             f"{out.shape}" + ("" if out.flags.c_contiguous else " (not C-contiguous)"))
        # samples last: every copy below then moves runs of n contiguous values
        self.apply_columns(np.ascontiguousarray(x.reshape(n, -1).T), out)
        return out

    def apply_columns(self, x, out):
        """As :meth:`apply` for inputs laid out samples last: ``x`` (pre.n, n), C-contiguous (one column
        per sample, i.e. (C, H, W, n)); the result is added into ``out`` (n, post.n).

        The runtime builds a step's spike maps directly in this layout.
        """
        C, H, W = self.input_shape
        n = x.shape[1]
        if not out.flags.c_contiguous:  # the result is added through a reshaped view of out
            raise ValueError("out must be C-contiguous")
        x = x.reshape(C, H, W, n)
        K, (sh, sw) = self._factored()
        ph, pw = self.padding
        O, _, kh, kw = K.shape
        _, Ho, Wo = self.output_shape
        if ph or pw:
            padded = self._scratch("padded", (C, H + 2 * ph, W + 2 * pw, n), zero=True)
            padded[:, ph:ph + H, pw:pw + W] = x  # the border is never written: it stays zero
            x = padded
        if (sh, sw) != self.stride:  # block-constant kernel: sum-pool by the stride, then stride 1
            bh, bw = self.stride
            Hb, Wb = Ho - 1 + kh, Wo - 1 + kw
            pooled = self._scratch("pooled", (C, Hb, Wb, n))
            np.copyto(pooled, x[:, 0:Hb * bh:bh, 0:Wb * bw:bw])
            for p in range(bh):
                for q in range(bw):
                    if p or q:
                        pooled += x[:, p:Hb * bh:bh, q:Wb * bw:bw]
            x = pooled
        self._convolve_grid(x, out)

    def apply_events(self, pre, trial, weight, n, out, compiled=False):
        """Add into ``out`` (n, post.n) the convolution of event maps: event e puts ``weight[e]`` on presynaptic
        neuron ``pre[e]`` of sample ``trial[e]`` (repeats add up).

        Equal to :meth:`apply_columns` of the (pre.n, n) map the events make, to rounding: the events are
        summed straight into the (zero-padded, and for a block kernel sum-pooled) grid the convolution reads,
        so no full-size map is built. What the runtime calls for a busy step of a batch.
        ``compiled``: fill the grid with the numba kernel :func:`neurosim.neurons.fused.event_grid`
        (one pass over the events, the same sums in the same order; numba must be importable).
        ``trial=None``: ``pre`` holds flat indices ``trial * pre.n + pre`` (how the runtime numbers a batch's
        spikes; with ``compiled`` they are divided in the kernel, :func:`~neurosim.neurons.fused.event_grid_flat`).
        """
        C, H, W = self.input_shape
        if not out.flags.c_contiguous:
            raise ValueError("out must be C-contiguous")
        K, (sh, sw) = self._factored()
        ph, pw = self.padding
        kh, kw = K.shape[2:]
        _, Ho, Wo = self.output_shape
        if compiled:
            from ..neurons.fused import event_grid, event_grid_flat
            cells, (Hg, Wg) = self._event_cells()
            grid = self._scratch("grid", (C * Hg * Wg * n,))
            if trial is None:
                event_grid_flat(pre, C * H * W, weight, cells, n, grid)
            else:
                event_grid(pre, trial, weight, cells, n, grid)
            self._convolve_grid(grid.reshape(C, Hg, Wg, n), out)
            return
        if trial is None:
            trial, pre = np.divmod(pre, C * H * W)
        c, rest = np.divmod(pre, H * W)
        y, x = np.divmod(rest, W)
        y, x = y + ph, x + pw  # in the padded image
        if (sh, sw) != self.stride:  # block kernel: each event lands in its stride x stride block
            bh, bw = self.stride
            Hg, Wg = Ho - 1 + kh, Wo - 1 + kw
            y, x = y // bh, x // bw
            keep = (y < Hg) & (x < Wg)  # rows/columns past the last whole block reach no output
            if not keep.all():
                c, y, x, trial, weight = c[keep], y[keep], x[keep], trial[keep], weight[keep]
        else:
            Hg, Wg = H + 2 * ph, W + 2 * pw
        grid = np.bincount(((c * Hg + y) * Wg + x) * n + trial, weights=weight, minlength=C * Hg * Wg * n)
        self._convolve_grid(grid.reshape(C, Hg, Wg, n), out)

    def _event_cells(self):
        """(cells, (Hg, Wg)): for each presynaptic neuron, its cell ``(c Hg + y) Wg + x`` in the grid of
        :meth:`apply_events` (padded, block-pooled for a block kernel), -1 past the last whole block (cached)."""
        if getattr(self, "_cells", None) is None:
            C, H, W = self.input_shape
            K, (sh, sw) = self._factored()
            ph, pw = self.padding
            kh, kw = K.shape[2:]
            _, Ho, Wo = self.output_shape
            c, rest = np.divmod(np.arange(C * H * W), H * W)
            y, x = np.divmod(rest, W)
            y, x = y + ph, x + pw
            if (sh, sw) != self.stride:  # as apply_events: the block of each input pixel
                Hg, Wg = Ho - 1 + kh, Wo - 1 + kw
                y, x = y // self.stride[0], x // self.stride[1]
            else:
                Hg, Wg = H + 2 * ph, W + 2 * pw
            self._cells = (np.where((y < Hg) & (x < Wg), (c * Hg + y) * Wg + x, -1), (Hg, Wg))
        return self._cells

    def _convolve_grid(self, x, out):
        """Add the convolution of the prepared grid ``x`` (C, Hg, Wg, n) -- padded, and sum-pooled for a block
        kernel -- with the factored kernel and stride (no padding) into ``out`` (n, post.n)."""
        K, (sh, sw) = self._factored()
        O, C, kh, kw = K.shape
        _, Ho, Wo = self.output_shape
        n = x.shape[3]
        Wp = x.shape[2]
        target = out.reshape(n, O, Ho, Wo)
        if sw == 1:
            # im2col over kernel rows only: rows (c, u) of patch row i are image rows i*sh + u, whole
            # width; tap column v is then the contiguous slice [v n, (v + Wo) n) of a row (width x samples)
            rows = self._scratch("rows", (Ho, C, kh, Wp * n))
            flat = x.reshape(C, x.shape[1], Wp * n)
            for u in range(kh):
                rows[:, :, u] = flat[:, u:u + sh * (Ho - 1) + 1:sh].transpose(1, 0, 2)
            rows = rows.reshape(Ho, C * kh, Wp * n)
            Kv = self._by_column(K)
            y = np.matmul(Kv[0], rows[:, :, :Wo * n], out=self._scratch("y", (Ho, O, Wo * n)))  # a GEMM per row
            if kw > 1:
                part = self._scratch("part", y.shape)
                for v in range(1, kw):
                    y += np.matmul(Kv[v], rows[:, :, v * n:(v + Wo) * n], out=part)
            target += y.reshape(Ho, O, Wo, n).transpose(3, 1, 0, 2)
            return
        patches = sliding_window_view(x, (kh, kw), axis=(1, 2))[:, ::sh, ::sw]  # (C, Ho, Wo, n, kh, kw)
        cols = self._scratch("cols", (C, kh, kw, Ho, Wo, n))
        np.copyto(cols, patches.transpose(0, 4, 5, 1, 2, 3))
        y = K.reshape(O, -1) @ cols.reshape(C * kh * kw, -1)  # (O, Ho * Wo * n), one GEMM
        target += y.reshape(O, Ho, Wo, n).transpose(3, 0, 1, 2)

    def _scratch(self, name, shape, zero=False):
        """A float64 work array of ``shape``, kept between calls while the shape holds (a step's maps are
        megabytes: fresh ones would be page-faulted in every step). ``zero``: zeros when made."""
        buffers = self.__dict__.setdefault("_buffers", {})
        buf = buffers.get(name)
        if buf is None or buf.shape != shape:
            buf = buffers[name] = np.zeros(shape) if zero else np.empty(shape)
        return buf

    def _by_column(self, K):
        """The kernel's columns v as contiguous (out_ch, in_ch * kh) matrices (cached)."""
        if getattr(self, "_columns", None) is None:
            self._columns = [np.ascontiguousarray(K[:, :, :, v].reshape(K.shape[0], -1)) for v in range(K.shape[3])]
        return self._columns

    def _factored(self):
        """(kernel, stride) for :meth:`apply`: the block values and stride 1 when the kernel is constant over
        aligned stride x stride blocks (and the kernel size is a multiple of the stride), else as given."""
        if getattr(self, "_factors", None) is None:
            K, (sh, sw) = self.kernel, self.stride
            kh, kw = K.shape[2:]
            self._factors = (K, (sh, sw))
            if (sh > 1 or sw > 1) and kh % sh == 0 and kw % sw == 0:
                blocks = K.reshape(K.shape[0], K.shape[1], kh // sh, sh, kw // sw, sw)
                if np.all(blocks == blocks[:, :, :, :1, :, :1]):
                    self._factors = (np.ascontiguousarray(blocks[:, :, :, 0, :, 0]), (1, 1))
        return self._factors

    _CACHES = ("_factors", "_columns", "_rows", "_buffers", "_cells", "_runtime")

    def __getstate__(self):
        """The description only: the kept table, factored kernel and work arrays are rebuilt on demand."""
        return {k: v for k, v in self.__dict__.items() if k not in self._CACHES}

    def __setstate__(self, state):
        self.__dict__.update(state)
        self.kernel.setflags(write=False)  # immutable again (the kept tables rely on it)

    def __repr__(self):
        return (f"Convolution(kernel {self.kernel.shape}, input_shape={self.input_shape}, stride={self.stride}, "
                f"padding={self.padding})")
