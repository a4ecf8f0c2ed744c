"""Saving a functional Model's graph as a Keras-style config and building it again
(``get_config``/``from_config``, the ``inbound_nodes`` format of Keras)."""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ..layers import InputLayer, KerasTensor, Layer, deserialize, serialize
from .graph import _locate

if TYPE_CHECKING:
    from .functional import Model


class FunctionalConfigMixin:
    """``get_config``/``from_config`` of :class:`~rnnkit.models.functional.Model`."""

    def _tensor_ref(self, t) -> list:
        layer, index = _locate(t, "get_config")
        return [layer.name, self._relative_index[(id(layer), index)], t._history[3]]

    def _serialize_kwarg(self, value, layer, key):
        if isinstance(value, KerasTensor):
            return {"class_name": "__keras_tensor__", "config": {"keras_history": self._tensor_ref(value)}}
        if isinstance(value, (list, tuple)):
            return [self._serialize_kwarg(v, layer, key) for v in value]
        if value is None or isinstance(value, (bool, int, float, str)):
            return value
        if isinstance(value, np.generic):
            return value.item()
        raise ValueError(
            f"Model.get_config: layer '{layer.name}' was called with {key}= of type "
            f"{type(value).__name__}, which cannot be saved; only KerasTensors, numbers, strings "
            "and None can"
        )

    def get_config(self) -> dict:
        layers = []
        for layer in self._layers:
            inbound = []
            for node in self._layer_nodes[id(layer)]:
                if node.is_input:
                    continue
                kwargs = {k: self._serialize_kwarg(v, layer, k) for k, v in node.kwargs.items()}
                args = node.args if isinstance(node.args, (list, tuple)) else [node.args]
                inbound.append([self._tensor_ref(t) + [kwargs if k == 0 else {}]
                                for k, t in enumerate(args)])
            entry = serialize(layer)
            entry.update({"name": layer.name, "inbound_nodes": inbound})
            layers.append(entry)

        def refs(tensors, as_list):
            r = [self._tensor_ref(t) for t in tensors]
            return r if as_list else r[0]

        return {"name": self.name, "trainable": self.trainable, "layers": layers,
                "input_layers": refs(self._inputs, self._inputs_as_list),
                "output_layers": refs(self._outputs, self._outputs_as_list)}

    @classmethod
    def from_config(cls, config: dict) -> "Model":
        if not isinstance(config, dict) or "layers" not in config:
            raise ValueError(f"Model.from_config expects a dict with 'layers'; received {type(config).__name__}")
        created: dict[str, Layer] = {}
        calls: dict[str, list] = {}
        pending: list[tuple[str, list]] = []
        for entry in config["layers"]:
            layer = _deserialize_layer(entry)
            name = entry.get("name", layer.name)
            if name in created:
                raise ValueError(f"Model.from_config: two layers are named {name!r}")
            created[name] = layer
            if isinstance(layer, InputLayer):
                calls[name] = [layer.output]
            else:
                calls[name] = []
                pending.append((name, list(entry.get("inbound_nodes") or [])))

        class NotReady(Exception):
            pass

        def tensor(ref):
            if not isinstance(ref, (list, tuple)) or len(ref) < 3 or not isinstance(ref[0], str):
                raise ValueError(f"Model.from_config: invalid tensor reference {ref!r}")
            name, node_index, tensor_index = ref[0], int(ref[1]), int(ref[2])
            if name not in calls:
                raise ValueError(f"Model.from_config: a node refers to unknown layer {name!r}")
            if node_index >= len(calls[name]):
                raise NotReady
            out = calls[name][node_index]
            if isinstance(out, list):
                return out[tensor_index]
            if tensor_index != 0:
                raise ValueError(f"Model.from_config: layer {name!r} has one output; reference {ref!r}")
            return out

        def decode(value):
            if isinstance(value, dict) and value.get("class_name") == "__keras_tensor__":
                return tensor(value["config"]["keras_history"])
            if isinstance(value, list):
                return [decode(v) for v in value]
            return value

        while pending:
            progress = False
            for name, queue in pending:
                while queue:
                    data = queue[0]
                    try:
                        args = [tensor(ref) for ref in data]
                        kwargs = {k: decode(v) for k, v in (data[0][3] if len(data[0]) > 3 else {}).items()}
                    except NotReady:
                        break
                    layer = created[name]
                    calls[name].append(layer(args[0] if len(args) == 1 else args, **kwargs))
                    queue.pop(0)
                    progress = True
            pending = [(n, q) for n, q in pending if q]
            if pending and not progress:
                raise ValueError(
                    "Model.from_config: cannot connect layers "
                    f"{[n for n, _ in pending]}: their inputs are never produced"
                )

        def struct(refs):
            if refs and isinstance(refs[0], str):
                return tensor(refs)
            return [tensor(r) for r in refs]

        try:
            inputs, outputs = struct(config["input_layers"]), struct(config["output_layers"])
        except NotReady as exc:  # pragma: no cover - only for corrupt configs
            raise ValueError("Model.from_config: an input or output refers to a missing node") from exc
        return cls(inputs, outputs, name=config.get("name"), trainable=config.get("trainable", True))


def _deserialize_layer(entry: dict) -> Layer:
    if not isinstance(entry, dict) or "class_name" not in entry:
        raise ValueError(f"Model.from_config: each layer must be a dict with 'class_name'; received {entry!r}")
    return deserialize({"class_name": entry["class_name"], "config": entry.get("config", {})})
