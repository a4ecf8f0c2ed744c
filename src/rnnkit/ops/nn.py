"""``keras.ops.nn``: activations, softmax, one-hot and crossentropies, with gradient rules.

Formulas follow Keras 3 (``gelu`` defaults to the tanh approximation, ``leaky_relu``'s
``negative_slope`` to 0.2, ``hard_sigmoid`` is ``relu6(x + 3) / 6``).
"""
from __future__ import annotations

import math

import numpy as np

from . import core
from .array_ops import squeeze
from .core import _unary, sigmoid, tanh
from .tape import unwrap

__all__ = ["relu", "relu6", "sigmoid", "tanh", "softmax", "log_softmax", "softplus", "softsign",
           "gelu", "silu", "swish", "elu", "selu", "leaky_relu", "log_sigmoid", "hard_sigmoid",
           "hard_silu", "hard_swish", "one_hot", "binary_crossentropy", "categorical_crossentropy",
           "sparse_categorical_crossentropy", "moments"]


def relu(x):
    return _unary(x, lambda v: np.maximum(v, 0), lambda v, o, g: g * (v > 0))


def relu6(x):
    return _unary(x, lambda v: np.clip(v, 0, 6), lambda v, o, g: g * ((v > 0) & (v < 6)))


def softmax(x, axis: int = -1):
    def f(v):
        e = np.exp(v - np.max(v, axis=axis, keepdims=True))
        return e / np.sum(e, axis=axis, keepdims=True)

    return _unary(x, f, lambda v, o, g: o * (g - np.sum(g * o, axis=axis, keepdims=True)))


def log_softmax(x, axis: int = -1):
    def f(v):
        z = v - np.max(v, axis=axis, keepdims=True)
        return z - np.log(np.sum(np.exp(z), axis=axis, keepdims=True))

    return _unary(x, f, lambda v, o, g: g - np.exp(o) * np.sum(g, axis=axis, keepdims=True))


def _sig(v):
    e = np.exp(-np.abs(v))
    return np.where(v >= 0, 1, e) / (1 + e)


def softplus(x):
    return _unary(x, lambda v: np.logaddexp(v, 0), lambda v, o, g: g * _sig(v))


def softsign(x):
    return _unary(x, lambda v: v / (1 + np.abs(v)), lambda v, o, g: g / np.square(1 + np.abs(v)))


def log_sigmoid(x):
    return _unary(x, lambda v: -np.logaddexp(-v, 0), lambda v, o, g: g * _sig(-v))


def silu(x):
    return _unary(x, lambda v: v * _sig(v), lambda v, o, g: g * (_sig(v) * (1 + v * (1 - _sig(v)))))


swish = silu


def hard_sigmoid(x):
    return _unary(x, lambda v: np.clip(v + 3, 0, 6) / 6, lambda v, o, g: g * ((v > -3) & (v < 3)) / 6)


def hard_silu(x):
    return core.multiply(x, hard_sigmoid(x))


hard_swish = hard_silu


def gelu(x, approximate: bool = True):
    if approximate:
        c = math.sqrt(2 / math.pi)

        def f(v):
            return 0.5 * v * (1 + np.tanh(c * (v + 0.044715 * v ** 3)))

        def df(v, o, g):
            t = np.tanh(c * (v + 0.044715 * v ** 3))
            return g * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * c * (1 + 3 * 0.044715 * v * v))

        return _unary(x, f, df)
    from math import erf
    verf = np.vectorize(erf, otypes=[float])

    def f_exact(v):
        return (0.5 * v * (1 + verf(v / math.sqrt(2)))).astype(np.result_type(v, np.float32))

    def df_exact(v, o, g):
        cdf = 0.5 * (1 + verf(v / math.sqrt(2)))
        pdf = np.exp(-0.5 * v * v) / math.sqrt(2 * math.pi)
        return (g * (cdf + v * pdf)).astype(np.result_type(g))

    return _unary(x, f_exact, df_exact)


def elu(x, alpha: float = 1.0):
    return _unary(x, lambda v: np.where(v > 0, v, alpha * np.expm1(np.minimum(v, 0))),
                  lambda v, o, g: g * np.where(v > 0, 1, o + alpha))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def selu(x):
    a, s = _SELU_ALPHA, _SELU_SCALE
    return _unary(x, lambda v: s * np.where(v > 0, v, a * np.expm1(np.minimum(v, 0))),
                  lambda v, o, g: g * np.where(v > 0, s, o + s * a))


def leaky_relu(x, negative_slope: float = 0.2):
    return _unary(x, lambda v: np.where(v > 0, v, negative_slope * v),
                  lambda v, o, g: g * np.where(v > 0, 1, negative_slope))


def one_hot(x, num_classes: int, axis: int = -1, dtype=None):
    from .. import backend
    idx = np.asarray(unwrap(x)).astype(np.int64)
    dt = backend.standardize_dtype(dtype) if dtype is not None else np.dtype(backend.floatx())
    out = (idx[..., None] == np.arange(num_classes)).astype(dt)
    return out if axis in (-1, out.ndim - 1) else np.moveaxis(out, -1, axis)


def binary_crossentropy(target, output, from_logits: bool = False):
    """Elementwise; probabilities are clipped to ``[1e-7, 1 - 1e-7]`` as Keras does."""
    t = unwrap(target)
    if from_logits:
        # max(z, 0) - z * t + log(1 + exp(-|z|))
        return core.subtract(softplus(output), core.multiply(output, t))
    p = core.clip(output, 1e-7, 1 - 1e-7)
    return core.negative(core.add(core.multiply(t, core.log(p)),
                                  core.multiply(core.subtract(1, t), core.log(core.subtract(1, p)))))


def categorical_crossentropy(target, output, from_logits: bool = False, axis: int = -1):
    t = unwrap(target)
    if from_logits:
        return core.negative(core.sum(core.multiply(t, log_softmax(output, axis=axis)), axis=axis))
    p = core.divide(output, core.sum(output, axis=axis, keepdims=True))
    p = core.clip(p, 1e-7, 1 - 1e-7)
    return core.negative(core.sum(core.multiply(t, core.log(p)), axis=axis))


def sparse_categorical_crossentropy(target, output, from_logits: bool = False, axis: int = -1):
    n = np.shape(unwrap(output))[axis]
    t = np.asarray(unwrap(target))
    if t.ndim == np.ndim(unwrap(output)) and t.shape[-1] == 1:
        t = t[..., 0]
    return categorical_crossentropy(one_hot(t, n, dtype=np.asarray(unwrap(output)).dtype), output,
                                    from_logits=from_logits, axis=axis)


def moments(x, axes, keepdims: bool = False):
    """``(mean, variance)`` over ``axes``."""
    m = core.mean(x, axis=axes, keepdims=True)
    v = core.mean(core.square(core.subtract(x, m)), axis=axes, keepdims=keepdims)
    return (m if keepdims else squeeze(m, axis=axes)), v
