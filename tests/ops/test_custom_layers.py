"""Custom layers, subclassed models, the tape and the registry (behaviour and errors)."""
from __future__ import annotations

import os

import numpy as np
import pytest

import rnnkit
from gradcheck import check_layer_gradients
from rnnkit import backend
from rnnkit.keras import layers, ops, saving
from rnnkit import keras


@pytest.fixture(autouse=True)
def fresh():
    backend.clear_session()
    backend.set_random_seed(0)


class Gated(layers.Layer):
    """Uses its own weights, a built-in sublayer and the mask."""

    def __init__(self, units=3, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.inner = layers.Dense(units, dtype=kwargs.get("dtype"))

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal", name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal", name="b")

    def call(self, x, mask=None):
        gate = ops.sigmoid(self.inner(x))
        h = ops.tanh(ops.einsum("btd,du->btu", x, self.w) + self.b) * gate
        if mask is not None:
            h = ops.where(ops.expand_dims(mask, -1), h, 0.0)
        return ops.sum(h, axis=1) / (1.0 + ops.sum(ops.cast(mask, h.dtype), axis=1, keepdims=True)
                                     if mask is not None else 1.0)


def test_custom_layer_gradients_by_finite_differences(rng):
    layer = Gated(3, dtype="float64")
    x = rng.normal(size=(4, 5, 2))
    layer(x)
    assert [n.split("/")[-1] for n in layer.weight_names] == ["w", "b", "kernel", "bias"]
    mask = np.ones((4, 5), bool)
    mask[1, 3:] = False
    mask[3, :2] = False
    up = [rng.normal(size=(4, 3))]
    check_layer_gradients(layer, x, up, mask=mask)
    check_layer_gradients(layer, x, up)


class HandMade(layers.Layer):
    """A layer with its own analytic backward (rnnkit's forward/backward protocol)."""

    calls = 0

    def build(self, input_shape):
        self.scale = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="scale")

    def forward(self, x, mask=None, training=False):
        return x * self.scale * x, x

    def backward(self, g, x):
        type(self).calls += 1
        self._set_grads([np.sum(g * x * x, axis=tuple(range(x.ndim - 1)))])
        return 2 * g * self.scale * x


def test_hand_made_backward_is_used_and_checked(rng):
    layer = HandMade(dtype="float64")
    x = rng.normal(size=(3, 4))
    layer(x)
    assert isinstance(layer.scale, np.ndarray)  # a fused layer keeps plain arrays
    check_layer_gradients(layer, x, [rng.normal(size=(3, 4))])
    model = keras.Sequential([keras.Input((4,)), HandMade(), layers.Dense(1)])
    model.compile("sgd", "mse")
    before = HandMade.calls
    model.fit(x.astype("float32"), np.ones((3, 1)), epochs=2, verbose=0)
    assert HandMade.calls == before + 2


