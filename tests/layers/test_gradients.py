"""Finite-difference gradient checks, float64, for every layer and option combination."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from gradcheck import check_layer_gradients
from rnnkit import layers as L

B, T, D, U = 3, 5, 4, 3


def randomize(layer, rng, scale=0.5):
    layer.set_weights([rng.normal(0, scale, w.shape) for w in layer.get_weights()])


def upstream_for(layer, x, rng, **call):
    outs, _ = layer.forward(x, **call)
    outs = outs if isinstance(outs, list) else [outs]
    return [rng.normal(size=o.shape) for o in outs]


def masks(kind):
    m = np.ones((B, T), bool)
    if kind == "post":
        m[0, 3:] = False
        m[1, 1:] = False
    elif kind == "pre":
        m[0, :2] = False
        m[2, :4] = False
    elif kind == "allmasked":
        m[1, :] = False
        m[0, 4:] = False
    return None if kind == "none" else m


CELLS = {
    "simple": lambda **k: L.SimpleRNN(U, dtype="float64", **k),
    "lstm": lambda **k: L.LSTM(U, dtype="float64", **k),
    "gru": lambda **k: L.GRU(U, dtype="float64", **k),
    "gru_v1": lambda **k: L.GRU(U, dtype="float64", reset_after=False, **k),
}


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("rs,rst,gb", list(itertools.product([False, True], repeat=3)))
@pytest.mark.parametrize("mask", ["none", "post", "pre", "allmasked"])
def test_recurrent_gradients(cell, rs, rst, gb, mask, rng):
    layer = CELLS[cell](return_sequences=rs, return_state=rst, go_backwards=gb)
    layer.build((B, T, D))
    randomize(layer, rng)
    x = rng.normal(size=(B, T, D))
    m = masks(mask)
    up = upstream_for(layer, x, rng, mask=m)
    check_layer_gradients(layer, x, up, mask=m)


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("mask", ["none", "post"])
def test_initial_state_gradients(cell, mask, rng):
    layer = CELLS[cell](return_sequences=True, return_state=True)
    layer.build((B, T, D))
    randomize(layer, rng)
    x = rng.normal(size=(B, T, D))
    n = len(layer.state_names)
    init = [rng.normal(size=(B, U)) for _ in range(n)]
    m = masks(mask)
    up = upstream_for(layer, x, rng, mask=m, initial_state=init)
    check_layer_gradients(layer, x, up, initial_state=init, mask=m)


@pytest.mark.parametrize("cell,kw", [
    ("simple", {"activation": "relu"}), ("simple", {"activation": "swish"}),
    ("lstm", {"recurrent_activation": "hard_sigmoid"}), ("lstm", {"activation": "relu"}),
    ("lstm", {"activation": "gelu"}), ("gru", {"recurrent_activation": "hard_sigmoid"}),
    ("gru", {"activation": "softsign"}), ("gru_v1", {"activation": "elu"}),
    ("simple", {"use_bias": False}), ("lstm", {"use_bias": False}), ("gru", {"use_bias": False}),
    ("gru_v1", {"use_bias": False}),
])
def test_activation_and_bias_variants(cell, kw, rng):
    layer = CELLS[cell](return_sequences=True, **kw)
    layer.build((B, T, D))
    randomize(layer, rng)
    x = rng.normal(size=(B, T, D))
    up = upstream_for(layer, x, rng)
    check_layer_gradients(layer, x, up, tol=2e-5)


@pytest.mark.parametrize("cell", list(CELLS))
def test_dropout_gradients(cell, rng):
    """With fixed dropout masks (same rng state each call) the gradient is exact."""
    layer = CELLS[cell](return_sequences=True, dropout=0.3, recurrent_dropout=0.4, seed=3)
    layer.build((B, T, D))
    randomize(layer, rng)
    x = rng.normal(size=(B, T, D))
    # Re-seed before every forward so that masks repeat across finite-difference calls.
    orig = layer.forward

    def seeded_forward(*a, **k):
        layer._rng = np.random.default_rng(7)
        return orig(*a, **k)

    layer.forward = seeded_forward
    up = upstream_for(layer, x, rng, training=True)
    check_layer_gradients(layer, x, up, training=True)


@pytest.mark.parametrize("cell", ["simple", "lstm", "gru", "gru_v1"])
@pytest.mark.parametrize("merge", ["concat", "sum", "mul", "ave", None])
@pytest.mark.parametrize("rs,rst", [(True, False), (False, True), (True, True)])
def test_bidirectional_gradients(cell, merge, rs, rst, rng):
    layer = L.Bidirectional(CELLS[cell](return_sequences=rs, return_state=rst), merge_mode=merge,
                            dtype="float64")
    layer.build((B, T, D))
    randomize(layer, rng)
    x = rng.normal(size=(B, T, D))
    m = masks("post")
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


@pytest.mark.parametrize("act", ["linear", "relu", "sigmoid", "tanh", "softmax", "elu", "selu",
                                 "softplus", "softsign", "swish", "gelu", "exponential",
                                 "hard_sigmoid"])
@pytest.mark.parametrize("ndim", [2, 3])
def test_dense_gradients(act, ndim, rng):
    layer = L.Dense(U, activation=act, dtype="float64")
    shape = (B, D) if ndim == 2 else (B, T, D)
    layer.build(shape)
    randomize(layer, rng)
    x = rng.normal(size=shape)
    up = upstream_for(layer, x, rng)
    check_layer_gradients(layer, x, up, tol=1e-5)


def test_time_distributed_gradients(rng):
    layer = L.TimeDistributed(L.Dense(6, activation="softmax", dtype="float64"), dtype="float64")
    layer.build((B, T, D))
    randomize(layer, rng)
    x = rng.normal(size=(B, T, D))
    up = upstream_for(layer, x, rng)
    check_layer_gradients(layer, x, up)


@pytest.mark.parametrize("make", [
    lambda: L.Activation("tanh", dtype="float64"), lambda: L.Activation("softmax", dtype="float64"),
    lambda: L.Flatten(dtype="float64"),
])
def test_weightless_layer_gradients(make, rng):
    layer = make()
    x = rng.normal(size=(B, T, D))
    layer.build(x.shape)
    up = upstream_for(layer, x, rng)
    check_layer_gradients(layer, x, up)


def test_masking_passes_gradient_only_at_kept_steps(rng):
    # Finite differences are meaningless at a masked step (any nudge un-masks it),
    # so check the exact form: identity where kept, zero where masked.
    layer = L.Masking(0.0, dtype="float64")
    x = rng.normal(size=(B, T, D))
    x[0, 2] = 0.0
    x[2, 4] = 0.0
    y, cache = layer.forward(x)
    keep = np.ones((B, T, 1))
    keep[0, 2] = keep[2, 4] = 0
    np.testing.assert_array_equal(y, x * keep)
    np.testing.assert_array_equal(layer.compute_mask(x, None), keep[..., 0].astype(bool))
    g = rng.normal(size=x.shape)
    np.testing.assert_array_equal(layer.backward(g, cache), g * keep)


def test_embedding_gradient_scatter_adds_repeated_ids(rng):
    layer = L.Embedding(7, 4, dtype="float64")
    layer.build((None, None))
    randomize(layer, rng)
    ids = np.array([[1, 2, 2, 0], [6, 2, 1, 1]])
    up = upstream_for(layer, ids, rng)
    check_layer_gradients(layer, ids, up, check_x=False)
