"""The layer protocol shared by every rnnkit layer, and the symbolic ``Input``.

A layer owns its parameters (NumPy arrays, in Keras' ``get_weights()`` order) and
their gradients, and nothing else: activations needed for the backward pass travel
in an explicit ``cache`` object::

    outputs, cache = layer.forward(x, mask=None, training=False)
    grad_x = layer.backward(grad_outputs, cache)   # also fills layer.grads

``layer(x)`` on a NumPy array runs eagerly and returns NumPy arrays (a list when the
layer has several outputs). ``layer(Input(shape=...))`` returns a symbolic
:class:`KerasTensor` that only carries a shape, as in Keras.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .. import backend, initializers
from .layer_utils import empty_batch_call, has_stateful, is_empty_batch
from ..ops import layer_autodiff as _autodiff
from ..ops import tape as _tape
from ..ops import symbolic_access as _symbolic

Shape = tuple


class KerasTensor:
    """A symbolic tensor: a shape (batch dimension first, ``None`` where unknown) and a dtype.

    ``Input(shape=(10, 8))`` returns one; calling a layer on it returns the output's
    KerasTensor(s). ``Sequential([Input(...), ...])`` uses it to fix the input shape.
    """

    def __init__(self, shape: Sequence, dtype: str | None = None, name: str | None = None,
                 history: tuple | None = None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = dtype or backend.floatx()
        self.name = name
        # (layer, inputs, call kwargs, output index) for the functional API.
        self._history = history

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype}, name={self.name}>"

    # Operators make graph nodes through keras.ops (see rnnkit.layers.op_layer).
    def __add__(self, o): return _ops().add(self, o)
    def __radd__(self, o): return _ops().add(o, self)
    def __sub__(self, o): return _ops().subtract(self, o)
    def __rsub__(self, o): return _ops().subtract(o, self)
    def __mul__(self, o): return _ops().multiply(self, o)
    def __rmul__(self, o): return _ops().multiply(o, self)
    def __truediv__(self, o): return _ops().divide(self, o)
    def __rtruediv__(self, o): return _ops().divide(o, self)
    def __pow__(self, o): return _ops().power(self, o)
    def __matmul__(self, o): return _ops().matmul(self, o)
    def __neg__(self): return _ops().negative(self)
    def __getitem__(self, key): return _ops().getitem(self, key)


def _ops():
    from .. import ops
    return ops


def Input(shape: Sequence | None = None, batch_size: int | None = None, dtype: str | None = None,
          name: str | None = None, batch_shape: Sequence | None = None, **kwargs) -> KerasTensor:
    """The symbolic model input of Keras: ``Input(shape=(timesteps, features))``.

    Args:
        shape: shape of one sample, without the batch dimension.
        batch_size: optional fixed batch size (needed by ``stateful=True`` layers).
        batch_shape: alternatively the full shape including the batch dimension.
        dtype: ``"float32"`` by default; ``"int32"`` for token ids.
    """
    for k in kwargs:
        if k not in ("sparse", "tensor", "ragged", "optional"):
            raise TypeError(f"Input() got an unexpected keyword argument {k!r}")
    if batch_shape is not None:
        if shape is not None:
            raise ValueError("Input: pass either shape= or batch_shape=, not both")
        full = tuple(batch_shape)
    elif shape is not None:
        if isinstance(shape, int):
            shape = (shape,)
        full = (batch_size,) + tuple(shape)
    else:
        raise ValueError("Input: shape= (or batch_shape=) is required; received neither")
    layer = InputLayer(batch_shape=full, dtype=dtype, name=name)
    return layer.output


class Layer:
    """Base class of all layers.

    Keyword arguments common to every layer (Keras 2 and Keras 3 idioms):
    ``name``, ``trainable``, ``dtype`` (``"float32"`` by default, ``"float64"`` for
    gradient checks), and the first-layer shape keywords ``input_shape``,
    ``batch_input_shape``, ``batch_size``, ``input_dim`` and ``input_length``.
    """

    supports_masking = True  # pass the incoming mask through unchanged by default
    _expected_ndim: int | None = None  # rank of inputs incl. batch; None = any >= 2
    # True for layers with only call() (custom layers written with ops, subclassed models):
    # they train through the tape (rnnkit.ops.layer_autodiff); built-ins have forward/backward.
    _traced = False
    _autocast = True  # traced layers cast float inputs to their dtype, as Keras does

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._traced = cls.forward is Layer.forward
        if not cls.__module__.startswith("rnnkit."):
            _autodiff.prepare_user_class(cls)

    def __init__(self, trainable: bool = True, name: str | None = None, dtype=None,
                 input_shape: Sequence | None = None, batch_input_shape: Sequence | None = None,
                 batch_size: int | None = None, input_dim: int | None = None,
                 input_length: int | None = None, **kwargs: Any):
        if kwargs:
            bad = ", ".join(sorted(kwargs))
            raise TypeError(f"{type(self).__name__}() got unexpected keyword argument(s): {bad}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"{type(self).__name__}: name must be a string; received {name!r}")
        self.name = name or backend.unique_name(backend.to_snake_case(type(self).__name__))
        self.trainable = bool(trainable)
        self.dtype = backend.standardize_dtype(dtype)
        self.built = False
        self._params: list[tuple[str, np.ndarray, bool]] = []
        self._grads: list[np.ndarray | None] = []
        self._sublayers: list[Layer] = []
        # One entry per symbolic call (a "node"): what the call returned, a KerasTensor or
        # a list of them. The functional Model reads the graph from these and _history.
        self._inbound_nodes: list = []
        self._input_length = input_length
        self._batch_input_shape = self._resolve_input_shape(
            input_shape, batch_input_shape, batch_size, input_dim, input_length)
        self._built_input_shape: Shape | None = None

    # ------------------------------------------------------------------ shapes
    def _resolve_input_shape(self, input_shape, batch_input_shape, batch_size, input_dim, input_length):
        if batch_input_shape is not None:
            return tuple(batch_input_shape)
        if input_shape is None and input_dim is not None:
            input_shape = (input_length, input_dim) if input_length is not None else (input_dim,)
        if input_shape is not None:
            if isinstance(input_shape, int):
                input_shape = (input_shape,)
            return (batch_size,) + tuple(input_shape)
        return None

    def build(self, input_shape: Shape) -> None:
        """Create the weights for inputs of ``input_shape`` (batch dimension first)."""
        self._built_input_shape = tuple(input_shape)
        self.built = True

    def _maybe_build(self, input_shape: Shape) -> None:
        if not self.built:
            self.build(tuple(input_shape))
            self.built = True  # as Keras: a custom build() need not call super().build()

    def compute_output_shape(self, input_shape: Shape):
        return tuple(input_shape)

    def num_outputs(self) -> int:
        """How many arrays a call returns (recurrent layers with ``return_state`` return several)."""
        return 1

    def compute_mask(self, inputs, mask):
        """The mask that the next layer receives."""
        return mask if self.supports_masking else None

    # ---------------------------------------------------------------- weights
    def add_weight(self, name: str | None = None, shape: Sequence[int] = (), initializer="glorot_uniform",
                   trainable: bool = True, rng: np.random.Generator | None = None, dtype=None,
                   regularizer=None, constraint=None, **kwargs):
        """A new weight of ``shape``: the array itself for built-in layers, a
        :class:`~rnnkit.ops.Variable` over it for custom layers (written with ops).

        ``regularizer`` (``rnnkit.regularizers``) adds its penalty to :attr:`losses` and its
        gradient in training; ``constraint`` (``rnnkit.constraints``) projects the weight
        after every optimizer step."""
        for k, v in kwargs.items():
            if k not in ("aggregation", "autocast", "synchronization"):
                raise TypeError(f"add_weight: argument {k}={v!r} is not supported")
        name = name or f"variable_{len(self._params)}"
        if _allocation_check is not None:
            _allocation_check(self, name, shape)
        init = initializers.get("glorot_uniform" if initializer is None else initializer)
        seed = getattr(init, "seed", None)
        gen = backend.make_rng(seed) if seed is not None else (rng or backend.make_rng(None))
        dt = self.dtype if dtype is None else backend.standardize_dtype(dtype)
        value = np.require(init(tuple(shape), dt, gen), dtype=dt, requirements="C")  # keeps 0-d
        if regularizer is not None or constraint is not None:
            self.__dict__.setdefault("_weight_rules", {})[len(self._params)] = (regularizer, constraint)
        self._params.append((name, value, trainable))
        self._grads.append(None)
        return _autodiff.wrap_weight(self, value, name, trainable)

    def _rule(self, i: int, which: int):
        rules = self.__dict__.get("_weight_rules")
        return None if not rules or i not in rules else rules[i][which]

    def _penalized_grad(self, i: int, grad: np.ndarray) -> np.ndarray:
        """``grad`` of weight ``i`` plus its regularizer's gradient (training calls this)."""
        reg = self._rule(i, 0)
        if reg is None:
            return grad
        return grad + reg.gradient(self._params[i][1]).astype(grad.dtype, copy=False)

    def _apply_constraint(self, i: int) -> None:
        """Project weight ``i`` onto its constraint, in place (after an optimizer step)."""
        con = self._rule(i, 1)
        if con is not None:
            w = self._params[i][1]
            w[...] = con(w)

    def _param(self, name: str) -> np.ndarray:
        for n, v, _ in self._params:
            if n == name:
                return v
        raise KeyError(name)

    def _entries(self):
        """(layer, index, trainable) for every parameter, own first, then sublayers'."""
        out = [(self, i, self.trainable and t) for i, (_, _, t) in enumerate(self._params)]
        for sub in self._sublayers:
            out += [(lay, i, self.trainable and t) for lay, i, t in sub._entries()]
        return out

    @property
    def weights(self) -> list[np.ndarray]:
        """The parameter arrays themselves (not copies), in Keras order."""
        return [lay._params[i][1] for lay, i, _ in self._entries()]

    @property
    def weight_names(self) -> list[str]:
        return [f"{lay.name}/{lay._params[i][0]}" for lay, i, _ in self._entries()]

    @property
    def trainable_weights(self) -> list[np.ndarray]:
        return [lay._params[i][1] for lay, i, t in self._entries() if t]

    @property
    def non_trainable_weights(self) -> list[np.ndarray]:
        return [lay._params[i][1] for lay, i, t in self._entries() if not t]

    @property
    def trainable_mask(self) -> list[bool]:
        """For each array of :attr:`weights`, whether training updates it."""
        return [t for _, _, t in self._entries()]

    @property
    def grads(self) -> list[np.ndarray | None]:
        """dL/dweight from the last :meth:`backward`, aligned with :meth:`get_weights`."""
        return [lay._grads[i] for lay, i, _ in self._entries()]

    def _set_grads(self, grads: Sequence[np.ndarray]) -> None:
        self._grads = list(grads)

    def _builtin_losses(self) -> list[float]:
        """Losses the built-in layers add (ActivityRegularization's penalty from the latest
        call) and the weight regularizers' penalties: this layer's, then its sublayers'.
        Training adds their sum to the loss; their gradients come from the layers' own
        backward passes and from the optimizer step's regularizer terms."""
        out = list(self.__dict__.get("_losses", ()))
        for i in self.__dict__.get("_weight_rules", {}):
            reg = self._rule(i, 0)
            if reg is not None:
                out.append(reg(self._params[i][1]))
        for sub in self._sublayers:
            out += sub._builtin_losses()
        return out

    def get_weights(self) -> list[np.ndarray]:
        """Copies of the weights, in Keras' order (e.g. LSTM: kernel, recurrent_kernel, bias)."""
        return [v.copy() for v in self.weights]

    def set_weights(self, weights: Sequence[np.ndarray]) -> None:
        """Load weights (Keras' order and shapes), copying them into the existing arrays."""
        if not self.built:
            raise ValueError(
                f"Layer '{self.name}' has no weights yet: call build(input_shape) or call the "
                "layer on data before set_weights()"
            )
        weights = list(weights)
        mine = self.weights
        if len(weights) != len(mine):
            raise ValueError(
                f"Layer '{self.name}' ({type(self).__name__}) expects {len(mine)} weight arrays "
                f"{[w.shape for w in mine]}; received {len(weights)}"
            )
        for pname, cur, new in zip(self.weight_names, mine, weights):
            new = np.asarray(new)
            if new.dtype.kind not in "biuf":
                raise TypeError(
                    f"Layer '{self.name}' weight '{pname}' expects a numeric array; received dtype "
                    f"{new.dtype}"
                )
            if new.shape != cur.shape:
                raise ValueError(
                    f"Layer '{self.name}' weight '{pname}' expects shape {cur.shape}; "
                    f"received {new.shape}"
                )
            cur[...] = new

    def count_params(self) -> int:
        if not self.built:
            raise ValueError(
                f"You tried to call count_params on layer '{self.name}', but the layer isn't "
                "built. Build it with build(input_shape) first."
            )
        return int(sum(v.size for v in self.weights))

    def param_formula(self) -> str | None:
        """The parameter count written as the seeds derive it (``summary(explain=True)``),
        e.g. ``4 x ((32 + 1) x 32 + 32^2)`` for an LSTM; None where there is no formula."""
        return None

    # ----------------------------------------------------------------- config
    def get_config(self) -> dict:
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype.name}
        if self._batch_input_shape is not None:
            config["batch_input_shape"] = list(self._batch_input_shape)
        return config

    @classmethod
    def from_config(cls, config: dict) -> "Layer":
        return cls(**config)

    # ---------------------------------------------------------------- running
    def forward(self, inputs, mask=None, training: bool = False, **kwargs):
        """Run the layer; return ``(outputs, cache)`` for :meth:`backward`.

        By default (custom layers) ``call`` is recorded on a tape, see
        :mod:`rnnkit.ops.layer_autodiff`; built-in layers override it."""
        return _autodiff.traced_forward(self, inputs, mask=mask, training=training, **kwargs)

    def backward(self, grad_outputs, cache):
        """Given dL/doutputs, set ``self.grads`` and return dL/dinputs."""
        return _autodiff.traced_backward(self, grad_outputs, cache)

    def call(self, inputs, mask=None, training: bool = False, **kwargs):
        """Inference: outputs only (layers may override with a path that stores nothing)."""
        return self.forward(inputs, mask=mask, training=training, **kwargs)[0]

    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, KerasTensor) or (
                isinstance(inputs, (list, tuple)) and inputs and isinstance(inputs[0], KerasTensor)):
            return self._call_symbolic(inputs, *args, **kwargs)
        if self._traced or _tape.STATE.recording or _autodiff.is_operand(inputs):
            return _autodiff.call_layer(self, inputs, args, kwargs)
        if args:
            raise TypeError(
                f"{type(self).__name__} takes the input as its only positional argument; pass "
                "mask=, training=, initial_state= by keyword"
            )
        x = self._convert_input(inputs)
        self._maybe_build(np.shape(x))
        if is_empty_batch(x) and not has_stateful(self):
            return empty_batch_call(self.call, x, kwargs)
        return self.call(x, **kwargs)

    def _call_symbolic(self, inputs, **kwargs):
        shape = self._symbolic_input_shape(inputs)
        self._maybe_build(shape)
        out_shape = self.compute_output_shape(shape)
        history = (self, inputs, kwargs)
        if isinstance(out_shape, list):
            outputs = [KerasTensor(s, history=history + (i,)) for i, s in enumerate(out_shape)]
        else:
            outputs = KerasTensor(out_shape, history=history + (0,))
        self._inbound_nodes.append(outputs)
        return outputs

    def _symbolic_input_shape(self, inputs):
        """The shape given to build/compute_output_shape for symbolic ``inputs``.

        Layers taking a list of inputs (merge layers, multi-input models) override this
        to return the list of shapes.
        """
        return inputs.shape if isinstance(inputs, KerasTensor) else inputs[0].shape

    def _convert_input(self, x) -> np.ndarray:
        """NumPy array in the layer's dtype (float layers) with a clear error for bad input."""
        if x is None:
            raise TypeError(f"{type(self).__name__} '{self.name}' expects a numeric array; received None")
        try:
            arr = np.asarray(x)
        except ValueError as exc:  # NumPy refuses nested lists of different lengths
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects a rectangular numeric array; received "
                "ragged nested sequences (pad sequences with pad_sequences first)"
            ) from exc
        if arr.dtype == object:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects a numeric array; received a ragged "
                "or object array (pad sequences with pad_sequences first)"
            )
        if arr.dtype.kind not in "fiub":
            raise TypeError(
                f"{type(self).__name__} '{self.name}' expects a numeric array; received dtype {arr.dtype}"
            )
        return arr.astype(self.dtype, copy=False)

    def _check_rank(self, x: np.ndarray, ndim: int, what: str) -> None:
        if x.ndim != ndim:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects input of shape {what}; "
                f"received {x.shape}"
            )
        # Recurrent layers (those with state_names) return a state after the last step, so
        # they need at least one step (as in Keras); an empty batch is answered by __call__.
        if hasattr(self, "state_names") and what.startswith("(batch, timesteps"):
            if x.shape[1] == 0:
                raise ValueError(
                    f"{type(self).__name__} '{self.name}' needs at least one timestep; received "
                    f"input of shape {x.shape} (timesteps=0)"
                )
            if x.shape[2] == 0:
                raise ValueError(
                    f"{type(self).__name__} '{self.name}' needs at least one feature; received "
                    f"input of shape {x.shape} (features=0)"
                )
            if x.shape[0] == 0:
                raise ValueError(
                    f"{type(self).__name__} '{self.name}'.forward/call needs at least one sample; "
                    f"received input of shape {x.shape} (layer(x) returns an empty result for an "
                    "empty batch)"
                )

    def _check_last_dim(self, x: np.ndarray, expected: int, what: str) -> None:
        if x.shape[-1] != expected:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' was built for {what}={expected}; "
                f"received input of shape {x.shape}"
            )

    def reset_states(self, states=None) -> None:  # recurrent layers override
        pass

    def add_loss(self, loss) -> None:
        """Add a scalar (written with ops) to the training loss, as Keras' ``add_loss``."""
        _autodiff.add_loss(self, loss)

    @property
    def losses(self) -> list:
        """Keras' ``layer.losses``: the penalties of the built-in layers and weight
        regularizers, then what custom layers passed to :meth:`add_loss` in their latest call."""
        return self._builtin_losses() + _autodiff.collect_losses(self)

    # Keras' symbolic graph access on layers of built functional models (a layer may
    # still assign these attributes itself, as InputLayer does with output).
    input = _symbolic.node_property("input")
    output = _symbolic.node_property("output")
    input_shape = _symbolic.node_property("input_shape")
    output_shape = _symbolic.node_property("output_shape")

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


