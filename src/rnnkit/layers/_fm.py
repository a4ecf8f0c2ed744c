"""Shared plumbing of the fast "feature-major" recurrent kernels.

The reference kernels keep a step's state as ``(B, U)`` rows; their gate blocks
(``z[:, :U]``, ``z[:, U:2U]``, ...) are then strided views, and NumPy runs an
elementwise call on a strided ``(128, 32)`` view 2-3x slower than on a
contiguous block. The fast kernels store every step feature-major, ``(F, B)``,
in time-major stacks ``(T, F, B)``: a gate block is a contiguous run of rows,
each step's block is contiguous, and the per-step product is ``z = W @ h``.

Inputs and states share one array, ``XH (T + 1, D + 1 + U, B)``: step t's rows
are ``[x_t | 1 | h_{t-1}]``. The row of ones makes the bias one more column of
the working kernel, the state rows are what the per-step product reads, and
every weight gradient (bias included) is one stacked product
``sum_t dZ[t] @ XH[t].T`` per chunk of steps.

Sigmoid gates use ``sigmoid(z) = 0.5 * tanh(z / 2) + 0.5``: their rows of the
working kernels are halved once per call (exact in binary floating point), so
one ``np.tanh`` over all gate rows serves the sigmoid and tanh gates alike.

The step loop is ~10 small NumPy calls per step on one core. What does not
depend on it runs on one helper thread meanwhile (see :class:`Helper`): the
input projection of the next chunk, the backward factors of finished forward
chunks, the weight gradients of finished backward chunks.
"""
from __future__ import annotations

import contextlib
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np

# Steps per chunk: the input projection of a chunk (forward) and the gradients of a
# finished chunk (backward) are one stacked matmul each, run on the helper thread
# while the step loop goes on; inference stores only two chunks of steps.
CHUNK = 32
# Bytes of the (steps, rows, cols) partial products summed into a weight gradient.
_OUTER_BYTES = 8 << 20


def inputs_fm(x: np.ndarray, go_backwards: bool, dp, bias: bool, state_rows: int,
              ws=None) -> np.ndarray:
    """``x (B, T, D)`` -> ``XH (T + 1, D [+1] + state_rows, B)`` in processing order.

    Rows of step t: ``[x_t (D) | 1 (with bias) | h_{t-1} (state_rows)]``; the kernel
    fills the state rows (``XH[t + 1]`` gets the state after step t), so that every
    weight gradient is one product ``sum_t dZ[t] @ XH[t].T`` per chunk. ``dp`` is the
    ``(B, D)`` input-dropout multiplier or None.
    """
    batch, steps, dim = x.shape
    XH = empty(ws, "XH", (steps + 1, dim + int(bias) + state_rows, batch), x.dtype)
    src = x[:, ::-1] if go_backwards else x
    np.copyto(XH[:steps, :dim], src.transpose(1, 2, 0))
    if bias:
        XH[:, dim] = 1
    if dp is not None:
        XH[:steps, :dim] *= dp.T
    return XH


def mask_fm(mt, dtype):
    """``mt (T, B, 1)`` bool -> ``(keep, drop)`` multipliers ``(T, 1, B)`` of ``dtype``, or Nones."""
    if mt is None:
        return None, None
    keep = mt.reshape(mt.shape[0], 1, mt.shape[1]).astype(dtype)
    return keep, 1 - keep


