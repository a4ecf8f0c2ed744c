"""LayerNormalization and BatchNormalization: values, float64 finite-difference gradients
(training and inference, masks), moving statistics, weights order, errors, config."""
from __future__ import annotations

import numpy as np
import pytest

from gradcheck_lists import check
from rnnkit import layers as L
from rnnkit.keras import Input, Model, Sequential

F64 = {"dtype": "float64"}
MASK = np.array([[1, 1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0, 0], [0, 1, 1, 1, 1, 1, 1]], bool)
RANDOM = {"beta_initializer": "random_normal", "gamma_initializer": "random_normal"}


@pytest.mark.parametrize("kwargs", [{}, {"axis": [1, 2]}, {"rms_scaling": True}, {"center": False},
                                    {"scale": False}, {"axis": 1, "epsilon": 1e-5}])
def test_layer_norm(kwargs, rng):
    x = rng.normal(size=(3, 7, 4)) * 2 + 1
    layer = L.LayerNormalization(**kwargs, **RANDOM, **F64)
    y = layer(x)
    axes = tuple(layer._axes)
    if not kwargs.get("rms_scaling"):
        xhat = (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True) + layer.epsilon)
        ref = xhat * (layer._bcast(layer.gamma, 3) if layer.gamma is not None else 1)
        ref = ref + (layer._bcast(layer.beta, 3) if layer.beta is not None else 0)
        np.testing.assert_allclose(y, ref, atol=1e-12)
    check(layer, x, rng)
    assert layer.compute_mask(x, MASK) is MASK


def test_batch_norm_training_and_inference(rng):
    x = rng.normal(size=(8, 5, 3)) * 3 + 2
    layer = L.BatchNormalization(momentum=0.9, **RANDOM, **F64)
    layer.build(x.shape)
    assert [n.split("/")[-1] for n in layer.weight_names] == ["gamma", "beta", "moving_mean", "moving_variance"]
    assert layer.trainable_mask == [True, True, False, False]
    y, _ = layer.forward(x, training=True)
    mean, var = x.mean(axis=(0, 1)), x.var(axis=(0, 1))
    np.testing.assert_allclose(y, (x - mean) / np.sqrt(var + 1e-3) * layer.gamma + layer.beta, atol=1e-12)
    np.testing.assert_allclose(layer.moving_mean, 0.1 * mean)
    np.testing.assert_allclose(layer.moving_variance, 0.9 + 0.1 * var)
    y_inf = layer(x)  # inference: moving statistics
    np.testing.assert_allclose(y_inf, (x - layer.moving_mean) / np.sqrt(layer.moving_variance + 1e-3)
                               * layer.gamma + layer.beta, atol=1e-12)
    check(layer, x, rng, training=True)
    check(layer, x, rng, training=False)
    check(layer, x, rng, training=True, mask=np.repeat(MASK, 3, axis=0)[:8, :5])
    check(L.BatchNormalization(axis=1, center=False, **F64), x, rng, training=True)
    check(L.BatchNormalization(**F64), rng.normal(size=(6, 4)), rng, training=True)
    frozen = L.BatchNormalization(trainable=False, **F64)
    frozen.build(x.shape)
    np.testing.assert_allclose(frozen.forward(x, training=True)[0], x / np.sqrt(1 + 1e-3))


def test_batch_norm_masked_statistics(rng):
    x = rng.normal(size=(3, 7, 2))
    layer = L.BatchNormalization(momentum=0.0, **F64)
    layer.build(x.shape)
    layer.forward(x, training=True, mask=MASK)
    kept = x[MASK]
    np.testing.assert_allclose(layer.moving_mean, kept.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(layer.moving_variance, kept.var(axis=0), rtol=1e-6)


def test_batch_norm_in_training_saves_moving_stats(tmp_path, rng):
    x = rng.normal(size=(64, 6)).astype("float32") * 4 + 3
    y = (x.sum(axis=1) > 18).astype("float32")
    model = Sequential([Input(shape=(6,)), L.BatchNormalization(), L.Dense(1, activation="sigmoid")])
    model.compile("adam", "binary_crossentropy")
    model.fit(x, y, epochs=3, batch_size=16, verbose=0)
    bn = model.layers[0]
    assert np.all(bn.moving_mean > 0.2)  # 12 steps of momentum 0.99 towards the data mean (3)
    path = tmp_path / "bn.keras"
    model.save(path)
    from rnnkit.saving import load_model

    loaded = load_model(path)
    np.testing.assert_allclose(loaded.layers[0].moving_mean, bn.moving_mean)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_normalization_masks_pass_through_a_model():
    inp = Input(shape=(None,), dtype="int32")
    h = L.Embedding(10, 4, mask_zero=True)(inp)
    h = L.LayerNormalization()(h)
    h = L.BatchNormalization()(h)
    model = Model(inp, h)
    _, _, mask = model._run_masked(np.array([[1, 2, 0]]), None, False, False)
    np.testing.assert_array_equal(mask, [[True, True, False]])


def test_errors_and_config():
    with pytest.raises(ValueError, match="axis"):
        L.LayerNormalization(axis=3).build((None, 4, 5))
    with pytest.raises(NotImplementedError, match="renorm"):
        L.BatchNormalization(renorm=True)
    with pytest.raises(ValueError, match="mask"):
        L.BatchNormalization()(np.zeros((2, 3, 4)), training=True, mask=np.ones((2, 4), bool))
    layer = L.BatchNormalization(momentum=0.5, epsilon=1e-2)
    layer.build((None, 3))
    clone = L.deserialize(L.serialize(layer))
    assert clone.momentum == 0.5 and clone.epsilon == 1e-2
    assert L.deserialize(L.serialize(L.LayerNormalization(axis=[1, 2]))).axis == [1, 2]
