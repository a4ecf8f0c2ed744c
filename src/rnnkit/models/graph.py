"""The graph pieces of the functional API (see :mod:`.functional`): walking nested
structures of KerasTensors, locating the layer call that produced a tensor, and
:class:`_Node`, one recorded call."""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..layers import InputLayer, KerasTensor, Layer
from ..layers.recurrent.engines.embedded import fused_call
from .summary import format_shape

_TENSOR_KWARGS = ("initial_state", "mask", "attention_mask")


# ---------------------------------------------------------------------- helpers
def _flatten(struct) -> list:
    if isinstance(struct, (list, tuple)):
        return [x for s in struct for x in _flatten(s)]
    if isinstance(struct, dict):
        return [x for k in sorted(struct) for x in _flatten(struct[k])]
    return [struct]


def _tensors(struct) -> list[KerasTensor]:
    return [t for t in _flatten(struct) if isinstance(t, KerasTensor)]


def _fill(struct, lookup: Callable):
    """``struct`` with every KerasTensor ``t`` replaced by ``lookup(id(t))``."""
    if isinstance(struct, KerasTensor):
        return lookup(id(struct))
    if isinstance(struct, (list, tuple)):
        return [_fill(s, lookup) for s in struct]
    if isinstance(struct, dict):
        return {k: _fill(v, lookup) for k, v in struct.items()}
    return struct


def _describe(t) -> str:
    if not isinstance(t, KerasTensor):
        return f"{type(t).__name__}"
    if t._history is None:
        return f"a KerasTensor of shape {format_shape(t.shape)} with no layer history"
    layer, index = t._history[0], t._history[3]
    if isinstance(layer, InputLayer):
        return f"Input '{layer.name}' of shape {format_shape(t.shape)}"
    return (f"output {index} of layer '{layer.name}' ({type(layer).__name__}), shape "
            f"{format_shape(t.shape)}")


def _locate(t: KerasTensor, what: str):
    """(layer, node index) of the call that produced ``t``."""
    if t._history is None:
        raise ValueError(
            f"{what}: {_describe(t)}; the functional API needs tensors returned by Input(...) or "
            "by calling a layer on them"
        )
    layer = t._history[0]
    for i, entry in enumerate(layer._inbound_nodes):
        outs = entry if isinstance(entry, list) else [entry]
        if any(o is t for o in outs):
            return layer, i
    raise ValueError(f"{what}: {_describe(t)} is not recorded as an output of layer '{layer.name}'")


def _describe_arrays(x) -> str:
    if isinstance(x, (list, tuple)):
        shapes = [np.shape(a) for a in x]
        return f"a list of {len(x)} array(s) of shapes {shapes}"
    return f"one array of shape {np.shape(x)}"


class _Node:
    """One call of a layer: inputs, call kwargs, outputs."""

    def __init__(self, layer: Layer, index: int):
        self.layer = layer
        self.index = index
        self.key = (id(layer), index)
        entry = layer._inbound_nodes[index]
        self.multi = isinstance(entry, list)
        self.outputs: list[KerasTensor] = list(entry) if self.multi else [entry]
        self.is_input = isinstance(layer, InputLayer)
        if self.is_input:
            self.args, self.kwargs = None, {}
            self.arg_tensors, self.state_slots, self.in_tensors = [], [], []
            self.has_states = False
            return
        _, self.args, kwargs, _ = self.outputs[0]._history
        self.kwargs = dict(kwargs)
        flat_args = _flatten(self.args)
        if not all(isinstance(t, KerasTensor) for t in flat_args):
            raise ValueError(
                f"Layer '{layer.name}' was called on a mix of KerasTensors and other values "
                f"({[type(t).__name__ for t in flat_args]}); the functional API needs KerasTensors only"
            )
        for k, v in self.kwargs.items():
            if k not in _TENSOR_KWARGS and _tensors(v):
                raise ValueError(
                    f"Layer '{layer.name}' was called with a KerasTensor in argument {k}=; the "
                    f"functional Model supports KerasTensors only as inputs and in "
                    f"{', '.join(a + '=' for a in _TENSOR_KWARGS)}"
                )
        if isinstance(self.args, (list, tuple)) and \
                type(layer)._symbolic_input_shape is Layer._symbolic_input_shape:
            raise ValueError(
                f"Layer '{layer.name}' ({type(layer).__name__}) takes one input tensor; it was called "
                f"on a list of {len(self.args)}. Pass recurrent states as initial_state=[...], and "
                "join tensors with a merge layer (Concatenate, Add, ...)"
            )
        self.arg_tensors = flat_args
        state = self.kwargs.get("initial_state")
        self.has_states = state is not None
        self.state_slots = _flatten(state) if self.has_states else []
        self.in_tensors = self.arg_tensors + _tensors({k: self.kwargs[k] for k in self.kwargs})


def fusable_pairs(run: list, outputs: list) -> dict[int, int]:
    """``{k: j}`` over the nodes ``run``: node j is the only reader of node k's single
    output, which it takes as its only input with no other arguments (an
    ``Embedding -> RNN`` candidate for the fused inference path)."""
    readers: dict[int, list[int]] = {}
    for j, node in enumerate(run):
        for t in node.in_tensors:
            readers.setdefault(id(t), []).append(j)
    model_outputs = {id(t) for t in outputs}
    pairs = {}
    for k, node in enumerate(run):
        if node.multi or node.kwargs or len(node.in_tensors) != 1:
            continue
        out = node.outputs[0]
        users = readers.get(id(out), [])
        if len(users) != 1 or id(out) in model_outputs:
            continue
        nxt = run[users[0]]
        if not nxt.kwargs and len(nxt.in_tensors) == 1 and nxt.args is out:
            pairs[k] = users[0]
    return pairs


def run_fused_pair(node, nxt, values: dict, masks: dict, memo) -> bool:
    """Run the pair ``node -> nxt`` (see :func:`fusable_pairs`) through the fused
    inference path, filling ``nxt``'s outputs into ``values``/``masks``; False (and
    nothing run) where it does not apply."""
    x_id = id(node.in_tensors[0])
    got = fused_call(node.layer, nxt.layer, values[x_id], masks.get(x_id), memo)
    if got is None:
        return False
    outs, out_mask = got
    for t, o in zip(nxt.outputs, list(outs) if nxt.multi else [outs]):
        values[id(t)] = o
    if out_mask is not None:
        masks[id(nxt.outputs[0])] = out_mask
    return True
