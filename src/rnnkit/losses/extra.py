"""More losses with Keras 3 semantics and analytic gradients: KLDivergence,
CosineSimilarity, Poisson, LogCosh, CategoricalHinge (and their function forms).

They follow :mod:`rnnkit.losses` (alignment, reduction, ``value_and_gradient``) and are
found by name (``compile(loss="kld")``). Each docstring gives the per-sample value over
the last axis (``n`` = its length) and its derivative in ``y_pred``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import EPSILON, Loss

__all__ = ["KLDivergence", "CosineSimilarity", "Poisson", "LogCosh", "CategoricalHinge",
           "kl_divergence", "kld", "KLD", "cosine_similarity", "poisson", "log_cosh", "logcosh",
           "categorical_hinge"]

_NORM_EPS = 1e-12  # Keras' l2_normalize floor on the squared norm


class KLDivergence(Loss):
    """``sum(t * log(t / p))`` with ``t = clip(y_true, eps, 1)``, ``p = clip(y_pred, eps, 1)``;
    ``d/dy_pred = -t / p`` where ``y_pred`` is inside ``[eps, 1]``, else 0."""

    def __init__(self, reduction: str = "sum_over_batch_size", name: str = "kl_divergence", dtype: Any = None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def _forward(self, y_true, y_pred, need_grad):
        dt = y_pred.dtype.type
        eps, one = dt(EPSILON), dt(1)
        t = np.clip(y_true, eps, one)
        p = np.clip(y_pred, eps, one)
        values = (t * np.log(t / p)).sum(axis=-1)
        if not need_grad:
            return values, None
        inside = (y_pred >= eps) & (y_pred <= one)
        return values, lambda dv: dv[..., None] * np.where(inside, -t / p, dt(0))


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


class Poisson(Loss):
    """``mean(y_pred - y_true * log(y_pred + eps))``; ``d/dy_pred = (1 - y_true / (y_pred + eps)) / n``."""

    def __init__(self, reduction: str = "sum_over_batch_size", name: str = "poisson", dtype: Any = None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def _forward(self, y_true, y_pred, need_grad):
        dt = y_pred.dtype.type
        shifted = y_pred + dt(EPSILON)
        values = (y_pred - y_true * np.log(shifted)).mean(axis=-1)
        n = dt(y_pred.shape[-1])
        return values, (lambda dv: dv[..., None] / n * (dt(1) - y_true / shifted)) if need_grad else None


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


def kl_divergence(y_true, y_pred) -> np.ndarray:
    """Per-sample KL divergence, shape ``y_pred.shape[:-1]``."""
    return KLDivergence().call(y_true, y_pred)


def cosine_similarity(y_true, y_pred, axis: int = -1) -> np.ndarray:
    """Per-sample negative cosine similarity (Keras' loss form), shape ``y_pred.shape[:-1]``."""
    return CosineSimilarity(axis=axis).call(y_true, y_pred)


def poisson(y_true, y_pred) -> np.ndarray:
    """Per-sample Poisson loss, shape ``y_pred.shape[:-1]``."""
    return Poisson().call(y_true, y_pred)


def log_cosh(y_true, y_pred) -> np.ndarray:
    """Per-sample log-cosh loss, shape ``y_pred.shape[:-1]``."""
    return LogCosh().call(y_true, y_pred)


def categorical_hinge(y_true, y_pred) -> np.ndarray:
    """Per-sample categorical hinge loss, shape ``y_pred.shape[:-1]``."""
    return CategoricalHinge().call(y_true, y_pred)


kld = KLD = kl_divergence
logcosh = log_cosh

CLASSES = (KLDivergence, CosineSimilarity, Poisson, LogCosh, CategoricalHinge)
FUNCTIONS = {kl_divergence: KLDivergence, cosine_similarity: CosineSimilarity, poisson: Poisson,
             log_cosh: LogCosh, categorical_hinge: CategoricalHinge}
NAMES = {**{cls.__name__: cls for cls in CLASSES}, **{fn.__name__: cls for fn, cls in FUNCTIONS.items()},
         "kld": KLDivergence, "KLD": KLDivergence, "logcosh": LogCosh, "kullback_leibler_divergence": KLDivergence}
