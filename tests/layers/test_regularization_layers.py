"""SpatialDropout1D, GaussianNoise, GaussianDropout, ActivityRegularization: inference is
the identity, training statistics, gradients (float64 finite differences), masks, the
activity penalty reaching fit(), errors, config."""
from __future__ import annotations

import numpy as np
import pytest

from gradcheck_lists import check
from rnnkit import layers as L
from rnnkit.keras import Input, Sequential

F64 = {"dtype": "float64"}


@pytest.mark.parametrize("make", [lambda: L.SpatialDropout1D(0.4, seed=1, **F64),
                                  lambda: L.GaussianNoise(0.5, seed=1, **F64),
                                  lambda: L.GaussianDropout(0.4, seed=1, **F64)])
def test_identity_at_inference_and_masks(make, rng):
    layer = make()
    x = rng.normal(size=(4, 6, 5))
    np.testing.assert_array_equal(layer(x), x)
    mask = np.ones((4, 6), bool)
    assert layer.compute_mask(x, mask) is mask
    y, cache = layer.forward(x, training=True)
    assert not np.allclose(y, x)
    g = rng.normal(size=x.shape)
    dx = layer.backward(g, cache)
    if isinstance(layer, L.GaussianNoise):
        np.testing.assert_array_equal(dx, g)
    else:
        np.testing.assert_allclose(dx, g * (y / x))  # the same noise multiplies the gradient
    clone = L.deserialize(L.serialize(layer))
    assert type(clone) is type(layer)


def test_spatial_dropout_drops_whole_channels(rng):
    layer = L.SpatialDropout1D(0.5, seed=3)
    x = np.ones((200, 6, 8), "float32")
    y = layer.forward(x, training=True)[0]
    assert np.all((y == 0) | np.isclose(y, 2.0))
    assert np.all(y.min(axis=1) == y.max(axis=1))  # constant along the steps
    assert abs((y == 0).mean() - 0.5) < 0.05


def test_noise_statistics():
    x = np.ones((400, 50), "float64")
    y = L.GaussianDropout(0.2, seed=0, **F64).forward(x, training=True)[0]
    assert abs(y.mean() - 1) < 0.01 and abs(y.std() - np.sqrt(0.25)) < 0.01
    z = L.GaussianNoise(0.3, seed=0, **F64).forward(x, training=True)[0]
    assert abs(z.mean() - 1) < 0.01 and abs(z.std() - 0.3) < 0.01


def test_activity_regularization_value_and_gradient(rng):
    layer = L.ActivityRegularization(l1=0.05, l2=0.1, **F64)
    x = rng.normal(size=(4, 3, 5))
    np.testing.assert_array_equal(layer(x), x)
    assert layer.losses == [pytest.approx((0.05 * np.abs(x).sum() + 0.1 * (x * x).sum()) / 4)]
    check(layer, x, rng, with_losses=True)


def test_activity_penalty_reaches_fit(rng):
    """The reported loss includes the penalty, and training shrinks the activations."""
    x = rng.normal(size=(64, 4)).astype("float32")
    y = rng.normal(size=(64, 1)).astype("float32")

    def model(l2):
        m = Sequential([Input(shape=(4,)), L.Dense(8, kernel_initializer="ones"),
                        L.ActivityRegularization(l2=l2), L.Dense(1)])
        m.compile("sgd", "mse")
        return m

    plain, reg = model(0.0), model(1.0)
    reg.set_weights(plain.get_weights())
    h = plain.layers[0](x)
    penalty = float((h * h).sum() / len(x))
    assert reg.evaluate(x, y, verbose=0, batch_size=64) == pytest.approx(
        plain.evaluate(x, y, verbose=0, batch_size=64) + penalty, rel=1e-5)
    reg.fit(x, y, epochs=5, batch_size=16, verbose=0)
    h2 = reg.layers[0](x)
    assert float((h2 * h2).sum() / len(x)) < 0.5 * penalty


def test_bad_arguments():
    with pytest.raises(ValueError, match="rate"):
        L.SpatialDropout1D(1.0)
    with pytest.raises(ValueError, match="stddev"):
        L.GaussianNoise(-1)
    with pytest.raises(ValueError, match="l1"):
        L.ActivityRegularization(l1=-0.1)
    with pytest.raises(ValueError, match="steps, channels"):
        L.SpatialDropout1D(0.1)(np.zeros((2, 3)))
