"""The checks every recurrent cell gets, run by ``test_simple_rnn.py``, ``test_lstm.py`` and
``test_gru.py`` (each imports them and names its cell variants):

- finite-difference gradient checks in float64 for every option combination, with
  random upstream gradients, non-zero biases, masks, initial states and dropout;
- consistency: layer == its step function in a loop, batched == per-example,
  ``go_backwards`` == flipped input, pre- == post-padding, stateful chunks == one pass;
- every engine == the reference engine;
- parity with real Keras 3 (golden fixtures) and with PyTorch.

A test module sets ``KINDS`` (``"simple"``, ``"lstm"``, ``"gru"``, ``"gru_v1"`` =
``reset_after=False``), ``VARIANTS`` (``(kind, kwargs)`` pairs of activations and
bias options), ``KERAS_FILES`` (fixture name prefixes) and ``TORCH_KIND``.
"""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import keras_parity as kp
from gradcheck import check_layer_gradients
from rnnkit import config
from rnnkit import layers as L
from rnnkit.layers.recurrent import engines

B, T, D, U = 3, 5, 4, 3


def pytest_generate_tests(metafunc):
    """Parametrize ``kind``, ``variant``, ``keras_file`` and ``torch_kind`` from the test module."""
    mod = metafunc.module
    if "kind" in metafunc.fixturenames:
        metafunc.parametrize("kind", mod.KINDS)
    if "fast_kind" in metafunc.fixturenames:
        fast = [k for k in mod.KINDS if k != "gru_v1"]
        metafunc.parametrize("fast_kind", fast)
    if "variant" in metafunc.fixturenames:
        metafunc.parametrize("variant", mod.VARIANTS, ids=[f"{k}-{sorted(v.items())}" for k, v in mod.VARIANTS])
    if "keras_file" in metafunc.fixturenames:
        files = kp.files(*mod.KERAS_FILES)
        metafunc.parametrize("keras_file", files, ids=[p.stem for p in files])


def randomize(layer, rng, scale=0.5):
    layer.set_weights([rng.normal(0, scale, w.shape) for w in layer.get_weights()])


def upstream_for(layer, x, rng, **call):
    outs, _ = layer.forward(x, **call)
    outs = outs if isinstance(outs, list) else [outs]
    return [rng.normal(size=o.shape) for o in outs]


def masks(kind):
    m = np.ones((B, T), bool)
    if kind == "post":
        m[0, 3:] = False
        m[1, 1:] = False
    elif kind == "pre":
        m[0, :2] = False
        m[2, :4] = False
    elif kind == "allmasked":
        m[1, :] = False
        m[0, 4:] = False
    return None if kind == "none" else m


CELLS = {
    "simple": lambda **k: L.SimpleRNN(U, dtype="float64", **k),
    "lstm": lambda **k: L.LSTM(U, dtype="float64", **k),
    "gru": lambda **k: L.GRU(U, dtype="float64", **k),
    "gru_v1": lambda **k: L.GRU(U, dtype="float64", reset_after=False, **k),
}


# ------------------------------------------------------------------ gradients
@pytest.mark.parametrize("rs,rst,gb", list(itertools.product([False, True], repeat=3)))
@pytest.mark.parametrize("mask", ["none", "post", "pre", "allmasked"])
def test_recurrent_gradients(kind, rs, rst, gb, mask, rng):
    cell = kind
    layer = CELLS[cell](return_sequences=rs, return_state=rst, go_backwards=gb)
    layer.build((B, T, D))
    randomize(layer, rng)
    x = rng.normal(size=(B, T, D))
    m = masks(mask)
    up = upstream_for(layer, x, rng, mask=m)
    check_layer_gradients(layer, x, up, mask=m)


@pytest.mark.parametrize("mask", ["none", "post"])
def test_initial_state_gradients(kind, mask, rng):
    cell = kind
    layer = CELLS[cell](return_sequences=True, return_state=True)
    layer.build((B, T, D))
    randomize(layer, rng)
    x = rng.normal(size=(B, T, D))
    n = len(layer.state_names)
    init = [rng.normal(size=(B, U)) for _ in range(n)]
    m = masks(mask)
    up = upstream_for(layer, x, rng, mask=m, initial_state=init)
    check_layer_gradients(layer, x, up, initial_state=init, mask=m)


def test_activation_and_bias_variants(variant, rng):
    cell, kw = variant
    layer = CELLS[cell](return_sequences=True, **kw)
    layer.build((B, T, D))
    randomize(layer, rng)
    x = rng.normal(size=(B, T, D))
    up = upstream_for(layer, x, rng)
    check_layer_gradients(layer, x, up, tol=2e-5)


