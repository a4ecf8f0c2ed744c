"""Optional compiled inference kernels (``pip install "rnnkit[jit]"``, Numba).

NumPy pays ~0.5-1 us per call, and a recurrent step is ~10 calls: with small
batches (one review scored from the CLI, a served model) that overhead is the
whole cost. These kernels run the recurrence of a whole batch in one compiled
call, one sample at a time, every step's products and gates fused:

    z = P[b, t] + h @ RKT          # P: the input projections (one GEMM, NumPy)
    (gate equations of the cell)   # in float64, see _tanh

They are used for inference only (no caches, no dropout), float32, standard
activations, while ``batch * units`` per core is at most ``MAX_WORK`` (the measured
crossover: beyond it the NumPy kernels' wide vector calls win). With two cores the
batch is split in two halves run at once (the kernels release the GIL). The NumPy
kernels are the reference and the tests hold these equal to them.
``RNNKIT_JIT=0`` turns them off; without Numba they are never used. The first use
in a process imports Numba and loads the kernels from its on-disk cache (~0.5 s;
the very first, compiling them, ~1.5 s per cell), so they pay off from the second call on.

Gate nonlinearities: ``_tanh`` is a rational approximation evaluated in float64,
``x * P(x^2) / Q(x^2)`` on ``|x| <= 9.1`` (beyond it float32 tanh is +-1), with
relative error below 1.5e-9, so its float32 result is within 0.52 ulp of the
exact tanh (as good as ``np.tanh``). Being plain arithmetic it vectorizes, which
the library ``tanh``/``exp`` do not. ``sigmoid(x) = 0.5 * tanh(x / 2) + 0.5``.
The coefficients were fitted for rnnkit by iteratively reweighted least squares.
"""
from __future__ import annotations

import os

import numpy as np

from . import _fm

# batch * units per core up to which the compiled kernels beat the NumPy ones; the
# cells set their own (measured here, 2 cores: SimpleRNN and LSTM ~1536, GRU ~3072).
MAX_WORK = int(os.environ.get("RNNKIT_JIT_MAX_WORK", "1024"))
# An explicit RNNKIT_JIT_MAX_WORK overrides the cells' own crossovers too.
_MAX_WORK_FROM_ENV = "RNNKIT_JIT_MAX_WORK" in os.environ
# Below this many multiply-adds per half batch, a second thread costs more than it saves.
_MIN_SPLIT_MACS = 1 << 18
ENABLED = os.environ.get("RNNKIT_JIT", "1") not in ("0", "false", "False")

_kernels = None
_failed = False


def kernels():
    """The compiled kernels (a namespace), or None when Numba is missing or disabled."""
    global _kernels, _failed
    if _kernels is not None or _failed or not ENABLED:
        return _kernels
    try:
        _kernels = _build()
    except ImportError:
        _failed = True
    return _kernels


def _threads() -> int:
    return max(1, min(2, _fm.THREADS))


def usable(dtype, batch: int, units: int, max_work: int | None = None) -> bool:
    """Whether the compiled kernels should run this call; ``max_work`` is the cell's
    own crossover (``batch * units`` per core), ``MAX_WORK`` when None."""
    limit = MAX_WORK if max_work is None or _MAX_WORK_FROM_ENV else max_work
    return (ENABLED and not _failed and np.dtype(dtype) == np.float32 and batch > 0
            and batch * units <= limit * _threads() and kernels() is not None)


def run(kernel, project, x, states, mask, reverse, H, macs_per_sample: int) -> None:
    """``kernel(project(x), *states, mask, reverse, H)`` over the batch.

    With two cores and enough work the batch runs as two halves (row blocks, views)
    on two threads at once: the kernels release the GIL and samples are independent,
    so the results are the same. Each half projects its own inputs with BLAS
    single-threaded meanwhile, since BLAS' idle worker threads would take a core.
    """
    batch = x.shape[0]
    half = batch // 2
    if _threads() < 2 or half == 0 or macs_per_sample * half < _MIN_SPLIT_MACS:
        kernel(project(x), *states, mask, reverse, H)
        return

    def part(sl):
        kernel(project(x[sl]), *[s[sl] for s in states], mask if mask.shape[0] == 0 else mask[sl],
               reverse, H if H.shape[0] == 0 else H[sl])

    saved = _fm._blas.get()  # 0 where BLAS is not found
    if saved > 1:
        _fm._blas.set(1)
    try:
        fut = _fm._executor().submit(part, slice(half, batch))
        part(slice(0, half))
        fut.result()
    finally:
        if saved > 1:
            _fm._blas.set(saved)


def _build():
    from . import _jit_kernels  # imports Numba; ImportError without it

    return _jit_kernels
