"""rnnkit.activations: values against their formulas, derivatives against finite
differences (float64), lookup and errors."""
from __future__ import annotations

import math

import numpy as np
import pytest

from rnnkit import activations

Z = np.linspace(-4.0, 4.0, 41)
Z = Z[np.abs(Z) > 1e-3]  # away from kinks (relu at 0), where one-sided differences disagree
SELU_A, SELU_S = 1.6732632423543772, 1.0507009873554805

FORMULAS = {
    "linear": lambda z: z,
    "tanh": np.tanh,
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "hard_sigmoid": lambda z: np.clip(z / 6 + 0.5, 0, 1),
    "relu": lambda z: np.maximum(z, 0),
    "relu6": lambda z: np.clip(z, 0, 6),
    "elu": lambda z: np.where(z > 0, z, np.exp(z) - 1),
    "selu": lambda z: SELU_S * np.where(z > 0, z, SELU_A * (np.exp(z) - 1)),
    "softplus": lambda z: np.log1p(np.exp(z)),
    "softsign": lambda z: z / (1 + np.abs(z)),
    "exponential": np.exp,
    "silu": lambda z: z / (1 + np.exp(-z)),
    "gelu": lambda z: np.array([0.5 * t * (1 + math.erf(t / math.sqrt(2))) for t in z]),
}


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_values_follow_the_formula(name):
    np.testing.assert_allclose(activations.get(name)(Z), FORMULAS[name](Z), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_backward_equals_finite_differences(name):
    act = activations.get(name)
    rng = np.random.default_rng(0)
    dy = rng.normal(size=Z.shape)
    y = act(Z)
    got = act.backward(None if act.from_output else Z, y, dy)
    h = 1e-6
    if name in ("hard_sigmoid", "relu6"):  # kinks at +-3 and 6 lie on the grid
        keep = (np.abs(np.abs(Z) - 3) > 1e-3) & (np.abs(Z - 6) > 1e-3)
    else:
        keep = np.ones_like(Z, bool)
    want = dy * (act(Z + h) - act(Z - h)) / (2 * h)
    np.testing.assert_allclose(got[keep], want[keep], rtol=1e-6, atol=1e-7)


def test_softmax_rows_sum_to_one_and_gradient():
    rng = np.random.default_rng(1)
    z = rng.normal(size=(3, 5))
    y = activations.softmax(z)
    np.testing.assert_allclose(y.sum(-1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_allclose(y, np.exp(z) / np.exp(z).sum(-1, keepdims=True), rtol=1e-12)
    dy = rng.normal(size=z.shape)
    got = activations.softmax.backward(z, y, dy)
    want = np.zeros_like(z)
    h = 1e-6
    for idx in np.ndindex(z.shape):
        e = np.zeros_like(z)
        e[idx] = h
        want[idx] = ((activations.softmax(z + e) - activations.softmax(z - e)) * dy).sum() / (2 * h)
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-8)


def test_softmax_is_stable_for_large_inputs():
    y = activations.softmax(np.array([[1000.0, 0.0, -1000.0]]))
    assert np.isfinite(y).all() and y[0, 0] == pytest.approx(1.0)


def test_get_names_aliases_and_errors():
    assert activations.get(None) is activations.linear
    assert activations.get("swish") is activations.get("silu")
    assert activations.get("TANH") is activations.tanh
    assert activations.get(activations.relu) is activations.relu
    assert activations.serialize(activations.tanh) == "tanh"
    assert "tanh" in activations.names()
    with pytest.raises(ValueError, match="Unknown activation 'tanhh'"):
        activations.get("tanhh")
    with pytest.raises(TypeError, match="activation must be a name"):
        activations.get(3.0)