def test_dropout_gradients(kind, rng):
    cell = kind
    """With fixed dropout masks (same rng state each call) the gradient is exact."""
    layer = CELLS[cell](return_sequences=True, dropout=0.3, recurrent_dropout=0.4, seed=3)
    layer.build((B, T, D))
    randomize(layer, rng)
    x = rng.normal(size=(B, T, D))
    # Re-seed before every forward so that masks repeat across finite-difference calls.
    orig = layer.forward

    def seeded_forward(*a, **k):
        layer._rng = np.random.default_rng(7)
        return orig(*a, **k)

    layer.forward = seeded_forward
    up = upstream_for(layer, x, rng, training=True)
    check_layer_gradients(layer, x, up, training=True)


# ---------------------------------------------------------------- consistency
CB, CT, CD = 4, 6, 5  # the consistency checks' batch, steps and features


def make(kind, **kw):
    cls = {"simple": L.SimpleRNN, "lstm": L.LSTM, "gru": L.GRU, "gru_v1": L.GRU}[kind]
    if kind == "gru_v1":
        kw["reset_after"] = False
    layer = cls(U, dtype="float64", **kw)
    layer.build((None, CT, CD))
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


def test_layer_equals_manual_step_loop(kind):
    layer = make(kind, return_sequences=True, return_state=True)
    x = np.random.default_rng(0).normal(size=(CB, CT, CD))
    seq, h, *rest = layer(x)
    ref_seq, ref_h, ref_c = manual_loop(layer, x)
    np.testing.assert_allclose(seq, ref_seq, rtol=0, atol=1e-12)
    np.testing.assert_allclose(h, ref_h, rtol=0, atol=1e-12)
    if kind == "lstm":
        np.testing.assert_allclose(rest[0], ref_c, rtol=0, atol=1e-12)


def test_batched_equals_per_example(kind):
    layer = make(kind, return_sequences=True)
    x = np.random.default_rng(1).normal(size=(CB, CT, CD))
    whole = layer(x)
    for i in range(CB):
        np.testing.assert_allclose(layer(x[i:i + 1])[0], whole[i], rtol=0, atol=1e-12)


def test_go_backwards_equals_flipped_input(kind):
    fwd = make(kind, return_sequences=True, return_state=True)
    bwd = make(kind, return_sequences=True, return_state=True, go_backwards=True)
    x = np.random.default_rng(2).normal(size=(CB, CT, CD))
    a = fwd(x[:, ::-1])
    b = bwd(x)
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v, rtol=0, atol=1e-12)


def test_pre_and_post_padding_give_same_final_state(kind):
    layer = make(kind, return_state=True)
    rng = np.random.default_rng(3)
    lengths = [6, 3, 1, 4]
    x_pre = np.zeros((CB, CT, CD))
    x_post = np.zeros((CB, CT, CD))
    m_pre = np.zeros((CB, CT), bool)
    m_post = np.zeros((CB, CT), bool)
    for i, n in enumerate(lengths):
        seq = rng.normal(size=(n, CD))
        x_pre[i, CT - n:], m_pre[i, CT - n:] = seq, True
        x_post[i, :n], m_post[i, :n] = seq, True
        # Garbage in the padding must not matter.
        x_pre[i, :CT - n] = 99.0
        x_post[i, n:] = -99.0
    out_pre = layer(x_pre, mask=m_pre)
    out_post = layer(x_post, mask=m_post)
    for a, b in zip(out_pre, out_post):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    # Each row also equals running the unpadded sequence alone.
    for i, n in enumerate(lengths):
        alone = layer(x_post[i:i + 1, :n])
        np.testing.assert_allclose(alone[0], out_post[0][i:i + 1], rtol=0, atol=1e-12)


def test_all_padding_row_returns_initial_state(kind):
    layer = make(kind, return_sequences=True, return_state=True)
    x = np.random.default_rng(4).normal(size=(CB, CT, CD))
    m = np.ones((CB, CT), bool)
    m[2] = False
    n = len(layer.state_names)
    init = [np.random.default_rng(9 + k).normal(size=(CB, U)) for k in range(n)]
    seq, *states = layer(x, mask=m, initial_state=init)
    for s, s0 in zip(states, init):
        np.testing.assert_array_equal(s[2], s0[2])
    # As in Keras, outputs are tracked apart from states: a masked step repeats the
    # previous output, which is zeros before the first real step.
    np.testing.assert_array_equal(seq[2], np.zeros((CT, U)))
    last = type(layer).from_config({**layer.get_config(), "return_sequences": False})
    last.build((None, CT, CD))
    last.set_weights(layer.get_weights())
    out, *_ = last(x, mask=m, initial_state=init)
    np.testing.assert_array_equal(out[2], np.zeros(U))
    np.testing.assert_array_equal(out[[0, 1, 3]], states[0][[0, 1, 3]])


