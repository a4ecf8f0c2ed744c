"""Finite-difference gradient checks, float64, for every layer and option combination."""
from __future__ import annotations

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
