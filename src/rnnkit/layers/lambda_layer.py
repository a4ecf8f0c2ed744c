"""``Lambda``: a layer from a function written with ``keras.ops`` (or NumPy, for inference)."""
from __future__ import annotations

from typing import Callable

from ..ops import layer_autodiff as _autodiff
from .base import Layer


class Lambda(Layer):
    """``Lambda(lambda x: ops.mean(x, axis=1))``: ``function(inputs, **arguments)``.

    Trains through the tape like any custom layer. ``output_shape`` (a shape without the
    batch dimension, or a function of the input shape) is optional: by default the layer
    runs the function on zeros to find it. Saving a model with a Lambda records the
    function's name only; loading needs it registered
    (``keras.saving.register_keras_serializable``) or in ``custom_objects`` (rnnkit never
    unpickles or runs code from a file).
    """

    def __init__(self, function: Callable, output_shape=None, mask=None, arguments: dict | None = None,
                 **kwargs):
        if not callable(function):
            raise TypeError(f"Lambda: function must be callable; received {type(function).__name__}")
        super().__init__(**kwargs)
        self.function = function
        self._output_shape = output_shape
        self.mask = mask
        self.arguments = dict(arguments or {})
        self.supports_masking = mask is not None

    def call(self, inputs, mask=None, training=None):
        return self.function(inputs, **self.arguments)

    def compute_output_shape(self, input_shape):
        if self._output_shape is None:
            return _autodiff.infer_output_shape(self, input_shape)
        if callable(self._output_shape):
            return self._output_shape(input_shape)
        batch = input_shape[0][0] if isinstance(input_shape, list) else input_shape[0]
        return (batch,) + tuple(self._output_shape)

    def compute_mask(self, inputs, mask=None):
        return self.mask(inputs, mask) if callable(self.mask) else self.mask

    _symbolic_input_shape = _autodiff.symbolic_input_shape

    def get_config(self) -> dict:
        from ..saving_registry import get_registered_name
        name = get_registered_name(self.function)
        if name == "<lambda>":
            raise ValueError(
                f"Lambda '{self.name}': a lambda expression cannot be saved by name; define the "
                "function with def and register it with keras.saving.register_keras_serializable()")
        config = super().get_config()
        config.update({"function": name, "arguments": self.arguments})
        if self._output_shape is not None and not callable(self._output_shape):
            config["output_shape"] = list(self._output_shape)
        return config

    @classmethod
    def from_config(cls, config: dict) -> "Lambda":
        from ..saving_registry import get_registered_object
        config = dict(config)
        fn = config.pop("function")
        if isinstance(fn, dict):
            raise ValueError("Lambda: this config holds serialized bytecode, which rnnkit never "
                             "runs; register the function and pass custom_objects instead")
        obj = get_registered_object(fn)
        if obj is None:
            raise ValueError(f"Lambda: unknown function {fn!r}; register it with "
                             "keras.saving.register_keras_serializable() or pass "
                             f"custom_objects={{{fn.split('>')[-1]!r}: ...}} to load_model")
        return cls(obj, **config)
