"""The helper thread and BLAS' thread count, shared by the fast engines.

A recurrent step loop is a chain of small calls, serial by nature. The input
projection of the next chunk of steps (forward) and the weight and input gradients
of finished chunks (backward) do not depend on it, and a stacked ``np.matmul``
releases the GIL for its whole duration: one helper thread runs them on the second
core. Tasks run in submission order, so sums accumulate in the same order with or
without it (results are identical).

While two Python threads call BLAS, OpenBLAS' own worker threads would fight them
for the cores (the step loop measured 2x slower), so threaded work runs BLAS
single-threaded. BLAS is found and steered through threadpoolctl (OpenBLAS, MKL,
BLIS); where it finds none, the helper thread stays off.
"""
from __future__ import annotations

import contextlib
import os
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Callable

import numpy as np

from .... import config

_blas_libs: list | None = None


def _blas() -> list:
    """threadpoolctl's controllers of the loaded BLAS libraries (found once)."""
    global _blas_libs
    if _blas_libs is None:
        try:
            from threadpoolctl import ThreadpoolController

            _blas_libs = [lib for lib in ThreadpoolController().lib_controllers
                          if lib.user_api == "blas"]
        except Exception:  # pragma: no cover - threadpoolctl missing or failing: leave BLAS alone
            _blas_libs = []
    return _blas_libs


def blas_threads() -> int:
    """BLAS' current thread count (the first BLAS library's; 0 where none is found)."""
    libs = _blas()
    return int(libs[0].num_threads) if libs else 0


@contextlib.contextmanager
def blas_single_threaded():
    """BLAS runs on one thread inside the block (restored after it).

    Also for products that precede threaded work: a multi-threaded OpenBLAS call
    leaves its workers spinning on the other core for ~0.1 s afterwards (its
    thread timeout), which slowed the compiled kernels' second thread 1.5-2x.
    """
    saved = [(lib, lib.num_threads) for lib in _blas() if lib.num_threads > 1]
    for lib, _ in saved:
        lib.set_num_threads(1)
    try:
        yield
    finally:
        for lib, n in saved:
            lib.set_num_threads(n)


_pool: ThreadPoolExecutor | None = None
_pool_pid = 0


def executor() -> ThreadPoolExecutor:
    """The one helper thread of this process."""
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
        s = config.settings()
        self.threaded = (s.threads > 1 and macs_per_task >= s.min_task_macs
                         and step_macs < s.max_step_macs and (bool(_blas()) or s.blas_single))
        self.pending: list[Future] = []
        self._blas = blas_single_threaded() if self.threaded else contextlib.nullcontext()

    def __enter__(self) -> "Helper":
        self._blas.__enter__()
        return self

    def __exit__(self, *exc) -> bool:
        try:
            self.join()
        finally:
            self._blas.__exit__(None, None, None)
        return False

    def submit(self, fn: Callable, *args):
        if not self.threaded:
            return _Done(fn(*args))
        fut = executor().submit(fn, *args)
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
