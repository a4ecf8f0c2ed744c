"""fit/evaluate/predict, callbacks, saving, repeatability, convergence and bad input."""
from __future__ import annotations

import os
import json
import zipfile

import numpy as np
import pytest

import rnnkit
from rnnkit.keras import callbacks, layers
from rnnkit.keras.models import Sequential, load_model


def data(n=256, t=8, vocab=12, seed=0):
    """Label 1 when token 3 occurs: a task every cell learns in a few epochs."""
    rng = np.random.default_rng(seed)
    x = rng.integers(1, vocab, size=(n, t))
    return x, (x == 3).any(axis=1).astype("float32")


def small_model(cell=layers.LSTM, **compile_kw):
    model = Sequential([layers.Input(shape=(8,)), layers.Embedding(12, 6), cell(8),
                        layers.Dense(1, activation="sigmoid")])
    model.compile(**{"optimizer": "adam", "loss": "binary_crossentropy", "metrics": ["accuracy"],
                     **compile_kw})
    return model


def test_fit_history_keys_and_evaluate_forms():
    rnnkit.set_seed(1)
    x, y = data()
    model = small_model()
    hist = model.fit(x, y, epochs=2, batch_size=32, validation_split=0.25, verbose=0)
    assert sorted(hist.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    assert hist.epoch == [0, 1] and all(len(v) == 2 for v in hist.history.values())
    loss, acc = model.evaluate(x, y, verbose=0)
    assert 0 <= acc <= 1 and loss > 0
    plain = small_model(metrics=None)
    assert isinstance(plain.evaluate(x, y, verbose=0), float)


def test_evaluate_equals_loss_of_predictions():
    x, y = data(n=100)
    model = small_model()
    p = model.predict(x, batch_size=7).reshape(-1).astype(np.float64)
    pc = np.clip(p, 1e-7, 1 - 1e-7)
    expected = -np.mean(y * np.log(pc) + (1 - y) * np.log(1 - pc))
    loss, acc = model.evaluate(x, y, batch_size=13, verbose=0)
    assert loss == pytest.approx(expected, rel=1e-5)
    assert acc == pytest.approx(np.mean((p > 0.5) == y))


@pytest.mark.parametrize("cell", [layers.SimpleRNN, layers.LSTM, layers.GRU])
def test_cells_learn_the_token_task(cell):
    rnnkit.set_seed(0)
    x, y = data(n=512)
    model = small_model(cell, optimizer=rnnkit.optimizers.Adam(0.01))
    hist = model.fit(x, y, epochs=8, batch_size=32, verbose=0)
    assert hist.history["accuracy"][-1] > 0.9
    assert hist.history["loss"][-1] < hist.history["loss"][0] / 2


def test_adding_problem_regression_converges():
    """The adding problem: sum the two marked numbers of a sequence (many-to-one regression)."""
    rng = np.random.default_rng(0)
    n, t = 1024, 10
    values = rng.random((n, t))
    marks = np.zeros((n, t))
    for i in range(n):
        marks[i, rng.choice(t, 2, replace=False)] = 1
    x = np.stack([values, marks], axis=-1).astype("float32")
    y = (values * marks).sum(axis=1, keepdims=True).astype("float32")
    rnnkit.set_seed(0)
    model = Sequential([layers.Input(shape=(t, 2)), layers.GRU(16), layers.Dense(1)])
    model.compile(optimizer=rnnkit.optimizers.Adam(0.01), loss="mse")
    hist = model.fit(x, y, epochs=15, batch_size=32, verbose=0)
    baseline = float(np.var(y))  # always predicting the mean
    assert hist.history["loss"][-1] < 0.1 * baseline


def test_seeded_fit_is_bit_identical():
    x, y = data()

    def run():
        rnnkit.set_seed(42)
        model = Sequential([layers.Input(shape=(8,)), layers.Embedding(12, 6),
                            layers.GRU(8, dropout=0.2, recurrent_dropout=0.2), layers.Dropout(0.3),
                            layers.Dense(1, activation="sigmoid")])
        model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
        hist = model.fit(x, y, epochs=2, batch_size=16, validation_split=0.2, verbose=0)
        return model.get_weights(), hist.history

    w1, h1 = run()
    w2, h2 = run()
    assert h1 == h2
    for a, b in zip(w1, w2):
        np.testing.assert_array_equal(a, b)


def test_no_global_numpy_random_state_is_used():
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    x, y = data(n=64)
    small_model().fit(x, y, epochs=1, verbose=0)
    np.testing.assert_array_equal(np.random.get_state()[1], before)


@pytest.mark.parametrize("make", [
    lambda: [layers.Input(shape=(8,)), layers.Embedding(12, 4, mask_zero=True), layers.SimpleRNN(3)],
    lambda: [layers.Input(shape=(8,)), layers.Embedding(12, 4), layers.LSTM(3, return_sequences=True),
             layers.TimeDistributed(layers.Dense(2, activation="softmax"))],
    lambda: [layers.Input(shape=(8,)), layers.Embedding(12, 4), layers.Bidirectional(layers.GRU(3)),
             layers.Dropout(0.5), layers.Dense(2)],
    lambda: [layers.Input(shape=(8, 3)), layers.Masking(), layers.GRU(3, reset_after=False),
             layers.Activation("tanh")],
    lambda: [layers.Input(shape=(8,)), layers.Embedding(12, 4), layers.Flatten(), layers.Dense(2)],
])
def test_save_load_predicts_identically(tmp_path, make):
    model = Sequential(make())
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    shape = model.input_shape[1:]
    rng = np.random.default_rng(0)
    x = rng.integers(0, 12, size=(20,) + shape) if len(shape) == 1 else rng.normal(size=(20,) + shape)
    y = model.predict(x)
    model.fit(x, rng.normal(size=y.shape), epochs=1, verbose=0)
    path = tmp_path / "model.keras"
    model.save(path)
    again = load_model(path)
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    assert [type(a) for a in again.layers] == [type(a) for a in model.layers]
    assert again.optimizer.iterations == model.optimizer.iterations
    with zipfile.ZipFile(path) as zf:
        assert set(zf.namelist()) == {"config.json", "model.weights.h5", "metadata.json"}


def test_save_weights_and_load_weights(tmp_path):
    x, y = data(n=32)
    a, b = small_model(), small_model()
    a.save_weights(tmp_path / "w.weights.h5")
    b.load_weights(tmp_path / "w.weights.h5")
    np.testing.assert_array_equal(a.predict(x), b.predict(x))


def test_load_rejects_corrupt_truncated_foreign_and_pickled_files(tmp_path):
    model = small_model()
    good = tmp_path / "m.keras"
    model.save(good)
    raw = good.read_bytes()
    (tmp_path / "trunc.keras").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"trunc.keras: not a valid zip archive, or truncated"):
        load_model(tmp_path / "trunc.keras")
    (tmp_path / "text.keras").write_text("hello")
    with pytest.raises(ValueError, match="unknown file type"):
        load_model(tmp_path / "text.keras")
    with zipfile.ZipFile(tmp_path / "fake.keras", "w") as zf:
        zf.writestr("config.json", "{}")
        zf.writestr("metadata.json", "{}")
        zf.writestr("model.weights.h5", b"\x89HDF")
    with pytest.raises(ValueError, match="fake.keras: not a readable HDF5 file"):
        load_model(tmp_path / "fake.keras")
    # An old-format weights member holding a pickle is refused, never unpickled.
    import io
    buf = io.BytesIO()
    np.savez(buf, w0000=np.array([object()], dtype=object))
    evil = tmp_path / "evil.keras"
    with zipfile.ZipFile(evil, "w") as dst:
        dst.writestr("config.json", json.dumps({"format": "rnnkit.keras/1", "class_name": "Sequential",
                                                "config": model.get_config()}))
        dst.writestr("metadata.json", "{}")
        dst.writestr("model.weights.npz", buf.getvalue())
    with pytest.raises(ValueError, match="pickled objects"):
        load_model(evil)
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_model(tmp_path / "missing.keras")


