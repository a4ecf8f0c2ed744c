"""What the training loop needs from rnnkit.distribute, without importing MPI.

``models/training.py`` imports this module only: the current strategy scope and the
:func:`collective` decorator. Nothing here imports mpi4py, so plain single-process runs
never load MPI.
"""
from __future__ import annotations

import functools
from typing import Any, Callable

_SCOPES: list[Any] = []


def current_strategy():
    """The strategy whose ``scope()`` is open (innermost), or None."""
    return _SCOPES[-1] if _SCOPES else None


def push_scope(strategy) -> None:
    _SCOPES.append(strategy)


def pop_scope(strategy) -> None:
    if not _SCOPES or _SCOPES[-1] is not strategy:
        raise RuntimeError("strategy scopes must be closed in the order they were opened")
    _SCOPES.pop()


def collective(method: Callable) -> Callable:
    """Mark a model method (fit, evaluate, predict, *_on_batch) that every rank must call.

    For a model compiled under a strategy, the call goes through
    ``strategy.run_collective``, which shards the data, reduces the results and stops every
    rank if one of them raises. Otherwise the method runs unchanged.
    """
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        strategy = getattr(self, "_strategy", None)
        if strategy is None:
            return method(self, *args, **kwargs)
        return strategy.run_collective(self, method, args, kwargs)
    return wrapper
