"""keras-io style programs on real data, run with the import swapped to rnnkit, that learn:

* text classification from raw review strings: ``text_dataset_from_directory`` on an
  ``aclImdb``-style tree of real IMDB reviews, ``TextVectorization`` adapted on the texts,
  ``Embedding -> Bidirectional(LSTM) -> Dense`` trained on the string batches;
* a forecaster of the airline passengers series, windows from
  ``timeseries_dataset_from_array``, trained from a Python generator with ``steps_per_epoch``.
"""
from __future__ import annotations

import csv
import gzip
import os

import numpy as np
import pytest

from rnnkit import keras
from rnnkit.keras import layers

DATA = os.environ.get("RNNKIT_DATA")
needs_data = pytest.mark.skipif(not DATA, reason="set RNNKIT_DATA to the shared data folder (CI does)")


def _write_imdb_tree(root, per_class: int) -> None:
    """The first ``per_class`` train reviews of each label as aclImdb/train/{neg,pos}/<id>_<rating>.txt."""
    wanted = {"negative": per_class, "positive": per_class}
    with gzip.open(os.path.join(DATA, "imdb_reviews.csv.gz"), "rt", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            label = row["sentiment"]
            if row["split"] != "train" or wanted[label] == 0:
                if not any(wanted.values()):
                    break
                continue
            wanted[label] -= 1
            folder = root / ("pos" if label == "positive" else "neg")
            folder.mkdir(parents=True, exist_ok=True)
            (folder / f"{row['id']}_{row['rating']}.txt").write_text(row["review"], encoding="utf-8")


@needs_data
@pytest.mark.slow
def test_text_vectorization_bidirectional_lstm_on_raw_reviews(tmp_path):
    root = tmp_path / "aclImdb" / "train"
    _write_imdb_tree(root, per_class=150)
    keras.utils.set_random_seed(1337)
    raw_train_ds, raw_val_ds = keras.utils.text_dataset_from_directory(
        root, batch_size=32, validation_split=0.2, subset="both", seed=1337, verbose=False)
    assert raw_train_ds.class_names == ["neg", "pos"]

    vectorize_layer = layers.TextVectorization(max_tokens=2000, output_mode="int", output_sequence_length=80)
    vectorize_layer.adapt((x for x, _ in raw_train_ds))
    model = keras.Sequential([
        vectorize_layer,
        layers.Embedding(2000, 16),
        layers.Bidirectional(layers.LSTM(8)),
        layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    model.optimizer.learning_rate = 0.01
    history = model.fit(raw_train_ds, validation_data=raw_val_ds, epochs=6, verbose=0)
    losses = history.history["loss"]
    # chance is log 2 = 0.693 on balanced labels; the model fits its 240 training reviews
    assert losses[-1] < 0.35, losses
    assert history.history["accuracy"][-1] > 0.9
    assert len(history.history["val_loss"]) == 6
    probs = model.predict(np.array(["A wonderful, moving film.", "Dull and awful."]), verbose=0)
    assert probs.shape == (2, 1)


def _airline_series():
    with open(os.path.join(DATA, "airline_passengers.csv"), newline="") as fh:
        return np.array([float(r["Count"]) for r in csv.DictReader(fh)], dtype="float32")


@needs_data
def test_timeseries_forecaster_trained_from_a_generator():
    series = _airline_series()
    assert series.shape == (144,)
    # log removes the growing seasonal swing; standardize on the training part only
    logs = np.log(series)
    split = 120
    mean, std = logs[:split].mean(), logs[:split].std()
    scaled = ((logs - mean) / std)[:, None]
    window = 12
    # window i: months i .. i+11, target month i+12; training targets stay before the split
    train_ds = keras.utils.timeseries_dataset_from_array(
        scaled, scaled[window:, 0], sequence_length=window, batch_size=16, end_index=split - 1,
        shuffle=True, seed=0)
    val_ds = keras.utils.timeseries_dataset_from_array(
        scaled, scaled[window:, 0], sequence_length=window, batch_size=16, start_index=split - window)
    assert sum(len(x) for x, _ in train_ds) == split - window and sum(len(x) for x, _ in val_ds) == 144 - split

    def forever(ds):
        while True:
            for x, y in ds:
                yield x, y

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input((window, 1)), layers.LSTM(16), layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=0.01), loss="mse", metrics=["mae"])
    baseline = float(np.mean(np.concatenate([y for _, y in train_ds]) ** 2))  # predicting the mean
    history = model.fit(forever(train_ds), steps_per_epoch=len(train_ds), epochs=30,
                        validation_data=val_ds, verbose=0)
    assert history.history["loss"][-1] < 0.05 * baseline, history.history["loss"][-5:]
    val_mse = model.evaluate(val_ds, verbose=0)[0]
    assert val_mse < 0.3 * float(np.mean(np.concatenate([y for _, y in val_ds]) ** 2))
    forecast = model.predict(val_ds, verbose=0)[:, 0] * std + mean
    actual = logs[split:]
    assert np.mean(np.abs(np.exp(forecast) - np.exp(actual))) < 60  # passengers (thousands); the mean is ~470
