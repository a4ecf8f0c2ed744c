"""ONNX export of Sequential and functional models (see :mod:`.onnx_graph` for how each
layer becomes ONNX nodes, and :mod:`.onnx_functional` for functional graphs)."""
from __future__ import annotations

import os

from .onnx_functional import build_functional
from .onnx_graph import OPSET, Graph, layer_node


def to_onnx(model):
    """The ``onnx.ModelProto`` of a built Sequential or functional ``model`` (float32)."""
    try:
        import onnx
    except ImportError as exc:
        raise ImportError("ONNX export needs the onnx package: pip install 'rnnkit[onnx]'") from exc
    if not model.built:
        raise ValueError("export: the model is not built yet; call build() or fit() first")
    g = Graph(onnx)
    if type(model).__name__ == "Sequential":
        inputs, outputs = _sequential(g, model, onnx)
    elif "input_layers" in model.get_config():
        inputs, outputs = build_functional(g, model, onnx)
    else:
        raise ValueError(f"export: ONNX export supports Sequential and functional models; received "
                         f"{type(model).__name__}")
    graph = g.h.make_graph(g.nodes, model.name, inputs, outputs, g.inits)
    proto = g.h.make_model(graph, opset_imports=[g.h.make_opsetid("", OPSET)], producer_name="rnnkit")
    proto.ir_version = 8
    onnx.checker.check_model(proto)
    return proto


def _sequential(g: Graph, model, onnx):
    shape = list(model.input_shape)
    first = model.layers[0]
    int_input = g.int_input = type(first).__name__ == "Embedding"
    masked = getattr(first, "mask_zero", False) or type(first).__name__ == "Masking"
    if masked and len(model.output_shape) != 2:
        raise ValueError("export: a masked model (Embedding(mask_zero=True) or Masking) must end in a "
                         f"non-sequence output; this one outputs {model.output_shape}. rnnkit keeps "
                         "masked steps' outputs, which ONNX's recurrent operators cannot reproduce")
    dims = ["batch"] + [d if d is not None else ("time" if i == 0 else f"d{i}") for i, d in enumerate(shape[1:])]
    elem = onnx.TensorProto.INT64 if int_input else onnx.TensorProto.FLOAT
    x = "input"
    for i, layer in enumerate(model.layers):
        x = layer_node(g, x, layer, first=i == 0)
    out_shape = ["batch"] + list(model.output_shape[1:])
    return ([g.h.make_tensor_value_info("input", elem, dims)],
            [g.h.make_tensor_value_info(x, onnx.TensorProto.FLOAT, out_shape)])


def export_onnx(model, filepath) -> None:
    """Write ``model`` as an ONNX file (see the module docstring for what is supported).

    The input is ``(batch, time, ...)`` float32, or int64 ids when the model starts with an
    Embedding; batch and time are dynamic.
    """
    proto = to_onnx(model)
    path = os.fspath(filepath)
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"export: cannot write {path}: directory {directory} does not exist")
    with open(path, "wb") as fh:
        fh.write(proto.SerializeToString())
