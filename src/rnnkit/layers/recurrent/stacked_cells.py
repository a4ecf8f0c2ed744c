"""Keras' ``StackedRNNCells``: several cells run as one, each step feeding the next cell."""
from __future__ import annotations

from ...ops import tape as _tape
from .. import registry
from ..base import Layer
from .rnn_loop import initial_states


def _output_dim(cell):
    size = getattr(cell, "output_size", None)
    if size is None:
        size = cell.state_size
        size = size[0] if isinstance(size, (list, tuple)) else size
    return int(size)


class StackedRNNCells(Layer):
    """``StackedRNNCells([cell_1, cell_2, ...])``: one step runs ``cell_1`` on ``x_t``,
    ``cell_2`` on ``cell_1``'s output, and so on.

    ``state_size`` is the list of the cells' state sizes (one group of states per
    cell), ``output_size`` the last cell's. ``call(x_t, states)`` takes and returns the
    states grouped per cell: ``[[h1, c1], [h2], ...]``. Wrapped in ``RNN`` it runs on
    the generic loop (each built-in cell one op per step on the tape).
    """

    _autocast = False  # each cell converts its own inputs

    def __init__(self, cells, **kwargs):
        cells = list(cells)
        if "dtype" not in kwargs and cells and isinstance(cells[0], Layer):
            kwargs["dtype"] = cells[0].dtype.name  # run in the cells' dtype
        super().__init__(**kwargs)
        for c in cells:
            if not callable(getattr(c, "call", None)) or getattr(c, "state_size", None) is None:
                raise ValueError("StackedRNNCells expects RNN cells (with call() and state_size); "
                                 f"received {c!r}")
        if not cells:
            raise ValueError("StackedRNNCells expects a non-empty list of cells; received []")
        self.cells = cells
        self._sublayers = [c for c in cells if isinstance(c, Layer)]

    @property
    def state_size(self) -> list:
        return [c.state_size for c in self.cells]

    @property
    def output_size(self):
        return _output_dim(self.cells[-1])

    def get_initial_state(self, batch_size: int) -> list:
        return [initial_states(c, batch_size, c.dtype if isinstance(c, Layer) else self.dtype)
                for c in self.cells]

    def build(self, input_shape):
        """``input_shape`` is one step's ``(batch, features)``; each cell is built in turn."""
        shape = tuple(input_shape)
        for c in self.cells:
            if isinstance(c, Layer) and not c.built:
                with _tape.stop_recording():
                    c.build(shape)
                c.built = True
                if c._built_input_shape is None:
                    c._built_input_shape = shape
            shape = (shape[0], _output_dim(c))
        super().build(input_shape)

    def call(self, inputs, states, training=False):
        """``(output of the last cell, [new states of each cell])``."""
        if len(states) != len(self.cells):
            raise ValueError(f"StackedRNNCells '{self.name}' expects one group of states per cell "
                             f"({len(self.cells)}); received {len(states)}")
        new_states = []
        x = inputs
        for c, s in zip(self.cells, states):
            s = list(s) if isinstance(s, (list, tuple)) else [s]
            x, ns = c(x, s, training=training)
            new_states.append(list(ns) if isinstance(ns, (list, tuple)) else [ns])
        return x, new_states

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.output_size)

    def get_config(self):
        return {**super().get_config(), "cells": [registry.serialize(c) for c in self.cells]}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        cells = [registry.deserialize(c) for c in config.pop("cells")]
        return cls(cells, **config)
