"""keras-io style programs built from the issue-14 layers, run by the import swap alone
(``from rnnkit import keras``), on small synthetic data the tests make. Each must learn:
its loss ends well below chance.

- the addition RNN (LSTM encoder -> RepeatVector -> LSTM decoder);
- a Conv1D + MaxPooling1D + LSTM text classifier;
- an LSTM classifier with Attention over its outputs (masked padding);
- a seq2seq with Luong attention (functional API) on a toy task (reversing digits);
- a small Transformer-style block (MultiHeadAttention, LayerNormalization) classifier;
- (slow, with RNNKIT_DATA) Conv1D + LSTM and LSTM + Attention classifiers on 3,000 real IMDB
  reviews, checked on 1,000 test reviews.
"""
from __future__ import annotations

import math
import os

import numpy as np
import pytest

from rnnkit import keras
from rnnkit.keras import layers

CHARS = "0123456789+ "


def _addition_data(digits, n, rng):
    maxlen = 2 * digits + 1
    a, b = rng.integers(0, 10 ** digits, n), rng.integers(0, 10 ** digits, n)
    q = [f"{x}+{y}".ljust(maxlen) for x, y in zip(a, b)]
    ans = [str(x + y).ljust(digits + 1) for x, y in zip(a, b)]

    def onehot(strs, steps):
        out = np.zeros((len(strs), steps, len(CHARS)), "float32")
        for i, s in enumerate(strs):
            out[i, np.arange(steps), [CHARS.index(c) for c in s]] = 1
        return out

    return onehot(q, maxlen), onehot(ans, digits + 1)


def _addition_rnn(digits, n, epochs, units):
    rng = np.random.default_rng(0)
    x, y = _addition_data(digits, n, rng)
    keras.utils.set_random_seed(1)
    model = keras.Sequential([
        keras.Input(shape=(2 * digits + 1, len(CHARS))),
        layers.LSTM(units),
        layers.RepeatVector(digits + 1),
        layers.LSTM(units, return_sequences=True),
        layers.Dense(len(CHARS), activation="softmax"),
    ])
    model.compile(loss="categorical_crossentropy", optimizer=keras.optimizers.Adam(0.01), metrics=["accuracy"])
    return model.fit(x, y, batch_size=32, epochs=epochs, verbose=0).history


def test_addition_rnn_one_digit():
    hist = _addition_rnn(digits=1, n=400, epochs=12, units=32)
    assert hist["loss"][-1] < 0.5 * math.log(len(CHARS))


@pytest.mark.slow
def test_addition_rnn_two_digits():
    hist = _addition_rnn(digits=2, n=2000, epochs=15, units=64)
    assert hist["loss"][-1] < 0.8 and hist["accuracy"][-1] > 0.7


