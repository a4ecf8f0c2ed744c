"""What SimpleRNN, LSTM and GRU share: arguments, states, masks, direction, dropout, outputs.

The math of each cell lives in its own module as two pure functions over a whole
sequence (time-major, ``xs (T, B, D)``)::

    H, finals, cache = <cell>_sequence_forward(xs, states0, weights..., mask, rdrop)
    dxs, dstates0, weight_grads = <cell>_sequence_backward(dH, dfinals, cache, weights...)

This class turns Keras' ``(batch, timesteps, features)`` calls into those, and back.
Masking follows Keras: at a masked step every state is carried forward unchanged
and the step's output repeats the previous output (zeros with
``zero_output_for_mask``), so a row that is all padding returns its initial state.

Those kernels are the reference. For the standard activations each cell also has
a fast pair, ``<cell>_fm_forward``/``<cell>_fm_backward`` (feature-major storage,
fewer NumPy calls per step, bulk products on a helper thread; see ``._fm``), which
:meth:`RecurrentLayer.forward` uses when ``_fm_supported()``; ``call()`` (inference)
runs it without keeping per-step caches. Tests hold the two pairs equal.
"""
from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np

from .. import activations, backend, initializers
from . import _fm, _jit
from .base import Layer, check_mask

# The fast feature-major kernels (see ._fm) run wherever a cell implements the
# configuration; False (or RNNKIT_REFERENCE_KERNELS=1) runs the reference kernels,
# which the tests compare them against.
FAST_KERNELS = os.environ.get("RNNKIT_REFERENCE_KERNELS", "") not in ("1", "true", "True")
# The compiled kernels read the projection of sample b, step t from row b * T + t.
_NO_IDS = np.empty((0, 0), np.int64)

_UNSUPPORTED = ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
                "activity_regularizer", "kernel_constraint", "recurrent_constraint", "bias_constraint")


class _FMCache(NamedTuple):
    kcache: tuple
    out_mask: np.ndarray | None
    mt: np.ndarray | None
    dp: np.ndarray | None
    had_initial: bool


