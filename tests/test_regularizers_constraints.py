"""rnnkit.regularizers and rnnkit.constraints: values, gradients, names and configs, their
use by Dense / Conv1D / SeparableConv1D / normalization layers, and two SGD steps matching
Keras 3 (fixture from tests/fixtures/make_keras_new_layer_fixtures.py)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from gradcheck import numeric
from rnnkit import constraints, regularizers
from rnnkit.keras import Input, Sequential, layers, optimizers

FIXTURE = Path(__file__).resolve().parent / "fixtures" / "keras_regularizers" / "regularized_sgd_steps.npz"


@pytest.mark.parametrize("reg, ref", [
    (regularizers.L1(0.3), lambda w: 0.3 * np.abs(w).sum()),
    (regularizers.L2(0.2), lambda w: 0.2 * (w * w).sum()),
    (regularizers.L1L2(0.1, 0.4), lambda w: 0.1 * np.abs(w).sum() + 0.4 * (w * w).sum()),
])
def test_regularizer_values_and_gradients(reg, ref, rng):
    w = rng.normal(size=(4, 3))
    assert reg(w) == pytest.approx(ref(w))
    idx, num = numeric(lambda: reg(w), w)
    np.testing.assert_allclose(reg.gradient(w).reshape(-1)[idx], num, atol=1e-6)
    assert type(regularizers.get(regularizers.serialize(reg))) is type(reg)
    assert regularizers.get(regularizers.serialize(reg)).get_config() == reg.get_config()


def test_regularizer_names():
    assert regularizers.get("l2").l2 == 0.01 and regularizers.get("l1").l1 == 0.01
    assert isinstance(regularizers.get("l1_l2"), regularizers.L1L2)
    assert regularizers.get(None) is None
    assert regularizers.l1_l2 is regularizers.L1L2
    with pytest.raises(ValueError, match="Unknown regularizer"):
        regularizers.get("l3")
    with pytest.raises(ValueError, match="non-negative"):
        regularizers.L2(-1)


def test_constraints(rng):
    w = rng.normal(size=(5, 3)) * 2
    n = np.linalg.norm(w, axis=0, keepdims=True)
    np.testing.assert_allclose(constraints.MaxNorm(1.5)(w), w * np.minimum(n, 1.5) / (n + 1e-7))
    np.testing.assert_allclose(constraints.UnitNorm()(w), w / (n + 1e-7))
    np.testing.assert_array_equal(constraints.NonNeg()(w), np.where(w >= 0, w, 0))
    mm = constraints.MinMaxNorm(1.0, 2.0, rate=0.5)(w)
    np.testing.assert_allclose(mm, w * (0.5 * np.clip(n, 1, 2) + 0.5 * n) / (n + 1e-7))
    for name in ("max_norm", "non_neg", "unit_norm", "min_max_norm"):
        c = constraints.get(name)
        assert constraints.get(constraints.serialize(c)).get_config() == c.get_config()
    with pytest.raises(ValueError, match="Unknown constraint"):
        constraints.get("positive")


def test_layers_report_penalties_and_apply_constraints(rng):
    model = Sequential([Input(shape=(6, 3)),
                        layers.SeparableConv1D(4, 2, depthwise_regularizer="l2", pointwise_constraint="non_neg"),
                        layers.LayerNormalization(gamma_regularizer=regularizers.L1(0.5)),
                        layers.GlobalAveragePooling1D(),
                        layers.Dense(2, kernel_regularizer=regularizers.L2(0.1), kernel_constraint="unit_norm")])
    sep, ln, _, dense = model.layers
    expected = 0.01 * (sep.depthwise_kernel ** 2).sum() + 0.5 * np.abs(ln.gamma).sum() + \
        0.1 * (dense.kernel ** 2).sum()
    assert sum(model.losses) == pytest.approx(expected, rel=1e-6)
    model.compile("adam", "mse")
    model.fit(rng.normal(size=(8, 6, 3)), rng.normal(size=(8, 2)), epochs=2, batch_size=4, verbose=0)
    assert np.all(sep.pointwise_kernel >= 0)
    np.testing.assert_allclose(np.linalg.norm(dense.kernel, axis=0), 1.0, rtol=1e-5)
    cfg = dense.get_config()
    assert cfg["kernel_regularizer"] == {"class_name": "L2", "config": {"l2": 0.1}}
    assert cfg["kernel_constraint"]["class_name"] == "UnitNorm"
    clone = layers.deserialize(layers.serialize(dense))
    assert isinstance(clone.kernel_regularizer, regularizers.L2) and clone.kernel_regularizer.l2 == 0.1


def test_two_sgd_steps_match_keras():
    with np.load(FIXTURE, allow_pickle=False) as data:
        a = {k: data[k] for k in data.files}
    model = Sequential([
        Input(shape=(5, 3)),
        layers.Conv1D(4, 2, kernel_regularizer=regularizers.L1(0.02), bias_regularizer=regularizers.L2(0.05),
                      kernel_constraint=constraints.NonNeg()),
        layers.GlobalAveragePooling1D(),
        layers.Dense(2, kernel_regularizer=regularizers.L1L2(l1=0.01, l2=0.1),
                     kernel_constraint=constraints.MaxNorm(0.8), bias_constraint=constraints.UnitNorm()),
    ])
    n = len(model.get_weights())
    model.set_weights([a[f"w_{i}"] for i in range(n)])
    model.compile(optimizer=optimizers.SGD(0.1), loss="mse")
    for step in range(2):
        loss = model.train_on_batch(a["x"], a["y"])
        assert loss == pytest.approx(float(a[f"loss_{step}"]), rel=1e-5)
        for i, w in enumerate(model.get_weights()):
            np.testing.assert_allclose(w, a[f"w{step}_{i}"], rtol=1e-5, atol=1e-6)


def test_keras_import_paths():
    from rnnkit import keras

    assert keras.regularizers.l2 is regularizers.L2
    assert keras.constraints.max_norm is constraints.MaxNorm
