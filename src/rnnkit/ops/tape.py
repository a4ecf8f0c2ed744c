"""Reverse-mode differentiation for :mod:`rnnkit.ops`: tensors, variables, the tape.

Nothing is recorded unless a recording is active: a :class:`GradientTape` block, or the
private recording that a custom layer's ``forward`` opens during training. While one is
active, an op whose inputs include a *tracked* value (a :class:`Tensor`, a trainable
:class:`Variable`, an array passed to ``tape.watch``) returns a :class:`Tensor` that
remembers how it was made (a :class:`Node`: its inputs and a vector-Jacobian product).
The graph lives in the tensors themselves, so nested tapes all see the same graph, and
it is freed with them. Without a recording every op takes and returns plain NumPy
arrays, so user code that runs eagerly pays nothing beyond NumPy itself.

Gradients are keyed by the identity of the NumPy array that holds a parameter: a
Variable's key is ``id(variable.value)`` and a built-in layer's weight's key is
``id(weight)``. So ``tape.gradient(loss, model.trainable_weights)`` works for the arrays
of built-in layers (one fused op each, see :mod:`rnnkit.ops.layer_autodiff`) and for the
Variables of custom layers alike.
"""
from __future__ import annotations

import weakref
from typing import Any, Callable, Sequence

import numpy as np


class _State:
    recording = 0  # active recordings (tapes and private ones)
    tapes: list = []  # active GradientTapes, innermost last


STATE = _State()


class Node:
    """How a tensor was made: ``inputs`` (Tensors, or None for constants) and ``vjp``.

    ``vjp(g)`` receives the output gradient (a list of per-output gradients, None where
    absent, when ``n_out > 1``) and returns one gradient per input, followed by one per
    ``leaf_keys`` entry (the weights of a fused built-in layer). A leaf (``key`` set) is
    a differentiation source: a Variable's or a watched array's value.
    """

    __slots__ = ("inputs", "vjp", "n_out", "leaf_keys", "key", "__weakref__")

    def __init__(self, inputs: tuple, vjp: Callable | None, n_out: int = 1,
                 leaf_keys: Sequence = (), key: Any = None):
        self.inputs = inputs
        self.vjp = vjp
        self.n_out = n_out
        self.leaf_keys = tuple(leaf_keys)
        self.key = key


