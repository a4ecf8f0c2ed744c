"""Model classes that loaders may build, registered by :mod:`rnnkit.models`.

The saving package never imports :mod:`rnnkit.models` (which imports saving for
``Model.save``); models register their classes here instead, so a file can only ever
name a class that rnnkit itself registered.
"""
from __future__ import annotations

_MODEL_CLASSES: dict[str, type] = {}


def register_model_class(name: str, cls: type) -> None:
    """Let files name ``cls`` as ``name`` (``"Sequential"``, ``"Functional"``, ``"Model"``)."""
    _MODEL_CLASSES[name] = cls


def model_class(name: str) -> type | None:
    if not _MODEL_CLASSES:  # loaded through rnnkit.saving alone: let the models register
        import importlib
        importlib.import_module("rnnkit.models")
    return _MODEL_CLASSES.get(name)


def model_class_names() -> list[str]:
    return sorted(_MODEL_CLASSES)
