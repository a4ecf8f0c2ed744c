"""Weight regularizers (Keras' ``keras.regularizers``): penalties added to the training loss.

``Dense(8, kernel_regularizer="l2")`` or ``regularizers.l1_l2(l1=1e-5, l2=1e-4)``. A
regularizer maps a weight array to a float penalty and gives its gradient; layers
register them through ``add_weight(regularizer=...)``, ``model.losses`` reports the
penalties, and training adds both to the loss and to the weights' gradients.
"""
from __future__ import annotations

import numpy as np

from . import named_objects


def _coef(value, arg, owner):
    if not isinstance(value, (int, float, np.floating)) or isinstance(value, bool) or value < 0 \
            or not np.isfinite(value):
        raise ValueError(f"{owner}: {arg} must be a non-negative float; received {value!r}")
    return float(value)


class Regularizer:
    """Base class: ``penalty = reg(w)`` (a float) and ``reg.gradient(w)`` (dpenalty/dw)."""

    def __call__(self, w: np.ndarray) -> float:  # pragma: no cover - abstract
        raise NotImplementedError

    def gradient(self, w: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def get_config(self) -> dict:
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "Regularizer":
        return cls(**config)


class L1L2(Regularizer):
    """``l1 * sum(|w|) + l2 * sum(w**2)``."""

    def __init__(self, l1: float = 0.0, l2: float = 0.0):
        self.l1 = _coef(l1, "l1", type(self).__name__)
        self.l2 = _coef(l2, "l2", type(self).__name__)

    def __call__(self, w):
        w = np.asarray(w)
        total = 0.0
        if self.l1:
            total += self.l1 * float(np.abs(w).sum())
        if self.l2:
            total += self.l2 * float((w * w).sum())
        return total

    def gradient(self, w):
        w = np.asarray(w)
        g = np.zeros_like(w)
        if self.l1:
            g += self.l1 * np.sign(w)
        if self.l2:
            g += (2.0 * self.l2) * w
        return g

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """``l1 * sum(|w|)`` (``l1=0.01`` by default, as in Keras)."""

    def __init__(self, l1: float = 0.01):
        super().__init__(l1=l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """``l2 * sum(w**2)`` (``l2=0.01`` by default, as in Keras)."""

    def __init__(self, l2: float = 0.01):
        super().__init__(l2=l2)

    def get_config(self):
        return {"l2": self.l2}


l1 = L1
l2 = L2
l1_l2 = L1L2
_CLASSES: dict[str, type[Regularizer]] = {"L1": L1, "L2": L2, "L1L2": L1L2}
_ALIASES: dict[str, type[Regularizer]] = {"l1": L1, "l2": L2, "l1_l2": L1L2, "l1l2": L1L2}


def get(identifier) -> Regularizer | None:
    """``None``, a Regularizer, a name (``"l1"``, ``"l2"``, ``"l1_l2"``) or a
    ``{"class_name", "config"}`` dict."""
    return named_objects.resolve(identifier, Regularizer, _CLASSES, _ALIASES, "regularizer", "l2")


def serialize(reg: Regularizer | None) -> dict | None:
    """``{"class_name", "config"}``, the form :func:`get` reads back; None for None."""
    return named_objects.serialize(reg)


def deserialize(config) -> Regularizer | None:
    return get(config)