def sum_outer(A: np.ndarray, Bm: np.ndarray) -> np.ndarray:
    """``sum_t A[t] @ Bm[t].T`` for ``A (T, M, N)``, ``Bm (T, K, N)``: a weight gradient.

    Stacked matmuls over chunks of steps bound the ``(steps, M, K)`` temporary.
    """
    steps, m, _ = A.shape
    k = Bm.shape[1]
    chunk = max(1, _OUTER_BYTES // max(1, m * k * A.itemsize))
    acc = None
    for a in range(0, steps, chunk):
        part = np.matmul(A[a:a + chunk], Bm[a:a + chunk].transpose(0, 2, 1)).sum(axis=0)
        if acc is None:
            acc = part
        else:
            acc += part
    return acc


def gate_perm(order, units: int) -> np.ndarray:
    """Column indices (Keras layout) of the working rows, gate blocks in ``order``."""
    return np.concatenate([np.arange(g * units, (g + 1) * units) for g in order])


def row_scale(n_sigmoid_rows: int, n_rows: int, dtype) -> np.ndarray:
    """``(n_rows, 1)`` column: 0.5 on the first (sigmoid) rows, 1 elsewhere."""
    s = np.ones((n_rows, 1), dtype)
    s[:n_sigmoid_rows] = 0.5
    return s


def input_weights(kernel, bias_row, perm):
    """Working input kernel ``(G, D [+1])``: ``[kernel.T | bias]`` with rows in ``perm`` order."""
    w = kernel.T[perm]
    if bias_row is None:
        return np.ascontiguousarray(w)
    return np.ascontiguousarray(np.concatenate([w, bias_row[perm][:, None]], axis=1))


def scatter_cols(grad_rows: np.ndarray, perm, n_cols: int) -> np.ndarray:
    """Undo :func:`input_weights`' layout: ``out[:, perm] = grad_rows.T`` -> ``(R, n_cols)``."""
    out = np.empty((grad_rows.shape[1], n_cols), grad_rows.dtype)
    out[:, perm] = grad_rows.T
    return out


def scatter_vec(values: np.ndarray, perm, n: int) -> np.ndarray:
    out = np.empty(n, values.dtype)
    out[perm] = values
    return out


class Workspace:
    """Big buffers a layer keeps between calls, so that each training step does not
    fault in ~100 MB of fresh pages (about 0.35 us per 4 KiB page here).

    :meth:`get` hands out a view of a pooled flat buffer only while nothing else
    holds it: a cache from an earlier call that is still alive (e.g. a forward whose
    backward has not run) keeps its buffers, and the new call gets fresh ones.
    """

    def __init__(self):
        self._flat: dict[str, np.ndarray] = {}

    def get(self, name: str, shape, dtype) -> np.ndarray:
        n = 1
        for d in shape:
            n *= d
        buf = self._flat.get(name)
        # References: the dict, ``buf`` and getrefcount's argument; any more is a live view.
        if buf is None or buf.dtype != dtype or buf.size < n or sys.getrefcount(buf) > 3:
            buf = np.empty(n, dtype)
            self._flat[name] = buf
        return buf[:n].reshape(shape)


def empty(ws, name, shape, dtype):
    """``np.empty`` from the workspace ``ws`` when there is one."""
    return np.empty(shape, dtype) if ws is None else ws.get(name, shape, dtype)


# ---------------------------------------------------------------------------
# The helper thread: bulk matrix products overlap the per-step loop.
#
# The step loop is a chain of ~10 small NumPy calls per step, serial by nature;
# the input projection of the next chunk of steps (forward) and the weight and
# input gradients of finished chunks (backward) are independent of it, and a
# stacked np.matmul releases the GIL for its whole duration. One helper thread
# runs them on the second core; tasks run in submission order, so sums
# accumulate in the same order with or without it (results are identical).
# RNNKIT_NUM_THREADS=1 runs everything on the caller's thread.

def _cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


class _BlasThreads:
    """Best-effort control of OpenBLAS' thread count (what threadpoolctl does, for the
    OpenBLAS that NumPy wheels bundle); ``ok`` is False where it is not found.

    While the helper thread runs, both threads call BLAS; OpenBLAS' own worker
    threads then fight them for the two cores (the step loop measured 2x slower),
    so the fast kernels run BLAS single-threaded and use the cores themselves.
    """

    def __init__(self):
        self._set = self._get = None
        try:
            import ctypes

            paths = []
            if os.path.exists("/proc/self/maps"):
                with open("/proc/self/maps") as f:
                    paths = sorted({line.split()[-1] for line in f if "openblas" in line.lower()})
            for path in paths:
                if "openblas" not in os.path.basename(path).lower():
                    continue
                lib = ctypes.CDLL(path)
                for pre in ("scipy_openblas", "openblas"):
                    for suf in ("64_", ""):
                        setter = getattr(lib, f"{pre}_set_num_threads{suf}", None)
                        getter = getattr(lib, f"{pre}_get_num_threads{suf}", None)
                        if setter is not None and getter is not None:
                            self._set, self._get = setter, getter
                            return
        except Exception:  # pragma: no cover - exotic platforms: leave BLAS alone
            self._set = self._get = None

    @property
    def ok(self) -> bool:
        return self._set is not None

    def get(self) -> int:
        return int(self._get()) if self.ok else 0

    def set(self, n: int) -> None:
        if self.ok:
            self._set(int(n))


_blas = _BlasThreads()


@contextlib.contextmanager
def blas_single_threaded():
    """BLAS runs on one thread inside the block (restored after it).

    Also for products that precede threaded work: a multi-threaded OpenBLAS call
    leaves its workers spinning on the other core for ~0.1 s afterwards (its
    thread timeout), which slowed the compiled kernels' second thread 1.5-2x.
    """
    saved = _blas.get()  # 0 where BLAS is not found
    if saved > 1:
        _blas.set(1)
    try:
        yield
    finally:
        if saved > 1:
            _blas.set(saved)


def _blas_single() -> bool:
    """True when BLAS is known to run single-threaded anyway (env settings)."""
    return any(os.environ.get(v) == "1" for v in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                                   "MKL_NUM_THREADS"))


