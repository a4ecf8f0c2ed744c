"""Each train_on_batch step updates the weights as Keras 3 does (fixtures from real Keras)."""
from __future__ import annotations

import glob
import json
import os

import numpy as np
import pytest

from rnnkit import optimizers
from rnnkit.keras import layers
from rnnkit.keras.models import Sequential

FIXTURES = sorted(glob.glob(os.path.join(os.path.dirname(__file__), "..", "fixtures", "train_steps", "*.npz")))


def build(spec):
    cells = {
        "simple_rnn": lambda: layers.SimpleRNN(3),
        "lstm": lambda: layers.LSTM(3),
        "gru": lambda: layers.GRU(3),
        "bilstm": lambda: layers.Bidirectional(layers.LSTM(3)),
    }
    model = Sequential([layers.Input(shape=(spec["timesteps"],), dtype="int32"),
                        layers.Embedding(spec["vocab"], 4, mask_zero=True),
                        cells[spec["cell"]](), layers.Dense(spec["units"], activation=spec["activation"])])
    cls, kw = spec["optimizer"]
    model.compile(optimizer=getattr(optimizers, cls)(**kw), loss=spec["loss"], metrics=spec["metrics"])
    return model


def test_fixtures_exist():
    assert len(FIXTURES) >= 20


@pytest.mark.parametrize("path", FIXTURES, ids=[os.path.basename(p)[:-4] for p in FIXTURES])
def test_train_on_batch_matches_keras(path):
    data = np.load(path, allow_pickle=False)
    spec = json.loads(bytes(data["spec"]).decode())
    model = build(spec)
    n = spec["n_weights"]
    model.set_weights([data[f"w0_{k}"] for k in range(n)])
    for step in range(3):
        result = model.train_on_batch(data[f"x{step}"], data[f"y{step}"])
        np.testing.assert_allclose(result, data[f"result{step}"], rtol=1e-5, atol=1e-6,
                                   err_msg=f"loss/metrics after step {step}")
        for k, w in enumerate(model.get_weights()):
            expected = data[f"w{step + 1}_{k}"]
            np.testing.assert_allclose(w, expected, rtol=1e-5, atol=2e-6,
                                       err_msg=f"weight {k} ({model.weight_names[k]}) after step {step}")
