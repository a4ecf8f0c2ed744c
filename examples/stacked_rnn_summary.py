"""Stacked recurrent layers and where every parameter count comes from.

    python examples/stacked_rnn_summary.py
"""
from rnnkit.keras.layers import GRU, LSTM, Dense, Embedding, SimpleRNN
from rnnkit.keras.models import Sequential

model = Sequential()
model.add(Embedding(10000, 32))
model.add(SimpleRNN(32, return_sequences=True))   # every intermediate layer returns the whole sequence
model.add(SimpleRNN(32, return_sequences=True))
model.add(SimpleRNN(32, return_sequences=True))
model.add(SimpleRNN(32))                          # only the top one returns the last output
model.summary(explain=True)

mixed = Sequential([Embedding(10000, 32, input_length=20), LSTM(32, return_sequences=True), GRU(16),
                    Dense(1, activation="sigmoid")])
mixed.summary(explain=True)
