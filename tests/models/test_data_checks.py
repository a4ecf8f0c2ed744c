"""models/data_checks.py: what fit/evaluate/predict accept, and the errors that name the
argument, what was expected and what was received."""
from __future__ import annotations

import numpy as np
import pytest

from rnnkit.keras import Input, Model, layers, models


def _seq():
    m = models.Sequential([layers.Input((4, 3)), layers.LSTM(2), layers.Dense(1)])
    m.compile(optimizer="sgd", loss="mse")
    return m


def test_x_required():
    with pytest.raises(ValueError, match="fit: x is required"):
        _seq().fit(None, np.zeros((2, 1)), verbose=0)


def test_ragged_x_is_refused_with_a_hint():
    ragged = np.empty(2, object)
    ragged[0], ragged[1] = [1, 2], [3]
    with pytest.raises(ValueError, match="pad_sequences"):
        _seq().fit(ragged, np.zeros((2, 1)), verbose=0)


def test_sample_counts_must_agree():
    m = _seq()
    with pytest.raises(ValueError, match="same number of samples; received x with 3 and y with 2"):
        m.fit(np.zeros((3, 4, 3)), np.zeros((2, 1)), verbose=0)
    with pytest.raises(ValueError, match="sample_weight must have one entry per sample"):
        m.fit(np.zeros((3, 4, 3)), np.zeros((3, 1)), sample_weight=np.ones(2), verbose=0)


def test_shape_must_match_the_model():
    with pytest.raises(ValueError, match=r"expects x of shape \(None, 4, 3\); received x of shape \(2, 4, 5\)"):
        _seq().fit(np.zeros((2, 4, 5)), np.zeros((2, 1)), verbose=0)
    with pytest.raises(ValueError, match=r"features=3; received input of shape \(2, 4, 5\)"):
        _seq().predict(np.zeros((2, 4, 5)), verbose=0)
    with pytest.raises(ValueError, match="expects x of shape"):
        _seq().evaluate(np.zeros((2, 4)), np.zeros((2, 1)), verbose=0)


def test_multi_input_model_checks_each_input():
    a, b = Input((3,)), Input((2,))
    out = layers.Dense(1)(layers.Concatenate()([a, b]))
    m = Model([a, b], out)
    m.compile(optimizer="sgd", loss="mse")
    m.fit([np.zeros((4, 3)), np.zeros((4, 2))], np.zeros((4, 1)), verbose=0)
    with pytest.raises(ValueError):
        m.fit([np.zeros((4, 3))], np.zeros((4, 1)), verbose=0)
    with pytest.raises(ValueError):
        m.fit([np.zeros((4, 3)), np.zeros((5, 2))], np.zeros((4, 1)), verbose=0)


def test_valid_data_trains():
    m = _seq()
    h = m.fit(np.random.default_rng(0).normal(size=(6, 4, 3)), np.ones((6, 1)), epochs=2, verbose=0)
    assert len(h.history["loss"]) == 2 and h.history["loss"][1] < h.history["loss"][0]
