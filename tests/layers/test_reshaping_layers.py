"""RepeatVector, Reshape, Permute, Cropping1D, ZeroPadding1D, UpSampling1D (and Flatten's
mask): values, float64 finite-difference gradients, shapes, masks, errors, config."""
from __future__ import annotations

import numpy as np
import pytest

from gradcheck_lists import check
from rnnkit import layers as L
from rnnkit.keras import Input, Model

F64 = {"dtype": "float64"}


def cases(rng):
    x3 = rng.normal(size=(3, 7, 4))
    return [
        (L.RepeatVector(3, **F64), rng.normal(size=(3, 5)), lambda x: np.stack([x] * 3, axis=1)),
        (L.Reshape((2, -1), **F64), rng.normal(size=(3, 6, 4)), lambda x: x.reshape(3, 2, 12)),
        (L.Permute((2, 1), **F64), x3, lambda x: x.transpose(0, 2, 1)),
        (L.Cropping1D((1, 2), **F64), x3, lambda x: x[:, 1:5]),
        (L.ZeroPadding1D((2, 1), **F64), x3, lambda x: np.pad(x, ((0, 0), (2, 1), (0, 0)))),
        (L.ZeroPadding1D(1, data_format="channels_first", **F64), x3,
         lambda x: np.pad(x, ((0, 0), (0, 0), (1, 1)))),
        (L.UpSampling1D(3, **F64), x3, lambda x: np.repeat(x, 3, axis=1)),
    ]


@pytest.mark.parametrize("k", range(7))
def test_values_gradients_and_shapes(k, rng):
    layer, x, ref = cases(rng)[k]
    y = layer(x)
    np.testing.assert_allclose(y, ref(x))
    assert layer.compute_output_shape(x.shape) == y.shape
    sym = layer.compute_output_shape((None,) + x.shape[1:])
    assert sym[0] is None and sym[1:] == y.shape[1:]
    check(layer, x, rng, tol=1e-8)
    assert layer.compute_mask(x, np.ones(x.shape[:2], bool)) is None  # Keras drops the mask here
    clone = L.deserialize(L.serialize(layer))
    np.testing.assert_allclose(clone(x), y)


def test_unknown_steps_and_reshape_inference():
    assert L.Reshape((-1, 2)).compute_output_shape((None, None, 4)) == (None, None, 2)
    assert L.Reshape((-1, 2)).compute_output_shape((None, 3, 4)) == (None, 6, 2)
    assert L.UpSampling1D(2).compute_output_shape((None, None, 4)) == (None, None, 4)
    assert L.Cropping1D((1, 1)).compute_output_shape((None, None, 4)) == (None, None, 4)
    out = L.RepeatVector(4)(Input(shape=(6,)))
    assert out.shape == (None, 4, 6)


def test_flatten_drops_the_mask_and_takes_data_format(rng):
    assert L.Flatten().compute_mask(np.zeros((2, 3, 4)), np.ones((2, 3), bool)) is None
    x = rng.normal(size=(2, 3, 4))
    layer = L.Flatten(data_format="channels_first", **F64)
    np.testing.assert_array_equal(layer(x), x.transpose(0, 2, 1).reshape(2, -1))
    check(layer, x, rng, tol=1e-8)
    assert L.deserialize(L.serialize(layer)).data_format == "channels_first"


def test_masks_stop_in_a_model(rng):
    inp = Input(shape=(None,), dtype="int32")
    h = L.Embedding(10, 4, mask_zero=True)(inp)
    out = L.UpSampling1D(2)(h)
    model = Model(inp, out)
    x = np.array([[1, 2, 0], [3, 0, 0]])
    y, _, mask = model._run_masked(x, None, False, False)
    assert y.shape == (2, 6, 4) and mask is None


@pytest.mark.parametrize("make, match", [
    (lambda: L.RepeatVector(0), "n must be a positive integer"),
    (lambda: L.Reshape((2, -1, -1)), "target_shape"),
    (lambda: L.Permute((1, 3)), "permutation"),
    (lambda: L.Cropping1D((1, -1)), "non-negative"),
    (lambda: L.ZeroPadding1D("a"), "padding"),
    (lambda: L.UpSampling1D(0), "positive"),
])
def test_bad_arguments(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_bad_inputs():
    with pytest.raises(ValueError, match="sample size"):
        L.Reshape((5,))(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="at least one"):
        L.Cropping1D((2, 2))(np.zeros((2, 4, 3)))
    with pytest.raises(ValueError, match=r"\(batch, features\)"):
        L.RepeatVector(2)(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match="rank 3"):
        L.Permute((2, 1))(np.zeros((2, 3, 4, 5)))
