"""RNN(cell) (layers/recurrent/rnn.py, rnn_loop.py, stacked_cells.py): a built-in cell runs on
the fast engines and equals its layer; any other cell runs the generic loop on the tape."""
from __future__ import annotations

import os

import numpy as np
import pytest

import rnnkit
from gradcheck import check_layer_gradients, loss_and_grads
from rnnkit import keras, saving
from rnnkit.keras import layers, ops

CELLS = {
    "lstm": (layers.LSTMCell, layers.LSTM, {}),
    "gru": (layers.GRUCell, layers.GRU, {}),
    "gru_reset_before": (layers.GRUCell, layers.GRU, {"reset_after": False}),
    "simple_rnn": (layers.SimpleRNNCell, layers.SimpleRNN, {}),
}
OPTIONS = [
    {},
    {"return_sequences": True},
    {"return_state": True},
    {"return_sequences": True, "return_state": True, "go_backwards": True},
    {"return_sequences": True, "zero_output_for_mask": True},
]


def _pair(kind, dtype="float64", **opts):
    cell_cls, layer_cls, extra = CELLS[kind]
    rnn = layers.RNN(cell_cls(3, dtype=dtype, **extra), **opts)
    layer = layer_cls(3, dtype=dtype, **extra, **opts)
    return rnn, layer


def _mask(batch=3, steps=5):
    m = np.ones((batch, steps), bool)
    m[0, 3:] = False
    m[1, :2] = False
    if batch > 2:
        m[2, 2] = False
    return m


@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: "-".join(o) or "default")
@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("masked", [False, True], ids=["nomask", "mask"])
def test_rnn_of_a_builtin_cell_equals_its_layer(kind, opts, masked, rng):
    rnn, layer = _pair(kind, **opts)
    x = rng.normal(size=(3, 5, 4))
    rnn.build((None, 5, 4))
    layer.build((None, 5, 4))
    weights = [w + rng.uniform(-0.3, 0.3, w.shape) for w in rnn.get_weights()]  # non-zero biases
    rnn.set_weights(weights)
    layer.set_weights(weights)
    call = {"mask": _mask()} if masked else {}
    out_r, cache = rnn.forward(x, training=True, **call)
    out_l, cache_l = layer.forward(x, training=True, **call)
    assert cache.engine is cache_l.engine  # the engine that runs the layer
    assert cache.engine.name == ("reference" if kind == "gru_reset_before" else "feature_major")
    outs_r = out_r if isinstance(out_r, list) else [out_r]
    outs_l = out_l if isinstance(out_l, list) else [out_l]
    for a, b in zip(outs_r, outs_l):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)
    up = [rng.normal(size=o.shape) for o in outs_r]
    _, dx_r, g_r = loss_and_grads(rnn, x, up, **call)
    _, dx_l, g_l = loss_and_grads(layer, x, up, **call)
    np.testing.assert_allclose(dx_r, dx_l, rtol=1e-10, atol=1e-12)
    for a, b in zip(g_r, g_l):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(rnn.call(x, **call) if not opts.get("return_state") else rnn.call(x, **call)[0],
                               outs_l[0], rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_rnn_of_a_builtin_cell_with_initial_state_and_gradcheck(kind, rng):
    rnn, layer = _pair(kind, return_sequences=True, return_state=True)
    x = rng.normal(size=(2, 4, 3))
    rnn.build((None, 4, 3))
    rnn.set_weights([w + rng.uniform(-0.3, 0.3, w.shape) for w in rnn.get_weights()])
    layer.build((None, 4, 3))
    layer.set_weights(rnn.get_weights())
    n = 2 if kind == "lstm" else 1
    init = [rng.normal(size=(2, 3)) for _ in range(n)]
    a = rnn(x, initial_state=init, mask=_mask(2, 4))
    b = layer(x, initial_state=init, mask=_mask(2, 4))
    for p, q in zip(a, b):
        np.testing.assert_allclose(p, q, rtol=1e-12)
    up = [rng.normal(size=o.shape) for o in a]
    check_layer_gradients(rnn, x, up, initial_state=init, mask=_mask(2, 4))


def test_the_weights_are_the_cells(rng):
    cell = layers.LSTMCell(4, seed=3)
    rnn = layers.RNN(cell)
    rnn(rng.normal(size=(2, 3, 5)).astype("float32"))
    assert rnn.kernel is cell.kernel and rnn.weights[0] is cell.kernel
    assert [w.shape for w in rnn.weights] == [(5, 16), (4, 16), (16,)]
    assert rnn.weight_names == [f"{cell.name}/kernel", f"{cell.name}/recurrent_kernel", f"{cell.name}/bias"]
    assert rnn.count_params() == 4 * ((5 + 1) * 4 + 16)
    assert [s.shape for s in rnn.get_initial_state(2)] == [(2, 4), (2, 4)]
    ref = layers.LSTM(4, seed=3)
    ref.build((None, 3, 5))
    for a, b in zip(rnn.get_weights(), ref.get_weights()):  # same seed, same initial weights
        np.testing.assert_array_equal(a, b)
    out, cache = rnn.forward(rng.normal(size=(2, 3, 5)).astype("float32"), training=True)
    rnn.backward(np.ones_like(out), cache)
    assert cell.grads[0] is not None and rnn.grads[0] is cell.grads[0]


# ------------------------------------------------------------------ the generic loop
class MinimalRNNCell(layers.Layer):
    """The Keras RNN guide's cell, written with keras.ops."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_uniform",
                                      name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units),
                                                initializer="random_uniform", name="recurrent_kernel")

    def call(self, inputs, states):
        prev_output = states[0]
        output = ops.tanh(ops.matmul(inputs, self.kernel) + ops.matmul(prev_output, self.recurrent_kernel))
        return output, [output]


class PeepholeCell(layers.Layer):
    """Two states, a bias, and the training flag: a user's LSTM-like cell."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = [units, units]
        self.output_size = units

    def build(self, input_shape):
        u = self.units
        self.w = self.add_weight(shape=(input_shape[-1], 2 * u), initializer="glorot_uniform", name="w")
        self.u = self.add_weight(shape=(u, 2 * u), initializer="orthogonal", name="u")
        self.b = self.add_weight(shape=(2 * u,), initializer="random_normal", name="b")

    def call(self, inputs, states, training=None):
        h, c = states
        z = ops.matmul(inputs, self.w) + ops.matmul(h, self.u) + self.b
        gate = ops.sigmoid(z[:, :self.units] + c)
        c_new = gate * c + (1 - gate) * ops.tanh(z[:, self.units:])
        h_new = ops.tanh(c_new) * gate
        return h_new, [h_new, c_new]


@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: "-".join(o) or "default")
def test_generic_loop_gradients_with_masks(opts, rng):
    rnn = layers.RNN(PeepholeCell(3, dtype="float64"), **opts)
    x = rng.normal(size=(3, 5, 2))
    outs = rnn(x, mask=_mask())
    outs = outs if isinstance(outs, list) else [outs]
    assert len(outs) == (3 if opts.get("return_state") else 1)
    check_layer_gradients(rnn, x, [rng.normal(size=o.shape) for o in outs], mask=_mask())


