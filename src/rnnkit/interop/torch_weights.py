"""PyTorch ``nn.RNN``/``nn.LSTM``/``nn.GRU`` <-> rnnkit recurrent layers, weights included.

Layouts, per layer and direction (torch -> rnnkit/Keras):

* SimpleRNN / LSTM: ``kernel = weight_ih.T``, ``recurrent_kernel = weight_hh.T``,
  ``bias = bias_ih + bias_hh``; torch's LSTM gates i, f, g, o are Keras' i, f, c, o.
* GRU: torch's gates r, z, n are Keras' z, r, h reordered; torch's GRU is Keras' GRU with
  ``reset_after=True`` and ``bias (2, 3 * units) = [bias_ih, bias_hh]``.

rnnkit is batch-major: the layers take ``(batch, time, features)`` whatever the module's
``batch_first``; for ``batch_first=False`` transpose the input and output. Torch is
imported only by :func:`to_torch` and when a module (not a state dict) is given.
"""
from __future__ import annotations

import re
from typing import Any, Mapping

import numpy as np

from .. import activations
from ..layers import GRU, LSTM, Bidirectional, Dropout, Input, SimpleRNN
from ..models import Sequential

_MODES = {"RNN": SimpleRNN, "RNN_TANH": SimpleRNN, "RNN_RELU": SimpleRNN, "LSTM": LSTM, "GRU": GRU}
_KEY = re.compile(r"^(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)(_reverse)?$")


def _np(t) -> np.ndarray:
    if hasattr(t, "detach"):
        t = t.detach().cpu().numpy()
    return np.asarray(t)


def _gru_to_keras(a: np.ndarray, u: int) -> np.ndarray:
    """Rows (r, z, n) -> (z, r, h) along the first axis."""
    return np.concatenate([a[u:2 * u], a[:u], a[2 * u:]])


def _gru_to_torch(a: np.ndarray, u: int) -> np.ndarray:
    return np.concatenate([a[u:2 * u], a[:u], a[2 * u:]])  # the swap is its own inverse


def _keras_weights(mode: str, sd: dict, suffix: str, u: int, bias: bool) -> list[np.ndarray]:
    w_ih, w_hh = sd[f"weight_ih{suffix}"], sd[f"weight_hh{suffix}"]
    b_ih = sd.get(f"bias_ih{suffix}") if bias else None
    b_hh = sd.get(f"bias_hh{suffix}") if bias else None
    if mode == "GRU":
        out = [_gru_to_keras(w_ih, u).T, _gru_to_keras(w_hh, u).T]
        if bias:
            out.append(np.stack([_gru_to_keras(b_ih, u), _gru_to_keras(b_hh, u)]))
        return out
    out = [w_ih.T, w_hh.T]
    if bias:
        out.append(b_ih + b_hh)
    return out


