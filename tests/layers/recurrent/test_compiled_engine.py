"""The compiled engine (layers/recurrent/engines/compiled.py) equals the NumPy engines.

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
from rnnkit import config
from rnnkit.layers.recurrent.engines import compiled, embedded
from rnnkit.layers.recurrent.engines import feature_major as fm_engine

pytest.importorskip("numba")

B, T, D, U = 3, 9, 5, 6  # U=6: the kernels' 4-row blocks and the remainder rows
CELLS = {"simple": L.SimpleRNN, "lstm": L.LSTM, "gru": L.GRU}
ATOL = 2e-6  # float32: different summation order only


@pytest.fixture
def jit_switch(settings):
    def use(flag: bool):
        settings(jit=flag)
    yield use


def _small_units():
    return config.settings().small_units


def _limit(kind):
    """``batch * units`` over both threads up to which the compiled recurrence runs."""
    s = config.settings()
    return s.crossover({"simple": "simple_rnn"}.get(kind, kind)) * max(1, min(2, s.threads))


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
    orig = compiled.run_batched

    def spy(kernel, source, states, *rest):
        calls.append(states[0].shape[0])
        return orig(kernel, source, states, *rest)

    monkeypatch.setattr(compiled, "run_batched", spy)
    return calls


def test_jit_is_used_for_small_float32_batches_only(rng, jit_switch, monkeypatch):
    calls = _spy(monkeypatch, L.LSTM)
    jit_switch(True)
    layer = _layer("lstm", rng)
    x = rng.normal(size=(2, T, D)).astype("float32")
    layer.call(x)
    assert calls == [2]
    layer.call(np.resize(x, (1000, T, D)))  # up to SMALL_UNITS units: any batch
    assert calls == [2, 1000]
    wide = L.LSTM(_small_units() + 1)
    wide.build((None, T, D))
    wide.call(x)
    assert calls == [2, 1000, 2]
    big = _limit("lstm") // wide.units + 1  # batch * units above the limit
    wide.call(np.resize(x, (big, T, D)))
    layer64 = L.LSTM(U, dtype="float64")
    layer64.build((None, T, D))
    layer64.call(x.astype("float64"))  # float64: NumPy, the reference precision
    layer.forward(x)  # training keeps caches: NumPy
    assert calls == [2, 1000, 2]


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
def test_jit_split_batch_equals_whole(threads, rng, jit_switch, settings):
    """Two halves on two threads (or one pass) give the very same numbers."""
    layer = _layer("lstm", rng, return_sequences=True, return_state=True)
    x = rng.normal(size=(7, 40, D)).astype("float32")
    m = rng.random((7, 40)) > 0.2
    settings(min_split_macs=0, threads=1)
    jit_switch(True)
    one = layer.call(x, mask=m)
    settings(threads=threads)
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


def test_jit_tanh_accuracy_float32():
    xs = np.concatenate([np.linspace(-10, 10, 400001), np.geomspace(1e-8, 9.5, 20001),
                         -np.geomspace(1e-8, 9.5, 20001), [0.0, 30.0, -30.0]]).astype(np.float32)
    got = np.empty_like(xs)
    compiled.kernels().tanh(xs, got)
    exact = np.tanh(xs.astype(np.float64))
    ulp = np.spacing(np.abs(exact).astype(np.float32)).astype(np.float64)
    err = np.abs(got - exact) / ulp
    assert err.max() <= 6.5 and err.mean() <= 1.0  # as documented in _jit_kernels
    assert got[-2] == 1.0 and got[-1] == -1.0 and got[-3] == 0.0


@pytest.mark.parametrize("kind", list(CELLS))
def test_jit_as_accurate_as_numpy_float32(kind, rng, jit_switch):
    """Against the exact (float64) outputs, the compiled path errs no more than the
    NumPy float32 path (up to rounding noise)."""
    layer = CELLS[kind](16, return_sequences=True)
    layer.build((None, 60, D))
    w = [rng.normal(0, 0.3, a.shape).astype("float32") for a in layer.get_weights()]
    layer.set_weights(w)
    exact_layer = CELLS[kind](16, return_sequences=True, dtype="float64")
    exact_layer.build((None, 60, D))
    exact_layer.set_weights([a.astype("float64") for a in w])
    x = rng.normal(0, 1.5, (16, 60, D)).astype("float32")
    exact = exact_layer.call(x.astype("float64"))
    ref, got = _both(layer, jit_switch, x)
    err_np, err_jit = np.abs(ref[0] - exact), np.abs(got[0] - exact)
    assert err_jit.mean() <= 1.5 * err_np.mean() and err_jit.max() <= 2.0 * err_np.max()
    assert err_np.max() < 1e-5 and np.abs(exact).max() > 0.5


@pytest.mark.parametrize("kind", list(CELLS))
def test_jit_batched_equals_per_example(kind, rng, jit_switch, settings):
    """Groups of four samples and the remainder give the very same numbers."""
    settings(min_split_macs=1 << 40)  # one thread: groups only
    jit_switch(True)
    layer = _layer(kind, rng, return_sequences=True, return_state=True)
    x = rng.normal(size=(9, T, D)).astype("float32")
    m = rng.random((9, T)) > 0.25
    whole = layer.call(x, mask=m)
    for b in range(9):
        for a, w in zip(layer.call(x[b:b + 1], mask=m[b:b + 1]), whole):
            np.testing.assert_array_equal(a[0], w[b])


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("mask_zero,rs", [(False, False), (True, False), (True, True)])
def test_sequential_embedding_fusion(kind, mask_zero, rs, rng, jit_switch, monkeypatch):
    """Embedding -> RNN at inference reads rows of embeddings @ kernel by id: the
    same outputs as the two layers one after the other."""
    from rnnkit.keras import layers, models
    from rnnkit.models import sequential

    model = models.Sequential([layers.Embedding(20, D, mask_zero=mask_zero),
                               CELLS[kind](U, return_sequences=rs, go_backwards=rs),
                               layers.Dense(3)])
    model.build((None, T))
    model.set_weights([rng.normal(0, 0.6, w.shape).astype("float32") for w in model.get_weights()])
    x = rng.integers(0, 20, (8, T))  # 20 rows <= 8 * 9 steps: the fused path applies
    x[2, :4] = 0
    used = []
    orig = embedded.fused_call

    def spy(layer, nxt, *a):
        out = orig(layer, nxt, *a)
        if isinstance(layer, layers.Embedding):
            used.append(out is not None)
        return out

    monkeypatch.setattr(sequential, "fused_call", spy)
    jit_switch(True)
    got = model.predict(x, verbose=0)
    assert used == [True]
    jit_switch(False)
    ref = model.predict(x, verbose=0)
    np.testing.assert_allclose(got, ref, rtol=0, atol=ATOL)
    jit_switch(True)
    np.testing.assert_allclose(model(x), ref, atol=ATOL)
    # a batch with fewer steps than the vocabulary has rows, and training: unfused
    model(x[:1])
    model.compile(optimizer="sgd", loss="mse")
    model.train_on_batch(x, np.zeros((8, T, 3) if rs else (8, 3)))
    assert used == [True, False, True, False]  # jit off for ref: unfused too
    # predict keeps embeddings @ kernel from batch to batch, and only for that call
    jit_switch(False)
    ref = model.predict(x, verbose=0)  # the weights have changed
    jit_switch(True)
    products = []
    bias_of = compiled.CompiledEngine.input_bias
    monkeypatch.setattr(compiled.CompiledEngine, "input_bias",
                        staticmethod(lambda layer: products.append(1) or bias_of(layer)))
    np.testing.assert_allclose(model.predict(x, batch_size=4, verbose=0), ref, atol=ATOL)
    assert used[5:] == [True, True] and len(products) == 1 and model._predict_memo is None


def test_sequential_embedding_fusion_checks_ids(jit_switch):
    from rnnkit.keras import layers, models

    model = models.Sequential([layers.Embedding(5, D), layers.LSTM(U)])
    model.build((None, T))
    jit_switch(True)
    with pytest.raises(ValueError, match="Embedding"):
        model.predict(np.full((8, T), 7), verbose=0)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
@pytest.mark.parametrize("masked", [False, True])
def test_fm_compiled_gates_equal_numpy(kind, masked, rng, jit_switch, monkeypatch):
    """Wide layers at large batches: BLAS products with one compiled gate pass per step."""
    units = _small_units() + 1
    batch = _limit(kind) // units + 5  # past the compiled recurrence
    layer = CELLS[kind](units, return_sequences=True, return_state=True)
    layer.build((None, T, D))
    layer.set_weights([rng.normal(0, 0.3, w.shape).astype("float32") for w in layer.get_weights()])
    x = rng.normal(0, 1.5, (batch, T, D)).astype("float32")
    m = rng.random((batch, T)) > 0.2 if masked else None
    used = []
    kernels = getattr(fm_engine, kind)
    real = kernels.forward

    def spy(*a):
        used.append(a[10])  # the compiled gate pass handed to the kernel, or None
        return real(*a)

    monkeypatch.setattr(kernels, "forward", spy)
    ref, got = _both(layer, jit_switch, x, mask=m)
    assert used[0] is None and used[1] is not None
    for a, b in zip(ref, got):
        np.testing.assert_allclose(b, a, rtol=0, atol=ATOL)
    assert np.abs(ref[0]).max() > 0.5
    # Training: the forward runs the compiled pass too, keeping what backward reads.
    dy = rng.normal(size=ref[0].shape).astype("float32")
    res = []
    for flag in (False, True):
        jit_switch(flag)
        out, cache = layer.forward(x, mask=m)
        dx = layer.backward([dy, None, None] if kind == "lstm" else [dy, None], cache)
        res.append((out[0], dx, [g.copy() for g in layer.grads]))
    assert used[2] is None and used[3] is not None
    np.testing.assert_allclose(res[1][0], res[0][0], rtol=0, atol=ATOL)
    for a, b in zip([res[0][1], *res[0][2]], [res[1][1], *res[1][2]]):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4 * np.abs(a).max())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_embedding_gradient_compiled_equals_numpy(dtype, rng, jit_switch):
    """The compiled scatter-add gives NumPy's gradient (NumPy's reduceat may group the
    sums differently: equal to rounding)."""
    layer = L.Embedding(50, 7, dtype=dtype)
    layer.build((None, 30))
    ids = rng.integers(0, 50, (16, 30))
    ids[:, :10] = 0  # padding: long runs of one id
    g = rng.normal(size=(16, 30, 7)).astype(dtype)
    grads = []
    for flag in (False, True):
        jit_switch(flag)
        _, cache = layer.forward(ids)
        layer.backward(g, cache)
        grads.append(layer.grads[0].copy())
    if dtype == "float64":
        np.testing.assert_allclose(grads[1], grads[0], rtol=0, atol=1e-12)
    else:
        np.testing.assert_allclose(grads[1], grads[0], rtol=0, atol=1e-5)
    expect = np.zeros((50, 7))
    np.add.at(expect, ids.ravel(), g.reshape(-1, 7).astype("float64"))
    np.testing.assert_allclose(grads[1], expect, rtol=1e-5 if dtype == "float32" else 1e-12, atol=1e-5)


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_fm_compiled_gates_training_with_dropout(kind, rng, jit_switch):
    """Dropout masks and recurrent dropout around the compiled training pass."""
    x = rng.normal(0, 1.5, (70, T, D)).astype("float32")
    m = rng.random((70, T)) > 0.2
    weights, res = None, []
    for flag in (False, True):
        layer = CELLS[kind](_small_units() + 1, return_sequences=True, dropout=0.3,
                            recurrent_dropout=0.3, seed=5)
        layer.build((None, T, D))
        weights = weights or [rng.normal(0, 0.3, w.shape).astype("float32") for w in layer.get_weights()]
        layer.set_weights(weights)
        jit_switch(flag)
        out, cache = layer.forward(x, mask=m, training=True)
        dx = layer.backward(np.ones_like(out), cache)
        res.append([out, dx, *layer.grads])
    for a, b in zip(*res):
        np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-4 * np.abs(a).max())
    assert np.abs(res[0][0]).max() > 0.5


@pytest.mark.parametrize("masked", [False, True])
def test_lstm_compiled_regate_equals_numpy(masked, rng, jit_switch):
    """``memory="low"``'s gate rebuild: the compiled pass equals the NumPy lines."""
    jit_switch(True)
    layer = _layer("lstm", rng)
    n, batch = 11, 7
    kx = D + 1
    XH = rng.normal(0, 1, (n + 1, kx + U, batch)).astype("float32")
    XH[:, D] = 1
    c0 = rng.normal(0, 1, (U, batch)).astype("float32")
    drop = (rng.random((n, 1, batch)) < 0.3) if masked else None
    W = fm_engine.lstm.working_weights(layer.cell_spec, layer.kernel, layer.recurrent_kernel, layer.bias)[0]
    out = []
    for gates in (None, compiled.gate_pass("lstm_fm_regate")):
        G = np.full((n + 1, 5 * U, batch), np.nan, np.float32)
        F = np.full((n, 4 * U, batch), np.nan, np.float32)
        fm_engine.lstm.regate(XH, c0, W, G, F, drop, gates)
        out.append((G, F))
    for a, b in zip(*out):
        np.testing.assert_allclose(b, a, rtol=0, atol=ATOL)
    G, F = out[1]
    assert np.isfinite(G[:n]).all() and np.isfinite(G[:, 4 * U:]).all() and np.isfinite(F).all()
    assert np.abs(G[1:, 4 * U:]).max() > 0.5