def test_generic_loop_initial_state_gradients(rng):
    rnn = layers.RNN(PeepholeCell(3, dtype="float64"), return_sequences=True, return_state=True,
                     go_backwards=True)
    x = rng.normal(size=(2, 4, 2))
    init = [rng.normal(size=(2, 3)), rng.normal(size=(2, 3))]
    outs = rnn(x, initial_state=init, mask=_mask(2, 4))
    check_layer_gradients(rnn, x, [rng.normal(size=o.shape) for o in outs], initial_state=init,
                          mask=_mask(2, 4))


def test_generic_loop_masking_follows_keras(rng):
    """At masked steps the states are carried and the output repeats the last one (zeros
    before the first real step): the same rule as the built-in layers."""
    cell = layers.SimpleRNNCell(3, dtype="float64")
    generic = layers.RNN(layers.StackedRNNCells([cell]), return_sequences=True, return_state=True)
    fused = layers.RNN(cell, return_sequences=True, return_state=True)
    x = rng.normal(size=(3, 5, 2))
    for zero in (False, True):
        generic.zero_output_for_mask = fused.zero_output_for_mask = zero
        a, b = generic(x, mask=_mask()), fused(x, mask=_mask())
        for p, q in zip(a, b):
            np.testing.assert_allclose(p, q, rtol=1e-6, atol=1e-8)


def test_a_user_cell_trains_in_a_model(rng):
    rnkit_seed = rnnkit.set_seed if hasattr(rnnkit, "set_seed") else None
    if rnkit_seed:
        rnkit_seed(0)
    x = rng.normal(size=(32, 6, 2)).astype("float32")
    y = x.sum(axis=(1, 2))[:, None] * 0.2
    inp = keras.Input((6, 2))
    h = layers.RNN(MinimalRNNCell(8), return_sequences=True)(inp)
    h = layers.RNN(PeepholeCell(4))(h)
    model = keras.Model(inp, layers.Dense(1)(h))
    model.compile(keras.optimizers.Adam(0.02), "mse")
    hist = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]
    assert model.layers[1].output.shape == (None, 6, 8)


