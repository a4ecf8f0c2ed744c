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

    Keras equivalent: ``keras.layers.TimeDistributed``.

    Args:
        layer: the layer to apply at each step (or its ``{"class_name", "config"}`` dict).
        **kwargs: ``name``, ``dtype``, ``trainable`` as for every layer.

    Raises:
        TypeError: ``layer`` is not a layer.

    Example:
        ```python
        import numpy as np
        from rnnkit.keras.layers import Dense, TimeDistributed

        per_step = TimeDistributed(Dense(5, activation="softmax"))
        y = per_step(np.ones((2, 7, 3), "float32"))     # (2, 7, 5): one softmax per step
        ```
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
        """Build the inner layer for one step's shape ``(None,) + input_shape[2:]``.

        Raises:
            ValueError: ``input_shape`` has fewer than 3 axes.
        """
        if len(input_shape) < 3:
            raise ValueError(
                f"TimeDistributed '{self.name}' expects input of shape (batch, timesteps, ...); "
                f"received {tuple(input_shape)}"
            )
        self.layer._maybe_build((None,) + tuple(input_shape[2:]))
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        """``(batch, timesteps) +`` the inner layer's output shape without its batch axis."""
        inner = self.layer.compute_output_shape((None,) + tuple(input_shape[2:]))
        return tuple(input_shape[:2]) + tuple(inner[1:])

    def forward(self, inputs, mask=None, training=False, **kwargs):
        """Run the inner layer on every step at once.

        Args:
            inputs: ``(batch, timesteps, ...)``.
            mask: unused.
            training: passed to the inner layer.

        Returns:
            ``(outputs, cache)``: ``(batch, timesteps, ...)`` with the inner layer's trailing
            shape, and what :meth:`backward` needs.

        Raises:
            ValueError: the input has fewer than 3 axes.
        """
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
        """``dL/dinputs`` ``(batch, timesteps, ...)`` (None if the inner layer's input takes no
        gradient, e.g. an Embedding); the inner layer's ``grads`` hold the weight gradients.
        """
        inner_cache, xshape = cache
        g = np.asarray(grad_outputs)
        dx = self.layer.backward(g.reshape((-1,) + g.shape[2:]), inner_cache)
        return None if dx is None else dx.reshape(xshape)

    def param_formula(self):
        """The wrapped layer's formula (its weights are shared over the steps)."""
        return self.layer.param_formula()

    def get_config(self):
        """Keras' config, the inner layer as ``{"class_name", "config"}``."""
        return {**super().get_config(),
                "layer": {"class_name": type(self.layer).__name__, "config": self.layer.get_config()}}
