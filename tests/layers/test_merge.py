"""Merge layers: values, finite-difference gradients (float64), shapes, masks, errors, config."""
from __future__ import annotations

import numpy as np
import pytest

from gradcheck import numeric
from rnnkit import layers as L
from rnnkit.keras import Input

F64 = {"dtype": "float64"}

REFERENCE = {
    "Add": lambda xs: xs[0] + xs[1] + xs[2],
    "Multiply": lambda xs: xs[0] * xs[1] * xs[2],
    "Average": lambda xs: (xs[0] + xs[1] + xs[2]) / 3,
    "Maximum": lambda xs: np.maximum(np.maximum(xs[0], xs[1]), xs[2]),
    "Minimum": lambda xs: np.minimum(np.minimum(xs[0], xs[1]), xs[2]),
    "Concatenate": lambda xs: np.concatenate(xs, axis=-1),
}


def check_gradients(layer, xs, rng, tol=1e-7):
    out, cache = layer.forward(xs)
    up = rng.normal(size=out.shape)
    grads = layer.backward(up, cache)
    assert len(grads) == len(xs)

    def f():
        return float(np.sum(layer.forward(xs)[0] * up))

    for i, (x, g) in enumerate(zip(xs, grads)):
        assert g.shape == x.shape, f"input {i}"
        idx, num = numeric(f, x, max_entries=40)
        err = np.abs(g.reshape(-1)[idx] - num).max()
        assert err < tol, f"input {i}: max error {err:.2e}"


@pytest.mark.parametrize("name", list(REFERENCE))
def test_values_and_gradients_three_inputs(name, rng):
    layer = getattr(L, name)(**F64)
    xs = [rng.normal(size=(2, 3, 4)) for _ in range(3)]
    np.testing.assert_allclose(layer(xs), REFERENCE[name](xs))
    check_gradients(layer, xs, rng)


def test_subtract_and_broadcasting(rng):
    a, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 1, 4))
    np.testing.assert_allclose(L.Subtract(**F64)([a, b]), a - b)
    check_gradients(L.Subtract(**F64), [a, b], rng)
    for cls in (L.Add, L.Multiply, L.Average, L.Maximum):
        check_gradients(cls(**F64), [a, b], rng)
    assert L.Add().compute_output_shape([(None, 3, 4), (None, 1, 4)]) == (None, 3, 4)


def test_concatenate_other_axes(rng):
    a, b = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4))
    layer = L.Concatenate(axis=1, **F64)
    np.testing.assert_allclose(layer([a, b]), np.concatenate([a, b], axis=1))
    check_gradients(layer, [a, b], rng)
    assert layer.compute_output_shape([(None, 3, 4), (None, None, 4)]) == (None, None, 4)
    assert L.Concatenate().compute_output_shape([(None, 3, 4), (None, 3, 2)]) == (None, 3, 6)


def test_symbolic_calls_and_functional_helpers():
    a, b = Input(shape=(5, 3)), Input(shape=(5, 2))
    assert L.concatenate([a, b]).shape == (None, 5, 5)
    assert L.add([a, a]).shape == (None, 5, 3)
    assert L.average([a, a, a]).shape == (None, 5, 3)
    assert L.multiply([a, a]).shape == (None, 5, 3)
    assert L.maximum([a, a]).shape == L.minimum([a, a]).shape == L.subtract([a, a]).shape


def test_masks_combine_as_in_keras():
    m1 = np.array([[1, 1, 0], [1, 0, 0]], bool)
    m2 = np.array([[1, 0, 0], [1, 1, 1]], bool)
    xs = [np.zeros((2, 3, 4)), np.zeros((2, 3, 4))]
    np.testing.assert_array_equal(L.Add().compute_mask(xs, [m1, m2]), m1 & m2)
    np.testing.assert_array_equal(L.Concatenate().compute_mask(xs, [m1, None]), m1)
    assert L.Concatenate().compute_mask(xs, [None, None]) is None
    assert L.Add().compute_mask(xs, None) is None
    time = L.Concatenate(axis=1).compute_mask(xs, [m1, None])
    np.testing.assert_array_equal(time, np.concatenate([m1, np.ones((2, 3), bool)], axis=1))


def test_errors():
    a, b = np.zeros((2, 3)), np.zeros((2, 4))
    with pytest.raises(ValueError, match=r"Add 'add' expects inputs of the same shape .* received shapes "
                                         r"\[\(2, 3\), \(2, 4\)\]"):
        L.Add(name="add")([a, b])
    with pytest.raises(ValueError, match="expects a list of at least 2 input arrays; received a list of 1"):
        L.Multiply()([a])
    with pytest.raises(ValueError, match="expects a list of exactly 2"):
        L.Subtract()([a, a, a])
    with pytest.raises(ValueError, match="matching shapes except on the concatenation axis"):
        L.Concatenate(axis=1)([np.zeros((2, 3, 4)), np.zeros((2, 3, 5))])
    with pytest.raises(ValueError, match="same rank"):
        L.Concatenate()([np.zeros((2, 3, 4)), np.zeros((2, 3))])
    with pytest.raises(ValueError, match="batch axis 0 cannot be joined"):
        L.Concatenate(axis=0)([a, a])
    with pytest.raises(ValueError, match=r"expects a list of at least 2 inputs; received a list of 1"):
        L.Add()([Input(shape=(3,))])
    with pytest.raises(TypeError, match="received a mix"):
        L.Add()([Input(shape=(3,)), a])


def test_config_round_trip():
    layer = L.Concatenate(axis=1, name="cat")
    clone = L.deserialize(L.serialize(layer))
    assert isinstance(clone, L.Concatenate) and clone.axis == 1 and clone.name == "cat"
    assert isinstance(L.deserialize(L.serialize(L.Average())), L.Average)