def from_torch(module_or_state_dict: Any, mode: str | None = None, *, nonlinearity: str = "tanh",
               dropout: float = 0.0, dtype: str = "float32"):
    """An rnnkit layer (or model) computing what a torch recurrent module computes.

    ``module_or_state_dict``: an ``nn.RNN``/``nn.LSTM``/``nn.GRU``, or its ``state_dict()``
    (tensors or NumPy arrays) with ``mode`` ``"RNN"``, ``"LSTM"`` or ``"GRU"``; sizes,
    ``num_layers``, ``bidirectional`` and ``bias`` are read from the dict's keys and shapes.

    Returns a layer with ``return_sequences=True`` (input ``(batch, time, input_size)``,
    output ``(batch, time, hidden * directions)``): a ``Bidirectional(merge_mode="concat")``
    when bidirectional, a ``Sequential`` stack when ``num_layers > 1`` (with ``Dropout``
    between layers where the module has ``dropout``).
    """
    if isinstance(module_or_state_dict, Mapping):
        if mode is None:
            raise ValueError("from_torch: a state_dict needs mode='RNN', 'LSTM' or 'GRU'")
        sd = {k: _np(v) for k, v in module_or_state_dict.items()}
    else:
        mod = module_or_state_dict
        mode = mode or getattr(mod, "mode", None) or type(mod).__name__
        if getattr(mod, "proj_size", 0):
            raise ValueError(f"from_torch: proj_size={mod.proj_size} (projected LSTM) has no Keras "
                             "equivalent; rnnkit cannot load it")
        nonlinearity = getattr(mod, "nonlinearity", nonlinearity)
        dropout = float(getattr(mod, "dropout", dropout))
        sd = {k: _np(v) for k, v in mod.state_dict().items()}
    mode = str(mode).upper()
    if mode not in _MODES:
        raise ValueError(f"from_torch: mode must be 'RNN', 'LSTM' or 'GRU'; received {mode!r}")
    if mode == "RNN_RELU":
        nonlinearity = "relu"
    unknown = [k for k in sd if not _KEY.match(k)]
    if unknown:
        raise ValueError(f"from_torch: unexpected state_dict keys {unknown[:4]}; expected weight_ih_l0, "
                         "weight_hh_l0, bias_ih_l0, bias_hh_l0 (and _reverse, _l1, ...)")
    if "weight_hh_l0" not in sd:
        raise ValueError("from_torch: the state_dict has no weight_hh_l0")
    units = sd["weight_hh_l0"].shape[1]
    num_layers = 1 + max(int(_KEY.match(k).group(2)) for k in sd)
    bidirectional = any(k.endswith("_reverse") for k in sd)
    bias = "bias_ih_l0" in sd
    cls = _MODES[mode]
    layers = []
    for n in range(num_layers):
        kwargs: dict[str, Any] = dict(return_sequences=True, use_bias=bias, dtype=dtype)
        if cls is SimpleRNN:
            kwargs["activation"] = nonlinearity
        if cls is GRU:
            kwargs["reset_after"] = True
        in_dim = sd[f"weight_ih_l{n}"].shape[1]
        weights = _keras_weights(mode, sd, f"_l{n}", units, bias)
        if bidirectional:
            weights += _keras_weights(mode, sd, f"_l{n}_reverse", units, bias)
            layer = Bidirectional(cls(units, **kwargs), merge_mode="concat")
        else:
            layer = cls(units, **kwargs)
        layer.build((None, None, in_dim))
        layer.set_weights([w.astype(dtype) for w in weights])
        if n and dropout:
            layers.append(Dropout(dropout))
        layers.append(layer)
    if num_layers == 1:
        return layers[0]
    return Sequential([Input(shape=(None, sd["weight_ih_l0"].shape[1]), dtype=dtype)] + layers)


def _check_exportable(layer, where: str, reverse: bool = False) -> None:
    kind = type(layer).__name__
    act = activations.serialize(layer.activation)
    if kind == "GRU" and not layer.reset_after:
        raise ValueError(f"to_torch: {where} is a GRU with reset_after=False; torch's nn.GRU computes "
                         "reset_after=True only")
    if kind == "SimpleRNN" and act not in ("tanh", "relu"):
        raise ValueError(f"to_torch: {where} has activation={act!r}; nn.RNN has only 'tanh' and 'relu'")
    if kind in ("LSTM", "GRU"):
        rec = activations.serialize(layer.recurrent_activation)
        if act != "tanh" or rec != "sigmoid":
            raise ValueError(f"to_torch: {where} has activation={act!r}, recurrent_activation={rec!r}; "
                             f"nn.{kind} computes tanh and sigmoid only")
    if layer.go_backwards != reverse:
        raise ValueError(f"to_torch: {where} has go_backwards=True; torch runs backwards only inside "
                         "bidirectional=True (use Bidirectional)")
    if getattr(layer, "recurrent_dropout", 0) or getattr(layer, "dropout", 0):
        raise ValueError(f"to_torch: {where} has dropout/recurrent_dropout; torch's modules have no "
                         "per-step dropout (set them to 0)")