def test_stateful_chunks_equal_one_pass(kind):
    stateless = make(kind, return_sequences=True)
    cls = type(stateless)
    kw = {"reset_after": stateless.reset_after} if kind.startswith("gru") else {}
    stateful = cls(U, dtype="float64", stateful=True, return_sequences=True,
                   batch_input_shape=(CB, None, CD), **kw)
    stateful.build((CB, None, CD))
    stateful.set_weights(stateless.get_weights())
    x = np.random.default_rng(6).normal(size=(CB, 9, CD))
    whole = stateless(x)
    parts = [stateful(x[:, i:i + 3]) for i in range(0, 9, 3)]
    np.testing.assert_allclose(np.concatenate(parts, axis=1), whole, rtol=0, atol=1e-12)
    stateful.reset_states()
    np.testing.assert_allclose(stateful(x[:, :3]), whole[:, :3], rtol=0, atol=1e-12)
    # reset_states(states) sets them explicitly.
    h = np.random.default_rng(7).normal(size=(CB, U))
    states = [h] * len(stateful.state_names)
    stateful.reset_states(states)
    np.testing.assert_allclose(stateful(x[:, :3]), stateless(x[:, :3], initial_state=states),
                               rtol=0, atol=1e-12)


# -------------------------------------------------------------------- engines
def _engine_run(layer, x, m, init, up, name):
    with config.use_engine(name):
        outs, cache = layer.forward(x, mask=m, initial_state=init)
        outs = [o.copy() for o in outs]
        grads_in = layer.backward(up, cache)
        grads = [g.copy() for g in layer.grads]
        called = [np.array(o) for o in layer.call(x, mask=m, initial_state=init)]
    return outs, [np.array(g) for g in grads_in], grads, called, cache.engine


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_every_engine_equals_the_reference(fast_kind, dtype, rng):
    """reference == numpy (feature-major) == jit (compiled gates in training, the compiled
    recurrence at inference), with masks, go_backwards and initial states."""
    layer = CELLS[fast_kind](return_sequences=True, return_state=True, go_backwards=True)
    layer = type(layer).from_config({**layer.get_config(), "dtype": dtype})
    layer.build((B, T, D))
    randomize(layer, rng)
    x = rng.normal(size=(B, T, D)).astype(dtype)
    m = masks("post")
    init = [rng.normal(size=(B, U)).astype(dtype) for _ in layer.state_names]
    up = [o.astype(dtype) for o in upstream_for(layer, x, rng, mask=m, initial_state=init)]
    ref = _engine_run(layer, x, m, init, up, "reference")
    assert ref[4] is engines.REFERENCE
    atol = 1e-12 if dtype == "float64" else 2e-5
    names = ["numpy", "jit"]
    for name in names:
        got = _engine_run(layer, x, m, init, up, name)
        assert got[4] is not engines.REFERENCE
        for a_list, b_list in zip(ref[:4], got[:4]):
            for a, b in zip(a_list, b_list):
                np.testing.assert_allclose(b, a, rtol=0, atol=atol * max(1.0, np.abs(a).max()))
    # a test that can fail: the outputs are not trivially zero
    assert np.abs(ref[0][0]).max() > 0.05


@pytest.mark.parametrize("engine,memory", [("reference", "full"), ("numpy", "full"), ("jit", "full"),
                                           ("numpy", "low"), ("jit", "low")])
def test_backward_without_input_gradient(fast_kind, engine, memory, rng):
    """``backward(..., input_grad=False)`` (a model's first layer in a training step)
    returns no input gradient and the same weight and state gradients."""
    layer = CELLS[fast_kind](return_sequences=True, memory=memory, recompute_every=2)
    layer = type(layer).from_config({**layer.get_config(), "dtype": "float32"})
    layer.build((B, T, D))
    randomize(layer, rng)
    x = rng.normal(size=(B, T, D)).astype("float32")
    init = [rng.normal(size=(B, U)).astype("float32") for _ in layer.state_names]
    dy = rng.normal(size=(B, T, U)).astype("float32")
    with config.use_engine(engine):
        res = []
        for flag in (True, False):
            _, cache = layer.forward(x, mask=masks("post"), initial_state=init, training=True)
            back = layer.backward(dy, cache, input_grad=flag)
            res.append((back, [g.copy() for g in layer.grads]))
    (full, g_full), (part, g_part) = res
    assert full[0] is not None and full[0].shape == x.shape and part[0] is None
    for a, b in zip([*full[1:], *g_full], [*part[1:], *g_part]):
        np.testing.assert_array_equal(b, a)


