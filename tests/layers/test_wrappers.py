"""TimeDistributed (layers/wrappers.py): equals the inner layer applied step by step,
gradients by finite differences, masks passed through, config round trip."""
from __future__ import annotations

import numpy as np
import pytest

from gradcheck import check_layer_gradients
from rnnkit import layers as L

B, T, D, U = 3, 4, 5, 2


def _td(rng, **kw):
    layer = L.TimeDistributed(L.Dense(U, activation="tanh", dtype="float64"), dtype="float64", **kw)
    layer.build((None, T, D))
    layer.set_weights([rng.normal(0, 0.5, w.shape) for w in layer.get_weights()])
    return layer


def test_equals_inner_layer_at_every_step(rng):
    layer = _td(rng)
    x = rng.normal(size=(B, T, D))
    out = layer(x)
    assert out.shape == (B, T, U)
    for t in range(T):
        np.testing.assert_allclose(out[:, t], layer.layer(x[:, t]), rtol=0, atol=1e-12)


def test_gradients(rng):
    layer = _td(rng)
    x = rng.normal(size=(B, T, D))
    up = [rng.normal(size=(B, T, U))]
    check_layer_gradients(layer, x, up)


def test_mask_passes_through_and_weights_are_the_inner_layers(rng):
    layer = _td(rng)
    m = np.ones((B, T), bool)
    m[0, 2:] = False
    np.testing.assert_array_equal(layer.compute_mask(None, m), m)
    assert [w.shape for w in layer.get_weights()] == [(D, U), (U,)]
    assert layer.count_params() == D * U + U
    assert layer.param_formula() == f"{D} x {U} + {U}"


def test_config_round_trip(rng):
    layer = _td(rng)
    again = L.deserialize(L.serialize(layer))
    again.build((None, T, D))
    again.set_weights(layer.get_weights())
    x = rng.normal(size=(B, T, D))
    np.testing.assert_array_equal(again(x), layer(x))


def test_rejects_a_non_layer():
    with pytest.raises((TypeError, ValueError), match="TimeDistributed"):
        L.TimeDistributed("dense")
