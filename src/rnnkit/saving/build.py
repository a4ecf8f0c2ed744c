"""Building an rnnkit model from a (translated) Keras config, compiling it, restoring its
optimizer: the steps every loader shares, with errors that name the file."""
from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .. import losses, optimizers
from . import checks, config_in, layout, registry, safety


def model_from_keras_config(config: dict, path: str, max_values: int):
    """``(model, layer order)`` from a Keras 3 or tf.keras 2 top-level model config.

    At most ``max_values`` weight values may be allocated (the file's weights' size).
    """
    kind = config.get("class_name")
    if kind not in config_in.MODEL_CLASSES:
        raise safety.fail(path, f"the file holds a {kind!r}, not a model; expected one of "
                                f"{list(config_in.MODEL_CLASSES)}")
    try:
        converted = config_in.layer_config(config)
    except config_in.ConfigError as exc:
        raise safety.fail(path, str(exc)) from None
    except RecursionError:
        raise safety.fail(path, "the config nests models too deeply") from None
    cls = registry.model_class(converted["class_name"])
    if cls is None:
        raise safety.fail(path, f"unsupported model class {kind!r}")
    try:
        with safety.allocation_limit(path, max_values):
            model = cls.from_config(converted["config"])
    except ValueError as exc:
        if str(exc).startswith(path):
            raise
        raise safety.fail(path, f"invalid model config ({exc})") from None
    except (KeyError, TypeError, IndexError, NotImplementedError, AttributeError) as exc:
        raise safety.fail(path, f"invalid model config ({type(exc).__name__}: {exc})") from None
    if not model.built:
        raise safety.fail(path, "the saved config has no input shape")
    raw_layers = (config.get("config") or {}).get("layers") or []
    order = [((e.get("config") or {}).get("name") if kind == "Sequential" else e.get("name"))
             for e in raw_layers if isinstance(e, dict)]
    return model, order


def compile_args(cc: dict) -> dict:
    def as_loss(v):
        if v is None or isinstance(v, str):
            return v
        if isinstance(v, list):
            return [as_loss(x) for x in v]
        if isinstance(v, dict) and "class_name" in v and "config" in v:
            return losses.deserialize(v)
        return v

    opt = cc["optimizer"]
    opt = optimizers.deserialize(opt) if isinstance(opt, dict) else opt
    metrics = cc.get("metrics") or None
    return {"optimizer": opt, "loss": as_loss(cc["loss"]), "metrics": metrics,
            "loss_weights": cc.get("loss_weights")}


def set_weights(model, arrays: list[np.ndarray], path: str) -> None:
    """``model.set_weights(arrays)`` read from ``path``; NaN/inf weights load with a warning."""
    checks.warn_non_finite(arrays, list(model.weight_names), path)
    try:
        model.set_weights(arrays)
    except (ValueError, TypeError) as exc:
        raise safety.fail(path, f"the weights do not fit the model ({exc})") from None


_NO_COMPILE = "; pass compile=False to load the model without compiling it"


def compile_from_keras(model, raw: Any, path: str) -> None:
    """``model.compile`` with a Keras compile config (nothing when there is none).

    A config that cannot be applied is an error (as in Keras), never a silently
    uncompiled model.
    """
    cc = checks.compile_config(raw, path)
    if cc is None:
        return
    cc = config_in.compile_config(cc)
    if cc is None:
        return
    cc["metrics"] = checks.known_metrics(cc.get("metrics"), path)
    try:
        model.compile(**compile_args(cc))
    except (ValueError, TypeError, KeyError, IndexError, AttributeError) as exc:
        raise safety.fail(path, f"compile_config cannot be applied ({exc}){_NO_COMPILE}") from None


def restore_optimizer(model, arrays: list[np.ndarray] | None, path: str) -> None:
    """Set the optimizer's state from Keras' ordered variables.

    As in Keras, a different number of variables (another optimizer, another version)
    only warns and the optimizer starts fresh; a wrong shape or an invalid value
    (negative ``iterations``, NaN learning rate or slots) is an error.
    """
    if not arrays or len(arrays) == 1:  # nothing, or only the step count of an unused optimizer
        return
    shapes = [w.shape for w in model.trainable_weights]
    try:
        state = layout.optimizer_state(model.optimizer, arrays, shapes)
    except ValueError as exc:
        raise safety.fail(path, f"the optimizer state does not fit this model: {exc}{_NO_COMPILE}") from None
    if state is None:
        warnings.warn(f"{path}: the optimizer state in the file ({len(arrays)} arrays) does not match "
                      f"{type(model.optimizer).__name__} for this model; it starts fresh", stacklevel=3)
        return
    try:
        model.optimizer.set_state(state)
    except (ValueError, TypeError) as exc:
        raise safety.fail(path, f"invalid optimizer state: {exc}{_NO_COMPILE}") from None
