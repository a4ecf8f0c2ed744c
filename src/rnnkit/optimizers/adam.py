"""The Adam family: Adam, AdamW, Nadam (Nesterov momentum) and Adamax (infinity norm).

Each class docstring gives its update for one parameter ``p`` with gradient ``g``, where
``t = iterations + 1``. Arithmetic runs in the parameter's dtype with hyper-parameters cast
to it, as Keras does, so float32 steps match Keras' bit for bit up to the last rounding of
``power``/``sqrt``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..schedules import LearningRateSchedule
from .base import Optimizer, _check_range

__all__ = ["Adam", "AdamW", "Nadam", "Adamax"]


class Adam(Optimizer):
    """Adam (Keras' "epsilon hat" form). Slots ``m``, ``v`` (and ``v_hat`` with amsgrad)::

        t = iterations + 1
        alpha = lr * sqrt(1 - beta_2**t) / (1 - beta_1**t)
        m += (g - m) * (1 - beta_1)
        v += (g**2 - v) * (1 - beta_2)
        v_hat = maximum(v_hat, v)                          (amsgrad; then v_hat replaces v)
        p -= (m * alpha) / (sqrt(v) + epsilon)
    """

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, amsgrad: bool = False, **kwargs: Any):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = _check_range("beta_1", beta_1, 0.0, 1.0, high_open=True)
        self.beta_2 = _check_range("beta_2", beta_2, 0.0, 1.0, high_open=True)
        self.epsilon = _check_range("epsilon", epsilon, 0.0)
        self.amsgrad = bool(amsgrad)

    def _slot_names(self):
        return ("m", "v", "v_hat") if self.amsgrad else ("m", "v")

    def _update_step(self, i, g, p, lr):
        dt = p.dtype.type
        t = dt(self._iterations + 1)
        one = dt(1)
        alpha = dt(lr) * np.sqrt(one - dt(self.beta_2) ** t) / (one - dt(self.beta_1) ** t)
        t1, t2 = self._buffers(i, g)
        m, v = self._slots["m"][i], self._slots["v"][i]
        np.subtract(g, m, out=t1)
        t1 *= dt(1 - self.beta_1)
        m += t1
        np.square(g, out=t1)
        t1 -= v
        t1 *= dt(1 - self.beta_2)
        v += t1
        if self.amsgrad:
            v_hat = self._slots["v_hat"][i]
            np.maximum(v_hat, v, out=v_hat)
            v = v_hat
        np.sqrt(v, out=t1)
        t1 += dt(self.epsilon)
        np.multiply(m, alpha, out=t2)           # g is spent, so t2 may overwrite it
        t2 /= t1
        p -= t2

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon, "amsgrad": self.amsgrad}


class AdamW(Adam):
    """Adam with decoupled weight decay (default ``weight_decay=0.004``): before the Adam
    step, ``p -= p * weight_decay * lr`` (see :mod:`rnnkit.optimizers`)."""

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.001, weight_decay: float = 0.004,
                 beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
                 amsgrad: bool = False, **kwargs: Any):
        if weight_decay is None:
            raise ValueError("Argument `weight_decay` must be a number >= 0 for AdamW; "
                             "received weight_decay=None")
        super().__init__(learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon,
                         amsgrad=amsgrad, weight_decay=weight_decay, **kwargs)


class Nadam(Optimizer):
    """Adam with Nesterov momentum (Keras' schedule ``mu_t``). Slots ``m``, ``v``; one scalar
    ``u_product`` (the running product of the ``mu``), updated once per step::

        mu(s)      = beta_1 * (1 - 0.5 * 0.96**s)
        u_product *= mu(t)                          (before any parameter moves)
        m += (g - m) * (1 - beta_1);   v += (g**2 - v) * (1 - beta_2)
        m_hat = mu(t+1) * m / (1 - u_product * mu(t+1)) + (1 - mu(t)) * g / (1 - u_product)
        v_hat = v / (1 - beta_2**t)
        p -= m_hat * lr / (sqrt(v_hat) + epsilon)
    """

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, **kwargs: Any):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = _check_range("beta_1", beta_1, 0.0, 1.0, high_open=True)
        self.beta_2 = _check_range("beta_2", beta_2, 0.0, 1.0, high_open=True)
        self.epsilon = _check_range("epsilon", epsilon, 0.0)
        self._u_product: np.ndarray | None = None

    def _slot_names(self):
        return ("m", "v")

    def build(self, params):
        super().build(params)
        params = list(params)
        dtype = params[0].dtype if params else np.float32
        self._u_product = np.array(1.0, dtype=dtype)

    def apply(self, grads, params):
        params = list(params)
        if params and not self.built:
            self.build(params)
        if params and self._u_product is not None and any(g is not None for g in grads):
            dt = self._u_product.dtype.type
            step = dt(self._iterations + 1)
            self._u_product = self._u_product * dt(self.beta_1) * (dt(1) - dt(0.5) * dt(0.96) ** step)
        super().apply(grads, params)

    def _update_step(self, i, g, p, lr):
        dt = p.dtype.type
        one, half, decay = dt(1), dt(0.5), dt(0.96)
        b1, b2 = dt(self.beta_1), dt(self.beta_2)
        t, t_next = dt(self._iterations + 1), dt(self._iterations + 2)
        u_t = b1 * (one - half * decay ** t)
        u_t1 = b1 * (one - half * decay ** t_next)
        u_prod = dt(self._u_product)
        u_prod_1 = u_prod * u_t1
        m, v = self._slots["m"][i], self._slots["v"][i]
        t1, t2 = self._buffers(i, g)
        np.subtract(g, m, out=t1)
        t1 *= one - b1
        m += t1
        np.square(g, out=t1)
        t1 -= v
        t1 *= one - b2
        v += t1
        np.multiply(g, one - u_t, out=t1)                        # t1: the gradient's share
        t1 /= one - u_prod
        np.multiply(m, u_t1, out=t2)                             # g is spent
        t2 /= one - u_prod_1
        t2 += t1                                                 # m_hat
        t2 *= dt(lr)
        np.divide(v, one - b2 ** t, out=t1)
        np.sqrt(t1, out=t1)
        t1 += dt(self.epsilon)
        t2 /= t1
        p -= t2

    def get_state(self):
        state = super().get_state()
        if self._u_product is not None:
            state["u_product"] = np.array(self._u_product)
        return state

    def set_state(self, state):
        state = dict(state)
        u = state.pop("u_product", None)
        super().set_state(state)
        if u is not None:
            self._u_product = np.array(u)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


class Adamax(Optimizer):
    """Adam with the infinity norm. Slots ``m`` and ``u``::

        m += (g - m) * (1 - beta_1)
        u = maximum(beta_2 * u, |g|)
        p -= lr * m / ((1 - beta_1**t) * (u + epsilon))
    """

    def __init__(self, learning_rate: float | LearningRateSchedule = 0.001, beta_1: float = 0.9,
                 beta_2: float = 0.999, epsilon: float = 1e-7, **kwargs: Any):
        super().__init__(learning_rate, **kwargs)
        self.beta_1 = _check_range("beta_1", beta_1, 0.0, 1.0, high_open=True)
        self.beta_2 = _check_range("beta_2", beta_2, 0.0, 1.0)
        self.epsilon = _check_range("epsilon", epsilon, 0.0)

    def _slot_names(self):
        return ("m", "u")

    def _update_step(self, i, g, p, lr):
        dt = p.dtype.type
        m, u = self._slots["m"][i], self._slots["u"][i]
        t1, t2 = self._buffers(i, g)
        np.subtract(g, m, out=t1)
        t1 *= dt(1 - self.beta_1)
        m += t1
        u *= dt(self.beta_2)
        np.abs(g, out=t1)
        np.maximum(u, t1, out=u)
        np.multiply(m, dt(lr), out=t2)
        np.add(u, dt(self.epsilon), out=t1)
        t1 *= dt(1) - dt(self.beta_1) ** dt(self._iterations + 1)
        t2 /= t1
        p -= t2

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}
