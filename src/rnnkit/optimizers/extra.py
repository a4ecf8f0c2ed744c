"""More optimizers with Keras 3's update rules: Nadam, Adamax, Adadelta, Lion, Ftrl.

They share :class:`rnnkit.optimizers.Optimizer` (clipping, weight decay, schedules, state),
are found by name (``compile(optimizer="nadam")``) and are exported from
``rnnkit.optimizers`` and ``rnnkit.keras.optimizers``. Each class docstring gives its update
for one parameter ``p`` with gradient ``g``, where ``t = iterations + 1``. Arithmetic runs in
the parameter's dtype with hyper-parameters cast to it, as Keras does, so float32 steps
match Keras' bit for bit up to the last rounding of ``power``/``sqrt``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .base import Optimizer, _check_range
from ..schedules import LearningRateSchedule

__all__ = ["Nadam", "Adamax", "Adadelta", "Lion", "Ftrl"]

LR = "float | LearningRateSchedule"


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
