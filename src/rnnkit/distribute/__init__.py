"""Data-parallel training over MPI ranks: ``rnnkit.distribute.MPIStrategy``.

    import rnnkit
    strategy = rnnkit.distribute.MPIStrategy()        # needs: pip install "rnnkit[mpi]"
    with strategy.scope():
        model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["acc"])
    model.fit(x, y, batch_size=128, epochs=2)           # mpirun -n 4 python train.py

Importing this package does not import mpi4py; creating an ``MPIStrategy`` does.
``launched_by_mpi()`` tells from the launcher's environment alone whether this process is
one of several MPI ranks.
"""
from __future__ import annotations

from .env import launched_by_mpi, world_from_env
from .hooks import current_strategy

__all__ = ["MPIStrategy", "DistributedError", "launched_by_mpi", "world_from_env", "get_strategy"]


def get_strategy():
    """The strategy whose ``scope()`` is open, or None (one process)."""
    return current_strategy()


def __getattr__(name):
    if name in ("MPIStrategy", "DistributedError"):
        from . import strategy

        return getattr(strategy, name)
    raise AttributeError(f"module 'rnnkit.distribute' has no attribute {name!r}")
