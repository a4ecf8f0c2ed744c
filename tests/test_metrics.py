"""Metrics: Keras 3 golden results, accuracy resolution, state handling, config, errors."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rnnkit import losses, metrics
from rnnkit.metrics import (AUC, BinaryAccuracy, CategoricalAccuracy, Mean, Precision, Recall,
                            SparseCategoricalAccuracy)

DATA = np.load(Path(__file__).parent / "fixtures" / "training" / "metrics.npz")
CASES = sorted({k.split("/")[0] for k in DATA.files if not k.startswith(("_", "accuracy_resolution"))})
RESOLUTION = json.loads(str(DATA["accuracy_resolution/spec"]))


@pytest.mark.parametrize("case", CASES)
def test_matches_keras_after_each_update(case):
    spec = json.loads(str(DATA[f"{case}/spec"]))
    metric = getattr(metrics, spec["class_name"])(**spec["kwargs"])
    for k in range(2):
        sw_key = f"{case}/sample_weight/{k}"
        sw = DATA[sw_key] if sw_key in DATA.files else None
        if spec["class_name"] == "Mean":
            metric.update_state(DATA[f"{case}/y_true/{k}"], sample_weight=sw)
        else:
            metric.update_state(DATA[f"{case}/y_true/{k}"], DATA[f"{case}/y_pred/{k}"], sample_weight=sw)
        np.testing.assert_allclose(metric.result(), DATA[f"{case}/result/{k}"], rtol=1e-5, atol=1e-6,
                                   err_msg=f"{case} after update {k}")


def test_fixtures_cover_the_requested_metrics():
    kinds = {json.loads(str(DATA[f"{c}/spec"]))["class_name"] for c in CASES}
    assert {"BinaryAccuracy", "CategoricalAccuracy", "SparseCategoricalAccuracy", "Accuracy",
            "MeanAbsoluteError", "MeanSquaredError", "Precision", "Recall", "AUC", "Mean"} <= kinds
    curves = {json.loads(str(DATA[f"{c}/spec"]))["kwargs"].get("curve", "ROC") for c in CASES if c.startswith("auc")}
    assert curves == {"ROC", "PR"}


# ----------------------------------------------------------------------------- resolution
@pytest.mark.parametrize("row", RESOLUTION, ids=lambda r: f"{r['identifier']}-{r['y_true_shape']}-{r['y_pred_shape']}")
def test_accuracy_resolution_matches_keras_from_shapes(row):
    metric = metrics.get(row["identifier"], y_true_shape=row["y_true_shape"], y_pred_shape=row["y_pred_shape"])
    assert type(metric).__name__ == row["class_name"]
    assert metric.name == row["name"]


@pytest.mark.parametrize("loss,cls", [
    ("binary_crossentropy", BinaryAccuracy), (losses.BinaryCrossentropy(from_logits=True), BinaryAccuracy),
    (losses.binary_crossentropy, BinaryAccuracy), ("sparse_categorical_crossentropy", SparseCategoricalAccuracy),
    (losses.SparseCategoricalCrossentropy(), SparseCategoricalAccuracy),
    ("categorical_crossentropy", CategoricalAccuracy), ("CategoricalCrossentropy", CategoricalAccuracy),
])
def test_accuracy_resolution_from_the_loss(loss, cls):
    assert type(metrics.get("acc", loss=loss)) is cls
    # Multi-label sigmoid outputs trained with binary crossentropy use binary accuracy.
    if cls is BinaryAccuracy:
        assert type(metrics.get("accuracy", loss=loss, y_true_shape=(8, 3), y_pred_shape=(8, 3))) is cls


def test_accuracy_resolution_needs_some_information():
    with pytest.raises(ValueError, match="Cannot resolve metric 'accuracy'"):
        metrics.get("accuracy", loss="mse")
    assert type(metrics.get("Accuracy", y_true_shape=(4, 1), y_pred_shape=(4, 1))).__name__ == "BinaryAccuracy"


@pytest.mark.parametrize("identifier,cls", [
    ("mae", metrics.MeanAbsoluteError), ("mse", metrics.MeanSquaredError), ("MSE", metrics.MeanSquaredError),
    ("mean_absolute_error", metrics.MeanAbsoluteError), ("precision", Precision), ("Precision", Precision),
    ("recall", Recall), ("auc", AUC), ("AUC", AUC), ("binary_accuracy", BinaryAccuracy),
    ("sparse_categorical_accuracy", SparseCategoricalAccuracy), ("binary_crossentropy", metrics.BinaryCrossentropy),
    ("root_mean_squared_error", metrics.RootMeanSquaredError), ("mean", Mean),
])
def test_get_keeps_the_users_spelling_as_name(identifier, cls):
    metric = metrics.get(identifier)
    assert type(metric) is cls and metric.name == identifier


def test_get_other_identifiers_and_errors():
    auc = AUC(curve="PR")
    assert metrics.get(auc) is auc and metrics.get(None) is None
    assert metrics.get(metrics.serialize(auc)).curve == "PR"
    assert type(metrics.get(Recall)) is Recall

    def max_error(y_true, y_pred):
        return np.abs(np.asarray(y_true) - y_pred).max(axis=-1)
    custom = metrics.get(max_error)
    assert custom.name == "max_error"
    custom.update_state(np.zeros((2, 3)), np.array([[1.0, 2, 0], [0, 0, 4]]))
    assert custom.result() == 3.0
    with pytest.raises(ValueError, match=r"Unknown metric 'maee'; expected one of \[.*'acc'.*'mae'.*\]"):
        metrics.get("maee")


# ----------------------------------------------------------------------------- semantics
def test_mean_as_loss_tracker_and_reset():
    tracker = Mean(name="loss")
    assert tracker.result() == 0.0
    tracker.update_state(2.0, sample_weight=32)
    tracker.update_state(4.0, sample_weight=16)
    assert tracker.result() == pytest.approx((2 * 32 + 4 * 16) / 48)
    tracker.reset_state()
    assert tracker.result() == 0.0
    tracker.update_state([1.0, 2.0, 6.0])
    assert tracker.result() == 3.0
    assert tracker(np.array([[0.0, 2.0]])) == pytest.approx(10 / 4)  # __call__: update then result


def test_weighted_temporal_mean_is_mean_over_weighted_elements():
    rng = np.random.default_rng(0)
    values, sw = rng.normal(size=(4, 5)), rng.uniform(size=(4, 5))
    m = Mean()
    m.update_state(values, sample_weight=sw)
    assert m.result() == pytest.approx((values * sw).sum() / sw.sum())
    per_sample = rng.uniform(size=4)
    m = Mean()
    m.update_state(values, sample_weight=per_sample)
    assert m.result() == pytest.approx((values.mean(1) * per_sample).sum() / per_sample.sum())


def test_precision_recall_against_direct_counts():
    rng = np.random.default_rng(1)
    y_true, y_pred, sw = rng.integers(0, 2, 200), rng.uniform(size=200), rng.uniform(size=200)
    pred = y_pred > 0.5
    tp, fp, fn = (sw * (pred & (y_true == 1))).sum(), (sw * (pred & (y_true == 0))).sum(), (sw * (~pred & (y_true == 1))).sum()
    p, r = Precision(), Recall()
    p.update_state(y_true, y_pred, sample_weight=sw)
    r.update_state(y_true, y_pred, sample_weight=sw)
    assert p.result() == pytest.approx(tp / (tp + fp), rel=1e-6)
    assert r.result() == pytest.approx(tp / (tp + fn), rel=1e-6)
    p.reset_state()
    assert p.result() == 0.0


def test_auc_approximates_the_rank_statistic():
    rng = np.random.default_rng(2)
    y_true = rng.integers(0, 2, 400)
    y_pred = np.clip(rng.normal(0.4 + 0.2 * y_true, 0.2), 0, 1)
    pos, neg = y_pred[y_true == 1], y_pred[y_true == 0]
    exact = ((pos[:, None] > neg[None]).mean() + 0.5 * (pos[:, None] == neg[None]).mean())
    auc = AUC(num_thresholds=1000)
    auc.update_state(y_true[:150], y_pred[:150])
    auc.update_state(y_true[150:], y_pred[150:])
    assert auc.result() == pytest.approx(exact, abs=2e-3)
    perfect = AUC()
    perfect.update_state([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert perfect.result() == pytest.approx(1.0)
    pr = AUC(curve="PR")
    pr.update_state([0, 0, 1, 1], [0.1, 0.2, 0.8, 0.9])
    assert pr.result() == pytest.approx(1.0, abs=1e-6)


def test_temporal_accuracies():
    y_pred = np.array([[[0.1, 0.9], [0.8, 0.2]], [[0.6, 0.4], [0.3, 0.7]]])
    labels = np.array([[1, 1], [0, 1]])
    sparse = SparseCategoricalAccuracy()
    sparse.update_state(labels, y_pred)
    assert sparse.result() == 0.75
    cat = CategoricalAccuracy()
    cat.update_state(np.eye(2)[labels], y_pred, sample_weight=[1.0, 0.0])
    assert cat.result() == 0.5


def test_shape_and_argument_errors():
    with pytest.raises(ValueError, match=r"y_true.shape=\(3, 2\), y_pred.shape=\(3, 4\)"):
        CategoricalAccuracy().update_state(np.zeros((3, 2)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"sparse_categorical_accuracy must have shape \(3,\)"):
        SparseCategoricalAccuracy().update_state(np.zeros((3, 2)), np.zeros((3, 4)))
    with pytest.raises(ValueError, match=r"`sample_weight` of shape \(2,\) must match"):
        Mean().update_state(np.zeros((3, 4)), sample_weight=np.ones(2))
    with pytest.raises(ValueError, match=r"`thresholds` must be numbers in \[0, 1\]; received thresholds=\[0.5, 1.5\]"):
        Precision(thresholds=[0.5, 1.5])
    with pytest.raises(ValueError, match="`curve` must be 'ROC' or 'PR'; received curve='XY'"):
        AUC(curve="XY")
    with pytest.raises(ValueError, match="`num_thresholds` must be an integer > 1; received num_thresholds=1"):
        AUC(num_thresholds=1)
    with pytest.raises(ValueError, match="not recognized by BinaryAccuracy"):
        BinaryAccuracy(treshold=0.3)


@pytest.mark.parametrize("metric", [
    BinaryAccuracy(threshold=0.7), CategoricalAccuracy(), SparseCategoricalAccuracy(name="acc"),
    metrics.Accuracy(), metrics.MeanAbsoluteError(), metrics.MeanSquaredError(), metrics.RootMeanSquaredError(),
    metrics.BinaryCrossentropy(from_logits=True), metrics.CategoricalCrossentropy(label_smoothing=0.1),
    metrics.SparseCategoricalCrossentropy(), Mean(name="loss"), metrics.Sum(),
    Precision(thresholds=[0.2, 0.4], class_id=1), Recall(top_k=2), AUC(num_thresholds=50, curve="PR"),
    AUC(thresholds=[0.3, 0.6], multi_label=True, label_weights=[1.0, 2.0])])
def test_config_round_trip(metric):
    config = metrics.serialize(metric)
    assert json.loads(json.dumps(config)) == config
    clone = metrics.deserialize(config)
    assert type(clone) is type(metric) and clone.get_config() == metric.get_config()


def test_keras_config_matches_for_common_metrics():
    assert BinaryAccuracy().get_config() == {"name": "binary_accuracy", "dtype": "float32", "threshold": 0.5}
    assert Precision(name="p").get_config() == {"name": "p", "dtype": "float32", "thresholds": None,
                                                "top_k": None, "class_id": None}
    assert Precision().name.startswith("precision") and AUC().name.startswith("auc")
