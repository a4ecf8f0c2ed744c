"""Models made of the issue-14 layers save and load (``.keras``) and rebuild from their
config, with the same predictions; the README example runs."""
from __future__ import annotations

import numpy as np

from rnnkit import keras
from rnnkit.keras import layers
from rnnkit.saving import load_model


def _roundtrip(model, x, tmp_path):
    want = model.predict(x, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = load_model(path)
    got = loaded.predict(x, verbose=0)
    for a, b in zip(want if isinstance(want, list) else [want], got if isinstance(got, list) else [got]):
        np.testing.assert_allclose(b, a, rtol=1e-5, atol=1e-6)
    rebuilt = type(model).from_config(model.get_config())
    rebuilt.set_weights(model.get_weights())
    np.testing.assert_allclose(rebuilt.predict(x, verbose=0) if not isinstance(want, list)
                               else rebuilt.predict(x, verbose=0)[0], want if not isinstance(want, list)
                               else want[0], rtol=1e-5, atol=1e-6)
    return loaded


def test_sequential_with_every_sequence_layer(tmp_path, rng):
    model = keras.Sequential([
        keras.Input(shape=(12, 4)),
        layers.ZeroPadding1D(1),
        layers.Conv1D(8, 3, padding="causal", dilation_rate=2, activation="relu"),
        layers.SeparableConv1D(6, 3, padding="same", depth_multiplier=2),
        layers.BatchNormalization(),
        layers.SpatialDropout1D(0.2),
        layers.GaussianNoise(0.1),
        layers.GaussianDropout(0.1),
        layers.MaxPooling1D(2),
        layers.AveragePooling1D(2, padding="same"),
        layers.UpSampling1D(2),
        layers.Cropping1D((1, 1)),
        layers.LayerNormalization(),
        layers.Permute((2, 1)),
        layers.Reshape((-1,)),
        layers.ActivityRegularization(l2=1e-3),
        layers.RepeatVector(2),
        layers.GlobalMaxPooling1D(),
        layers.Dense(3),
        layers.Softmax(),
    ])
    x = rng.normal(size=(5, 12, 4)).astype("float32")
    model.compile("adam", "categorical_crossentropy")
    model.fit(x, np.eye(3)[[0, 1, 2, 0, 1]].astype("float32"), epochs=2, verbose=0)
    loaded = _roundtrip(model, x, tmp_path)
    assert [type(lay).__name__ for lay in loaded.layers] == [type(lay).__name__ for lay in model.layers]


def test_functional_attention_models(tmp_path, rng):
    q_in, v_in = keras.Input(shape=(None, 6)), keras.Input(shape=(None, 6))
    a = layers.Attention(use_scale=True, score_mode="concat")([q_in, v_in])
    b = layers.AdditiveAttention()([q_in, v_in, v_in])
    c = layers.MultiHeadAttention(2, 3, value_dim=2)(q_in, v_in, use_causal_mask=True)
    sim = layers.Dot(axes=2, normalize=True)([q_in, v_in])
    sim = layers.Softmax(axis=-1)(sim)
    out = layers.Concatenate()([a, b, c, layers.Dot(axes=(2, 1))([sim, v_in])])
    model = keras.Model([q_in, v_in], out)
    x = [rng.normal(size=(3, 5, 6)).astype("float32"), rng.normal(size=(3, 5, 6)).astype("float32")]
    _roundtrip(model, x, tmp_path)


def test_readme_example(rng):
    ids = keras.Input(shape=(None,), dtype="int32")
    seq = layers.LSTM(8, return_sequences=True)(layers.Embedding(50, 8, mask_zero=True)(ids))
    context = layers.Attention()([seq, seq])
    pooled = layers.GlobalAveragePooling1D()(context)
    model = keras.Model(ids, layers.Dense(1, activation="sigmoid")(pooled))
    x = rng.integers(0, 50, size=(4, 7))
    assert model.predict(x, verbose=0).shape == (4, 1)
