"""Lion: the sign of an interpolated momentum (Keras 3's update rule)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..schedules import LearningRateSchedule
from .base import Optimizer, _check_range

__all__ = ["Lion"]


class Lion(Optimizer):
    """Lion (sign of an interpolated momentum). Slot ``m``::

        p -= lr * sign(beta_1 * m + (1 - beta_1) * g)
        m = beta_2 * m + (1 - beta_2) * g
    """

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.99, **kwargs: Any):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = _check_range("beta_1", beta_1, 0.0, 1.0, low_open=True)
        self.beta_2 = _check_range("beta_2", beta_2, 0.0, 1.0)

    def _slot_names(self):
        return ("m",)

    def _update_step(self, i, g, p, lr):
        dt = p.dtype.type
        b1, b2 = dt(self.beta_1), dt(self.beta_2)
        m = self._slots["m"][i]
        t1, _ = self._buffers(i, g)
        np.multiply(m, b1, out=t1)
        t1 += g * (dt(1) - b1)                     # g is read again below, so not overwritten
        np.sign(t1, out=t1)
        t1 *= dt(lr)
        p -= t1
        m *= b2
        np.multiply(g, dt(1) - b2, out=t1)
        m += t1

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}
