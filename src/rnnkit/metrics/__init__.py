"""Stateful metrics with Keras 3 semantics.

Every metric accumulates over ``update_state(y_true, y_pred, sample_weight=None)`` calls and
reports ``result()``; ``reset_state()`` clears it. Two families:

* mean metrics (accuracies, MAE/MSE, crossentropies, :class:`Mean`): a per-element value
  array ``values`` is reduced to one value per sample (the mean over the axes beyond the
  weight's rank, then over the remaining non-batch axes), and::

      total += sum(values * w);   count += sum(w)   (or the batch size)
      result = total / count

* confusion metrics (:class:`Precision`, :class:`Recall`, :class:`AUC`): weighted true/false
  positive/negative counts at a set of thresholds (a prediction is positive when
  ``y_pred > threshold``). With >= 3 evenly spaced thresholds Keras switches to a bucketed
  count (``bucket = ceil(y_pred * (T - 1)) - 1``), reproduced here, in float32 like Keras, so

The classes live in one module per family: :mod:`~rnnkit.metrics.base` (``Metric``,
``Mean``, ``Sum``, ``MeanMetricWrapper``), :mod:`~rnnkit.metrics.accuracy` (accuracies,
top-k accuracies), :mod:`~rnnkit.metrics.regression` (MAE, MSE, RMSE, MAPE),
:mod:`~rnnkit.metrics.probabilistic` (crossentropies) and :mod:`~rnnkit.metrics.confusion`
(Precision, Recall, AUC, F-scores). This package holds the name registry used by
``compile(metrics=[...])``.
"""
from __future__ import annotations

from typing import Any

from .. import backend
from .. import losses as _losses
from ..losses import EPSILON, squeeze_or_expand_to_same_rank  # noqa: F401  (were importable from here)
from ..saving_registry import get_registered_object
from .accuracy import (Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
                       SparseTopKCategoricalAccuracy, TopKCategoricalAccuracy)
# The per-sample function forms, importable from here as before (not in __all__).
from .accuracy import accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy  # noqa: F401
from .accuracy import sparse_top_k_categorical_accuracy, top_k_categorical_accuracy  # noqa: F401
from .base import Mean, MeanMetricWrapper, Metric, Sum
from .confusion import AUC, NEG_INF, F1Score, FBetaScore, Precision, Recall  # noqa: F401
from .probabilistic import BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy
from .regression import MeanAbsoluteError, MeanAbsolutePercentageError, MeanSquaredError, RootMeanSquaredError
from .regression import mean_absolute_percentage_error  # noqa: F401

__all__ = ["Metric", "Mean", "Sum", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy",
           "CategoricalAccuracy", "SparseCategoricalAccuracy", "MeanAbsoluteError",
           "MeanSquaredError", "RootMeanSquaredError", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "Precision", "Recall",
           "AUC", "F1Score", "FBetaScore", "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy",
           "MeanAbsolutePercentageError", "get", "serialize", "deserialize"]

_CLASSES = (Mean, Sum, Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
            MeanAbsoluteError, MeanSquaredError, RootMeanSquaredError, BinaryCrossentropy,
            CategoricalCrossentropy, SparseCategoricalCrossentropy, Precision, Recall, AUC)
