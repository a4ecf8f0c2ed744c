"""Keras' registry of custom objects: ``register_keras_serializable`` and ``custom_objects``.

Saved configs name classes and functions only by name. Loading looks a name up in, in
order: the ``custom_objects`` given to ``load_model`` (and enclosing
:class:`custom_object_scope` blocks), then the objects registered with
:func:`register_keras_serializable` (by ``"package>name"``, then by plain name). Nothing
is imported or executed from the file itself.
"""
from __future__ import annotations

from typing import Any, Callable

_REGISTERED: dict[str, Any] = {}  # "package>name" -> class or function
_SCOPES: list[dict] = []


def register_keras_serializable(package: str = "Custom", name: str | None = None) -> Callable:
    """Decorator: make a custom layer, model, loss, metric or function loadable by name."""
    if not isinstance(package, str) or ">" in package:
        raise ValueError(f"register_keras_serializable: package must be a string without '>'; "
                         f"received {package!r}")

    def decorator(obj):
        key = f"{package}>{name or obj.__name__}"
        if not (isinstance(obj, type) or callable(obj)):
            raise TypeError(f"register_keras_serializable: expected a class or function; received "
                            f"{type(obj).__name__}")
        if isinstance(obj, type) and not hasattr(obj, "get_config"):
            raise ValueError(f"Cannot register {obj.__name__}: a class needs get_config()")
        _REGISTERED[key] = obj
        try:
            obj._rnnkit_registered_name = key
        except (AttributeError, TypeError):
            pass
        return obj

    return decorator


def get_registered_name(obj) -> str:
    """``"package>Name"`` for a registered object, else its plain name."""
    key = obj.__dict__.get("_rnnkit_registered_name") if hasattr(obj, "__dict__") else None
    if key is not None and _REGISTERED.get(key) is obj:
        return key
    return getattr(obj, "__name__", type(obj).__name__)


def get_registered_object(name: str, custom_objects: dict | None = None, module_objects: dict | None = None):
    """The object saved under ``name`` (see the module docstring), or None."""
    for scope in ([custom_objects] if custom_objects else []) + list(reversed(_SCOPES)) + \
            ([module_objects] if module_objects else []):
        if name in scope:
            return scope[name]
        short = name.split(">")[-1]
        if short in scope:
            return scope[short]
    if name in _REGISTERED:
        return _REGISTERED[name]
    matches = [v for k, v in _REGISTERED.items() if k.split(">", 1)[-1] == name]
    return matches[-1] if matches else None


def lookup(class_name: str, registered_name: str | None = None):
    """The custom object for a saved ``class_name`` (preferring its ``registered_name``)."""
    if registered_name:
        obj = get_registered_object(registered_name)
        if obj is not None:
            return obj
    return get_registered_object(class_name)


def registered_name_of(obj) -> str | None:
    """The registry key for ``type(obj)`` (or a function), when registered."""
    target = obj if isinstance(obj, type) or callable(obj) and not hasattr(obj, "get_config") else type(obj)
    for k, v in _REGISTERED.items():
        if v is target:
            return k
    return None


class custom_object_scope:
    """``with custom_object_scope({"MyLayer": MyLayer}): load_model(...)``."""

    def __init__(self, *objects: dict | None):
        self._objects = {}
        for d in objects:
            self._objects.update(d or {})

    def __enter__(self):
        _SCOPES.append(self._objects)
        return self

    def __exit__(self, *exc):
        _SCOPES.remove(self._objects)
        return False


CustomObjectScope = custom_object_scope

__all__ = ["register_keras_serializable", "get_registered_name", "get_registered_object",
           "custom_object_scope", "CustomObjectScope", "lookup"]
