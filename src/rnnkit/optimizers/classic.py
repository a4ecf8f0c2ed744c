"""SGD (with optional Nesterov momentum) and the running-square-of-gradients family:
RMSprop, Adagrad, Adadelta. Each class docstring gives the update for one parameter ``p``
with gradient ``g``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..schedules import LearningRateSchedule
from .base import Optimizer, _check_range

__all__ = ["SGD", "RMSprop", "Adagrad", "Adadelta"]


class SGD(Optimizer):
    """Stochastic gradient descent, with optional (Nesterov) momentum.

    ``momentum == 0``: ``p -= g * lr``. Otherwise, with slot ``momentum`` (``m``)::

        m = m * momentum - g * lr
        p += m                                  (nesterov=False)
        p += m * momentum - g * lr              (nesterov=True, with the new m)
    """

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.01, momentum: float = 0.0,
                 nesterov: bool = False, **kwargs: Any):
        super().__init__(learning_rate, **kwargs)
        self.momentum = _check_range("momentum", momentum, 0.0, 1.0)
        self.nesterov = bool(nesterov)

    def _slot_names(self) -> tuple[str, ...]:
        return ("momentum",) if self.momentum != 0 else ()

    def _update_step(self, i, g, p, lr):
        dt = p.dtype.type
        g_lr, other = self._buffers(i, g)
        np.multiply(g, dt(lr), out=g_lr)
        if self.momentum == 0:
            p -= g_lr
            return
        m = self._slots["momentum"][i]
        m *= dt(self.momentum)
        m -= g_lr
        if self.nesterov:
            np.multiply(m, dt(self.momentum), out=other)
            other -= g_lr
            p += other
        else:
            p += m

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class RMSprop(Optimizer):
    """RMSprop. Slots ``velocity`` (``v``), ``average_gradient`` (``avg``, centered only) and
    ``momentum`` (``mom``, when ``self.momentum > 0``)::

        v = rho * v + (1 - rho) * g**2
        avg = rho * avg + (1 - rho) * g                      (centered)
        increment = lr * g / sqrt(v - avg**2 + epsilon)      (centered; else sqrt(v + epsilon))
        mom = self.momentum * mom + increment;  p -= mom     (self.momentum > 0)
        p -= increment                                       (self.momentum == 0)

    Note epsilon sits *inside* the square root (unlike Adam).
    """

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.001, rho: float = 0.9,
                 momentum: float = 0.0, epsilon: float = 1e-7, centered: bool = False, **kwargs: Any):
        super().__init__(learning_rate, **kwargs)
        self.rho = _check_range("rho", rho, 0.0, 1.0)
        self.momentum = _check_range("momentum", momentum, 0.0, 1.0)
        self.epsilon = _check_range("epsilon", epsilon, 0.0)
        self.centered = bool(centered)

    def _slot_names(self):
        return ("velocity",) + (("momentum",) if self.momentum > 0 else ()) \
            + (("average_gradient",) if self.centered else ())

    def _update_step(self, i, g, p, lr):
        dt = p.dtype.type
        rho, one_minus_rho = dt(self.rho), dt(1 - self.rho)
        t1, t2 = self._buffers(i, g)
        v = self._slots["velocity"][i]
        v *= rho
        np.square(g, out=t1)
        t1 *= one_minus_rho
        v += t1
        if self.centered:
            avg = self._slots["average_gradient"][i]
            avg *= rho
            np.multiply(g, one_minus_rho, out=t1)
            avg += t1
            np.square(avg, out=t1)
            np.subtract(v, t1, out=t1)
            t1 += dt(self.epsilon)
        else:
            np.add(v, dt(self.epsilon), out=t1)
        np.sqrt(t1, out=t1)
        np.multiply(g, dt(lr), out=t2)
        t2 /= t1
        if self.momentum > 0:
            mom = self._slots["momentum"][i]
            mom *= dt(self.momentum)
            mom += t2
            p -= mom
        else:
            p -= t2

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "momentum": self.momentum,
                "epsilon": self.epsilon, "centered": self.centered}


class Adagrad(Optimizer):
    """Adagrad. Slot ``accumulator`` (``acc``), starting at ``initial_accumulator_value``::

        acc += g**2
        p -= (lr * g) / sqrt(acc + epsilon)
    """

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.001,
                 initial_accumulator_value: float = 0.1, epsilon: float = 1e-7, **kwargs: Any):
        super().__init__(learning_rate, **kwargs)
        self.initial_accumulator_value = _check_range(
            "initial_accumulator_value", initial_accumulator_value, 0.0)
        self.epsilon = _check_range("epsilon", epsilon, 0.0)

    def _slot_names(self):
        return ("accumulator",)

    def _slot_init(self, slot):
        return self.initial_accumulator_value

    def _update_step(self, i, g, p, lr):
        dt = p.dtype.type
        t1, t2 = self._buffers(i, g)
        acc = self._slots["accumulator"][i]
        np.square(g, out=t1)
        acc += t1
        np.add(acc, dt(self.epsilon), out=t1)
        np.sqrt(t1, out=t1)
        np.multiply(g, dt(lr), out=t2)
        t2 /= t1
        p -= t2

    def get_config(self):
        return {**super().get_config(), "initial_accumulator_value": self.initial_accumulator_value,
                "epsilon": self.epsilon}


class Adadelta(Optimizer):
    """Adadelta. Slots ``accumulated_grad`` (``a``) and ``accumulated_delta_var`` (``d``)::

        a = rho * a + (1 - rho) * g**2
        delta = -sqrt(d + epsilon) * g / sqrt(a + epsilon)
        d = rho * d + (1 - rho) * delta**2
        p += lr * delta
    """

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.001, rho: float = 0.95,
                 epsilon: float = 1e-7, **kwargs: Any):
        super().__init__(learning_rate, **kwargs)
        self.rho = _check_range("rho", rho, 0.0, 1.0)
        self.epsilon = _check_range("epsilon", epsilon, 0.0)

    def _slot_names(self):
        return ("accumulated_grad", "accumulated_delta_var")

    def _update_step(self, i, g, p, lr):
        dt = p.dtype.type
        rho, eps = dt(self.rho), dt(self.epsilon)
        a, d = self._slots["accumulated_grad"][i], self._slots["accumulated_delta_var"][i]
        t1, t2 = self._buffers(i, g)
        a *= rho
        np.square(g, out=t1)
        t1 *= dt(1 - self.rho)
        a += t1
        np.add(d, eps, out=t1)
        np.sqrt(t1, out=t1)
        t1 *= g
        np.add(a, eps, out=t2)                    # g is spent
        np.sqrt(t2, out=t2)
        np.divide(t1, t2, out=t1)
        np.negative(t1, out=t1)                   # t1 = delta
        d *= rho
        np.square(t1, out=t2)
        t2 *= dt(1 - self.rho)
        d += t2
        t1 *= dt(lr)
        p += t1

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}
