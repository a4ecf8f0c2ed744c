"""rnnkit.inspect.trace against the layers' own outputs and a step-by-step recomputation."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import reference as ref
from rnnkit import inspect as ri
from rnnkit import layers as L
from rnnkit.models import Model, Sequential

B, T, D, U = 3, 6, 4, 5

CELLS = {
    "simple": lambda **k: L.SimpleRNN(U, **k),
    "lstm": lambda **k: L.LSTM(U, **k),
    "gru": lambda **k: L.GRU(U, **k),
    "gru_v1": lambda **k: L.GRU(U, reset_after=False, **k),
}
KEYS = {"simple": ri.cells.SIMPLE_RNN_KEYS, "lstm": ri.cells.LSTM_KEYS, "gru": ri.cells.GRU_KEYS,
        "gru_v1": ri.cells.GRU_KEYS}


def make_mask(kind):
    if kind == "none":
        return None
    m = np.ones((B, T), bool)
    if kind == "post":
        m[0, 4:] = False
        m[1, 1:] = False
    else:  # "pre", and a row that is all padding
        m[0, :2] = False
        m[2, :] = False
    return m


def built(cell, rng, dtype="float64", **kw):
    layer = CELLS[cell](dtype=dtype, **kw)
    layer.build((None, T, D))
    ref.randomize(layer, rng)
    return layer


@pytest.mark.parametrize("cell,gb,mask", list(itertools.product(CELLS, [False, True], ["none", "post", "pre"])))
def test_trace_equals_layer_outputs_and_step_functions(cell, gb, mask, rng):
    layer = built(cell, rng, return_sequences=True, go_backwards=gb)
    x = rng.normal(size=(B, T, D))
    m = make_mask(mask)
    tr = ri.trace(layer, x, mask=m)
    assert sorted(tr) == sorted(KEYS[cell] + ("mask",))
    for k in KEYS[cell]:
        assert tr[k].shape == (B, T, U)
    expect_mask = np.ones((B, T), bool) if m is None else m
    np.testing.assert_array_equal(tr["mask"], expect_mask)

    # The layer's own return_sequences output, read in input order for go_backwards.
    out = layer(x, mask=m)
    out = out[:, ::-1] if gb else out
    np.testing.assert_allclose(tr["hidden_state"], out, atol=1e-12)

    # Step by step through the exported step functions (processing order).
    seq, gseq, _, ms = ref.manual_run(layer, x, m)
    pos = (lambda s: T - 1 - s) if gb else (lambda s: s)
    for s in range(T):
        t = pos(s)
        np.testing.assert_allclose(tr["hidden_state"][:, t], seq[s][0], atol=1e-12)
        if cell == "lstm":
            np.testing.assert_allclose(tr["cell_state"][:, t], seq[s][1], atol=1e-12)
        real = np.ones(B, bool) if ms is None else ms[:, s]
        for name, value in gseq[s].items():
            np.testing.assert_allclose(tr[name][real, t], value[real], atol=1e-12)
            assert np.isnan(tr[name][~real, t]).all()  # masked steps are marked


@pytest.mark.parametrize("cell", list(CELLS))
def test_trace_float32_matches_fast_kernels(cell, rng):
    layer = CELLS[cell](return_sequences=True)
    x = rng.normal(size=(2, 40, D)).astype("float32")
    out = layer(x)
    tr = ri.trace(layer, x)
    assert tr["hidden_state"].dtype == np.float32
    np.testing.assert_allclose(tr["hidden_state"], out, atol=2e-5)


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_trace_with_initial_state_and_stateful(cell, rng):
    layer = built(cell, rng, return_sequences=True)
    x = rng.normal(size=(B, T, D))
    init = [rng.normal(size=(B, U)) for _ in range(ref.n_states(layer))]
    tr = ri.trace(layer, x, initial_state=init)
    np.testing.assert_allclose(tr["hidden_state"], layer(x, initial_state=init), atol=1e-12)

    st = CELLS[cell](dtype="float64", return_sequences=True, stateful=True, batch_input_shape=(B, T, D))
    st.build((B, T, D))
    st.set_weights(layer.get_weights())
    st.reset_states(init)
    tr = ri.trace(st, x)  # starts from the layer's current states and leaves them alone
    np.testing.assert_allclose(tr["hidden_state"], layer(x, initial_state=init), atol=1e-12)
    np.testing.assert_allclose(st.states[0], init[0])


@pytest.mark.parametrize("cell,mask", list(itertools.product(CELLS, ["none", "post"])))
def test_bidirectional_trace(cell, mask, rng):
    bi = L.Bidirectional(CELLS[cell](return_sequences=True, dtype="float64"), merge_mode=None, dtype="float64")
    bi.build((None, T, D))
    ref.randomize(bi, rng)
    x = rng.normal(size=(B, T, D))
    m = make_mask(mask)
    tr = ri.trace(bi, x, mask=m)
    assert set(tr) == {"forward", "backward"}
    fw, bw = bi(x, mask=m)  # the wrapper aligns the backward outputs with input positions
    real = np.ones((B, T), bool) if m is None else m
    np.testing.assert_allclose(tr["forward"]["hidden_state"][real], fw[real], atol=1e-12)
    np.testing.assert_allclose(tr["backward"]["hidden_state"][real], bw[real], atol=1e-12)
    # The backward direction's last processed step is position 0: its state has read everything.
    direct = ri.trace(bi.backward_layer, x, mask=m)
    np.testing.assert_allclose(direct["hidden_state"], tr["backward"]["hidden_state"])


def test_sequential_trace_feeds_each_layer_its_real_inputs(rng):
    model = Sequential([L.Embedding(20, D, mask_zero=True, dtype="float64"),
                        L.LSTM(U, return_sequences=True, dtype="float64"),
                        L.Bidirectional(L.GRU(U, return_sequences=True, dtype="float64"), dtype="float64"),
                        L.SimpleRNN(U, go_backwards=True, dtype="float64"),
                        L.Dense(1, dtype="float64")])
    ids = rng.integers(1, 20, size=(B, T))
    ids[0, :2] = 0
    ids[1, :] = 0
    model.build((None, T))
    for lay in model.layers:
        ref.randomize(lay, rng)
    tr = ri.trace(model, ids)
    emb, lstm, bi, srnn, _ = model.layers
    mask = ids != 0
    e = emb(ids)
    h1 = lstm(e, mask=mask)
    h2 = bi(h1, mask=mask)
    names = [lstm.name, bi.name, srnn.name]
    assert list(tr) == names
    for got, want in ((tr[lstm.name], ri.trace(lstm, e, mask=mask)),
                      (tr[bi.name]["forward"], ri.trace(bi, h1, mask=mask)["forward"]),
                      (tr[srnn.name], ri.trace(srnn, h2, mask=mask))):
        for k in want:
            np.testing.assert_array_equal(got[k], want[k])
    np.testing.assert_array_equal(tr[lstm.name]["mask"], mask)
    np.testing.assert_allclose(tr[lstm.name]["hidden_state"][mask], h1[mask], atol=1e-12)
    # The row that is all padding carries the initial (zero) state throughout.
    assert np.all(tr[srnn.name]["hidden_state"][1] == 0)


def test_functional_trace_sees_initial_states_passed_in_the_graph(rng):
    enc_in = L.Input(shape=(T, D), dtype="float64")
    dec_in = L.Input(shape=(T, D), dtype="float64")
    enc = L.LSTM(U, return_state=True, dtype="float64", name="encoder")
    dec = L.LSTM(U, return_sequences=True, dtype="float64", name="decoder")
    _, h, c = enc(enc_in)
    out = dec(dec_in, initial_state=[h, c])
    model = Model([enc_in, dec_in], out)
    for lay in (enc, dec):
        ref.randomize(lay, rng)
    xe, xd = rng.normal(size=(B, T, D)), rng.normal(size=(B, T, D))
    tr = ri.trace(model, [xe, xd])
    assert set(tr) == {"encoder", "decoder"}
    _, h0, c0 = enc(xe)
    np.testing.assert_allclose(tr["decoder"]["hidden_state"], dec(xd, initial_state=[h0, c0]), atol=1e-12)
    np.testing.assert_allclose(tr["encoder"]["hidden_state"][:, -1], h0, atol=1e-12)


def test_shared_layer_gives_one_entry_per_call(rng):
    a, b = L.Input(shape=(T, D)), L.Input(shape=(T, D))
    shared = L.GRU(U, name="shared")
    model = Model([a, b], L.Concatenate()([shared(a), shared(b)]))
    xa, xb = rng.normal(size=(2, B, T, D)).astype("float32")
    tr = ri.trace(model, [xa, xb])
    assert list(tr) == ["shared", "shared:1"]
    np.testing.assert_allclose(tr["shared:1"]["hidden_state"][:, -1], shared(xb), atol=1e-5)


def test_trace_does_not_change_normal_calls(rng):
    layer = built("lstm", rng, return_sequences=True)
    x = rng.normal(size=(B, T, D))
    before = layer(x)
    ri.trace(layer, x)
    model = Sequential([layer, L.Dense(1, dtype="float64")])
    ri.trace(model, x)
    assert "forward" not in layer.__dict__  # the recording wrappers are gone
    np.testing.assert_array_equal(layer(x), before)


def test_trace_errors(rng):
    layer = built("lstm", rng)
    with pytest.raises(TypeError, match="SimpleRNN, LSTM and GRU|received Dense"):
        ri.trace(L.Dense(3), np.zeros((1, 2, 3)))
    with pytest.raises(ValueError, match=r"\(batch, timesteps, features\)"):
        ri.trace(layer, np.zeros((2, D)))
    with pytest.raises(ValueError, match="4 features"):
        ri.trace(layer, np.zeros((2, T, D + 1)))
    with pytest.raises(ValueError, match="mask must have shape"):
        ri.trace(layer, np.zeros((2, T, D)), mask=np.ones((2, T + 1), bool))
    with pytest.raises(ValueError, match="initial_state must be a list of 2"):
        ri.trace(layer, np.zeros((2, T, D)), initial_state=[np.zeros((2, U))])
    with pytest.raises(TypeError, match="numeric"):
        ri.trace(layer, np.array([[["a"] * D] * T]))
    with pytest.raises(ValueError, match="no recurrent layer"):
        ri.trace(Sequential([L.Dense(2)]), np.zeros((1, 3)))


def test_nested_model_layers_are_traced(rng):
    inner = Sequential([L.GRU(U, return_sequences=True, dtype="float64", name="inner_gru")])
    model = Sequential([L.Dense(D, dtype="float64"), inner, L.LSTM(U, dtype="float64", name="outer_lstm")])
    model.build((None, T, D))
    x = rng.normal(size=(B, T, D))
    tr = ri.trace(model, x)
    assert list(tr) == ["inner_gru", "outer_lstm"]
    h = model.layers[0](x)
    np.testing.assert_allclose(tr["inner_gru"]["hidden_state"], inner(h), atol=1e-12)
