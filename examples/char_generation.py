"""A character-level LSTM language model on Tiny Shakespeare, and text sampled from it.

    python examples/char_generation.py [--quick]

The same as `rnnkit train shakespeare`, written out: windows of characters, a many-to-many
LSTM with TimeDistributed(Dense(softmax)), then sampling one character at a time while the
LSTM state is carried forward.
"""
import sys

import numpy as np

import rnnkit
from rnnkit.datasets.corpora import load_char_corpus
from rnnkit.keras.layers import LSTM, Dense, Embedding, Input, TimeDistributed
from rnnkit.keras.models import Sequential
from rnnkit.optimizers import Adam

quick = "--quick" in sys.argv
rnnkit.set_seed(0)
corpus = load_char_corpus()                            # tinyshakespeare.txt from $RNNKIT_DATA
x, y = corpus.windows(seq_len=100, step=100)
if quick:
    x, y = x[:64], y[:64]
units = 32 if quick else 256
model = Sequential([Input(shape=(None,), dtype="int32"), Embedding(corpus.vocab_size, 64),
                    LSTM(units, return_sequences=True),
                    TimeDistributed(Dense(corpus.vocab_size, activation="softmax"))])
model.compile(optimizer=Adam(0.003, clipnorm=5.0), loss="sparse_categorical_crossentropy")
history = model.fit(x, y, epochs=1 if quick else 10, batch_size=64, verbose=2)
print(f"loss: {history.history['loss'][-1]:.3f} nats/char")

# Sampling: run the seed text, then feed each sampled character back with the carried state.
emb, lstm, head = model.layers
sampler = LSTM(units, return_sequences=True, return_state=True)
sampler.build((None, None, 64))
sampler.set_weights(lstm.get_weights())
rng = np.random.default_rng(0)
ids, states, text = corpus.encode("ROMEO:")[None], None, "ROMEO:"
for _ in range(200):
    seq, h, c = sampler(emb(ids), initial_state=states)
    states = [h, c]
    p = head(seq[:, -1:])[0, -1].astype(np.float64) ** (1 / 0.8)   # temperature 0.8
    nxt = rng.choice(len(p), p=p / p.sum())
    text += corpus.decode([nxt])
    ids = np.array([[nxt]])
print(text)
