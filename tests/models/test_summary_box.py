"""Keras 3's box summary (the default) against text captured from real Keras 3, plus
``style="keras2"``, ``explain=True`` and bad arguments."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rnnkit import backend, optimizers
from rnnkit.keras.layers import (GRU, LSTM, Bidirectional, Concatenate, Dense, Embedding, Input,
                                 SimpleRNN, TimeDistributed)
from rnnkit.keras.models import Model, Sequential
from rnnkit.models.summary_box import column_widths, readable_size

KERAS = json.loads((Path(__file__).parents[1] / "fixtures" / "summary" / "keras3_summaries.json")
                   .read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def fresh_names():
    backend.clear_session()


def text(model, **kw) -> str:
    lines: list[str] = []
    model.summary(print_fn=lines.append, **kw)
    return "\n".join(lines) + "\n"


def imdb():
    return Sequential([Input((200,)), Embedding(10000, 32, name="embedding"), LSTM(32, name="lstm"),
                       Dense(1, activation="sigmoid", name="dense")], name="imdb_lstm")


def test_sequential_matches_keras3_at_both_widths():
    model = imdb()
    assert text(model, line_length=76) == KERAS["imdb_76"]
    assert text(model, line_length=88) == KERAS["imdb_88"]


def test_optimizer_line_appears_once_the_optimizer_has_state():
    model = imdb()
    model.compile("rmsprop", "binary_crossentropy", metrics=["acc"])
    assert text(model, line_length=76) == KERAS["imdb_compiled_76"]
    model.train_on_batch(np.ones((2, 200), "int32"), np.ones((2, 1), "float32"))
    out = text(model, line_length=76)
    assert out == KERAS["imdb_trained_76"]
    assert " Total params: 656,708 (2.51 MB)" in out and " Optimizer params: 328,355 (1.25 MB)" in out


@pytest.mark.parametrize("case, opt", [("adam_schedule", lambda: optimizers.Adam(
    learning_rate=optimizers.schedules.ExponentialDecay(0.1, 10, 0.9))),
    ("sgd_momentum", lambda: optimizers.SGD(momentum=0.9))])
def test_optimizer_counts_and_bytes_with_frozen_layer(case, opt):
    model = Sequential([Input((3, 2)), GRU(3, name="gru"), Dense(1, name="dense")], name=case)
    model.layers[0].trainable = False
    model.compile(opt(), "mse")
    model.train_on_batch(np.ones((2, 3, 2), "float32"), np.ones((2, 1), "float32"))
    assert text(model, line_length=76) == KERAS[f"{case}_76"]


def test_functional_with_shared_layer_has_connected_to_column():
    a, b = Input((10, 3), name="a"), Input((10, 3), name="b")
    shared = LSTM(8, return_sequences=True, name="shared")
    x = Concatenate(name="concatenate")([shared(a), shared(b)])
    out = Dense(1, name="dense")(GRU(4, name="gru")(x))
    model = Model([a, b], out, name="functional_shared")
    assert text(model, line_length=76) == KERAS["functional_shared_76"]


def test_functional_chain_lists_its_input_layer_without_connections():
    i = Input((6, 3), name="chain_in")
    model = Model(i, Dense(2, name="head")(SimpleRNN(5, name="rnn")(i)), name="chain")
    assert text(model, line_length=76) == KERAS["functional_chain_76"]


def test_unbuilt_sequential_prints_question_marks():
    lazy = Sequential([LSTM(4, name="lstm"), Dense(1, name="dense")], name="lazy")
    assert text(lazy, line_length=76) == KERAS["unbuilt_76"]
    with pytest.raises(ValueError, match="not yet been built"):
        lazy.summary(style="keras2")


def test_wrapped_cells():
    model = Sequential([Input((None, 5)),
                        Bidirectional(LSTM(6, return_sequences=True), name="bidirectional"),
                        TimeDistributed(Dense(2), name="time_distributed")], name="tagger")
    assert text(model, line_length=76) == KERAS["bidirectional_76"]


def test_default_width_follows_the_terminal(monkeypatch):
    model = imdb()
    monkeypatch.setenv("COLUMNS", "80")
    assert text(model) == KERAS["imdb_76"]
    monkeypatch.setenv("COLUMNS", "200")
    assert text(model) == KERAS["imdb_88"]


def test_explain_puts_the_formula_inside_the_row():
    lines = text(imdb(), line_length=76, explain=True).splitlines()
    i = lines.index("│ lstm (LSTM)                     │ (None, 32)             │         8,320 │")
    assert lines[i + 1] == "│   8,320 = 4 x ((32 + 1) x 32 + 32^2)" + " " * 37 + "│"
    assert lines[i + 2].startswith("├")
    assert all(len(line) == 76 for line in lines[1:-3])


def test_keras2_style_is_kept():
    out = text(imdb(), style="keras2", explain=True).splitlines()
    assert out[1] == "_" * 65 and out[-1] == "_" * 65
    assert "    8,320 = 4 x ((32 + 1) x 32 + 32^2)" + " " * 27 in out
    assert "Total params: 328,353" in out


def test_bad_style_and_narrow_width_are_named():
    with pytest.raises(ValueError, match="`style` must be 'keras3' or 'keras2'; received style='keras4'"):
        imdb().summary(style="keras4")
    with pytest.raises(ValueError, match="line_length"):
        imdb().summary(line_length=8)


def test_widths_and_sizes():
    assert column_widths(76, [0.45, 0.80, 1.0]) == [33, 24, 15]
    assert column_widths(76, [0.3, 0.56, 0.74, 1.0]) == [21, 19, 12, 19]
    assert column_widths(76, [34, 60, 76]) == [33, 24, 15]  # absolute columns
    assert readable_size(0) == "0.00 B" and readable_size(1023) == "1023.00 B"
    assert readable_size(1313412) == "1.25 MB" and readable_size(3 * 1024**3) == "3.00 GB"
