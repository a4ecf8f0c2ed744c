"""Training on long sequences: truncated BPTT with stateful chunks, and full BPTT in little
memory with ``memory="low"`` (recomputation).

    python examples/long_sequences.py [--quick]

Task: echo the input 3 steps late (y_t = x_{t-3}) along sequences of 2,000 steps.

- Truncated BPTT: a ``stateful=True`` LSTM reads each sequence in chunks of 100 steps
  (``train_on_batch`` per chunk). The state carries from chunk to chunk; gradients
  stop at chunk boundaries. ``reset_states()`` before the next sequences.
- Full BPTT with ``LSTM(..., memory="low")``: the whole sequence in one step, keeping
  each step's state but not its gates, which backward rebuilds segment by segment
  (``bench/long_sequences.py``: a third of full storage's memory for 1.3-1.4x its
  time; layers other than LSTM recompute whole segments from states kept every
  ~sqrt(T) steps).
"""
import sys

import numpy as np

import rnnkit
from rnnkit.keras.layers import LSTM, Dense, Input, TimeDistributed
from rnnkit.keras.models import Sequential
from rnnkit.optimizers import Adam

quick = "--quick" in sys.argv
rnnkit.set_seed(0)
rng = np.random.default_rng(0)
B, T, CHUNK, DELAY = 16, 400 if quick else 2000, 100, 3
EPOCHS = 3 if quick else 15


def batch():
    x = rng.normal(size=(B, T, 1)).astype("float32")
    y = np.zeros_like(x)
    y[:, DELAY:] = x[:, :-DELAY]
    return x, y


# Truncated BPTT: stateful chunks.
tbptt = Sequential([Input(batch_shape=(B, None, 1)),
                    LSTM(32, stateful=True, return_sequences=True), TimeDistributed(Dense(1))])
tbptt.compile(optimizer=Adam(0.01), loss="mse")
for epoch in range(EPOCHS):
    x, y = batch()
    tbptt.reset_states()
    losses = [tbptt.train_on_batch(x[:, a:a + CHUNK], y[:, a:a + CHUNK]) for a in range(0, T, CHUNK)]
    if epoch in (0, EPOCHS - 1):
        print(f"truncated BPTT, chunks of {CHUNK}: epoch {epoch + 1} loss {np.mean(losses):.4f}")

# Full BPTT through all T steps, states recomputed in backward.
full = Sequential([Input((T, 1)), LSTM(32, return_sequences=True, memory="low"), TimeDistributed(Dense(1))])
full.compile(optimizer=Adam(0.01), loss="mse")
for epoch in range(EPOCHS):
    x, y = batch()
    loss = full.train_on_batch(x, y)
    if epoch in (0, EPOCHS - 1):
        print(f"memory='low', all {T} steps: epoch {epoch + 1} loss {float(loss):.4f}")
print("variance of the target (the loss of predicting 0):", f"{float(np.var(batch()[1])):.4f}")
