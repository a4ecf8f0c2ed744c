"""``keras.Model``: the functional API when called with inputs and outputs, and the base
class of subclassed models (``__init__`` creates layers, ``call`` uses them).

A subclassed model is a traced layer (see :mod:`rnnkit.ops.layer_autodiff`): ``fit``
records ``call`` on a tape, whose backward gives every weight's gradient; built-in
layers inside stay one fused op each. Layers, variables and metrics assigned as
attributes are tracked, in assignment order (that is the order of ``weights``).
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..layers import Layer
from .training import TrainingMixin


class Model(TrainingMixin, Layer):
    """``Model(inputs, outputs)`` builds a functional model (:class:`~rnnkit.models.Functional`);
    ``class M(Model)`` with ``__init__`` and ``call(inputs, training=None)`` is a
    subclassed model that compiles, fits, evaluates, predicts, summarizes once built and
    saves its weights. Override ``train_step``/``test_step`` for a custom loop.
    """

    # The functional model class (rnnkit.models.functional sets it when it is defined:
    # it derives from this class, so this module cannot import it).
    _functional_class: type | None = None

    def __new__(cls, *args, **kwargs):
        if cls is Model and (args or "inputs" in kwargs or "outputs" in kwargs):
            return object.__new__(Model._functional_class)
        return object.__new__(cls)

    def __init__(self, *args, **kwargs):
        if args or "inputs" in kwargs or "outputs" in kwargs:
            # CustomModel(inputs, outputs): a functional model of a subclass (Keras' pattern
            # for overriding train_step); the class becomes a Functional subclass.
            from ..ops.layer_autodiff import make_functional_subclass
            Functional = Model._functional_class
            if not isinstance(self, Functional):
                make_functional_subclass(type(self), Functional)
            Functional.__init__(self, *args, **kwargs)
            return
        if type(self) is Model:
            raise TypeError(
                "Model() needs inputs and outputs (the functional API: Model(inputs=Input(...), "
                "outputs=...)), or subclass keras.Model and define call()")
        for k in ("autocast",):
            kwargs.pop(k, None)
        super().__init__(**kwargs)

    @classmethod
    def from_config(cls, config: dict, custom_objects=None):
        """A functional model's config rebuilds a Functional (as in Keras); a subclass's
        config is passed to its constructor."""
        if cls is Model and isinstance(config, dict) and "layers" in config:
            return Model._functional_class.from_config(config)
        return cls(**config)

    # -------------------------------------------------------------- structure
    @property
    def layers(self) -> list:
        return list(self._sublayers)

    @property
    def input_shape(self):
        return self._built_input_shape if isinstance(self._built_input_shape, tuple) else None

    def build(self, input_shape=None) -> None:
        """Create the weights by calling the model once on zeros of ``input_shape``."""
        if type(self).call is Layer.call:
            raise NotImplementedError(f"{type(self).__name__} must define call()")
        self.built = True
        if input_shape is None:
            return
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        xs = [np.zeros([1 if d is None else d for d in s], dtype=self.dtype) for s in shapes]
        from ..ops.tape import stop_recording
        with stop_recording():
            self.call(xs if isinstance(input_shape, list) else xs[0], training=False)
        self._built_input_shape = tuple(input_shape) if not isinstance(input_shape, list) else input_shape

    def summary(self, line_length: int | None = None, positions=None,
                print_fn: Callable[[str], None] | None = None, **kwargs) -> None:
        """The layer table (output shapes are not known for subclassed models: ``?``)."""
        from .summary import _class_name, _print_totals, _row
        if not self.built:
            raise ValueError(
                "This model has not yet been built. Build the model first by calling `build()` or "
                "by calling the model on a batch of data.")
        print_fn = print_fn or print
        line_length = line_length or 65
        positions = positions or [0.45, 0.85, 1.0]
        if positions[-1] <= 1:
            positions = [int(line_length * p) for p in positions]
        print_fn(f'Model: "{self.name}"')
        print_fn("_" * line_length)
        for line in _row(["Layer (type)", "Output Shape", "Param #"], positions):
            print_fn(line)
        print_fn("=" * line_length)
        for layer in self._sublayers:
            count = layer.count_params() if layer.built else 0
            for line in _row([f"{layer.name} ({_class_name(layer)})", "?", count], positions):
                print_fn(line)
            print_fn(" " * line_length)
        _print_totals(self, line_length, print_fn)

    def get_layer(self, name: str | None = None, index: int | None = None):
        """A layer by ``name`` or ``index`` (in ``layers`` order)."""
        layers = self.layers
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"get_layer: index {index} out of range for a model with "
                                 f"{len(layers)} layers")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name!r}. Existing layers are: {[lay.name for lay in layers]}")

    def reset_states(self) -> None:
        for layer in self._sublayers:
            if getattr(layer, "stateful", False) or isinstance(layer, Model):
                layer.reset_states()
