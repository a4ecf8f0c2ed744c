"""Losses: Keras 3 golden values/gradients, finite differences, reduction, resolution, errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rnnkit import losses
from rnnkit.losses import (BinaryCrossentropy, CategoricalCrossentropy, Huber, MeanAbsoluteError,
                           MeanSquaredError, SparseCategoricalCrossentropy)

DATA = np.load(Path(__file__).parent / "fixtures" / "training" / "losses.npz")
CASES = sorted({k.split("/")[0] for k in DATA.files if not k.startswith("_")})


def _case(name):
    spec = json.loads(str(DATA[f"{name}/spec"]))
    sw_key = f"{name}/sample_weight"
    return (getattr(losses, spec["class_name"])(**spec["kwargs"]), DATA[f"{name}/y_true"],
            DATA[f"{name}/y_pred"], DATA[sw_key] if sw_key in DATA.files else None)


@pytest.mark.parametrize("case", CASES)
def test_matches_keras_value_and_gradient(case):
    loss, y_true, y_pred, sw = _case(case)
    value, grad = loss.value_and_gradient(y_true, y_pred, sample_weight=sw)
    assert isinstance(value, float)
    assert grad.shape == y_pred.shape and grad.dtype == np.float32
    np.testing.assert_allclose(value, DATA[f"{case}/value"], rtol=1e-5)
    expected = DATA[f"{case}/grad"]
    np.testing.assert_allclose(grad, expected, rtol=1e-5, atol=1e-5 * np.abs(expected).max())
    assert loss(y_true, y_pred, sample_weight=sw) == value
    np.testing.assert_array_equal(loss.gradient(y_true, y_pred, sample_weight=sw), grad)


def test_fixtures_exercise_clipping():
    # Saturated probabilities (exact 0/1, 1e-9) must have exactly zero gradient, as in Keras.
    for case in ("bce_2d", "cce_2d", "scce_2d"):
        loss, y_true, y_pred, sw = _case(case)
        clipped = (y_pred < 1e-7) | (y_pred > 1 - 1e-7)
        assert clipped.any()
        if case == "bce_2d":
            assert np.all(loss.gradient(y_true, y_pred)[clipped] == 0)


# ----------------------------------------------------------------------------- finite differences
def _probs(rng, shape):
    p = rng.uniform(0.05, 1.0, size=shape)
    return p / p.sum(-1, keepdims=True)


def _fd_cases():
    rng = np.random.default_rng(0)
    b, t, c = 4, 3, 5
    onehot = lambda shape: np.eye(shape[-1])[rng.integers(0, shape[-1], size=shape[:-1])]  # noqa: E731
    binary = lambda shape: rng.integers(0, 2, size=shape).astype(float)  # noqa: E731
    away_from = lambda x, kink: x + np.where(np.abs(x - kink) < 0.05, 0.1, 0.0)  # noqa: E731
    yt_reg, yt_reg3 = rng.normal(size=(b, c)), rng.normal(size=(b, t, c))
    return [
        ("bce", BinaryCrossentropy(), binary((b, c)), rng.uniform(0.05, 0.95, (b, c)), None),
        ("bce_smooth_3d_sw", BinaryCrossentropy(label_smoothing=0.2), binary((b, t, 1)),
         rng.uniform(0.05, 0.95, (b, t, 1)), rng.uniform(0.5, 2, (b,))),
        ("bce_logits", BinaryCrossentropy(from_logits=True), binary((b, c)), rng.normal(size=(b, c)) * 3,
         rng.uniform(0.5, 2, (b, 1))),
        ("cce", CategoricalCrossentropy(), onehot((b, c)), _probs(rng, (b, c)), None),
        ("cce_unnormalized_3d", CategoricalCrossentropy(label_smoothing=0.1), onehot((b, t, c)),
         rng.uniform(0.1, 2.0, (b, t, c)), rng.uniform(0.5, 2, (b, t))),
        ("cce_logits_soft", CategoricalCrossentropy(from_logits=True), _probs(rng, (b, c)),
         rng.normal(size=(b, c)), rng.uniform(0.5, 2, (b,))),
        ("scce", SparseCategoricalCrossentropy(), rng.integers(0, c, (b,)), _probs(rng, (b, c)), None),
        ("scce_3d_unnormalized", SparseCategoricalCrossentropy(), rng.integers(0, c, (b, t, 1)),
         rng.uniform(0.1, 0.9, (b, t, c)), rng.uniform(0.5, 2, (b, t))),
        ("scce_logits_3d", SparseCategoricalCrossentropy(from_logits=True), rng.integers(0, c, (b, t)),
         rng.normal(size=(b, t, c)) * 2, rng.uniform(0.5, 2, (b,))),
        ("mse", MeanSquaredError(), yt_reg, rng.normal(size=(b, c)), rng.uniform(0.5, 2, (b,))),
        ("mse_flat", MeanSquaredError(), rng.normal(size=(b, 1)), rng.normal(size=(b,)), None),
        ("mae_3d", MeanAbsoluteError(), yt_reg3, away_from(rng.normal(size=(b, t, c)), yt_reg3), None),
        ("huber", Huber(), yt_reg, yt_reg + away_from(rng.normal(size=(b, c)) * 2, 1.0) * 1.0, None),
        ("huber_delta_3d", Huber(delta=0.3), yt_reg3,
         yt_reg3 + away_from(away_from(rng.normal(size=(b, t, c)), 0.3), -0.3), rng.uniform(0.5, 2, (b, t))),
    ]


@pytest.mark.parametrize("name,loss,y_true,y_pred,sw", _fd_cases(), ids=[c[0] for c in _fd_cases()])
def test_gradient_matches_finite_differences_float64(name, loss, y_true, y_pred, sw):
    y_pred = np.asarray(y_pred, dtype=np.float64)
    value, grad = loss.value_and_gradient(y_true, y_pred, sample_weight=sw)
    assert grad.dtype == np.float64 and grad.shape == y_pred.shape
    h = 1e-6
    numeric = np.zeros_like(y_pred)
    for idx in np.ndindex(y_pred.shape):
        plus, minus = y_pred.copy(), y_pred.copy()
        plus[idx] += h
        minus[idx] -= h
        numeric[idx] = (loss(y_true, plus, sw) - loss(y_true, minus, sw)) / (2 * h)
    np.testing.assert_allclose(grad, numeric, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("loss", [BinaryCrossentropy(), CategoricalCrossentropy(), SparseCategoricalCrossentropy()])
def test_gradient_is_zero_where_probabilities_are_clipped(loss):
    y_pred = np.array([[1e-9, 0.5, 1 - 1e-9], [0.2, 0.3, 0.5]])
    y_true = np.array([0, 2]) if isinstance(loss, SparseCategoricalCrossentropy) else np.eye(3)[[0, 2]]
    grad = loss.gradient(y_true, y_pred)
    h = 1e-10  # stays inside the clipped region, where the loss is flat
    for idx in [(0, 0), (0, 2)]:
        plus, minus = y_pred.copy(), y_pred.copy()
        plus[idx] += h
        minus[idx] -= h
        assert loss(y_true, plus) == loss(y_true, minus)
        if not isinstance(loss, CategoricalCrossentropy):  # CCE renormalizes, so others still move
            assert grad[idx] == 0


# ----------------------------------------------------------------------------- reduction & weights
def test_many_to_many_loss_is_mean_over_batch_and_time():
    rng = np.random.default_rng(1)
    y_true = np.eye(4)[rng.integers(0, 4, size=(5, 7))]
    y_pred = _probs(rng, (5, 7, 4))
    per_step = losses.categorical_crossentropy(y_true, y_pred)
    assert per_step.shape == (5, 7)
    loss = CategoricalCrossentropy()
    assert loss(y_true, y_pred) == pytest.approx(per_step.mean(), rel=1e-12)
    sw = rng.uniform(size=5)
    expected = (per_step * sw[:, None]).sum() / per_step.size
    assert loss(y_true, y_pred, sample_weight=sw) == pytest.approx(expected, rel=1e-12)
    assert loss(y_true, y_pred, sample_weight=sw[:, None]) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(loss.gradient(y_true, y_pred, sw), loss.gradient(y_true, y_pred, sw[:, None]))
    sw_t = rng.uniform(size=(5, 7))
    assert loss(y_true, y_pred, sample_weight=sw_t) == pytest.approx((per_step * sw_t).mean(), rel=1e-12)


def test_reductions():
    rng = np.random.default_rng(2)
    y_true, y_pred, sw = rng.normal(size=(6, 3)), rng.normal(size=(6, 3)), rng.uniform(size=6)
    per_sample = losses.mse(y_true, y_pred)
    assert MeanSquaredError(reduction="sum")(y_true, y_pred, sw) == pytest.approx((per_sample * sw).sum())
    assert MeanSquaredError(reduction="mean_with_sample_weight")(y_true, y_pred, sw) == pytest.approx(
        (per_sample * sw).sum() / sw.sum())
    np.testing.assert_allclose(MeanSquaredError(reduction="none")(y_true, y_pred, sw), per_sample * sw)
    with pytest.raises(ValueError, match="reduction='none'"):
        MeanSquaredError(reduction="none").gradient(y_true, y_pred)
    with pytest.raises(ValueError, match=r"`reduction` must be one of .*received reduction='avg'"):
        MeanSquaredError(reduction="avg")
    value, grad = MeanSquaredError().value_and_gradient(np.zeros((0, 3)), np.zeros((0, 3)))
    assert value == 0.0 and grad.shape == (0, 3)


def test_dtype_follows_y_pred():
    y_true, y_pred = np.eye(3)[[0, 1]], np.full((2, 3), 1 / 3)
    assert CategoricalCrossentropy().gradient(y_true, y_pred.astype(np.float32)).dtype == np.float32
    assert CategoricalCrossentropy().gradient(y_true, y_pred).dtype == np.float64
    # An explicit computation dtype still hands the gradient back in y_pred's dtype.
    grad = CategoricalCrossentropy(dtype="float32").gradient(y_true, y_pred)
    assert grad.dtype == np.float64
    np.testing.assert_array_equal(grad, CategoricalCrossentropy().gradient(y_true, y_pred.astype(np.float32)))
    assert CategoricalCrossentropy().gradient(y_true, y_pred.astype(np.float16)).dtype == np.float16


def test_function_forms_return_per_sample_values():
    rng = np.random.default_rng(3)
    y_true, y_pred = rng.integers(0, 2, size=(4, 3)).astype(float), rng.uniform(0.1, 0.9, (4, 3))
    np.testing.assert_allclose(losses.binary_crossentropy(y_true, y_pred, label_smoothing=0.1),
                               BinaryCrossentropy(label_smoothing=0.1).call(y_true, y_pred))
    assert losses.mae(y_true, y_pred).shape == (4,)
    assert losses.mean_squared_error is losses.mse and losses.mean_absolute_error is losses.mae
    assert losses.huber(y_true, y_pred, delta=0.1).shape == (4,)
    assert losses.sparse_categorical_crossentropy([0, 2], _probs(rng, (2, 3))).shape == (2,)
    assert losses.categorical_crossentropy(np.eye(3)[[0, 2]], rng.normal(size=(2, 3)), from_logits=True).shape == (2,)


# ----------------------------------------------------------------------------- validation
def test_shape_mismatch_errors():
    with pytest.raises(ValueError, match=r"must have the same shape.*y_true.shape=\(4, 2\), y_pred.shape=\(4, 3\)"):
        MeanSquaredError()(np.zeros((4, 2)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"y_true.shape=\(4,\), y_pred.shape=\(4, 3\)"):
        BinaryCrossentropy()(np.zeros(4), np.full((4, 3), 0.5))
    assert MeanSquaredError()(np.zeros(4), np.ones((4, 1))) == 1.0   # Keras-allowed pairing
    assert MeanSquaredError()(np.zeros((4, 1)), np.ones(4)) == 1.0
    with pytest.raises(ValueError, match=r"`sample_weight` must broadcast to the per-sample shape \(4,\).*received shape \(3,\)"):
        MeanSquaredError()(np.zeros((4, 2)), np.zeros((4, 2)), sample_weight=np.ones(3))


def test_sparse_label_errors():
    loss = SparseCategoricalCrossentropy()
    y_pred = np.full((3, 4), 0.25)
    with pytest.raises(ValueError, match=r"class indices in \[0, 4\); received out-of-range values \[-1, 4\]"):
        loss([0, 4, -1], y_pred)
    with pytest.raises(ValueError, match=r"must contain integer class indices; received \[1.5\]"):
        loss([0, 1.5, 2], y_pred)
    with pytest.raises(ValueError, match=r"must hold one class index per prediction, shape \(3,\).*y_true.shape=\(3, 2\)"):
        loss(np.zeros((3, 2)), y_pred)
    assert loss(np.array([[0.0], [1.0], [3.0]]), y_pred) == pytest.approx(np.log(4))


@pytest.mark.parametrize("factory,arg", [
    (lambda: BinaryCrossentropy(label_smoothing=1.5), "label_smoothing"),
    (lambda: CategoricalCrossentropy(label_smoothing=-0.1), "label_smoothing"),
    (lambda: BinaryCrossentropy(from_logits="yes"), "from_logits"),
    (lambda: Huber(delta=-1.0), "delta"),
])
def test_bad_arguments(factory, arg):
    with pytest.raises(ValueError, match=rf"`{arg}` must be .*received {arg}="):
        factory()


# ----------------------------------------------------------------------------- resolution & config
@pytest.mark.parametrize("identifier,cls", [
    ("binary_crossentropy", BinaryCrossentropy), ("BinaryCrossentropy", BinaryCrossentropy),
    ("bce", BinaryCrossentropy), ("categorical_crossentropy", CategoricalCrossentropy),
    ("sparse_categorical_crossentropy", SparseCategoricalCrossentropy),
    ("SparseCategoricalCrossentropy", SparseCategoricalCrossentropy),
    ("mse", MeanSquaredError), ("MSE", MeanSquaredError), ("mean_squared_error", MeanSquaredError),
    ("mae", MeanAbsoluteError), ("mean_absolute_error", MeanAbsoluteError), ("huber", Huber),
    ("Huber", Huber), ("huber_loss", Huber), ("Mean_Squared_Error", MeanSquaredError),
    (losses.binary_crossentropy, BinaryCrossentropy), (losses.mse, MeanSquaredError), (Huber, Huber),
])
def test_get_resolves(identifier, cls):
    assert type(losses.get(identifier)) is cls


def test_get_instances_dicts_callables_and_unknown_names():
    loss = Huber(delta=0.3)
    assert losses.get(loss) is loss and losses.get(None) is None
    assert losses.get(losses.serialize(loss)).delta == 0.3
    custom = losses.get(lambda y_true, y_pred: np.abs(y_true - y_pred).max(axis=-1))
    assert custom(np.zeros((2, 3)), np.ones((2, 3))) == 1.0
    # the callable is differentiated on the tape (rnnkit.ops); max's tie splits evenly
    np.testing.assert_allclose(custom.gradient(np.zeros((2, 3)), np.ones((2, 3))), np.full((2, 3), 1 / 6))
    config = json.loads(json.dumps(losses.serialize(custom)))
    assert config["config"]["fn"] == "<lambda>"
    with pytest.raises(ValueError, match="custom function '<lambda>', which cannot be rebuilt"):
        losses.deserialize(config)
    with pytest.raises(ValueError, match=r"Unknown loss 'msee'; expected one of \[.*'mse'.*\]"):
        losses.get("msee")
    with pytest.raises(ValueError, match="Could not interpret loss identifier 5"):
        losses.get(5)


@pytest.mark.parametrize("loss", [
    BinaryCrossentropy(from_logits=True, label_smoothing=0.1), CategoricalCrossentropy(label_smoothing=0.2),
    SparseCategoricalCrossentropy(from_logits=True, reduction="sum"), MeanSquaredError(name="m"),
    MeanAbsoluteError(), Huber(delta=2.0)])
def test_config_round_trip(loss):
    config = losses.serialize(loss)
    assert json.loads(json.dumps(config)) == config
    clone = losses.deserialize(config)
    assert type(clone) is type(loss) and clone.get_config() == loss.get_config()


def test_keras_configs_are_accepted():
    keras_bce = {"name": "binary_crossentropy", "reduction": "sum_over_batch_size", "from_logits": True,
                 "label_smoothing": 0.0, "axis": -1}
    assert BinaryCrossentropy.from_config(keras_bce).from_logits
    keras_scce = {"name": "sparse_categorical_crossentropy", "reduction": "sum_over_batch_size",
                  "from_logits": False, "ignore_class": None}
    assert isinstance(SparseCategoricalCrossentropy.from_config(keras_scce), SparseCategoricalCrossentropy)
    with pytest.raises(ValueError, match="`axis` must be -1"):
        BinaryCrossentropy.from_config(dict(keras_bce, axis=1))
