"""Attention, AdditiveAttention, MultiHeadAttention, Dot, Softmax: values against direct
formulas, float64 finite-difference gradients with masks, causal masks and returned
scores, masks through functional models, errors, config and saving."""
from __future__ import annotations

import numpy as np
import pytest

from gradcheck_lists import check
from rnnkit import layers as L
from rnnkit.keras import Input, Model

F64 = {"dtype": "float64"}
Q_MASK = np.array([[1, 1, 1, 0], [1, 1, 1, 1], [1, 0, 0, 0]], bool)
V_MASK = np.array([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1], [1, 1, 0, 0, 0, 0]], bool)


@pytest.fixture
def qvk(rng):
    return rng.normal(size=(3, 4, 5)), rng.normal(size=(3, 6, 5)), rng.normal(size=(3, 6, 5))


def _softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


ATTENTIONS = [(L.Attention, {}), (L.Attention, {"use_scale": True}), (L.Attention, {"score_mode": "concat"}),
              (L.Attention, {"score_mode": "concat", "use_scale": True}), (L.AdditiveAttention, {}),
              (L.AdditiveAttention, {"use_scale": False})]


@pytest.mark.parametrize("cls, kwargs", ATTENTIONS)
def test_attention_gradients(cls, kwargs, qvk, rng):
    q, v, k = qvk
    layer = cls(**kwargs, **F64)
    layer([q, v])
    for w in layer.weights:
        w[...] = rng.normal(size=w.shape) * 0.5 + 1.0
    check(layer, [q, v], rng)
    check(layer, [q, v, k], rng, mask=[Q_MASK, V_MASK], return_attention_scores=True)
    check(layer, [q, q.copy()], rng, use_causal_mask=True, mask=[None, Q_MASK])


def test_attention_values(qvk):
    q, v, k = qvk
    out, w = L.Attention(**F64)([q, v, k], mask=[Q_MASK, V_MASK], return_attention_scores=True)
    scores = q @ k.transpose(0, 2, 1)
    scores = np.where(V_MASK[:, None, :], scores, -np.inf)
    ref_w = _softmax(scores)
    np.testing.assert_allclose(w, ref_w, atol=1e-12)
    np.testing.assert_allclose(out, (ref_w @ v) * Q_MASK[:, :, None], atol=1e-12)
    add = L.AdditiveAttention(**F64)
    out2 = add([q, v])
    s2 = np.tanh(q[:, :, None] + v[:, None]) @ add.scale
    np.testing.assert_allclose(out2, _softmax(s2) @ v, atol=1e-12)
    causal = L.Attention(**F64)([v, v], use_causal_mask=True, return_attention_scores=True)[1]
    assert np.all(np.triu(causal[0], 1) < 1e-12)


def test_mha_gradients_and_masks(qvk, rng):
    q, v, k = qvk
    mha = L.MultiHeadAttention(2, 3, bias_initializer="random_normal", **F64)
    mha(q, v)
    assert [w.shape for w in mha.get_weights()] == [(5, 2, 3), (2, 3)] * 3 + [(2, 3, 5), (5,)]
    check(mha, [q, v], rng)
    check(mha, [q, v, k], rng, mask=[Q_MASK, V_MASK, None], return_attention_scores=True,
          use_causal_mask=True)
    check(mha, [q, v], rng, attention_mask=rng.random((3, 4, 6)) > 0.3)
    # Query and value masks mean the same as the attention_mask they AND into.
    am = Q_MASK[:, :, None] & V_MASK[:, None, :]
    a = mha([q, v], mask=[Q_MASK, V_MASK])
    b = mha(q, v, attention_mask=am)
    c = mha(q, v, query_mask=Q_MASK, value_mask=V_MASK)
    np.testing.assert_allclose(a, b)
    np.testing.assert_allclose(a, c)
    np.testing.assert_array_equal(mha.compute_mask([q, v], [Q_MASK, V_MASK]), Q_MASK)


def test_mha_values_match_a_direct_computation(qvk):
    q, v, _ = qvk
    mha = L.MultiHeadAttention(2, 3, value_dim=4, output_shape=7, **F64)
    y, scores = mha(q, v, return_attention_scores=True)
    wq, bq, wk, bk, wv, bv, wo, bo = mha.get_weights()
    qh = np.einsum("btd,dnh->bnth", q, wq) + bq[None, :, None]
    kh = np.einsum("bsd,dnh->bnsh", v, wk) + bk[None, :, None]
    vh = np.einsum("bsd,dnh->bnsh", v, wv) + bv[None, :, None]
    p = _softmax(qh @ kh.transpose(0, 1, 3, 2) / np.sqrt(3))
    ref = np.einsum("bnth,nho->bto", p @ vh, wo) + bo
    np.testing.assert_allclose(scores, p, atol=1e-12)
    np.testing.assert_allclose(y, ref, atol=1e-12)
    assert y.shape == (3, 4, 7) and scores.shape == (3, 2, 4, 6)


