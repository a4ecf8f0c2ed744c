"""Resolving a Keras identifier -- ``None``, an instance, a name or a
``{"class_name", "config"}`` dict -- to an object of one family (constraints,
regularizers), the way each family's ``get`` does."""
from __future__ import annotations

from typing import Any


def resolve(identifier: Any, base: type, classes: dict, aliases: dict, noun: str, example: str):
    """``identifier`` as an instance of ``base`` (or None).

    A name is looked up in ``aliases`` (lower-cased) then ``classes``; a dict's
    ``class_name`` in ``classes`` then ``aliases``, built with ``from_config``. Unknown
    names raise ValueError listing what is known; anything else raises TypeError naming
    ``noun`` and ``example``.
    """
    if identifier is None or isinstance(identifier, base):
        return identifier
    if isinstance(identifier, str):
        cls = aliases.get(identifier.lower()) or classes.get(identifier)
        if cls is None:
            raise ValueError(f"Unknown {noun} {identifier!r}; expected one of {sorted(aliases)}")
        return cls()
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = classes.get(identifier["class_name"]) or aliases.get(str(identifier["class_name"]).lower())
        if cls is None:
            raise ValueError(f"Unknown {noun} class {identifier['class_name']!r}; expected one of "
                             f"{sorted(classes)}")
        return cls.from_config(dict(identifier.get("config", {})))
    raise TypeError(f"{noun} must be None, a name such as {example!r} or a {base.__name__}; "
                    f"received {identifier!r}")


def serialize(obj: Any) -> dict | None:
    """``{"class_name", "config"}`` of ``obj``, the form :func:`resolve` reads back; None for None."""
    if obj is None:
        return None
    return {"class_name": type(obj).__name__, "config": obj.get_config()}