class NestedCell(layers.Layer):
    """The Keras "Working with RNNs" guide's cell: nested inputs, a vector state and a
    matrix state, nested outputs (written with rnnkit.keras.ops)."""

    def __init__(self, unit_1, unit_2, unit_3, **kwargs):
        self.unit_1, self.unit_2, self.unit_3 = unit_1, unit_2, unit_3
        self.state_size = [unit_1, (unit_2, unit_3)]
        self.output_size = [unit_1, (unit_2, unit_3)]
        super().__init__(**kwargs)

    def build(self, input_shapes):
        i1 = input_shapes[0][1]
        i2, i3 = input_shapes[1][1], input_shapes[1][2]
        self.kernel_1 = self.add_weight(shape=(i1, self.unit_1), initializer="uniform", name="kernel_1")
        self.kernel_2_3 = self.add_weight(shape=(i2, i3, self.unit_2, self.unit_3), initializer="uniform",
                                          name="kernel_2_3")

    def call(self, inputs, states):
        input_1, input_2 = inputs
        s1, s2 = states
        output_1 = ops.matmul(input_1, self.kernel_1)
        output_2_3 = ops.einsum("bij,ijkl->bkl", input_2, self.kernel_2_3)
        state_1 = s1 + output_1
        state_2_3 = s2 + output_2_3
        return (output_1, output_2_3), (state_1, state_2_3)

    def get_config(self):
        return {"unit_1": self.unit_1, "unit_2": self.unit_2, "unit_3": self.unit_3}


def test_the_guides_nested_cell_trains(rng):
    unit_1, unit_2, unit_3, i1, i2, i3 = 4, 3, 2, 5, 3, 2
    cell = NestedCell(unit_1, unit_2, unit_3)
    rnn = layers.RNN(cell)
    input_1, input_2 = keras.Input((None, i1)), keras.Input((None, i2, i3))
    outputs = rnn((input_1, input_2))
    assert [tuple(o.shape) for o in outputs] == [(None, unit_1), (None, unit_2, unit_3)]
    model = keras.Model([input_1, input_2], outputs)
    model.compile(optimizer="adam", loss="mse")
    n, steps = 32, 4
    x1 = rng.random((n, steps, i1)).astype("float32")
    x2 = rng.random((n, steps, i2, i3)).astype("float32")
    y1 = rng.random((n, unit_1)).astype("float32")
    y2 = rng.random((n, unit_2, unit_3)).astype("float32")
    hist = model.fit([x1, x2], [y1, y2], batch_size=16, epochs=8, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    # the outputs of the last step; the states (a vector and a matrix) sum over time
    rnn.return_state = True
    out = rnn([x1[:2], x2[:2]])
    k23 = cell.kernel_2_3.value
    np.testing.assert_allclose(out[1], np.einsum("bij,ijkl->bkl", x2[:2, -1], k23), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(out[3], np.einsum("btij,ijkl->bkl", x2[:2], k23), rtol=1e-4, atol=1e-5)


def test_nested_cell_gradients(rng):
    cell = NestedCell(3, 2, 2, dtype="float64")
    rnn = layers.RNN(cell, return_sequences=True, return_state=True)
    xs = [rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 4, 2, 2))]
    outs = rnn(xs, mask=_mask(2, 4))
    assert [o.shape for o in outs] == [(2, 4, 3), (2, 4, 2, 2), (2, 3), (2, 2, 2)]
    ups = [rng.normal(size=o.shape) for o in outs]
    _, dxs, grads = loss_and_grads(rnn, xs, ups, mask=_mask(2, 4))
    assert [d.shape for d in dxs] == [x.shape for x in xs]
    from gradcheck import numeric

    def f():
        return float(sum(np.sum(o * u) for o, u in zip(rnn.forward(xs, mask=_mask(2, 4))[0], ups)))

    for arr, g in [(cell.kernel_1.value, grads[0]), (cell.kernel_2_3.value, grads[1]), (xs[1], dxs[1])]:
        idx, num = numeric(f, arr)
        np.testing.assert_allclose(np.asarray(g).reshape(-1)[idx], num, rtol=1e-6, atol=1e-7)


