"""Regression losses: mean squared / absolute error, Huber, log-cosh and cosine similarity
(classes and function forms).

Each class docstring gives the per-sample value over the last axis (``n`` = its length) and
its derivative in ``y_pred``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import Loss

__all__ = ["MeanSquaredError", "MeanAbsoluteError", "Huber", "LogCosh", "CosineSimilarity",
           "mean_squared_error", "mse", "mean_absolute_error", "mae", "huber", "log_cosh", "logcosh",
           "cosine_similarity"]

_NORM_EPS = 1e-12  # Keras' l2_normalize floor on the squared norm


class MeanSquaredError(Loss):
    """``values = mean((y_true - y_pred)**2)`` over the last axis; ``d/dy_pred = 2 (y_pred - y_true) / n``."""

    def __init__(self, reduction: str = "sum_over_batch_size", name: str = "mean_squared_error", dtype: Any = None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def _forward(self, y_true, y_pred, need_grad):
        diff = y_true - y_pred
        n = y_pred.dtype.type(y_pred.shape[-1])
        return np.square(diff).mean(axis=-1), (lambda dv: dv[..., None] * (-2 / n) * diff) if need_grad else None


class MeanAbsoluteError(Loss):
    """``values = mean(|y_true - y_pred|)`` over the last axis; ``d/dy_pred = sign(y_pred - y_true) / n``."""

    def __init__(self, reduction: str = "sum_over_batch_size", name: str = "mean_absolute_error", dtype: Any = None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def _forward(self, y_true, y_pred, need_grad):
        diff = y_pred - y_true
        n = y_pred.dtype.type(y_pred.shape[-1])
        return np.abs(diff).mean(axis=-1), (lambda dv: dv[..., None] / n * np.sign(diff)) if need_grad else None


class Huber(Loss):
    """Mean over the last axis of ``elem``, with ``err = y_pred - y_true``::

        elem = 0.5 * err**2                      if |err| <= delta    (d/d err = err)
        elem = delta * |err| - 0.5 * delta**2    otherwise            (d/d err = delta * sign(err))
    """

    def __init__(self, delta: float = 1.0, reduction: str = "sum_over_batch_size", name: str = "huber_loss",
                 dtype: Any = None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not delta >= 0:
            raise ValueError(f"Argument `delta` must be a number >= 0; received delta={delta!r}")
        self.delta = float(delta)

    def _forward(self, y_true, y_pred, need_grad):
        dt = y_pred.dtype.type
        delta, half = dt(self.delta), dt(0.5)
        err = y_pred - y_true
        abs_err = np.abs(err)
        quad = abs_err <= delta
        elem = np.where(quad, half * np.square(err), delta * abs_err - half * np.square(delta))
        n = dt(y_pred.shape[-1])
        backward = lambda dv: dv[..., None] / n * np.where(quad, err, delta * np.sign(err))  # noqa: E731
        return elem.mean(axis=-1), backward if need_grad else None

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}


class CosineSimilarity(Loss):
    """``-sum(l2_normalize(y_true) * l2_normalize(y_pred))`` over the last axis, where
    ``l2_normalize(x) = x / sqrt(max(sum(x**2), 1e-12))``; the loss lies in ``[-1, 1]``
    (-1: same direction). With ``u = l2_normalize(y_true)``, ``q = l2_normalize(y_pred)``
    and ``r`` the norm used: ``d/dy_pred = -(u - (u.q) q) / r`` (``-u / r`` at the floor)."""

    def __init__(self, axis: int = -1, reduction: str = "sum_over_batch_size", name: str = "cosine_similarity",
                 dtype: Any = None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if axis != -1:
            raise ValueError(f"CosineSimilarity: only axis=-1 is supported; received axis={axis!r}")
        self.axis = -1

    def _forward(self, y_true, y_pred, need_grad):
        dt = y_pred.dtype.type
        floor = dt(_NORM_EPS)
        st = (y_true * y_true).sum(axis=-1, keepdims=True)
        sp = (y_pred * y_pred).sum(axis=-1, keepdims=True)
        u = y_true / np.sqrt(np.maximum(st, floor))
        r = np.sqrt(np.maximum(sp, floor))
        q = y_pred / r
        dot = (u * q).sum(axis=-1, keepdims=True)
        values = -dot[..., 0]
        if not need_grad:
            return values, None
        above = sp > floor
        return values, lambda dv: dv[..., None] * -(u - np.where(above, dot * q, dt(0))) / r

    def get_config(self):
        return {**super().get_config(), "axis": -1}

    @classmethod
    def from_config(cls, config):
        return cls(**dict(config))


class LogCosh(Loss):
    """``mean(log(cosh(x)))`` for ``x = y_pred - y_true``, computed stably as
    ``x + softplus(-2x) - log 2``; ``d/dy_pred = tanh(x) / n``."""

    def __init__(self, reduction: str = "sum_over_batch_size", name: str = "log_cosh", dtype: Any = None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def _forward(self, y_true, y_pred, need_grad):
        dt = y_pred.dtype.type
        x = y_pred - y_true
        values = (x + np.logaddexp(dt(0), dt(-2) * x) - dt(np.log(2.0))).mean(axis=-1)
        n = dt(y_pred.shape[-1])
        return values, (lambda dv: dv[..., None] / n * np.tanh(x)) if need_grad else None


def mean_squared_error(y_true, y_pred) -> np.ndarray:
    """Per-sample mean squared error, shape ``y_pred.shape[:-1]``."""
    return MeanSquaredError().call(y_true, y_pred)


def mean_absolute_error(y_true, y_pred) -> np.ndarray:
    """Per-sample mean absolute error, shape ``y_pred.shape[:-1]``."""
    return MeanAbsoluteError().call(y_true, y_pred)


def huber(y_true, y_pred, delta: float = 1.0) -> np.ndarray:
    """Per-sample Huber loss, shape ``y_pred.shape[:-1]``."""
    return Huber(delta=delta).call(y_true, y_pred)


def cosine_similarity(y_true, y_pred, axis: int = -1) -> np.ndarray:
    """Per-sample negative cosine similarity (Keras' loss form), shape ``y_pred.shape[:-1]``."""
    return CosineSimilarity(axis=axis).call(y_true, y_pred)


def log_cosh(y_true, y_pred) -> np.ndarray:
    """Per-sample log-cosh loss, shape ``y_pred.shape[:-1]``."""
    return LogCosh().call(y_true, y_pred)


mse = mean_squared_error
mae = mean_absolute_error
logcosh = log_cosh
