"""Bidirectional: run a recurrent layer forwards and a copy backwards, and merge."""
from __future__ import annotations

import numpy as np

from .base import Layer
from .recurrent import RecurrentLayer
from .wrappers import deserialize_inner

MERGE_MODES = ("concat", "sum", "mul", "ave", None)


class Bidirectional(Layer):
    """Bidirectional wrapper for ``SimpleRNN``, ``LSTM`` and ``GRU``.

    The backward layer is a copy of ``layer`` with ``go_backwards=True`` (or
    ``backward_layer``); with ``return_sequences`` its output is flipped back so
    that position t of both directions lines up. Outputs: ``merge(fw, bw)`` with
    ``merge_mode`` "concat" (last axis ``2 * units``), "sum", "mul", "ave", or
    ``None`` for ``[fw, bw]``; with ``return_state`` the states follow, forward
    first, then backward. Weights: the forward layer's, then the backward layer's.
    """

    def __init__(self, layer: RecurrentLayer, merge_mode: str | None = "concat",
                 weights=None, backward_layer: RecurrentLayer | None = None, **kwargs):
        if isinstance(layer, dict):
            layer = deserialize_inner(layer)
        if isinstance(backward_layer, dict):
            backward_layer = deserialize_inner(backward_layer)
        if not isinstance(layer, RecurrentLayer):
            raise ValueError(
                "Bidirectional expects a recurrent layer (SimpleRNN, LSTM or GRU) as `layer`; "
                f"received {type(layer).__name__}"
            )
        if merge_mode not in MERGE_MODES:
            raise ValueError(
                f"Bidirectional: merge_mode must be one of {list(MERGE_MODES)}; received {merge_mode!r}"
            )
        if "input_shape" not in kwargs and "batch_input_shape" not in kwargs \
                and layer._batch_input_shape is not None:
            kwargs["batch_input_shape"] = layer._batch_input_shape
        if kwargs.get("dtype") is None:  # compute in the wrapped layer's dtype, not float32
            kwargs["dtype"] = layer.dtype
        super().__init__(**kwargs)
        cfg = layer.get_config()
        cfg.pop("batch_input_shape", None)
        cfg["name"] = "forward_" + layer.name.removeprefix("forward_")
        self.forward_layer = type(layer).from_config(cfg)
        if backward_layer is None:
            cfg = layer.get_config()
            cfg.pop("batch_input_shape", None)
            cfg["name"] = "backward_" + layer.name.removeprefix("backward_")
            cfg["go_backwards"] = not layer.go_backwards
            self.backward_layer = type(layer).from_config(cfg)
        else:
            if not isinstance(backward_layer, RecurrentLayer):
                raise ValueError(
                    f"Bidirectional: backward_layer must be a recurrent layer; received "
                    f"{type(backward_layer).__name__}"
                )
            for attr in ("return_sequences", "return_state"):
                if getattr(backward_layer, attr) != getattr(layer, attr):
                    raise ValueError(
                        f"Bidirectional: forward and backward layers must have the same {attr}; "
                        f"received {getattr(layer, attr)} and {getattr(backward_layer, attr)}"
                    )
            if backward_layer.go_backwards == layer.go_backwards:
                raise ValueError(
                    "Bidirectional: backward_layer.go_backwards must differ from layer.go_backwards; "
                    f"both are {layer.go_backwards}"
                )
            self.backward_layer = backward_layer
        self.merge_mode = merge_mode
        self.return_sequences = layer.return_sequences
        self.return_state = layer.return_state
        self.stateful = layer.stateful
        # Padded outputs must be zeros, or the flipped backward sequence would
        # carry values into the padding positions of the forward one.
        for lay in (self.forward_layer, self.backward_layer):
            lay.zero_output_for_mask = self.return_sequences
        self._sublayers = [self.forward_layer, self.backward_layer]
        if weights is not None:
            raise NotImplementedError("Bidirectional(weights=...): call set_weights() after building")

    def build(self, input_shape):
        self.forward_layer._maybe_build(input_shape)
        self.backward_layer._maybe_build(input_shape)
        super().build(input_shape)

    def _n_states(self, lay):
        return len(lay.state_names)

    def num_outputs(self) -> int:
        states = len(self.forward_layer.state_names) + len(self.backward_layer.state_names)
        return (2 if self.merge_mode is None else 1) + (states if self.return_state else 0)

    def compute_output_shape(self, input_shape):
        fw = self.forward_layer.compute_output_shape(input_shape)
        bw = self.backward_layer.compute_output_shape(input_shape)
        fw_out, fw_states = (fw[0], fw[1:]) if self.return_state else (fw, [])
        bw_out, bw_states = (bw[0], bw[1:]) if self.return_state else (bw, [])
        if self.merge_mode == "concat":
            out = [fw_out[:-1] + (fw_out[-1] + bw_out[-1],)]
        elif self.merge_mode is None:
            out = [fw_out, bw_out]
        else:
            out = [fw_out]
        out += list(fw_states) + list(bw_states)
        return out if len(out) > 1 else out[0]

    def compute_mask(self, inputs, mask):
        if not self.return_sequences or mask is None:
            return None
        return [mask, mask] if self.merge_mode is None else mask

    def reset_states(self, states=None):
        if states is None:
            self.forward_layer.reset_states()
            self.backward_layer.reset_states()
            return
        n = self._n_states(self.forward_layer)
        self.forward_layer.reset_states(states[:n])
        self.backward_layer.reset_states(states[n:])

    def forward(self, inputs, mask=None, training=False, initial_state=None, **kwargs):
        if kwargs:
            raise TypeError(f"Bidirectional.forward got unexpected argument(s) {sorted(kwargs)}")
        fw_init = bw_init = None
        if initial_state is not None:
            states = list(initial_state)
            nf, nb = self._n_states(self.forward_layer), self._n_states(self.backward_layer)
            if len(states) != nf + nb:
                raise ValueError(
                    f"Bidirectional '{self.name}' expects initial_state to be a list of {nf + nb} "
                    f"arrays (forward states, then backward states); received {len(states)}"
                )
            fw_init, bw_init = states[:nf], states[nf:]
        fw_out, fw_cache = self.forward_layer.forward(inputs, mask=mask, training=training,
                                                      initial_state=fw_init)
        bw_out, bw_cache = self.backward_layer.forward(inputs, mask=mask, training=training,
                                                       initial_state=bw_init)
        fw_states, bw_states = [], []
        if self.return_state:
            fw_out, *fw_states = fw_out
            bw_out, *bw_states = bw_out
        if self.return_sequences:
            bw_out = np.ascontiguousarray(bw_out[:, ::-1])
        mode = self.merge_mode
        if mode == "concat":
            merged = [np.concatenate([fw_out, bw_out], axis=-1)]
        elif mode == "sum":
            merged = [fw_out + bw_out]
        elif mode == "mul":
            merged = [fw_out * bw_out]
        elif mode == "ave":
            merged = [(fw_out + bw_out) * fw_out.dtype.type(0.5)]
        else:
            merged = [fw_out, bw_out]
        outputs = merged + fw_states + bw_states
        cache = (fw_cache, bw_cache, fw_out, bw_out, len(fw_states), initial_state is not None)
        return (outputs if len(outputs) > 1 else outputs[0]), cache

    def backward(self, grad_outputs, cache):
        fw_cache, bw_cache, fw_out, bw_out, n_fw, had_initial = cache
        grads = list(grad_outputs) if isinstance(grad_outputs, (list, tuple)) else [grad_outputs]
        n_merged = 2 if self.merge_mode is None else 1
        g_merged, g_states = grads[:n_merged], grads[n_merged:]
        g = g_merged[0]
        mode = self.merge_mode
        if mode is None:
            d_fw, d_bw = g_merged
        elif g is None:
            d_fw = d_bw = None
        elif mode == "concat":
            u = fw_out.shape[-1]
            d_fw, d_bw = g[..., :u], g[..., u:]
        elif mode == "sum":
            d_fw = d_bw = g
        elif mode == "mul":
            d_fw, d_bw = g * bw_out, g * fw_out
        else:
            d_fw = d_bw = g * g.dtype.type(0.5)
        if d_bw is not None and self.return_sequences:
            d_bw = np.asarray(d_bw)[:, ::-1]
        if self.return_state:
            d_fw = [d_fw] + list(g_states[:n_fw])
            d_bw = [d_bw] + list(g_states[n_fw:])
        dx_fw = self.forward_layer.backward(d_fw, fw_cache)
        dx_bw = self.backward_layer.backward(d_bw, bw_cache)
        self._set_grads([])
        if had_initial:
            return [dx_fw[0] + dx_bw[0], *dx_fw[1:], *dx_bw[1:]]
        return dx_fw + dx_bw

    def param_formula(self):
        f, b = self.forward_layer.param_formula(), self.backward_layer.param_formula()
        if f is None:
            return None
        return f"2 x ({f})" if f == b else f"({f}) + ({b})"

    def get_config(self):
        cfg = {**super().get_config(), "merge_mode": self.merge_mode,
               "layer": {"class_name": type(self.forward_layer).__name__,
                         "config": self.forward_layer.get_config()}}
        cfg["layer"]["config"]["name"] = self.forward_layer.name.removeprefix("forward_")
        cfg["layer"]["config"]["go_backwards"] = self.forward_layer.go_backwards
        cfg["backward_layer"] = {"class_name": type(self.backward_layer).__name__,
                                 "config": self.backward_layer.get_config()}
        return cfg
