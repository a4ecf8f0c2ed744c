"""ONNX export of functional models: the graph is read from ``model.get_config()`` (the
Keras ``inbound_nodes`` format), so several inputs and outputs, shared layers, merge
layers, ``initial_state=`` and ``return_state=True`` all export. Masks are refused here
(see :mod:`.onnx_export` for masked Sequential models)."""
from __future__ import annotations

import numpy as np

from .onnx_graph import Graph, layer_node, recurrent_outputs

_MERGE = ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate")
_RECURRENT = ("SimpleRNN", "LSTM", "GRU", "Bidirectional")


def _merge_layer(g: Graph, layer, args: list[str]) -> str:
    kind = type(layer).__name__
    if kind == "Concatenate":
        return g.op("Concat", args, axis=int(layer.axis))
    if kind == "Average":
        return g.op("Mul", [g.op("Sum", args), g.const(np.float32(1.0 / len(args)))])
    if kind == "Subtract":
        return g.op("Sub", args)
    if kind == "Multiply":
        out = args[0]
        for a in args[1:]:
            out = g.op("Mul", [out, a])
        return out
    return g.op({"Add": "Sum", "Maximum": "Max", "Minimum": "Min"}[kind], args)  # variadic


def _tensor_refs(value) -> list[list]:
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        return [value["config"]["keras_history"]]
    if isinstance(value, list):
        return [r for v in value for r in _tensor_refs(v)]
    return []


def build_functional(g: Graph, model, onnx):
    """``(graph inputs, graph outputs)`` value infos, with the nodes added to ``g``."""
    cfg = model.get_config()
    avail: dict[tuple, str] = {}
    graph_inputs = []
    pending = []
    for entry in cfg["layers"]:
        layer = model.get_layer(entry["name"])
        if entry["class_name"] == "InputLayer":
            c = entry["config"]
            shape = c["batch_shape"]
            dims = ["batch"] + [d if d is not None else f"{entry['name']}_d{i}" for i, d in enumerate(shape[1:])]
            integer = str(c.get("dtype") or "float32").startswith(("int", "uint"))
            elem = onnx.TensorProto.INT64 if integer else onnx.TensorProto.FLOAT
            graph_inputs.append(g.h.make_tensor_value_info(entry["name"], elem, dims))
            avail[(entry["name"], 0, 0)] = entry["name"]
            continue
        if getattr(layer, "mask_zero", False) or type(layer).__name__ == "Masking":
            raise ValueError(f"export: layer {layer.name!r} makes a mask; masked functional models are not "
                             "exported (masked Sequential models are)")
        for k, node in enumerate(entry["inbound_nodes"]):
            pending.append((entry["name"], k, layer, node))
    while pending:
        progress = False
        for item in list(pending):
            name, k, layer, node = item
            kwargs = node[0][3] if len(node[0]) > 3 else {}
            refs = [tuple(r[:3]) for r in node] + [tuple(r) for r in _tensor_refs(kwargs)]
            if not all(r in avail for r in refs):
                continue
            outs = _call(g, layer, [avail[tuple(r[:3])] for r in node], kwargs, avail)
            for i, o in enumerate(outs):
                avail[(name, k, i)] = o
            pending.remove(item)
            progress = True
        if not progress:
            raise ValueError(f"export: cannot order layers {[p[0] for p in pending]}")
    out_refs = cfg["output_layers"]
    out_refs = [out_refs] if out_refs and isinstance(out_refs[0], str) else out_refs
    shapes = model.output_shape if len(out_refs) > 1 else [model.output_shape]
    graph_outputs = []
    for i, (ref, shape) in enumerate(zip(out_refs, shapes)):
        name = f"output_{i}" if len(out_refs) > 1 else "output"
        g.nodes.append(g.h.make_node("Identity", [avail[tuple(ref[:3])]], [name]))
        dims = ["batch"] + [d if d is not None else f"{name}_d{j}" for j, d in enumerate(shape[1:])]
        graph_outputs.append(g.h.make_tensor_value_info(name, onnx.TensorProto.FLOAT, dims))
    return graph_inputs, graph_outputs


def _call(g: Graph, layer, args: list[str], kwargs: dict, avail) -> list[str]:
    kind = type(layer).__name__
    extra = sorted(k for k in kwargs if k not in ("initial_state", "training"))
    if extra:
        raise ValueError(f"export: layer {layer.name!r} is called with {extra}; not exported")
    if kind in _RECURRENT:
        initial = [avail[tuple(r)] for r in _tensor_refs(kwargs.get("initial_state"))] or None
        return recurrent_outputs(g, args[0], layer, initial)
    if kind in _MERGE:
        return [_merge_layer(g, layer, args)]
    if len(args) != 1:
        raise ValueError(f"export: layer {layer.name!r} ({kind}) takes one input")
    return [layer_node(g, args[0], layer, first=False)]
