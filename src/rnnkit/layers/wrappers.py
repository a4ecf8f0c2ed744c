"""TimeDistributed: apply a layer to every timestep independently."""
from __future__ import annotations

import numpy as np

from .base import Layer
from .registry import deserialize as deserialize_inner


class TimeDistributed(Layer):
    """Apply ``layer`` to each slice ``x[:, t]`` of a ``(batch, timesteps, ...)`` input.

    The inner layer runs once on the ``(batch * timesteps, ...)`` reshaped input, so a
    ``TimeDistributed(Dense(v, activation="softmax"))`` is one matrix product. Its
    weights are the inner layer's.
    """

    def __init__(self, layer: Layer, **kwargs):
        if isinstance(layer, dict):
            layer = deserialize_inner(layer)
        if not isinstance(layer, Layer):
            raise TypeError(f"TimeDistributed expects a Layer instance; received {type(layer).__name__}")
        super().__init__(**kwargs)
        self.layer = layer
        self._sublayers = [layer]

    def build(self, input_shape):
        if len(input_shape) < 3:
            raise ValueError(
                f"TimeDistributed '{self.name}' expects input of shape (batch, timesteps, ...); "
                f"received {tuple(input_shape)}"
            )
        self.layer._maybe_build((None,) + tuple(input_shape[2:]))
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        inner = self.layer.compute_output_shape((None,) + tuple(input_shape[2:]))
        return tuple(input_shape[:2]) + tuple(inner[1:])

    def forward(self, inputs, mask=None, training=False, **kwargs):
        x = np.asarray(inputs)
        if x.ndim < 3:
            raise ValueError(
                f"TimeDistributed '{self.name}' expects input of shape (batch, timesteps, ...); "
                f"received {x.shape}"
            )
        b, t = x.shape[:2]
        y, cache = self.layer.forward(x.reshape((b * t,) + x.shape[2:]), training=training)
        return y.reshape((b, t) + y.shape[1:]), (cache, x.shape)

    def backward(self, grad_outputs, cache):
        inner_cache, xshape = cache
        g = np.asarray(grad_outputs)
        dx = self.layer.backward(g.reshape((-1,) + g.shape[2:]), inner_cache)
        return None if dx is None else dx.reshape(xshape)

    def param_formula(self):
        return self.layer.param_formula()

    def get_config(self):
        return {**super().get_config(),
                "layer": {"class_name": type(self.layer).__name__, "config": self.layer.get_config()}}
