"""The feature-major NumPy engine: the cells' equations with fewer, contiguous NumPy calls.

Each step's state is stored ``(F, B)`` (see :mod:`.layout`), so every gate block is a
contiguous run of rows, and the bulk products run on a helper thread while the
step loop goes on (see :mod:`..threads`). The per-cell kernels are in
:mod:`.simple_rnn`, :mod:`.lstm` and :mod:`.gru`; with ``compiled_gates`` (the
``rnnkit[jit]`` extra) each step's gates are one compiled pass.
"""
from __future__ import annotations

import numpy as np

from ..... import config
from .. import compiled
from ..base import Engine, Output, Run, fast_supported
from . import gru, layout, lstm, simple_rnn
from .layout import Workspace, workspace
from .low_memory import LowMemoryEngine

supports = fast_supported

_KERNELS = {"simple_rnn": simple_rnn, "lstm": lstm, "gru": gru}
# The compiled gate passes, per cell (None: the NumPy gate lines).
_GATES = {"simple_rnn": (None, None), "lstm": ("lstm_fm_gates_train", "lstm_fm_gates"),
          "gru": ("gru_fm_gates_train", "gru_fm_gates")}
# The compiled elementwise part of a backward step, per cell (where there is one).
_BACK_GATES = {"lstm": "lstm_fm_back_gates", "gru": "gru_fm_back_gates"}


class FeatureMajorEngine(Engine):
    """See the module; ``compiled_gates`` uses the compiled gate pass of each step."""

    def __init__(self, compiled_gates: bool):
        self.compiled_gates = compiled_gates
        self.name = "feature_major+compiled_gates" if compiled_gates else "feature_major"

    def forward(self, layer, run: Run, train: bool) -> Output:
        chunk = config.settings().chunk
        kernels = _KERNELS[layer.cell_spec.name]
        ws = workspace(layer)
        XH = layout.inputs_fm(run.x, run.reverse, run.dp, layer.use_bias, layer.units, ws)
        mt = run.mt
        drop = None if mt is None else ~mt.reshape(mt.shape[0], 1, mt.shape[1])
        s0 = [np.ascontiguousarray(s.T) for s in run.states0]
        rd = None if run.rdp is None else np.ascontiguousarray(run.rdp.T)
        gates = None
        if self.compiled_gates and XH.dtype == np.float32:
            names = _GATES[layer.cell_spec.name]
            gates = compiled.gate_pass(names[0] if train else names[1])
        HS, finals, kcache = kernels.forward(layer.cell_spec, XH, s0, layer.kernel, layer.recurrent_kernel,
                                             layer.bias, drop, rd, train, ws, gates, chunk)
        # Copies: the kernels' arrays are pooled (reused by the next call).
        finals = [np.array(f.T, order="C") for f in finals]
        state = (kcache, mt, run.dp, run.reverse) if train else None
        return Output(HS[1:].transpose(2, 0, 1), finals, False, state)

    def backward(self, layer, state, dseq, out_mask, dfinals, input_grad=True):
        kcache, mt, dp, reverse = state
        batch = kcache[0].shape[2]  # XH (T + 1, rows, B)
        units, dt = layer.units, layer.dtype
        # Feature-major (U, B) copies the kernels may update in place.
        dfin = [np.zeros((units, batch), dt) if d is None else np.array(d.T, order="C") for d in dfinals]
        dHT = None
        if dseq is not None:
            dHT = np.empty((dseq.shape[1], units, batch), dt)
            if out_mask is None:
                np.copyto(dHT, dseq.transpose(1, 2, 0))
            else:
                np.multiply(dseq.transpose(1, 2, 0), out_mask.reshape(dHT.shape[0], 1, batch), out=dHT)
        keep, drop = layout.mask_fm(mt, dt)
        name = layer.cell_spec.name
        extra = {}
        if name in _BACK_GATES and self.compiled_gates and dt == np.float32:
            extra["gates"] = compiled.gate_pass(_BACK_GATES[name])
        dxs, dstates0, grads = _KERNELS[name].backward(dHT, dfin, kcache, keep, drop, config.settings().chunk,
                                                       input_grad=input_grad, **extra)
        dstates0 = [np.ascontiguousarray(d.T) for d in dstates0]
        if dxs is None:
            return None, dstates0, grads
        if dp is not None:
            dxs *= dp
        # (T, B, D) memory seen as (B, T, D): Embedding reads it without a copy.
        dx = dxs.transpose(1, 0, 2)
        if reverse:
            dx = dx[:, ::-1]
        return dx, dstates0, grads
