"""Where each weight of a model lives in Keras' weight files.

Keras 3 (``model.weights.h5`` inside ``.keras``, and ``.weights.h5``) stores a layer's own
variables under ``<path>/vars/0, 1, ...``; the path of a layer inside a model is
``layers/<snake_case class name>`` made unique with ``_1``, ``_2`` in layer order, and
nested objects follow their attribute names (a recurrent layer's ``cell``,
Bidirectional's ``forward_layer``/``backward_layer``, TimeDistributed's ``layer``).

Legacy HDF5 (``.h5``) stores each layer's weights under its *name* with the weight names
listed in the group's ``weight_names`` attribute, in ``get_weights()`` order.

The optimizer's variables follow Keras' creation order: ``iterations``, ``learning_rate``
(when not a schedule), then the slots, with Adam's ``m``/``v`` interleaved per weight.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import backend

_CELL_NAMES = {"SimpleRNN": "simple_rnn_cell", "LSTM": "lstm_cell", "GRU": "gru_cell"}


@dataclass
class Entry:
    """One ``vars`` group: its path, the ``name`` attribute Keras writes, and how many of the
    model's weights (consecutive, in ``model.weights`` order) it holds."""
    path: str
    name: str
    count: int


def _unique(name: str, used: dict[str, int]) -> str:
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


def is_recurrent(layer) -> bool:
    return type(layer).__name__ in _CELL_NAMES or hasattr(layer, "recurrent_kernel")


def _layer_entries(layer, path: str, out: list[Entry]) -> None:
    kind = type(layer).__name__
    if hasattr(layer, "forward_layer") and hasattr(layer, "backward_layer"):
        out.append(Entry(f"{path}/vars", layer.name, 0))
        _layer_entries(layer.forward_layer, f"{path}/forward_layer", out)
        _layer_entries(layer.backward_layer, f"{path}/backward_layer", out)
    elif kind == "TimeDistributed":
        out.append(Entry(f"{path}/vars", layer.name, 0))
        _layer_entries(layer.layer, f"{path}/layer", out)
    elif kind in ("Sequential", "Functional", "Model") or hasattr(layer, "_layer_nodes"):
        model_entries(layer, path, out)
    elif kind == "RNN" and hasattr(layer, "cell"):
        out.append(Entry(f"{path}/vars", layer.name, 0))
        _cell_entries(layer.cell, f"{path}/cell", out)
    elif is_recurrent(layer):
        out.append(Entry(f"{path}/vars", layer.name, 0))
        cell = _CELL_NAMES.get(kind, backend.to_snake_case(kind) + "_cell")
        out.append(Entry(f"{path}/cell/vars", cell, len(layer.weights)))
    else:
        out.append(Entry(f"{path}/vars", layer.name, len(layer.weights)))


def _cell_entries(cell, path: str, out: list[Entry]) -> None:
    """An RNN's cell: its own ``vars``; StackedRNNCells' cells under ``cells/<snake_case class>``."""
    if type(cell).__name__ == "StackedRNNCells":
        out.append(Entry(f"{path}/vars", cell.name, 0))
        used: dict[str, int] = {}
        for c in cell.cells:
            _cell_entries(c, f"{path}/cells/" + _unique(backend.to_snake_case(type(c).__name__), used), out)
    else:
        out.append(Entry(f"{path}/vars", cell.name, len(cell.weights)))


def model_entries(model, path: str = "", out: list[Entry] | None = None,
                  order: list[str] | None = None) -> list[Entry]:
    """The Keras 3 ``vars`` groups of ``model``, in ``model.weights`` order.

    ``order``: the layer names in the order Keras lists them (a file's config order); it
    decides the ``_1``, ``_2`` suffixes. Defaults to ``model.layers``.
    """
    out = [] if out is None else out
    prefix = f"{path}/" if path else ""
    out.append(Entry(f"{prefix}vars", model.name, 0))
    layers = [lay for lay in model.layers if type(lay).__name__ != "InputLayer" or hasattr(model, "_layer_nodes")]
    used: dict[str, int] = {}
    paths: dict[str, str] = {}
    names = order if order is not None else [lay.name for lay in layers]
    by_name = {lay.name: lay for lay in layers}
    for name in names:
        lay = by_name.get(name)
        if lay is None:
            continue
        paths[name] = f"{prefix}layers/" + _unique(backend.to_snake_case(type(lay).__name__), used)
    for lay in layers:  # model.weights order
        if lay.name not in paths:
            paths[lay.name] = f"{prefix}layers/" + _unique(backend.to_snake_case(type(lay).__name__), used)
        _layer_entries(lay, paths[lay.name], out)
    return out