_NAMES: dict[str, type[Metric]] = {cls.__name__: cls for cls in _CLASSES}
_NAMES.update({backend.to_snake_case(cls.__name__): cls for cls in _CLASSES})
_NAMES.update({"auc": AUC, "mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": MeanAbsoluteError,
               "MAE": MeanAbsoluteError, "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy})

# Named explicitly, as Keras spells them.
_MORE_CLASSES = (F1Score, FBetaScore, TopKCategoricalAccuracy, SparseTopKCategoricalAccuracy,
                 MeanAbsolutePercentageError)
_NAMES.update({cls.__name__: cls for cls in _MORE_CLASSES})
_NAMES.update({"f1_score": F1Score, "fbeta_score": FBetaScore,
               "top_k_categorical_accuracy": TopKCategoricalAccuracy,
               "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
               "mean_absolute_percentage_error": MeanAbsolutePercentageError,
               "mape": MeanAbsolutePercentageError, "MAPE": MeanAbsolutePercentageError})
_CLASSES = _CLASSES + _MORE_CLASSES


def _loss_kind(loss: Any) -> type | None:
    """The rnnkit loss class behind ``loss`` (a name, function or instance), if recognizable."""
    if loss is None:
        return None
    if isinstance(loss, _losses.Loss):
        return type(loss)
    try:
        return type(_losses.get(loss))
    except (ValueError, TypeError):
        return None


def _accuracy_class(identifier: str, loss: Any, y_true_shape: Any, y_pred_shape: Any) -> type[Metric]:
    kind = _loss_kind(loss)
    yt = None if y_true_shape is None else tuple(y_true_shape)
    yp = None if y_pred_shape is None else tuple(y_pred_shape)
    if (yp and yp[-1] == 1) or kind is _losses.BinaryCrossentropy:
        return BinaryAccuracy
    if kind is _losses.SparseCategoricalCrossentropy:
        return SparseCategoricalAccuracy
    if yt is not None and yp:
        if len(yt) < len(yp) or (yt[-1:] == (1,) and yp[-1] > 1):
            return SparseCategoricalAccuracy
        return CategoricalAccuracy
    if kind is _losses.CategoricalCrossentropy:
        return CategoricalAccuracy
    raise ValueError(f"Cannot resolve metric {identifier!r}: pass `loss` (a crossentropy) or both "
                     f"`y_true_shape` and `y_pred_shape`; received loss={loss!r}, "
                     f"y_true_shape={y_true_shape!r}, y_pred_shape={y_pred_shape!r}")


def get(identifier: Any, loss: Any = None, y_true_shape: Any = None, y_pred_shape: Any = None) -> Metric | None:
    """Resolve a metric as ``model.compile(metrics=[...])`` does.

    ``"accuracy"``/``"acc"`` (any case) become :class:`BinaryAccuracy` (binary crossentropy loss,
    or ``y_pred`` last dim 1), :class:`SparseCategoricalAccuracy` (sparse crossentropy loss, or
    ``y_true`` with one fewer axis / a last dim of 1 against ``y_pred``'s > 1) or
    :class:`CategoricalAccuracy`. A string keeps the user's spelling as the metric ``name`` (the
    history key: ``"acc"``, ``"mae"``...). Also accepts config dicts, classes, instances and
    callables ``fn(y_true, y_pred) -> values`` (averaged with :class:`MeanMetricWrapper`).
    """
    if identifier is None or isinstance(identifier, Metric):
        return identifier
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            return _accuracy_class(identifier, loss, y_true_shape, y_pred_shape)(name=identifier)
        if identifier not in _NAMES:
            obj = get_registered_object(identifier)  # a custom metric saved by name
            if isinstance(obj, type) and issubclass(obj, Metric):
                return obj(name=identifier)
            if callable(obj):
                return MeanMetricWrapper(obj, name=identifier)
            raise ValueError(f"Unknown metric {identifier!r}; expected one of "
                             f"{sorted(set(_NAMES) | {'accuracy', 'acc'})}")
        return _NAMES[identifier](name=identifier)
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise ValueError(f"Could not interpret metric identifier {identifier!r}")


def serialize(metric: Metric) -> dict[str, Any]:
    """``{"class_name": ..., "config": metric.get_config()}``."""
    if type(metric) not in _CLASSES:
        raise TypeError(f"serialize expects a built-in rnnkit Metric; received {metric!r}")
    return {"class_name": type(metric).__name__, "config": metric.get_config()}


def deserialize(config: dict[str, Any]) -> Metric:
    """Inverse of :func:`serialize`."""
    if not isinstance(config, dict) or config.get("class_name") not in _NAMES:
        raise ValueError(f"Argument `config` must be {{'class_name': one of {sorted(_NAMES)}, 'config': ...}}; "
                         f"received {config!r}")
    return _NAMES[config["class_name"]].from_config(config.get("config") or {})
