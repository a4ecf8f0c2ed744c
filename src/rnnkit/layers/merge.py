"""Merge layers: combine a list of inputs into one (Concatenate, Add, Subtract, Multiply,
Average, Maximum, Minimum), and Keras' lower-case helper functions (``concatenate(...)``).

They take a list of arrays (eagerly) or of KerasTensors (functional API)::

    merged = Concatenate()([lstm_fw, lstm_bw])       # last axis: sum of the sizes
    summed = Add()([x1, x2])

Elementwise layers need inputs of one shape, up to dimensions of size 1 that broadcast
(NumPy rules, same rank). Masks combine as in Keras: a step is kept when every input
that has a mask keeps it (a time-axis concatenation concatenates the masks).
"""
from __future__ import annotations

import numpy as np

from .base import KerasTensor, Layer


def _unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` over the axes along which an input of ``shape`` was broadcast."""
    if grad.shape == tuple(shape):
        return grad
    axes = tuple(i for i, (g, s) in enumerate(zip(grad.shape, shape)) if s == 1 and g != 1)
    return grad.sum(axis=axes, keepdims=True).reshape(shape)


class _Merge(Layer):
    """Base of the merge layers: a list of at least two inputs, one output."""

    def _symbolic_input_shape(self, inputs):
        self._check_list(inputs, "inputs")
        return [t.shape for t in inputs]

    def _check_list(self, inputs, what):
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            got = f"a list of {len(inputs)}" if isinstance(inputs, (list, tuple)) else type(inputs).__name__
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects a list of at least 2 {what}; "
                f"received {got}"
            )

    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, (list, tuple)) and any(isinstance(t, KerasTensor) for t in inputs):
            if not all(isinstance(t, KerasTensor) for t in inputs):
                raise TypeError(
                    f"{type(self).__name__} '{self.name}' expects all inputs to be KerasTensors or "
                    "all to be arrays; received a mix"
                )
            return self._call_symbolic(inputs, *args, **kwargs)
        if args:
            raise TypeError(f"{type(self).__name__} takes the list of inputs as its only positional argument")
        xs = self._convert_inputs(inputs)
        self._maybe_build([x.shape for x in xs])
        return self.call(xs, **kwargs)

    def _convert_inputs(self, inputs) -> list[np.ndarray]:
        self._check_list(inputs, "input arrays")
        return [self._convert_input(x) for x in inputs]

    def build(self, input_shape):
        self._check_list(input_shape, "input shapes")
        self._merged_shape(input_shape)  # validates
        super().build(input_shape)

    def _merged_shape(self, shapes):
        shapes = [tuple(s) for s in shapes]
        if len({len(s) for s in shapes}) != 1:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects inputs of the same rank; received "
                f"shapes {shapes}"
            )
        out = []
        for dims in zip(*shapes):
            known = {d for d in dims if d is not None and d != 1}
            if len(known) > 1:
                raise ValueError(
                    f"{type(self).__name__} '{self.name}' expects inputs of the same shape (or "
                    f"dimensions of size 1 that broadcast); received shapes {shapes}"
                )
            if known:
                out.append(known.pop())
            elif any(d is None for d in dims):
                out.append(None)
            else:
                out.append(1)
        return tuple(out)

    def compute_output_shape(self, input_shape):
        return self._merged_shape(input_shape)

    def compute_mask(self, inputs, mask):
        if mask is None:
            return None
        masks = [m for m in mask if m is not None]
        if not masks:
            return None
        out = np.asarray(masks[0], dtype=bool)
        for m in masks[1:]:
            out = out & np.asarray(m, dtype=bool)
        return out

    def forward(self, inputs, mask=None, training=False, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}.forward got unexpected argument(s) {sorted(kwargs)}")
        xs = self._convert_inputs(inputs)
        self._merged_shape([x.shape for x in xs])
        return self._merge(xs)

    def _merge(self, xs):  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad_outputs, cache):
        self._set_grads([])
        return self._unmerge(np.asarray(grad_outputs), cache)


class Add(_Merge):
    """Elementwise sum of the inputs."""

    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out, [x.shape for x in xs]

    def _unmerge(self, g, shapes):
        return [_unbroadcast(g, s) for s in shapes]


class Subtract(_Merge):
    """``inputs[0] - inputs[1]`` (exactly two inputs)."""

    def _check_list(self, inputs, what):
        if not isinstance(inputs, (list, tuple)) or len(inputs) != 2:
            got = f"a list of {len(inputs)}" if isinstance(inputs, (list, tuple)) else type(inputs).__name__
            raise ValueError(
                f"Subtract '{self.name}' expects a list of exactly 2 {what}; received {got}"
            )

    def _merge(self, xs):
        return xs[0] - xs[1], [x.shape for x in xs]

    def _unmerge(self, g, shapes):
        return [_unbroadcast(g, shapes[0]), _unbroadcast(-g, shapes[1])]


class Multiply(_Merge):
    """Elementwise product of the inputs."""

    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out, xs

    def _unmerge(self, g, xs):
        grads = []
        for i, x in enumerate(xs):
            other = None
            for j, y in enumerate(xs):
                if j != i:
                    other = y if other is None else other * y
            grads.append(_unbroadcast(g * other, x.shape))
        return grads


class Average(_Merge):
    """Elementwise mean of the inputs."""

    def _merge(self, xs):
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out * out.dtype.type(1.0 / len(xs)), [x.shape for x in xs]

    def _unmerge(self, g, shapes):
        g = g * g.dtype.type(1.0 / len(shapes))
        return [_unbroadcast(g, s) for s in shapes]


class Maximum(_Merge):
    """Elementwise maximum (the gradient goes to the first input holding the maximum)."""

    _pick = staticmethod(np.argmax)

    def _merge(self, xs):
        stacked = np.stack(np.broadcast_arrays(*xs))
        which = self._pick(stacked, axis=0)
        out = np.take_along_axis(stacked, which[None], axis=0)[0]
        return out, (which, [x.shape for x in xs])

    def _unmerge(self, g, cache):
        which, shapes = cache
        return [_unbroadcast(np.where(which == i, g, g.dtype.type(0)), s) for i, s in enumerate(shapes)]


class Minimum(Maximum):
    """Elementwise minimum (the gradient goes to the first input holding the minimum)."""

    _pick = staticmethod(np.argmin)


class Concatenate(_Merge):
    """Join the inputs along ``axis`` (the last one by default); other dimensions must match."""

    def __init__(self, axis: int = -1, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
            raise TypeError(f"Concatenate: axis must be an integer; received {axis!r}")
        self.axis = int(axis)

    def _axis(self, rank):
        axis = self.axis + rank if self.axis < 0 else self.axis
        if not 1 <= axis < rank:
            raise ValueError(
                f"Concatenate '{self.name}' cannot join along axis {self.axis} inputs of rank {rank} "
                "(the batch axis 0 cannot be joined)"
            )
        return axis

    def _merged_shape(self, shapes):
        shapes = [tuple(s) for s in shapes]
        ranks = {len(s) for s in shapes}
        if len(ranks) != 1:
            raise ValueError(
                f"Concatenate '{self.name}' expects inputs of the same rank; received shapes {shapes}"
            )
        axis = self._axis(ranks.pop())
        out = []
        for k, dims in enumerate(zip(*shapes)):
            if k == axis:
                out.append(None if any(d is None for d in dims) else int(sum(dims)))
                continue
            known = {d for d in dims if d is not None}
            if len(known) > 1:
                raise ValueError(
                    f"Concatenate '{self.name}' expects inputs of matching shapes except on the "
                    f"concatenation axis {self.axis}; received shapes {shapes}"
                )
            out.append(known.pop() if known else None)
        return tuple(out)

    def compute_mask(self, inputs, mask):
        """The output mask: the inputs' masks joined when concatenating along time (axis 1 of
        a 3-D input), else the steps masked in any input; None when no input has a mask.
        """
        if mask is None or all(m is None for m in mask):
            return None
        xs = [np.asarray(x) for x in inputs]
        axis = self._axis(xs[0].ndim)
        if axis == 1 and axis < xs[0].ndim - 1:
            # Joining along time: the masks join too (a missing one keeps every step).
            parts = [np.ones(x.shape[:2], bool) if m is None else np.asarray(m, bool)
                     for x, m in zip(xs, mask)]
            return np.concatenate(parts, axis=1)
        return super().compute_mask(inputs, mask)

    def _merge(self, xs):
        axis = self._axis(xs[0].ndim)
        return np.concatenate(xs, axis=axis), (axis, [x.shape[axis] for x in xs])

    def _unmerge(self, g, cache):
        axis, sizes = cache
        return np.split(g, np.cumsum(sizes)[:-1], axis=axis)

    def get_config(self):
        """Keras' config, with ``axis``."""
        return {**super().get_config(), "axis": self.axis}


def _functional(cls, doc):
    def fn(inputs, **kwargs):
        return cls(**kwargs)(inputs)

    fn.__name__ = cls.__name__.lower()
    fn.__doc__ = doc
    return fn


add = _functional(Add, "``Add(**kwargs)(inputs)``.")
"""Functional form: ``add(inputs, **kwargs)`` is ``Add(**kwargs)(inputs)``."""
subtract = _functional(Subtract, "``Subtract(**kwargs)(inputs)``.")
"""Functional form: ``subtract(inputs, **kwargs)`` is ``Subtract(**kwargs)(inputs)``."""
multiply = _functional(Multiply, "``Multiply(**kwargs)(inputs)``.")
"""Functional form: ``multiply(inputs, **kwargs)`` is ``Multiply(**kwargs)(inputs)``."""
average = _functional(Average, "``Average(**kwargs)(inputs)``.")
"""Functional form: ``average(inputs, **kwargs)`` is ``Average(**kwargs)(inputs)``."""
maximum = _functional(Maximum, "``Maximum(**kwargs)(inputs)``.")
"""Functional form: ``maximum(inputs, **kwargs)`` is ``Maximum(**kwargs)(inputs)``."""
minimum = _functional(Minimum, "``Minimum(**kwargs)(inputs)``.")
"""Functional form: ``minimum(inputs, **kwargs)`` is ``Minimum(**kwargs)(inputs)``."""


def concatenate(inputs, axis: int = -1, **kwargs):
    """``Concatenate(axis=axis, **kwargs)(inputs)``."""
    return Concatenate(axis=axis, **kwargs)(inputs)
