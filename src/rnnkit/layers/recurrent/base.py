"""What SimpleRNN, LSTM and GRU share: Keras' arguments, states, masks, direction,
dropout and outputs. The math is elsewhere:

- each cell module (``simple_rnn.py``, ``lstm.py``, ``gru.py``) declares its gate
  order (:class:`.cell.CellSpec`) and its equations, as a step function and a
  reference sequence forward/backward, time-major ``xs (T, B, D)``;
- :mod:`.engines` runs them: the reference kernels, or faster ones that restate the
  same equations, chosen in one place (:func:`.engines.select`) from
  :mod:`rnnkit.config` and the layer's ``engine=`` argument.

This class turns Keras' ``(batch, timesteps, features)`` calls into an engine run
(:class:`.engines.Run`), and the engine's result into Keras' outputs. Masking
follows Keras: at a masked step every state is carried forward unchanged and the
step's output repeats the previous output (zeros with ``zero_output_for_mask``), so
a row that is all padding returns its initial state.
"""
from __future__ import annotations

import numpy as np

from ... import backend, config, initializers
from ..base import Layer
from ..layer_utils import check_mask
from . import engines
from .cell import CellSpec, add_cell_weights, refuse_unsupported, set_cell_arguments




class RecurrentLayer(Layer):
    """Base of the recurrent layers; a subclass declares its cell.

    Subclass hooks: ``cell_spec`` (a :class:`.cell.CellSpec`: gate blocks and states),
    :meth:`_bias_shape`, :meth:`reference_forward`, :meth:`reference_backward`,
    :meth:`param_formula`.

    ``engine`` chooses how this layer runs: ``"auto"`` (the setting of
    :mod:`rnnkit.config`, by default the fastest that applies), ``"reference"``,
    ``"numpy"`` or ``"jit"``. ``memory="low"`` trains with recomputation, in segments
    of ``recompute_every`` steps (default ``ceil(sqrt(T))``): an LSTM on the fast
    engines keeps its states and rebuilds each segment's gates in backward
    (:mod:`.engines.feature_major.low_memory`: about 1/3 of full storage's memory at
    1.3-1.4x its time); other layers keep the states every segment and recompute the
    rest (:mod:`.engines.recompute`: memory ``O(sqrt(T))`` for about one more
    forward pass). ``use_cudnn`` (Keras 3) is
    accepted and ignored: there is no cuDNN here.
    """

    cell_spec = CellSpec("recurrent", gates=("h",), states=("h",))

    @property
    def n_gates(self) -> int:
        """Gate blocks in the weight columns (``kernel`` is ``(D, n_gates * units)``)."""
        return len(self.cell_spec.gates)

    @property
    def state_names(self) -> tuple[str, ...]:
        return self.cell_spec.states

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid",
                 use_bias: bool = True, kernel_initializer="glorot_uniform",
                 recurrent_initializer="orthogonal", bias_initializer="zeros",
                 dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 return_sequences: bool = False, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False, unroll: bool = False,
                 seed=None, zero_output_for_mask: bool = False, engine: str = "auto",
                 memory: str = "full", recompute_every: int | None = None, use_cudnn="auto",
                 **kwargs):
        kwargs.pop("implementation", None)  # Keras 2 speed knob; one implementation here
        super().__init__(**refuse_unsupported(self, kwargs))
        cls = type(self).__name__
        set_cell_arguments(self, units, activation, recurrent_activation, use_bias, kernel_initializer,
                           recurrent_initializer, bias_initializer, dropout, recurrent_dropout)
        self.return_sequences = bool(return_sequences)
        self.return_state = bool(return_state)
        self.go_backwards = bool(go_backwards)
        self.stateful = bool(stateful)
        self.unroll = bool(unroll)
        self.seed = seed
        self.zero_output_for_mask = bool(zero_output_for_mask)
        if engine not in config.ENGINES:
            raise ValueError(f"{cls}: engine must be one of {config.ENGINES}; received {engine!r}")
        self.engine = engine
        if memory not in ("full", "low"):
            raise ValueError(f"{cls}: memory must be 'full' or 'low'; received {memory!r}")
        if recompute_every is not None and (not isinstance(recompute_every, (int, np.integer))
                                            or isinstance(recompute_every, bool) or recompute_every < 1):
            raise ValueError(f"{cls}: recompute_every must be a positive integer or None; "
                             f"received {recompute_every!r}")
        self.memory = memory
        self.recompute_every = None if recompute_every is None else int(recompute_every)
        self.use_cudnn = use_cudnn  # Keras 3's switch; no cuDNN here, so it changes nothing
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
        add_cell_weights(self, input_shape[-1])
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
        if not self.built:  # forward()/call() on a fresh layer build it, as layer(x) does
            self._maybe_build((None, *x.shape[1:]) if not self.stateful else x.shape)
        self._check_last_dim(x, self.input_dim, "features")
        return x

    def forward(self, inputs, mask=None, training=False, initial_state=None, **kwargs):
        """Run the sequence, keeping what :meth:`backward` needs. Returns ``(outputs, cache)``.

        Shapes: ``inputs (B, T, D)``, ``mask (B, T)`` bool, ``initial_state`` a list of
        ``(B, units)`` arrays; ``outputs`` is ``(B, T, units)`` with
        ``return_sequences`` else ``(B, units)``, followed by the final states when
        ``return_state``.
        """
        if kwargs:
            raise TypeError(f"{type(self).__name__}.forward got unexpected argument(s) {sorted(kwargs)}")
        run = self._prepare(inputs, mask, training, initial_state)
        engine = engines.select(self, run, train=True)
        out = engine.forward(self, run, True)
        out_mask = self._output_mask(run.mt)
        outputs = self._outputs(out.seq, out.finals, out_mask, out.owned)
        return outputs, engines.Cache(engine, out.state, out_mask, initial_state is not None)

    def call(self, inputs, mask=None, training=False, initial_state=None, **kwargs):
        """Inference: the outputs only (the engines then keep no per-step caches)."""
        if kwargs:
            raise TypeError(f"{type(self).__name__}.call got unexpected argument(s) {sorted(kwargs)}")
        run = self._prepare(inputs, mask, training, initial_state)
        out = engines.select(self, run, train=False).forward(self, run, False)
        return self._outputs(out.seq, out.finals, self._output_mask(run.mt), out.owned)

    def _prepare(self, inputs, mask, training, initial_state) -> engines.Run:
        x = self._check_sequence(inputs)
        batch, steps, _ = x.shape
        m = check_mask(self, mask, batch, steps)
        states0 = self._initial_states(batch, initial_state)
        dp, rdp = self._dropout_masks(batch, training)
        return engines.Run(x, m, self._time_major_mask(m), states0, dp, rdp, self.go_backwards)

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

    def backward(self, grad_outputs, cache: engines.Cache, input_grad: bool = True):
        """BPTT of one :meth:`forward`: dL/d(inputs) ``(B, T, D)`` (followed by the
        initial states' gradients when ``initial_state`` was given); fills ``grads``.
        With ``input_grad=False`` (nobody reads it) dL/d(inputs) is None, and the fast
        engines skip forming it."""
        g_out, dfinals = self._split_output_grads(grad_outputs)
        dseq = None
        if g_out is not None:
            if self.return_sequences:
                dseq = g_out
            else:
                if cache.out_mask is not None:
                    g_out = g_out * cache.out_mask[-1]
                dfinals[0] = g_out if dfinals[0] is None else dfinals[0] + g_out
        dx, dstates0, grads = cache.engine.backward(self, cache.state, dseq, cache.out_mask, dfinals,
                                                    input_grad=input_grad)
        if not input_grad:
            dx = None  # engines that form it anyway (reference, recompute): dropped alike
        self._set_grads(grads)
        return [dx, *dstates0] if cache.had_initial else dx

    backward.takes_input_grad = True  # type: ignore[attr-defined]

    def reference_forward(self, xs, states0, mt, rdp):  # pragma: no cover - abstract
        """The cell's reference sequence forward over ``xs (T, B, D)`` (processing order):
        ``(H (T, B, U), finals, cache)``."""
        raise NotImplementedError

    def reference_backward(self, dH, dfinals, kcache):  # pragma: no cover - abstract
        """BPTT of :meth:`reference_forward`: ``(dxs (T, B, D), dstates0, grads)``."""
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
        if self.engine != "auto":
            config["engine"] = self.engine
        if self.memory != "full":
            config["memory"] = self.memory
        if self.recompute_every is not None:
            config["recompute_every"] = self.recompute_every
        if self.n_gates > 1:
            config["recurrent_activation"] = self.recurrent_activation.name
        return config

