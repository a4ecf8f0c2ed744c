"""The layers equal their hand-written step functions, per example, reversed, chunked."""
from __future__ import annotations

import numpy as np
import pytest

from rnnkit import layers as L

B, T, D, U = 4, 6, 5, 3


def make(kind, **kw):
    cls = {"simple": L.SimpleRNN, "lstm": L.LSTM, "gru": L.GRU, "gru_v1": L.GRU}[kind]
    if kind == "gru_v1":
        kw["reset_after"] = False
    layer = cls(U, dtype="float64", **kw)
    layer.build((None, T, D))
    rng = np.random.default_rng(5)
    layer.set_weights([rng.normal(0, 0.6, w.shape) for w in layer.get_weights()])
    return layer


def manual_loop(layer, x, h0=None):
    """Run the pure step function of ``layer`` timestep by timestep."""
    k, r, b = layer.kernel, layer.recurrent_kernel, layer.bias
    h = np.zeros((x.shape[0], U)) if h0 is None else h0[0]
    c = np.zeros((x.shape[0], U)) if h0 is None or len(h0) < 2 else h0[1]
    outs = []
    for t in range(x.shape[1]):
        if isinstance(layer, L.LSTM):
            h, c = L.lstm_step(x[:, t], h, c, k, r, b)
        elif isinstance(layer, L.GRU):
            h = L.gru_step(x[:, t], h, k, r, b, reset_after=layer.reset_after)
        else:
            h = L.simple_rnn_step(x[:, t], h, k, r, b)
        outs.append(h)
    return np.stack(outs, axis=1), h, c


@pytest.mark.parametrize("kind", ["simple", "lstm", "gru", "gru_v1"])
def test_layer_equals_manual_step_loop(kind):
    layer = make(kind, return_sequences=True, return_state=True)
    x = np.random.default_rng(0).normal(size=(B, T, D))
    seq, h, *rest = layer(x)
    ref_seq, ref_h, ref_c = manual_loop(layer, x)
    np.testing.assert_allclose(seq, ref_seq, rtol=0, atol=1e-12)
    np.testing.assert_allclose(h, ref_h, rtol=0, atol=1e-12)
    if kind == "lstm":
        np.testing.assert_allclose(rest[0], ref_c, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["simple", "lstm", "gru", "gru_v1"])
def test_batched_equals_per_example(kind):
    layer = make(kind, return_sequences=True)
    x = np.random.default_rng(1).normal(size=(B, T, D))
    whole = layer(x)
    for i in range(B):
        np.testing.assert_allclose(layer(x[i:i + 1])[0], whole[i], rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["simple", "lstm", "gru", "gru_v1"])
