"""Probabilistic losses: the crossentropies, KL divergence and Poisson (classes and function forms).

Each class docstring gives the per-sample value over the last axis and its derivative in
``y_pred``; ``EPSILON`` clipping follows Keras' TensorFlow backend.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import EPSILON, Loss, _check_flag, _check_unit, log_softmax, sigmoid

__all__ = ["BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "KLDivergence",
           "Poisson", "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
           "kl_divergence", "kld", "KLD", "poisson"]


class BinaryCrossentropy(Loss):
    """Mean over the last axis of the elementwise binary crossentropy.

    ``y_true <- y_true * (1 - label_smoothing) + 0.5 * label_smoothing``, then with
    ``c = clip(y_pred, EPSILON, 1 - EPSILON)``::

        elem = -(y_true * log(c) + (1 - y_true) * log(1 - c))           (probabilities)
        elem = max(x, 0) - x * y_true + log(1 + exp(-|x|)),  x = y_pred  (from_logits)
        d elem/d y_pred = -y_true / c + (1 - y_true) / (1 - c)  (0 where clipped)
        d elem/d x = sigmoid(x) - y_true                                  (from_logits)
    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0,
                 reduction: str = "sum_over_batch_size", name: str = "binary_crossentropy", dtype: Any = None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = _check_flag("from_logits", from_logits)
        self.label_smoothing = _check_unit("label_smoothing", label_smoothing)

    def _forward(self, y_true, y_pred, need_grad):
        dt = y_pred.dtype.type
        if self.label_smoothing:
            y_true = y_true * dt(1.0 - self.label_smoothing) + dt(0.5 * self.label_smoothing)
        n = dt(y_pred.shape[-1])
        if self.from_logits:
            x = y_pred
            elem = np.maximum(x, 0) - x * y_true + np.log1p(np.exp(-np.abs(x)))
            backward = (lambda dv: dv[..., None] / n * (sigmoid(x) - y_true)) if need_grad else None
        else:
            lo, hi = dt(EPSILON), dt(1.0 - EPSILON)
            c = np.clip(y_pred, lo, hi)
            elem = -(y_true * np.log(c) + (1 - y_true) * np.log(1 - c))

            def backward(dv):
                # Like tf.clip_by_value, the gradient passes where lo <= y_pred <= hi.
                inside = (y_pred >= lo) & (y_pred <= hi)
                return dv[..., None] / n * np.where(inside, -y_true / c + (1 - y_true) / (1 - c), 0)
        return elem.mean(axis=-1), backward if need_grad else None

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": -1}


