"""Child process for the Ctrl-C test: trains until the parent sends SIGINT.

Prints ``batch <n>`` after each finished batch (the parent waits for one, then sends
SIGINT), and at the end one JSON line describing how fit stopped.
"""
from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

import rnnkit  # noqa: E402
from rnnkit import callbacks, layers  # noqa: E402
from rnnkit.models import Sequential  # noqa: E402


class Report(callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.batches, self.weights = 0, None

    def on_train_batch_end(self, batch, logs=None):
        self.batches += 1
        self.weights = self.model.get_weights()
        print(f"batch {self.batches}", flush=True)
        time.sleep(0.02)  # room for the signal to land between batches or inside one


def main() -> None:
    out = sys.argv[1]
    rnnkit.set_seed(0)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 8, 3)).astype("float32")
    y = rng.normal(size=(64, 1)).astype("float32")
    model = Sequential([layers.Input(shape=(8, 3)), layers.LSTM(4), layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    report = Report()
    log = os.path.join(out, "log.csv")
    result = {"interrupted": False}
    try:
        model.fit(x, y, batch_size=8, epochs=1000, verbose=0,
                  callbacks=[callbacks.CSVLogger(log), callbacks.ModelCheckpoint(os.path.join(out, "m.keras")),
                             report])
    except KeyboardInterrupt as exc:
        result = {"interrupted": True, "message": str(exc)}
    result["batches"] = report.batches
    result["iterations"] = model.optimizer.iterations
    result["same_weights"] = all(np.array_equal(a, b) for a, b in zip(model.get_weights(), report.weights))
    with open(log) as fh:
        result["csv_lines"] = fh.read().count("\n")
    result["epochs_logged"] = len(model.history.epoch)
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
