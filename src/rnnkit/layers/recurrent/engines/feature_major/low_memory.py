"""LSTM training in less memory on the feature-major engine: keep every step's
state, recompute the gates in backward.

Full-storage training keeps, per step, the inputs and states ``XH`` (D + 1 + U rows),
the gates and cell state ``G`` (5U rows) and the backward factors ``F`` (4U rows):
for LSTM(64) on 16 features, 81 + 576 rows a step. ``memory="low"`` keeps ``XH``
(the weight gradients read it anyway) and the cell state entering each chunk of
steps:

- forward is the inference forward over the whole sequence, which fills ``XH``'s
  state rows;
- backward takes segments of ``k`` steps, last to first. :func:`.lstm.regate`
  rebuilds a segment's ``G`` and ``F`` from the known states: one stacked product
  for all its steps and one gate pass in which only ``c`` runs step to step (no
  step's product waits for the step before). The segment's usual BPTT follows.

Extra work against full storage: each step's product once more, in bulk, and one
gate pass. Per segment, the thread of the step loop runs two thirds of the next
segment's products and the helper thread the rest and the gate pass, next to the
weight gradients it already computes (``bench/long_sequences.py``: LSTM(64),
T = 10,000, 1.3-1.4x the time of full storage in a third of its memory). Memory:
``XH`` plus two segments' ``G`` and ``F``. Results equal full
storage to float rounding (the recomputed product is summed in another order).
Cells other than LSTM, and the other engines, recompute whole segments instead
(:mod:`..recompute`).
"""
from __future__ import annotations

import numpy as np

from ..... import config
from ..base import Engine, Output, Run
from ..recompute import segment_steps
from ..threads import Helper
from . import layout, lstm


class LowMemoryEngine(Engine):
    """See the module; ``inner`` is the feature-major engine it stands in for."""

    def __init__(self, inner, every: int | None = None):
        self.inner, self.every = inner, every
        self.name = f"low_memory({inner.name})"

    def forward(self, layer, run: Run, train: bool) -> Output:
        if not train:
            return self.inner.forward(layer, run, False)
        chunk = config.settings().chunk
        ws = layout.workspace(layer)
        XH, drop, s0, rd = layout.run_inputs(layer, run, ws)
        marks: list = []
        # Segments of whole chunks; c is marked where each starts.
        k = -(-segment_steps(XH.shape[0] - 1, self.every) // chunk) * chunk
        HS, finals, _ = lstm.forward(layer.cell_spec, XH, s0, layer.kernel, layer.recurrent_kernel,
                                     layer.bias, drop, rd, False, ws,
                                     self.inner.gate_pass("lstm_fm_gates", XH.dtype), chunk, c_marks=marks,
                                     mark_every=k // chunk)
        finals = [np.array(f.T, order="C") for f in finals]
        return Output(HS[1:].transpose(2, 0, 1), finals, False,
                      (XH, HS, marks, drop, rd, run.mt, run.dp, run.reverse, chunk, k))

    def backward(self, layer, state, dseq, out_mask, dfinals, input_grad=True):
        XH, HS, marks, drop, rd, mt, dp, reverse, chunk, k = state
        steps, batch = XH.shape[0] - 1, XH.shape[2]
        units, dt = layer.units, layer.dtype
        dim = layer.kernel.shape[0]
        W, Wx, RK, perm = lstm.working_weights(layer.cell_spec, layer.kernel, layer.recurrent_kernel,
                                               layer.bias)
        gates = self.inner.gate_pass("lstm_fm_regate", dt)
        back = self.inner.gate_pass("lstm_fm_back_gates", dt)
        d = layout.state_grads_fm(dfinals, units, batch, dt)
        keep, dropf = layout.mask_fm(mt, dt)
        bufs = [(np.empty((min(k, steps) + 1, 5 * units, batch), dt),
                 np.empty((min(k, steps), 4 * units, batch), dt)) for _ in range(2)]
        dxs = np.empty((steps, batch, dim), dt) if input_grad else None
        starts = list(range(((steps - 1) // k) * k, -1, -k))

        def segment(j):
            a = starts[j]
            n = min(a + k, steps) - a
            G, F = bufs[j % 2]
            return a, n, G[:n + 1], F[:n]

        def products(j, part):
            a, n, G, _ = segment(j)
            m = (2 * n) // 3
            lo, hi = (0, m) if part == 0 else (m, n)
            lstm.regate_products(XH[a + lo:a + hi + 1], marks[a // k], W, G[lo:hi + 1])

        def gates_of(j):
            products(j, 1)
            a, n, G, F = segment(j)
            G[0, 4 * units:] = marks[a // k]
            lstm.regate_gates(G, F, None if drop is None else drop[a:a + n], gates)

        grads = None
        # Per segment, this thread runs the products of the segment before and the step
        # loop; the helper thread its gate pass and the weight gradients (about even).
        with Helper(k * batch * W.size, batch * RK.size) as helper:
            products(0, 0)
            ready = helper.submit(gates_of, 0)
            for j in range(len(starts)):
                ready.result()
                a, n, G, F = segment(j)
                b = a + n
                if j + 1 < len(starts):
                    products(j + 1, 0)
                    ready = helper.submit(gates_of, j + 1)
                dHT = layout.output_grads_fm(None if dseq is None else dseq[:, a:b],
                                             None if out_mask is None else out_mask[a:b], dt)
                cache = (XH[a:b + 1], G, None, F, rd, Wx, RK, perm, dim, None)
                dxp, d, g = lstm.backward(dHT, d, cache, None if keep is None else keep[a:b],
                                          None if dropf is None else dropf[a:b], chunk, back, input_grad)
                if input_grad:
                    dxs[a:b] = dxp
                if grads is None:
                    grads = g
                else:
                    for acc, gi in zip(grads, g):
                        acc += gi
        dx, dstates0 = layout.caller_grads(dxs, d, dp, reverse)
        return dx, dstates0, grads
