"""Regression metrics: mean absolute / squared error, root mean squared error and mean
absolute percentage error."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..losses.base import EPSILON, squeeze_or_expand_to_same_rank
from ..losses.regression import mean_absolute_error, mean_squared_error
from .base import Mean, MeanMetricWrapper, _same_shape, _wrapper

__all__ = ["MeanAbsoluteError", "MeanSquaredError", "RootMeanSquaredError", "MeanAbsolutePercentageError",
           "mean_absolute_percentage_error"]

MeanAbsoluteError = _wrapper("MeanAbsoluteError", mean_absolute_error, "mean_absolute_error",
                             "Mean of ``|y_true - y_pred|``.", module=__name__)
MeanSquaredError = _wrapper("MeanSquaredError", mean_squared_error, "mean_squared_error",
                            "Mean of ``(y_true - y_pred)**2``.", module=__name__)


class RootMeanSquaredError(Mean):
    """``sqrt`` of the weighted mean of ``(y_pred - y_true)**2`` over all elements."""

    def __init__(self, name: str = "root_mean_squared_error", dtype: Any = None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        yt, yp = _same_shape("root_mean_squared_error", np.asarray(y_true), np.asarray(y_pred))
        super().update_state(np.square(yp.astype(np.float64) - yt), sample_weight)

    def result(self) -> float:
        return math.sqrt(super().result())


def mean_absolute_percentage_error(y_true: Any, y_pred: Any) -> np.ndarray:
    """Per sample: ``100 * mean(|y_true - y_pred| / max(|y_true|, eps))`` over the last axis."""
    yp = np.asarray(y_pred, dtype=np.float64)
    yt, yp = squeeze_or_expand_to_same_rank(np.asarray(y_true, dtype=np.float64), yp)
    if yt.shape != yp.shape:
        raise ValueError("Arguments `y_true` and `y_pred` of mean_absolute_percentage_error must have the same "
                         f"shape; received {np.shape(y_true)} and {np.shape(y_pred)}")
    return 100.0 * (np.abs(yt - yp) / np.maximum(np.abs(yt), EPSILON)).mean(axis=-1)


class MeanAbsolutePercentageError(MeanMetricWrapper):
    """Mean of ``100 * |y_true - y_pred| / max(|y_true|, 1e-7)``."""

    def __init__(self, name: str = "mean_absolute_percentage_error", dtype: Any = None):
        super().__init__(mean_absolute_percentage_error, name=name, dtype=dtype)

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype}