# RNNKIT_NUM_THREADS=1 keeps everything on the caller's thread (and BLAS as it is).
THREADS = int(os.environ.get("RNNKIT_NUM_THREADS", "0") or 0) or min(2, _cpus())
# Below this many multiply-adds per chunk a hand-off costs more than it saves.
_MIN_TASK_MACS = 1 << 20
# From this many multiply-adds in the per-step product on, OpenBLAS' own threads
# split each product well (LSTM(256), batch 128: 34M; 25% faster than the helper
# thread, measured), so the helper stands aside and BLAS keeps its threads.
_MAX_STEP_MACS = 1 << 22
_pool: ThreadPoolExecutor | None = None
_pool_pid = 0


def _executor() -> ThreadPoolExecutor:
    # A forked child inherits the pool object but not its thread: make a new one.
    global _pool, _pool_pid
    if _pool is None or _pool_pid != os.getpid():
        _pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rnnkit")
        _pool_pid = os.getpid()
    return _pool


class _Done:
    """A finished task (the inline path); ``result()`` mirrors a Future's."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


class Helper:
    """Runs ``submit(fn, *args)`` on the helper thread, or inline.

    ``macs_per_task`` is the work of one bulk task, ``step_macs`` that of the
    per-step product: small tasks run inline, and so does everything when the
    per-step product is big enough for BLAS threads. Use as a context manager:
    while threaded, BLAS runs single-threaded (restored on exit) so that the two
    Python threads have the cores to themselves.
    """

    def __init__(self, macs_per_task: int, step_macs: int = 0):
        self.threaded = (THREADS > 1 and macs_per_task >= _MIN_TASK_MACS
                         and step_macs < _MAX_STEP_MACS and (_blas.ok or _blas_single()))
        self.pending = []
        self._blas = blas_single_threaded() if self.threaded else contextlib.nullcontext()

    def __enter__(self):
        self._blas.__enter__()
        return self

    def __exit__(self, *exc):
        try:
            self.join()
        finally:
            self._blas.__exit__(None, None, None)
        return False

    def submit(self, fn, *args):
        if not self.threaded:
            return _Done(fn(*args))
        fut = _executor().submit(fn, *args)
        self.pending.append(fut)
        return fut

    def join(self) -> None:
        """Wait for every task (re-raising the first error)."""
        for fut in self.pending:
            fut.result()
        self.pending.clear()


class Accumulator:
    """``add(name, value)`` sums arrays (in call order); ``sums[name]``."""

    def __init__(self):
        self.sums: dict[str, np.ndarray] = {}

    def add(self, name: str, value: np.ndarray) -> None:
        if name in self.sums:
            self.sums[name] += value
        else:
            self.sums[name] = value
