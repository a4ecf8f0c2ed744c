"""What every engine needs to know of a cell, declared once per cell module.

A :class:`CellSpec` names the cell's gate blocks in Keras' column order (the layout
of ``kernel``, ``recurrent_kernel`` and ``bias``) and its carried states. The fast
engines lay their working rows out by gate *name* (``cell_spec.blocks("o", "i", "f",
"c")``), so the gate order is written in one place: the cell module.
"""
from __future__ import annotations

import dataclasses

import numpy as np


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
