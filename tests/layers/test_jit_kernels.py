"""The optional compiled inference kernels (layers/_jit.py) equal the NumPy kernels.

Skipped without Numba (CI installs it with the test extras). Every option the
compiled path takes (masks, initial states, stateful, both output kinds,
go_backwards, no bias, Bidirectional, model.predict) is compared with the NumPy
path in float32, and its tanh with the exact one.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from rnnkit import layers as L
from rnnkit.layers import _jit

pytest.importorskip("numba")

B, T, D, U = 3, 9, 5, 6  # U=6: the kernels' 4-row blocks and the remainder rows
CELLS = {"simple": L.SimpleRNN, "lstm": L.LSTM, "gru": L.GRU}
ATOL = 2e-6  # float32: different summation order only


@pytest.fixture
def jit_switch(monkeypatch):
    def use(flag: bool):
        monkeypatch.setattr(_jit, "ENABLED", flag)
    yield use


def _flat(v):
    return [np.asarray(e) for e in v] if isinstance(v, list) else [np.asarray(v)]


def _layer(kind, rng, batch=None, **kw):
    layer = CELLS[kind](U, **kw)
    layer.build((batch, T, D))
    layer.set_weights([rng.normal(0, 0.6, w.shape).astype("float32") for w in layer.get_weights()])
    return layer


def _both(layer, jit_switch, *args, **kw):
    jit_switch(False)
    ref = _flat(layer.call(*args, **kw))
    jit_switch(True)
    got = _flat(layer.call(*args, **kw))
    assert len(ref) == len(got)
    return ref, got


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("rs,rst,gb", list(itertools.product([False, True], repeat=3)))
@pytest.mark.parametrize("mask,init,bias", [(False, False, True), (True, False, True),
                                            (True, True, True), (False, True, False)])
def test_jit_equals_numpy(kind, rs, rst, gb, mask, init, bias, rng, jit_switch):
    layer = _layer(kind, rng, return_sequences=rs, return_state=rst, go_backwards=gb, use_bias=bias)
    x = rng.normal(0, 1.5, (B, T, D)).astype("float32")
    kw = {}
    if mask:
        m = np.ones((B, T), bool)
        m[0, 5:] = False
        m[1, :3] = False
        m[2, :] = False
        kw["mask"] = m
    if init:
        kw["initial_state"] = [rng.normal(size=(B, U)).astype("float32")
                               for _ in layer.state_names]
    ref, got = _both(layer, jit_switch, x, **kw)
    for a, b in zip(ref, got):
        assert a.shape == b.shape and b.dtype == np.float32
        np.testing.assert_allclose(b, a, rtol=0, atol=ATOL)
    # A test that can fail: the outputs are not trivially zero or saturated.
    assert np.abs(ref[0]).max() > 0.1


def _spy(monkeypatch, cls):
    calls = []
    orig = _jit.run

    def spy(kernel, project, x, *rest):
        calls.append(x.shape[0])
        return orig(kernel, project, x, *rest)

    monkeypatch.setattr(_jit, "run", spy)
    return calls


def test_jit_is_used_for_small_float32_batches_only(rng, jit_switch, monkeypatch):
    calls = _spy(monkeypatch, L.LSTM)
    jit_switch(True)
    layer = _layer("lstm", rng)
    x = rng.normal(size=(2, T, D)).astype("float32")
    layer.call(x)
    assert calls == [2]
    big = L.LSTM._jit_max_work * _jit._threads() // U + 1  # batch * units above the limit: NumPy
    layer.call(np.resize(x, (big, T, D)))
    layer64 = L.LSTM(U, dtype="float64")
    layer64.build((None, T, D))
    layer64.call(x.astype("float64"))  # float64: NumPy, the reference precision
    layer.forward(x)  # training keeps caches: NumPy
    assert calls == [2]


def test_jit_not_used_with_dropout_in_training(rng, jit_switch, monkeypatch):
    calls = _spy(monkeypatch, L.GRU)
    jit_switch(True)
    layer = _layer("gru", rng, dropout=0.5, recurrent_dropout=0.5, seed=3)
    x = rng.normal(size=(2, T, D)).astype("float32")
    layer.call(x, training=True)
    assert calls == []
    layer.call(x)  # inference ignores dropout
    assert calls == [2]


@pytest.mark.parametrize("threads", [1, 2])
def test_jit_split_batch_equals_whole(threads, rng, jit_switch, monkeypatch):
    """Two halves on two threads (or one pass) give the very same numbers."""
    from rnnkit.layers import _fm

    layer = _layer("lstm", rng, return_sequences=True, return_state=True)
    x = rng.normal(size=(7, 40, D)).astype("float32")
    m = rng.random((7, 40)) > 0.2
    monkeypatch.setattr(_jit, "_MIN_SPLIT_MACS", 0)
    monkeypatch.setattr(_fm, "THREADS", 1)
    jit_switch(True)
    one = layer.call(x, mask=m)
    monkeypatch.setattr(_fm, "THREADS", threads)
    for a, b in zip(one, layer.call(x, mask=m)):
        np.testing.assert_array_equal(a, b)
    jit_switch(False)
    for a, b in zip(one, layer.call(x, mask=m)):
        np.testing.assert_allclose(a, b, atol=ATOL)


@pytest.mark.parametrize("kind", list(CELLS))
def test_jit_stateful_chunks_equal_one_pass(kind, rng, jit_switch):
    jit_switch(True)
    layer = _layer(kind, rng, batch=2, stateful=True, return_sequences=True)
    x = rng.normal(size=(2, T, D)).astype("float32")
    whole = layer.call(x)
    layer.reset_states()
    parts = np.concatenate([layer.call(x[:, :4]), layer.call(x[:, 4:])], axis=1)
    np.testing.assert_allclose(parts, whole, atol=1e-6)
    jit_switch(False)
    layer.reset_states()
    np.testing.assert_allclose(layer.call(x), whole, atol=ATOL)


@pytest.mark.parametrize("kind", list(CELLS))
def test_jit_model_predict_equals_numpy(kind, rng, jit_switch):
    from rnnkit.keras import layers, models

    model = models.Sequential([layers.Embedding(50, 8, mask_zero=True),
                               layers.Bidirectional(CELLS[kind](U, return_sequences=True)),
                               CELLS[kind](U), layers.Dense(1, activation="sigmoid")])
    x = rng.integers(1, 50, (5, 30))
    x[1, :10] = 0
    x[3, 20:] = 0
    model.build((None, 30))
    jit_switch(False)
    ref = model.predict(x, verbose=0)
    jit_switch(True)
    got = model.predict(x, verbose=0)
    np.testing.assert_allclose(got, ref, atol=ATOL)
    # one review, the latency case
    np.testing.assert_allclose(model(x[:1]), ref[:1], atol=ATOL)


def test_jit_tanh_is_correctly_rounded_float32(jit_switch):
    tanh = _jit.kernels()._tanh
    xs = np.concatenate([np.linspace(-10, 10, 20001), np.geomspace(1e-8, 9.5, 5001),
                         -np.geomspace(1e-8, 9.5, 5001), [0.0, 30.0, -30.0]])
    got = np.array([tanh(float(v)) for v in xs]).astype(np.float32)
    exact = np.tanh(xs)
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    assert np.max(np.abs(got - exact) / ulp) <= 0.6
    assert got[-2] == 1.0 and got[-1] == -1.0 and got[-3] == 0.0