class _Operand:
    """Operators shared by :class:`Tensor` and :class:`Variable`; each calls an op."""

    __array_priority__ = 1000

    def __add__(self, o): return _ops().add(self, o)
    def __radd__(self, o): return _ops().add(o, self)
    def __sub__(self, o): return _ops().subtract(self, o)
    def __rsub__(self, o): return _ops().subtract(o, self)
    def __mul__(self, o): return _ops().multiply(self, o)
    def __rmul__(self, o): return _ops().multiply(o, self)
    def __truediv__(self, o): return _ops().divide(self, o)
    def __rtruediv__(self, o): return _ops().divide(o, self)
    def __floordiv__(self, o): return _ops().floor_divide(self, o)
    def __mod__(self, o): return _ops().mod(self, o)
    def __pow__(self, o): return _ops().power(self, o)
    def __rpow__(self, o): return _ops().power(o, self)
    def __matmul__(self, o): return _ops().matmul(self, o)
    def __rmatmul__(self, o): return _ops().matmul(o, self)
    def __neg__(self): return _ops().negative(self)
    def __pos__(self): return self
    def __abs__(self): return _ops().abs(self)
    def __lt__(self, o): return _ops().less(self, o)
    def __le__(self, o): return _ops().less_equal(self, o)
    def __gt__(self, o): return _ops().greater(self, o)
    def __ge__(self, o): return _ops().greater_equal(self, o)
    def __getitem__(self, key): return _ops().getitem(self, key)
    def __invert__(self): return _ops().logical_not(self)
    def __and__(self, o): return _ops().logical_and(self, o)
    def __or__(self, o): return _ops().logical_or(self, o)

    # Elementwise == and != as in TensorFlow and NumPy (masks like `ids == 0`); tensors
    # stay hashable by identity.
    def __eq__(self, o): return _ops().equal(self, o)
    def __ne__(self, o): return _ops().not_equal(self, o)
    __hash__ = object.__hash__

    # The ndarray methods NumPy-style code uses, recorded like the ops.
    def sum(self, axis=None, keepdims=False): return _ops().sum(self, axis=axis, keepdims=keepdims)
    def mean(self, axis=None, keepdims=False): return _ops().mean(self, axis=axis, keepdims=keepdims)
    def max(self, axis=None, keepdims=False): return _ops().max(self, axis=axis, keepdims=keepdims)
    def min(self, axis=None, keepdims=False): return _ops().min(self, axis=axis, keepdims=keepdims)
    def prod(self, axis=None, keepdims=False): return _ops().prod(self, axis=axis, keepdims=keepdims)
    def std(self, axis=None, keepdims=False): return _ops().std(self, axis=axis, keepdims=keepdims)
    def var(self, axis=None, keepdims=False): return _ops().var(self, axis=axis, keepdims=keepdims)
    def argmax(self, axis=None): return _ops().argmax(self, axis=axis)
    def argmin(self, axis=None): return _ops().argmin(self, axis=axis)
    def clip(self, a_min, a_max): return _ops().clip(self, a_min, a_max)
    def dot(self, o): return _ops().dot(self, o)
    def squeeze(self, axis=None): return _ops().squeeze(self, axis=axis)
    def ravel(self): return _ops().ravel(self)
    def flatten(self): return _ops().ravel(self)
    def astype(self, dtype): return _ops().cast(self, dtype)

    def reshape(self, *shape):
        return _ops().reshape(self, shape[0] if len(shape) == 1 else shape)

    def transpose(self, *axes):
        return _ops().transpose(self, (axes[0] if len(axes) == 1 else axes) or None)

    @property
    def shape(self) -> tuple:
        return np.shape(self._array())

    @property
    def ndim(self) -> int:
        return np.ndim(self._array())

    @property
    def size(self) -> int:
        return int(np.size(self._array()))

    @property
    def T(self):
        return _ops().transpose(self)

    def numpy(self) -> np.ndarray:
        return np.array(self._array())

    def __array__(self, dtype=None, copy=None):
        a = np.asarray(self._array())
        return a if dtype is None else a.astype(dtype)

    def __len__(self) -> int:
        return len(self._array())

    def __float__(self) -> float:
        return float(self._array())

    def __int__(self) -> int:
        return int(self._array())

    def __bool__(self) -> bool:
        return bool(self._array())

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        # NumPy calls this for `array + tensor`, `np.exp(tensor)`...: route the ufuncs
        # that have a gradient rule through the ops, the others only without a recording.
        fn = _ufunc_ops().get(ufunc.__name__) if method == "__call__" and not kwargs else None
        if fn is not None:
            return fn(*inputs)
        return _untracked_numpy(getattr(ufunc, method), f"numpy.{ufunc.__name__}", inputs, kwargs)

    def __array_function__(self, func, types, args, kwargs):
        fn = _function_ops().get(func.__name__)
        if fn is not None:
            return fn(*args, **kwargs)
        return _untracked_numpy(func, f"numpy.{func.__name__}", args, kwargs)


def _untracked_numpy(func, name, args, kwargs):
    if STATE.recording and any(is_tracked(a) for a in _flat(args)):
        raise TypeError(
            f"{name} has no gradient rule in rnnkit; inside a GradientTape (or a custom layer "
            "being trained) use the rnnkit.ops / keras.ops function instead, so the gradient "
            "can flow")
    return func(*_unwrap_struct(args), **_unwrap_struct(kwargs))


