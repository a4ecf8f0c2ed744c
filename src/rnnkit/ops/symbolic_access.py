"""``layer.input`` / ``layer.output`` / ``input_shape`` / ``output_shape``: the symbolic
tensors of a layer's first call on KerasTensors (as Keras 3 reads node 0).

This is how inference models are cut out of a trained functional model::

    encoder_outputs, state_h, state_c = model.layers[2].output
    encoder_model = Model(model.input[0], [state_h, state_c])
"""
from __future__ import annotations


def _first_node(layer, what: str):
    nodes = layer.__dict__.get("_inbound_nodes") or []
    if not nodes:
        raise AttributeError(
            f"Layer '{layer.name}' ({type(layer).__name__}) has never been called on symbolic "
            f"inputs (Input(...) tensors) and thus has no defined {what}")
    return nodes[0]


def _shape(t):
    return [_shape(v) for v in t] if isinstance(t, list) else tuple(t.shape)


def node_property(what: str) -> property:
    """A Layer property for ``what``; an assigned value takes precedence."""
    key = f"_fixed_{what}"

    def get(self):
        if key in self.__dict__:
            return self.__dict__[key]
        return node_attr(self, what)

    def set_(self, value):
        self.__dict__[key] = value

    return property(get, set_, doc=f"The layer's symbolic {what} (its first call on KerasTensors).")


def node_attr(layer, what: str):
    """The ``input``/``output`` tensor(s) (or their shapes) of the layer's first call."""
    entry = _first_node(layer, what)
    out = list(entry) if isinstance(entry, list) else entry
    if what.startswith("output"):
        return out if what == "output" else _shape(out)
    first = out[0] if isinstance(out, list) else out
    args = first._history[1] if first._history is not None else None
    if args is None:  # an InputLayer: its input is its output
        args = first
    if isinstance(args, tuple):
        args = list(args)
    return args if what == "input" else _shape(args)
