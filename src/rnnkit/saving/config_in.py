"""Keras 3 and tf.keras 2.x model configs -> rnnkit configs.

Keras 3 wraps every object as ``{"module", "class_name", "config", "registered_name"}``,
stores dtypes as ``DTypePolicy`` objects, and writes functional graphs as
``{"args": [...], "kwargs": {...}}`` nodes (a masked input adds a ``NotEqual`` op node).
tf.keras 2.x writes ``batch_input_shape`` and list-style nodes. Both become the plain
``{"class_name", "config"}`` form that rnnkit's ``from_config`` reads. An option rnnkit
does not have is dropped only when it is at its do-nothing value (``None``, ``False``,
``0``); otherwise the load fails naming the layer and the option.
"""
from __future__ import annotations

import inspect
from typing import Any

from .. import layers as layers_module
from .. import saving_registry

MODEL_CLASSES = ("Sequential", "Functional", "Model")
# Keras options rnnkit does not take, with the values at which they change nothing
# (None: any value, e.g. tf.keras' choice of kernel implementation).
_IGNORED: dict[str, tuple | None] = {
    "implementation": None, "autocast": None, "synchronized": None, "time_major": (False,),
    "sparse": (False,), "ragged": (False,), "optional": (False,), "data_format": ("channels_last",),
    "lora_rank": (None,), "lora_alpha": (None,),
    # derived: TextVectorization/StringLookup write it; the vocabulary itself is stored
    "vocabulary_size": None}
_INIT_IGNORED = {"input_axes", "output_axes"}


class ConfigError(ValueError):
    """A config rnnkit cannot build (message without the file name; callers add it)."""


def _passive(value: Any) -> bool:
    """``None``, ``False``, ``0``, ``""``, ``{}``, ``[]``: an option at its do-nothing value."""
    if value is None or value is False:
        return True
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value == 0
    return isinstance(value, (str, dict, list)) and len(value) == 0


def _accepted(cls) -> set[str]:
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        for p in inspect.signature(init).parameters.values():
            if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self":
                names.add(p.name)
    return names


def _dtype(value):
    if isinstance(value, dict):
        cfg = value.get("config") if isinstance(value.get("config"), dict) else {}
        name = cfg.get("name", "float32")
        if name in ("mixed_float16", "mixed_bfloat16"):
            raise ConfigError(f"dtype policy {name!r} is not supported by rnnkit (float32/float64 only)")
        return name
    return value


def _plain_object(value):
    """Strip Keras 3's wrapper keys from an initializer/regularizer/constraint/schedule."""
    if isinstance(value, dict) and "class_name" in value:
        cfg = value.get("config")
        cfg = {k: v for k, v in cfg.items() if not (k in _INIT_IGNORED and v is None)} \
            if isinstance(cfg, dict) else cfg
        return {"class_name": value["class_name"], "config": cfg if cfg is not None else {}}
    return value


def layer_config(entry: Any) -> dict:
    """One Keras layer entry -> ``{"class_name", "config"}`` for rnnkit (nested layers too)."""
    if not isinstance(entry, dict) or not isinstance(entry.get("class_name"), str):
        raise ConfigError(f"a layer entry must be a dict with a 'class_name'; received {str(entry)[:80]}")
    kind = entry["class_name"]
    raw = entry.get("config")
    if not isinstance(raw, dict):
        raise ConfigError(f"layer entry {kind!r} has no 'config' dict")
    if kind in MODEL_CLASSES:
        return {"class_name": "Sequential" if kind == "Sequential" else "Functional",
                "config": model_config(kind, raw)}
    cls = layers_module.get_class(kind)
    if cls is None:  # a custom layer registered by the user, or in custom_objects=
        found = saving_registry.lookup(kind, entry.get("registered_name"))
        if isinstance(found, type) and hasattr(found, "from_config"):
            out = {k: (_dtype(v) if k == "dtype" else v) for k, v in raw.items()}
            result = {"class_name": kind, "config": out}
            if entry.get("registered_name"):
                result["registered_name"] = entry["registered_name"]
            return result
    if cls is None:
        raise ConfigError(f"layer {raw.get('name', '?')!r} has class {kind!r}, which rnnkit does not have "
                          "(only rnnkit's own layer classes load, and custom layers registered with "
                          "keras.saving.register_keras_serializable() or passed in custom_objects=)")
    accepted = _accepted(cls)
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "dtype":
            value = _dtype(value)
        elif key in ("layer", "backward_layer") and isinstance(value, dict):
            value = layer_config(value)
        elif key == "cell" and isinstance(value, dict):  # RNN(cell)
            value = _cell_config(value)
        elif key == "cells" and isinstance(value, list):  # StackedRNNCells
            value = [_cell_config(v) for v in value]
        elif isinstance(value, dict):
            value = _plain_object(value)
        if key in accepted:
            out[key] = value
        elif _passive(value) or (key in _IGNORED and (_IGNORED[key] is None or value in _IGNORED[key])):
            continue
        else:
            raise ConfigError(f"layer {raw.get('name', '?')!r} ({kind}) uses option {key}={value!r}, "
                              "which rnnkit does not support")
    if kind == "InputLayer":
        out.pop("input_shape", None)
    return {"class_name": kind, "config": out}


