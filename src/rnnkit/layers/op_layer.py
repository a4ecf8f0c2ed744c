"""``keras.ops`` on KerasTensors: each call becomes a node of the functional graph.

``x = Input((10,)); y = ops.tanh(x) * 2`` works as in Keras 3: the op is recorded as an
:class:`OpLayer` called on the KerasTensors among its arguments (constants stay in the
layer), so ``Model(x, y)`` trains through it like any custom layer. Saved configs name the
op (a function of :mod:`rnnkit.ops`) and its constant arguments; loading looks the name up
in :mod:`rnnkit.ops` only.
"""
from __future__ import annotations

import json

import numpy as np

from ..ops import layer_autodiff as _autodiff
from ..ops import tape as _tape
from .base import KerasTensor, Layer

_SLOT = "__keras_tensor__"


def _template(struct, tensors: list):
    """The arguments with KerasTensors replaced by slots, in a JSON-friendly form
    (tuples, slices and Ellipsis, as in an indexing key, are tagged)."""
    if isinstance(struct, KerasTensor):
        tensors.append(struct)
        return {_SLOT: len(tensors) - 1}
    if isinstance(struct, tuple):
        return {"__tuple__": [_template(s, tensors) for s in struct]}
    if isinstance(struct, list):
        return [_template(s, tensors) for s in struct]
    if isinstance(struct, slice):
        return {"__slice__": [struct.start, struct.stop, struct.step]}
    if struct is Ellipsis:
        return {"__ellipsis__": True}
    if isinstance(struct, dict):
        return {k: _template(v, tensors) for k, v in struct.items()}
    if isinstance(struct, np.generic):
        return struct.item()
    return struct


def _fill(struct, values: list):
    if isinstance(struct, dict):
        if set(struct) == {_SLOT}:
            return values[struct[_SLOT]]
        if set(struct) == {"__tuple__"}:
            return tuple(_fill(s, values) for s in struct["__tuple__"])
        if set(struct) == {"__slice__"}:
            return slice(*struct["__slice__"])
        if set(struct) == {"__ellipsis__"}:
            return Ellipsis
        return {k: _fill(v, values) for k, v in struct.items()}
    if isinstance(struct, list):
        return [_fill(s, values) for s in struct]
    return struct


def has_keras_tensor(args, kwargs) -> bool:
    for a in list(args) + list(kwargs.values()):
        if isinstance(a, KerasTensor) or (isinstance(a, (list, tuple)) and any(isinstance(v, KerasTensor) for v in a)):
            return True
    return False


class OpLayer(Layer):
    """One ``rnnkit.ops`` call in a functional graph (``op``: the function's name)."""

    _autocast = False  # an op keeps its inputs' dtypes

    def __init__(self, op: str, args: list | None = None, kwargs: dict | None = None, **layer_kwargs):
        from .. import ops
        fn = getattr(ops, op, None) if isinstance(op, str) else None
        if not callable(fn) or op.startswith("_"):
            raise ValueError(f"OpLayer: unknown op {op!r}; expected a function of rnnkit.ops")
        layer_kwargs.setdefault("name", None)
        if layer_kwargs["name"] is None:
            from .. import backend
            layer_kwargs["name"] = backend.unique_name(op)
        super().__init__(**layer_kwargs)
        self.op, self.fn = op, fn
        self.op_args, self.op_kwargs = list(args or []), dict(kwargs or {})

    def call(self, inputs, mask=None, training=None):
        values = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        return self.fn(*_fill(self.op_args, values), **_fill(self.op_kwargs, values))

    def compute_output_shape(self, input_shape):
        shapes = input_shape if isinstance(input_shape, list) else [input_shape]
        return _autodiff.infer_output_shape(self, [tuple(s) for s in shapes])

    def compute_mask(self, inputs, mask=None):
        return None

    _symbolic_input_shape = _autodiff.symbolic_input_shape

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({"op": self.op, "args": self.op_args, "kwargs": self.op_kwargs})
        try:
            json.dumps(config)
        except TypeError as exc:
            raise ValueError(f"OpLayer '{self.name}' ({self.op}) has a constant argument that cannot "
                             f"be saved ({exc}); wrap the computation in a custom layer") from exc
        return config


def symbolic_op(name: str, args, kwargs):
    """``ops.<name>(*args, **kwargs)`` with KerasTensors among the arguments: a graph node."""
    tensors: list = []
    targs = _template(list(args), tensors)
    tkwargs = _template(dict(kwargs), tensors)
    return OpLayer(name, targs, tkwargs)(tensors)


_tape.register_symbolic(symbolic_op)  # ops on KerasTensors build OpLayer nodes
