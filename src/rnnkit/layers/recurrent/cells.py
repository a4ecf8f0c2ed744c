"""Keras' built-in recurrent cells: :class:`SimpleRNNCell`, :class:`LSTMCell`, :class:`GRUCell`.

A cell is one time step: ``cell(x_t, states) -> (output, new_states)``, with
``x_t (B, D)`` and one ``(B, units)`` array per state (LSTM: ``[h, c]``). Its weights
are Keras' (``kernel``, ``recurrent_kernel``, ``bias``, same shapes and column blocks as
the matching layer), and so is its ``get_config``.

Nothing is restated here: each cell names its cell module's declaration
(``cell_spec``) and layer class (``layer_class``), whose step function runs an eager
call and whose reference sequence forward/backward (one step long) is the op recorded
when the cell is called under a tape (a :class:`rnnkit.GradientTape`, or a custom
layer's loop being trained). ``RNN(LSTMCell(n))`` hands the same declaration to the
engines, so it runs as ``LSTM(n)`` does (:mod:`.rnn`).
"""
from __future__ import annotations

import numpy as np

from ... import backend, initializers
from ...ops import tape as _tape
from ...ops.layer_autodiff import CONTEXT
from ..base import Layer
from .cell import CellSpec, add_cell_weights, refuse_unsupported, set_cell_arguments
from .gru import GRU, GRU_CELL, gru_step
from .lstm import LSTM, LSTM_CELL, lstm_step
from .simple_rnn import SIMPLE_RNN_CELL, SimpleRNN, simple_rnn_step



