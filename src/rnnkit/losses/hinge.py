"""Hinge losses: categorical hinge (class and function form)."""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import Loss

__all__ = ["CategoricalHinge", "categorical_hinge"]


class CategoricalHinge(Loss):
    """``max(neg - pos + 1, 0)`` with ``pos = sum(y_true * y_pred)`` and
    ``neg = max((1 - y_true) * y_pred)``; where positive, ``d/dy_pred = (1 - y_true) * e_k - y_true``
    (``e_k``: one-hot at the arg max of ``neg``, the first on ties)."""

    def __init__(self, reduction: str = "sum_over_batch_size", name: str = "categorical_hinge", dtype: Any = None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def _forward(self, y_true, y_pred, need_grad):
        dt = y_pred.dtype.type
        pos = (y_true * y_pred).sum(axis=-1)
        scaled = (dt(1) - y_true) * y_pred
        neg = scaled.max(axis=-1)
        margin = neg - pos + dt(1)
        values = np.maximum(margin, dt(0))
        if not need_grad:
            return values, None

        def backward(dv):
            onehot = np.zeros_like(y_pred)
            np.put_along_axis(onehot, scaled.argmax(axis=-1)[..., None], dt(1), axis=-1)
            g = (dt(1) - y_true) * onehot - y_true
            return (dv * (margin > 0))[..., None] * g

        return values, backward


def categorical_hinge(y_true, y_pred) -> np.ndarray:
    """Per-sample categorical hinge loss, shape ``y_pred.shape[:-1]``."""
    return CategoricalHinge().call(y_true, y_pred)
