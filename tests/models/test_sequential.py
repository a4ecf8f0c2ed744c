"""Sequential: the seeds' shapes, parameter counts and summary tables; forward/backward."""
from __future__ import annotations

import numpy as np
import pytest

from rnnkit import backend
from rnnkit.keras import Input
from rnnkit.keras.layers import (GRU, LSTM, Bidirectional, Dense, Embedding, SimpleRNN,
                                 TimeDistributed)
from rnnkit.keras.models import Sequential


@pytest.fixture(autouse=True)
def fresh_names():
    backend.clear_session()


def summary_text(model, **kw):
    """Keras 2's table, which these exact-text checks were written against."""
    lines = []
    model.summary(print_fn=lines.append, **{"style": "keras2", **kw})
    return "\n".join(lines)


def test_seed_simple_rnn_input_shape():
    model = Sequential()
    model.add(SimpleRNN(3, input_shape=(2, 10)))
    assert model.output_shape == (None, 3)
    assert model.count_params() == 42
    expected = "\n".join([
        'Model: "sequential"',
        "_" * 65,
        " Layer (type)                Output Shape              Param #   ",
        "=" * 65,
        " simple_rnn (SimpleRNN)      (None, 3)                 42        ",
        " " * 65,
        "=" * 65,
        "Total params: 42",
        "Trainable params: 42",
        "Non-trainable params: 0",
        "_" * 65,
    ])
    assert summary_text(model) == expected


def test_seed_batch_input_shape():
    m1 = Sequential([SimpleRNN(3, batch_input_shape=(8, 2, 10))])
    m2 = Sequential([SimpleRNN(3, batch_input_shape=(8, 2, 10), return_sequences=True)])
    assert m1.output_shape == (8, 3)
    assert m2.output_shape == (8, 2, 3)
    assert " simple_rnn_1 (SimpleRNN)    (8, 2, 3)                 42        " in summary_text(m2)


def test_seed_imdb_simple_rnn_model():
    model = Sequential()
    model.add(Embedding(10000, 32))
    model.add(SimpleRNN(32))
    model.add(Dense(1, activation="sigmoid"))
    text = summary_text(model)
    assert " embedding (Embedding)       (None, None, 32)          320000    " in text
    assert " simple_rnn (SimpleRNN)      (None, 32)                2080      " in text
    assert " dense (Dense)               (None, 1)                 33        " in text
    assert "Total params: 322,113" in text
    assert "Trainable params: 322,113" in text


def test_seed_lstm_with_input_length():
    model = Sequential([Embedding(10000, 32, input_length=20), LSTM(32), Dense(1, activation="sigmoid")])
    assert [layer.count_params() for layer in model.layers] == [320000, 8320, 33]
    assert model.layers[0].compute_output_shape(model.input_shape) == (None, 20, 32)
    assert "Total params: 328,353" in summary_text(model)
    model = Sequential([Embedding(10000, 64, input_length=20), LSTM(32), Dense(1)])
    assert model.layers[1].count_params() == 12416


def test_seed_embedding_5000_simple_rnn_128():
    model = Sequential([Embedding(5000, 100), SimpleRNN(128)])
    assert model.layers[1].count_params() == 29312
    model.add(Dense(1, activation="sigmoid"))
    assert model.count_params() == 529441


def test_seed_four_stacked_simple_rnns():
    model = Sequential([Embedding(10000, 32), SimpleRNN(32, return_sequences=True),
                        SimpleRNN(32, return_sequences=True), SimpleRNN(32, return_sequences=True),
                        SimpleRNN(32)])
    assert model.count_params() == 328320
    text = summary_text(model)
    assert "simple_rnn_3 (SimpleRNN)    (None, 32)" in text
    assert "simple_rnn_2 (SimpleRNN)    (None, None, 32)" in text


def test_seed_rnn_history_model():
    model = Sequential([Embedding(10000, 6, input_length=10), SimpleRNN(4), Dense(1)], name="RNN")
    assert [layer.count_params() for layer in model.layers] == [60000, 44, 5]
    assert "Total params: 60,049" in summary_text(model)
    assert 'Model: "RNN"' in summary_text(model)


def test_summary_explain_shows_seed_formulas():
    model = Sequential([Embedding(10000, 32, input_length=20), LSTM(32), Dense(1)])
    text = summary_text(model, explain=True)
    assert "8,320 = 4 x ((32 + 1) x 32 + 32^2)" in text
    m2 = Sequential([Embedding(10000, 64), SimpleRNN(32), Dense(1)])
    assert "3,104 = 32 x (64 + 32 + 1)" in summary_text(m2, explain=True)
    m3 = Sequential([Input(shape=(5, 4)), GRU(3)])
    assert "81 = 3 x (4 x 3 + 3^2 + 2 x 3)" in summary_text(m3, explain=True)
    m4 = Sequential([Input(shape=(5, 4)), Bidirectional(LSTM(3))])
    assert "192 = 2 x (4 x ((4 + 1) x 3 + 3^2))" in summary_text(m4, explain=True)


