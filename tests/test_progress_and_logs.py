"""Keras 3's log conventions: sorted metric names, verbose="auto", one line per epoch in a
pipe (a full line at most every log_interval seconds), no "Epoch 1/1"."""
from __future__ import annotations

import io
import types

import numpy as np
import pytest

from rnnkit import backend, callbacks, progress
from rnnkit.keras.layers import GRU, Dense, Input
from rnnkit.keras.models import Model, Sequential


@pytest.fixture(autouse=True)
def fresh_names():
    backend.clear_session()


class FakeClock:
    def __init__(self):
        self.now = 100.0

    def perf_counter(self):
        return self.now


class Tty(io.StringIO):
    def isatty(self):
        return True


def data(n=48):
    rng = np.random.default_rng(0)
    return rng.random((n, 4, 3)).astype("float32"), (rng.random((n, 1)) > 0.5).astype("float32")


def model(metrics=("acc", "mae")):
    m = Sequential([Input((4, 3)), GRU(4), Dense(1, activation="sigmoid")])
    m.compile("rmsprop", "binary_crossentropy", metrics=list(metrics))
    return m


def test_pipe_gets_a_line_at_most_every_log_interval(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(progress, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    out = io.StringIO()
    bar = callbacks.Progbar(100, stream=out)
    for step in range(1, 101):
        clock.now += 0.5  # 50 s in all
        bar.update(step, {"loss": 0.5}, finalize=step == 100)
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert [ln.split()[0] for ln in lines] == ["20/100", "40/100", "60/100", "80/100", "100/100"]
    assert lines[-1].endswith("- loss: 0.5000") and " 50s " in lines[-1]


def test_short_epoch_in_a_pipe_is_one_line(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(progress, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    out = io.StringIO()
    bar = callbacks.Progbar(500, stream=out)
    for step in range(1, 501):
        clock.now += 0.01
        bar.update(step, {"loss": 0.25}, finalize=step == 500)
    assert out.getvalue().count("\n") == 1 and out.getvalue().startswith("500/500 ")


def test_terminal_redraws_in_place(monkeypatch):
    clock = FakeClock()
    monkeypatch.setattr(progress, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    out = Tty()
    bar = callbacks.Progbar(10, stream=out)
    for step in range(1, 11):
        clock.now += 0.1
        bar.update(step, {"loss": 1.0}, finalize=step == 10)
    text = out.getvalue()
    assert text.count("\r") == 10 and text.count("\n") == 1


def test_fit_verbose_1_in_a_pipe_prints_one_line_per_epoch(capsys):
    x, y = data()
    model().fit(x, y, epochs=2, batch_size=4, verbose=1)  # 12 steps per epoch
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 4 and lines[0] == "Epoch 1/2" and lines[2] == "Epoch 2/2"
    assert lines[1].startswith("12/12 \u2501") and " - acc: " in lines[1]


def test_verbose_auto_is_1_and_bad_values_are_named(capsys):
    x, y = data()
    m = model()
    m.fit(x, y, epochs=1, batch_size=16, verbose="auto")
    auto = capsys.readouterr().out
    assert auto.startswith("3/3 \u2501") and auto.count("\n") == 1  # and no "Epoch 1/1"
    for bad in ("loud", 3, -1, 1.5, None):
        with pytest.raises(ValueError, match=r"fit: verbose must be 'auto', 0, 1 or 2"):
            m.fit(x, y, epochs=1, verbose=bad)
    with pytest.raises(ValueError, match="evaluate: verbose must be"):
        m.evaluate(x, y, verbose="yes")
    with pytest.raises(ValueError, match="predict: verbose must be"):
        m.predict(x, verbose=7)
    m.evaluate(x, y, verbose="auto")
    assert capsys.readouterr().out.startswith("2/2 \u2501")  # batch_size 32 by default
    m.predict(x, batch_size=16)  # Keras 3's predict shows its bar too: one line in a pipe
    out = capsys.readouterr().out
    assert out.startswith("3/3 \u2501") and out.count("\n") == 1 and " - " not in out
    m.predict(x, verbose=2)
    assert capsys.readouterr().out.startswith("2/2 - ")
    m.predict(x, verbose=0)
    assert capsys.readouterr().out == ""
    assert callbacks.resolve_verbose(True, "fit") == 1 and callbacks.resolve_verbose(np.int64(2), "fit") == 2


def test_logs_history_and_return_dict_are_sorted_as_in_keras3(capsys):
    x, y = data()
    m = model(metrics=("mae", "acc"))
    hist = m.fit(x, y, epochs=2, batch_size=16, validation_split=0.25, verbose=2)
    assert list(hist.history) == ["acc", "loss", "mae", "val_acc", "val_loss", "val_mae"]
    line = capsys.readouterr().out.splitlines()[1]
    names = [part.split(":")[0] for part in line.split(" - ")[3:]]
    assert names == list(hist.history)
    assert list(m.evaluate(x, y, verbose=0, return_dict=True)) == ["acc", "loss", "mae"]
    # the list form keeps Keras' [loss, *metrics] order
    values = m.evaluate(x, y, verbose=0)
    as_dict = m.evaluate(x, y, verbose=0, return_dict=True)
    assert values == [as_dict["loss"], as_dict["mae"], as_dict["acc"]]


def test_multi_output_logs_sorted_with_output_prefixes():
    x, y = data()
    i = Input((4, 3))
    h = GRU(4)(i)
    m = Model(i, [Dense(1, activation="sigmoid", name="zed")(h), Dense(2, name="alpha")(h)])
    m.compile("adam", ["binary_crossentropy", "mse"], metrics=[["acc"], ["mae"]])
    hist = m.fit(x, [y, np.zeros((len(x), 2), "float32")], epochs=1, verbose=0, validation_split=0.25)
    # the names and order real Keras 3 logs for this model
    assert list(hist.history) == ["alpha_loss", "alpha_mae", "loss", "val_alpha_loss", "val_alpha_mae",
                                  "val_loss", "val_zed_acc", "val_zed_loss", "zed_acc", "zed_loss"]


def test_values_format_like_keras3():
    fmt = callbacks.Progbar(1, stream=io.StringIO())._values
    assert fmt({"loss": 0.12345, "lr": 1e-4, "zero": 0.0, "n": np.float32(2)}) == \
        " - loss: 0.1235 - lr: 1.0000e-04 - zero: 0.0000e+00 - n: 2.0000"
