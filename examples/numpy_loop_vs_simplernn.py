"""The seeds' hand-written NumPy RNN, next to the SimpleRNN layer that computes the same thing.

    python examples/numpy_loop_vs_simplernn.py
"""
import numpy as np

from rnnkit.keras.layers import SimpleRNN

timesteps, input_features, output_features = 100, 32, 64
rng = np.random.default_rng(0)
inputs = rng.random((timesteps, input_features))

# The loop exactly as the notes write it (scaled weights keep tanh out of saturation).
state_t = np.zeros((output_features,))
W = rng.random((output_features, input_features)) * 0.05
U = rng.random((output_features, output_features)) * 0.05
b = rng.random((output_features,)) * 0.1
successive_outputs = []
for input_t in inputs:
    output_t = np.tanh(np.dot(W, input_t) + np.dot(U, state_t) + b)
    successive_outputs.append(output_t)
    state_t = output_t
final_output_sequence = np.stack(successive_outputs, axis=0)

# The same recurrence as a Keras layer: Keras stores the transposed matrices.
layer = SimpleRNN(output_features, return_sequences=True, dtype="float64")
layer.build((None, timesteps, input_features))
layer.set_weights([W.T, U.T, b])
keras_style = layer(inputs[None])[0]

print("NumPy loop output:", final_output_sequence.shape)
print("SimpleRNN output: ", keras_style.shape)
print("max |difference|:  %.1e" % np.abs(keras_style - final_output_sequence).max())
print("parameters: %d = %d x (%d + %d + 1)" % (layer.count_params(), output_features, input_features,
                                               output_features))
