"""Optimizers with Keras 3's exact update rules, defaults, clipping and weight decay.

Every update ``opt.apply(grads, params)`` runs, in Keras' order:

1. gradient clipping (at most one of ``clipnorm``, ``global_clipnorm``, ``clipvalue``)::

       clipnorm:        g = (g * clipnorm) / max(||g||, clipnorm)          (per array)
       global_clipnorm: g = g * scale,  scale = c * min(1 / N, 1 / c),
                        N = sqrt(sum_i ||g_i||^2) over all arrays
       clipvalue:       g = clip(g, -clipvalue, clipvalue)

2. decoupled weight decay, for *every* optimizer when ``weight_decay`` is set (Keras 3 has
   no L2-in-the-gradient variant)::

       p = p - p * weight_decay * lr

3. the optimizer's own ``_update_step`` with the clipped gradient (equations in each
   class docstring), where ``lr`` is the learning rate (or ``schedule(iterations)``);
4. ``iterations += 1``.

Parameters are updated in place in their own dtype; hyper-parameters are cast to that
dtype first, as Keras does. Slot arrays (momenta, ...) are created on the first call,
one per parameter position, plus two scratch buffers per position so that a step does
no large allocation.

The classes live in one module per family: :mod:`~rnnkit.optimizers.base` (``Optimizer``),
:mod:`~rnnkit.optimizers.classic` (SGD, RMSprop, Adagrad, Adadelta),
:mod:`~rnnkit.optimizers.adam` (Adam, AdamW, Nadam, Adamax), :mod:`~rnnkit.optimizers.lion`
and :mod:`~rnnkit.optimizers.ftrl`. This package holds the name registry used by
``compile(optimizer="adam")``.
"""
from __future__ import annotations

from typing import Any

from .. import schedules
from .adam import Adam, Adamax, AdamW, Nadam
from .base import Optimizer, _check_range  # noqa: F401  (argument checks, for optimizers defined elsewhere)
from .classic import SGD, Adadelta, Adagrad, RMSprop
from .ftrl import Ftrl
from .lion import Lion

__all__ = ["Optimizer", "SGD", "RMSprop", "Adam", "AdamW", "Adagrad", "Nadam", "Adamax", "Adadelta",
           "Lion", "Ftrl", "schedules",
           "get", "serialize", "deserialize"]

_OPTIMIZERS: dict[str, type[Optimizer]] = {
    cls.__name__.lower(): cls for cls in (SGD, RMSprop, Adam, AdamW, Adagrad, Nadam, Adamax, Adadelta, Lion, Ftrl)}


def serialize(optimizer: Optimizer) -> dict[str, Any]:
    """``{"class_name": "Adam", "config": optimizer.get_config()}``."""
    if not isinstance(optimizer, Optimizer):
        raise TypeError(f"serialize expects an rnnkit Optimizer; received {optimizer!r}")
    return {"class_name": type(optimizer).__name__, "config": optimizer.get_config()}


def deserialize(config: dict[str, Any]) -> Optimizer:
    """Inverse of :func:`serialize` (class name case-insensitive; Keras' extra keys ignored)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Argument `config` must be a dict with a 'class_name' key; received {config!r}")
    cls = _lookup(str(config["class_name"]))
    return cls.from_config(config.get("config") or {})


def _lookup(name: str) -> type[Optimizer]:
    cls = _OPTIMIZERS.get(name.lower())
    if cls is None:
        raise ValueError(f"Unknown optimizer {name!r}; expected one of {sorted(_OPTIMIZERS)}")
    return cls


def get(identifier: str | dict | Optimizer | None) -> Optimizer | None:
    """Resolve a name (``"adam"``, case-insensitive), a serialized dict or an instance."""
    if identifier is None or isinstance(identifier, Optimizer):
        return identifier
    if isinstance(identifier, str):
        return _lookup(identifier)()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(f"Could not interpret optimizer identifier {identifier!r}; expected a name "
                     f"(one of {sorted(_OPTIMIZERS)}), a config dict or an Optimizer instance")