def test_summary_wraps_long_names_like_keras():
    model = Sequential([Bidirectional(LSTM(3), input_shape=(5, 4)), Dense(2)])
    lines = summary_text(model).splitlines()
    assert " bidirectional (Bidirection  (None, 6)                 192       " in lines
    assert " al)" + " " * 61 in lines


def test_keras3_input_idiom_and_unbuilt_model():
    model = Sequential([Input(shape=(7, 3)), LSTM(4, return_sequences=True),
                        TimeDistributed(Dense(2, activation="softmax"))])
    assert model.output_shape == (None, 7, 2)
    lazy = Sequential([LSTM(4), Dense(1)])
    with pytest.raises(ValueError, match="not yet been built"):
        lazy.summary(style="keras2")
    y = lazy(np.zeros((2, 5, 3), np.float32))
    assert y.shape == (2, 1)
    assert lazy.layers[0].kernel.shape == (3, 16)


def test_input_dim_and_batch_size_keywords():
    model = Sequential([SimpleRNN(3, input_dim=10, input_length=2, batch_size=8)])
    assert model.input_shape == (8, 2, 10)
    assert model.output_shape == (8, 3)


def test_forward_backward_matches_finite_differences():
    rng = np.random.default_rng(0)
    model = Sequential([Embedding(11, 4, mask_zero=True, dtype="float64"),
                        LSTM(3, return_sequences=True, dtype="float64"),
                        GRU(3, dtype="float64"), Dense(1, activation="sigmoid", dtype="float64")])
    ids = np.array([[0, 0, 3, 4, 5], [1, 2, 3, 0, 0], [7, 8, 9, 10, 1]])
    model.build(ids.shape)
    model.set_weights([rng.normal(0, 0.5, w.shape) for w in model.get_weights()])
    y, cache = model.forward(ids)
    up = rng.normal(size=y.shape)
    model.backward(up, cache)
    grads = model.grads
    eps = 1e-6
    for w, g in zip(model.weights, grads):
        flat, gflat = w.reshape(-1), g.reshape(-1)
        for i in rng.choice(flat.size, min(12, flat.size), replace=False):
            old = flat[i]
            flat[i] = old + eps
            fp = np.sum(model(ids) * up)
            flat[i] = old - eps
            fm = np.sum(model(ids) * up)
            flat[i] = old
            assert abs((fp - fm) / (2 * eps) - gflat[i]) < 1e-6


def test_mask_from_embedding_reaches_rnn():
    model = Sequential([Embedding(10, 3, mask_zero=True), SimpleRNN(2)])
    model.build((None, 4))
    pre = np.array([[0, 0, 5, 6]])
    post = np.array([[5, 6, 0, 0]])
    np.testing.assert_allclose(model(pre), model(post), atol=1e-6)
    nomask = Sequential([Embedding(10, 3), SimpleRNN(2)])
    nomask.build((None, 4))
    nomask.set_weights(model.get_weights())
    assert not np.allclose(nomask(pre), nomask(post))


def test_get_set_weights_get_layer_pop_and_config_roundtrip():
    model = Sequential([Embedding(20, 4, input_length=5), Bidirectional(GRU(3, return_sequences=True)),
                        LSTM(2), Dense(1)])
    ids = np.random.default_rng(2).integers(0, 20, size=(3, 5))
    again = Sequential.from_config(model.get_config())
    again.set_weights(model.get_weights())
    np.testing.assert_array_equal(again(ids), model(ids))
    assert model.get_layer("dense") is model.layers[-1]
    assert model.get_layer(index=0) is model.layers[0]
    with pytest.raises(ValueError, match="No such layer"):
        model.get_layer("nope")
    popped = model.pop()
    assert popped.name == "dense" and len(model.layers) == 3
    with pytest.raises(ValueError, match="expects 10 weight arrays"):
        model.set_weights(model.get_weights()[:-1])


def test_multi_output_layer_must_be_last():
    model = Sequential([Input(shape=(4, 5)), SimpleRNN(3, return_state=True)])
    out = model(np.ones((2, 4, 5), np.float32))
    assert isinstance(out, list) and len(out) == 2
    with pytest.raises(ValueError, match="several outputs"):
        model.add(Dense(1))


def test_predict_batches_equal_single_call():
    model = Sequential([Input(shape=(6, 3)), GRU(4), Dense(2)])
    x = np.random.default_rng(3).normal(size=(70, 6, 3)).astype(np.float32)
    np.testing.assert_allclose(model.predict(x, batch_size=32), model(x), atol=1e-6)


def test_training_step_skips_the_first_layers_input_gradient(monkeypatch):
    """A training step does not form dL/d(inputs) for a first recurrent layer (nobody
    reads it); the weights it trains to are those of the full backward."""
    import rnnkit
    from input_grad_checks import check_training_step_skips_input_gradient
    from rnnkit.keras import layers as KL
    from rnnkit.keras import models as KM

    def build():
        rnnkit.set_seed(3)
        m = KM.Sequential([KL.Input((6, 3)), KL.LSTM(5), KL.Dense(1)])
        m.compile(optimizer="sgd", loss="mse")
        return m

    check_training_step_skips_input_gradient(build, monkeypatch, seed=0)