@pytest.mark.parametrize("masked", [False, True])
def test_lstm_low_memory_float32_equals_full_storage(masked, rng, jit_switch):
    """Float32 training with ``memory="low"`` (gates rebuilt, compiled or NumPy)
    matches full storage to float32 rounding."""
    steps = 70  # three segments of 32 steps with recompute_every=20 (rounded up to a chunk)
    x = rng.normal(0, 1, (5, steps, D)).astype("float32")
    m = rng.random((5, steps)) > 0.2 if masked else None
    full = _layer("lstm", rng, return_sequences=True)
    low = CELLS["lstm"](U, return_sequences=True, memory="low", recompute_every=20)
    low.build((None, steps, D))
    low.set_weights(full.get_weights())
    dy = rng.normal(size=(5, steps, U)).astype("float32")
    for flag in (False, True):
        jit_switch(flag)
        res = []
        for layer in (full, low):
            out, cache = layer.forward(x, mask=m, training=True)
            res.append([out, layer.backward(dy, cache), *[g.copy() for g in layer.grads]])
        assert cache.engine.name.startswith("low_memory")
        assert ("compiled" in cache.engine.name) == flag
        for a, b in zip(*res):
            np.testing.assert_allclose(b, a, rtol=0, atol=1e-5 * max(1.0, np.abs(a).max()))


@pytest.mark.parametrize("kind", ["lstm", "gru"])
def test_compiled_backward_step_equals_numpy(kind, rng, jit_switch, monkeypatch):
    """The compiled elementwise part of a backward step equals the NumPy lines."""
    jit_switch(True)
    steps = 40
    layer = CELLS[kind](U, return_sequences=True)
    layer.build((None, steps, D))
    layer.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in layer.get_weights()])
    x = rng.normal(0, 1, (7, steps, D)).astype("float32")
    dy = rng.normal(size=(7, steps, U)).astype("float32")
    kernels = compiled.kernels()
    name = f"{kind}_fm_back_gates"
    real = getattr(kernels, name)
    calls = []

    def counted(*a):
        calls.append(1)
        return real(*a)

    monkeypatch.setattr(kernels, name, counted)
    res = []
    for back in (name, None):
        monkeypatch.setitem(fm_engine._BACK_GATES, kind, back)
        out, cache = layer.forward(x, training=True)
        res.append([layer.backward(dy, cache), *[g.copy() for g in layer.grads]])
    assert len(calls) == steps  # the first backward, one call a step; the second none
    for a, b in zip(*res):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-5 * np.abs(a).max())
