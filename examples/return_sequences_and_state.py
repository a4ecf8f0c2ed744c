"""What SimpleRNN, LSTM and Bidirectional return for each return_sequences / return_state setting.

    python examples/return_sequences_and_state.py
"""
import numpy as np

from rnnkit.keras.layers import LSTM, Bidirectional, SimpleRNN

# One sentence of 4 words, each a 5-dimensional vector: a 3-D batch (1, 4, 5).
train_X = np.array([[[0.1, 4.2, 1.5, 1.1, 2.8], [1.0, 3.1, 2.5, 0.7, 1.1],
                     [0.3, 2.1, 1.5, 2.1, 0.1], [2.2, 1.4, 0.5, 0.9, 1.1]]], dtype=np.float32)


def show(name, outputs):
    outputs = outputs if isinstance(outputs, list) else [outputs]
    print(f"{name:<58} -> " + ", ".join(str(o.shape) for o in outputs))


for rs in (False, True):
    for st in (False, True):
        show(f"SimpleRNN(3, return_sequences={rs}, return_state={st})",
             SimpleRNN(3, return_sequences=rs, return_state=st)(train_X))
show("LSTM(3, return_sequences=True, return_state=True)",
     LSTM(3, return_sequences=True, return_state=True)(train_X))
show("Bidirectional(LSTM(3, return_sequences=True, return_state=True))",
     Bidirectional(LSTM(3, return_sequences=True, return_state=True))(train_X))

# The last step of the sequence output is the final state.
hidden_states, last_state = SimpleRNN(3, return_sequences=True, return_state=True)(train_X)
print("last output == last state:", np.allclose(hidden_states[:, -1], last_state))
