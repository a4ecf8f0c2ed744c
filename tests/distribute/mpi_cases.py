"""Models, data and training runs shared by the MPI worker (mpi_worker.py, run under mpirun)
and the single-process references in test_mpi_training.py.

The model has everything that makes data parallelism hard to get exactly right: an
Embedding with mask_zero (masked steps), a Dropout layer and an LSTM with dropout and
recurrent_dropout (random masks that must match one process), seeded shuffling, a
validation split and a last batch smaller than the others (shards of unequal sizes, and
with 3 ranks a rank with an empty shard).
"""
from __future__ import annotations

import numpy as np

import rnnkit
from rnnkit import optimizers
from rnnkit.keras import layers
from rnnkit.keras.models import Sequential

N_SAMPLES = 52          # 41 training rows after validation_split=0.2: batches 16, 16, 9
BATCH = 16              # the global batch; not divisible by 3
EPOCHS = 2
OPTIMIZERS = {
    "sgd": lambda: optimizers.SGD(0.5, momentum=0.9),
    "adam": lambda: optimizers.Adam(0.01),
    "rmsprop": lambda: optimizers.RMSprop(0.01),
}


def data():
    r = np.random.default_rng(1)
    x = r.integers(1, 30, (N_SAMPLES, 7))
    lengths = r.integers(2, 8, N_SAMPLES)
    x[np.arange(7)[None, :] < (7 - lengths)[:, None]] = 0  # left padding, masked by mask_zero
    y = (r.random((N_SAMPLES, 1)) > 0.5).astype("float32")
    return x.astype("int32"), y


def build(seed: int = 7):
    rnnkit.set_seed(seed)
    return Sequential([
        layers.Input(shape=(7,), dtype="int32"),
        layers.Embedding(30, 8, mask_zero=True),
        layers.Dropout(0.25),
        layers.LSTM(6, dropout=0.2, recurrent_dropout=0.1),
        layers.Dense(1, activation="sigmoid"),
    ])


def compile_model(model, opt_name: str) -> None:
    model.compile(OPTIMIZERS[opt_name](), "binary_crossentropy", metrics=["acc"])


def train(model, batch_size: int = BATCH, epochs: int = EPOCHS):
    x, y = data()
    return model.fit(x, y, batch_size=batch_size, epochs=epochs, validation_split=0.2, verbose=0)


def run_single(opt_name: str) -> dict:
    """One process on the joined batches: the reference."""
    model = build()
    compile_model(model, opt_name)
    history = train(model)
    x, y = data()
    return {"weights": model.get_weights(), "history": history.history,
            "evaluate": model.evaluate(x, y, batch_size=10, verbose=0),
            "predict": model.predict(x, batch_size=10, verbose=0)}


REDUCTIONS = ("sum", "mean_with_sample_weight")


def run_weighted(reduction: str, strategy=None) -> list:
    """Sample and class weights with the other loss reductions: each rank's share of the
    gradient is then 1 (``sum``) or its share of the batch's weights. Global batch 7 on 29
    rows: the last batch has 1 row, so with 2 or 3 ranks some run a stand-in row."""
    from rnnkit import losses

    rnnkit.set_seed(5)
    model = Sequential([layers.Input(shape=(4, 3)), layers.SimpleRNN(5, dropout=0.3),
                        layers.Dense(1, activation="sigmoid")])
    r = np.random.default_rng(2)
    x = r.random((29, 4, 3)).astype("float32")
    y = (r.random((29, 1)) > 0.5).astype("float32")
    sw = r.random(29).astype("float32")
    loss = losses.BinaryCrossentropy(reduction=reduction)
    if strategy is None:
        model.compile("sgd", loss)
    else:
        with strategy.scope():
            model.compile("sgd", loss)
    model.fit(x, y, sample_weight=sw, class_weight={0: 1.0, 1: 2.0}, batch_size=7, epochs=2, verbose=0)
    return model.get_weights()
