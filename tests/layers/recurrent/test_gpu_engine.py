"""The GPU engine (layers/recurrent/engines/array_module.py).

Its code is written on an array module ``xp``: run on NumPy here, it must equal the
reference engine for every cell and option; on a machine with CuPy and a CUDA device the
same checks run on the GPU (float32 tolerance). Without one those are skipped.
"""
from __future__ import annotations

import numpy as np
import pytest

from rnnkit import config
from rnnkit import layers as L
from rnnkit.layers.recurrent import engines
from rnnkit.layers.recurrent.engines import array_module

B, T, D, U = 3, 6, 4, 5
CELLS = {"simple": L.SimpleRNN, "lstm": L.LSTM, "gru": L.GRU}
CPU = array_module.ArrayEngine(np, "array-numpy")


def _gpu_available():
    try:
        array_module.gpu_engine()
        return True
    except ValueError:
        return False


def _case(kind, dtype, rng, **kw):
    layer = CELLS[kind](U, dtype=dtype, **kw)
    layer.build((B, T, D))
    layer.set_weights([rng.normal(0, 0.5, w.shape).astype(dtype) for w in layer.get_weights()])
    return layer


def _run(layer, engine, x, m, init, up, training):
    run = layer._prepare(x, m, training, init)
    out = engine.forward(layer, run, True)
    outputs = layer._outputs(out.seq, out.finals, layer._output_mask(run.mt), out.owned)
    outputs = [np.array(o) for o in outputs]
    g_out, dfinals = layer._split_output_grads(up)
    dseq = g_out if layer.return_sequences else None
    if not layer.return_sequences:
        om = layer._output_mask(run.mt)
        g = g_out if om is None else g_out * om[-1]
        dfinals[0] = g if dfinals[0] is None else dfinals[0] + g
    dx, dstates, grads = engine.backward(layer, out.state, dseq, layer._output_mask(run.mt), dfinals)
    return outputs + [np.array(dx)] + [np.array(d) for d in dstates] + [np.array(g) for g in grads]


def _compare(kind, engine, dtype, atol, rng, rs=True, gb=False, mask=True, drop=False, bias=True):
    layer = _case(kind, dtype, rng, return_sequences=rs, return_state=True, go_backwards=gb,
                  use_bias=bias, dropout=0.2 if drop else 0.0, recurrent_dropout=0.3 if drop else 0.0,
                  seed=3)
    x = rng.normal(size=(B, T, D)).astype(dtype)
    m = None
    if mask:
        m = np.ones((B, T), bool)
        m[0, 4:] = False
        m[2, :2] = False
    init = [rng.normal(size=(B, U)).astype(dtype) for _ in layer.state_names]
    outs = layer(x, mask=m, initial_state=init)
    up = [rng.normal(size=np.shape(o)).astype(dtype) for o in outs]
    layer._rng = np.random.default_rng(1)
    got = _run(layer, engine, x, m, init, up, drop)
    layer._rng = np.random.default_rng(1)
    with config.use_engine("reference"):
        ref = _run(layer, engines.REFERENCE, x, m, init, up, drop)
    assert len(got) == len(ref)
    for a, b in zip(ref, got):
        np.testing.assert_allclose(b, a, rtol=0, atol=atol * max(1.0, np.abs(a).max()))
    assert np.abs(ref[0]).max() > 0.05


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("rs,gb,mask,drop,bias", [(True, False, True, False, True), (False, True, True, False, True),
                                                  (True, True, False, True, True), (True, False, True, True, False)])
def test_array_engine_on_numpy_equals_reference(kind, rs, gb, mask, drop, bias, rng):
    _compare(kind, CPU, "float64", 1e-12, rng, rs=rs, gb=gb, mask=mask, drop=drop, bias=bias)


@pytest.mark.skipif(not _gpu_available(), reason="needs CuPy and a CUDA device (rnnkit[gpu])")
@pytest.mark.parametrize("kind", list(CELLS))
def test_gpu_engine_equals_reference(kind, rng):
    _compare(kind, array_module.gpu_engine(), "float32", 2e-5, rng, drop=True)


def test_gpu_engine_errors_are_clear():
    if not _gpu_available():
        with pytest.raises(ValueError, match="engine 'gpu' needs"):
            array_module.gpu_engine()
        layer = L.LSTM(3, engine="gpu")
        with pytest.raises(ValueError, match="engine 'gpu' needs"):
            layer(np.zeros((1, 2, 3), "float32"))
    layer = L.GRU(3, reset_after=False, engine="gpu")
    with pytest.raises(ValueError, match="engine 'gpu' runs tanh/sigmoid cells"):
        layer(np.zeros((1, 2, 3), "float32"))