class RecurrentLayer(Layer):
    """Base of the recurrent layers; subclasses define the weights and the two kernels.

    Subclass hooks: ``n_gates`` (columns of the kernel are ``n_gates * units``),
    ``state_names``, :meth:`_bias_shape`, :meth:`_sequence_forward`,
    :meth:`_sequence_backward`.
    """

    n_gates = 1
    state_names: tuple[str, ...] = ("h",)
    _default_recurrent_activation = "sigmoid"

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid",
                 use_bias: bool = True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 seed=None, zero_output_for_mask: bool = False, **kwargs):
        for name in _UNSUPPORTED:
            if kwargs.pop(name, None) is not None:
                raise NotImplementedError(f"{type(self).__name__}: {name} is not supported by rnnkit yet")
        kwargs.pop("implementation", None)  # Keras 2 speed knob; one implementation here
        super().__init__(**kwargs)
        cls = type(self).__name__
        if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units <= 0:
            raise ValueError(f"{cls}: units must be a positive integer; received {units!r}")
        for arg, val in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
            if not isinstance(val, (int, float)) or not 0.0 <= val < 1.0:
                raise ValueError(f"{cls}: {arg} must be a float in [0, 1); received {val!r}")
        self.units = int(units)
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.dropout = float(dropout)
        self.recurrent_dropout = float(recurrent_dropout)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.seed = seed
        self.zero_output_for_mask = bool(zero_output_for_mask)
        self._rng = backend.make_rng(seed)
        self.states: list[np.ndarray] | None = None
        if self.stateful and self._batch_input_shape is not None and self._batch_input_shape[0] is None:
            raise ValueError(self._stateful_batch_error(self._batch_input_shape))

    # ----------------------------------------------------------------- build
    def _stateful_batch_error(self, shape):
        return (
            f"{type(self).__name__} '{self.name}' is stateful, so it needs a fixed batch size: pass "
            "batch_input_shape=(batch, timesteps, features) (or batch_size=) to the first layer, or "
            f"Input(batch_shape=...); received input shape {tuple(shape)}"
        )

    def _bias_shape(self) -> tuple[int, ...]:
        return (self.n_gates * self.units,)

    def _bias_init(self, shape, dtype, rng):
        return self.bias_initializer(shape, dtype, rng)

    def build(self, input_shape):
        input_shape = tuple(input_shape)
        if len(input_shape) != 3 or input_shape[-1] is None:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects input of shape (batch, timesteps, "
                f"features) with a known feature size; received {input_shape}"
            )
        if self.stateful and input_shape[0] is None:
            raise ValueError(self._stateful_batch_error(input_shape))
        rng = backend.make_rng(self.seed)
        g = self.n_gates * self.units
        self.kernel = self.add_weight("kernel", (input_shape[-1], g), self.kernel_initializer, rng=rng)
        self.recurrent_kernel = self.add_weight(
            "recurrent_kernel", (self.units, g), self.recurrent_initializer, rng=rng)
        if self.use_bias:
            value = self._bias_init(self._bias_shape(), self.dtype, rng)
            self.bias = self.add_weight("bias", self._bias_shape(), initializers.Zeros(), rng=rng)
            self.bias[...] = value
        else:
            self.bias = None
        super().build(input_shape)
        if self.stateful:
            self.reset_states()

    @property
    def input_dim(self) -> int:
        return self.kernel.shape[0]

    @property
    def state_size(self):
        return self.units if len(self.state_names) == 1 else [self.units] * len(self.state_names)

    def num_outputs(self) -> int:
        return 1 + len(self.state_names) if self.return_state else 1

    def compute_output_shape(self, input_shape):
        b, t = input_shape[0], input_shape[1]
        out = (b, t, self.units) if self.return_sequences else (b, self.units)
        if self.return_state:
            return [out] + [(b, self.units)] * len(self.state_names)
        return out

    def compute_mask(self, inputs, mask):
        if not self.return_sequences or mask is None:
            return None
        return mask[:, ::-1] if self.go_backwards else mask

    # ---------------------------------------------------------------- states
    def reset_states(self, states=None) -> None:
        """Zero the carried states of a stateful layer, or set them to ``states``."""
        if not self.stateful:
            raise AttributeError(f"{type(self).__name__} '{self.name}': reset_states() needs stateful=True")
        if not self.built:
            return
        batch = self._built_input_shape[0]
        if states is None:
            self.states = [np.zeros((batch, self.units), self.dtype) for _ in self.state_names]
            return
        states = self._as_state_list(states, "states")
        self.states = [self._check_state(s, batch, "states").copy() for s in states]

    reset_state = reset_states

    def _as_state_list(self, states, arg):
        if isinstance(states, np.ndarray) or not isinstance(states, (list, tuple)):
            states = [states]
        states = list(states)
        if len(states) != len(self.state_names):
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects {arg} to be a list of "
                f"{len(self.state_names)} array(s) ({', '.join(self.state_names)}), each (batch, "
                f"{self.units}); received {len(states)}"
            )
        return states

    def _check_state(self, s, batch, arg):
        s = np.asarray(s, dtype=self.dtype)
        if s.shape != (batch, self.units):
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects each {arg} array of shape "
                f"(batch, units) = ({batch}, {self.units}); received {s.shape}"
            )
        return s

    def _initial_states(self, batch, initial_state):
        if initial_state is not None:
            return [self._check_state(s, batch, "initial_state")
                    for s in self._as_state_list(initial_state, "initial_state")]
        if self.stateful:
            if self.states is None:
                self.reset_states()
            if self.states[0].shape[0] != batch:
                raise ValueError(
                    f"{type(self).__name__} '{self.name}' is stateful with batch size "
                    f"{self.states[0].shape[0]}; received a batch of {batch} (use the same batch "
                    "size for every call, e.g. predict(x, batch_size=...))"
                )
            return self.states
        return [np.zeros((batch, self.units), self.dtype) for _ in self.state_names]

    # --------------------------------------------------------------- running
    def _dropout_masks(self, batch, training):
        dp = rdp = None
        if training and self.dropout > 0:
            keep = self._rng.random((batch, self.input_dim)) >= self.dropout
            dp = keep.astype(self.dtype) * self.dtype.type(1.0 / (1.0 - self.dropout))
        if training and self.recurrent_dropout > 0:
            keep = self._rng.random((batch, self.units)) >= self.recurrent_dropout
            rdp = keep.astype(self.dtype) * self.dtype.type(1.0 / (1.0 - self.recurrent_dropout))
        return dp, rdp

    def _check_sequence(self, inputs):
        x = self._convert_input(inputs)
        self._check_rank(x, 3, "(batch, timesteps, features)")
        self._check_last_dim(x, self.input_dim, "features")
        return x

    def forward(self, inputs, mask=None, training=False, initial_state=None, **kwargs):
        """Run the sequence. Returns ``(outputs, cache)``.

        Shapes: ``inputs (B, T, D)``, ``mask (B, T)`` bool, ``initial_state`` a list of
        ``(B, units)`` arrays; ``outputs`` is ``(B, T, units)`` with
        ``return_sequences`` else ``(B, units)``, followed by the final states when
        ``return_state``.
        """
        if kwargs:
            raise TypeError(f"{type(self).__name__}.forward got unexpected argument(s) {sorted(kwargs)}")
        x, m, states0, dp, rdp = self._prepare(inputs, mask, training, initial_state)
        if self._use_fast(x):
            return self._fm_forward(x, m, states0, dp, rdp, initial_state is not None, train=True)
        return self._reference_forward(x, m, states0, dp, rdp, initial_state is not None)

    def call(self, inputs, mask=None, training=False, initial_state=None, **kwargs):
        """Inference: the outputs only; the fast kernels then keep no per-step caches."""
        if kwargs:
            raise TypeError(f"{type(self).__name__}.call got unexpected argument(s) {sorted(kwargs)}")
        x, m, states0, dp, rdp = self._prepare(inputs, mask, training, initial_state)
        if self._use_jit(x, dp, rdp):
            return self._jit_forward(x, m, states0)
        if self._use_fast(x):
            return self._fm_forward(x, m, states0, dp, rdp, False, train=False)[0]
        return self._reference_forward(x, m, states0, dp, rdp, initial_state is not None)[0]

    def _prepare(self, inputs, mask, training, initial_state):
        x = self._check_sequence(inputs)
        batch, steps, _ = x.shape
        m = check_mask(self, mask, batch, steps)
        states0 = self._initial_states(batch, initial_state)
        dp, rdp = self._dropout_masks(batch, training)
        return x, m, states0, dp, rdp

    def _use_fast(self, x) -> bool:
        return FAST_KERNELS and x.shape[0] > 0 and x.shape[1] > 0 and self._fm_supported()

    def _use_jit(self, x, dp, rdp) -> bool:
        return (dp is None and rdp is None and x.shape[1] > 0 and self._jit_supported()
                and _jit.usable(x.dtype, x.shape[0], self.units, self._jit_max_work))

    def _reference_forward(self, x, m, states0, dp, rdp, had_initial):
        # Time-major and in processing order, contiguous so each step is one block.
        xs = np.ascontiguousarray((x[:, ::-1] if self.go_backwards else x).transpose(1, 0, 2))
        mt = self._time_major_mask(m)
        if dp is not None:
            xs *= dp
        H, finals, kcache = self._sequence_forward(xs, states0, mt, rdp)
        out_mask = self._output_mask(mt)
        outputs = self._outputs(H.transpose(1, 0, 2), finals, out_mask)
        return outputs, (kcache, out_mask, dp, had_initial)

    def _outputs(self, seq, finals, out_mask, owned: bool = False):
        """Keras' outputs from the carried states, and a stateful layer's new states.

        ``seq (B, T, U)`` is the state after every step in processing order (a view,
        copied unless ``owned``), ``finals`` the last states ``(B, U)``, ``out_mask``
        the ``(T, B, 1)`` multipliers of :meth:`_output_mask` or None.
        """
        if self.stateful:
            self.states = [f.copy() for f in finals]
        if self.return_sequences:
            if out_mask is None and owned:
                out = seq
            else:
                out = np.empty(seq.shape, seq.dtype)
                if out_mask is None:
                    np.copyto(out, seq)
                else:
                    np.multiply(seq, out_mask.transpose(1, 0, 2), out=out)
        else:
            out = finals[0] if out_mask is None else finals[0] * out_mask[-1]
        return [out, *finals] if self.return_state else out

    def _time_major_mask(self, m):
        """``(B, T)`` mask -> ``(T, B, 1)`` bool in processing order, or None."""
        if m is None:
            return None
        return np.ascontiguousarray((m[:, ::-1] if self.go_backwards else m).T)[..., None]

    def _fm_forward(self, x, m, states0, dp, rdp, had_initial, train):
        """The fast feature-major path (:mod:`._fm`): same outputs, caches for :meth:`backward`."""
        X = _fm.inputs_fm(x, self.go_backwards, dp, self.use_bias, self.units, self._workspace())
        mt = self._time_major_mask(m)
        drop = None if mt is None else ~mt.reshape(mt.shape[0], 1, mt.shape[1])
        s0 = [np.ascontiguousarray(s.T) for s in states0]
        rd = None if rdp is None else np.ascontiguousarray(rdp.T)
        HS, finals, kcache = self._fm_run(X, s0, drop, rd, train)
        # Copies: the kernels' arrays are pooled (reused by the next call).
        finals = [np.array(f.T, order="C") for f in finals]
        out_mask = self._output_mask(mt)
        outputs = self._outputs(HS[1:].transpose(2, 0, 1), finals, out_mask)
        return outputs, _FMCache(kcache, out_mask, mt, dp, had_initial)

    def _jit_forward(self, x, m, states0, table=None):
        """Inference through the compiled kernels (:mod:`._jit`): small batches, float32.

        ``x`` is ``(B, T, D)``, or with ``table`` ``(B, T)`` ids of the rows of ``table``
        that hold each step's input projection (see :meth:`_call_embedded`).
        """
        batch, steps = x.shape[:2]
        if table is None:
            bias = self._jit_input_bias()

            def source(rows):
                """Every step's input projection: one matrix product, ``(b * T, G)``."""
                xs = x[rows]
                P = xs.reshape(-1, xs.shape[2]) @ self.kernel
                if bias is not None:
                    P += bias
                return P, _NO_IDS
        else:
            def source(rows):
                return table, x[rows]

        states = [np.array(s, np.float32, order="C") for s in states0]
        H = np.empty((batch, steps, self.units) if self.return_sequences else (0, 0, 0), np.float32)
        mask = np.empty((0, 0), np.bool_) if m is None else np.ascontiguousarray(m, np.bool_)
        gates = self.recurrent_kernel.shape[1]
        inputs = 0 if table is not None else x.shape[2]
        _jit.run(self._jit_kernel(), source, states, mask, self.go_backwards, H, steps,
                 steps * gates * (self.units + inputs))
        return self._outputs(H, states, self._output_mask(self._time_major_mask(m)), owned=True)

    def _call_embedded(self, embedding, ids, mask, memo: dict | None = None):
        """Inference on ``embedding(ids)`` without forming it, or None where this does not apply.

        ``embedding(ids) @ kernel + bias`` is a row gather from ``embedding.embeddings
        @ kernel + bias`` (a product over the vocabulary instead of over every step of
        the batch), which the compiled kernels read by id. Applies to the compiled
        path only, when the vocabulary has fewer rows than the batch has steps.
        ``memo`` (a dict, or None) keeps that product for later calls while the
        weights stay as they are (``Model.predict`` passes one per call).
        Returns ``(outputs, output mask)``.
        """
        # Whether it applies first: where it does not, the Embedding runs as usual
        # and checks the ids itself.
        shape = np.shape(ids)
        E = embedding.embeddings
        if (len(shape) != 2 or not self.built or E.shape[1] != self.input_dim
                or E.shape[0] > shape[0] * shape[1] or E.dtype != self.dtype):
            return None
        dp, rdp = self._dropout_masks(shape[0], False)
        probe = np.empty((*shape, 0), E.dtype)  # shape and dtype only
        if not self._use_jit(probe, dp, rdp):
            return None
        ids = embedding._convert_input(ids)
        emb_mask = embedding.compute_mask(ids, mask)
        m = check_mask(self, emb_mask, *ids.shape)
        states0 = self._initial_states(ids.shape[0], None)
        key = ("embedded", id(embedding), id(self))
        table = None if memo is None else memo.get(key)
        if table is None:
            with _fm.blas_single_threaded():  # see there: the kernels' threads follow
                table = E @ self.kernel
            bias = self._jit_input_bias()
            if bias is not None:
                table += bias
            if memo is not None:
                memo[key] = table
        out = self._jit_forward(np.ascontiguousarray(ids, np.int64), m, states0, table)
        return out, self.compute_mask(ids, emb_mask)

    # batch * units per core up to which the compiled kernels win (None: _jit.MAX_WORK).
    _jit_max_work: int | None = None

    def _jit_supported(self) -> bool:
        """Whether :meth:`_jit_kernel` implements this configuration (subclasses)."""
        return False

    def _jit_input_bias(self):
        """The bias added to the input projections before the compiled recurrence."""
        return self.bias

    def _output_mask(self, mt):
        """``(T, B, 1)`` multipliers turning carried states into Keras' outputs, or None.

        Keras tracks the output apart from the state: a masked step repeats the
        previous *output*, which is zeros before a row's first real step (the state
        still carries the initial state). ``zero_output_for_mask`` zeroes every
        masked step's output instead.
        """
        if mt is None:
            return None
        keep = mt if self.zero_output_for_mask else np.logical_or.accumulate(mt, axis=0)
        return keep.astype(self.dtype)

    def _split_output_grads(self, grad_outputs):
        n = len(self.state_names)
        if self.return_state:
            if not isinstance(grad_outputs, (list, tuple)) or len(grad_outputs) != n + 1:
                raise ValueError(
                    f"{type(self).__name__} '{self.name}' has {n + 1} outputs; backward expects a list "
                    f"of {n + 1} gradients (None for unused ones)"
                )
            g_out, g_states = grad_outputs[0], list(grad_outputs[1:])
        else:
            g_out, g_states = grad_outputs, [None] * n
        dfinals = [None if g is None else np.asarray(g, self.dtype) for g in g_states]
        return (None if g_out is None else np.asarray(g_out, self.dtype)), dfinals

    def backward(self, grad_outputs, cache):
        g_out, dfinals = self._split_output_grads(grad_outputs)
        if isinstance(cache, _FMCache):
            return self._fm_backward(g_out, dfinals, cache)
        kcache, out_mask, dp, had_initial = cache
        dH = None
        if g_out is not None:
            if self.return_sequences:
                dH = np.ascontiguousarray(g_out.transpose(1, 0, 2))
                if out_mask is not None:
                    dH *= out_mask
            else:
                if out_mask is not None:
                    g_out = g_out * out_mask[-1]
                dfinals[0] = g_out if dfinals[0] is None else dfinals[0] + g_out
        dxs, dstates0, wgrads = self._sequence_backward(dH, dfinals, kcache)
        if dp is not None:
            dxs *= dp
        dx = dxs.transpose(1, 0, 2)
        dx = np.ascontiguousarray(dx[:, ::-1] if self.go_backwards else dx)
        self._set_grads(wgrads)
        return [dx, *dstates0] if had_initial else dx

    def _fm_backward(self, g_out, dfinals, cache):
        kcache, out_mask, mt, dp, had_initial = cache
        batch = kcache[0].shape[2]  # XH (T + 1, rows, B)
        # Feature-major (U, B) copies the kernels may update in place.
        dfin = [np.zeros((self.units, batch), self.dtype) if d is None else np.array(d.T, order="C")
                for d in dfinals]
        dHT = None
        if g_out is not None:
            if self.return_sequences:
                dHT = np.empty((g_out.shape[1], self.units, batch), self.dtype)
                if out_mask is None:
                    np.copyto(dHT, g_out.transpose(1, 2, 0))
                else:
                    np.multiply(g_out.transpose(1, 2, 0), out_mask.reshape(dHT.shape[0], 1, batch), out=dHT)
            else:
                if out_mask is not None:
                    g_out = g_out * out_mask[-1]
                dfin[0] += g_out.T
        keep, drop = _fm.mask_fm(mt, self.dtype)
        dxs, dstates0, wgrads = self._fm_backprop(dHT, dfin, kcache, keep, drop)
        if dp is not None:
            dxs *= dp
        # (T, B, D) memory seen as (B, T, D): Embedding reads it without a copy.
        dx = dxs.transpose(1, 0, 2)
        if self.go_backwards:
            dx = dx[:, ::-1]
        self._set_grads(wgrads)
        return [dx, *[np.ascontiguousarray(d.T) for d in dstates0]] if had_initial else dx

    def _workspace(self) -> "_fm.Workspace":
        """This layer's pool of big per-call buffers (see :class:`._fm.Workspace`)."""
        ws = self.__dict__.get("_fm_ws")
        if ws is None:
            ws = self._fm_ws = _fm.Workspace()
        return ws

    def _fm_supported(self) -> bool:
        """Whether :meth:`_fm_run` implements this configuration (subclasses)."""
        return False

    def _fm_run(self, X, s0, drop, rd, train):  # pragma: no cover - abstract
        raise NotImplementedError

    def _fm_backprop(self, dHT, dfin, kcache, keep, drop):  # pragma: no cover - abstract
        raise NotImplementedError

    def _weights(self):
        return self.kernel, self.recurrent_kernel, self.bias

    def _sequence_forward(self, xs, states0, mt, rdp):  # pragma: no cover - abstract
        raise NotImplementedError

    def _sequence_backward(self, dH, dfinals, kcache):  # pragma: no cover - abstract
        raise NotImplementedError

    # ----------------------------------------------------------------- config
    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units, "activation": self.activation.name,
            "use_bias": self.use_bias,
            "kernel_initializer": initializers.serialize(self.kernel_initializer),
            "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
            "bias_initializer": initializers.serialize(self.bias_initializer),
            "dropout": self.dropout, "recurrent_dropout": self.recurrent_dropout,
            "return_sequences": self.return_sequences, "return_state": self.return_state,
            "go_backwards": self.go_backwards, "stateful": self.stateful, "unroll": self.unroll,
            "seed": self.seed, "zero_output_for_mask": self.zero_output_for_mask,
        })
        if self.n_gates > 1:
            config["recurrent_activation"] = self.recurrent_activation.name
        return config


def step_mask(mt, t):
    """The ``(B, 1)`` bool mask of step ``t``, or None."""
    return None if mt is None else mt[t]


def prev_states(H: np.ndarray, h0: np.ndarray) -> np.ndarray:
    """``(T, B, U)`` array of the state entering each step: ``[h0, H[0], ..., H[T-2]]``."""
    out = np.empty_like(H)
    out[0] = h0
    out[1:] = H[:-1]
    return out
