"""rnnkit model configs -> the Keras 3 config that ``keras.models.load_model`` reads.

Adds Keras 3's wrapper keys (``module``, ``registered_name``), an explicit ``InputLayer``
for Sequential models, and writes functional graphs as ``{"args", "kwargs"}`` nodes.
"""
from __future__ import annotations

from typing import Any

_MODULES = {"initializer": "keras.initializers", "schedule": "keras.optimizers.schedules",
            "loss": "keras.losses", "optimizer": "keras.optimizers", "metric": "keras.metrics"}
# rnnkit-only keys that Keras 3 layers do not take.
# rnnkit-only run-time choices (engine, recomputation) are not Keras arguments: Keras would
# refuse the file, so they are not written (a loaded model runs with the defaults).
_DROP = ("batch_input_shape", "input_length", "engine", "memory", "recompute_every")


def _wrap(obj: Any, module: str) -> Any:
    if isinstance(obj, dict) and "class_name" in obj and "config" in obj:
        cfg = obj["config"]
        if isinstance(cfg, dict):
            cfg = {k: _wrap(v, _MODULES["schedule"]) if k == "learning_rate" else v for k, v in cfg.items()}
        return {"module": module, "class_name": obj["class_name"], "config": cfg, "registered_name": None}
    return obj


def layer_entry(entry: dict) -> dict:
    """``{"class_name", "config"}`` of an rnnkit layer -> a Keras 3 layer entry."""
    kind = entry["class_name"]
    if kind == "Sequential":
        return sequential(entry["config"], None)
    if kind in ("Functional", "Model"):
        return functional(entry["config"])
    cfg = {}
    for key, value in entry["config"].items():
        if key in _DROP:
            continue
        if key in ("layer", "backward_layer", "cell") and isinstance(value, dict):
            value = layer_entry(value)
        elif key == "cells" and isinstance(value, list):
            value = [layer_entry(v) for v in value]
        elif isinstance(value, dict) and "class_name" in value:
            value = _wrap(value, _MODULES["initializer"])
        cfg[key] = value
    return {"module": "keras.layers", "class_name": kind, "config": cfg, "registered_name": None}


def sequential(config: dict, input_dtype: str | None) -> dict:
    """An rnnkit Sequential config -> Keras 3 (with an explicit InputLayer)."""
    shape = config.get("build_input_shape")
    layers = [layer_entry(e) for e in config.get("layers", [])]
    if shape is not None:
        if input_dtype is None:
            first = config["layers"][0]["class_name"] if config.get("layers") else ""
            input_dtype = "int32" if first == "Embedding" else "float32"
        layers.insert(0, {"module": "keras.layers", "class_name": "InputLayer",
                          "config": {"batch_shape": list(shape), "dtype": input_dtype, "sparse": False,
                                     "ragged": False, "name": f"{config.get('name') or 'sequential'}_input"},
                          "registered_name": None})
    out = {"name": config.get("name"), "trainable": config.get("trainable", True), "layers": layers}
    if shape is not None:
        out["build_input_shape"] = list(shape)
    entry = {"module": "keras", "class_name": "Sequential", "config": out, "registered_name": None}
    if shape is not None:
        entry["build_config"] = {"input_shape": list(shape)}
    return entry


def tensor_specs(model) -> dict[tuple, tuple]:
    """``{(layer name, node index, output index): (shape, dtype)}`` of a functional model's
    tensors, node indices counted as in its config (Keras 3 needs both in every reference)."""
    specs = {}
    relative = getattr(model, "_relative_index", {})
    for layer in model.layers:
        for i, out in enumerate(getattr(layer, "_inbound_nodes", [])):
            rel = relative.get((id(layer), i))
            if rel is None:
                continue
            for k, t in enumerate(out if isinstance(out, (list, tuple)) else [out]):
                specs[(layer.name, rel, k)] = (list(t.shape), str(t.dtype))
    return specs


def functional(config: dict, specs: dict[tuple, tuple] | None = None) -> dict:
    """An rnnkit functional Model config -> Keras 3 ``Functional`` (``specs``: see
    :func:`tensor_specs`)."""
    specs = specs or {}

    def _tensor(ref: list) -> dict:
        shape, dtype = specs.get(tuple(ref[:3]), (None, "float32"))
        return {"class_name": "__keras_tensor__",
                "config": {"shape": shape, "dtype": dtype, "keras_history": list(ref[:3])}}

    def _kwarg(value: Any) -> Any:
        if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
            return _tensor(value["config"]["keras_history"])
        if isinstance(value, list):
            return [_kwarg(v) for v in value]
        return value

    layers = []
    for entry in config["layers"]:
        out = layer_entry({"class_name": entry["class_name"], "config": entry["config"]})
        nodes = []
        for node in entry.get("inbound_nodes", []):
            tensors = [_tensor(ref) for ref in node]
            kwargs = node[0][3] if node and len(node[0]) > 3 else {}
            nodes.append({"args": [tensors if len(tensors) > 1 else tensors[0]],
                          "kwargs": {k: _kwarg(v) for k, v in kwargs.items()}})
        out.update({"name": entry.get("name", entry["config"].get("name")), "inbound_nodes": nodes})
        layers.append(out)
    return {"module": "keras.src.models.functional", "class_name": "Functional",
            "config": {"name": config.get("name"), "trainable": config.get("trainable", True),
                       "layers": layers, "input_layers": config["input_layers"],
                       "output_layers": config["output_layers"]},
            "registered_name": "Functional"}


def compile_config(cc: dict | None) -> dict | None:
    """rnnkit's recorded compile arguments -> Keras 3's ``compile_config``."""
    if not cc:
        return None

    def loss(v):
        if isinstance(v, list):
            return [loss(x) for x in v]
        return _wrap(v, _MODULES["loss"])

    def metric(v):
        if isinstance(v, list):
            return [metric(x) for x in v]
        return _wrap(v, _MODULES["metric"])

    metrics = cc.get("metrics")
    return {"optimizer": _wrap(cc["optimizer"], _MODULES["optimizer"]), "loss": loss(cc.get("loss")),
            "loss_weights": cc.get("loss_weights"), "metrics": None if metrics is None else metric(metrics),
            "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1,
            "jit_compile": False}
