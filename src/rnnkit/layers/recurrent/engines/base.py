"""The engine interface: what a recurrent layer hands an engine, and what it gets back."""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .... import activations


class Run(NamedTuple):
    """One call of a recurrent layer, as the layer prepared it.

    Attributes:
        x: inputs ``(B, T, D)`` in the caller's order.
        mask: ``(B, T)`` bool, False at padding steps, or None.
        mt: the same mask time-major in processing order, ``(T, B, 1)``, or None.
        states0: the initial states, one ``(B, U)`` array per state of the cell.
        dp: ``(B, D)`` input-dropout multipliers, or None.
        rdp: ``(B, U)`` recurrent-dropout multipliers, or None.
        reverse: process the steps last to first (``go_backwards``); ``mt``, the
            outputs and their gradients are then in processing order, ``x``, ``mask``
            and ``dx`` in the caller's.
    """

    x: np.ndarray
    mask: np.ndarray | None
    mt: np.ndarray | None
    states0: list
    dp: np.ndarray | None
    rdp: np.ndarray | None
    reverse: bool = False


class Output(NamedTuple):
    """An engine's forward result.

    Attributes:
        seq: the state after every step in processing order, ``(B, T, U)``; a view
            of the engine's buffers unless ``owned`` (the layer then copies it). An
            empty array when the layer does not return sequences and the engine
            skipped it.
        finals: the last states, one ``(B, U)`` array per state (owned).
        owned: whether ``seq`` may be handed to the caller as it is.
        state: what :meth:`Engine.backward` needs (None at inference).
    """

    seq: np.ndarray
    finals: list
    owned: bool
    state: object


class Engine:
    """A way to run the recurrence of the three cells; see :mod:`rnnkit.layers.recurrent.engines`."""

    name = "engine"

    def forward(self, layer, run: Run, train: bool) -> Output:  # pragma: no cover - abstract
        """Run ``layer``'s recurrence over ``run``; keep what backward needs when ``train``."""
        raise NotImplementedError

    def backward(self, layer, state, dseq, out_mask, dfinals,
                 input_grad: bool = True):  # pragma: no cover - abstract
        """BPTT of one :meth:`forward`.

        Args:
            state: ``Output.state`` of that forward.
            dseq: dL/d(outputs) ``(B, T, U)`` when the layer returns sequences, else None.
            out_mask: the ``(T, B, 1)`` output multipliers that ``dseq`` passes through, or None.
            dfinals: dL/d(final states), ``(B, U)`` arrays or None each.
            input_grad: False when nobody reads dL/d(inputs) (a model's first layer in a
                training step): an engine may then skip it and return None.

        Returns:
            ``dx (B, T, D)`` in the caller's order (or None), ``dstates0`` (``(B, U)``
            each) and the weight gradients in Keras' layout and ``get_weights()`` order.
        """
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<rnnkit engine {self.name!r}>"


def fast_supported(layer) -> bool:
    """Whether the fast (feature-major and compiled) kernels implement ``layer``'s
    configuration: the standard activations, and for GRU ``reset_after=True``."""
    name = layer.cell_spec.name
    if layer.activation is not activations.tanh:
        return False
    if name == "simple_rnn":
        return True
    if layer.recurrent_activation is not activations.sigmoid:
        return False
    return name == "lstm" or (name == "gru" and layer.reset_after)
