"""The reference engine: each cell's own ``*_sequence_forward``/``*_sequence_backward``.

Those functions live in the cell modules, written as the equations, time-major
``(T, B, ...)`` in processing order; this engine only lays the inputs out for them
and back. Every other engine is tested against it.
"""
from __future__ import annotations

import numpy as np

from .base import Engine, Output, Run


class ReferenceEngine(Engine):
    name = "reference"

    def forward(self, layer, run: Run, train: bool) -> Output:
        x = run.x
        # Time-major and in processing order, contiguous so each step is one block.
        xs = np.ascontiguousarray((x[:, ::-1] if run.reverse else x).transpose(1, 0, 2))
        if run.dp is not None:
            xs *= run.dp
        H, finals, kcache = layer.reference_forward(xs, run.states0, run.mt, run.rdp)
        return Output(H.transpose(1, 0, 2), finals, False, (kcache, run.dp, run.reverse))

    def backward(self, layer, state, dseq, out_mask, dfinals, input_grad=True):
        kcache, dp, reverse = state
        dH = None
        if dseq is not None:
            dH = np.ascontiguousarray(dseq.transpose(1, 0, 2))
            if out_mask is not None:
                dH *= out_mask
        dxs, dstates0, grads = layer.reference_backward(dH, dfinals, kcache)
        if dp is not None:
            dxs *= dp
        dx = dxs.transpose(1, 0, 2)
        dx = np.ascontiguousarray(dx[:, ::-1] if reverse else dx)
        return dx, dstates0, grads