def legacy_groups(model) -> list[tuple[Any, list[str]]]:
    """``[(layer, weight names)]`` for legacy ``.h5``: Keras 2-style ``<layer>/<cell>/kernel:0``."""
    out = []
    for lay in model.layers:
        if type(lay).__name__ == "InputLayer":
            out.append((lay, []))
            continue
        names: list[str] = []
        _legacy_names(lay, lay.name, names)
        out.append((lay, names))
    return out


def _legacy_names(layer, prefix: str, names: list[str]) -> None:
    kind = type(layer).__name__
    if hasattr(layer, "forward_layer") and hasattr(layer, "backward_layer"):
        _legacy_names(layer.forward_layer, f"{prefix}/{layer.forward_layer.name}", names)
        _legacy_names(layer.backward_layer, f"{prefix}/{layer.backward_layer.name}", names)
    elif kind == "TimeDistributed":
        _legacy_names(layer.layer, f"{prefix}/{layer.layer.name}", names)
    elif kind == "RNN":
        names.extend(f"{prefix}/{n}" for n in layer.weight_names)  # <rnn>/<cell name>/kernel
    elif is_recurrent(layer):
        cell = _CELL_NAMES.get(kind, "cell")
        names.extend(f"{prefix}/{cell}/{n}" for n in layer.weight_names)
    else:
        names.extend(f"{prefix}/{n}" for n in layer.weight_names)


# ------------------------------------------------------------------ optimizer
def _slot_groups(opt) -> list[tuple[str, ...]]:
    names = tuple(opt._slot_names()) if hasattr(opt, "_slot_names") else ()
    if names[:2] == ("m", "v"):
        return [("m", "v")] + [(n,) for n in names[2:]]
    return [(n,) for n in names]


def optimizer_vars(opt, params: list[np.ndarray]) -> list[np.ndarray]:
    """The optimizer's state as Keras' ordered variable list (slots zero if never trained)."""
    state = opt.get_state()
    out = [np.array(state["iterations"], dtype=np.int64)]
    if "learning_rate" in state:
        out.append(np.array(state["learning_rate"], dtype=np.float32))
    for group in _slot_groups(opt):
        for i, p in enumerate(params):
            for slot in group:
                key = f"{slot}/{i}"
                out.append(np.asarray(state[key]) if key in state else np.zeros(p.shape, p.dtype))
    return out


def optimizer_state(opt, arrays: list[np.ndarray], shapes: list[tuple]) -> dict[str, np.ndarray] | None:
    """Keras' ordered optimizer variables -> ``opt.set_state`` input.

    None when their number does not fit ``opt`` (Keras then warns and starts fresh); a
    ValueError when the number fits but a slot's shape does not.
    """
    has_lr = "learning_rate" in opt.get_state()
    groups = _slot_groups(opt)
    n_slots = sum(len(g) for g in groups) * len(shapes)
    guessed = has_lr and len(arrays) == 1 + n_slots
    if guessed:
        has_lr = False  # tf.keras 2.x keeps the learning rate in the config only
    head = 1 + int(has_lr)
    if len(arrays) != head + n_slots:
        return None
    it = np.asarray(arrays[0])
    if it.dtype.kind == "f" and it.shape == () and np.isfinite(it) and float(it).is_integer():
        it = it.astype(np.int64)  # otherwise left as is, for set_state to refuse with its value
    state: dict[str, np.ndarray] = {"iterations": it}
    if has_lr:
        lr = np.asarray(arrays[1])
        configured = np.asarray(opt.get_state()["learning_rate"], dtype=np.float64)
        if lr.dtype.kind in "iuf" and lr.shape == () and np.float32(lr) == np.float32(configured):
            lr = configured  # Keras stores it as float32; the config holds it exactly
        state["learning_rate"] = lr.astype(np.float64) if lr.dtype.kind in "iuf" else lr
    k = head
    for group in groups:
        for i, shape in enumerate(shapes):
            for slot in group:
                if tuple(np.shape(arrays[k])) != tuple(shape):
                    if guessed:  # not tf.keras 2's layout after all: the count does not fit
                        return None
                    raise ValueError(f"optimizer variable {k} ({slot} of trainable weight {i}) has shape "
                                     f"{tuple(np.shape(arrays[k]))}; expected {tuple(shape)}")
                state[f"{slot}/{i}"] = np.asarray(arrays[k])
                k += 1
    return state