def test_save_is_atomic(tmp_path, monkeypatch):
    model = small_model()
    path = tmp_path / "m.keras"
    model.save(path)
    before = path.read_bytes()

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(zipfile.ZipFile, "writestr", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        model.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["m.keras"]


def test_early_stopping_restores_best_weights():
    x, y = data(n=128)
    model = small_model()
    seen = []
    losses = iter([1.0, 0.5, 0.7, 0.8, 0.9, 0.95])
    weights_at = {}

    class Fake(callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["val_loss"] = next(losses)
            weights_at[epoch] = model.get_weights()
            seen.append(epoch)

    es = callbacks.EarlyStopping(monitor="val_loss", patience=2, restore_best_weights=True)
    model.fit(x, y, epochs=6, verbose=0, callbacks=[Fake(), es])
    assert seen == [0, 1, 2, 3]
    assert es.stopped_epoch == 3 and es.best_epoch == 1
    for a, b in zip(model.get_weights(), weights_at[1]):
        np.testing.assert_array_equal(a, b)


def test_model_checkpoint_csv_logger_lr_scheduler(tmp_path):
    x, y = data(n=64)
    model = small_model()
    ckpt = callbacks.ModelCheckpoint(str(tmp_path / "ck-{epoch:02d}.keras"))
    best = callbacks.ModelCheckpoint(str(tmp_path / "best.keras"), monitor="loss", save_best_only=True)
    log = callbacks.CSVLogger(tmp_path / "log.csv")
    sched = callbacks.LearningRateScheduler(lambda epoch, lr: 0.01 * 0.5 ** epoch)
    model.fit(x, y, epochs=3, verbose=0, callbacks=[ckpt, best, sched, log])
    assert sorted(p.name for p in tmp_path.glob("ck-*.keras")) == ["ck-01.keras", "ck-02.keras", "ck-03.keras"]
    assert (tmp_path / "best.keras").exists()
    rows = (tmp_path / "log.csv").read_text().splitlines()
    assert rows[0] == "epoch,accuracy,learning_rate,loss" and len(rows) == 4
    assert float(model.optimizer.learning_rate) == pytest.approx(0.0025)
    np.testing.assert_array_equal(load_model(tmp_path / "ck-03.keras").predict(x), model.predict(x))


def test_reduce_lr_on_plateau():
    x, y = data(n=64)
    model = small_model(optimizer=rnnkit.optimizers.SGD(0.1))
    cb = callbacks.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, min_delta=10.0)
    model.fit(x, y, epochs=3, verbose=0, callbacks=[cb])
    assert float(model.optimizer.learning_rate) == pytest.approx(0.1 * 0.5 ** 2)


def test_terminate_on_nan_says_which_batch(capsys):
    x, y = data(n=64)
    y = y.copy()
    model = small_model(loss="mse", metrics=None)
    model.layers[-1].kernel[0, 0] = np.nan
    cb = callbacks.TerminateOnNaN()
    hist = model.fit(x, y, epochs=3, batch_size=16, verbose=0, callbacks=[cb])
    assert "Batch 0: Invalid loss, terminating training" in capsys.readouterr().out
    assert len(hist.history["loss"]) == 1


def test_lambda_callback_and_hook_order():
    events = []
    cb = callbacks.LambdaCallback(on_train_begin=lambda logs: events.append("train_begin"),
                                  on_epoch_begin=lambda e, logs: events.append(f"epoch{e}"),
                                  on_train_batch_end=lambda b, logs: events.append(f"b{b}"),
                                  on_train_end=lambda logs: events.append("train_end"))
    x, y = data(n=40)
    small_model().fit(x, y, epochs=2, batch_size=20, verbose=0, callbacks=[cb])
    assert events == ["train_begin", "epoch0", "b0", "b1", "epoch1", "b0", "b1", "train_end"]


def test_verbose_modes(capsys):
    x, y = data(n=64)
    model = small_model()
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    assert capsys.readouterr().out == ""
    model.fit(x, y, epochs=2, batch_size=32, verbose=2)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "Epoch 1/2" and out[1].startswith("2/2 - ") and "loss: " in out[1]
    model.fit(x, y, epochs=1, batch_size=32, verbose=1)
    out = capsys.readouterr().out
    assert "2/2 \u2501" in out and "ms/step" in out or "us/step" in out


def test_class_and_sample_weights():
    x, y = data(n=64)
    model = small_model(metrics=None)
    w = np.where(y > 0, 3.0, 1.0)
    a = model.evaluate(x, y, sample_weight=w, verbose=0)
    p = model.predict(x).reshape(-1).astype(np.float64)
    pc = np.clip(p, 1e-7, 1 - 1e-7)
    per = -(y * np.log(pc) + (1 - y) * np.log(1 - pc))
    assert a == pytest.approx(np.sum(per * w) / len(y), rel=1e-5)
    m1, m2 = small_model(), small_model()
    m2.set_weights(m1.get_weights())
    m1.train_on_batch(x, y, class_weight={0: 1.0, 1: 3.0})
    m2.train_on_batch(x, y, sample_weight=w)
    for u, v in zip(m1.get_weights(), m2.get_weights()):
        np.testing.assert_allclose(u, v, rtol=1e-6)


@pytest.mark.parametrize("call,msg", [
    (lambda m, x, y: m.fit(x, y[:-1], verbose=0), r"x and y must have the same number of samples; "
                                                   r"received x with 256 and y with 255"),
    (lambda m, x, y: m.fit(x, y, validation_split=1.2, verbose=0),
     r"validation_split must be a float in \[0, 1\); received 1.2"),
    (lambda m, x, y: m.fit(x[:, :5, None], y, verbose=0), r"expects x of shape \(None, 8\); received"),
    (lambda m, x, y: m.fit(x + 0.5, y, verbose=0), r"expects integer ids; received float input"),
    (lambda m, x, y: m.fit(x, y, batch_size=0, verbose=0), r"batch_size must be a positive integer"),
])
def test_fit_bad_input(call, msg):
    x, y = data()
    with pytest.raises(ValueError, match=msg):
        call(small_model(), x, y)


def test_fit_before_compile_and_unknown_names():
    x, y = data(n=16)
    model = Sequential([layers.Input(shape=(8,)), layers.Embedding(12, 3), layers.GRU(2)])
    with pytest.raises(RuntimeError, match=r"must call compile\(\) before fit\(\)"):
        model.fit(x, y)
    with pytest.raises(ValueError, match="Unknown optimizer 'adamm'"):
        model.compile(optimizer="adamm", loss="mse")
    with pytest.raises(ValueError, match="binary_crossentropyy"):
        model.compile(optimizer="adam", loss="binary_crossentropyy")
    model.compile(optimizer="adam", loss="mse", metrics=["acuracy"])
    with pytest.raises(ValueError, match="acuracy"):
        model.fit(x, np.zeros((16, 2)), verbose=0)


def test_sparse_labels_out_of_range():
    x, _ = data(n=16)
    model = Sequential([layers.Input(shape=(8,)), layers.Embedding(12, 3), layers.GRU(4),
                        layers.Dense(3, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    with pytest.raises(ValueError, match="3"):
        model.fit(x, np.full(16, 3), verbose=0)


def test_trainable_false_freezes_weights_and_summary_counts_them():
    x, y = data(n=64)
    model = small_model()
    emb = model.layers[0]
    emb.trainable = False
    frozen = emb.get_weights()[0]
    other = model.layers[1].get_weights()[0]
    model.fit(x, y, epochs=1, verbose=0)
    np.testing.assert_array_equal(emb.get_weights()[0], frozen)
    assert not np.array_equal(model.layers[1].get_weights()[0], other)
    lines = []
    model.summary(print_fn=lines.append, style="keras2")
    assert f"Non-trainable params: {12 * 6:,}" in lines
    assert f"Trainable params: {model.count_params() - 72:,}" in lines


def test_plot_history_writes_png(tmp_path):
    pytest.importorskip("matplotlib")
    from rnnkit.utils import plot_history

    x, y = data(n=64)
    hist = small_model().fit(x, y, epochs=2, validation_split=0.25, verbose=0)
    fig = plot_history(hist, tmp_path / "curves.png")
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy"]
    assert len(fig.axes[0].lines) == 2  # training and validation
    with pytest.raises(ValueError, match=r"no such metric\(s\) \['auc'\]"):
        plot_history(hist, metrics=["auc"])