# ------------------------------------------------------------------------- stacking
def test_stacked_cells_equal_stacked_layers(rng):
    cells = [layers.LSTMCell(3, dtype="float64"), layers.GRUCell(4, dtype="float64"),
             layers.SimpleRNNCell(2, dtype="float64")]
    stacked = layers.RNN(cells, return_sequences=True, return_state=True)
    assert isinstance(stacked.cell, layers.StackedRNNCells)
    assert stacked.cell.state_size == [[3, 3], 4, 2] and stacked.cell.output_size == 2
    x = rng.normal(size=(3, 5, 2))
    stacked(x)
    stacked.set_weights([w + rng.uniform(-0.3, 0.3, w.shape) for w in stacked.get_weights()])
    refs = [layers.LSTM(3, return_sequences=True, return_state=True, dtype="float64"),
            layers.GRU(4, return_sequences=True, return_state=True, dtype="float64"),
            layers.SimpleRNN(2, return_sequences=True, return_state=True, dtype="float64")]
    h, states, ws = x, [], stacked.get_weights()
    for lay, k in zip(refs, (3, 3, 3)):
        lay.build((None, 5, h.shape[-1]))
        lay.set_weights(ws[:k])
        ws = ws[k:]
        out = lay(h, mask=_mask())
        h, states = out[0], states + out[1:]
    got = stacked(x, mask=_mask())
    np.testing.assert_allclose(got[0], h, rtol=1e-6, atol=1e-8)
    assert len(got) == 1 + 4  # output, h1, c1, h2, h3 (flat)
    for a, b in zip(got[1:], states):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-8)
    check_layer_gradients(stacked, x, [rng.normal(size=o.shape) for o in got], mask=_mask())


def test_stateful_generic_rnn_carries_states(rng):
    rnn = layers.RNN(MinimalRNNCell(3, dtype="float64"), stateful=True, batch_input_shape=(2, 4, 2))
    full = layers.RNN(rnn.cell, dtype="float64")
    x = rng.normal(size=(2, 8, 2))
    a = rnn(x[:, :4])
    b = rnn(x[:, 4:])
    np.testing.assert_allclose(b, full(x), rtol=1e-12)
    assert not np.allclose(a, b)
    rnn.reset_states()
    np.testing.assert_allclose(rnn(x[:, :4]), a, rtol=1e-12)


# ------------------------------------------------------------------- config and files
def test_get_config_round_trip_and_keras_names():
    rnn = layers.RNN(layers.GRUCell(5, reset_after=False, dropout=0.1, name="g"), return_sequences=True,
                     go_backwards=True, name="r")
    cfg = rnn.get_config()
    assert cfg["cell"]["class_name"] == "GRUCell"
    assert cfg["cell"]["config"]["reset_after"] is False and cfg["cell"]["config"]["units"] == 5
    for key in ("return_sequences", "return_state", "go_backwards", "stateful", "unroll",
                "zero_output_for_mask"):
        assert key in cfg
    assert "units" not in cfg  # the hyperparameters are the cell's, as in Keras
    again = layers.deserialize(layers.serialize(rnn))
    assert isinstance(again.cell, layers.GRUCell) and again.go_backwards and not again.cell.reset_after
    stacked = layers.RNN([layers.LSTMCell(2), layers.SimpleRNNCell(3)])
    again = layers.deserialize(layers.serialize(stacked))
    assert [type(c).__name__ for c in again.cell.cells] == ["LSTMCell", "SimpleRNNCell"]


@pytest.mark.parametrize("make", [
    lambda: layers.RNN(layers.LSTMCell(4)),
    lambda: layers.RNN([layers.LSTMCell(3), layers.GRUCell(4)]),
], ids=["lstm_cell", "stacked"])
def test_model_with_rnn_cell_saves_and_loads(make, rng, tmp_path):
    model = keras.Sequential([keras.Input((5, 3)), make(), layers.Dense(1)])
    x = rng.normal(size=(4, 5, 3)).astype("float32")
    model.compile("adam", "mse")
    model.fit(x, np.ones((4, 1), "float32"), epochs=1, verbose=0)
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    loaded = saving.load_model(path)
    assert type(loaded.layers[0].cell).__name__ == type(model.layers[0].cell).__name__
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_bad_arguments():
    with pytest.raises(ValueError, match="state_size"):
        layers.RNN(layers.Dense(3))
    with pytest.raises(ValueError, match="engine"):
        layers.RNN(MinimalRNNCell(2), engine="jit")
    rnn = layers.RNN(layers.LSTMCell(2, dtype="float64"))
    with pytest.raises(ValueError, match="initial_state"):
        rnn(np.zeros((1, 3, 2)), initial_state=[np.zeros((1, 2))])
    generic = layers.RNN(MinimalRNNCell(2, dtype="float64"))
    with pytest.raises(ValueError, match="initial_state"):
        generic(np.zeros((1, 3, 2)), initial_state=[np.zeros((1, 5))])


