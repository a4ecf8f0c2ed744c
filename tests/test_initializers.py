"""rnnkit.initializers: Keras' formulas (limits, standard deviations, orthogonality),
seeding, config round trips and errors."""
from __future__ import annotations

import math

import numpy as np
import pytest

from rnnkit import initializers as I

RNG = lambda: np.random.default_rng(0)  # noqa: E731


def test_constants():
    assert not I.get("zeros")((3, 4), "float32", RNG()).any()
    np.testing.assert_array_equal(I.get("ones")((2,), "float64", RNG()), [1.0, 1.0])
    np.testing.assert_array_equal(I.Constant(2.5)((2, 2), "float32", RNG()), np.full((2, 2), 2.5))
    np.testing.assert_array_equal(I.Identity(2.0)((2, 3), "float64", RNG()), 2 * np.eye(2, 3))


@pytest.mark.parametrize("name,limit", [
    ("glorot_uniform", math.sqrt(6 / (200 + 300))),
    ("he_uniform", math.sqrt(6 / 200)),
    ("lecun_uniform", math.sqrt(3 / 200)),
])
def test_uniform_variance_scaling_limits(name, limit):
    w = I.get(name)((200, 300), "float64", RNG())
    assert w.dtype == np.float64 and w.shape == (200, 300)
    assert np.abs(w).max() <= limit and np.abs(w).max() > 0.98 * limit
    assert w.std() == pytest.approx(limit / math.sqrt(3), rel=0.02)


@pytest.mark.parametrize("name,std", [
    ("glorot_normal", math.sqrt(2 / (200 + 300))),
    ("he_normal", math.sqrt(2 / 200)),
    ("lecun_normal", math.sqrt(1 / 200)),
])
def test_truncated_normal_variance_scaling(name, std):
    w = I.get(name)((200, 300), "float64", RNG())
    assert w.std() == pytest.approx(std, rel=0.03)
    # truncated at two standard deviations of the underlying normal
    assert np.abs(w).max() <= 2 * std / 0.87962566103423978 + 1e-12


@pytest.mark.parametrize("shape", [(5, 5), (3, 7), (7, 3), (2, 3, 4)])
def test_orthogonal(shape):
    w = I.Orthogonal(gain=1.5)(shape, "float64", RNG())
    m = w.reshape(-1, shape[-1])
    small = min(m.shape)
    gram = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(gram, 2.25 * np.eye(small), atol=1e-10)


def test_seed_makes_draws_repeatable_and_generator_is_used():
    a = I.GlorotUniform(seed=3)
    w1 = a((4, 4), "float32", np.random.default_rng(3))
    w2 = a((4, 4), "float32", np.random.default_rng(3))
    np.testing.assert_array_equal(w1, w2)
    w3 = a((4, 4), "float32", np.random.default_rng(4))
    assert not np.array_equal(w1, w3)


@pytest.mark.parametrize("init", [I.Constant(0.3), I.RandomUniform(-0.2, 0.4, seed=1),
                                  I.RandomNormal(0.1, 0.2), I.TruncatedNormal(0.0, 0.5),
                                  I.VarianceScaling(2.0, "fan_out", "uniform"), I.Orthogonal(0.7),
                                  I.GlorotUniform(seed=9), I.Identity(3.0)])
def test_config_round_trip(init):
    again = I.get(I.serialize(init))
    assert type(again) is type(init) and again.get_config() == init.get_config()


def test_errors():
    with pytest.raises(ValueError, match="Unknown initializer 'glorot'"):
        I.get("glorot")
    with pytest.raises(ValueError, match="Unknown initializer class"):
        I.get({"class_name": "Nope", "config": {}})
    with pytest.raises(TypeError, match="initializer must be"):
        I.get(3)
    with pytest.raises(ValueError, match="mode must be"):
        I.VarianceScaling(mode="fan_sideways")
    with pytest.raises(ValueError, match="rank >= 2"):
        I.Orthogonal()((3,), "float32", RNG())
    with pytest.raises(ValueError, match="2-D shape"):
        I.Identity()((2, 2, 2), "float32", RNG())
