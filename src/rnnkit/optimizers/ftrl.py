"""FTRL-Proximal (Keras 3's update rule, with L1/L2 and shrinkage regularization)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..schedules import LearningRateSchedule
from .base import Optimizer, _check_range

__all__ = ["Ftrl"]


class Ftrl(Optimizer):
    """FTRL-Proximal. Slots ``accumulator`` (``n``, starting at ``initial_accumulator_value``)
    and ``linear`` (``z``); ``c = -learning_rate_power``, ``l2' = l2 + beta / (2 lr)``::

        n_new = n + g**2
        z += g + 2 * l2_shrinkage * p - (n_new**c - n**c) / lr * p
        p = (clip(z, -l1, l1) - z) / (n_new**c / lr + 2 * l2')
        n = n_new
    """

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.001, learning_rate_power: float = -0.5,
                 initial_accumulator_value: float = 0.1, l1_regularization_strength: float = 0.0,
                 l2_regularization_strength: float = 0.0, l2_shrinkage_regularization_strength: float = 0.0,
                 beta: float = 0.0, **kwargs: Any):
        super().__init__(learning_rate, **kwargs)
        self.learning_rate_power = _check_range("learning_rate_power", learning_rate_power, -float("inf"), 0.0)
        self.initial_accumulator_value = _check_range("initial_accumulator_value", initial_accumulator_value, 0.0)
        self.l1_regularization_strength = _check_range("l1_regularization_strength", l1_regularization_strength, 0.0)
        self.l2_regularization_strength = _check_range("l2_regularization_strength", l2_regularization_strength, 0.0)
        self.l2_shrinkage_regularization_strength = _check_range(
            "l2_shrinkage_regularization_strength", l2_shrinkage_regularization_strength, 0.0)
        self.beta = _check_range("beta", beta, 0.0)

    def _slot_names(self):
        return ("accumulator", "linear")

    def _slot_init(self, slot):
        return self.initial_accumulator_value if slot == "accumulator" else 0.0

    def _update_step(self, i, g, p, lr):
        dt = p.dtype.type
        lr_t = dt(lr)
        c = dt(-self.learning_rate_power)
        l1 = dt(self.l1_regularization_strength)
        l2 = dt(self.l2_regularization_strength) + dt(self.beta) / (dt(2.0) * lr_t)
        n, z = self._slots["accumulator"][i], self._slots["linear"][i]
        t1, t2 = self._buffers(i, g)
        np.multiply(p, dt(2 * self.l2_shrinkage_regularization_strength), out=t1)
        np.add(g, t1, out=t1)                      # grad_to_use
        np.square(g, out=t2)                       # g is spent after this
        np.add(n, t2, out=t2)                      # n_new
        np.power(n, c, out=n)                      # n is replaced by n_new at the end
        new_c = np.power(t2, c)
        np.subtract(new_c, n, out=n)
        n /= lr_t
        n *= p
        t1 -= n
        z += t1
        new_c /= lr_t
        new_c += dt(2) * l2                        # quadratic
        np.clip(z, -l1, l1, out=p)
        p -= z
        p /= new_c
        np.copyto(n, t2)

    def get_config(self):
        return {**super().get_config(), "learning_rate_power": self.learning_rate_power,
                "initial_accumulator_value": self.initial_accumulator_value,
                "l1_regularization_strength": self.l1_regularization_strength,
                "l2_regularization_strength": self.l2_regularization_strength,
                "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength,
                "beta": self.beta}