@keras.saving.register_keras_serializable(package="rnnkit_tests")
class ScaledCell(layers.Layer):
    """A registered custom cell: saved in the RNN's config and rebuilt on load."""

    def __init__(self, units, scale=0.5, **kwargs):
        super().__init__(**kwargs)
        self.units, self.scale = units, scale
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_uniform",
                                      name="kernel")

    def call(self, inputs, states):
        output = ops.tanh(ops.matmul(inputs, self.kernel) + self.scale * states[0])
        return output, [output]

    def get_config(self):
        return {**super().get_config(), "units": self.units, "scale": self.scale}


def test_custom_cell_and_bidirectional_rnn_save_and_load(rng, tmp_path):
    x = rng.normal(size=(2, 5, 3)).astype("float32")
    models = [
        keras.Sequential([keras.Input((5, 3)), layers.RNN(ScaledCell(4, scale=0.3)), layers.Dense(1)]),
        keras.Sequential([keras.Input((5, 3)),
                          layers.Bidirectional(layers.RNN(layers.LSTMCell(4), return_sequences=True)),
                          layers.Dense(1)]),
    ]
    for i, model in enumerate(models):
        path = os.path.join(tmp_path, f"m{i}.keras")
        model.save(path)
        loaded = saving.load_model(path)
        np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert saving.load_model(os.path.join(tmp_path, "m0.keras")).layers[0].cell.scale == 0.3


def test_dropout_masks_are_drawn_once_per_sequence():
    """As Keras: inside RNN a cell's dropout mask stays the same for every step of a sequence."""
    cell = layers.SimpleRNNCell(3, dropout=0.5, dtype="float64", kernel_initializer="ones",
                                recurrent_initializer="zeros", seed=2)
    rnn = layers.RNN(layers.StackedRNNCells([cell]), return_sequences=True)
    x = np.full((4, 6, 12), 0.05)
    out = rnn(x, training=True)
    np.testing.assert_allclose(out, np.repeat(out[:, :1], 6, axis=1))  # the same at every step
    assert len({round(float(v), 6) for v in out[:, 0, 0]}) > 1  # different masks across samples
    np.testing.assert_allclose(rnn(x), np.tanh(0.6))  # no dropout at inference


def test_encoder_decoder_of_cells_and_a_tape(rng):
    """The seq2seq pattern with cells: encoder states as the decoder's initial_state, trained
    by fit and by a GradientTape (each RNN(cell) one fused op on the tape)."""
    enc_in, dec_in = keras.Input((5, 3)), keras.Input((4, 2))
    _, h, c = layers.RNN(layers.LSTMCell(6), return_state=True)(enc_in)
    seq = layers.RNN(layers.LSTMCell(6), return_sequences=True)(dec_in, initial_state=[h, c])
    seq = layers.RNN(PeepholeCell(3), return_sequences=True)(seq)
    model = keras.Model([enc_in, dec_in], layers.Dense(2)(seq))
    xe = rng.normal(size=(16, 5, 3)).astype("float32")
    xd = rng.normal(size=(16, 4, 2)).astype("float32")
    y = np.tanh(xd + xe[:, -1:, :2])
    model.compile(keras.optimizers.Adam(0.02), "mse")
    hist = model.fit([xe, xd], y, epochs=10, batch_size=8, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    with rnnkit.GradientTape() as tape:
        loss = ops.mean(ops.square(model([xe, xd], training=True) - y))
    grads = tape.gradient(loss, model.trainable_weights)
    assert all(g is not None and np.isfinite(g).all() for g in grads)
    assert len(grads) == len(model.trainable_weights) == 3 + 3 + 3 + 2
    out, cache = model.forward([xe, xd], training=True)
    model.backward(2 * (out - y) / out.size, cache)
    for a, b in zip(model.grads, grads):  # the tape and the model's backward agree
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_dtype_follows_the_cell_or_the_layer(rng):
    assert layers.RNN(layers.GRUCell(2, dtype="float64")).dtype == np.float64
    rnn = layers.RNN(layers.GRUCell(2), dtype="float64")  # an unbuilt cell follows the layer
    assert rnn(rng.normal(size=(1, 3, 2))).dtype == np.float64 and rnn.cell.kernel.dtype == np.float64
    built = layers.GRUCell(2)
    built.build((None, 2))
    with pytest.raises(ValueError, match="dtype"):
        layers.RNN(built, dtype="float64")
    with pytest.raises(ValueError, match="stateful"):
        layers.RNN(MinimalRNNCell(2), stateful=True, input_shape=(3, 2))
