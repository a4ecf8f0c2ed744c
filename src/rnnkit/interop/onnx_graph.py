"""How each layer becomes ONNX nodes, with native recurrent operators.

``Embedding`` becomes ``Gather``; ``SimpleRNN``/``LSTM``/``GRU`` become ONNX ``RNN``,
``LSTM`` (gates reordered from Keras' i, f, c, o to ONNX's i, o, f, c) and ``GRU``
(Keras' z, r, h order is ONNX's; ``linear_before_reset=1`` for ``reset_after=True``);
``Bidirectional`` is one operator with ``direction="bidirectional"`` and its merge
(concat, sum, ave, mul); ``Dense``/``TimeDistributed(Dense)``, ``Activation``,
``Dropout`` (identity) and ``Flatten`` follow. Batch and sequence length are dynamic.

Masks (``Embedding(mask_zero=True)`` or ``Masking`` as the first layer): rnnkit skips a
masked step wherever it is, while ONNX's recurrent operators only take per-sample lengths
(``sequence_lens``, valid steps first). The graph therefore first moves each sample's
unmasked steps to the front, in order (``TopK`` on ``mask * T + (T - 1 - t)``, then
``GatherElements``), and passes the counts as ``sequence_lens``: pre-padding, post-padding
and holes all give rnnkit's answers. Masked steps' *outputs* would still differ, so a
masked model must end in a non-sequence (a recurrent layer with
``return_sequences=False``); other masked models are refused at export with the reason.
"""
from __future__ import annotations

import numpy as np

from .. import activations

_ACT = {"tanh": "Tanh", "sigmoid": "Sigmoid", "relu": "Relu"}
OPSET = 17


class Graph:
    def __init__(self, onnx):
        self.onnx, self.h = onnx, onnx.helper
        self.nodes, self.inits, self.n = [], [], 0
        self.lens: str | None = None  # int32 (batch,) valid steps per sample, while a mask applies
        self.int_input = False

    def name(self, base: str) -> str:
        self.n += 1
        return f"{base}_{self.n}"

    def const(self, value, base: str = "c") -> str:
        name = self.name(base)
        self.inits.append(self.onnx.numpy_helper.from_array(np.asarray(value), name))
        return name

    def op(self, kind: str, inputs: list[str], n_out: int = 1, **attrs):
        outs = [self.name(kind.lower()) for _ in range(n_out)]
        self.nodes.append(self.h.make_node(kind, inputs, outs, **attrs))
        return outs if n_out > 1 else outs[0]


def _act_name(act, where: str) -> str:
    name = activations.serialize(act)
    if name not in _ACT:
        raise ValueError(f"export: {where} uses activation {name!r}; ONNX export supports "
                         f"{sorted(_ACT)} in recurrent layers")
    return _ACT[name]


def _rnn_weights(cell):
    """(W, R, B) of one direction in ONNX's layout and gate order."""
    kind = type(cell).__name__
    w = [np.asarray(a, np.float32) for a in cell.get_weights()]
    u = cell.units
    k, r = w[0].T, w[1].T
    if cell.use_bias:
        b = w[2]
    else:
        b = np.zeros((2, 3 * u) if kind == "GRU" and cell.reset_after else k.shape[0], np.float32)
    if kind == "LSTM":
        order = np.concatenate([np.arange(0, u), np.arange(3 * u, 4 * u), np.arange(u, 2 * u),
                                np.arange(2 * u, 3 * u)])  # i f c o -> i o f c
        k, r, b = k[order], r[order], b[order]
        bias = np.concatenate([b, np.zeros_like(b)])
    elif kind == "GRU" and cell.reset_after:
        bias = np.concatenate([b[0], b[1]])
    else:
        bias = np.concatenate([b, np.zeros_like(b)])
    return k, r, bias