def _cell_config(entry: Any):
    """An RNN's cell: a built-in cell is translated like a layer; a custom cell's entry is
    left for its own ``from_config`` (found by ``registered_name`` or ``custom_objects``)."""
    if isinstance(entry, dict) and isinstance(entry.get("class_name"), str) \
            and layers_module.get_class(entry["class_name"]) is not None:
        return layer_config(entry)
    return entry


def _ref(value) -> list | None:
    """A Keras 3 ``__keras_tensor__`` dict -> ``[layer, node, index]``."""
    if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
        hist = (value.get("config") or {}).get("keras_history")
        if isinstance(hist, list) and len(hist) == 3:
            return list(hist)
        raise ConfigError(f"invalid tensor reference {str(value)[:80]}")
    return None


def _node_k3(node: dict, mask_ops: set[str], layer_name: str) -> list:
    args = node.get("args") or []
    kwargs = dict(node.get("kwargs") or {})
    if not args:
        raise ConfigError(f"layer {layer_name!r} has a node without inputs")
    first = args[0]
    tensors = first if isinstance(first, list) else [first]
    refs = [_ref(t) for t in tensors]
    if any(r is None for r in refs):
        raise ConfigError(f"layer {layer_name!r} is called on something that is not a tensor")
    mask = kwargs.pop("mask", None)
    masks = mask if isinstance(mask, list) else [mask]
    for m in masks:
        r = _ref(m)
        if m is not None and (r is None or r[0] not in mask_ops):
            raise ConfigError(f"layer {layer_name!r} is called with an explicit mask=, which rnnkit "
                              "cannot load (only masks made by Embedding(mask_zero=True)/Masking)")
    if kwargs.get("training") is False or kwargs.get("training") is None:
        kwargs.pop("training", None)

    def plain(v):
        r = _ref(v)
        if r is not None:
            return {"class_name": "__keras_tensor__", "config": {"keras_history": r}}
        if isinstance(v, list):
            return [plain(x) for x in v]
        return v

    kwargs = {k: plain(v) for k, v in kwargs.items()}
    return [r + [kwargs if i == 0 else {}] for i, r in enumerate(refs)]


def _mask_ops(layers: list) -> set[str]:
    """Names of the op nodes by which Keras 3 records Embedding's and Masking's masks in a
    functional graph (``NotEqual(x, value)``, then ``Any`` over features). rnnkit
    propagates the same masks itself, so these nodes and ``mask=`` arguments citing them
    are dropped."""
    found: set[str] = set()
    for entry in layers:
        if not isinstance(entry, dict) or entry.get("class_name") not in ("NotEqual", "Any"):
            continue
        nodes = entry.get("inbound_nodes") or []
        if len(nodes) != 1 or not isinstance(nodes[0], dict):
            continue
        args = nodes[0].get("args") or []
        if entry["class_name"] == "NotEqual" and len(args) == 2 and isinstance(args[1], (int, float)) \
                and _ref(args[0]) is not None:
            found.add(entry.get("name"))
        elif entry["class_name"] == "Any" and len(args) == 1 and (_ref(args[0]) or [None])[0] in found:
            found.add(entry.get("name"))
    return found


