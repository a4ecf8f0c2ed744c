"""LSTM and GRU gate equations as plain NumPy, checked against the layers.

    python examples/gate_equations.py
"""
import numpy as np

from rnnkit.keras.layers import GRU, LSTM


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


rng = np.random.default_rng(0)
x = rng.normal(size=(2, 6, 4))           # (batch, timesteps, features)
units = 3

# LSTM: kernel (features, 4u), recurrent_kernel (u, 4u), bias (4u,), blocks i | f | c | o.
lstm = LSTM(units, return_sequences=True, dtype="float64")
lstm.build(x.shape)
W, U, b = lstm.get_weights()
h = np.zeros((2, units))
c = np.zeros((2, units))
for t in range(x.shape[1]):
    z = x[:, t] @ W + h @ U + b
    i = sigmoid(z[:, :units])                 # input gate
    f = sigmoid(z[:, units:2 * units])        # forget gate: 0 forgets, 1 keeps
    g = np.tanh(z[:, 2 * units:3 * units])    # candidate cell state
    o = sigmoid(z[:, 3 * units:])             # output gate
    c = f * c + i * g                         # C_t = f_t * C_{t-1} + i_t * g_t
    h = o * np.tanh(c)                        # h_t = o_t * tanh(C_t)
print("LSTM by hand == layer:", np.allclose(h, lstm(x)[:, -1]))

# GRU (reset_after=True, Keras' default): blocks z | r | h, bias rows [input, recurrent].
gru = GRU(units, dtype="float64")
gru.build(x.shape)
W, U, b = gru.get_weights()
h = np.zeros((2, units))
for t in range(x.shape[1]):
    xz = x[:, t] @ W + b[0]
    hz = h @ U + b[1]
    z = sigmoid(xz[:, :units] + hz[:, :units])                      # update gate
    r = sigmoid(xz[:, units:2 * units] + hz[:, units:2 * units])    # reset gate
    g = np.tanh(xz[:, 2 * units:] + r * hz[:, 2 * units:])          # candidate
    h = z * h + (1 - z) * g
print("GRU by hand == layer: ", np.allclose(h, gru(x)))
print("LSTM params: %d = 4 x ((4 + 1) x 3 + 3^2)" % lstm.count_params())
