"""F1Score/FBetaScore, top-k accuracies and MAPE against Keras 3 fixtures."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rnnkit import metrics
from rnnkit.keras import metrics as keras_metrics

DATA = np.load(Path(__file__).parent / "fixtures" / "training" / "extra.npz")
META = json.loads(DATA["meta"].tobytes())


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("key", sorted(META["f1"]))
def test_f1_score_matches_keras_over_two_batches(key, weighted):
    m = metrics.F1Score(**META["f1"][key])
    m.update_state(DATA["met/y1"], DATA["met/p1"], sample_weight=DATA["met/w1"] if weighted else None)
    m.update_state(DATA["met/y2"], DATA["met/p2"], sample_weight=DATA["met/w2"] if weighted else None)
    np.testing.assert_allclose(m.result(), DATA[f"met/f1/{key}/{'w' if weighted else 'u'}"], rtol=1e-5, atol=1e-6)
    m.reset_state()
    assert m.result() == 0.0


def test_fbeta_matches_keras():
    m = metrics.FBetaScore(beta=2.0, average="macro", threshold=0.5)
    m.update_state(DATA["met/y1"], DATA["met/p1"])
    np.testing.assert_allclose(m.result(), DATA["met/fbeta2_macro"], rtol=1e-5)


@pytest.mark.parametrize("k", [1, 2, 3])
def test_top_k_accuracies_match_keras(k):
    labels, scores = DATA["met/labels"], DATA["met/scores"]
    m = metrics.SparseTopKCategoricalAccuracy(k=k)
    m.update_state(labels, scores)
    np.testing.assert_allclose(m.result(), DATA[f"met/sparse_topk/{k}"], rtol=1e-6)
    m = metrics.TopKCategoricalAccuracy(k=k)
    m.update_state(np.eye(6)[labels], scores, sample_weight=np.linspace(0.5, 2, 10))
    np.testing.assert_allclose(m.result(), DATA[f"met/topk_w/{k}"], rtol=1e-6)


def test_top_k_counts_boundary_ties_as_in():
    # label 3 ties with two others for the top score: in the top 1, as Keras' in_top_k says
    assert metrics.SparseTopKCategoricalAccuracy(k=1)(np.array([3]), np.array([[0.1, 0.5, 0.5, 0.5]])) == 1.0
    assert metrics.SparseTopKCategoricalAccuracy(k=1)(np.array([0]), np.array([[0.1, 0.5, 0.5, 0.5]])) == 0.0


def test_mape_matches_keras():
    m = metrics.MeanAbsolutePercentageError()
    m.update_state(DATA["met/mape/y_true"], DATA["met/mape/y_pred"], sample_weight=np.linspace(0.1, 1, 7))
    np.testing.assert_allclose(m.result(), DATA["met/mape/w"], rtol=1e-5)


@pytest.mark.parametrize("identifier,cls", [
    ("f1_score", "F1Score"), ("F1Score", "F1Score"), ("mape", "MeanAbsolutePercentageError"),
    ("top_k_categorical_accuracy", "TopKCategoricalAccuracy"),
    ("sparse_top_k_categorical_accuracy", "SparseTopKCategoricalAccuracy")])
def test_resolved_by_name_and_exported(identifier, cls):
    m = metrics.get(identifier)
    assert type(m).__name__ == cls and m.name == identifier
    assert getattr(keras_metrics, cls) is type(m)
    again = metrics.deserialize(metrics.serialize(m))
    assert type(again) is type(m) and again.get_config() == m.get_config()


def test_in_compile_and_fit_logs():
    from rnnkit import set_seed
    from rnnkit.keras.layers import Dense
    from rnnkit.keras.models import Sequential

    set_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 4)).astype("float32")
    y = np.eye(3, dtype="float32")[rng.integers(0, 3, 60)]
    model = Sequential([Dense(3, activation="softmax", input_shape=(4,))])
    model.compile(optimizer="adam", loss="categorical_crossentropy",
                  metrics=[metrics.F1Score(average="macro"), metrics.TopKCategoricalAccuracy(k=2), "mape"])
    hist = model.fit(x, y, epochs=1, batch_size=20, verbose=0)
    assert set(hist.history) == {"loss", "f1_score", "top_k_categorical_accuracy", "mape"}
    # k=2 of 3 classes: at least as good as top-1
    assert 0.0 <= hist.history["f1_score"][0] <= 1.0


@pytest.mark.parametrize("factory,msg", [
    (lambda: metrics.F1Score(average="mean"), "average"), (lambda: metrics.F1Score(threshold=2.0), "threshold"),
    (lambda: metrics.TopKCategoricalAccuracy(k=0), "k must"), (lambda: metrics.FBetaScore(beta=0), "beta")])
def test_bad_arguments(factory, msg):
    with pytest.raises(ValueError, match=msg):
        factory()


def test_shape_errors():
    with pytest.raises(ValueError, match="num_classes"):
        metrics.F1Score().update_state(np.zeros(3), np.zeros(3))
    with pytest.raises(ValueError, match="same shape"):
        metrics.TopKCategoricalAccuracy().update_state(np.zeros((2, 3)), np.zeros((2, 4)))
