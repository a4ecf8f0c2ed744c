"""Feed-forward layers: Dense, Activation, Dropout, Flatten, Masking."""
from __future__ import annotations

import numpy as np

from .. import activations, backend, constraints, initializers, regularizers
from .base import Layer


class Dense(Layer):
    """``y = activation(x @ kernel + bias)`` on the last axis.

    Shapes: ``x (..., input_dim)``, ``kernel (input_dim, units)``, ``bias (units,)``,
    ``y (..., units)``. A 3-D input ``(batch, timesteps, features)`` is projected at
    every timestep, as in Keras.

    Keras equivalent: ``keras.layers.Dense``. Parameters: ``input_dim x units + units``.

    Args:
        units: output size, a positive integer.
        activation: a name (``"sigmoid"``, ``"softmax"``, ...), an activation, or None (linear).
        use_bias: add ``bias``.
        kernel_initializer: initializer of ``kernel`` (Glorot uniform by default).
        bias_initializer: initializer of ``bias`` (zeros).
        seed: seed for this layer's initializers (else ``rnnkit.set_seed``'s stream).
        **kwargs: ``name``, ``dtype``, ``trainable``, ``input_shape`` as for every layer.

    Raises:
        ValueError: ``units`` is not a positive integer.
        NotImplementedError: a regularizer or constraint is given.

    Example:
        ```python
        import numpy as np
        from rnnkit.keras.layers import Dense

        head = Dense(1, activation="sigmoid")
        p = head(np.ones((4, 32), "float32"))          # (4, 1)
        assert head.count_params() == 32 * 1 + 1
        ```
    """

    def __init__(self, units: int, activation=None, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"Dense: units must be a positive integer; received {units!r}")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.seed = seed
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.kernel_constraint = constraints.get(kernel_constraint)
        self.bias_constraint = constraints.get(bias_constraint)
        if activity_regularizer is not None:
            raise NotImplementedError("Dense: activity_regularizer is not supported by rnnkit yet (add an "
                                      f"ActivityRegularization layer); received {activity_regularizer!r}")

    def build(self, input_shape):
        """Create ``kernel (input_shape[-1], units)`` and ``bias (units,)``.

        Raises:
            ValueError: the input has fewer than 2 axes or an unknown feature size.
        """
        if len(input_shape) < 2 or input_shape[-1] is None:
            raise ValueError(
                f"Dense '{self.name}' needs inputs of shape (batch, ..., features) with a known "
                f"feature size; received {tuple(input_shape)}"
            )
        rng = backend.make_rng(self.seed)
        self.kernel = self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer, rng=rng,
                                      regularizer=self.kernel_regularizer, constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.units,), self.bias_initializer, rng=rng,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        """``input_shape`` with the last axis replaced by ``units``."""
        return tuple(input_shape[:-1]) + (self.units,)

    def forward(self, inputs, mask=None, training=False, **kwargs):
        """Run the layer.

        Args:
            inputs: array ``(..., input_dim)``.
            mask: ignored here (masks pass through ``compute_mask``).
            training: unused.

        Returns:
            ``(outputs, cache)``: outputs ``(..., units)``, and what :meth:`backward` needs.
        """
        x = self._convert_input(inputs)
        if x.ndim < 2:
            self._check_rank(x, 2, "(batch, features)")
        self._check_last_dim(x, self.kernel.shape[0], "features")
        z = x @ self.kernel
        if self.use_bias:
            z += self.bias
        y = self.activation(z)
        return y, (x, None if self.activation.from_output else z, y)

    def backward(self, grad_outputs, cache):
        """Gradient of the loss with respect to the inputs.

        Args:
            grad_outputs: ``dL/doutputs``, the shape of the outputs.
            cache: the second value :meth:`forward` returned.

        Returns:
            ``dL/dinputs``, the shape of the inputs; ``grads`` holds ``[dL/dkernel, dL/dbias]``.
        """
        x, z, y = cache
        dz = self.activation.backward(z, y, grad_outputs)
        d2 = dz.reshape(-1, self.units)
        grads = [x.reshape(-1, x.shape[-1]).T @ d2]
        if self.use_bias:
            grads.append(d2.sum(axis=0))
        self._set_grads(grads)
        return dz @ self.kernel.T

    def param_formula(self):
        """``D x U + U`` (``D x U`` without bias), as the seeds count a Dense layer."""
        if not self.built:
            return None
        d, u = self.kernel.shape
        return f"{d} x {u} + {u}" if self.use_bias else f"{d} x {u}"

    def get_config(self):
        """Keras' config: ``units``, ``activation``, ``use_bias`` and the initializers."""
        return {**super().get_config(), "units": self.units, "activation": self.activation.name,
                "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                **weight_rules_config(self, "kernel", "bias")}


def weight_rules_config(layer, *weights: str) -> dict:
    """``{"<w>_regularizer": ..., "<w>_constraint": ...}`` for the ones set (Keras' keys)."""
    out = {}
    for w in weights:
        reg, con = getattr(layer, f"{w}_regularizer", None), getattr(layer, f"{w}_constraint", None)
        if reg is not None:
            out[f"{w}_regularizer"] = regularizers.serialize(reg)
        if con is not None:
            out[f"{w}_constraint"] = constraints.serialize(con)
    return out


class Activation(Layer):
    """Apply an activation function elementwise (softmax: over the last axis).

    Input and output have the same shape. Keras equivalent: ``keras.layers.Activation``.

    Args:
        activation: a name such as ``"relu"`` or an activation from ``rnnkit.activations``.
    """

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)

    def forward(self, inputs, mask=None, training=False, **kwargs):
        """Run the layer.

        Args:
            inputs: array of any shape.
            mask: ignored here (masks pass through ``compute_mask``).
            training: unused.

        Returns:
            ``(outputs, cache)``: outputs of the same shape, and what :meth:`backward` needs.
        """
        x = self._convert_input(inputs)
        y = self.activation(x)
        return y, (None if self.activation.from_output else x, y)

    def backward(self, grad_outputs, cache):
        """Gradient of the loss with respect to the inputs.

        Args:
            grad_outputs: ``dL/doutputs``, the shape of the outputs.
            cache: the second value :meth:`forward` returned.

        Returns:
            ``dL/dinputs``, the shape of the inputs.
        """
        x, y = cache
        self._set_grads([])
        return self.activation.backward(x, y, grad_outputs)

    def get_config(self):
        """Keras' config, with the activation's name."""
        return {**super().get_config(), "activation": self.activation.name}


