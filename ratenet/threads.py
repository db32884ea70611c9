"""One BLAS thread in ratenet's training loop, where more threads were measured to be slower.

A training step multiplies small matrices (batch rows × layer widths). With
OpenBLAS's default of one thread per core, each product waits for all its
threads; on a host whose cores are busy with other work that wait is a
scheduler time slice. ``benchmarks/blas_threads.py`` measured, on a shared
2-core host: ``fit`` on digits 1.7x slower (64-128-10) and 14-15x slower
(64-1024-10) with the default threads than with one, with or without a
competing busy loop; single products of batch 32 were never faster threaded
at any width up to 2,048 (up to 13x slower at 1,024).

So :func:`fit` runs with one BLAS thread (through ``threadpoolctl``, used if
importable: ``pip install threadpoolctl`` or the extra ``[threads]``; it comes
with scikit-learn) when

* the largest weight array of the model has at most
  :data:`MAX_SINGLE_THREAD_SIZE` elements (2,048 x 2,048, the widest measured), and
* the user has not chosen a thread count with ``OPENBLAS_NUM_THREADS``,
  ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS`` or ``BLIS_NUM_THREADS`` (then that
  choice stands).

Without threadpoolctl nothing changes: set ``OPENBLAS_NUM_THREADS=1`` yourself.
"""
import contextlib
import functools
import os

__all__ = ["MAX_SINGLE_THREAD_SIZE", "single_blas_thread", "limit_blas_threads"]

#: Largest weight array (elements) for which training runs with one BLAS thread.
MAX_SINGLE_THREAD_SIZE = 2048 * 2048

#: Environment variables that, when set, mean the user chose the thread count.
THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS")


def _largest_weight(model):
    try:
        return max((p.data.size for p in model.parameters()), default=0)
    except (AttributeError, TypeError):   # not a model: fit itself raises the clear error
        return None


@contextlib.contextmanager
def single_blas_thread(model):
    """Within the block, one BLAS thread if ``model`` is small enough and the user set no thread count.

    Yields True when the limit is in force.
    """
    size = _largest_weight(model)
    if size is None or size > MAX_SINGLE_THREAD_SIZE or any(os.environ.get(v) for v in THREAD_VARIABLES):
        yield False
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield False
        return
    with threadpool_limits(limits=1, user_api="blas"):
        yield True


def limit_blas_threads(fn):
    """Decorator for ``fn(model, ...)``: run it inside :func:`single_blas_thread` of the model."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        model = args[0] if args else kwargs.get("model")
        with single_blas_thread(model):
            return fn(*args, **kwargs)
    return wrapper