class RecurrentCell(Layer):
    """Base of the built-in cells. Subclasses set ``cell_spec``, ``layer_class`` and :meth:`step`.

    ``dropout``/``recurrent_dropout`` (training only) multiply ``x_t`` and the recurrent
    input ``h_prev`` by masks drawn at each direct call; inside ``RNN`` one mask per
    sequence is drawn, as Keras does (:class:`hold_dropout_masks`).
    """

    cell_spec: CellSpec = SIMPLE_RNN_CELL
    layer_class: type = SimpleRNN

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid",
                 use_bias: bool = True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 dropout: float = 0.0, recurrent_dropout: float = 0.0, seed=None, **kwargs):
        super().__init__(**refuse_unsupported(self, kwargs))
        set_cell_arguments(self, units, activation, recurrent_activation, use_bias, kernel_initializer,
                           recurrent_initializer, bias_initializer, dropout, recurrent_dropout)
        self.seed = seed
        self._rng = backend.make_rng(seed)

    # ------------------------------------------------------------------ shapes
    @property
    def n_gates(self) -> int:
        return len(self.cell_spec.gates)

    @property
    def state_size(self):
        """``units`` for one state, else one ``units`` per state (LSTM: ``[units, units]``)."""
        n = len(self.cell_spec.states)
        return self.units if n == 1 else [self.units] * n

    @property
    def output_size(self) -> int:
        return self.units

    def get_initial_state(self, batch_size: int) -> list[np.ndarray]:
        """Zeros: one ``(batch_size, units)`` array per state."""
        return [np.zeros((batch_size, self.units), self.dtype) for _ in self.cell_spec.states]

    def _bias_shape(self) -> tuple[int, ...]:
        return (self.n_gates * self.units,)

    def _bias_init(self, shape, dtype, rng):
        return self.bias_initializer(shape, dtype, rng)

    def build(self, input_shape):
        """Weights for steps ``x_t`` of shape ``input_shape`` = ``(batch, features)``."""
        input_shape = tuple(input_shape)
        if len(input_shape) < 1 or input_shape[-1] is None:
            raise ValueError(f"{type(self).__name__} '{self.name}' needs a known feature size; "
                             f"received input shape {input_shape}")
        add_cell_weights(self, input_shape[-1])
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.units)

    def param_formula(self):
        return self.layer_class.param_formula(self)

    @property
    def input_dim(self) -> int:
        return self.kernel.shape[0]

    # ----------------------------------------------------------------- running
    def step(self, x_t: np.ndarray, states: list) -> list:
        """The cell module's step function: the new states (the output is the first)."""
        raise NotImplementedError  # pragma: no cover - abstract

    def __call__(self, inputs, states=None, training=None, **kwargs):
        """``(output (B, units), new_states)``; recorded as one op while a tape records."""
        if kwargs:
            raise TypeError(f"{type(self).__name__}() got unexpected argument(s) {sorted(kwargs)}")
        if states is None:
            raise TypeError(f"{type(self).__name__} '{self.name}' is called as cell(inputs, states); "
                            "received no states")
        if training is None:
            training = bool(CONTEXT.training)
        states = [states] if not isinstance(states, (list, tuple)) else list(states)
        n = len(self.cell_spec.states)
        if len(states) != n:
            raise ValueError(f"{type(self).__name__} '{self.name}' expects {n} state(s) "
                             f"({', '.join(self.cell_spec.states)}); received {len(states)}")
        pairs = [_tape.track(v) for v in (inputs, *states)]
        x = self._convert_input(pairs[0][0])
        if x.ndim != 2:
            raise ValueError(f"{type(self).__name__} '{self.name}' expects inputs of shape (batch, "
                             f"features); received {x.shape}")
        self._maybe_build((None, x.shape[-1]))
        self._check_last_dim(x, self.input_dim, "features")
        vals = [self._check_state(p[0], x.shape[0]) for p in pairs[1:]]
        dp, rdp = self._dropout_masks(x.shape[0], bool(training))
        if not _tape.STATE.recording:
            new = self.step(x if dp is None else x * dp, vals if rdp is None else [vals[0] * rdp, *vals[1:]])
            return new[0], list(new)
        return self._recorded_step(x, vals, dp, rdp, [p[1] for p in pairs])

    def call(self, inputs, states, training=False):
        return self(inputs, states, training=training)

    def _check_state(self, s, batch):
        s = np.asarray(s, dtype=self.dtype)
        if s.shape != (batch, self.units):
            raise ValueError(f"{type(self).__name__} '{self.name}' expects each state of shape "
                             f"(batch, units) = ({batch}, {self.units}); received {s.shape}")
        return s

    def _dropout_masks(self, batch, training):
        held = self.__dict__.get("_held_masks")
        if held is not None and training:
            if batch not in held:  # drawn once per sequence inside an RNN (see hold_dropout_masks)
                held[batch] = self._draw_masks(batch, training)
            return held[batch]
        return self._draw_masks(batch, training)

    def _draw_masks(self, batch, training):
        dp = rdp = None
        if training and self.dropout > 0:
            keep = self._rng.random((batch, self.input_dim)) >= self.dropout
            dp = keep.astype(self.dtype) / self.dtype.type(1.0 - self.dropout)
        if training and self.recurrent_dropout > 0:
            keep = self._rng.random((batch, self.units)) >= self.recurrent_dropout
            rdp = keep.astype(self.dtype) / self.dtype.type(1.0 - self.recurrent_dropout)
        return dp, rdp

    def forward(self, inputs, mask=None, training=False, states=None):
        """One step kept for :meth:`backward`: ``([output, *new_states], cache)``."""
        if states is None:
            raise TypeError(f"{type(self).__name__}.forward needs states=[...]")
        x = self._convert_input(inputs)
        self._maybe_build((None, x.shape[-1]))
        vals = [self._check_state(s, x.shape[0]) for s in
                (states if isinstance(states, (list, tuple)) else [states])]
        dp, rdp = self._dropout_masks(x.shape[0], bool(training))
        finals, kcache = self._step_forward(x, vals, dp, rdp)
        return [finals[0].copy(), *finals], (kcache, dp)

    def backward(self, grad_outputs, cache):
        """dL/d``[output, *new_states]`` -> ``[dx, *dstates]``; fills ``grads``."""
        dx, dstates, grads = self._step_backward(list(grad_outputs), *cache)
        self._set_grads(grads)
        return [dx, *dstates]

    def _step_forward(self, x, states, dp, rdp):
        # The layer's reference forward, one step long: (new states, its cache).
        xs = (x if dp is None else x * dp)[None]
        _, finals, kcache = self.layer_class.reference_forward(self, xs, states, None, rdp)
        return finals, kcache

    def _step_backward(self, g, kcache, dp):
        g_out, g_states = g[0], list(g[1:])
        if g_out is not None:
            g_states[0] = g_out if g_states[0] is None else g_states[0] + g_out
        dxs, dstates, grads = self.layer_class.reference_backward(self, None, g_states, kcache)
        return (dxs[0] if dp is None else dxs[0] * dp), dstates, grads

    def _recorded_step(self, x, states, dp, rdp, in_ts):
        """One op on the tape: the reference forward one step long, its BPTT as the vjp."""
        finals, kcache = self._step_forward(x, states, dp, rdp)
        keys = [id(w) for w in self.weights] if self.trainable else []
        if all(t is None for t in in_ts) and not keys:
            return finals[0].copy(), finals

        def vjp(g):
            dx, dstates, grads = self._step_backward(list(g), kcache, dp)
            return (dx, *dstates, *(grads if keys else []))

        outs = _tape.make_multi([finals[0].copy(), *finals], tuple(in_ts), vjp, keys)
        return outs[0], outs[1:]

    # ---------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units, "activation": self.activation.name, "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout, "seed": self.seed,
        })
        if self.n_gates > 1:
            config["recurrent_activation"] = self.recurrent_activation.name
        return config


