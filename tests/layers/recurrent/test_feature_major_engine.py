"""The feature-major engine (layers/recurrent/engines/feature_major/) equals the reference.

Every option the fast path implements (masks, initial states, dropout, both
output kinds, go_backwards, no bias), forward and backward, through ``forward``
and through ``call`` (the inference path), inline and on the helper thread.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

from rnnkit import layers as L
from rnnkit import config
from rnnkit.layers.recurrent import engines
from rnnkit.layers.recurrent.engines import threads

B, T, D, U = 4, 7, 5, 3
CELLS = {"simple": L.SimpleRNN, "lstm": L.LSTM, "gru": L.GRU}


def _flat(v):
    out = []
    for e in v if isinstance(v, (list, tuple)) else [v]:
        out += _flat(e) if isinstance(e, (list, tuple)) else [np.asarray(e)]
    return out


def _run(layer, x, m, up, init, training, seed):
    kw = {"mask": m, "training": training}
    if init is not None:
        kw["initial_state"] = init
    if seed is not None:
        layer._rng = np.random.default_rng(seed)
    outs, cache = layer.forward(x, **kw)
    outs = [o.copy() for o in outs] if isinstance(outs, list) else outs.copy()
    dx = layer.backward(up if isinstance(outs, list) else up[0], cache)
    grads = [g.copy() for g in layer.grads]
    if seed is not None:
        layer._rng = np.random.default_rng(seed)
    return outs, dx, grads, layer.call(x, **kw)


def _compare(layer, x, m, up, init=None, training=False, seed=None, atol=1e-12, monkeypatch=None):
    with config.use_engine("reference"):
        ref = _flat(_run(layer, x, m, up, init, training, seed))
    got = _flat(_run(layer, x, m, up, init, training, seed))
    assert len(ref) == len(got)
    for a, b in zip(ref, got):
        assert a.shape == b.shape
        np.testing.assert_allclose(b, a, rtol=0, atol=atol)


def _case(kind, rs, rst, gb, mask, init, drop, bias=True, dtype="float64", rng=None):
    layer = CELLS[kind](U, return_sequences=rs, return_state=rst, go_backwards=gb, dtype=dtype,
                        use_bias=bias, dropout=0.3 if drop else 0.0,
                        recurrent_dropout=0.3 if drop else 0.0)
    layer.build((B, T, D))
    layer.set_weights([rng.normal(0, 0.5, w.shape) for w in layer.get_weights()])
    x = rng.normal(size=(B, T, D)).astype(dtype)
    m = None
    if mask:
        m = np.ones((B, T), bool)
        m[0, 4:] = False
        m[1, :2] = False
        m[2, :] = False
    n = len(layer.state_names)
    ini = [rng.normal(size=(B, U)).astype(dtype) for _ in range(n)] if init else None
    shapes = [(B, T, U) if rs else (B, U)] + [(B, U)] * (n if rst else 0)
    up = [rng.normal(size=s).astype(dtype) for s in shapes]
    return layer, x, m, up, ini


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("rs,rst,gb", list(itertools.product([False, True], repeat=3)))
@pytest.mark.parametrize("mask,init,drop", [(False, False, False), (True, False, False),
                                            (False, True, True), (True, True, True)])
def test_fast_equals_reference(kind, rs, rst, gb, mask, init, drop, rng, monkeypatch):
    layer, x, m, up, ini = _case(kind, rs, rst, gb, mask, init, drop, rng=rng)
    _compare(layer, x, m, up, ini, training=drop, seed=1 if drop else None, monkeypatch=monkeypatch)


@pytest.mark.parametrize("kind", list(CELLS))
def test_fast_equals_reference_without_bias(kind, rng, monkeypatch):
    layer, x, m, up, ini = _case(kind, True, True, False, True, True, False, bias=False, rng=rng)
    _compare(layer, x, m, up, ini, monkeypatch=monkeypatch)


@pytest.mark.parametrize("kind", list(CELLS))
@pytest.mark.parametrize("mask,drop", [(False, False), (True, True)])
def test_helper_thread_path_equals_reference(kind, mask, drop, rng, monkeypatch, settings):
    """Chunks of 3 steps, every product handed to the helper thread."""
    settings(chunk=3, min_task_macs=0, threads=2)
    layer, x, m, up, ini = _case(kind, True, True, True, mask, True, drop, rng=rng)
    _compare(layer, x, m, up, ini, training=drop, seed=1 if drop else None, monkeypatch=monkeypatch)


@pytest.mark.parametrize("kind", list(CELLS))
def test_fast_float32_matches_reference(kind, rng, monkeypatch):
    layer, x, m, up, ini = _case(kind, True, False, False, False, False, False, dtype="float32",
                                 rng=rng)
    _compare(layer, x, m, up, atol=2e-5, monkeypatch=monkeypatch)


@pytest.mark.parametrize("kind", list(CELLS))
def test_pooled_buffers_do_not_leak_between_calls(kind, rng):
    """A live cache keeps its buffers; results handed out are never reused."""
    layer = CELLS[kind](U, return_sequences=True, return_state=True, dtype="float64")
    layer.build((B, T, D))
    x1, x2 = rng.normal(size=(2, B, T, D))
    up = [rng.normal(size=(B, T, U))] + [rng.normal(size=(B, U)) for _ in layer.state_names]
    out1, c1 = layer.forward(x1)
    ref1 = _flat(out1)
    ref1 = [a.copy() for a in ref1]
    layer.forward(x2)  # while c1 is alive: must not touch c1's buffers
    layer.call(x2)
    for a, b in zip(ref1, _flat(out1)):
        np.testing.assert_array_equal(a, b)
    dx1 = layer.backward(up, c1).copy()
    g1 = [g.copy() for g in layer.grads]
    layer2 = CELLS[kind](U, return_sequences=True, return_state=True, dtype="float64")
    layer2.build((B, T, D))
    layer2.set_weights(layer.get_weights())
    _, c = layer2.forward(x1)
    np.testing.assert_array_equal(layer2.backward(up, c), dx1)
    for a, b in zip(layer2.grads, g1):
        np.testing.assert_array_equal(a, b)
    # One sample: the returned final states are copies, not views of pooled memory.
    one = layer.call(x1[:1])
    keep = [o.copy() for o in one]
    layer.call(x2[:1])
    for a, b in zip(keep, one):
        np.testing.assert_array_equal(a, b)


def test_kernels_restore_blas_threads(rng, settings):
    settings(min_task_macs=0, threads=2)
    before = threads.blas_threads()
    layer = L.LSTM(U, return_sequences=True)
    layer.build((B, T, D))
    out, cache = layer.forward(rng.normal(size=(B, T, D)).astype("float32"))
    layer.backward(np.ones_like(out), cache)
    assert threads.blas_threads() == before


def test_unsupported_configurations_use_the_reference_kernels():
    for layer in (L.SimpleRNN(U, activation="relu"), L.LSTM(U, recurrent_activation="hard_sigmoid"),
                  L.GRU(U, reset_after=False), L.GRU(U, activation="softsign")):
        layer.build((B, T, D))
        _, cache = layer.forward(np.ones((B, T, D), "float32"))
        assert cache.engine is engines.REFERENCE


def test_embedding_reads_time_major_gradients_without_copy(rng):
    emb = L.Embedding(11, 4, dtype="float64")
    emb.build((None, None))
    ids = rng.integers(0, 11, (3, 5))
    _, cache = emb.forward(ids)
    g_tbd = rng.normal(size=(5, 3, 4))
    emb.backward(g_tbd.transpose(1, 0, 2), cache)
    a = emb.grads[0].copy()
    emb.backward(np.ascontiguousarray(g_tbd.transpose(1, 0, 2)), cache)
    np.testing.assert_allclose(a, emb.grads[0], rtol=0, atol=1e-12)
    ref = np.zeros((11, 4))
    np.add.at(ref, ids.ravel(), g_tbd.transpose(1, 0, 2).reshape(-1, 4))
    np.testing.assert_allclose(a, ref, rtol=0, atol=1e-12)


@pytest.mark.parametrize("kind", list(CELLS))
def test_backward_flushes_subnormal_gradients(kind, rng):
    """Gradients that vanish over many steps reach zero instead of lingering as subnormal
    floats (slow on Intel CPUs), and the flush leaves normal values as they are."""
    from rnnkit.layers.recurrent.engines.feature_major import layout

    c = layout.flush_constant(np.float32)
    x = np.array([1e-38, -3e-39, 1e-45, 0.5, -2.0, 1e-20], np.float32)
    y = x.copy()
    y += c
    y -= c
    np.testing.assert_array_equal(y[:3], 0)
    np.testing.assert_array_equal(y[3:5], x[3:5])
    assert abs(float(y[5] - x[5])) <= 2.0 ** -99
    layer = CELLS[kind](U, return_sequences=False, dtype="float32")
    layer.build((B, 300, D))
    layer.set_weights([rng.normal(0, 0.1, w.shape).astype("float32") for w in layer.get_weights()])
    out, cache = layer.forward(rng.normal(size=(B, 300, D)).astype("float32"))
    dx = layer.backward(np.ones_like(out), cache)
    tiny = np.finfo(np.float32).tiny
    # Flushed every FLUSH_EVERY steps: a few steps at most may pass through the range.
    sub = ((dx != 0) & (np.abs(dx) < tiny)).any(axis=(0, 2))
    assert sub.sum() <= 8, np.flatnonzero(sub)
    assert np.count_nonzero(dx[:, :100] == 0) > 0.9 * dx[:, :100].size  # vanished to exact zeros
    assert np.abs(dx[:, -1]).max() > 1e-3  # the last steps still get their gradient
