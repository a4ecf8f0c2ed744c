"""Sum metric states over the ranks, so that every rank reports the global values.

Every rnnkit metric keeps additive state (totals and counts for means, confusion counts for
precision, recall and AUC). Summing each state over the ranks gives the state one process
would hold after seeing all the shards, so ``result()`` on the summed state is the global
value (up to floating-point summation order).

A metric's state is found as the attributes its ``reset_state`` assigns.
"""
from __future__ import annotations

import copy
from typing import Any, Sequence

import numpy as np

_STATE_NAMES: dict[type, tuple[str, ...]] = {}


def state_names(metric) -> tuple[str, ...]:
    """The attributes ``metric.reset_state()`` assigns (its state), cached per class."""
    cls = type(metric)
    if cls not in _STATE_NAMES:
        names: list[str] = []

        class Recorder:
            # reset_state may read configuration (thresholds ...) while it assigns state.
            def __getattr__(self, key):
                return getattr(metric, key)

            def __setattr__(self, key, value):
                if key not in names:
                    names.append(key)

        cls.reset_state(Recorder())
        if not names:
            raise ValueError(
                f"metric {getattr(metric, 'name', cls.__name__)!r} ({cls.__name__}): its reset_state "
                "assigns no attributes, so its state cannot be summed over MPI ranks; assign the "
                "state in reset_state (e.g. self.total, self.count = 0.0, 0.0)"
            )
        _STATE_NAMES[cls] = tuple(names)
    return _STATE_NAMES[cls]


def pack(metrics: Sequence) -> tuple[np.ndarray, list]:
    """Every state of ``metrics`` as one float64 vector, and the layout to unpack it."""
    parts, layout = [], []
    for m in metrics:
        for name in state_names(m):
            value = getattr(m, name)
            if value is None:  # e.g. AUC before its first update: nothing to add
                layout.append((m, name, None, 0))
                continue
            arr = np.asarray(value, dtype=np.float64)
            parts.append(arr.ravel())
            layout.append((m, name, value, arr.size))
    vec = np.concatenate(parts) if parts else np.zeros(0)
    return np.ascontiguousarray(vec), layout


def unpack(vec: np.ndarray, layout: list, metrics: Sequence) -> list:
    """Shallow copies of ``metrics`` holding the states read from ``vec`` (the originals keep
    their local state)."""
    copies = {id(m): copy.copy(m) for m in metrics}
    pos = 0
    for m, name, value, size in layout:
        if value is None:
            continue
        chunk = vec[pos:pos + size]
        pos += size
        new: Any
        if isinstance(value, np.ndarray):
            new = chunk.reshape(value.shape).astype(value.dtype)
        else:
            new = float(chunk[0])
        setattr(copies[id(m)], name, new)
    return [copies[id(m)] for m in metrics]
