"""The class names that configs and saved files may name, and (de)serialization by them.

Only classes registered here can be rebuilt from a config: rnnkit's own layers
(registered by :mod:`rnnkit.layers`) and models (by :mod:`rnnkit.models`). A file
can therefore never make rnnkit import or run anything else.
"""
from __future__ import annotations

from typing import Any

from .. import saving_registry

_CLASSES: dict[str, type] = {}


def register(cls: type, *names: str) -> type:
    """Make ``cls`` available to :func:`deserialize` under its class name and ``names``."""
    for name in (cls.__name__, *names):
        _CLASSES[name] = cls
    return cls


def get_class(name: str) -> type | None:
    """The class registered as ``name``, or None."""
    return _CLASSES.get(name)


def registered_names() -> list[str]:
    return sorted(_CLASSES)


def deserialize(config: dict) -> Any:
    """Rebuild a layer or model from ``{"class_name": ..., "config": {...}}``."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Layer config must be a dict with 'class_name' and 'config'; received {config!r}")
    name = config["class_name"]
    cls = _CLASSES.get(name) if isinstance(name, str) else None
    if cls is None and isinstance(name, str):  # a custom layer: registered, or in custom_objects
        found = saving_registry.lookup(name, config.get("registered_name"))
        cls = found if isinstance(found, type) and hasattr(found, "from_config") else None
    if cls is None:
        layers = sorted(n for n, c in _CLASSES.items() if not getattr(c, "_is_model", False))
        raise ValueError(
            f"Unknown layer class {name!r}; expected one of {layers}, or a custom layer registered "
            "with keras.saving.register_keras_serializable() or passed in custom_objects=")
    inner = config.get("config", {})
    if not isinstance(inner, dict):
        raise ValueError(f"The config of a {name} must be a dict; received {type(inner).__name__}")
    return cls.from_config(dict(inner))


def serialize(layer) -> dict:
    """``{"class_name": ..., "config": layer.get_config()}`` (and the ``registered_name`` of a
    custom class registered with ``register_keras_serializable``)."""
    out = {"class_name": type(layer).__name__, "config": layer.get_config()}
    if _CLASSES.get(type(layer).__name__) is not type(layer):
        registered = saving_registry.registered_name_of(type(layer))
        if registered:
            out["registered_name"] = registered
    return out
