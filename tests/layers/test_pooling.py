"""MaxPooling1D, AveragePooling1D, GlobalMaxPooling1D, GlobalAveragePooling1D: values
against direct loops, float64 finite-difference gradients, masks, shapes, errors, config."""
from __future__ import annotations

import math

import numpy as np
import pytest

from gradcheck_lists import check
from rnnkit import layers as L
from rnnkit.keras import Input, Model

F64 = {"dtype": "float64"}
MASK = np.array([[1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0, 0], [0, 1, 1, 1, 1, 1, 1]], bool)


def reference_pool(x, k, s, padding, op):
    t = x.shape[1]
    if padding == "same":
        n = math.ceil(t / s)
        before = max((n - 1) * s + k - t, 0) // 2
    else:
        n, before = (t - k) // s + 1, 0
    out = []
    for i in range(n):
        lo = i * s - before
        window = x[:, max(lo, 0):min(lo + k, t)]  # padding never counts
        out.append(op(window, axis=1))
    return np.stack(out, axis=1)


@pytest.mark.parametrize("cls, op", [(L.MaxPooling1D, np.max), (L.AveragePooling1D, np.mean)])
@pytest.mark.parametrize("k, s, pad", [(2, None, "valid"), (3, 2, "valid"), (3, 2, "same"), (2, 1, "same"),
                                       (4, 3, "same")])
def test_windowed_pooling(cls, op, k, s, pad, rng):
    x = rng.normal(size=(3, 7, 4))
    layer = cls(k, strides=s, padding=pad, **F64)
    y = layer(x)
    np.testing.assert_allclose(y, reference_pool(x, k, s or k, pad, op), atol=1e-12)
    assert layer.compute_output_shape((None, 7, 4)) == (None,) + y.shape[1:]
    check(layer, x, rng)
    cf = cls(k, strides=s, padding=pad, data_format="channels_first", **F64)
    np.testing.assert_allclose(cf(np.ascontiguousarray(x.transpose(0, 2, 1))), y.transpose(0, 2, 1))


def test_global_pooling_values_gradients_and_masks(rng):
    x = rng.normal(size=(3, 7, 4))
    gmax, gavg = L.GlobalMaxPooling1D(**F64), L.GlobalAveragePooling1D(**F64)
    np.testing.assert_allclose(gmax(x), x.max(axis=1))
    np.testing.assert_allclose(gavg(x), x.mean(axis=1))
    masked = gavg(x, mask=MASK)
    for i in range(3):
        np.testing.assert_allclose(masked[i], x[i][MASK[i]].mean(axis=0))
    np.testing.assert_allclose(gmax(x, mask=MASK), x.max(axis=1))  # Keras' max ignores the mask
    check(gmax, x, rng)
    check(gavg, x, rng)
    check(gavg, x, rng, mask=MASK)
    keep = L.GlobalAveragePooling1D(keepdims=True, data_format="channels_first", **F64)
    np.testing.assert_allclose(keep(x), x.mean(axis=2, keepdims=True))
    check(keep, x, rng)
    assert gavg.compute_mask(x, MASK) is None and gmax.compute_mask(x, MASK) is None
    full = np.zeros((3, 7), bool)
    full[0] = True
    assert np.all(gavg(x, mask=full)[1:] == 0)  # an all-masked row gives zeros, not NaN


def test_masked_average_in_a_model(rng):
    inp = Input(shape=(None,), dtype="int32")
    h = L.Embedding(10, 3, mask_zero=True)(inp)
    out = L.GlobalAveragePooling1D()(h)
    model = Model(inp, out)
    ids = np.array([[1, 2, 0, 0], [3, 4, 5, 0]])
    emb = model.layers[1].get_weights()[0]
    np.testing.assert_allclose(model.predict(ids, verbose=0)[0], emb[[1, 2]].mean(axis=0), rtol=1e-6)


def test_shapes_config_and_errors():
    assert L.GlobalMaxPooling1D()(Input(shape=(None, 5))).shape == (None, 5)
    assert L.GlobalAveragePooling1D(keepdims=True).compute_output_shape((None, 7, 5)) == (None, 1, 5)
    assert L.MaxPooling1D(2)(Input(shape=(None, 5))).shape == (None, None, 5)
    assert L.MaxPool1D is L.MaxPooling1D and L.GlobalAvgPool1D is L.GlobalAveragePooling1D
    cfg = L.AveragePooling1D(3, padding="same").get_config()
    assert cfg["pool_size"] == [3] and cfg["strides"] == [3] and cfg["padding"] == "same"
    assert isinstance(L.deserialize(L.serialize(L.MaxPooling1D(2))), L.MaxPooling1D)
    with pytest.raises(ValueError, match="padding"):
        L.MaxPooling1D(2, padding="causal")
    with pytest.raises(ValueError, match="pool_size"):
        L.MaxPooling1D(0)
    with pytest.raises(ValueError, match="fewer than"):
        L.MaxPooling1D(5)(np.zeros((1, 3, 2)))
    with pytest.raises(ValueError, match="mask"):
        L.GlobalAveragePooling1D()(np.zeros((2, 3, 2)), mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError, match="data_format"):
        L.GlobalMaxPooling1D(data_format="nhwc")