def test_go_backwards_equals_flipped_input(kind):
    fwd = make(kind, return_sequences=True, return_state=True)
    bwd = make(kind, return_sequences=True, return_state=True, go_backwards=True)
    x = np.random.default_rng(2).normal(size=(B, T, D))
    a = fwd(x[:, ::-1])
    b = bwd(x)
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["simple", "lstm", "gru", "gru_v1"])
def test_pre_and_post_padding_give_same_final_state(kind):
    layer = make(kind, return_state=True)
    rng = np.random.default_rng(3)
    lengths = [6, 3, 1, 4]
    x_pre = np.zeros((B, T, D))
    x_post = np.zeros((B, T, D))
    m_pre = np.zeros((B, T), bool)
    m_post = np.zeros((B, T), bool)
    for i, n in enumerate(lengths):
        seq = rng.normal(size=(n, D))
        x_pre[i, T - n:], m_pre[i, T - n:] = seq, True
        x_post[i, :n], m_post[i, :n] = seq, True
        # Garbage in the padding must not matter.
        x_pre[i, :T - n] = 99.0
        x_post[i, n:] = -99.0
    out_pre = layer(x_pre, mask=m_pre)
    out_post = layer(x_post, mask=m_post)
    for a, b in zip(out_pre, out_post):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    # Each row also equals running the unpadded sequence alone.
    for i, n in enumerate(lengths):
        alone = layer(x_post[i:i + 1, :n])
        np.testing.assert_allclose(alone[0], out_post[0][i:i + 1], rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", ["simple", "lstm", "gru"])
def test_all_padding_row_returns_initial_state(kind):
    layer = make(kind, return_sequences=True, return_state=True)
    x = np.random.default_rng(4).normal(size=(B, T, D))
    m = np.ones((B, T), bool)
    m[2] = False
    n = len(layer.state_names)
    init = [np.random.default_rng(9 + k).normal(size=(B, U)) for k in range(n)]
    seq, *states = layer(x, mask=m, initial_state=init)
    for s, s0 in zip(states, init):
        np.testing.assert_array_equal(s[2], s0[2])
    # As in Keras, outputs are tracked apart from states: a masked step repeats the
    # previous output, which is zeros before the first real step.
    np.testing.assert_array_equal(seq[2], np.zeros((T, U)))
    last = type(layer).from_config({**layer.get_config(), "return_sequences": False})
    last.build((None, T, D))
    last.set_weights(layer.get_weights())
    out, *_ = last(x, mask=m, initial_state=init)
    np.testing.assert_array_equal(out[2], np.zeros(U))
    np.testing.assert_array_equal(out[[0, 1, 3]], states[0][[0, 1, 3]])


@pytest.mark.parametrize("kind", ["simple", "lstm", "gru"])
def test_stateful_chunks_equal_one_pass(kind):
    stateless = make(kind, return_sequences=True)
    cls = type(stateless)
    kw = {"reset_after": stateless.reset_after} if kind.startswith("gru") else {}
    stateful = cls(U, dtype="float64", stateful=True, return_sequences=True,
                   batch_input_shape=(B, None, D), **kw)
    stateful.build((B, None, D))
    stateful.set_weights(stateless.get_weights())
    x = np.random.default_rng(6).normal(size=(B, 9, D))
    whole = stateless(x)
    parts = [stateful(x[:, i:i + 3]) for i in range(0, 9, 3)]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, rtol=0, atol=1e-12)
    stateful.reset_states()
    np.testing.assert_allclose(stateful(x[:, :3]), whole[:, :3], rtol=0, atol=1e-12)
    # reset_states(states) sets them explicitly.
    h = np.random.default_rng(7).normal(size=(B, U))
    states = [h] * len(stateful.state_names)
    stateful.reset_states(states)
    np.testing.assert_allclose(stateful(x[:, :3]), stateless(x[:, :3], initial_state=states),
                               rtol=0, atol=1e-12)


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


def test_bidirectional_equals_two_layers():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(B, T, D))
    bi = L.Bidirectional(L.GRU(U, return_sequences=True, return_state=True, dtype="float64"),
                         dtype="float64")
    bi.build((None, T, D))
    ws = [rng.normal(0, 0.5, w.shape) for w in bi.get_weights()]
    bi.set_weights(ws)
    out, h_f, h_b = bi(x)
    f = make("gru", return_sequences=True, return_state=True)
    f.set_weights(ws[:3])
    g = make("gru", return_sequences=True, return_state=True, go_backwards=True)
    g.set_weights(ws[3:])
    sf, hf = f(x)
    sb, hb = g(x)
    np.testing.assert_allclose(out, np.concatenate([sf, sb[:, ::-1]], -1), atol=1e-12)
    np.testing.assert_allclose(h_f, hf, atol=1e-12)
    np.testing.assert_allclose(h_b, hb, atol=1e-12)


def test_float32_default_and_float64_option():
    x = np.random.default_rng(0).normal(size=(2, 3, 4))
    assert L.LSTM(2)(x).dtype == np.float32
    assert L.LSTM(2, dtype="float64")(x).dtype == np.float64


def test_lstm_unit_forget_bias_and_initializers():
    lstm = L.LSTM(4)
    lstm.build((None, 3, 5))
    np.testing.assert_array_equal(lstm.bias, np.r_[np.zeros(4), np.ones(4), np.zeros(8)])
    r = lstm.recurrent_kernel
    np.testing.assert_allclose(r @ r.T, np.eye(4), atol=1e-5)  # orthogonal rows
    no = L.LSTM(4, unit_forget_bias=False)
    no.build((None, 3, 5))
    assert not no.bias.any()


def test_seeded_layers_are_repeatable():
    a, b = L.GRU(3, seed=1), L.GRU(3, seed=1)
    a.build((None, 2, 4))
    b.build((None, 2, 4))
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(u, v)