def _torch_arrays(layer, suffix: str) -> dict[str, np.ndarray]:
    kind = type(layer).__name__
    u = layer.units
    w = layer.get_weights()
    if kind == "GRU":
        out = {f"weight_ih{suffix}": _gru_to_torch(w[0].T, u), f"weight_hh{suffix}": _gru_to_torch(w[1].T, u)}
        if layer.use_bias:
            out[f"bias_ih{suffix}"] = _gru_to_torch(w[2][0], u)
            out[f"bias_hh{suffix}"] = _gru_to_torch(w[2][1], u)
        return out
    out = {f"weight_ih{suffix}": w[0].T.copy(), f"weight_hh{suffix}": w[1].T.copy()}
    if layer.use_bias:
        out[f"bias_ih{suffix}"] = w[2].copy()
        out[f"bias_hh{suffix}"] = np.zeros_like(w[2])
    return out


def _stack(obj) -> list:
    """The recurrent layers (or Bidirectionals) of a layer or a Sequential stack."""
    if hasattr(obj, "layers") and not hasattr(obj, "units"):
        out = []
        for lay in obj.layers:
            kind = type(lay).__name__
            if kind in ("Dropout", "InputLayer"):
                continue
            if kind in ("Embedding", "Masking"):
                raise ValueError(f"to_torch: layer {lay.name!r} ({kind}) makes a mask; torch's modules "
                                 "take no mask (use packed sequences there)")
            out.append(lay)
        return out
    return [obj]


def torch_config(obj) -> dict[str, Any]:
    """The constructor arguments of the equal torch module (``batch_first=True``)."""
    stack = _stack(obj)
    first = stack[0]
    bidir = isinstance(first, Bidirectional)
    cell = first.forward_layer if bidir else first
    kind = type(cell).__name__
    if kind not in ("SimpleRNN", "LSTM", "GRU"):
        raise ValueError(f"to_torch: expected SimpleRNN, LSTM, GRU or Bidirectional layers; received {kind}")
    kwargs: dict[str, Any] = dict(input_size=int(cell.kernel.shape[0]), hidden_size=int(cell.units),
                                  num_layers=len(stack), bias=bool(cell.use_bias), batch_first=True,
                                  bidirectional=bidir)
    if kind == "SimpleRNN":
        kwargs["nonlinearity"] = activations.serialize(cell.activation)
    return {"mode": {"SimpleRNN": "RNN"}.get(kind, kind), **kwargs}


def to_torch_state_dict(obj) -> dict[str, np.ndarray]:
    """The ``state_dict`` (NumPy arrays) of the torch module equal to ``obj``: a SimpleRNN,
    LSTM or GRU, a ``Bidirectional(merge_mode="concat")`` of one, or a Sequential stack of
    them with equal units. What torch cannot compute is refused, naming the option."""
    cfg = torch_config(obj)
    out: dict[str, np.ndarray] = {}
    for n, lay in enumerate(_stack(obj)):
        where = f"layer {lay.name!r}"
        if isinstance(lay, Bidirectional) != cfg["bidirectional"]:
            raise ValueError(f"to_torch: {where}: torch stacks need every layer bidirectional or none")
        if isinstance(lay, Bidirectional):
            if lay.merge_mode != "concat":
                raise ValueError(f"to_torch: {where} has merge_mode={lay.merge_mode!r}; torch concatenates "
                                 "the two directions (merge_mode='concat')")
            parts = [(lay.forward_layer, f"_l{n}"), (lay.backward_layer, f"_l{n}_reverse")]
        else:
            parts = [(lay, f"_l{n}")]
        for cell, suffix in parts:
            if type(cell).__name__ != {"RNN": "SimpleRNN"}.get(cfg["mode"], cfg["mode"]) \
                    or cell.units != cfg["hidden_size"] or bool(cell.use_bias) != cfg["bias"]:
                raise ValueError(f"to_torch: {where}: a torch module stacks layers of one kind, units and "
                                 "use_bias")
            _check_exportable(cell, where, reverse=suffix.endswith("_reverse"))
            out.update(_torch_arrays(cell, suffix))
    return out


def to_torch(obj):
    """An ``nn.RNN``/``nn.LSTM``/``nn.GRU`` (``batch_first=True``, float32) equal to ``obj``."""
    import torch

    state = to_torch_state_dict(obj)
    cfg = torch_config(obj)
    mode = cfg.pop("mode")
    module = getattr(torch.nn, mode)(**cfg)
    module.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v, dtype=np.float32))
                            for k, v in state.items()})
    return module