class Tensor(_Operand):
    """A NumPy value recorded on the tape: ``value`` (an ndarray) and the node that made it.

    Arithmetic, comparisons, ``@`` and indexing call :mod:`rnnkit.ops`; ``numpy()`` or
    ``np.asarray(t)`` give the value.
    """

    __slots__ = ("value", "node", "index")

    def __init__(self, value, node: Node, index: int = 0):
        self.value = value
        self.node = node
        self.index = index

    def _array(self):
        return self.value

    @property
    def dtype(self):
        return np.asarray(self.value).dtype

    def __repr__(self) -> str:
        return f"<rnnkit.Tensor shape={self.shape} dtype={self.dtype}>\n{self.value!r}"


class Variable(_Operand):
    """A parameter: a NumPy array updated in place (``assign``, optimizers, ``set_weights``).

    ``layer.add_weight`` returns one for custom layers (whose ``call`` is written with
    ops); ops read it as an array and, while recording, as a differentiation source
    (``trainable=True``). ``variable.value`` is the array itself.
    """

    def __init__(self, initializer=None, shape=None, dtype=None, trainable: bool = True,
                 name: str | None = None, value: np.ndarray | None = None, **kwargs):
        if value is None:
            if callable(initializer) or isinstance(initializer, str):
                from .. import initializers
                init = initializers.get(initializer)
                from .. import backend
                dt = backend.standardize_dtype(dtype)
                value = np.asarray(init(tuple(shape), dt, backend.make_rng(None)), dtype=dt)
            else:
                value = np.array(unwrap(initializer), dtype=dtype)
                if shape is not None and value.shape != tuple(shape):
                    raise ValueError(f"Variable: initial value of shape {value.shape} does not match "
                                     f"shape={tuple(shape)}")
            value = np.require(value, requirements="C")  # ascontiguousarray would make 0-d 1-d
        self.value = value
        self.trainable = bool(trainable)
        self.name = name or "variable"
        self.path = self.name

    def _array(self):
        return self.value

    @property
    def dtype(self) -> str:
        return self.value.dtype.name

    def assign(self, value) -> "Variable":
        self.value[...] = unwrap(value)
        return self

    def assign_add(self, value) -> "Variable":
        self.value += unwrap(value)
        return self

    def assign_sub(self, value) -> "Variable":
        self.value -= unwrap(value)
        return self

    def __repr__(self) -> str:
        return f"<rnnkit.Variable name={self.name} shape={self.value.shape} dtype={self.dtype}>"


# ----------------------------------------------------------------- helpers used by the ops
def unwrap(x):
    """The NumPy value of a Tensor or Variable; anything else unchanged."""
    if isinstance(x, Tensor):
        return x.value
    if isinstance(x, Variable):
        return x.value
    return x


def unwrap_struct(x):
    """:func:`unwrap` through lists, tuples and dicts."""
    return _unwrap_struct(x)


def _unwrap_struct(x):
    if isinstance(x, (Tensor, Variable)):
        return x.value
    if isinstance(x, (list, tuple)):
        return type(x)(_unwrap_struct(v) for v in x)
    if isinstance(x, dict):
        return {k: _unwrap_struct(v) for k, v in x.items()}
    return x


def _flat(x) -> list:
    if isinstance(x, (list, tuple)):
        return [v for s in x for v in _flat(s)]
    if isinstance(x, dict):
        return [v for s in x.values() for v in _flat(s)]
    return [x]


def is_tracked(x) -> bool:
    """Whether ``x`` would carry a gradient in an op run now."""
    if isinstance(x, Tensor):
        return True
    if not STATE.recording:
        return False
    if isinstance(x, Variable):
        return _watching(x.value, x.trainable)
    return isinstance(x, np.ndarray) and _watching(x, False)


_PARAMS: dict = {}  # id -> weakref of the weight arrays of built-in layers


