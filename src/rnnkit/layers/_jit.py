"""Optional compiled kernels (``pip install "rnnkit[jit]"``, Numba).

NumPy pays ~0.5-1 us per call, and a recurrent step is ~10 calls: with small
layers or batches (the seeds' 32 units, one review scored from the CLI, a served
model) that overhead is most of the cost. Three uses, all float32 with the
standard activations:

- Inference, the whole recurrence in one compiled call (:func:`run`), four
  samples at a time, every step's products and gates fused::

      z = P[b, t] + h @ RKT          # P: the input projections (one GEMM, NumPy),
      (gate equations of the cell)   # or rows of Embedding @ kernel

  for layers of at most ``SMALL_UNITS`` units at any batch size, and for wider
  ones while ``batch * units`` per core is at most the cell's ``_jit_max_work``
  (the measured crossovers: beyond them BLAS' products win). With two cores both
  threads take chunks of the batch (the kernels release the GIL).
- Elsewhere (training, and wide layers at inference), the NumPy feature-major
  kernels keep BLAS for the products, and :func:`fm_gates` gives them one compiled
  pass for each step's gates instead of ~10 NumPy calls.
- An Embedding's gradient: a compiled scatter-add.

The NumPy kernels are the reference and the tests hold these equal to them.
``RNNKIT_JIT=0`` turns them off; without Numba they are never used. The first use
in a process imports Numba and loads the kernels from its on-disk cache (~0.5 s;
the very first, compiling them, ~1.5 s per cell), so they pay off from the second call on.

Gate nonlinearities: a rational approximation of ``tanh`` evaluated in float32
(plain arithmetic, so it vectorizes, which the library ``tanh``/``exp`` do not),
within 6 ulp of the exact value (0.9 ulp on average), ``sigmoid(x) = 0.5 *
tanh(x / 2) + 0.5``; see :mod:`._jit_kernels`. The outputs differ from the NumPy
kernels' by float32 rounding only (a few 1e-7), and are as close to the exact
(float64) values as theirs (tests/layers/test_jit_kernels.py).
"""
from __future__ import annotations

import os

import numpy as np

from . import _fm

# Up to this many units the compiled kernels beat the NumPy ones at every batch size
# measured (1-1024, 2 cores): their recurrent matrix stays in the L1/L2 cache.
SMALL_UNITS = 64
# Wider layers: batch * units per core up to which the compiled kernels win; the
# cells set their own (measured here, 2 cores: SimpleRNN ~4096, LSTM ~2048, GRU ~6144).
MAX_WORK = int(os.environ.get("RNNKIT_JIT_MAX_WORK", "1024"))
# An explicit RNNKIT_JIT_MAX_WORK overrides the cells' own crossovers too.
_MAX_WORK_FROM_ENV = "RNNKIT_JIT_MAX_WORK" in os.environ
# Below this many multiply-adds per half batch, a second thread costs more than it saves.
_MIN_SPLIT_MACS = 1 << 18


def enabled_by_env() -> bool:
    """The ``RNNKIT_JIT`` switch: on unless set to 0/false."""
    return os.environ.get("RNNKIT_JIT", "1") not in ("0", "false", "False")


ENABLED = enabled_by_env()

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


def fm_gates(name: str, dtype):
    """The compiled gate pass ``name`` (``lstm_fm_gates``, ...) for the step loop of
    the NumPy feature-major kernels, or None (Numba missing or disabled, or not float32)."""
    if not ENABLED or _failed or np.dtype(dtype) != np.float32:
        return None
    k = kernels()
    return None if k is None else getattr(k, name)


def _threads() -> int:
    return max(1, min(2, _fm.THREADS))


def usable(dtype, batch: int, units: int, max_work: int | None = None) -> bool:
    """Whether the compiled kernels should run this call; ``max_work`` is the cell's
    own crossover (``batch * units`` per core) for more than ``SMALL_UNITS`` units,
    ``MAX_WORK`` when None. ``RNNKIT_JIT_MAX_WORK`` sets one limit for all sizes."""
    if _MAX_WORK_FROM_ENV:
        small, limit = False, MAX_WORK
    else:
        small, limit = units <= SMALL_UNITS, MAX_WORK if max_work is None else max_work
    return (ENABLED and not _failed and np.dtype(dtype) == np.float32 and batch > 0
            and (small or batch * units <= limit * _threads()) and kernels() is not None)


def run(kernel, source, states, mask, reverse, H, steps: int, macs_per_sample: int) -> None:
    """``kernel(table, ids, steps, *states, mask, reverse, H)`` over the batch, where
    ``source(rows)`` gives ``(table, ids)`` for a slice of the batch.

    With two cores and enough work, two threads take chunks of the batch (row
    blocks, views) in turn until none is left: the kernels release the GIL and
    samples are independent, so the results are the same. (Two fixed halves
    finished up to 30% apart here.) Each chunk gets its own inputs (projections)
    with BLAS single-threaded meanwhile, since BLAS' idle worker threads would take
    a core.
    """
    batch = states[0].shape[0]

    def part(rows):
        kernel(*source(rows), steps, *[s[rows] for s in states], mask if mask.shape[0] == 0 else mask[rows],
               reverse, H if H.shape[0] == 0 else H[rows])

    if _threads() < 2 or batch < 2 or macs_per_sample * (batch // 2) < _MIN_SPLIT_MACS:
        part(slice(0, batch))
        return
    # About 8 chunks per thread, in whole groups of the kernels' samples.
    group = _kernels.G
    chunk = max(group, -(-batch // (8 * _threads() * group)) * group)
    starts = iter(range(0, batch, chunk))  # shared: next() is atomic under the GIL

    def worker():
        for lo in starts:
            part(slice(lo, min(lo + chunk, batch)))

    with _fm.blas_single_threaded():
        fut = _fm._executor().submit(worker)
        try:
            worker()
        finally:
            fut.result()  # the other thread is done before anything goes on (or raises)


def _build():
    from . import _jit_kernels  # imports Numba; ImportError without it

    return _jit_kernels