class SimpleRNNCell(RecurrentCell):
    """One step of :class:`~rnnkit.layers.SimpleRNN`: ``h_t = activation(x_t W + h U + b)``.

    Weights: ``kernel (D, U)``, ``recurrent_kernel (U, U)``, ``bias (U,)``.
    """

    cell_spec = SIMPLE_RNN_CELL
    layer_class = SimpleRNN

    def __init__(self, units: int, activation="tanh", use_bias: bool = True, **kwargs):
        kwargs.pop("recurrent_activation", None)  # no gates
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)

    def step(self, x_t, states):
        return [simple_rnn_step(x_t, states[0], self.kernel, self.recurrent_kernel, self.bias,
                                self.activation)]


class LSTMCell(RecurrentCell):
    """One step of :class:`~rnnkit.layers.LSTM`; states ``[h, c]``.

    Weights: ``kernel (D, 4U)``, ``recurrent_kernel (U, 4U)``, ``bias (4U,)``, blocks
    ``i | f | c | o``; ``unit_forget_bias`` starts the forget block of the bias at 1.
    """

    cell_spec = LSTM_CELL
    layer_class = LSTM

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid",
                 use_bias: bool = True, unit_forget_bias: bool = True, **kwargs):
        kwargs.pop("implementation", None)  # Keras 2 speed knob
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         use_bias=use_bias, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    _bias_init = LSTM._bias_init

    def step(self, x_t, states):
        return list(lstm_step(x_t, states[0], states[1], self.kernel, self.recurrent_kernel, self.bias,
                              self.activation, self.recurrent_activation))

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}


class GRUCell(RecurrentCell):
    """One step of :class:`~rnnkit.layers.GRU`.

    Weights: ``kernel (D, 3U)``, ``recurrent_kernel (U, 3U)``, blocks ``z | r | h``;
    ``bias (2, 3U)`` with ``reset_after=True`` (Keras' default), else ``(3U,)``.
    """

    cell_spec = GRU_CELL
    layer_class = GRU

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid",
                 use_bias: bool = True, reset_after: bool = True, **kwargs):
        kwargs.pop("implementation", None)
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         use_bias=use_bias, **kwargs)
        self.reset_after = bool(reset_after)

    _bias_shape = GRU._bias_shape

    def step(self, x_t, states):
        return [gru_step(x_t, states[0], self.kernel, self.recurrent_kernel, self.bias, self.reset_after,
                         self.activation, self.recurrent_activation)]

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}


BUILTIN_CELLS = (SimpleRNNCell, LSTMCell, GRUCell)


class hold_dropout_masks:
    """Context manager: the built-in cells among ``cells`` keep one dropout mask per batch
    size until the block ends (one sequence of an RNN's loop), instead of one per step."""

    def __init__(self, cells):
        self.cells = [c for c in cells if isinstance(c, RecurrentCell)]

    def __enter__(self):
        for c in self.cells:
            c._held_masks = {}
        return self

    def __exit__(self, *exc):
        for c in self.cells:
            c._held_masks = None
        return False
