"""Keras' ``RNN(cell)``: a recurrent layer made from a cell.

Two ways to run, chosen once from the cell:

- a built-in cell (:class:`SimpleRNNCell`, :class:`LSTMCell`, :class:`GRUCell`): the
  layer is a :class:`RecurrentLayer` declared by the cell. Its ``cell_spec``, its
  reference forward/backward (the matching layer class's) and its hyperparameters
  come from the cell, and its weights *are* the cell's arrays (``rnn.cell.kernel``,
  ``rnn.weights``), so :func:`.engines.select` runs it exactly as it runs ``LSTM(n)``:
  same engines, same numbers, fused analytic BPTT;
- any other cell (a user's cell written with :mod:`rnnkit.ops`, nested states,
  :class:`StackedRNNCells`): the generic loop over time steps of :mod:`.rnn_loop`,
  trained through the tape.

Outputs: ``output`` (``(B, T, ...)`` with ``return_sequences`` else ``(B, ...)``), then
with ``return_state`` the final states, flattened (``[output, h, c]`` for an LSTM
cell; ``[output, h1, c1, h2, c2]`` for two stacked LSTM cells, where Keras nests the
per-cell groups). A cell with several outputs (a list) gives one output per entry.
``unroll`` is accepted and changes nothing: the loop is plain Python either way.
"""
from __future__ import annotations

import numpy as np

from ...ops import layer_autodiff as _autodiff
from ...ops import tape as _tape
from .. import registry
from ..base import KerasTensor, Layer
from ..layer_utils import check_mask
from . import rnn_loop
from .base import RecurrentLayer
from .cells import BUILTIN_CELLS
from .stacked_cells import StackedRNNCells

_FUSED_ONLY = {"engine": "auto", "memory": "full", "recompute_every": None}