def _reviews(n, steps, vocab, rng, pad=False):
    """Token sequences labelled by which of two 'sentiment' token groups dominates."""
    x = rng.integers(5, vocab, size=(n, steps))
    y = rng.integers(0, 2, n)
    for i in range(n):
        k = rng.integers(2, 5)
        where = rng.choice(steps, k, replace=False)
        x[i, where] = rng.integers(1, 3) if y[i] else rng.integers(3, 5)
        if pad:
            length = rng.integers(steps // 2, steps + 1)
            keep = np.sort(np.concatenate([where, np.setdiff1d(np.arange(steps), where)[:max(length - k, 0)]]))
            row = np.zeros(steps, x.dtype)
            row[steps - len(keep):] = x[i, keep]  # pre-padding, as pad_sequences does
            x[i] = row
    return x.astype("int32"), y.astype("float32")


def test_conv1d_lstm_text_classifier():
    rng = np.random.default_rng(2)
    x, y = _reviews(400, 40, 50, rng)
    keras.utils.set_random_seed(2)
    model = keras.Sequential([
        keras.Input(shape=(40,), dtype="int32"),
        layers.Embedding(50, 16),
        layers.Dropout(0.1),
        layers.Conv1D(16, 5, padding="valid", activation="relu", strides=1),
        layers.MaxPooling1D(pool_size=2),
        layers.LSTM(16),
        layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    hist = model.fit(x, y, batch_size=32, epochs=8, verbose=0, validation_split=0.2).history
    assert hist["loss"][-1] < 0.3 * math.log(2)
    assert hist["val_accuracy"][-1] > 0.85


def test_lstm_with_attention_classifier():
    rng = np.random.default_rng(3)
    x, y = _reviews(400, 30, 40, rng, pad=True)
    keras.utils.set_random_seed(3)
    ids = keras.Input(shape=(None,), dtype="int32")
    h = layers.Embedding(40, 16, mask_zero=True)(ids)
    seq = layers.LSTM(16, return_sequences=True)(h)
    ctx = layers.Attention(use_scale=True)([seq, seq])
    pooled = layers.GlobalAveragePooling1D()(ctx)
    pooled = layers.BatchNormalization()(pooled)
    out = layers.Dense(1, activation="sigmoid")(pooled)
    model = keras.Model(ids, out)
    model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam(0.01), metrics=["accuracy"])
    hist = model.fit(x, y, batch_size=32, epochs=8, verbose=0).history
    assert hist["loss"][-1] < 0.3 * math.log(2)


def test_seq2seq_with_attention_reverses_digits():
    """Encoder LSTM -> decoder LSTM (teacher forcing) -> Luong attention over the encoder."""
    rng = np.random.default_rng(4)
    n, steps, vocab = 600, 6, 12  # 0 = start token, 1 = unused, digits 2..11
    src = rng.integers(2, vocab, size=(n, steps)).astype("int32")
    tgt = src[:, ::-1]
    dec_in = np.concatenate([np.zeros((n, 1), "int32"), tgt[:, :-1]], axis=1)
    keras.utils.set_random_seed(4)
    enc_ids = keras.Input(shape=(steps,), dtype="int32")
    dec_ids = keras.Input(shape=(steps,), dtype="int32")
    emb = layers.Embedding(vocab, 16)
    enc_seq, h, c = layers.LSTM(32, return_sequences=True, return_state=True)(emb(enc_ids))
    dec_seq = layers.LSTM(32, return_sequences=True)(emb(dec_ids), initial_state=[h, c])
    context = layers.Attention()([dec_seq, enc_seq])
    joined = layers.Concatenate()([dec_seq, context])
    probs = layers.Dense(vocab, activation="softmax")(joined)
    model = keras.Model([enc_ids, dec_ids], probs)
    model.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.Adam(0.01),
                  metrics=["accuracy"])
    hist = model.fit([src, dec_in], tgt, batch_size=32, epochs=10, verbose=0).history
    assert hist["loss"][-1] < 0.25 * math.log(vocab - 2)


def test_transformer_block_classifier():
    rng = np.random.default_rng(5)
    x, y = _reviews(300, 20, 30, rng)
    keras.utils.set_random_seed(5)
    ids = keras.Input(shape=(20,), dtype="int32")
    h = layers.Embedding(30, 16)(ids)
    att = layers.MultiHeadAttention(num_heads=2, key_dim=8)(h, h)
    h = layers.LayerNormalization(epsilon=1e-6)(layers.Add()([h, att]))
    ff = layers.Conv1D(16, 1, activation="relu")(h)
    h = layers.LayerNormalization(epsilon=1e-6)(layers.Add()([h, ff]))
    h = layers.GlobalMaxPooling1D()(h)
    out = layers.Dense(1, activation="sigmoid")(h)
    model = keras.Model(ids, out)
    model.compile(loss="binary_crossentropy", optimizer=keras.optimizers.Adam(0.005))
    hist = model.fit(x, y, batch_size=32, epochs=8, verbose=0).history
    assert hist["loss"][-1] < 0.3 * math.log(2)


# ------------------------------------------------------------------ real IMDB reviews
DATA = os.environ.get("RNNKIT_DATA")
needs_data = pytest.mark.skipif(not DATA, reason="set RNNKIT_DATA to the shared data directory (CI does)")


def _imdb_sample(n_train=3000, n_test=1000, maxlen=120, num_words=5000):
    from rnnkit.datasets import imdb
    from rnnkit.keras.preprocessing.sequence import pad_sequences

    (x, y), (xt, yt) = imdb.load_data(num_words=num_words)
    rng = np.random.default_rng(0)
    i, j = rng.permutation(len(x))[:n_train], rng.permutation(len(xt))[:n_test]
    return ((pad_sequences([x[k] for k in i], maxlen=maxlen), np.asarray(y)[i].astype("float32")),
            (pad_sequences([xt[k] for k in j], maxlen=maxlen), np.asarray(yt)[j].astype("float32")))


@pytest.mark.slow
@needs_data
def test_conv1d_lstm_imdb():
    (x, y), (xt, yt) = _imdb_sample()
    keras.utils.set_random_seed(0)
    model = keras.Sequential([
        keras.Input(shape=(120,), dtype="int32"),
        layers.Embedding(5000, 32),
        layers.Dropout(0.2),
        layers.Conv1D(32, 5, activation="relu"),
        layers.MaxPooling1D(4),
        layers.LSTM(32),
        layers.Dense(1, activation="sigmoid"),
    ])
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    hist = model.fit(x, y, batch_size=32, epochs=2, verbose=0, validation_data=(xt, yt)).history
    assert hist["loss"][-1] < 0.55 and hist["val_accuracy"][-1] > 0.7


@pytest.mark.slow
@needs_data
def test_lstm_attention_imdb():
    (x, y), (xt, yt) = _imdb_sample()
    keras.utils.set_random_seed(0)
    ids = keras.Input(shape=(None,), dtype="int32")
    seq = layers.LSTM(32, return_sequences=True)(layers.Embedding(5000, 32, mask_zero=True)(ids))
    ctx = layers.Attention()([seq, seq])
    out = layers.Dense(1, activation="sigmoid")(layers.GlobalAveragePooling1D()(ctx))
    model = keras.Model(ids, out)
    model.compile(loss="binary_crossentropy", optimizer="adam", metrics=["accuracy"])
    hist = model.fit(x, y, batch_size=32, epochs=2, verbose=0, validation_data=(xt, yt)).history
    assert hist["loss"][-1] < 0.55 and hist["val_accuracy"][-1] > 0.7