_autodiff.set_layer_base(Layer)  # see ops.layer_autodiff

# Set while a loader builds a model from a file's config (rnnkit.saving.safety): called
# with (layer, name, shape) before each weight is allocated, so it can refuse huge ones.
_allocation_check = None


def set_weight_allocation_check(check):
    """Install ``check(layer, name, shape)`` to run before every ``add_weight``; returns the
    previous one (None: no check)."""
    global _allocation_check
    previous, _allocation_check = _allocation_check, check
    return previous


def _input_layer_name() -> str:
    """Keras 2's default input names: ``input_1``, ``input_2``, ... (reset by clear_session)."""
    n = backend._UIDS["input"] + 1
    backend._UIDS["input"] = n
    return f"input_{n}"


class InputLayer(Layer):
    """Placeholder layer behind :func:`Input`; it has no weights and does nothing."""

    def __init__(self, shape=None, batch_size=None, dtype=None, name=None, batch_shape=None,
                 input_shape=None, batch_input_shape=None, **kwargs):
        bshape = batch_shape or batch_input_shape
        if bshape is None:
            shape = shape if shape is not None else input_shape
            if shape is None:
                raise ValueError("InputLayer: shape= or batch_shape= is required")
            bshape = (batch_size,) + tuple(shape)
        self.input_dtype = dtype
        super().__init__(name=name or _input_layer_name(), **kwargs)
        self._batch_input_shape = tuple(bshape)
        self.output = KerasTensor(self._batch_input_shape, dtype=dtype, name=self.name,
                                  history=(self, None, {}, 0))
        self._inbound_nodes = [self.output]
        self.built = True

    def get_config(self):
        return {"name": self.name, "batch_shape": list(self._batch_input_shape),
                "dtype": self.input_dtype}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def forward(self, inputs, mask=None, training=False, **kwargs):
        return inputs, None

    def backward(self, grad_outputs, cache):
        return grad_outputs
