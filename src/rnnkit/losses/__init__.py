"""Losses with Keras 3 semantics, plus their analytic gradients.

A loss object maps ``(y_true, y_pred, sample_weight)`` to a scalar in three stages:

1. alignment: if the ranks differ by one and the longer array ends in an axis of size 1,
   that axis is squeezed (or, for a rank-1 partner, the partner is expanded), so
   ``(n,)`` and ``(n, 1)`` pair up. Other shape mismatches raise ValueError.
2. per-sample values ``values`` of shape ``y_pred.shape[:-1]``: the loss reduces the last
   axis (MSE/MAE/Huber/binary crossentropy take its mean; categorical ones its sum).
3. reduction (``"sum_over_batch_size"`` by default)::

       loss = sum(values * w) / values.size        w = broadcast sample_weight (or 1)

   so a ``(batch, time, classes)`` prediction is averaged over batch *and* time.
   ``sample_weight`` may be ``(batch,)``, ``(batch, 1)``, ``(batch, time)``, ...

``loss.gradient`` returns ``d loss / d y_pred`` (shape and dtype of ``y_pred``);
``loss.value_and_gradient`` computes both in one pass. Probabilities are clipped to
``[EPSILON, 1 - EPSILON]`` exactly as Keras' TensorFlow backend does, and the gradient is the
derivative of that clipped expression (zero where clipping is active). With
``from_logits=True`` the fused, numerically stable forms are used.

Computation runs in ``y_pred``'s float dtype (Keras would cast to ``floatx``), so float64
inputs give float64 losses and gradients.

Custom losses: subclass :class:`Loss` and write ``call(y_true, y_pred)`` with ``keras.ops``
(its gradient comes from the tape, :mod:`rnnkit.ops`), or implement ``_forward`` with an
analytic gradient; a plain callable passed to :func:`get` is wrapped and differentiated on
the tape too.

The classes live in one module per family: :mod:`~rnnkit.losses.base` (``Loss``,
``LossFunctionWrapper`` and the shared helpers), :mod:`~rnnkit.losses.probabilistic`
(crossentropies, KL divergence, Poisson), :mod:`~rnnkit.losses.regression` (MSE, MAE,
Huber, log-cosh, cosine similarity) and :mod:`~rnnkit.losses.hinge`. This package holds the
name registry used by ``compile(loss="mse")``.
"""
from __future__ import annotations

from typing import Any

from ..saving_registry import get_registered_object
from .base import Loss, LossFunctionWrapper, squeeze_or_expand_to_same_rank
# Shared helpers, importable from here as before (not in __all__).
from .base import EPSILON, broadcast_weights, compute_dtype  # noqa: F401
from .hinge import CategoricalHinge, categorical_hinge
from .probabilistic import (KLD, BinaryCrossentropy, CategoricalCrossentropy, KLDivergence, Poisson,
                            SparseCategoricalCrossentropy, binary_crossentropy, categorical_crossentropy,
                            kl_divergence, kld, poisson, sparse_categorical_crossentropy)
from .regression import (CosineSimilarity, Huber, LogCosh, MeanAbsoluteError, MeanSquaredError, cosine_similarity,
                         huber, log_cosh, logcosh, mae, mean_absolute_error, mean_squared_error, mse)

__all__ = ["Loss", "LossFunctionWrapper", "BinaryCrossentropy", "CategoricalCrossentropy",
           "SparseCategoricalCrossentropy", "MeanSquaredError", "MeanAbsoluteError", "Huber",
           "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
           "mean_squared_error", "mse", "mean_absolute_error", "mae", "huber",
           "KLDivergence", "CosineSimilarity", "Poisson", "LogCosh", "CategoricalHinge", "kl_divergence",
           "kld", "KLD", "cosine_similarity", "poisson", "log_cosh", "logcosh", "categorical_hinge",
           "get", "serialize", "deserialize", "squeeze_or_expand_to_same_rank"]

_CLASSES = (BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
            MeanSquaredError, MeanAbsoluteError, Huber, KLDivergence, CosineSimilarity, Poisson, LogCosh,
            CategoricalHinge)
_FUNCTIONS = {binary_crossentropy: BinaryCrossentropy, categorical_crossentropy: CategoricalCrossentropy,
              sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
              mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError, huber: Huber,
              kl_divergence: KLDivergence, cosine_similarity: CosineSimilarity, poisson: Poisson,
              log_cosh: LogCosh, categorical_hinge: CategoricalHinge}
_NAMES: dict[str, type[Loss]] = {cls.__name__: cls for cls in _CLASSES}
_NAMES.update({fn.__name__: cls for fn, cls in _FUNCTIONS.items()})
_NAMES.update({"bce": BinaryCrossentropy, "mse": MeanSquaredError, "mae": MeanAbsoluteError,
               "huber_loss": Huber, "kld": KLDivergence, "KLD": KLDivergence, "logcosh": LogCosh,
               "kullback_leibler_divergence": KLDivergence})


def serialize(loss: Loss) -> dict[str, Any]:
    """``{"class_name": ..., "config": loss.get_config()}`` (a wrapped callable is recorded by
    its function name only, so it can be described but not rebuilt)."""
    if not isinstance(loss, Loss):
        raise TypeError(f"serialize expects an rnnkit Loss; received {loss!r}")
    if isinstance(loss, LossFunctionWrapper):
        return {"class_name": "LossFunctionWrapper", "config": {
            **Loss.get_config(loss), "fn": getattr(loss.fn, "__name__", repr(loss.fn))}}
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(config: dict[str, Any]) -> Loss:
    """Inverse of :func:`serialize` (not possible for wrapped custom callables)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Argument `config` must be a dict with a 'class_name' key; received {config!r}")
    if config["class_name"] == "LossFunctionWrapper":
        fn = (config.get("config") or {}).get("fn")
        obj = get_registered_object(fn) if isinstance(fn, str) else None
        if callable(obj):
            return LossFunctionWrapper(obj, name=(config.get("config") or {}).get("name"))
        raise ValueError(f"Loss config wraps the custom function {fn!r}, which cannot be rebuilt "
                         "from a config; pass the function (or a Loss subclass) itself instead")
    return _lookup(config["class_name"]).from_config(config.get("config") or {})


def _lookup(name: str) -> type[Loss]:
    cls = _NAMES.get(name) or {k.lower(): v for k, v in _NAMES.items()}.get(name.lower())
    if cls is None:  # a registered custom Loss subclass (or one in custom_objects)
        obj = get_registered_object(name)
        cls = obj if isinstance(obj, type) and issubclass(obj, Loss) else None
    if cls is None:
        raise ValueError(f"Unknown loss {name!r}; expected one of {sorted(_NAMES)}")
    return cls


def get(identifier: Any) -> Loss | None:
    """Resolve a name (``"mse"``, ``"binary_crossentropy"``, ``"Huber"``...), a config dict,
    a loss class or instance, one of this module's functions, or another callable (wrapped,
    value only)."""
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        return _lookup(identifier)()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if identifier in _FUNCTIONS:
        return _FUNCTIONS[identifier]()
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise ValueError(f"Could not interpret loss identifier {identifier!r}; expected a name "
                     f"(one of {sorted(_NAMES)}), a config dict, a Loss or a callable")