def _recurrent(g: Graph, x: str, layers, merge: str | None, return_sequences: bool,
               initial: list[str] | None = None):
    """``x``: (batch, time, features). One ONNX RNN/LSTM/GRU node for one or two directions.

    ``initial``: Keras' initial states (``[h]``, ``[h, c]``; forward then backward), each
    (batch, units). Returns ``(output, final states in Keras' order)``.
    """
    cell = layers[0]
    kind = type(cell).__name__
    where = f"layer {cell.name!r}"
    if any(getattr(lay, "stateful", False) for lay in layers):
        raise ValueError(f"export: {where}: stateful layers are not exported")
    bidir = len(layers) == 2
    direction = "bidirectional" if bidir else "forward"
    if not bidir and cell.go_backwards and g.lens is not None:
        if return_sequences:
            raise ValueError(f"export: {where} has go_backwards=True and return_sequences=True under a "
                             "mask; its masked outputs have no ONNX equivalent")
        direction = "reverse"  # the valid steps, last to first
    elif not bidir and cell.go_backwards:
        x = g.op("Slice", [x, g.const(np.array([-1], np.int64)), g.const(np.array([-2 ** 62], np.int64)),
                           g.const(np.array([1], np.int64)), g.const(np.array([-1], np.int64))])
    xt = g.op("Transpose", [x], perm=[1, 0, 2])
    parts = [_rnn_weights(lay) for lay in layers]
    W, R, B = (g.const(np.stack([p[i] for p in parts]), n) for i, n in enumerate("WRB"))
    attrs = {"hidden_size": cell.units, "direction": direction}
    act = _act_name(cell.activation, where)
    if kind == "SimpleRNN":
        attrs["activations"] = [act] * len(layers)
    else:
        rec = _act_name(cell.recurrent_activation, where)
        per_dir = [rec, act, act] if kind == "LSTM" else [rec, act]
        attrs["activations"] = per_dir * len(layers)
    if kind == "GRU":
        attrs["linear_before_reset"] = int(cell.reset_after)
    op = {"SimpleRNN": "RNN"}.get(kind, kind)
    n_states = 2 if kind == "LSTM" else 1
    inputs = [xt, W, R, B, g.lens or ""]
    if initial:
        zero = g.const(np.array([0], np.int64))
        for k in range(n_states):  # ONNX: (directions, batch, units) per state kind
            per_dir = [g.op("Unsqueeze", [initial[d * n_states + k], zero]) for d in range(len(layers))]
            inputs.append(per_dir[0] if len(per_dir) == 1 else g.op("Concat", per_dir, axis=0))
    while inputs and inputs[-1] == "":
        inputs.pop()
    outs = g.op(op, inputs, n_out=1 + n_states, **attrs)
    if not return_sequences:
        g.lens = None  # the mask ends with the sequence
    finals = [g.op("Transpose", [o], perm=[1, 0, 2]) for o in outs[1:]]  # (batch, dirs, units)
    states = []
    for d in range(len(layers)):
        idx = g.const(np.int64(d))
        states += [g.op("Gather", [f, idx], axis=1) for f in finals]
    if return_sequences:
        seq = g.op("Transpose", [outs[0]], perm=[2, 0, 1, 3])  # (batch, time, dirs, units)
        if not bidir:
            return g.op("Squeeze", [seq, g.const(np.array([2], np.int64))]), states
        return _merge(g, seq, merge, axis=2, where=where, flat_shape=[0, 0, -1]), states
    if not bidir:
        return states[0], states
    return _merge(g, finals[0], merge, axis=1, where=where, flat_shape=[0, -1]), states


def recurrent_outputs(g: Graph, x: str, layer, initial: list[str] | None) -> list[str]:
    """What calling ``layer`` returns in Keras: ``[output]``, plus the states with
    ``return_state=True``; a Bidirectional with ``merge_mode=None`` returns both directions."""
    if type(layer).__name__ == "Bidirectional":
        fw = layer.forward_layer
        if layer.merge_mode is None:
            both = [g.op("Identity", [o]) for o in _directions(g, x, layer, initial)]
            out, states = both[:2], both[2:]
        else:
            out, states = _recurrent(g, x, [fw, layer.backward_layer], layer.merge_mode,
                                     fw.return_sequences, initial)
            out = [out]
        return out + (states if fw.return_state else [])
    out, states = _recurrent(g, x, [layer], None, layer.return_sequences, initial)
    return [out] + (states if layer.return_state else [])


def _directions(g: Graph, x: str, layer, initial) -> list[str]:
    """Bidirectional with ``merge_mode=None``: ``[forward out, backward out, *states]``."""
    fw = layer.forward_layer
    seqs = fw.return_sequences
    out, states = _recurrent(g, x, [fw, layer.backward_layer], "stack", seqs, initial)
    axis = 2 if seqs else 1
    a, b = g.op("Split", [out], n_out=2, axis=axis)
    ax = g.const(np.array([axis], np.int64))
    return [g.op("Squeeze", [a, ax]), g.op("Squeeze", [b, ax])] + states


def _merge(g: Graph, t: str, merge, axis: int, where: str, flat_shape) -> str:
    if merge == "stack":
        return t
    if merge == "concat":
        return g.op("Reshape", [t, g.const(np.array(flat_shape, np.int64))])
    ax = g.const(np.array([axis], np.int64))
    if merge == "sum":
        return g.op("ReduceSum", [t, ax], keepdims=0)
    if merge == "ave":
        return g.op("Mul", [g.op("ReduceSum", [t, ax], keepdims=0), g.const(np.float32(0.5))])
    if merge == "mul":
        a, b = g.op("Split", [t], n_out=2, axis=axis)
        return g.op("Squeeze", [g.op("Mul", [a, b]), ax])
    raise ValueError(f"export: {where} has merge_mode={merge!r}; ONNX export supports concat, sum, ave, mul")


