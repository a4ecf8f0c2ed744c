"""What every engine needs to know of a cell, declared once per cell module.

A :class:`CellSpec` names the cell's gate blocks in Keras' column order (the layout
of ``kernel``, ``recurrent_kernel`` and ``bias``) and its carried states. The fast
engines lay their working rows out by gate *name* (``cell_spec.blocks("o", "i", "f",
"c")``), so the gate order is written in one place: the cell module.
"""
from __future__ import annotations

import dataclasses

import numpy as np

from ... import activations, backend, initializers


@dataclasses.dataclass(frozen=True)
class CellSpec:
    """A recurrent cell's declaration.

    Attributes:
        name: ``"simple_rnn"``, ``"lstm"`` or ``"gru"``; engines key their kernels by it.
        gates: the gate blocks of the weight columns, in Keras' order (LSTM
            ``("i", "f", "c", "o")``, GRU ``("z", "r", "h")``); ``kernel`` is
            ``(D, len(gates) * units)``.
        states: the carried states (LSTM ``("h", "c")``); each is ``(B, units)``.
    """

    name: str
    gates: tuple[str, ...]
    states: tuple[str, ...]

    def blocks(self, *names: str) -> tuple[int, ...]:
        """Keras block indices of the gates ``names``, in the order given."""
        return tuple(self.gates.index(n) for n in names)


def sigmoid_(x: np.ndarray) -> None:
    """In-place logistic function via ``0.5 * tanh(0.5 x) + 0.5`` (stable, one transcendental)."""
    x *= 0.5
    np.tanh(x, out=x)
    x *= 0.5
    x += 0.5


# Keras arguments rnnkit's recurrent layers and cells do not implement yet.
_UNSUPPORTED = ("kernel_regularizer", "recurrent_regularizer", "bias_regularizer",
                "activity_regularizer", "kernel_constraint", "recurrent_constraint", "bias_constraint")


def refuse_unsupported(owner, kwargs: dict) -> dict:
    """``kwargs`` without the Keras options that are None; a clear error for any that is set."""
    for name in _UNSUPPORTED:
        if kwargs.pop(name, None) is not None:
            raise NotImplementedError(f"{type(owner).__name__}: {name} is not supported by rnnkit yet")
    return kwargs


def set_cell_arguments(owner, units, activation, recurrent_activation, use_bias, kernel_initializer,
                       recurrent_initializer, bias_initializer, dropout, recurrent_dropout) -> None:
    """Check and store the Keras arguments a recurrent layer and its cell share (one place for
    both: ``LSTM(...)`` and ``LSTMCell(...)`` take and validate them the same way)."""
    cls = type(owner).__name__
    if not isinstance(units, (int, np.integer)) or isinstance(units, bool) or units <= 0:
        raise ValueError(f"{cls}: units must be a positive integer; received {units!r}")
    for arg, val in (("dropout", dropout), ("recurrent_dropout", recurrent_dropout)):
        if not isinstance(val, (int, float)) or not 0.0 <= val < 1.0:
            raise ValueError(f"{cls}: {arg} must be a float in [0, 1); received {val!r}")
    owner.units = int(units)
    owner.activation = activations.get(activation)
    owner.recurrent_activation = activations.get(recurrent_activation)
    owner.use_bias = bool(use_bias)
    owner.kernel_initializer = initializers.get(kernel_initializer)
    owner.recurrent_initializer = initializers.get(recurrent_initializer)
    owner.bias_initializer = initializers.get(bias_initializer)
    owner.dropout = float(dropout)
    owner.recurrent_dropout = float(recurrent_dropout)


def add_cell_weights(owner, input_dim: int) -> None:
    """Create ``kernel (input_dim, G)``, ``recurrent_kernel (units, G)`` and ``bias`` (the
    owner's ``_bias_shape()``, values from its ``_bias_init``) with ``G = n_gates * units``.

    One generator from the owner's ``seed`` draws them in this order, so a layer and its cell
    (``LSTM(n, seed=s)`` and ``LSTMCell(n, seed=s)``) start from the same weights.
    """
    rng = backend.make_rng(owner.seed)
    g = owner.n_gates * owner.units
    owner.kernel = owner.add_weight("kernel", (input_dim, g), owner.kernel_initializer, rng=rng)
    owner.recurrent_kernel = owner.add_weight(
        "recurrent_kernel", (owner.units, g), owner.recurrent_initializer, rng=rng)
    if owner.use_bias:
        value = owner._bias_init(owner._bias_shape(), owner.dtype, rng)
        owner.bias = owner.add_weight("bias", owner._bias_shape(), initializers.Zeros(), rng=rng)
        owner.bias[...] = value
    else:
        owner.bias = None
