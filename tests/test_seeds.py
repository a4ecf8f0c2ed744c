"""The code cells of the five study notes, run with only the import root changed.

Each block below is a seed's cell as written, with ``tensorflow.keras``/``keras``
replaced by ``rnnkit.keras``. Shapes and parameter counts are the ones the notes print.
"""
from __future__ import annotations

import os
import textwrap

import numpy as np
import pytest

from rnnkit import backend

DATA = os.environ.get("RNNKIT_DATA")


@pytest.fixture(autouse=True)
def fresh_names():
    backend.clear_session()


def run(code: str) -> dict:
    scope: dict = {}
    exec(compile(textwrap.dedent(code), "<seed>", "exec"), scope)
    return scope


def summary_of(model) -> str:
    """The seeds print Keras 2's table, so these checks ask for that style."""
    lines = []
    model.summary(print_fn=lines.append, style="keras2")
    return "\n".join(lines)


def test_seed0_numpy_rnn_loop():
    s = run("""
        import numpy as np
        timesteps = 100
        input_features = 32
        output_features = 64
        inputs = np.random.random((timesteps, input_features))
        state_t = np.zeros((output_features,))
        W = np.random.random((output_features, input_features))
        U = np.random.random((output_features, output_features))
        b = np.random.random((output_features, ))
        successive_outputs = []
        for input_t in inputs:
            output_t = np.tanh( np.dot(W, input_t) + np.dot(U, state_t) + b )
            successive_outputs.append(output_t)
            state_t = output_t
        final_output_sequence = np.stack(successive_outputs, axis=0)
    """)
    assert s["final_output_sequence"].shape == (100, 64)
    assert s["W"].shape == (64, 32) and np.dot(s["U"], s["state_t"]).shape == (64,)


def test_seed0_char_tokenizer_and_matrix():
    s = run("""
        from rnnkit.keras.preprocessing.text import Tokenizer
        samples = ["The cat sat on the mat.", "The dog ate my homework."]
        tokenizer = Tokenizer(num_words=100, char_level=True)
        tokenizer.fit_on_texts(samples)
        seqs = tokenizer.texts_to_sequences(samples)
        one_hot = tokenizer.texts_to_matrix(samples, mode='binary')
    """)
    assert s["tokenizer"].word_index == {' ': 1, 't': 2, 'e': 3, 'h': 4, 'a': 5, 'o': 6, 'm': 7, '.': 8,
                                         'c': 9, 's': 10, 'n': 11, 'd': 12, 'g': 13, 'y': 14, 'w': 15,
                                         'r': 16, 'k': 17}
    assert s["seqs"][0] == [2, 4, 3, 1, 9, 5, 2, 1, 10, 5, 2, 1, 6, 11, 1, 2, 4, 3, 1, 7, 5, 2, 8]
    assert s["seqs"][1] == [2, 4, 3, 1, 12, 6, 13, 1, 5, 2, 3, 1, 7, 14, 1, 4, 6, 7, 3, 15, 6, 16, 17, 8]
    assert len(s["one_hot"][0]) == 100
    np.testing.assert_array_equal(s["one_hot"][0], np.r_[0, np.ones(11), np.zeros(88)])


