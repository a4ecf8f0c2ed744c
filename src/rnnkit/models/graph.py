"""The graph pieces of the functional API (see :mod:`.functional`): walking nested
structures of KerasTensors, locating the layer call that produced a tensor, and
:class:`_Node`, one recorded call."""
from __future__ import annotations

from collections import defaultdict
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


def order_graph(inputs: list, outputs: list):
    """The nodes between ``inputs`` and ``outputs`` (KerasTensors), ordered as Keras does.

    Returns ``(run, nodes_by_depth, layers, nodes, node_depth)``: the nodes to run in
    order, the nodes at each depth (outputs at 0), the layers in Keras' order, every node
    by key, and each node's depth. Raises ``ValueError`` for a disconnected graph or
    repeated layer names.
    """
    nodes: dict[tuple, _Node] = {}

    def node_of(t, what):
        layer, index = _locate(t, what)
        key = (id(layer), index)
        if key not in nodes:
            nodes[key] = _Node(layer, index)
        return nodes[key]

    finished: set = set()
    order: list[_Node] = []
    layer_indices: dict[int, int] = {}
    layers_by_id: dict[int, Layer] = {}

    def visit(t, what):
        node = node_of(t, what)
        if node.key in finished:
            return
        if id(node.layer) not in layer_indices:
            layer_indices[id(node.layer)] = len(layer_indices)
            layers_by_id[id(node.layer)] = node.layer
        for x in node.in_tensors:
            visit(x, f"Model: layer '{node.layer.name}' was called on an input that is not "
                     "usable")
        finished.add(node.key)
        order.append(node)

    for i, t in enumerate(outputs):
        visit(t, f"Model: outputs[{i}]")

    # Depths: outputs at 0, each node one more than the deepest node it feeds.
    node_depth: dict[tuple, int] = {}
    layer_depth: dict[int, int] = {}
    for node in reversed(order):
        depth = node_depth.setdefault(node.key, 0)
        depth = max(depth, layer_depth.get(id(node.layer), 0))
        layer_depth[id(node.layer)] = depth
        node_depth[node.key] = depth
        for x in node.in_tensors:
            parent = node_of(x, "Model")
            node_depth[parent.key] = max(depth + 1, node_depth.get(parent.key, 0))
    for t in inputs:  # inputs the outputs do not depend on
        layer = t._history[0]
        if id(layer) not in layer_depth:
            layer_depth[id(layer)] = 0
            layer_indices[id(layer)] = -1
            layers_by_id[id(layer)] = layer
            node = node_of(t, "Model")
            node_depth[node.key] = 0
    nodes_by_depth: dict[int, list[_Node]] = defaultdict(list)
    for key, depth in node_depth.items():
        nodes_by_depth[depth].append(nodes[key])
    layers_by_depth: dict[int, list[Layer]] = defaultdict(list)
    for lid, depth in layer_depth.items():
        layers_by_depth[depth].append(layers_by_id[lid])
    layers: list[Layer] = []
    for depth in sorted(layers_by_depth, reverse=True):
        layers += sorted(layers_by_depth[depth], key=lambda lay: layer_indices[id(lay)])

    # Every tensor a node needs must be computable from the inputs.
    computable = {id(t) for t in inputs}
    done: list[str] = []
    run: list[_Node] = []
    input_names = [t._history[0].name for t in inputs]
    for depth in sorted(nodes_by_depth, reverse=True):
        for node in nodes_by_depth[depth]:
            if node.is_input:
                continue
            for x in node.in_tensors:
                if id(x) not in computable:
                    raise ValueError(
                        f"Graph disconnected: cannot obtain value for {_describe(x)} at layer "
                        f"'{node.layer.name}'. The model's inputs are {input_names}: every "
                        "Input(...) the outputs depend on must be in inputs. Layers reached "
                        f"without issue: {done}"
                    )
            computable.update(id(o) for o in node.outputs)
            done.append(node.layer.name)
            run.append(node)
    for i, t in enumerate(outputs):
        if id(t) not in computable:
            raise ValueError(
                f"Graph disconnected: outputs[{i}] ({_describe(t)}) cannot be computed from the "
                f"model's inputs {input_names}"
            )
    names = [lay.name for lay in layers]
    for n in names:
        if names.count(n) > 1:
            raise ValueError(
                f'The name "{n}" is used {names.count(n)} times in the model. All layer names '
                "should be unique."
            )

    return run, nodes_by_depth, layers, nodes, node_depth