def test_layer_engine_argument(fast_kind, rng):
    """``engine=`` on the layer overrides the setting, and survives get_config."""
    layer = CELLS[fast_kind](return_sequences=True, engine="reference")
    layer.build((B, T, D))
    _, cache = layer.forward(rng.normal(size=(B, T, D)))
    assert cache.engine is engines.REFERENCE
    again = type(layer).from_config(layer.get_config())
    assert again.engine == "reference"
    assert "engine" not in CELLS[fast_kind]().get_config()  # Keras' config when left at auto


# --------------------------------------------------------------------- Keras
def test_keras_weights_and_count_params(keras_file):
    kp.check_weights_and_count_params(keras_file)


@pytest.mark.parametrize("dtype", kp.DTYPES)
def test_keras_eager_outputs(keras_file, dtype):
    kp.check_eager_outputs(keras_file, dtype)


@pytest.mark.parametrize("dtype", kp.DTYPES)
def test_keras_forward_backward(keras_file, dtype):
    kp.check_forward_backward(keras_file, dtype)


# ------------------------------------------------------------------- PyTorch
@pytest.mark.parametrize("bidirectional,num_layers", [(False, 1), (True, 1), (False, 2), (True, 2)],
                         ids=["uni", "bi", "uni-2layers", "bi-2layers"])
def test_matches_torch(torch_kind, bidirectional, num_layers):
    pytest.importorskip("torch")
    import torch_parity

    torch_parity.check_matches_torch(torch_kind, bidirectional, num_layers)


@pytest.mark.parametrize("bidirectional", [False, True], ids=["uni", "bi"])
def test_post_padded_mask_matches_torch_packed_sequence(torch_kind, bidirectional):
    pytest.importorskip("torch")
    import torch_parity

    torch_parity.check_post_padded_mask_matches_packed_sequence(torch_kind, bidirectional)


def test_last_output_only_matches_torch(torch_kind):
    pytest.importorskip("torch")
    import torch_parity

    torch_parity.check_last_output_only_matches_torch(torch_kind)


# -------------------------------------------------------------- recomputation
@pytest.mark.parametrize("every", [1, 2, None])
@pytest.mark.parametrize("gb", [False, True])
def test_low_memory_equals_full_storage(kind, every, gb, rng):
    """``memory="low"`` (recompute in backward) gives the full-storage outputs and
    gradients, with masks, initial states and dropout."""
    kw = dict(return_sequences=True, return_state=True, go_backwards=gb, dropout=0.2,
              recurrent_dropout=0.3, seed=4)
    full = CELLS[kind](**kw)
    low = CELLS[kind](memory="low", recompute_every=every, **kw)
    for layer in (full, low):
        layer.build((B, T, D))
    randomize(full, rng)
    low.set_weights(full.get_weights())
    x = rng.normal(size=(B, T, D))
    m = masks("pre")
    init = [rng.normal(size=(B, U)) for _ in full.state_names]
    oa, ca = full.forward(x, mask=m, initial_state=init, training=True)
    ob, cb = low.forward(x, mask=m, initial_state=init, training=True)
    assert cb.engine.name.startswith(("recompute", "low_memory"))
    up = [rng.normal(size=o.shape) for o in oa]
    ga, gb_ = full.backward(up, ca), low.backward(up, cb)
    for a, b in zip([*oa, *ga, *full.grads], [*ob, *gb_, *low.grads]):
        np.testing.assert_allclose(b, a, rtol=0, atol=1e-12)


def test_low_memory_gradients(kind, rng):
    layer = CELLS[kind](return_sequences=True, memory="low", recompute_every=2)
    layer.build((B, T, D))
    randomize(layer, rng)
    x = rng.normal(size=(B, T, D))
    m = masks("post")
    up = upstream_for(layer, x, rng, mask=m)
    check_layer_gradients(layer, x, up, mask=m)
    assert type(layer).from_config(layer.get_config()).memory == "low"
