"""Bidirectional (layers/bidirectional.py): gradients for every merge mode and cell, the
two-layer equivalence, and parity with real Keras 3 (the ``bi_*`` golden fixtures)."""
from __future__ import annotations

import numpy as np
import pytest

import keras_parity as kp
from gradcheck import check_layer_gradients
from rnnkit import layers as L

B, T, D, U = 3, 5, 4, 3
FILES = kp.files("bi_")

CELLS = {
    "simple": lambda **k: L.SimpleRNN(U, dtype="float64", **k),
    "lstm": lambda **k: L.LSTM(U, dtype="float64", **k),
    "gru": lambda **k: L.GRU(U, dtype="float64", **k),
    "gru_v1": lambda **k: L.GRU(U, dtype="float64", reset_after=False, **k),
}


def randomize(layer, rng, scale=0.5):
    layer.set_weights([rng.normal(0, scale, w.shape) for w in layer.get_weights()])


def upstream_for(layer, x, rng, **call):
    outs, _ = layer.forward(x, **call)
    outs = outs if isinstance(outs, list) else [outs]
    return [rng.normal(size=o.shape) for o in outs]


def post_mask():
    m = np.ones((B, T), bool)
    m[0, 3:] = False
    m[1, 1:] = False
    return m


@pytest.mark.parametrize("cell", ["simple", "lstm", "gru", "gru_v1"])
@pytest.mark.parametrize("merge", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("rs,rst", [(True, False), (False, True), (True, True)])
def test_bidirectional_gradients(cell, merge, rs, rst, rng):
    layer = L.Bidirectional(CELLS[cell](return_sequences=rs, return_state=rst), merge_mode=merge,
                            dtype="float64")
    layer.build((B, T, D))
    randomize(layer, rng)
    x = rng.normal(size=(B, T, D))
    m = post_mask()
    up = upstream_for(layer, x, rng, mask=m)
    check_layer_gradients(layer, x, up, mask=m)


def test_bidirectional_initial_state_gradients(rng):
    layer = L.Bidirectional(L.LSTM(U, return_sequences=True, dtype="float64"), dtype="float64")
    layer.build((B, T, D))
    randomize(layer, rng)
    x = rng.normal(size=(B, T, D))
    init = [rng.normal(size=(B, U)) for _ in range(4)]
    up = upstream_for(layer, x, rng, initial_state=init)
    check_layer_gradients(layer, x, up, initial_state=init)


def test_bidirectional_equals_two_layers():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(B, T, D))
    bi = L.Bidirectional(L.GRU(U, return_sequences=True, return_state=True, dtype="float64"),
                         dtype="float64")
    bi.build((None, T, D))
    ws = [rng.normal(0, 0.5, w.shape) for w in bi.get_weights()]
    bi.set_weights(ws)
    out, h_f, h_b = bi(x)
    f = L.GRU(U, return_sequences=True, return_state=True, dtype="float64")
    f.build((None, T, D))
    f.set_weights(ws[:3])
    g = L.GRU(U, return_sequences=True, return_state=True, go_backwards=True, dtype="float64")
    g.build((None, T, D))
    g.set_weights(ws[3:])
    sf, hf = f(x)
    sb, hb = g(x)
    np.testing.assert_allclose(out, np.concatenate([sf, sb[:, ::-1]], -1), atol=1e-12)
    np.testing.assert_allclose(h_f, hf, atol=1e-12)
    np.testing.assert_allclose(h_b, hb, atol=1e-12)


def test_keras_fixtures_present():
    assert len(FILES) >= 80


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_keras_weights_and_count_params(path):
    kp.check_weights_and_count_params(path)


@pytest.mark.parametrize("dtype", kp.DTYPES)
@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_keras_eager_outputs(path, dtype):
    kp.check_eager_outputs(path, dtype)


@pytest.mark.parametrize("dtype", kp.DTYPES)
@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_keras_forward_backward(path, dtype):
    kp.check_forward_backward(path, dtype)