def test_built_in_model_is_one_op_on_the_tape(rng):
    model = keras.Sequential([keras.Input((6, 3)), layers.LSTM(4, return_sequences=True, dtype="float64"),
                              layers.LSTM(2, dtype="float64"), layers.Dense(1, dtype="float64")])
    x = rng.normal(size=(5, 6, 3))
    u = rng.normal(size=(5, 1))
    with rnnkit.GradientTape() as tape:
        y = model(x, training=True)
        loss = ops.sum(y * u)
    grads = tape.gradient(loss, model.trainable_weights)
    out, cache = model.forward(x, training=True)
    model.backward(u, cache)
    for g, ref in zip(grads, model.grads):
        np.testing.assert_allclose(g, ref, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(np.asarray(y), out)


def test_gradient_tape_api(rng):
    x = rng.normal(size=(3,))
    v = rnnkit.Variable(np.array([1.0, 2.0, 3.0]))
    with rnnkit.GradientTape(persistent=True) as tape:
        tape.watch(x)
        h = ops.multiply(x, v)
        y = ops.sum(ops.square(h))
    np.testing.assert_allclose(tape.gradient(y, v), 2 * x * x * v.value)
    np.testing.assert_allclose(tape.gradient(y, h), 2 * np.asarray(h))  # intermediate tensor
    np.testing.assert_allclose(tape.gradient(h, [x], output_gradients=[np.ones(3)])[0], v.value)
    other = np.zeros(2)
    assert tape.gradient(y, other) is None
    np.testing.assert_array_equal(tape.gradient(y, other, unconnected_gradients="zero"), other)
    with rnnkit.GradientTape() as t2:
        y2 = ops.sum(v * 2.0)
    t2.gradient(y2, v)
    with pytest.raises(RuntimeError, match="non-persistent"):
        t2.gradient(y2, v)
    with rnnkit.GradientTape(watch_accessed_variables=False) as t3:
        y3 = ops.sum(v * 2.0)
    assert t3.gradient(y3, v) is None
    with rnnkit.GradientTape() as outer:
        with rnnkit.GradientTape() as inner:
            y4 = ops.sum(ops.exp(v))
        np.testing.assert_allclose(inner.gradient(y4, v), np.exp(v.value))
    np.testing.assert_allclose(outer.gradient(y4, v), np.exp(v.value))
    # outside a tape: plain NumPy in and out, Variables read as arrays
    assert type(ops.tanh(v)) is np.ndarray and type(v + 1.0) is np.ndarray


def test_numpy_style_code_on_tensors(rng):
    x = rng.normal(size=(3, 4))
    w = rnnkit.Variable(rng.normal(size=(4, 2)))
    with rnnkit.GradientTape() as tape:
        h = np.tanh(np.dot(x, w))                      # routed through the ops
        h = np.where(h == h.max(axis=-1, keepdims=True), h, np.zeros_like(h))
        loss = np.concatenate([h, h * 2], axis=-1).sum()
    assert isinstance(loss, rnnkit.ops.Tensor)
    hv = np.tanh(x @ w.value)
    top = hv == hv.max(axis=-1, keepdims=True)
    expected = x.T @ (3 * top * (1 - hv ** 2))
    np.testing.assert_allclose(tape.gradient(loss, w), expected, rtol=1e-10)


def test_numpy_function_without_rule_is_refused_inside_a_tape():
    v = rnnkit.Variable(np.ones(3))
    with rnnkit.GradientTape():
        with pytest.raises(TypeError, match="no gradient rule.*ops"):
            np.arctan(v)
    assert np.allclose(np.arctan(v), np.arctan(1.0))


def test_refused_overrides_and_misuse():
    with pytest.raises(TypeError, match="overrides call\\(\\) of the built-in LSTM"):
        class MyLSTM(layers.LSTM):  # noqa: F841
            def call(self, x, **kwargs):
                return super().call(x, **kwargs)
    with pytest.raises(TypeError, match="predict_step"):
        class P(keras.Model):  # noqa: F841
            def predict_step(self, data):
                return data
    with pytest.raises(TypeError, match="functional API"):
        keras.Model()

    class Both(keras.Model):
        def call(self, x):
            return x * 2

    inp = keras.Input((3,))
    with pytest.raises(TypeError, match="cannot honor the override"):
        Both(inp, layers.Dense(1)(inp))
    with pytest.raises(AttributeError, match="never been called"):
        layers.Dense(2).output

    class Early(layers.Layer):
        def __init__(self):
            self.d = layers.Dense(2)
            super().__init__()

    with pytest.raises(RuntimeError, match="super\\(\\).__init__"):
        Early()


class Net(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.embed = layers.Dense(8, activation="relu")
        self.drop = layers.Dropout(0.2)
        self.gated = Gated(4)
        self.head = layers.Dense(1)
        self.seen_training = []

    def call(self, x, training=None):
        self.seen_training.append(training)
        h = self.drop(self.embed(x))
        return self.head(self.gated(ops.reshape(h, (-1, 2, 4))))


def test_subclassed_model_fit_evaluate_predict_summary_weights(rng, tmp_path):
    x = rng.normal(size=(20, 5)).astype("float32")
    y = rng.normal(size=(20, 1)).astype("float32")
    model = Net()
    with pytest.raises(ValueError, match="not yet been built"):
        model.summary()
    model.build((None, 5))
    lines = []
    model.summary(print_fn=lines.append)
    text = "\n".join(lines)
    assert "gated (Gated)" in text and f"Total params: {model.count_params():,}" in text
    assert [lay.name for lay in model.layers] == ["dense", "dropout", "gated", "dense_2"]
    model.compile("adam", "mse", metrics=["mae"])
    before = model.evaluate(x, y, verbose=0)[0]
    hist = model.fit(x, y, epochs=10, batch_size=5, verbose=0)
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    assert model.evaluate(x, y, verbose=0)[0] < before
    assert True in model.seen_training and False in model.seen_training
    pred = model.predict(x, verbose=0)
    np.testing.assert_allclose(model.predict(x, verbose=0), pred)  # dropout off at inference
    path = os.path.join(tmp_path, "net.weights.npz")
    model.save_weights(path)
    other = Net()
    other.build((None, 5))
    other.load_weights(path)
    np.testing.assert_allclose(other.predict(x, verbose=0), pred, rtol=1e-6)


def test_custom_layer_in_functional_graph_shapes_and_masks(rng):
    inp = keras.Input((None,), dtype="int32")
    emb = layers.Embedding(10, 3, mask_zero=True)(inp)
    pooled = Gated(4)(emb)
    assert pooled.shape == (None, 4)
    model = keras.Model(inp, layers.Dense(1)(pooled))
    ids = rng.integers(1, 10, size=(6, 5))
    ids[0, 3:] = 0
    model.compile("adam", "mse")
    model.fit(ids, np.zeros((6, 1)), epochs=2, verbose=0)
    # the mask reached the layer: padding does not change the output
    longer = np.concatenate([ids, np.zeros((6, 2), int)], axis=1)
    np.testing.assert_allclose(model.predict(longer, verbose=0), model.predict(ids, verbose=0), rtol=1e-5)


@saving.register_keras_serializable(package="tests")
class Scale(layers.Layer):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def build(self, input_shape):
        self.k = self.add_weight(shape=(input_shape[-1],), initializer="ones", name="k")

    def call(self, x):
        return x * self.k * self.factor

    def get_config(self):
        config = super().get_config()
        config["factor"] = self.factor
        return config


@saving.register_keras_serializable(package="tests")
def doubled(t):
    return t * 2.0


class Unregistered(Scale):
    pass


def test_custom_layers_save_and_load(rng, tmp_path):
    x = rng.normal(size=(4, 3)).astype("float32")
    model = keras.Sequential([keras.Input((3,)), Scale(3.0), layers.Lambda(doubled), layers.Dense(2)])
    model.compile("sgd", "mse")
    model.fit(x, np.ones((4, 2)), verbose=0)
    path = os.path.join(tmp_path, "m.keras")
    model.save(path)
    loaded = saving.load_model(path)
    assert isinstance(loaded.layers[0], Scale) and loaded.layers[0].factor == 3.0
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)

    odd = keras.Sequential([keras.Input((3,)), Unregistered()])
    odd.save(path)
    with pytest.raises(ValueError, match="Unregistered.*custom_objects"):
        saving.load_model(path)
    again = saving.load_model(path, custom_objects={"Unregistered": Unregistered})
    assert type(again.layers[0]) is Unregistered
    anonymous = keras.Sequential([keras.Input((3,)), layers.Lambda(lambda t: t)])
    with pytest.raises(ValueError, match="lambda expression cannot be saved"):
        anonymous.save(path)


class SumAbs(keras.metrics.Metric):
    def __init__(self, name="sum_abs", **kwargs):
        super().__init__(name=name, **kwargs)
        self.total = self.add_variable(shape=(), initializer="zeros", name="total")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.total.assign_add(ops.sum(ops.abs(y_true - y_pred)))

    def result(self):
        return self.total


def test_custom_metrics_and_fit_without_targets(rng):
    x = rng.normal(size=(8, 3)).astype("float32")

    def max_err(y_true, y_pred):
        return ops.max(ops.abs(y_true - y_pred), axis=-1)

    model = keras.Sequential([keras.Input((3,)), layers.Dense(3)])
    model.compile("sgd", "mse", metrics=[SumAbs(), max_err])
    logs = model.evaluate(x, x, batch_size=8, verbose=0, return_dict=True)
    pred = model.predict(x, verbose=0)
    assert logs["sum_abs"] == pytest.approx(np.abs(x - pred).sum(), rel=1e-5)
    assert logs["max_err"] == pytest.approx(np.abs(x - pred).max(axis=-1).mean(), rel=1e-5)

    class AutoEncoder(keras.Model):
        def __init__(self):
            super().__init__()
            self.enc = layers.Dense(2, activation="tanh")
            self.dec = layers.Dense(3)
            self.tracker = keras.metrics.Mean(name="recon")

        def call(self, x):
            return self.dec(self.enc(x))

        def train_step(self, data):
            (x,) = data
            with rnnkit.GradientTape() as tape:
                loss = ops.mean(ops.square(self(x, training=True) - x))
            grads = tape.gradient(loss, self.trainable_variables)
            self.optimizer.apply(grads, self.trainable_variables)
            self.tracker.update_state(loss)
            return {"recon": self.tracker.result()}

    ae = AutoEncoder()
    ae.compile(keras.optimizers.Adam(0.05))
    hist = ae.fit(x, epochs=20, batch_size=8, verbose=0)
    assert set(hist.history) == {"recon"}
    assert hist.history["recon"][-1] < hist.history["recon"][0]
    assert isinstance(ae.train_on_batch(x), float)
    assert set(ae.train_on_batch(x, return_dict=True)) == {"recon"}


class MinimalRNNCell(layers.Layer):
    """The Keras RNN guide's cell: ``call(inputs, states) -> (output, new_states)``."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_uniform",
                                      name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units), initializer="random_uniform",
                                                name="recurrent_kernel")

    def call(self, inputs, states):
        prev_output = states[0]
        output = ops.tanh(ops.matmul(inputs, self.kernel) + ops.matmul(prev_output, self.recurrent_kernel))
        return output, [output]


class TimeLoop(layers.Layer):
    """A Python loop over time steps: each cell call is recorded on the tape."""

    def __init__(self, cell, **kwargs):
        super().__init__(**kwargs)
        self.cell = cell

    def call(self, x):
        states = [ops.zeros((ops.shape(x)[0], self.cell.units), dtype=x.dtype)]
        outputs = []
        for t in range(ops.shape(x)[1]):
            out, states = self.cell(x[:, t], states)
            outputs.append(out)
        return ops.stack(outputs, axis=1)


def test_a_cell_written_with_ops_loops_over_time_steps(rng):
    layer = TimeLoop(MinimalRNNCell(3, dtype="float64"), dtype="float64")
    x = rng.normal(size=(2, 4, 5))
    out = layer(x)
    assert out.shape == (2, 4, 3)
    assert layer.weight_names[0].endswith("kernel") and len(layer.weights) == 2
    check_layer_gradients(layer, x, [rng.normal(size=(2, 4, 3))])


def test_ops_on_keras_tensors_build_graph_nodes(rng, tmp_path):
    x = keras.Input((5,))
    h = layers.Dense(4, dtype="float64")(x)
    y = ops.tanh(h) * 2.0 + ops.sum(h, axis=-1, keepdims=True)
    z = layers.Dense(1, dtype="float64")(ops.concatenate([y, h[:, :2] ** 2], axis=-1))
    model = keras.Model(x, z)
    assert z.shape == (None, 1)
    assert sorted(lay.name for lay in model.layers[2:]) == sorted(
        ["tanh", "multiply", "sum", "add", "getitem", "power", "concatenate", "dense_1"])
    xs = rng.normal(size=(3, 5))
    check_layer_gradients(model, xs, [rng.normal(size=(3, 1))])
    path = os.path.join(tmp_path, "ops.keras")
    model.save(path)
    np.testing.assert_allclose(saving.load_model(path).predict(xs, verbose=0), model.predict(xs, verbose=0))


def test_shared_custom_layer_and_time_distributed(rng):
    shared = Gated(3, dtype="float64")
    a, b = keras.Input((4, 2)), keras.Input((4, 2))
    merged = layers.Add(dtype="float64")([shared(a), shared(b)])
    model = keras.Model([a, b], layers.Dense(1, dtype="float64")(merged))
    xa, xb = rng.normal(size=(3, 4, 2)), rng.normal(size=(3, 4, 2))
    up = rng.normal(size=(3, 1))
    out, cache = model.forward([xa, xb])
    model.backward(up, cache)
    grads = [g.copy() for g in model.grads]

    def f():
        return float(np.sum(model.forward([xa, xb])[0] * up))

    from gradcheck import numeric
    for w, g in zip(model.weights, grads):
        idx, num = numeric(f, w)
        np.testing.assert_allclose(g.reshape(-1)[idx], num, rtol=1e-6, atol=1e-8)

    td = layers.TimeDistributed(Scale(1.5, dtype="float64"), dtype="float64")
    x = rng.normal(size=(2, 3, 4))
    td(x)
    check_layer_gradients(td, x, [rng.normal(size=(2, 3, 4))])


class Penalized(layers.Layer):
    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], 2), initializer="random_normal", name="w")

    def call(self, x):
        h = ops.tanh(ops.matmul(x, self.w))
        self.add_loss(0.3 * ops.sum(ops.square(h)))
        return h


def test_add_loss_counts_in_the_gradient_and_the_reported_loss(rng):
    layer = Penalized(dtype="float64")
    x = rng.normal(size=(3, 4))
    layer(x)
    assert len(layer.losses) == 1
    layer(x)
    assert len(layer.losses) == 1  # cleared at each outermost call
    up = rng.normal(size=(3, 2))
    out, cache = layer.forward(x)
    dx = layer.backward(up, cache)

    def f():
        h = np.tanh(x @ layer.w.value)
        return float(np.sum(h * up) + 0.3 * np.sum(h * h))

    from gradcheck import numeric
    for arr, g in ((layer.w.value, layer.grads[0]), (x, dx)):
        idx, num = numeric(f, arr)
        np.testing.assert_allclose(np.asarray(g).reshape(-1)[idx], num, rtol=1e-6, atol=1e-9)
    model = keras.Sequential([keras.Input((4,)), Penalized(), layers.Dense(1)])
    model.compile("sgd", "mse")
    xs = rng.normal(size=(8, 4)).astype("float32")
    loss = model.evaluate(xs, np.zeros((8, 1)), batch_size=8, verbose=0)
    h = np.tanh(xs @ model.layers[0].w.value)
    mse = float(np.mean(model.predict(xs, verbose=0) ** 2))
    assert loss == pytest.approx(mse + 0.3 * float(np.sum(h * h)), rel=1e-5)