def model_config(kind: str, raw: dict) -> dict:
    """A Keras ``Sequential``/``Functional`` config -> rnnkit's ``from_config`` input."""
    layers = raw.get("layers")
    if not isinstance(layers, list):
        raise ConfigError(f"the {kind} config has no 'layers' list")
    if kind == "Sequential":
        out_layers, shape = [], raw.get("build_input_shape")
        for entry in layers:
            if isinstance(entry, dict) and entry.get("class_name") == "InputLayer":
                cfg = entry.get("config") or {}
                shape = cfg.get("batch_shape") or cfg.get("batch_input_shape") or shape
                continue
            converted = layer_config(entry)
            bis = converted["config"].pop("batch_input_shape", None)
            if shape is None and bis is not None:
                shape = bis
            out_layers.append(converted)
        cfg = {"name": raw.get("name"), "trainable": raw.get("trainable", True), "layers": out_layers}
        if shape is not None:
            cfg["build_input_shape"] = list(shape)
        return cfg
    mask_ops = _mask_ops(layers)
    out_layers = []
    for entry in layers:
        if not isinstance(entry, dict):
            raise ConfigError("each functional layer entry must be a dict")
        if entry.get("name") in mask_ops:
            continue
        converted = layer_config(entry)
        name = entry.get("name") or converted["config"].get("name")
        nodes = []
        for node in entry.get("inbound_nodes") or []:
            if isinstance(node, dict):
                nodes.append(_node_k3(node, mask_ops, name))
            elif isinstance(node, list):  # tf.keras 2.x: [[layer, node, index, kwargs], ...]
                nodes.append(_node_k2(node, converted["class_name"], name))
            else:
                raise ConfigError(f"layer {name!r} has an invalid inbound node")
        converted.update({"name": name, "inbound_nodes": nodes})
        out_layers.append(converted)
    return {"name": raw.get("name"), "trainable": raw.get("trainable", True), "layers": out_layers,
            "input_layers": raw.get("input_layers"), "output_layers": raw.get("output_layers")}


_STATEFUL = ("SimpleRNN", "LSTM", "GRU", "Bidirectional")


def _node_k2(node: list, kind: str, layer_name: str) -> list:
    if not all(isinstance(ref, list) and len(ref) >= 3 for ref in node):
        raise ConfigError(f"layer {layer_name!r} has an invalid inbound node")
    refs = [list(ref[:3]) + [_plain_kwargs2(ref[3] if len(ref) > 3 else {})] for ref in node]
    if kind in _STATEFUL and len(refs) > 1:
        # tf.keras 2 lists a recurrent layer's initial states as extra inputs of the node.
        first = refs[0]
        first[3] = dict(first[3], initial_state=[
            {"class_name": "__keras_tensor__", "config": {"keras_history": r[:3]}} for r in refs[1:]])
        return [first]
    return refs


def _plain_kwargs2(kwargs: Any) -> dict:
    if not isinstance(kwargs, dict):
        return {}
    out = {}
    for k, v in kwargs.items():
        if k == "training" and v in (None, False):
            continue
        if k == "mask":
            if v is None:
                continue
            raise ConfigError("a layer is called with an explicit mask=, which rnnkit cannot load")
        # tf.keras 2 refers to tensors in kwargs as [layer, node, index] lists.
        if isinstance(v, list) and v and all(isinstance(x, list) and len(x) == 3 for x in v):
            v = [{"class_name": "__keras_tensor__", "config": {"keras_history": list(x)}} for x in v]
        out[k] = v
    return out


def compile_config(cc: Any) -> dict | None:
    """Keras' ``compile_config`` -> the arguments of ``model.compile`` (None: not compiled)."""
    if not isinstance(cc, dict) or cc.get("optimizer") is None or cc.get("loss") is None:
        return None

    def plain(v):
        if isinstance(v, dict) and "class_name" in v:
            cfg = v.get("config") or {}
            if isinstance(cfg, dict):
                cfg = {k: plain(x) for k, x in cfg.items()}
            return {"class_name": v["class_name"], "config": cfg}
        if isinstance(v, list):
            return [plain(x) for x in v]
        return v

    opt = cc["optimizer"]
    if isinstance(opt, dict) and "class_name" in opt:
        opt = plain(opt)
        opt["class_name"] = str(opt["class_name"]).removeprefix("Custom>")  # tf.keras 2.11+
        if not opt["config"].get("use_ema"):
            for key in ("use_ema", "ema_momentum", "ema_overwrite_frequency"):
                opt["config"].pop(key, None)
        opt["config"] = {k: v for k, v in opt["config"].items()
                         if not (k in ("is_legacy_optimizer", "jit_compile", "decay") and v in (False, 0, 0.0, None))}
    return {"optimizer": opt, "loss": plain(cc["loss"]), "metrics": plain(cc.get("metrics")),
            "loss_weights": cc.get("loss_weights"), "weighted_metrics": plain(cc.get("weighted_metrics"))}
