"""The built-in cells (layers/recurrent/cells.py): one step equals the cell module's step
function, Keras' weights and config, and gradients on the tape."""
from __future__ import annotations

import numpy as np
import pytest

import rnnkit
from gradcheck import numeric
from rnnkit.keras import layers, ops
from rnnkit.layers import gru_step, lstm_step, simple_rnn_step

CELLS = {
    "simple_rnn": (layers.SimpleRNNCell, {}, 1, 1),
    "lstm": (layers.LSTMCell, {}, 2, 4),
    "gru": (layers.GRUCell, {}, 1, 3),
    "gru_reset_before": (layers.GRUCell, {"reset_after": False}, 1, 3),
}


def _cell(kind, rng, units=3, dim=4, **extra):
    cls, kw, _, _ = CELLS[kind]
    cell = cls(units, dtype="float64", **kw, **extra)
    cell.build((None, dim))
    cell.set_weights([w + rng.uniform(-0.4, 0.4, w.shape) for w in cell.get_weights()])
    return cell


@pytest.mark.parametrize("kind", list(CELLS))
def test_call_is_the_step_function(kind, rng):
    cell = _cell(kind, rng)
    x = rng.normal(size=(2, 4))
    states = [rng.normal(size=(2, 3)) for _ in range(CELLS[kind][2])]
    out, new = cell(x, states)
    k, r, b = cell.kernel, cell.recurrent_kernel, cell.bias
    if kind == "simple_rnn":
        want = [simple_rnn_step(x, states[0], k, r, b)]
    elif kind == "lstm":
        want = list(lstm_step(x, states[0], states[1], k, r, b))
    else:
        want = [gru_step(x, states[0], k, r, b, reset_after=cell.reset_after)]
    assert len(new) == len(want)
    for a, w in zip(new, want):
        np.testing.assert_allclose(a, w, rtol=1e-12)
    np.testing.assert_allclose(out, want[0], rtol=1e-12)


@pytest.mark.parametrize("kind", list(CELLS))
def test_weights_state_size_and_config(kind, rng):
    cls, kw, n_states, gates = CELLS[kind]
    cell = cls(5, **kw)
    cell.build((None, 7))
    shapes = [w.shape for w in cell.weights]
    bias = (2, gates * 5) if kind == "gru" else (gates * 5,)
    assert shapes == [(7, gates * 5), (5, gates * 5), bias]
    assert cell.state_size == (5 if n_states == 1 else [5, 5]) and cell.output_size == 5
    assert [s.shape for s in cell.get_initial_state(batch_size=2)] == [(2, 5)] * n_states
    cfg = cell.get_config()
    again = cls.from_config(cfg)
    assert again.get_config() == cfg
    assert cfg["units"] == 5 and "seed" in cfg and "dropout" in cfg and "recurrent_dropout" in cfg
    assert ("recurrent_activation" in cfg) == (kind != "simple_rnn")


@pytest.mark.parametrize("kind", list(CELLS))
def test_same_seed_same_weights_as_the_layer(kind):
    cls, kw, _, _ = CELLS[kind]
    layer_cls = {"simple_rnn": layers.SimpleRNN, "lstm": layers.LSTM}.get(kind, layers.GRU)
    cell, layer = cls(3, seed=5, **kw), layer_cls(3, seed=5, **kw)
    cell.build((None, 4))
    layer.build((None, 2, 4))
    for a, b in zip(cell.get_weights(), layer.get_weights()):
        np.testing.assert_array_equal(a, b)
    if kind == "lstm":  # unit_forget_bias
        np.testing.assert_array_equal(cell.bias[3:6], 1.0)


@pytest.mark.parametrize("kind", list(CELLS))
def test_a_loop_of_cell_calls_on_the_tape_matches_finite_differences(kind, rng):
    """The cell under a GradientTape (one op per step) in a Python loop, masked like Keras."""
    cell = _cell(kind, rng)
    xs = rng.normal(size=(2, 4, 4))
    init = [rng.normal(size=(2, 3)) for _ in range(CELLS[kind][2])]
    mask = np.array([[1, 1, 0, 1], [0, 1, 1, 1]], bool)
    up = rng.normal(size=(2, 3))

    def loss(x, states, tape=None):
        for t in range(x.shape[1]):
            out, new = cell(ops.take(x, t, axis=1), states)  # an op, so xs is a source
            keep = mask[:, t:t + 1]
            states = [ops.where(keep, n, s) for n, s in zip(new, states)]
        return ops.sum(states[0] * up) + 0.5 * ops.sum(ops.square(states[-1]))

    with rnnkit.GradientTape() as tape:
        tape.watch(xs)
        for s in init:
            tape.watch(s)
        value = loss(xs, init)
    grads = tape.gradient(value, [xs, *init, *cell.trainable_weights])

    def f():
        return float(loss(xs, init))

    for arr, g in zip([xs, *init, *cell.weights], grads):
        idx, num = numeric(f, arr)
        np.testing.assert_allclose(np.asarray(g).reshape(-1)[idx], num, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_forward_backward_of_one_step(kind, rng):
    cell = _cell(kind, rng)
    x = rng.normal(size=(2, 4))
    states = [rng.normal(size=(2, 3)) for _ in range(CELLS[kind][2])]
    outs, cache = cell.forward(x, states=states)
    ups = [rng.normal(size=o.shape) for o in outs]
    dx, *dstates = cell.backward(ups, cache)

    def f():
        return float(sum(np.sum(o * u) for o, u in zip(cell.forward(x, states=states)[0], ups)))

    for arr, g in [(x, dx), *zip(states, dstates), *zip(cell.weights, cell.grads)]:
        idx, num = numeric(f, arr)
        np.testing.assert_allclose(np.asarray(g).reshape(-1)[idx], num, rtol=1e-6, atol=1e-8)


def test_dropout_only_in_training(rng):
    cell = layers.LSTMCell(3, dropout=0.5, recurrent_dropout=0.5, dtype="float64", seed=1)
    x, states = rng.normal(size=(4, 5)), [rng.normal(size=(4, 3)), rng.normal(size=(4, 3))]
    a = cell(x, states)[0]
    np.testing.assert_array_equal(a, cell(x, states, training=False)[0])
    assert not np.allclose(a, cell(x, states, training=True)[0])


def test_bad_inputs():
    cell = layers.LSTMCell(3)
    with pytest.raises(ValueError, match="units"):
        layers.GRUCell(0)
    with pytest.raises(ValueError, match="dropout"):
        layers.SimpleRNNCell(2, dropout=1.5)
    with pytest.raises(ValueError, match="2 state"):
        cell(np.zeros((2, 4)), [np.zeros((2, 3))])
    with pytest.raises(ValueError, match=r"\(2, 3\)"):
        cell(np.zeros((2, 4)), [np.zeros((2, 3)), np.zeros((2, 5))])
    with pytest.raises(TypeError, match="states"):
        cell(np.zeros((2, 4)))
    with pytest.raises(ValueError, match="features"):
        cell(np.zeros((2, 6)), [np.zeros((2, 3))] * 2)
