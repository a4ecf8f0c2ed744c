"""Probabilistic metrics: the mean binary, categorical and sparse categorical crossentropy
(the per-sample values of the matching :mod:`rnnkit.losses` classes)."""
from __future__ import annotations

from typing import Callable

from ..losses import probabilistic as _losses
from .base import _wrapper

__all__ = ["BinaryCrossentropy", "CategoricalCrossentropy", "SparseCategoricalCrossentropy"]


def _loss_fn(loss_cls: type) -> Callable:
    return lambda y_true, y_pred, **kw: loss_cls(**kw).call(y_true, y_pred)


BinaryCrossentropy = _wrapper("BinaryCrossentropy", _loss_fn(_losses.BinaryCrossentropy), "binary_crossentropy",
                              "Mean binary crossentropy (see rnnkit.losses).",
                              (("from_logits", False), ("label_smoothing", 0.0)), module=__name__)
CategoricalCrossentropy = _wrapper("CategoricalCrossentropy", _loss_fn(_losses.CategoricalCrossentropy),
                                   "categorical_crossentropy", "Mean categorical crossentropy (see rnnkit.losses).",
                                   (("from_logits", False), ("label_smoothing", 0.0)), module=__name__)
SparseCategoricalCrossentropy = _wrapper("SparseCategoricalCrossentropy",
                                         _loss_fn(_losses.SparseCategoricalCrossentropy),
                                         "sparse_categorical_crossentropy",
                                         "Mean sparse categorical crossentropy (see rnnkit.losses).",
                                         (("from_logits", False),), module=__name__)
