"""Weight constraints (Keras' ``keras.constraints``): projections applied to a weight after
every optimizer step.

``Dense(8, kernel_constraint="max_norm")`` or ``constraints.MaxNorm(3, axis=0)``. Norms are
taken over ``axis`` (0: each output unit's incoming weights of a Dense kernel).
"""
from __future__ import annotations

import numpy as np

from . import named_objects

_EPSILON = 1e-7  # keras.backend.epsilon()


class Constraint:
    """Base class: ``constraint(w)`` returns the projected array."""

    def __call__(self, w: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "Constraint":
        return cls(**config)


def _norms(w, axis):
    return np.sqrt((w * w).sum(axis=axis, keepdims=True))


class MaxNorm(Constraint):
    """Rescale slices whose L2 norm over ``axis`` exceeds ``max_value``."""

    def __init__(self, max_value: float = 2.0, axis=0):
        self.max_value = float(max_value)
        self.axis = axis

    def __call__(self, w):
        n = _norms(w, self.axis)
        return w * (np.clip(n, 0, self.max_value) / (_EPSILON + n))

    def get_config(self):
        return {"max_value": self.max_value, "axis": self.axis}


class MinMaxNorm(Constraint):
    """Move slice norms towards ``[min_value, max_value]`` at ``rate`` (1: all the way)."""

    def __init__(self, min_value: float = 0.0, max_value: float = 1.0, rate: float = 1.0, axis=0):
        self.min_value, self.max_value, self.rate = float(min_value), float(max_value), float(rate)
        self.axis = axis

    def __call__(self, w):
        n = _norms(w, self.axis)
        desired = self.rate * np.clip(n, self.min_value, self.max_value) + (1 - self.rate) * n
        return w * (desired / (_EPSILON + n))

    def get_config(self):
        return {"min_value": self.min_value, "max_value": self.max_value, "rate": self.rate, "axis": self.axis}


class NonNeg(Constraint):
    """Set negative entries to zero."""

    def __call__(self, w):
        return w * (w >= 0)


class UnitNorm(Constraint):
    """Scale each slice to unit L2 norm over ``axis``."""

    def __init__(self, axis=0):
        self.axis = axis

    def __call__(self, w):
        return w / (_EPSILON + _norms(w, self.axis))

    def get_config(self):
        return {"axis": self.axis}


max_norm = MaxNorm
min_max_norm = MinMaxNorm
non_neg = NonNeg
unit_norm = UnitNorm
_CLASSES: dict[str, type[Constraint]] = {
    "MaxNorm": MaxNorm, "MinMaxNorm": MinMaxNorm, "NonNeg": NonNeg, "UnitNorm": UnitNorm}
_ALIASES: dict[str, type[Constraint]] = {
    "max_norm": MaxNorm, "min_max_norm": MinMaxNorm, "non_neg": NonNeg, "unit_norm": UnitNorm,
    "maxnorm": MaxNorm, "nonneg": NonNeg, "unitnorm": UnitNorm}


def get(identifier) -> Constraint | None:
    """``None``, a Constraint, a name (``"max_norm"``, ``"non_neg"``, ``"unit_norm"``,
    ``"min_max_norm"``) or a ``{"class_name", "config"}`` dict."""
    return named_objects.resolve(identifier, Constraint, _CLASSES, _ALIASES, "constraint", "max_norm")


def serialize(con: Constraint | None) -> dict | None:
    """``{"class_name", "config"}``, the form :func:`get` reads back; None for None."""
    return named_objects.serialize(con)


def deserialize(config) -> Constraint | None:
    return get(config)
