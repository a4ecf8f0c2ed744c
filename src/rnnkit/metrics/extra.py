"""More metrics with Keras 3 semantics: F1Score, TopKCategoricalAccuracy,
SparseTopKCategoricalAccuracy, MeanAbsolutePercentageError.

Found by name in ``compile(metrics=[...])`` (``"f1_score"``, ``"top_k_categorical_accuracy"``,
``"mape"``...) and exported from ``rnnkit.metrics`` and ``rnnkit.keras.metrics``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..losses import EPSILON, squeeze_or_expand_to_same_rank
from .base import Metric, MeanMetricWrapper

__all__ = ["F1Score", "FBetaScore", "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy",
           "MeanAbsolutePercentageError", "top_k_categorical_accuracy",
           "sparse_top_k_categorical_accuracy", "mean_absolute_percentage_error"]


def _in_top_k(target_ids: np.ndarray, y_pred: np.ndarray, k: int) -> np.ndarray:
    """1.0 where the target's score is among the ``k`` largest: fewer than ``k`` scores are
    strictly larger (so ties at the boundary count as in, as Keras' ``in_top_k``)."""
    target_scores = np.take_along_axis(y_pred, target_ids[..., None].astype(np.int64), axis=-1)
    return ((y_pred > target_scores).sum(axis=-1) < k).astype(np.float64)


def sparse_top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> np.ndarray:
    """Per sample: 1.0 when the integer label is among the top ``k`` predictions."""
    yt, yp = np.asarray(y_true), np.asarray(y_pred, dtype=np.float64)
    if yt.ndim == yp.ndim and yt.shape[-1:] == (1,):
        yt = yt[..., 0]
    if yp.ndim < 2 or yt.shape != yp.shape[:-1]:
        raise ValueError("Argument `y_true` of sparse_top_k_categorical_accuracy must have shape "
                         f"{yp.shape[:-1]} (or with a trailing 1) for y_pred.shape={yp.shape}; received "
                         f"y_true.shape={np.shape(y_true)}")
    return _in_top_k(yt, yp, k)


def top_k_categorical_accuracy(y_true: Any, y_pred: Any, k: int = 5) -> np.ndarray:
    """Per sample: 1.0 when ``argmax(y_true)`` is among the top ``k`` predictions."""
    yt, yp = np.asarray(y_true), np.asarray(y_pred, dtype=np.float64)
    if yt.shape != yp.shape or yp.ndim < 2:
        raise ValueError("Arguments `y_true` (one-hot) and `y_pred` of top_k_categorical_accuracy must have "
                         f"the same shape (batch, classes); received y_true.shape={yt.shape}, "
                         f"y_pred.shape={yp.shape}")
    return _in_top_k(yt.argmax(axis=-1), yp, k)


def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """Per sample: ``100 * mean(|y_true - y_pred| / max(|y_true|, eps))`` over the last axis."""
    yp = np.asarray(y_pred, dtype=np.float64)
    yt, yp = squeeze_or_expand_to_same_rank(np.asarray(y_true, dtype=np.float64), yp)
    if yt.shape != yp.shape:
        raise ValueError("Arguments `y_true` and `y_pred` of mean_absolute_percentage_error must have the same "
                         f"shape; received {np.shape(y_true)} and {np.shape(y_pred)}")
    return 100.0 * (np.abs(yt - yp) / np.maximum(np.abs(yt), EPSILON)).mean(axis=-1)


class _TopK(MeanMetricWrapper):
    _fn = staticmethod(top_k_categorical_accuracy)
    _default_name = "top_k_categorical_accuracy"

    def __init__(self, k: int = 5, name: str | None = None, dtype: Any = None):
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise ValueError(f"{type(self).__name__}: k must be a positive integer; received k={k!r}")
        super().__init__(type(self)._fn, name=name or self._default_name, dtype=dtype, k=int(k))


class TopKCategoricalAccuracy(_TopK):
    """Fraction of samples whose one-hot label is among the ``k`` (default 5) top predictions."""

    _fn = staticmethod(top_k_categorical_accuracy)
    _default_name = "top_k_categorical_accuracy"


class SparseTopKCategoricalAccuracy(_TopK):
    """Fraction of samples whose integer label is among the ``k`` (default 5) top predictions."""

    _fn = staticmethod(sparse_top_k_categorical_accuracy)
    _default_name = "sparse_top_k_categorical_accuracy"

    def __init__(self, k: int = 5, name: str | None = None, dtype: Any = None, from_sorted_ids: bool = False):
        if from_sorted_ids:
            raise ValueError("SparseTopKCategoricalAccuracy: from_sorted_ids=True is not supported")
        super().__init__(k=k, name=name, dtype=dtype)


class MeanAbsolutePercentageError(MeanMetricWrapper):
    """Mean of ``100 * |y_true - y_pred| / max(|y_true|, 1e-7)``."""

    def __init__(self, name: str = "mean_absolute_percentage_error", dtype: Any = None):
        super().__init__(mean_absolute_percentage_error, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}


class FBetaScore(Metric):
    """F-beta score per class from thresholded predictions, accumulated over batches.

    ``y_true`` and ``y_pred``: ``(batch, num_classes)``. A prediction counts as positive when
    ``y_pred > threshold``, or, with ``threshold=None``, where it is the row's maximum (and not
    0). Weighted true/false positives and false negatives give per-class precision ``P`` and
    recall ``R`` (each ``tp / (tp + f + 1e-7)``), and::

        F = (1 + beta**2) * P * R / (beta**2 * P + R + 1e-7)

    ``average``: None (one value per class), ``"micro"`` (counts pooled over classes first),
    ``"macro"`` (mean over classes) or ``"weighted"`` (mean weighted by each class's support).
    """

    def __init__(self, average: str | None = None, beta: float = 1.0, threshold: float | None = None,
                 name: str = "fbeta_score", dtype: Any = None):
        super().__init__(name=name, dtype=dtype)
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError("FBetaScore: average must be None, 'micro', 'macro' or 'weighted'; received "
                             f"average={average!r}")
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta <= 0:
            raise ValueError(f"FBetaScore: beta must be a number > 0; received beta={beta!r}")
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                      or not 0 < threshold <= 1):
            raise ValueError(f"FBetaScore: threshold must be None or a number in (0, 1]; received {threshold!r}")
        self.average, self.beta, self.threshold = average, float(beta), threshold
        self.reset_state()

    def reset_state(self) -> None:
        self._tp = self._fp = self._fn = self._support = None

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        yt = np.asarray(y_true, dtype=np.float64)
        yp = np.asarray(y_pred, dtype=np.float64)
        if yt.ndim != 2 or yt.shape != yp.shape:
            raise ValueError(f"{type(self).__name__}: y_true and y_pred must both have shape (batch, "
                             f"num_classes); received {yt.shape} and {yp.shape}")
        if self._tp is not None and self._tp.shape not in ((), (yp.shape[1],)):
            raise ValueError(f"{type(self).__name__}: built for {self._tp.shape[0]} classes; received "
                             f"y_pred with {yp.shape[1]}")
        if self.threshold is None:
            pred = (yp >= yp.max(axis=-1, keepdims=True)) & (np.abs(yp) > 1e-9)
        else:
            pred = yp > self.threshold
        pred = pred.astype(np.float64)
        w = None
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float64)
            w = w.reshape(w.shape + (1,) * (2 - w.ndim)) if w.ndim < 2 else w
        axis = None if self.average == "micro" else 0

        def wsum(v):
            return (v if w is None else v * w).sum(axis=axis)

        parts = (wsum(pred * yt), wsum(pred * (1 - yt)), wsum((1 - pred) * yt), wsum(yt))
        if self._tp is None:
            self._tp, self._fp, self._fn, self._support = (np.zeros_like(p) for p in parts)
        self._tp = self._tp + parts[0]
        self._fp = self._fp + parts[1]
        self._fn = self._fn + parts[2]
        self._support = self._support + parts[3]

    def result(self) -> float | np.ndarray:
        if self._tp is None:
            return 0.0
        eps = EPSILON
        precision = self._tp / (self._tp + self._fp + eps)
        recall = self._tp / (self._tp + self._fn + eps)
        b2 = self.beta ** 2
        f = precision * recall / (b2 * precision + recall + eps) * (1 + b2)
        if self.average == "weighted":
            return float((f * self._support / (self._support.sum() + eps)).sum())
        if self.average is not None:
            return float(np.mean(f))
        return f

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "average": self.average, "beta": self.beta,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    """:class:`FBetaScore` with ``beta=1`` (Keras' ``F1Score``)."""

    def __init__(self, average: str | None = None, threshold: float | None = None, name: str = "f1_score",
                 dtype: Any = None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("beta")
        return config


CLASSES = (F1Score, FBetaScore, TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy,
           MeanAbsolutePercentageError)
NAMES: dict[str, type] = {cls.__name__: cls for cls in CLASSES}
NAMES.update({"f1_score": F1Score, "fbeta_score": FBetaScore,
              "top_k_categorical_accuracy": TopKCategoricalAccuracy,
              "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
              "mean_absolute_percentage_error": MeanAbsolutePercentageError,
              "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError})