def _activation(g: Graph, x: str, act, where: str) -> str:
    name = activations.serialize(act)
    if name == "linear":
        return x
    if name == "softmax":
        return g.op("Softmax", [x], axis=-1)
    if name not in _ACT:
        raise ValueError(f"export: {where} uses activation {name!r}; ONNX export supports "
                         f"{['linear', 'softmax', *sorted(_ACT)]}")
    return g.op(_ACT[name], [x])


def _dense(g: Graph, x: str, layer) -> str:
    w = [np.asarray(a, np.float32) for a in layer.get_weights()]
    y = g.op("MatMul", [x, g.const(w[0], "kernel")])
    if len(w) > 1:
        y = g.op("Add", [y, g.const(w[1], "bias")])
    return _activation(g, y, layer.activation, f"layer {layer.name!r}")


def _compact(g: Graph, x: str, valid: str) -> str:
    """``x`` (batch, time, ...) with each sample's valid steps moved to the front, in order;
    sets ``g.lens``. ``valid``: int64 (batch, time), 1 where a step is not masked."""
    steps = g.op("Slice", [g.op("Shape", [x]), g.const(np.array([1], np.int64)),
                           g.const(np.array([2], np.int64))])
    t = g.op("Range", [g.const(np.int64(0)), g.op("Squeeze", [steps]), g.const(np.int64(1))])
    # valid steps rank first, earlier steps before later ones
    key = g.op("Add", [g.op("Mul", [valid, steps]),
                       g.op("Sub", [g.op("Sub", [steps, g.const(np.int64(1))]), t])])
    _, order = g.op("TopK", [key, steps], n_out=2, axis=1, largest=1, sorted=1)
    g.lens = g.op("Cast", [g.op("ReduceSum", [valid, g.const(np.array([1], np.int64))], keepdims=0)],
                  to=g.onnx.TensorProto.INT32)
    if x == "input" and g.int_input:
        return g.op("GatherElements", [x, order], axis=1)
    index = g.op("Expand", [g.op("Unsqueeze", [order, g.const(np.array([2], np.int64))]), g.op("Shape", [x])])
    return g.op("GatherElements", [x, index], axis=1)


def layer_node(g: Graph, x: str, layer, first: bool) -> str:
    """The ONNX nodes of one single-input layer applied to ``x``; returns the output name."""
    kind = type(layer).__name__
    where = f"layer {layer.name!r} ({kind})"
    if kind in ("Embedding", "Masking") and (getattr(layer, "mask_zero", True)) and not first:
        raise ValueError(f"export: {where} makes a mask but is not the first layer; masks are exported "
                         "only from the model's input")
    if kind == "Embedding":
        if layer.mask_zero:
            x = _compact(g, x, g.op("Cast", [g.op("Not", [g.op("Equal", [x, g.const(np.int64(0))])])],
                                    to=g.onnx.TensorProto.INT64))
        return g.op("Gather", [g.const(np.asarray(layer.embeddings, np.float32), "embeddings"), x], axis=0)
    if kind == "Masking":
        differs = g.op("Cast", [g.op("Not", [g.op("Equal", [x, g.const(np.float32(layer.mask_value))])])],
                       to=g.onnx.TensorProto.FLOAT)
        valid = g.op("ReduceMax", [differs], axes=[2], keepdims=0)
        return _compact(g, x, g.op("Cast", [valid], to=g.onnx.TensorProto.INT64))
    if kind == "Flatten" and g.lens is not None:
        raise ValueError(f"export: {where} flattens a masked sequence; its masked steps have no ONNX "
                         "equivalent")
    if kind in ("SimpleRNN", "LSTM", "GRU", "Bidirectional"):
        outs = recurrent_outputs(g, x, layer, None)
        if len(outs) > 1:
            raise ValueError(f"export: {where} returns several outputs (return_state=True or "
                             "merge_mode=None); export it in a functional model")
        return outs[0]
    if kind == "Dense":
        return _dense(g, x, layer)
    if kind == "TimeDistributed" and type(layer.layer).__name__ == "Dense":
        return _dense(g, x, layer.layer)
    if kind == "Activation":
        return _activation(g, x, layer.activation, where)
    if kind == "Dropout":
        return x
    if kind == "Flatten":
        return g.op("Reshape", [x, g.const(np.array([0, -1], np.int64))])
    raise ValueError(f"export: {where} has no ONNX export; supported: Embedding, SimpleRNN, LSTM, GRU, "
                     "Bidirectional, Dense, TimeDistributed(Dense), Activation, Dropout, Flatten")