class RNN(RecurrentLayer):
    """``RNN(cell, return_sequences=False, return_state=False, go_backwards=False,
    stateful=False, unroll=False, zero_output_for_mask=False)``; a list of cells is
    wrapped in :class:`StackedRNNCells`.

    Call: ``inputs (B, T, D)`` (or a list of sequences for a cell taking nested
    inputs), ``mask (B, T)``, ``initial_state`` (a list of arrays, flat or nested like
    the cell's states), ``training``.
    """

    def __init__(self, cell, return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 zero_output_for_mask: bool = False, **kwargs):
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(cell)
        if not callable(getattr(cell, "call", None)):
            raise ValueError(f"RNN: cell must have a call(inputs, states) method; received {cell!r}")
        if getattr(cell, "state_size", None) is None:
            raise ValueError("RNN: the cell must have a state_size attribute (an int, or a list with "
                             f"one entry per state); received {cell!r}")
        if "dtype" not in kwargs and isinstance(cell, Layer):
            kwargs["dtype"] = cell.dtype.name  # Keras runs the loop in the cell's dtype
        common = dict(return_sequences=return_sequences, return_state=return_state,
                      go_backwards=go_backwards, stateful=stateful, unroll=unroll,
                      zero_output_for_mask=zero_output_for_mask)
        self._fused = isinstance(cell, BUILTIN_CELLS)
        if self._fused:
            self.cell_spec = cell.cell_spec
            if hasattr(cell, "reset_after"):
                self.reset_after = cell.reset_after
            super().__init__(
                cell.units, activation=cell.activation, recurrent_activation=cell.recurrent_activation,
                use_bias=cell.use_bias, kernel_initializer=cell.kernel_initializer,
                recurrent_initializer=cell.recurrent_initializer, bias_initializer=cell.bias_initializer,
                dropout=cell.dropout, recurrent_dropout=cell.recurrent_dropout, seed=cell.seed,
                **common, **kwargs)
            if cell.dtype != self.dtype:  # the engines run the cell's arrays in the layer's dtype
                if cell.built:
                    raise ValueError(f"RNN '{self.name}': dtype {self.dtype.name} differs from its built "
                                     f"cell's ({cell.dtype.name}); pass the cell's dtype")
                cell.dtype = self.dtype
        else:
            for k, default in _FUSED_ONLY.items():
                if kwargs.pop(k, default) != default:
                    raise ValueError(f"RNN: {k}= applies to built-in cells only; received a "
                                     f"{type(cell).__name__}")
            kwargs.pop("use_cudnn", None)
            Layer.__init__(self, **kwargs)
            for k, v in common.items():
                setattr(self, k, bool(v))
            self.engine, self.memory, self.recompute_every = "auto", "full", None
            self.dropout = self.recurrent_dropout = 0.0
            self.states = None
            if stateful and self._batch_input_shape is not None and self._batch_input_shape[0] is None:
                raise ValueError(self._stateful_batch_error(self._batch_input_shape))
        self.cell = cell
        self._sublayers = [cell] if isinstance(cell, Layer) else []

    # ----------------------------------------------- the cell declares the layer
    kernel = property(lambda self: self.cell.kernel)
    recurrent_kernel = property(lambda self: self.cell.recurrent_kernel)
    bias = property(lambda self: self.cell.bias)

    @property
    def state_size(self):
        return self.cell.state_size

    @property
    def state_names(self) -> tuple[str, ...]:
        if self._fused:
            return self.cell_spec.states
        return tuple(f"state_{i}" for i in range(len(self._state_template(1))))

    def get_initial_state(self, batch_size: int) -> list:
        """The cell's initial states for ``batch_size`` samples (zeros unless the cell says)."""
        return rnn_loop.initial_states(self.cell, batch_size, self.dtype)

    def _state_template(self, batch):
        return rnn_loop.flatten(rnn_loop.initial_states(self.cell, batch, self.dtype))

    def reference_forward(self, xs, states0, mt, rdp):
        return self.cell.layer_class.reference_forward(self, xs, states0, mt, rdp)

    def reference_backward(self, dH, dfinals, kcache):
        return self.cell.layer_class.reference_backward(self, dH, dfinals, kcache)

    def _set_grads(self, grads):
        self.cell._set_grads(grads)  # the weights are the cell's

    def param_formula(self):
        return self.cell.layer_class.param_formula(self) if self._fused else None

    # ------------------------------------------------------------------ build
    def build(self, input_shape):
        if self._fused:
            shape = tuple(input_shape)
            if len(shape) != 3 or shape[-1] is None:
                raise ValueError(f"RNN '{self.name}' expects input of shape (batch, timesteps, features) "
                                 f"with a known feature size; received {shape}")
            if self.stateful and shape[0] is None:
                raise ValueError(self._stateful_batch_error(shape))
            self.cell._maybe_build((shape[0], shape[-1]))
            if self.cell.input_dim != shape[-1]:
                raise ValueError(f"RNN '{self.name}': its cell was built for {self.cell.input_dim} "
                                 f"features; received input shape {shape}")
            Layer.build(self, shape)
            if self.stateful:
                self.reset_states()
            return
        nested = _is_shape_list(input_shape)
        shapes = [tuple(s) for s in input_shape] if nested else [tuple(input_shape)]
        for s in shapes:
            if len(s) < 3:
                raise ValueError(f"RNN '{self.name}' expects inputs of shape (batch, timesteps, ...); "
                                 f"received {s}")
        if self.stateful and shapes[0][0] is None:
            raise ValueError(self._stateful_batch_error(shapes[0]))
        steps = [(s[0], *s[2:]) for s in shapes]
        cell = self.cell
        if isinstance(cell, Layer) and not cell.built:
            with _tape.stop_recording():
                cell.build(steps if nested else steps[0])
            cell.built = True
            if cell._built_input_shape is None:
                cell._built_input_shape = steps if nested else steps[0]
        Layer.build(self, shapes if nested else shapes[0])
        if self.stateful:
            self.reset_states()

    def _symbolic_input_shape(self, inputs):
        if isinstance(inputs, (list, tuple)):
            return [tuple(t.shape) for t in inputs]
        return inputs.shape

    def num_outputs(self) -> int:
        if self._fused:
            return super().num_outputs()
        size = getattr(self.cell, "output_size", None)
        several = isinstance(size, list) or (isinstance(size, tuple) and not all(
            isinstance(d, (int, np.integer)) for d in size))
        n = len(size) if several else 1
        return n + (len(self._state_template(1)) if self.return_state else 0)

    def compute_output_shape(self, input_shape):
        if self._fused:
            return super().compute_output_shape(input_shape)
        saved = self.states
        try:  # Keras' symbolic run: call on zeros (see layer_autodiff.infer_output_shape)
            if _is_shape_list(input_shape):
                input_shape = [tuple(s) for s in input_shape]
            shape = _autodiff.infer_output_shape(self, input_shape)
        finally:
            self.states = saved
        return shape

    def compute_mask(self, inputs, mask):
        if isinstance(mask, (list, tuple)):
            mask = next((m for m in mask if m is not None), None)
        return super().compute_mask(inputs, mask)

    # ---------------------------------------------------------------- states
    def reset_states(self, states=None) -> None:
        if self._fused:
            return super().reset_states(states)
        if not self.stateful:
            raise AttributeError(f"RNN '{self.name}': reset_states() needs stateful=True")
        if not self.built:
            return
        batch = self._built_input_shape[0] if not _is_shape_list(self._built_input_shape) \
            else self._built_input_shape[0][0]
        template = self._state_template(batch)
        if states is None:
            self.states = template
            return
        self.states = [s.copy() for s in self._check_states(states, template, "states")]

    reset_state = reset_states

    def _check_states(self, states, template, arg):
        flat = rnn_loop.flatten(states if isinstance(states, (list, tuple)) else [states])
        if len(flat) != len(template):
            raise ValueError(f"RNN '{self.name}' expects {arg} to hold {len(template)} array(s) "
                             f"({[t.shape for t in template]}); received {len(flat)}")
        out = []
        for s, t in zip(flat, template):
            v = np.asarray(_tape.unwrap(s), dtype=self.dtype)
            if v.shape != t.shape:
                raise ValueError(f"RNN '{self.name}' expects each {arg} array of shape {t.shape}; "
                                 f"received {v.shape}")
            out.append(v)
        return out

    # --------------------------------------------------------------- running
    def __call__(self, inputs, *args, **kwargs):
        if not self._fused and isinstance(inputs, (list, tuple)) and inputs and not any(
                isinstance(v, KerasTensor) for v in inputs) and not _autodiff.is_operand(inputs) \
                and not _tape.STATE.recording:
            return self.call(inputs, **kwargs)  # several sequences (a cell with nested inputs)
        return super().__call__(inputs, *args, **kwargs)

    def _convert_input(self, x):
        if isinstance(x, (list, tuple)) and not self._fused:
            return [Layer._convert_input(self, v) for v in x]
        return super()._convert_input(x)

    def _prepare_generic(self, inputs, mask, initial_state):
        nested = isinstance(inputs, (list, tuple))
        seqs = self._convert_input(inputs if nested else inputs)
        seqs = seqs if nested else [seqs]
        for s in seqs:
            if s.ndim < 3 or s.shape[1] == 0:
                raise ValueError(f"RNN '{self.name}' expects inputs of shape (batch, timesteps, ...) "
                                 f"with at least one timestep; received {s.shape}")
            if s.shape[:2] != seqs[0].shape[:2]:
                raise ValueError(f"RNN '{self.name}': every input sequence needs the same batch and "
                                 f"timesteps; received {[v.shape for v in seqs]}")
        if not self.built:
            self._maybe_build([(None, *s.shape[1:]) if not self.stateful else s.shape for s in seqs]
                              if nested else ((None, *seqs[0].shape[1:]) if not self.stateful
                                              else seqs[0].shape))
        batch, steps = seqs[0].shape[:2]
        if isinstance(mask, (list, tuple)):
            mask = next((m for m in mask if m is not None), None)
        m = check_mask(self, mask, batch, steps)
        structure = rnn_loop.initial_states(self.cell, batch, self.dtype)
        template = rnn_loop.flatten(structure)
        if initial_state is not None:
            states = self._check_states(initial_state, template, "initial_state")
        elif self.stateful:
            if self.states is None:
                self.reset_states()
            if self.states[0].shape[0] != batch:
                raise ValueError(f"RNN '{self.name}' is stateful with batch size {self.states[0].shape[0]}; "
                                 f"received a batch of {batch}")
            states = self.states
        else:
            states = template
        return seqs, nested, m, states, structure

    def _run_generic(self, seqs, nested, m, states, structure, training):
        outs, finals = rnn_loop.run(
            self.cell, seqs, states, structure, m, go_backwards=self.go_backwards,
            zero_output_for_mask=self.zero_output_for_mask, return_sequences=self.return_sequences,
            training=bool(training), nested_input=nested)
        if self.stateful:
            self.states = [np.array(_tape.unwrap(f)) for f in finals]
        return list(outs) + (list(finals) if self.return_state else [])

    def call(self, inputs, mask=None, training=False, initial_state=None, **kwargs):
        if self._fused:
            return super().call(inputs, mask=mask, training=training, initial_state=initial_state, **kwargs)
        if kwargs:
            raise TypeError(f"RNN.call got unexpected argument(s) {sorted(kwargs)}")
        seqs, nested, m, states, structure = self._prepare_generic(inputs, mask, initial_state)
        out = self._run_generic(seqs, nested, m, states, structure, training)
        return out[0] if len(out) == 1 else out

    def forward(self, inputs, mask=None, training=False, initial_state=None, **kwargs):
        if self._fused:
            return super().forward(inputs, mask=mask, training=training, initial_state=initial_state,
                                   **kwargs)
        if kwargs:
            raise TypeError(f"RNN.forward got unexpected argument(s) {sorted(kwargs)}")
        seqs, nested, m, states, structure = self._prepare_generic(inputs, mask, initial_state)
        given = initial_state is not None

        def run(x_leaves, s_leaves):
            return self._run_generic(x_leaves, nested, m, s_leaves if given else states, structure,
                                     training)

        values, cache = rnn_loop.traced_forward(self, seqs, states if given else None, run)
        out = values[0] if len(values) == 1 else values
        return out, (cache, nested, given, len(values))

    def backward(self, grad_outputs, cache):
        if self._fused:
            return super().backward(grad_outputs, cache)
        inner, nested, given, n = cache
        grads = list(grad_outputs) if n > 1 else [grad_outputs]
        grads = [None if g is None else np.asarray(g, self.dtype) for g in grads]
        dseqs, dstates = rnn_loop.traced_backward(self, grads, inner)
        dx = dseqs if nested else dseqs[0]
        return [dx, *dstates] if given else dx

    # ----------------------------------------------------------------- config
    def get_config(self):
        config = Layer.get_config(self)
        config.update({
            "return_sequences": self.return_sequences, "return_state": self.return_state,
            "go_backwards": self.go_backwards, "stateful": self.stateful, "unroll": self.unroll,
            "zero_output_for_mask": self.zero_output_for_mask, "cell": registry.serialize(self.cell),
        })
        for k, default in _FUSED_ONLY.items():
            if getattr(self, k) != default:
                config[k] = getattr(self, k)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        cell = config.pop("cell", None)
        if not isinstance(cell, dict):
            raise ValueError(f"RNN config needs 'cell': a layer config dict; received {cell!r}")
        return cls(registry.deserialize(cell), **config)


def _is_shape_list(shape) -> bool:
    return isinstance(shape, (list, tuple)) and bool(shape) and isinstance(shape[0], (tuple, list))
