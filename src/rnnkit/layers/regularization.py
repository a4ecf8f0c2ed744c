"""Regularization layers: SpatialDropout1D, GaussianNoise, GaussianDropout,
ActivityRegularization. All pass the mask on and have no weights.

The noise layers act only with ``training=True``; at inference they return the input.
ActivityRegularization adds ``(l1 * sum|x| + l2 * sum x**2) / batch`` to the training
loss, as Keras does: the value is in ``layer.losses`` after each call (the training loop
adds ``model.losses`` to the loss it reports) and its gradient is added in ``backward``.
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from .base import Layer


def _rate(value, owner, arg="rate", upper_open=True):
    ok = isinstance(value, (int, float, np.floating)) and not isinstance(value, bool) and (
        0.0 <= value < 1.0 if upper_open else 0.0 <= value <= 1.0)
    if not ok:
        bound = "[0, 1)" if upper_open else "[0, 1]"
        raise ValueError(f"{owner}: {arg} must be a float in {bound}; received {value!r}")
    return float(value)


class _Multiplicative(Layer):
    """Noise that multiplies the input: ``y = x * noise`` (the cache is the noise)."""

    def __init__(self, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.seed = seed
        self._rng = backend.make_rng(seed)

    def backward(self, grad_outputs, cache):
        self._set_grads([])
        g = np.asarray(grad_outputs)
        return g if cache is None else g * cache


class SpatialDropout1D(_Multiplicative):
    """Dropout of whole channels: for each sample, a channel is zeroed at every step at once
    (kept ones are scaled by ``1 / (1 - rate)``). Input ``(batch, steps, channels)``."""

    def __init__(self, rate: float, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _rate(rate, "SpatialDropout1D")

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"SpatialDropout1D '{self.name}' expects input of shape (batch, steps, "
                             f"channels); received {tuple(input_shape)}")
        super().build(input_shape)

    def forward(self, inputs, mask=None, training=False, **kwargs):
        x = self._convert_input(inputs)
        if x.ndim != 3:
            self._check_rank(x, 3, "(batch, steps, channels)")
        if not training or self.rate == 0.0:
            return x, None
        keep = (self._rng.random((x.shape[0], 1, x.shape[2])) >= self.rate).astype(x.dtype)
        keep *= x.dtype.type(1.0 / (1.0 - self.rate))
        return x * keep, keep

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class GaussianDropout(_Multiplicative):
    """Multiply by noise ``N(1, rate / (1 - rate))`` (standard deviation ``sqrt(rate / (1 - rate))``)."""

    def __init__(self, rate: float, seed=None, **kwargs):
        super().__init__(seed=seed, **kwargs)
        self.rate = _rate(rate, "GaussianDropout", upper_open=False)

    def forward(self, inputs, mask=None, training=False, **kwargs):
        x = self._convert_input(inputs)
        if not training or self.rate == 0.0:
            return x, None
        if self.rate == 1.0:
            raise ValueError(f"GaussianDropout '{self.name}': rate=1 gives infinite noise")
        std = math.sqrt(self.rate / (1.0 - self.rate))
        noise = self._rng.normal(1.0, std, size=x.shape).astype(x.dtype)
        return x * noise, noise

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class GaussianNoise(Layer):
    """Add zero-mean Gaussian noise of standard deviation ``stddev`` (training only)."""

    def __init__(self, stddev: float, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.stddev = _rate(stddev, "GaussianNoise", "stddev", upper_open=False)
        self.seed = seed
        self._rng = backend.make_rng(seed)

    def forward(self, inputs, mask=None, training=False, **kwargs):
        x = self._convert_input(inputs)
        if not training or self.stddev == 0.0:
            return x, None
        return x + self._rng.normal(0.0, self.stddev, size=x.shape).astype(x.dtype), None

    def backward(self, grad_outputs, cache):
        self._set_grads([])
        return np.asarray(grad_outputs)

    def get_config(self):
        return {**super().get_config(), "stddev": self.stddev, "seed": self.seed}


class ActivityRegularization(Layer):
    """Identity that adds ``(l1 * sum(|x|) + l2 * sum(x**2)) / batch_size`` to the loss.

    After a call, ``layer.losses`` holds that value (a one-element list); ``backward``
    returns the upstream gradient plus the penalty's gradient, so a training step
    minimizes the penalty without further wiring.
    """

    def __init__(self, l1: float = 0.0, l2: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        for arg, v in (("l1", l1), ("l2", l2)):
            if not isinstance(v, (int, float, np.floating)) or isinstance(v, bool) or v < 0:
                raise ValueError(f"ActivityRegularization: {arg} must be a non-negative float; received {v!r}")
        self.l1, self.l2 = float(l1), float(l2)

    def forward(self, inputs, mask=None, training=False, **kwargs):
        x = self._convert_input(inputs)
        n = x.shape[0] if x.ndim else 1
        penalty = 0.0
        if self.l1:
            penalty += self.l1 * float(np.abs(x).sum())
        if self.l2:
            penalty += self.l2 * float((x * x).sum())
        self._losses = [penalty / n if n else 0.0]
        return x, (x, n)

    def backward(self, grad_outputs, cache):
        x, n = cache
        self._set_grads([])
        g = np.asarray(grad_outputs)
        if not n or (not self.l1 and not self.l2):
            return g
        extra = (self.l1 * np.sign(x) + (2.0 * self.l2) * x) / n
        return g + extra.astype(g.dtype, copy=False)

    def get_config(self):
        return {**super().get_config(), "l1": self.l1, "l2": self.l2}
