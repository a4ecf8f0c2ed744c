"""A training run that loses nothing: Ctrl-C during fit, BackupAndRestore, atomic checkpoints."""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys

import numpy as np
import pytest

import rnnkit
from rnnkit import callbacks, layers, optimizers
from rnnkit.backup import BackupAndRestore
from rnnkit.models import Sequential
from rnnkit.saving import load_model

HERE = os.path.dirname(os.path.abspath(__file__))
CHILD = os.path.join(HERE, "backup_child.py")


def data():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 6, 3)).astype("float32")
    return x, (x.sum(axis=(1, 2)) > 0).astype("float32")[:, None]


def model_(seed=0):
    rnnkit.set_seed(seed)
    model = Sequential([layers.Input(shape=(6, 3)), layers.GRU(5, dropout=0.2),
                        layers.Dense(1, activation="sigmoid")])
    model.compile(optimizer=optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["acc"])
    return model


class CtrlCAt(callbacks.Callback):
    """Sends the process a real SIGINT during batch ``batch`` of epoch ``epoch`` (``times`` times)
    and records the weights after every finished batch."""

    def __init__(self, epoch, batch, times=1):
        super().__init__()
        self.at, self.times, self.epoch = (epoch, batch), times, None
        self.after_batch = None

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            for _ in range(self.times):
                signal.raise_signal(signal.SIGINT)

    def on_train_batch_end(self, batch, logs=None):
        self.after_batch = self.model.get_weights()


def test_ctrl_c_stops_after_the_current_batch_and_closes_callbacks(tmp_path):
    x, y = data()
    model = model_()
    log, ckpt = tmp_path / "log.csv", tmp_path / "ckpt-{epoch}.keras"
    ctrl_c = CtrlCAt(epoch=1, batch=2)
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt, match="fit interrupted at epoch 2, after batch 2"):
        model.fit(x, y, batch_size=8, epochs=3, verbose=0,
                  callbacks=[callbacks.CSVLogger(log), callbacks.ModelCheckpoint(ckpt), ctrl_c])
    assert signal.getsignal(signal.SIGINT) is before  # the handler is put back
    # Batch 2 of epoch 2 finished: 5 + 3 optimizer steps, and the weights are that step's.
    assert model.optimizer.iterations == 8
    for w, v in zip(model.get_weights(), ctrl_c.after_batch):
        np.testing.assert_array_equal(w, v)
    # Files are complete: the CSV has epoch 0's row and is closed; the checkpoint loads.
    with open(log) as fh:
        rows = list(csv.DictReader(fh))
    assert [r["epoch"] for r in rows] == ["0"]
    assert sorted(os.listdir(tmp_path)) == ["ckpt-1.keras", "log.csv"]
    assert load_model(tmp_path / "ckpt-1.keras").optimizer.iterations == 5
    assert model.history.epoch == [0]


def test_second_ctrl_c_interrupts_at_once():
    x, y = data()
    model = model_()
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=8, epochs=2, verbose=0, callbacks=[CtrlCAt(0, 1, times=2)])
    assert model.optimizer.iterations == 1  # batch 1 never ran
    assert signal.getsignal(signal.SIGINT) is before


def test_an_exception_in_fit_restores_the_sigint_handler():
    x, y = data()
    model = model_()
    before = signal.getsignal(signal.SIGINT)
    boom = callbacks.LambdaCallback(on_train_batch_end=lambda b, logs: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[boom])
    assert signal.getsignal(signal.SIGINT) is before


