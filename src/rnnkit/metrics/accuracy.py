"""Accuracy metrics: exact, binary, categorical and sparse categorical accuracy, and the
top-k accuracies (classes and per-sample function forms).

Each function returns per-sample (or per-element) values of 1.0 or 0.0; the classes average
them with :class:`~rnnkit.metrics.base.MeanMetricWrapper`.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import MeanMetricWrapper, _same_shape, _wrapper

__all__ = ["Accuracy", "BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy",
           "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy", "accuracy", "binary_accuracy",
           "categorical_accuracy", "sparse_categorical_accuracy", "top_k_categorical_accuracy",
           "sparse_top_k_categorical_accuracy"]


def accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """``1.0`` where ``y_true == y_pred`` elementwise."""
    yt, yp = _same_shape("accuracy", np.asarray(y_true), np.asarray(y_pred))
    return (yt == yp).astype(np.float64)


def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> np.ndarray:
    """``1.0`` where ``(y_pred > threshold) == y_true`` elementwise."""
    yt, yp = _same_shape("binary_accuracy", np.asarray(y_true), np.asarray(y_pred))
    return ((yp > threshold).astype(yt.dtype) == yt).astype(np.float64)


def categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """``1.0`` where ``argmax(y_true) == argmax(y_pred)`` over the last axis (first index on ties)."""
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    if yt.shape != yp.shape or yp.ndim == 0:
        raise ValueError("Arguments `y_true` (one-hot) and `y_pred` of categorical_accuracy must have the "
                         f"same shape; received y_true.shape={yt.shape}, y_pred.shape={yp.shape}")
    return (yt.argmax(-1) == yp.argmax(-1)).astype(np.float64)


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """``1.0`` where the integer label equals ``argmax(y_pred)``."""
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    if yp.ndim == yt.ndim and yt.shape[-1:] == (1,):
        yt = yt[..., 0]
    if yt.shape != yp.shape[:-1]:
        raise ValueError("Argument `y_true` of sparse_categorical_accuracy must have shape "
                         f"{yp.shape[:-1]} (or with a trailing 1); received y_true.shape={np.shape(y_true)} "
                         f"for y_pred.shape={yp.shape}")
    return (yp.argmax(-1) == yt).astype(np.float64)


Accuracy = _wrapper("Accuracy", accuracy, "accuracy", "Fraction of exact matches ``y_true == y_pred``.",
                    module=__name__)
BinaryAccuracy = _wrapper("BinaryAccuracy", binary_accuracy, "binary_accuracy",
                          "Fraction with ``(y_pred > threshold) == y_true``.", (("threshold", 0.5),),
                          module=__name__)
CategoricalAccuracy = _wrapper("CategoricalAccuracy", categorical_accuracy, "categorical_accuracy",
                               "Fraction with ``argmax(y_true) == argmax(y_pred)``.",
                               module=__name__)
SparseCategoricalAccuracy = _wrapper("SparseCategoricalAccuracy", sparse_categorical_accuracy,
                                     "sparse_categorical_accuracy", "Fraction with ``y_true == argmax(y_pred)``.",
                                     module=__name__)


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
