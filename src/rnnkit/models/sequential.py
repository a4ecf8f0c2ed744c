"""Sequential: a plain stack of layers, each feeding the next."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..layers import InputLayer, KerasTensor, Layer, deserialize, serialize
from ..layers.layer_utils import run_backward, run_layer
from ..layers.recurrent.engines.embedded import fused_call
from .summary import print_summary
from .summary_box import check_style, print_box_summary
from .training import TrainingMixin


class Sequential(TrainingMixin, Layer):
    """A linear stack of layers (Keras' ``Sequential``).

    The input shape comes from the first layer's ``input_shape=``/``batch_input_shape=``
    (Keras 2), from an ``Input(shape=...)`` given first (Keras 3), from :meth:`build`,
    or from the first batch of data. Masks from ``Embedding(mask_zero=True)`` and
    ``Masking`` flow to the following layers.

    ``forward(x) -> (y, cache)`` and ``backward(dy, cache) -> dx`` run the whole stack;
    afterwards ``model.grads`` holds every weight's gradient in ``get_weights()`` order.
    """

    _is_model = True

    def __init__(self, layers=None, name: str | None = None, trainable: bool = True, **kwargs):
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._layers: list[Layer] = []
        self._sublayers = self._layers
        self._input_batch_shape = self._batch_input_shape
        for layer in layers or []:
            self.add(layer)

    # --------------------------------------------------------------- structure
    @property
    def layers(self) -> list[Layer]:
        return list(self._layers)

    def add(self, layer) -> None:
        """Append a layer (or set the input with an ``Input(...)`` tensor first)."""
        if isinstance(layer, KerasTensor):
            owner = layer._history[0] if layer._history else None
            if not isinstance(owner, InputLayer):
                raise ValueError(
                    "Sequential.add accepts a Layer or an Input(...) tensor; received a KerasTensor "
                    "produced by a layer (use the functional API for that)"
                )
            layer = owner
        if isinstance(layer, InputLayer):
            if self._layers:
                raise ValueError("Sequential: an Input must come before every other layer")
            self._input_batch_shape = layer._batch_input_shape
            return
        if not isinstance(layer, Layer):
            raise TypeError(
                f"Sequential.add expects a Layer instance; received {type(layer).__name__} ({layer!r})"
            )
        if any(existing.name == layer.name for existing in self._layers):
            raise ValueError(
                f"Sequential: all layers must have unique names; '{layer.name}' is already in the model"
            )
        if self._layers and self._layers[-1].num_outputs() > 1:
            prev = self._layers[-1]
            raise ValueError(
                f"Sequential: layer '{prev.name}' returns several outputs (return_state=True or "
                "merge_mode=None), so no layer can follow it in a Sequential model"
            )
        if not self._layers and self._input_batch_shape is None:
            self._input_batch_shape = layer._batch_input_shape
        self._layers.append(layer)
        self.built = False
        if self._input_batch_shape is not None:
            self.build(self._input_batch_shape)

    def pop(self) -> Layer:
        if not self._layers:
            raise ValueError("Sequential.pop: there is no layer to remove")
        layer = self._layers.pop()
        self.built = bool(self._layers) and self._input_batch_shape is not None
        return layer

    def build(self, input_shape=None) -> None:
        """Build every layer for inputs of ``input_shape`` (batch dimension first)."""
        if input_shape is None:
            input_shape = self._input_batch_shape
        if input_shape is None:
            raise ValueError(
                "This model has not yet been built. Build the model first by calling `build()` or "
                "by calling the model on a batch of data."
            )
        shape = tuple(input_shape)
        self._input_batch_shape = shape
        for layer in self._layers:
            layer._maybe_build(shape)
            shape = layer.compute_output_shape(shape)
        self._output_shape = shape
        Layer.build(self, input_shape)

    def _ensure_built(self, data_shape) -> None:
        if not self.built:
            shape = self._input_batch_shape or ((None,) + tuple(data_shape[1:]))
            self.build(shape)

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        for layer in self._layers:
            shape = layer.compute_output_shape(shape)
        return shape

    @property
    def input_shape(self):
        return self._input_batch_shape

    @property
    def output_shape(self):
        if not self.built:
            raise ValueError(f"Sequential '{self.name}' is not built yet, so it has no output shape")
        return self._output_shape

    def _summary_rows(self):
        if not self.built:
            raise ValueError(
                "This model has not yet been built. Build the model first by calling `build()` or "
                "by calling the model on a batch of data."
            )
        rows, shape = [], self._input_batch_shape
        for layer in self._layers:
            shape = layer.compute_output_shape(shape)
            rows.append((layer, shape))
        return rows

    def summary(self, line_length: int | None = None, positions=None,
                print_fn: Callable[[str], None] | None = None, explain: bool = False,
                style: str = "keras3", **kwargs) -> None:
        """Print the layer table: Keras 3's box table, or Keras 2's with ``style="keras2"``;
        ``explain=True`` also shows each parameter formula."""
        if check_style(style) == "keras3":
            print_box_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                              explain=explain)
            return
        print_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                      explain=explain)

    def reset_states(self) -> None:
        """Zero the states of every stateful layer (Keras' ``model.reset_states()``); to set
        a layer's states to given values, call ``layer.reset_states(states)``."""
        for layer in self._layers:
            if getattr(layer, "stateful", False):
                layer.reset_states()

    # ----------------------------------------------------------------- running
    def _convert_input(self, x):
        return np.asarray(x)  # each layer converts to its own dtype

    def _run_masked(self, inputs, mask, training, keep_caches):
        """Outputs, the layers' caches (None for inference) and the output mask."""
        x = np.asarray(inputs)
        if not self._layers:
            raise ValueError(f"Sequential '{self.name}' has no layers")
        self._ensure_built(x.shape)
        caches = []
        layers = self._layers
        i = 0
        while i < len(layers):
            if not keep_caches and not training and i + 1 < len(layers):
                fused = fused_call(layers[i], layers[i + 1], x, mask, self._predict_memo)
                if fused is not None:
                    (x, mask), i = fused, i + 2
                    continue
            x, cache, mask = run_layer(layers[i], x, mask, training, keep_caches)
            caches.append(cache)
            i += 1
        return x, (caches if keep_caches else None), mask

    def forward(self, inputs, mask=None, training: bool = False, **kwargs):
        out, caches, _ = self._run_masked(inputs, mask, training, True)
        return out, caches

    def backward(self, grad_outputs, cache, input_grad: bool = True):
        """Backpropagate ``grad_outputs`` through the layers: dL/d(inputs), or None.

        ``input_grad=False`` (a training step, where nobody reads dL/d(inputs)) lets the
        first layer skip it where its ``backward`` says it can (``takes_input_grad``: the
        recurrent layers).
        """
        g = grad_outputs
        first = self._layers[0] if self._layers else None
        for layer, c in zip(reversed(self._layers), reversed(cache)):
            g = run_backward(layer, g, c, input_grad=input_grad or layer is not first)
            if g is None:
                break
        self._set_grads([])
        return g

    backward.takes_input_grad = True  # type: ignore[attr-defined]

    def call(self, inputs, mask=None, training: bool = False, **kwargs):
        return self._run_masked(inputs, mask, training, False)[0]

    # ------------------------------------------------------------------ config
    def get_config(self) -> dict:
        cfg = {"name": self.name, "trainable": self.trainable,
               "layers": [serialize(layer) for layer in self._layers]}
        if self._input_batch_shape is not None:
            cfg["build_input_shape"] = list(self._input_batch_shape)
        return cfg

    @classmethod
    def from_config(cls, config: dict) -> "Sequential":
        model = cls(name=config.get("name"), trainable=config.get("trainable", True))
        shape = config.get("build_input_shape")
        if shape is not None:
            # Fix the input first, so layers that default their own input shape
            # (Embedding) cannot build the model with a different one.
            model.add(InputLayer(batch_shape=tuple(shape)))
        for layer_cfg in config.get("layers", []):
            layer_cfg = dict(layer_cfg)
            layer_cfg["config"] = dict(layer_cfg.get("config", {}))
            layer_cfg["config"].pop("batch_input_shape", None)
            model.add(deserialize(layer_cfg))
        if shape is not None:
            model.build(tuple(shape))
        return model