@pytest.mark.skipif(not DATA, reason="set RNNKIT_DATA to the shared data directory (CI does)")
def test_seed0_imdb_pad_sequences(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNKIT_CACHE", os.environ.get("RNNKIT_CACHE", str(tmp_path)))
    s = run("""
        from rnnkit.keras.datasets import imdb
        from rnnkit.keras import preprocessing
        max_features = 10000
        maxlen = 20
        (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=max_features)
        x_train = preprocessing.sequence.pad_sequences(x_train, maxlen=maxlen)
        x_test = preprocessing.sequence.pad_sequences(x_test, maxlen=maxlen)
    """)
    assert s["x_train"].shape == (25000, 20) and s["x_train"].dtype == np.int32
    assert s["x_test"].shape == (25000, 20)
    assert s["x_train"].max() < 10000


def test_seed0_lstm_and_simple_rnn_summaries():
    s = run("""
        from rnnkit.keras.models import Sequential
        from rnnkit.keras.layers import LSTM, Embedding, Dense, SimpleRNN
        model = Sequential()
        model.add(Embedding(10000, 32, input_length=20))
        model.add(LSTM(32))
        model.add(Dense(1, activation='sigmoid'))
        m2 = Sequential()
        m2.add(Embedding(10000, 64, input_length=20))
        m2.add(LSTM(32))
        m2.add(Dense(1, activation='sigmoid'))
        m3 = Sequential()
        m3.add(Embedding(10000, 32))
        m3.add(SimpleRNN(32))
        m3.add(Dense(1, activation='sigmoid'))
        m4 = Sequential()
        m4.add(Embedding(10000, 64))
        m4.add(SimpleRNN(32))
        m4.add(Dense(1, activation='sigmoid'))
    """)
    t = summary_of(s["model"])
    assert "(None, 20, 32)" in t and "8320" in t and "Total params: 328,353" in t
    assert "12416" in summary_of(s["m2"]) and "Total params: 652,449" in summary_of(s["m2"])
    assert "(None, None, 32)" in summary_of(s["m3"]) and "Total params: 322,113" in summary_of(s["m3"])
    assert "3104" in summary_of(s["m4"]) and "Total params: 643,137" in summary_of(s["m4"])


def test_seed1_simple_rnn_shapes_and_embedding_model():
    s = run("""
        from rnnkit.keras.models import Sequential
        from rnnkit.keras.layers import SimpleRNN, Embedding, Dense
        model = Sequential()
        model.add(SimpleRNN(3, input_shape=(2, 10)))
        m1 = Sequential()
        m1.add(SimpleRNN(3, batch_input_shape=(8,2, 10)))
        m2 = Sequential()
        m2.add(SimpleRNN(3, batch_input_shape=(8, 2, 10), return_sequences=True))
        vocab_size = 5000
        embedding_dim = 100
        hidden_size = 128
        m3 = Sequential()
        m3.add(Embedding(vocab_size, embedding_dim))
        m3.add(SimpleRNN(hidden_size))
        m3.add(Dense(1, activation='sigmoid'))
    """)
    assert " simple_rnn (SimpleRNN)      (None, 3)                 42        " in summary_of(s["model"])
    assert "(8, 3)" in summary_of(s["m1"]) and "(8, 2, 3)" in summary_of(s["m2"])
    t = summary_of(s["m3"])
    assert "(None, None, 100)" in t and "29312" in t and "Total params: 529,441" in t


def test_seed2_stacked_simple_rnns():
    s = run("""
        from rnnkit.keras.models import Sequential
        from rnnkit.keras.layers import Embedding, SimpleRNN
        model = Sequential()
        model.add(Embedding(10000, 32))
        model.add(SimpleRNN(32, return_sequences=True))
        model.add(SimpleRNN(32, return_sequences=True))
        model.add(SimpleRNN(32, return_sequences=True))
        model.add(SimpleRNN(32))
    """)
    assert "Total params: 328,320" in summary_of(s["model"])


def test_seed3_simple_rnn_on_an_array():
    s = run("""
        import numpy as np
        from rnnkit.keras.layers import SimpleRNN, LSTM, Bidirectional
        train_X = [[[0.1, 4.2, 1.5, 1.1, 2.8], [1.0, 3.1, 2.5, 0.7, 1.1], [0.3, 2.1, 1.5, 2.1, 0.1], [2.2, 1.4, 0.5, 0.9, 1.1]]]
        train_X = np.array(train_X, dtype=np.float32)
        rnn = SimpleRNN(3)
        hidden_state = rnn(train_X)
        rnn = SimpleRNN(3, return_sequences=True)
        hidden_state_seq = rnn(train_X)
        rnn = SimpleRNN(3, return_sequences=True, return_state=True)
        hidden_states, last_state = rnn(train_X)
        rnn = SimpleRNN(3, return_sequences=False, return_state=True)
        hidden_state2, last_state2 = rnn(train_X)
    """)
    assert s["train_X"].shape == (1, 4, 5)
    assert s["hidden_state"].shape == (1, 3) and s["hidden_state_seq"].shape == (1, 4, 3)
    assert s["hidden_states"].shape == (1, 4, 3) and s["last_state"].shape == (1, 3)
    np.testing.assert_array_equal(s["hidden_states"][:, -1], s["last_state"])
    np.testing.assert_array_equal(s["hidden_state2"], s["last_state2"])


def test_seed4_rnn_history_model():
    s = run("""
        from rnnkit.keras.models import Sequential
        from rnnkit.keras.layers import Embedding, SimpleRNN, Dense
        model = Sequential(name="RNN")
        model.add(Embedding(10000, 6, input_length=10, name="Embedding"))
        model.add(SimpleRNN(4, name="RNN"))
        model.add(Dense(1, name="classifier"))
    """)
    t = summary_of(s["model"])
    assert " Embedding (Embedding)       (None, 10, 6)             60000     " in t
    assert " RNN (SimpleRNN)             (None, 4)                 44        " in t
    assert " classifier (Dense)          (None, 1)                 5         " in t
    assert "Total params: 60,049" in t