def test_dot_and_softmax(qvk, rng):
    q, v, _ = qvk
    np.testing.assert_allclose(L.Dot(axes=2, **F64)([q, v]), q @ v.transpose(0, 2, 1))
    a, b = rng.normal(size=(3, 5)), rng.normal(size=(3, 5))
    cos = L.Dot(axes=1, normalize=True, **F64)([a, b])
    ref = (a * b).sum(1) / np.linalg.norm(a, axis=1) / np.linalg.norm(b, axis=1)
    np.testing.assert_allclose(cos, ref[:, None])
    for layer, xs in ((L.Dot(axes=(2, 2), **F64), [q, v]), (L.Dot(axes=(2, 2), normalize=True, **F64), [q, v]),
                      (L.Dot(axes=(1, 2), **F64), [a, rng.normal(size=(3, 4, 5))])):
        check(layer, xs, rng)
    assert L.Dot(axes=(1, 2)).compute_output_shape([(None, 5), (None, 4, 5)]) == (None, 4)
    x = rng.normal(size=(3, 4, 5))
    np.testing.assert_allclose(L.Softmax(**F64)(x), _softmax(x))
    np.testing.assert_allclose(L.Softmax(axis=1, **F64)(x), _softmax(x.swapaxes(1, 2)).swapaxes(1, 2))
    m = x > 0
    y = L.Softmax(**F64)(x, mask=m)
    assert np.all(y[~m] == 0) and np.allclose(y.sum(-1)[m.any(-1)], 1)
    check(L.Softmax(**F64), x, rng, mask=m)
    check(L.Softmax(axis=(1, 2), **F64), x, rng)


def test_lstm_encoder_with_attention_and_masks(rng):
    """Embedding(mask_zero) -> LSTM -> Attention: the masks flow as in Keras."""
    ids = Input(shape=(None,), dtype="int32")
    h = L.Embedding(12, 6, mask_zero=True)(ids)
    seq = L.LSTM(5, return_sequences=True)(h)
    ctx, scores = L.Attention()([seq, seq], return_attention_scores=True)
    pooled = L.GlobalAveragePooling1D()(ctx)
    model = Model(ids, [pooled, scores])
    x = np.array([[3, 4, 5, 0, 0], [1, 2, 3, 4, 5]])
    out, w = model.predict(x, verbose=0)
    assert out.shape == (2, 5) and w.shape == (2, 5, 5)
    np.testing.assert_allclose(w[0, :, 3:], 0, atol=1e-6)  # padded keys get no weight
    out_short = model.predict(x[:1, :3], verbose=0)[0]
    np.testing.assert_allclose(out[0], out_short[0], rtol=1e-5, atol=1e-6)


def test_functional_mha_with_attention_mask_input_saves_and_loads(tmp_path, rng):
    q_in, v_in = Input(shape=(4, 5)), Input(shape=(6, 5))
    m_in = Input(shape=(4, 6), dtype="bool")
    mha = L.MultiHeadAttention(2, 3)
    y = mha(q_in, v_in, attention_mask=m_in)
    y = L.LayerNormalization()(L.Add()([q_in, y]))
    model = Model([q_in, v_in, m_in], y)
    q = rng.normal(size=(3, 4, 5)).astype("float32")
    v = rng.normal(size=(3, 6, 5)).astype("float32")
    am = rng.random((3, 4, 6)) > 0.3
    pred = model.predict([q, v, am], verbose=0)
    ln = next(lay for lay in model.layers if isinstance(lay, L.LayerNormalization))
    np.testing.assert_allclose(pred, ln(q + mha(q, v, attention_mask=am)), rtol=1e-5, atol=1e-6)
    model.compile("adam", "mse")
    model.fit([q, v, am], np.zeros_like(q), epochs=1, verbose=0)
    path = tmp_path / "mha.keras"
    model.save(path)
    from rnnkit.saving import load_model

    loaded = load_model(path)
    np.testing.assert_allclose(loaded.predict([q, v, am], verbose=0), model.predict([q, v, am], verbose=0),
                               rtol=1e-5, atol=1e-6)


def test_symbolic_scores_and_config(rng):
    q, v = Input(shape=(4, 5)), Input(shape=(6, 5))
    out, scores = L.MultiHeadAttention(2, 3)(q, v, return_attention_scores=True)
    assert out.shape == (None, 4, 5) and scores.shape == (None, 2, 4, 6)
    out, scores = L.AdditiveAttention()([q, v], return_attention_scores=True)
    assert out.shape == (None, 4, 5) and scores.shape == (None, 4, 6)
    for layer in (L.Attention(use_scale=True, score_mode="concat"), L.AdditiveAttention(use_scale=False),
                  L.MultiHeadAttention(3, 2, value_dim=4, dropout=0.1), L.Dot(axes=[1, 2], normalize=True),
                  L.Softmax(axis=1)):
        clone = L.deserialize(L.serialize(layer))
        assert clone.get_config() == {**layer.get_config(), "name": clone.name}


def test_errors(qvk):
    q, v, _ = qvk
    with pytest.raises(ValueError, match="list of 2 or 3"):
        L.Attention()(q)
    with pytest.raises(ValueError, match="score_mode"):
        L.Attention(score_mode="general")
    with pytest.raises(ValueError, match="value_mask"):
        L.Attention()([q, v], mask=[None, np.ones((3, 5), bool)])
    with pytest.raises(ValueError, match="num_heads"):
        L.MultiHeadAttention(0, 2)
    with pytest.raises(ValueError, match="attention_mask"):
        L.MultiHeadAttention(2, 2)(q, v, attention_mask=np.ones((3, 5, 5), bool))
    with pytest.raises(NotImplementedError, match="attention_axes"):
        L.MultiHeadAttention(2, 2, attention_axes=(1,))
    with pytest.raises(ValueError, match="axes"):
        L.Dot(axes=0)([q, v])
    with pytest.raises(ValueError, match="incompatible"):
        L.Dot(axes=1)([q, v])
    with pytest.raises(ValueError, match="broadcast"):
        L.Softmax()(q, mask=np.ones((3, 4), bool))
