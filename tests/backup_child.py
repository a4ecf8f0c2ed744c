"""Child process for the kill-and-resume test of BackupAndRestore.

    python tests/backup_child.py OUT_DIR [--kill-at N] [--save-freq epoch|N] [--no-backup]

Trains a small seeded LSTM model (with dropout, so layer random states matter) for
3 epochs of 5 batches; with ``--kill-at N`` it SIGKILLs itself right after global batch
N (after BackupAndRestore has run for that batch). A run that finishes writes its final
weights and optimizer iterations to ``OUT_DIR/final.npz``.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

import rnnkit  # noqa: E402
from rnnkit import callbacks, layers, optimizers  # noqa: E402
from rnnkit.backup import BackupAndRestore  # noqa: E402
from rnnkit.models import Sequential  # noqa: E402


class KillAt(callbacks.Callback):
    def __init__(self, n):
        super().__init__()
        self.n, self.seen = n, 0

    def on_train_batch_end(self, batch, logs=None):
        self.seen += 1
        if self.seen == self.n:
            os.kill(os.getpid(), signal.SIGKILL)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--kill-at", type=int, default=0)
    p.add_argument("--save-freq", default="epoch")
    p.add_argument("--no-backup", action="store_true")
    a = p.parse_args()
    rnnkit.set_seed(0)
    data = np.random.default_rng(1)
    x = data.standard_normal((40, 6, 3)).astype("float32")
    y = (x.sum(axis=(1, 2)) > 0).astype("float32")[:, None]
    model = Sequential([layers.Input(shape=(6, 3)), layers.LSTM(8, dropout=0.3),
                        layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=optimizers.Adam(learning_rate=optimizers.schedules.ExponentialDecay(
        0.01, decay_steps=4, decay_rate=0.9)), loss="binary_crossentropy", metrics=["acc"])
    cbs = []
    if not a.no_backup:
        freq = a.save_freq if a.save_freq == "epoch" else int(a.save_freq)
        cbs.append(BackupAndRestore(os.path.join(a.out, "backup"), save_freq=freq))
    if a.kill_at:
        cbs.append(KillAt(a.kill_at))
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=cbs)
    np.savez(os.path.join(a.out, "final.npz"), iterations=model.optimizer.iterations,
             **{f"w{i}": w for i, w in enumerate(model.get_weights())})


if __name__ == "__main__":
    main()