class Dropout(Layer):
    """Inverted dropout: during training, zero a fraction ``rate`` of inputs and scale the rest by ``1/(1-rate)``.

    Args:
        rate: fraction of units to drop, in [0, 1).
        noise_shape: shape of the binary mask, broadcast against the input (``None`` dims
            take the input's size), e.g. ``(None, 1, features)`` drops whole features.
        seed: integer seed for repeatable masks.
    """

    def __init__(self, rate: float, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
            raise ValueError(f"Dropout: rate must be a float in [0, 1); received {rate!r}")
        self.rate = float(rate)
        self.noise_shape = None if noise_shape is None else tuple(noise_shape)
        self.seed = seed
        self._rng = backend.make_rng(seed)

    def forward(self, inputs, mask=None, training=False, **kwargs):
        """Run the layer.

        Args:
            inputs: array of any shape.
            mask: ignored here (masks pass through ``compute_mask``).
            training: drop only when True (``fit``); otherwise the identity.

        Returns:
            ``(outputs, cache)``: outputs of the same shape, and what :meth:`backward` needs.
        """
        x = self._convert_input(inputs)
        if not training or self.rate == 0.0:
            return x, None
        shape = x.shape
        if self.noise_shape is not None:
            shape = tuple(s if n is None else n for s, n in zip(x.shape, self.noise_shape))
        keep = (self._rng.random(shape) >= self.rate).astype(x.dtype)
        keep *= x.dtype.type(1.0 / (1.0 - self.rate))
        return x * keep, keep

    def backward(self, grad_outputs, cache):
        """Gradient of the loss with respect to the inputs.

        Args:
            grad_outputs: ``dL/doutputs``, the shape of the outputs.
            cache: the second value :meth:`forward` returned.

        Returns:
            ``dL/dinputs``, the shape of the inputs (the same units are zeroed and scaled).
        """
        self._set_grads([])
        return grad_outputs if cache is None else grad_outputs * cache

    def get_config(self):
        """Keras' config: ``rate``, ``noise_shape``, ``seed``."""
        return {**super().get_config(), "rate": self.rate,
                "noise_shape": None if self.noise_shape is None else list(self.noise_shape),
                "seed": self.seed}


class Flatten(Layer):
    """Reshape ``(batch, d1, d2, ...)`` to ``(batch, d1 * d2 * ...)``.

    ``data_format="channels_first"`` moves axis 1 last before flattening, as Keras does.
    Keras equivalent: ``keras.layers.Flatten``. Like Keras, it drops the mask.
    """

    supports_masking = False

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last", "channels_first"):
            raise ValueError("Flatten: data_format must be 'channels_last' or 'channels_first'; received "
                             f"{data_format!r}")
        self.data_format = data_format or "channels_last"

    def compute_output_shape(self, input_shape):
        """``(batch, product of the other axes)`` (None if one of them is unknown)."""
        rest = input_shape[1:]
        size = None if any(d is None for d in rest) else int(np.prod(rest))
        return (input_shape[0], size)

    def forward(self, inputs, mask=None, training=False, **kwargs):
        """Run the layer.

        Args:
            inputs: array ``(batch, d1, d2, ...)``.
            mask: ignored here (masks pass through ``compute_mask``).
            training: unused.

        Returns:
            ``(outputs, cache)``: outputs ``(batch, d1 * d2 * ...)``, and what :meth:`backward` needs.
        """
        x = self._convert_input(inputs)
        moved = self.data_format == "channels_first" and x.ndim > 2
        if moved:
            x = np.moveaxis(x, 1, -1)
        return x.reshape(x.shape[0], -1), (x.shape, moved)

    def backward(self, grad_outputs, cache):
        """Gradient of the loss with respect to the inputs.

        Args:
            grad_outputs: ``dL/doutputs``, the shape of the outputs.
            cache: the second value :meth:`forward` returned.

        Returns:
            ``dL/dinputs``, the shape of the inputs.
        """
        shape, moved = cache
        self._set_grads([])
        g = np.asarray(grad_outputs).reshape(shape)
        return np.moveaxis(g, -1, 1) if moved else g

    def get_config(self):
        """Keras' config, with ``data_format``."""
        return {**super().get_config(), "data_format": self.data_format}


class Masking(Layer):
    """Mark timesteps whose features all equal ``mask_value`` as padding.

    Input ``(batch, timesteps, features)``; the output is the input with masked steps
    zeroed, and the mask ``(batch, timesteps)`` goes to the next layer.

    Keras equivalent: ``keras.layers.Masking``.

    Args:
        mask_value: the padding value.
    """

    def __init__(self, mask_value: float = 0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)

    def _keep(self, x):
        return np.any(x != self.mask_value, axis=-1)

    def compute_mask(self, inputs, mask):
        """The mask ``(batch, timesteps)``: True where some feature differs from ``mask_value``."""
        return self._keep(np.asarray(inputs))

    def forward(self, inputs, mask=None, training=False, **kwargs):
        """Run the layer.

        Args:
            inputs: array ``(batch, timesteps, features)``.
            mask: ignored here (masks pass through ``compute_mask``).
            training: unused.

        Returns:
            ``(outputs, cache)``: outputs of the same shape, masked steps zeroed, and what :meth:`backward` needs.
        """
        x = self._convert_input(inputs)
        if x.ndim < 3:
            self._check_rank(x, 3, "(batch, timesteps, features)")
        keep = self._keep(x)[..., None]
        return x * keep, keep

    def backward(self, grad_outputs, cache):
        """Gradient of the loss with respect to the inputs.

        Args:
            grad_outputs: ``dL/doutputs``, the shape of the outputs.
            cache: the second value :meth:`forward` returned.

        Returns:
            ``dL/dinputs``, the shape of the inputs (zero at masked steps).
        """
        self._set_grads([])
        return grad_outputs * cache

    def get_config(self):
        """Keras' config, with ``mask_value``."""
        return {**super().get_config(), "mask_value": self.mask_value}