@pytest.mark.parametrize("save_freq", ["epoch", 2])
def test_backup_and_restore_after_ctrl_c_gives_the_uninterrupted_weights(tmp_path, save_freq):
    x, y = data()
    reference = model_()
    reference.fit(x, y, batch_size=8, epochs=3, verbose=0)

    model = model_()
    backup = BackupAndRestore(tmp_path / "b", save_freq=save_freq)
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[backup, CtrlCAt(1, 3)])
    assert os.path.exists(backup.path)  # kept after an interruption
    resumed = model_(seed=5)  # other initial weights and random states: all restored
    hist = resumed.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[backup])
    assert hist.epoch == [1, 2]
    assert resumed.optimizer.iterations == reference.optimizer.iterations == 15
    for a, b in zip(resumed.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not os.path.exists(backup.path)  # deleted once fit completed


def test_backup_and_restore_arguments_and_damaged_file(tmp_path):
    with pytest.raises(ValueError, match="save_freq must be 'epoch', a positive integer"):
        BackupAndRestore(tmp_path, save_freq=0)
    with pytest.raises(TypeError, match="backup_dir must be a str or os.PathLike; received NoneType"):
        BackupAndRestore(None)
    (tmp_path / "training_state.npz").write_bytes(b"garbage")
    x, y = data()
    with pytest.raises(ValueError, match="training_state.npz is not a readable backup .*delete it"):
        model_().fit(x, y, verbose=0, callbacks=[BackupAndRestore(tmp_path)])


def run_child(out, *args):
    env = {**os.environ, "PYTHONPATH": os.path.join(HERE, "..", "src")}
    return subprocess.run([sys.executable, CHILD, str(out), *args], env=env, capture_output=True,
                          text=True, timeout=120)


def final(out):
    with np.load(out / "final.npz") as z:
        return {k: z[k] for k in z.files}


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    ref = tmp_path_factory.mktemp("ref")
    done = run_child(ref, "--no-backup")
    assert done.returncode == 0, done.stderr
    return final(ref)


@pytest.mark.parametrize("save_freq,kill_at", [
    ("3", 7),  # mid-epoch 2, backup 1 batch older than the kill
    pytest.param("epoch", 8, marks=pytest.mark.slow),  # resumes at the start of epoch 2
    pytest.param("1", 11, marks=pytest.mark.slow),  # killed right after epoch 3's first batch
])
def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(tmp_path, uninterrupted, save_freq, kill_at):
    run = tmp_path / "run"
    run.mkdir()
    killed = run_child(run, "--kill-at", str(kill_at), "--save-freq", save_freq)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert not (run / "final.npz").exists()
    assert (run / "backup" / "training_state.npz").exists()
    resumed = run_child(run, "--save-freq", save_freq)
    assert resumed.returncode == 0, resumed.stderr
    a, b = uninterrupted, final(run)
    assert int(a["iterations"]) == int(b["iterations"]) == 15
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert not (run / "backup" / "training_state.npz").exists()


def test_model_checkpoint_write_is_atomic(tmp_path, monkeypatch):
    """A crash while writing a checkpoint leaves the previous file intact and no temp file."""
    x, y = data()
    model = model_()
    path = tmp_path / "ckpt.keras"
    model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[callbacks.ModelCheckpoint(path)])
    good = path.read_bytes()
    import zipfile

    def crash(self, *a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", crash)
    with pytest.raises(OSError, match="disk full"):
        model.fit(x, y, batch_size=8, epochs=1, verbose=0, callbacks=[callbacks.ModelCheckpoint(path)])
    monkeypatch.undo()
    assert path.read_bytes() == good
    assert os.listdir(tmp_path) == ["ckpt.keras"]
    assert load_model(path).optimizer.iterations == 5


@pytest.mark.slow
def test_ctrl_c_from_outside_the_process(tmp_path):
    """A real Ctrl-C, sent by another process while fit runs (as a terminal does)."""
    env = {**os.environ, "PYTHONPATH": os.path.join(HERE, "..", "src")}
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "sigint_child.py"), str(tmp_path)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for line in proc.stdout:
            if line.startswith("batch 12"):  # mid-epoch 2 (8 batches per epoch)
                proc.send_signal(signal.SIGINT)
                break
        rest, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    result = json.loads(rest.strip().splitlines()[-1])
    assert proc.returncode == 0, err
    assert result["interrupted"] and result["message"].startswith("fit interrupted at epoch")
    # It stopped after the batch that was running: the weights are that step's.
    assert result["same_weights"] and result["iterations"] == result["batches"] >= 12
    # Every finished epoch has its CSV row (plus the header) and its checkpoint.
    assert result["csv_lines"] == result["epochs_logged"] + 1
    assert load_model(tmp_path / "m.keras").optimizer.iterations == 8 * result["epochs_logged"]
