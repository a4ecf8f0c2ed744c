"""Activation functions with their derivatives.

Each activation is an :class:`Activation` object: ``act(z)`` computes ``y = f(z)``
and ``act.backward(z, y, dy)`` returns ``dL/dz`` given ``dL/dy``. When the derivative
can be written in terms of the output alone (tanh, sigmoid, relu, ...), ``act.from_output``
is True and ``backward`` ignores ``z``, so the recurrent kernels need to keep only the
outputs of each step, not the pre-activations.
"""
from __future__ import annotations

from typing import Callable

import numpy as np


class Activation:
    """A named elementwise (or softmax) activation.

    Args:
        name: Keras name (``"tanh"``, ``"sigmoid"``, ...).
        forward: ``f(z) -> y`` for arrays of any shape.
        backward: ``g(z, y, dy) -> dz``.
        from_output: True when ``backward`` only reads ``y`` (``z`` may be None).
    """

    def __init__(self, name: str, forward: Callable, backward: Callable, from_output: bool):
        self.name = name
        self._forward = forward
        self._backward = backward
        self.from_output = from_output

    def __call__(self, z: np.ndarray) -> np.ndarray:
        return self._forward(z)

    def backward(self, z, y: np.ndarray, dy: np.ndarray) -> np.ndarray:
        """Gradient with respect to the input.

        Args:
            z: the pre-activation, any shape (may be None when ``from_output`` is True).
            y: ``f(z)``, the same shape.
            dy: ``dL/dy``, the same shape.

        Returns:
            ``dL/dz``, the shape of ``y``.
        """
        return self._backward(z, y, dy)

    def __repr__(self) -> str:
        return f"<activation {self.name}>"


def _sigmoid(z):
    # tanh form: stable for large |z| and one transcendental call.
    return 0.5 * np.tanh(0.5 * z) + 0.5


def _hard_sigmoid(z):
    # Keras 3 definition: relu6(z + 3) / 6.
    return np.clip(z / 6.0 + 0.5, 0.0, 1.0)


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def _softmax_backward(z, y, dy):
    return y * (dy - (dy * y).sum(axis=-1, keepdims=True))


_SELU_ALPHA = 1.6732632423543772848170429916717
_SELU_SCALE = 1.0507009873554804934193349852946


def _gelu(z):
    # Keras' default gelu is the exact (erf) form; erf via the Abramowitz-Stegun free
    # approach would be inexact, so use math.erf vectorised.
    from math import erf, sqrt

    v = np.vectorize(lambda t: erf(t / sqrt(2.0)), otypes=[z.dtype])
    return 0.5 * z * (1.0 + v(z))


def _gelu_backward(z, y, dy):
    from math import erf, sqrt, pi

    cdf = 0.5 * (1.0 + np.vectorize(lambda t: erf(t / sqrt(2.0)), otypes=[z.dtype])(z))
    pdf = np.exp(-0.5 * z * z) / np.sqrt(2.0 * pi)
    return dy * (cdf + z * pdf)


_REGISTRY: dict[str, Activation] = {}


def _register(name, forward, backward, from_output, *aliases):
    act = Activation(name, forward, backward, from_output)
    for n in (name, *aliases):
        _REGISTRY[n] = act
    return act


linear = _register("linear", lambda z: z, lambda z, y, dy: dy, True, "identity")
"""``linear(z) = z`` (also ``"identity"``); derivative 1."""
tanh = _register("tanh", np.tanh, lambda z, y, dy: dy * (1.0 - y * y), True)
"""``tanh(z)``; derivative ``1 - y^2``. The default activation of the recurrent layers."""
sigmoid = _register("sigmoid", _sigmoid, lambda z, y, dy: dy * y * (1.0 - y), True)
"""``sigmoid(z) = 1 / (1 + exp(-z))``; derivative ``y (1 - y)``. The gates' activation."""
hard_sigmoid = _register(
    "hard_sigmoid", _hard_sigmoid, lambda z, y, dy: dy * (((y > 0) & (y < 1)) / 6.0), True
)
"""Keras 3's ``relu6(z + 3) / 6``: 0 below -3, 1 above 3, linear between."""
relu = _register("relu", lambda z: np.maximum(z, 0), lambda z, y, dy: dy * (y > 0), True)
"""``max(z, 0)``."""
relu6 = _register(
    "relu6", lambda z: np.clip(z, 0, 6), lambda z, y, dy: dy * ((y > 0) & (y < 6)), True
)
"""``min(max(z, 0), 6)``."""
elu = _register(
    "elu",
    lambda z: np.where(z > 0, z, np.expm1(np.minimum(z, 0))),
    lambda z, y, dy: dy * np.where(y > 0, 1.0, y + 1.0),
    True,
)
"""``z`` for ``z > 0``, else ``exp(z) - 1``."""
selu = _register(
    "selu",
    lambda z: _SELU_SCALE * np.where(z > 0, z, _SELU_ALPHA * np.expm1(np.minimum(z, 0))),
    lambda z, y, dy: dy * np.where(y > 0, _SELU_SCALE, y + _SELU_SCALE * _SELU_ALPHA),
    True,
)
"""Scaled ELU: ``scale * elu(z, alpha)`` with Keras' self-normalizing constants."""
softplus = _register(
    "softplus",
    lambda z: np.logaddexp(0, z),
    lambda z, y, dy: dy * -np.expm1(-y),
    True,
)
"""``log(1 + exp(z))``, computed without overflow."""
softsign = _register(
    "softsign",
    lambda z: z / (1 + np.abs(z)),
    lambda z, y, dy: dy * (1 - np.abs(y)) ** 2,
    True,
)
"""``z / (1 + |z|)``."""
exponential = _register("exponential", np.exp, lambda z, y, dy: dy * y, True)
"""``exp(z)``."""
swish = _register(
    "silu",
    lambda z: z * _sigmoid(z),
    lambda z, y, dy: dy * (_sigmoid(z) * (1 + z * (1 - _sigmoid(z)))),
    False,
    "swish",
)
"""``silu(z) = z * sigmoid(z)`` (also ``"swish"``)."""
gelu = _register("gelu", _gelu, _gelu_backward, False)
"""Gaussian error linear unit, the exact form ``z * Phi(z)`` (Keras' default)."""
softmax = _register("softmax", _softmax, _softmax_backward, True)
"""Softmax over the last axis: ``exp(z) / sum(exp(z))``, shape kept."""


def get(identifier) -> Activation:
    """Resolve ``None`` (linear), a name, or an :class:`Activation` to an :class:`Activation`."""
    if identifier is None:
        return linear
    if isinstance(identifier, Activation):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in _REGISTRY:
            return _REGISTRY[key]
        raise ValueError(
            f"Unknown activation {identifier!r}; expected one of {sorted(_REGISTRY)}"
        )
    raise TypeError(
        f"activation must be a name such as 'tanh', None, or an rnnkit Activation; "
        f"received {type(identifier).__name__}"
    )


def serialize(act: Activation) -> str:
    """The name Keras stores in a config for ``act`` (``"tanh"``, ...)."""
    return act.name


def names() -> list[str]:
    """Every name :func:`get` accepts, aliases included, sorted."""
    return sorted(_REGISTRY)