def register_param(arr: np.ndarray) -> None:
    """A built-in layer's weight: read by an op while recording, it is a source like a
    Variable (so ``ops.square(dense.kernel)`` in a train_step has its gradient)."""
    try:
        _PARAMS[id(arr)] = weakref.ref(arr, lambda _r, k=id(arr): _PARAMS.pop(k, None))
    except TypeError:
        pass


def _is_param(arr) -> bool:
    r = _PARAMS.get(id(arr))
    return r is not None and r() is arr


def _watching(arr, accessed_variable: bool) -> bool:
    k = id(arr)
    if not accessed_variable and _is_param(arr):
        accessed_variable = True
    for t in STATE.tapes:
        if k in t._watched or (accessed_variable and t._watch_accessed):
            return True
    return accessed_variable and STATE.recording > len(STATE.tapes)


def leaf(value, key=None) -> Tensor:
    """A source tensor; its gradient is collected under ``key`` (default: a fresh one)."""
    node = Node((), None, key=key)
    if key is None:
        node.key = id(node)
    return Tensor(value, node)


def track(x):
    """``(value, tensor or None)``: the array an op computes with and what it records."""
    if isinstance(x, Tensor):
        return x.value, x
    if isinstance(x, Variable):
        v = x.value
        if STATE.recording and _watching(v, x.trainable):
            return v, leaf(v, id(v))
        return v, None
    if STATE.recording and isinstance(x, np.ndarray) and _watching(x, False):
        return x, leaf(x, id(x))
    if isinstance(x, np.ndarray):
        return x, None
    return np.asarray(x), None


def make(value, inputs: tuple, vjp: Callable) -> Tensor:
    """The output of an op with recorded ``inputs`` (None for untracked ones)."""
    return Tensor(value, Node(inputs, vjp))


def make_multi(values: Sequence, inputs: tuple, vjp: Callable, leaf_keys: Sequence = ()) -> list:
    node = Node(inputs, vjp, n_out=len(values), leaf_keys=leaf_keys)
    return [Tensor(v, node, i) for i, v in enumerate(values)]


class recording:
    """Context manager: record ops (a private recording, as a custom layer's forward uses).

    Variables read inside are differentiation sources, as with a tape watching accessed
    variables.
    """

    def __enter__(self):
        STATE.recording += 1
        return self

    def __exit__(self, *exc):
        STATE.recording -= 1
        return False


class stop_recording:
    """Context manager: run ops without recording (the values are constants)."""

    def __enter__(self):
        self._saved = (STATE.recording, STATE.tapes)
        STATE.recording, STATE.tapes = 0, []
        return self

    def __exit__(self, *exc):
        STATE.recording, STATE.tapes = self._saved
        return False


# The op modules import this one, so the ops reach it by registration (rnnkit.ops calls
# register_ops when it is imported) rather than by an import back.
_REGISTERED: dict = {"ops": None, "ufuncs": {}, "functions": {}, "symbolic": None}


def register_ops(module, ufuncs: dict, functions: dict, symbolic=None) -> None:
    """Tell Tensors and Variables which ops their operators, NumPy ufuncs and NumPy functions
    route through (``rnnkit.ops`` calls this once); ``symbolic(name, args, kwargs)`` applies an
    op to KerasTensors (a functional-graph node)."""
    _REGISTERED.update(ops=module, ufuncs=ufuncs, functions=functions)
    if symbolic is not None:
        _REGISTERED["symbolic"] = symbolic


def register_symbolic(handler) -> None:
    """``handler(name, args, kwargs)``: an op on KerasTensors (set by rnnkit.layers.op_layer)."""
    _REGISTERED["symbolic"] = handler


def symbolic_handler():
    return _REGISTERED["symbolic"]


def _ops():
    return _REGISTERED["ops"]


def _ufunc_ops() -> dict:
    return _REGISTERED["ufuncs"]


def _function_ops() -> dict:
    return _REGISTERED["functions"]
