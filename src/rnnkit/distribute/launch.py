"""Scripts and the CLI under ``mpirun``: one scope for the whole run, output from rank 0.

    with mpi_scope("--batch-size 128 is the global batch"):
        ...  # build, compile, fit, evaluate: data-parallel under mpirun, plain otherwise

Importing this module does not import mpi4py; :func:`mpi_scope` does, and only when the
launcher's environment says this process is one of several ranks.
"""
from __future__ import annotations

import contextlib
import os
import sys

from .env import launched_by_mpi, local_ranks_from_env
from .hooks import current_strategy


def is_chief() -> bool:
    """True unless a strategy scope is open and this is not its rank 0 (who writes files)."""
    strategy = current_strategy()
    return strategy is None or strategy.is_chief


def limit_blas_threads() -> None:
    """One share of the node's cores per rank for BLAS, unless the user chose a thread count.

    Several ranks on one node, each with a BLAS pool as wide as the node, oversubscribe the
    cores. Uses threadpoolctl where installed; otherwise set OMP_NUM_THREADS before launch.
    """
    if any(os.environ.get(v) for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")):
        return
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return
    threadpool_limits(max(1, (os.cpu_count() or 1) // local_ranks_from_env()), user_api="blas")


@contextlib.contextmanager
def mpi_scope(note: str | None = None):
    """Under mpirun with several ranks: an ``MPIStrategy`` scope, stdout silenced on every
    rank but 0, and (with ``note``) one line ``MPI: N ranks train data-parallel; note``.
    Outside mpirun: nothing at all."""
    if not launched_by_mpi():
        yield None
        return
    from .strategy import MPIStrategy

    strategy = MPIStrategy()
    saved = sys.stdout
    if not strategy.is_chief:
        sys.stdout = open(os.devnull, "w")
    limit_blas_threads()
    if note:
        print(f"MPI: {strategy.size} ranks train data-parallel; {note}")
    try:
        with strategy.scope():
            yield strategy
    finally:
        if sys.stdout is not saved:
            sys.stdout.close()
            sys.stdout = saved