class CategoricalCrossentropy(Loss):
    """Crossentropy between one-hot (or soft) targets and class probabilities / logits.

    ``y_true <- y_true * (1 - label_smoothing) + label_smoothing / num_classes``. For
    probabilities, Keras first renormalizes: ``q = y_pred / sum(y_pred)``, ``c = clip(q)``::

        values = -sum(y_true * log(c))                      (probabilities)
        values = -sum(y_true * log_softmax(y_pred))         (from_logits)
        d/dy_pred = (a - sum(a * q)) / sum(y_pred),  a = -y_true / c (0 where clipped)
        d/dy_pred = softmax(y_pred) * sum(y_true) - y_true  (from_logits)
    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0,
                 reduction: str = "sum_over_batch_size", name: str = "categorical_crossentropy",
                 dtype: Any = None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = _check_flag("from_logits", from_logits)
        self.label_smoothing = _check_unit("label_smoothing", label_smoothing)

    def _forward(self, y_true, y_pred, need_grad):
        dt = y_pred.dtype.type
        if self.label_smoothing:
            ls = self.label_smoothing
            y_true = y_true * dt(1.0 - ls) + dt(ls) / dt(y_true.shape[-1])
        if self.from_logits:
            logp = log_softmax(y_pred)
            values = -(y_true * logp).sum(axis=-1)
            if not need_grad:
                return values, None
            return values, lambda dv: dv[..., None] * (np.exp(logp) * y_true.sum(-1, keepdims=True) - y_true)
        s = y_pred.sum(axis=-1, keepdims=True)
        q = y_pred / s
        lo, hi = dt(EPSILON), dt(1.0 - EPSILON)
        c = np.clip(q, lo, hi)
        values = -(y_true * np.log(c)).sum(axis=-1)

        def backward(dv):
            a = np.where((q >= lo) & (q <= hi), -y_true / c, 0)
            return dv[..., None] * (a - (a * q).sum(-1, keepdims=True)) / s
        return values, backward if need_grad else None

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": -1}


class SparseCategoricalCrossentropy(Loss):
    """Crossentropy with integer labels ``k`` (shape ``y_pred.shape[:-1]``, or with a trailing 1).

    For probabilities Keras' TensorFlow backend clips and treats the logs as logits, so the
    probabilities are implicitly renormalized (``c = clip(y_pred)``)::

        values = log(sum(c)) - log(c[k])          d/dy_pred = (1/sum(c) - onehot(k)/c[k]) (0 where clipped)
        values = logsumexp(x) - x[k]              d/dx = softmax(x) - onehot(k)     (from_logits)
    """

    def __init__(self, from_logits: bool = False, reduction: str = "sum_over_batch_size",
                 name: str = "sparse_categorical_crossentropy", dtype: Any = None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = _check_flag("from_logits", from_logits)

    def _align(self, y_true, y_pred):
        labels = np.asarray(y_true)
        if y_pred.ndim == 0:
            raise ValueError("Argument `y_pred` must have a class axis; received a scalar")
        lab = labels[..., 0] if labels.ndim == y_pred.ndim and labels.shape[-1:] == (1,) else labels
        if lab.shape != y_pred.shape[:-1]:
            raise ValueError("Argument `y_true` must hold one class index per prediction, shape "
                             f"{y_pred.shape[:-1]} (or with a trailing 1); received "
                             f"y_true.shape={labels.shape} for y_pred.shape={y_pred.shape}")
        num_classes = y_pred.shape[-1]
        if lab.dtype.kind not in "iub":
            if lab.dtype.kind != "f" or not np.all(np.isfinite(lab)) or np.any(lab != np.round(lab)):
                bad = lab[~np.isfinite(lab) | (lab != np.round(lab))][:5] if lab.dtype.kind == "f" else lab.dtype
                raise ValueError(f"Argument `y_true` must contain integer class indices; received {bad}")
        bad = lab[(lab < 0) | (lab >= num_classes)]
        if bad.size:
            raise ValueError(f"Argument `y_true` must contain class indices in [0, {num_classes}); "
                             f"received out-of-range values {np.unique(bad)[:5].tolist()}")
        return lab.astype(np.intp), y_pred

    def _forward(self, y_true, y_pred, need_grad):
        dt = y_pred.dtype.type
        onehot = np.arange(y_pred.shape[-1]) == y_true[..., None]
        if self.from_logits:
            logp = log_softmax(y_pred)
            values = -np.take_along_axis(logp, y_true[..., None], axis=-1)[..., 0]
            backward = lambda dv: dv[..., None] * (np.exp(logp) - onehot)  # noqa: E731
            return values, backward if need_grad else None
        lo, hi = dt(EPSILON), dt(1.0 - EPSILON)
        c = np.clip(y_pred, lo, hi)
        s = c.sum(axis=-1)
        ck = np.take_along_axis(c, y_true[..., None], axis=-1)[..., 0]
        values = np.log(s) - np.log(ck)

        def backward(dv):
            inside = (y_pred >= lo) & (y_pred <= hi)
            d = 1 / s[..., None] - np.where(onehot, 1 / ck[..., None], 0)
            return dv[..., None] * np.where(inside, d, 0)
        return values, backward if need_grad else None

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "ignore_class": None}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.pop("ignore_class", None) is not None:
            raise ValueError("Argument `ignore_class` is not supported by rnnkit; expected None")
        return super().from_config(config)


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


def binary_crossentropy(y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0) -> np.ndarray:
    """Per-sample binary crossentropy, shape ``y_pred.shape[:-1]``."""
    return BinaryCrossentropy(from_logits=from_logits, label_smoothing=label_smoothing).call(y_true, y_pred)


def categorical_crossentropy(y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0) -> np.ndarray:
    """Per-sample categorical crossentropy, shape ``y_pred.shape[:-1]``."""
    return CategoricalCrossentropy(from_logits=from_logits, label_smoothing=label_smoothing).call(y_true, y_pred)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits: bool = False) -> np.ndarray:
    """Per-sample sparse categorical crossentropy, shape ``y_pred.shape[:-1]``."""
    return SparseCategoricalCrossentropy(from_logits=from_logits).call(y_true, y_pred)


def kl_divergence(y_true, y_pred) -> np.ndarray:
    """Per-sample KL divergence, shape ``y_pred.shape[:-1]``."""
    return KLDivergence().call(y_true, y_pred)


def poisson(y_true, y_pred) -> np.ndarray:
    """Per-sample Poisson loss, shape ``y_pred.shape[:-1]``."""
    return Poisson().call(y_true, y_pred)


kld = KLD = kl_divergence
