"""Consistency checks that are not about one cell (those are in recurrent/test_<cell>.py):
stateful models, the seeds' NumPy loop, dtypes, seeding."""
from __future__ import annotations

import numpy as np

from rnnkit import layers as L

B, T, D, U = 4, 6, 5, 3


def test_stateful_model_reset_states():
    from rnnkit.models import Sequential

    model = Sequential([L.LSTM(U, stateful=True, batch_input_shape=(2, 3, D), dtype="float64")])
    x = np.random.default_rng(0).normal(size=(2, 3, D))
    first = model(x)
    second = model(x)
    assert not np.allclose(first, second)
    model.reset_states()
    np.testing.assert_array_equal(model(x), first)


def test_seed_numpy_loop_equals_simple_rnn():
    """The seeds' loop ``np.tanh(np.dot(W, x_t) + np.dot(U, state_t) + b)``, to 1e-12."""
    rng = np.random.default_rng(0)
    timesteps, input_features, output_features = 100, 32, 64
    inputs = rng.random((timesteps, input_features))
    state_t = np.zeros((output_features,))
    W = rng.random((output_features, input_features)) * 0.1
    Uw = rng.random((output_features, output_features)) * 0.1
    b = rng.random((output_features,))
    successive_outputs = []
    for input_t in inputs:
        output_t = np.tanh(np.dot(W, input_t) + np.dot(Uw, state_t) + b)
        successive_outputs.append(output_t)
        state_t = output_t
    final_output_sequence = np.stack(successive_outputs, axis=0)

    layer = L.SimpleRNN(output_features, return_sequences=True, dtype="float64")
    layer.build((None, timesteps, input_features))
    layer.set_weights([W.T, Uw.T, b])
    ours = layer(inputs[None])[0]
    np.testing.assert_allclose(ours, final_output_sequence, rtol=0, atol=1e-12)


def test_float32_default_and_float64_option():
    x = np.random.default_rng(0).normal(size=(2, 3, 4))
    assert L.LSTM(2)(x).dtype == np.float32
    assert L.LSTM(2, dtype="float64")(x).dtype == np.float64


def test_seeded_layers_are_repeatable():
    a, b = L.GRU(3, seed=1), L.GRU(3, seed=1)
    a.build((None, 2, 4))
    b.build((None, 2, 4))
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(u, v)
