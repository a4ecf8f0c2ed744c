"""Training in less memory: keep the states every ``k`` steps, recompute the rest.

Backpropagation through time needs what the forward pass computed at every step
(gates, cell states): ``O(T)`` memory, most of a long sequence's footprint. This
engine wraps another one (the engine :func:`..select` would have chosen):

- forward runs the inner engine segment by segment *without* its per-step caches,
  keeping only the states that enter each segment (``T / k`` of them);
- backward takes the segments last to first: it re-runs the segment's forward with
  caches from its stored entering states, backpropagates through it, and hands the
  states' gradients to the segment before.

Each step's forward runs twice, so training costs about one more forward pass
(measured in ``bench/long_sequences.py``); memory holds one segment's caches. With
``k = ceil(sqrt(T))`` both the stored states and a segment's caches are ``O(sqrt(T))``.
The results equal the inner engine's: the same steps in the same order, and weight
gradients summed segment by segment (the order of that sum is the only difference).
"""
from __future__ import annotations

import math

import numpy as np

from .base import Engine, Output, Run


def segment_steps(steps: int, every: int | None) -> int:
    """Steps per segment: ``every``, or ``ceil(sqrt(steps))``."""
    return max(1, int(every) if every else math.ceil(math.sqrt(max(steps, 1))))


class RecomputeEngine(Engine):
    """See the module; ``inner`` runs each segment."""

    def __init__(self, inner: Engine, every: int | None = None):
        self.inner, self.every = inner, every
        self.name = f"recompute({inner.name})"

    def _segments(self, steps: int) -> list[tuple[int, int]]:
        k = segment_steps(steps, self.every)
        return [(a, min(a + k, steps)) for a in range(0, steps, k)]

    @staticmethod
    def _part(run: Run, x, mask, a: int, b: int, states0) -> Run:
        """Steps ``a:b`` (processing order) of ``run`` as a forward-order run."""
        return Run(x[:, a:b], None if mask is None else mask[:, a:b],
                   None if run.mt is None else run.mt[a:b], states0, run.dp, run.rdp, False)

    def forward(self, layer, run: Run, train: bool) -> Output:
        if not train:
            return self.inner.forward(layer, run, False)
        x = run.x[:, ::-1] if run.reverse else run.x
        mask = None if run.mask is None else (run.mask[:, ::-1] if run.reverse else run.mask)
        batch, steps = x.shape[:2]
        seq = (np.empty((batch, steps, layer.units), layer.dtype) if layer.return_sequences
               else np.empty((0, 0, 0), layer.dtype))
        states, entering = run.states0, []
        for a, b in self._segments(steps):
            entering.append(states)
            out = self.inner.forward(layer, self._part(run, x, mask, a, b, states), False)
            if layer.return_sequences:
                seq[:, a:b] = out.seq
            states = [np.array(s) for s in out.finals]
            del out  # frees the inner engine's pooled buffers for the next segment
        return Output(seq, states, True, (run, x, mask, entering))

    def backward(self, layer, state, dseq, out_mask, dfinals, input_grad=True):
        run, x, mask, entering = state
        batch, steps, dim = x.shape
        dx = np.empty((batch, steps, dim), layer.dtype)
        grads = None
        d = list(dfinals)
        for j, (a, b) in reversed(list(enumerate(self._segments(steps)))):
            part = self._part(run, x, mask, a, b, entering[j])
            out = self.inner.forward(layer, part, True)
            dpart = None if dseq is None else dseq[:, a:b]
            mpart = None if out_mask is None else out_mask[a:b]
            dxp, d, g = self.inner.backward(layer, out.state, dpart, mpart, d)
            del out
            dx[:, a:b] = dxp
            if grads is None:
                grads = [np.array(gi) for gi in g]
            else:
                for acc, gi in zip(grads, g):
                    acc += gi
        return (dx[:, ::-1] if run.reverse else dx), d, grads
