"""Custom layers, a subclassed model and custom train steps, trained in rnnkit from the
same initial weights as real Keras 3 (fixtures: tests/fixtures/make_keras_custom_fixtures.py).

The class bodies below are the fixture script's, with ``tf.GradientTape`` spelled
``rnnkit.GradientTape`` and the imports changed to ``rnnkit.keras``.
"""
from __future__ import annotations

import os

import numpy as np
import pytest

import rnnkit
from rnnkit import backend
from rnnkit.keras import layers, ops
from rnnkit import keras

FIX = os.path.join(os.path.dirname(__file__), "..", "fixtures", "custom")


class Linear(layers.Layer):
    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform", name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="zeros", name="b")

    def call(self, inputs):
        return ops.tanh(ops.matmul(inputs, self.w) + self.b)


class AttentionPool(layers.Layer):
    def build(self, input_shape):
        self.v = self.add_weight(shape=(input_shape[-1],), initializer="random_normal", name="v")

    def call(self, x):
        scores = ops.softmax(ops.einsum("btd,d->bt", x, self.v), axis=-1)
        pooled = ops.sum(x * ops.expand_dims(scores, -1), axis=1)
        return pooled + 0.1 * ops.max(x, axis=1) - 0.05 * ops.logsumexp(x, axis=1)


class Classifier(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.lstm = layers.LSTM(6)
        self.proj = Linear(3)
        self.head = layers.Dense(2, activation="softmax")

    def call(self, x, training=None):
        h = self.lstm(x)
        z = self.proj(h) + 0.1 * ops.relu(h[:, :3])
        return self.head(ops.concatenate([z, ops.square(z)], axis=-1))


class CustomStep(keras.Model):
    def train_step(self, data):
        x, y = data
        with rnnkit.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(y=y, y_pred=y_pred)
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply(grads, self.trainable_variables)
        for metric in self.metrics:
            if metric.name == "loss":
                metric.update_state(loss)
            else:
                metric.update_state(y, y_pred)
        return {m.name: m.result() for m in self.metrics}


class OwnTrackers(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = layers.Dense(5, activation="tanh")
        self.out = layers.Dense(1)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.mae_metric = keras.metrics.MeanAbsoluteError(name="mae")

    def call(self, x):
        return self.out(self.hidden(x))

    def train_step(self, data):
        x, y = data
        with rnnkit.GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = ops.mean(ops.square(y_pred - y)) + 0.01 * ops.sum(ops.square(self.out.kernel))
        grads = tape.gradient(loss, self.trainable_variables)
        self.optimizer.apply_gradients(zip(grads, self.trainable_variables))
        self.loss_tracker.update_state(loss)
        self.mae_metric.update_state(y, y_pred)
        return {"loss": self.loss_tracker.result(), "mae": self.mae_metric.result()}

    @property
    def metrics(self):
        return [self.loss_tracker, self.mae_metric]


class ActivityPenalty(layers.Layer):
    def __init__(self, rate=0.01, **kwargs):
        super().__init__(**kwargs)
        self.rate = rate

    def call(self, x):
        self.add_loss(self.rate * ops.sum(ops.square(x)))
        return x


def add_loss_model():
    return keras.Sequential([keras.Input((6,)), layers.Dense(5, activation="tanh"), ActivityPenalty(0.05),
                             Linear(3), layers.Dense(1)])


def scaled_mse(y_true, y_pred):
    return 0.5 * ops.mean(ops.square(y_true - y_pred), axis=-1)


class HuberLike(keras.losses.Loss):
    def call(self, y_true, y_pred):
        err = y_pred - y_true
        return ops.mean(ops.sqrt(1.0 + ops.square(err)) - 1.0, axis=-1)


def sequential_attention():
    return keras.Sequential([keras.Input((5, 3)), layers.LSTM(6, return_sequences=True),
                             AttentionPool(), Linear(4), layers.Dense(1)])


def functional_lambda():
    inp = keras.Input((6,))
    h = Linear(5)(inp)
    h = layers.Lambda(lambda t: ops.square(t) - 0.5 * t)(h)
    return keras.Model(inp, layers.Dense(1)(h))


def custom_step_model():
    inp = keras.Input((6,))
    h = layers.Dense(4, activation="relu")(inp)
    return CustomStep(inp, layers.Dense(1)(h))


CASES = {
    "sequential_attention": (sequential_attention, lambda: dict(optimizer=keras.optimizers.Adam(0.01), loss="mse")),
    "functional_lambda_callable_loss": (functional_lambda, lambda: dict(
        optimizer=keras.optimizers.SGD(0.1), loss=scaled_mse, metrics=["mae"])),
    "functional_lambda_loss_class": (functional_lambda, lambda: dict(
        optimizer=keras.optimizers.RMSprop(0.01), loss=HuberLike())),
    "classifier": (Classifier, lambda: dict(optimizer=keras.optimizers.RMSprop(0.01),
                                            loss="sparse_categorical_crossentropy", metrics=["accuracy"])),
    "custom_train_step": (custom_step_model, lambda: dict(optimizer=keras.optimizers.Adam(0.02), loss="mse",
                                                          metrics=["mae"])),
    "own_trackers": (OwnTrackers, lambda: dict(optimizer=keras.optimizers.SGD(0.05))),
    "add_loss": (add_loss_model, lambda: dict(optimizer=keras.optimizers.Adam(0.01), loss="mse")),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_training_matches_keras(name):
    backend.clear_session()
    f = np.load(os.path.join(FIX, f"{name}.npz"))
    factory, compile_kwargs = CASES[name]
    x, y = f["x"], f["y"]
    model = factory()
    model(x[:2])
    w0 = [f[f"w0_{i}"] for i in range(int(f["n_weights"]))]
    assert [w.shape for w in model.get_weights()] == [w.shape for w in w0]
    model.set_weights(w0)
    model.compile(**compile_kwargs())
    hist = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)
    keras_logs = {k[4:]: f[k] for k in f.files if k.startswith("log_")}
    assert set(hist.history) == set(keras_logs)
    for key, ref in keras_logs.items():
        np.testing.assert_allclose(hist.history[key], ref, rtol=2e-4, atol=2e-5, err_msg=key)
    for i, w in enumerate(model.get_weights()):
        np.testing.assert_allclose(w, f[f"w1_{i}"], rtol=1e-3, atol=1e-4, err_msg=f"weight {i}")
    np.testing.assert_allclose(model.predict(x, verbose=0), f["predict"], rtol=1e-3, atol=1e-4)
    logs = model.evaluate(x, y, verbose=0, return_dict=True)  # runs, with the same keys
    assert set(logs) == set(keras_logs)
