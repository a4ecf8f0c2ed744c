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
# The compiled gate passes (training, inference), per cell (None: the NumPy gate lines).
_GATES = {"simple_rnn": (None, None), "lstm": ("lstm_fm_gates_train", "lstm_fm_gates"),
          "gru": ("gru_fm_gates_train", "gru_fm_gates")}
# The compiled elementwise part of a backward step, per cell (where there is one).
_BACK_GATES = {"lstm": "lstm_fm_back_gates", "gru": "gru_fm_back_gates"}


class FeatureMajorEngine(Engine):
    """See the module; ``compiled_gates`` uses the compiled gate pass of each step."""

    def __init__(self, compiled_gates: bool):
        self.compiled_gates = compiled_gates
        self.name = "feature_major+compiled_gates" if compiled_gates else "feature_major"

    def gate_pass(self, name: str, dtype):
        """The compiled pass ``name`` of :mod:`..compiled_kernels` where this engine uses
        them (float32, Numba present), else None (the NumPy lines)."""
        return compiled.gate_pass(name) if self.compiled_gates and dtype == np.float32 else None

    def forward(self, layer, run: Run, train: bool) -> Output:
        chunk = config.settings().chunk
        name = layer.cell_spec.name
        ws = workspace(layer)
        XH, drop, s0, rd = layout.run_inputs(layer, run, ws)
        gates = self.gate_pass(_GATES[name][0 if train else 1], XH.dtype)
        HS, finals, kcache = _KERNELS[name].forward(layer.cell_spec, XH, s0, layer.kernel, layer.recurrent_kernel,
                                                    layer.bias, drop, rd, train, ws, gates, chunk)
        # Copies: the kernels' arrays are pooled (reused by the next call).
        finals = [np.array(f.T, order="C") for f in finals]
        state = (kcache, run.mt, run.dp, run.reverse) if train else None
        return Output(HS[1:].transpose(2, 0, 1), finals, False, state)

    def backward(self, layer, state, dseq, out_mask, dfinals, input_grad=True):
        kcache, mt, dp, reverse = state
        batch = kcache[0].shape[2]  # XH (T + 1, rows, B)
        dt, name = layer.dtype, layer.cell_spec.name
        dfin = layout.state_grads_fm(dfinals, layer.units, batch, dt)
        dHT = layout.output_grads_fm(dseq, out_mask, dt)
        keep, drop = layout.mask_fm(mt, dt)
        extra = {}
        if name in _BACK_GATES:
            extra["gates"] = self.gate_pass(_BACK_GATES[name], dt)
        dxs, dstates0, grads = _KERNELS[name].backward(dHT, dfin, kcache, keep, drop, config.settings().chunk,
                                                       input_grad=input_grad, **extra)
        dx, dstates0 = layout.caller_grads(dxs, dstates0, dp, reverse)
        return dx, dstates0, grads
