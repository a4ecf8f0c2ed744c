"""Property-based tests of the layers: random shapes, dtypes, masks, options and weights.

For every configuration Hypothesis draws:

- the forward pass returns finite arrays of the shape ``compute_output_shape`` promises
  (or raises one of the documented ValueError/TypeError);
- steps a mask hides never change the outputs (their inputs are replaced by garbage), and
  no gradient flows back to their inputs;
- ``forward`` (the training path) agrees with ``layer(x)``;
- a batch gives the same outputs as its samples run one at a time.
"""
from __future__ import annotations

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from bad_inputs import Case, classify  # noqa: E402
from rnnkit import layers as L  # noqa: E402

CELLS = {"SimpleRNN": L.SimpleRNN, "LSTM": L.LSTM, "GRU": L.GRU}
ACTIVATIONS = ["tanh", "relu", "sigmoid", "linear", "softsign"]


@st.composite
def recurrent_setups(draw, bidirectional=False):
    cell = draw(st.sampled_from(sorted(CELLS)))
    kw = dict(
        units=draw(st.integers(1, 6)),
        activation=draw(st.sampled_from(ACTIVATIONS)),
        use_bias=draw(st.booleans()),
        return_sequences=draw(st.booleans()),
        return_state=draw(st.booleans()),
        go_backwards=draw(st.booleans()),
        zero_output_for_mask=draw(st.booleans()),
        dtype=draw(st.sampled_from(["float32", "float64"])),
    )
    if cell == "GRU":
        kw["reset_after"] = draw(st.booleans())
    batch, steps, feats = draw(st.integers(1, 4)), draw(st.integers(1, 6)), draw(st.integers(1, 5))
    seed = draw(st.integers(0, 2**31 - 1))
    merge = draw(st.sampled_from(["concat", "sum", "mul", "ave", None])) if bidirectional else None
    return cell, kw, (batch, steps, feats), seed, merge


def build(cell, kw, shape, seed, merge=None, bidirectional=False):
    rng = np.random.default_rng(seed)
    layer = CELLS[cell](**kw)
    if bidirectional:
        layer = L.Bidirectional(layer, merge_mode=merge)
    layer.build((None,) + shape[1:])
    # Random weights of a moderate scale and non-zero biases, so every path matters.
    layer.set_weights([rng.normal(0, 0.6, w.shape) for w in layer.get_weights()])
    x = rng.normal(0, 1, shape).astype(kw["dtype"])
    mask = rng.random(shape[:2]) < 0.7
    mask[:, 0] |= ~mask.any(axis=1)  # most rows keep a step; some are masked in full below
    if shape[0] > 1 and rng.random() < 0.3:
        mask[-1] = False
    return layer, x, mask, rng


def as_list(out):
    return out if isinstance(out, list) else [out]


def tol(dtype):
    return dict(rtol=2e-4, atol=2e-5) if dtype == "float32" else dict(rtol=1e-9, atol=1e-11)


def check_forward(layer, x, mask, rng, kw):
    out = as_list(layer(x, mask=mask))
    expected = layer.compute_output_shape((None,) + x.shape[1:])
    expected = expected if isinstance(expected, list) else [expected]
    assert [o.shape[1:] for o in out] == [tuple(e[1:]) for e in expected]
    assert all(o.shape[0] == x.shape[0] for o in out)
    assert all(np.isfinite(o).all() for o in out)

    # Masked steps: garbage there changes nothing.
    noisy = x.copy()
    noisy[~mask] = rng.normal(0, 10, noisy[~mask].shape)
    for a, b in zip(as_list(layer(noisy, mask=mask)), out):
        np.testing.assert_allclose(a, b, **tol(kw["dtype"]))

    # The training path (forward/backward) gives the same outputs, and no gradient reaches
    # the inputs of masked steps.
    fwd, cache = layer.forward(x, mask=mask, training=True)
    for a, b in zip(as_list(fwd), out):
        np.testing.assert_allclose(a, b, **tol(kw["dtype"]))
    grads = [rng.normal(0, 1, o.shape).astype(o.dtype) for o in as_list(fwd)]
    dx = layer.backward(grads if isinstance(fwd, list) else grads[0], cache)
    assert dx.shape == x.shape and np.isfinite(dx).all()
    np.testing.assert_array_equal(dx[~mask], 0)

    # Batched == per-example.
    for i in range(x.shape[0]):
        single = as_list(layer(x[i:i + 1], mask=mask[i:i + 1]))
        for a, b in zip(single, out):
            np.testing.assert_allclose(a[0], b[i], **tol(kw["dtype"]))


@given(recurrent_setups())
def test_recurrent_layers(setup):
    cell, kw, shape, seed, _ = setup
    layer, x, mask, rng = build(cell, kw, shape, seed)
    check_forward(layer, x, mask, rng, kw)


@given(recurrent_setups(bidirectional=True))
def test_bidirectional(setup):
    cell, kw, shape, seed, merge = setup
    layer, x, mask, rng = build(cell, kw, shape, seed, merge, bidirectional=True)
    check_forward(layer, x, mask, rng, kw)


@given(recurrent_setups())
def test_recurrent_fully_masked_row_returns_initial_state(setup):
    cell, kw, shape, seed, _ = setup
    kw = dict(kw, return_sequences=False, return_state=False)
    layer, x, mask, rng = build(cell, kw, shape, seed)
    mask[0] = False
    out = layer(x, mask=mask)
    np.testing.assert_array_equal(out[0], np.zeros_like(out[0]))


@given(rank=st.integers(2, 4), units=st.integers(1, 6), data=st.data(),
       dtype=st.sampled_from(["float32", "float64"]),
       activation=st.sampled_from(ACTIVATIONS), use_bias=st.booleans())
def test_dense_matches_reference_and_is_per_example(rank, units, data, dtype, activation, use_bias):
    shape = tuple(data.draw(st.lists(st.integers(1, 4), min_size=rank, max_size=rank)))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**31 - 1)))
    layer = L.Dense(units, activation=activation, use_bias=use_bias, dtype=dtype)
    x = rng.normal(0, 1, shape).astype(dtype)
    layer.build((None,) + shape[1:])
    weights = [rng.normal(0, 1, w.shape) for w in layer.get_weights()]
    layer.set_weights(weights)
    out = layer(x)
    z = x.astype(np.float64) @ weights[0] + (weights[1] if use_bias else 0)
    ref = {"tanh": np.tanh, "relu": lambda v: np.maximum(v, 0), "sigmoid": lambda v: 1 / (1 + np.exp(-v)),
           "linear": lambda v: v, "softsign": lambda v: v / (1 + np.abs(v))}[activation](z)
    assert out.shape == shape[:-1] + (units,) and out.dtype == np.dtype(dtype)
    np.testing.assert_allclose(out, ref, **tol(dtype))
    for i in range(shape[0]):
        np.testing.assert_allclose(layer(x[i:i + 1])[0], out[i], **tol(dtype))


@given(input_dim=st.integers(1, 20), output_dim=st.integers(1, 5), mask_zero=st.booleans(),
       data=st.data())
def test_embedding_is_a_table_lookup(input_dim, output_dim, mask_zero, data):
    shape = tuple(data.draw(st.lists(st.integers(1, 5), min_size=1, max_size=3)))
    ids = np.asarray(data.draw(st.lists(st.integers(0, input_dim - 1), min_size=int(np.prod(shape)),
                                        max_size=int(np.prod(shape))))).reshape(shape)
    id_dtype = data.draw(st.sampled_from(["int32", "int64", "uint8", "float64"]))
    if id_dtype == "uint8" and input_dim > 255:
        id_dtype = "int32"
    layer = L.Embedding(input_dim, output_dim, mask_zero=mask_zero)
    out = layer(ids.astype(id_dtype))
    np.testing.assert_array_equal(out, layer.get_weights()[0][ids])
    if mask_zero:
        np.testing.assert_array_equal(layer.compute_mask(ids, None), ids != 0)
    bad = ids.copy()
    bad.flat[data.draw(st.integers(0, bad.size - 1))] = data.draw(
        st.sampled_from([-1, input_dim, input_dim + 7]))
    with pytest.raises(ValueError, match=r"ids in \[0, input_dim="):
        layer(bad)


# -------------------------------------------------------------- random (often bad) inputs
def arrays_of_any_kind():
    shape = st.lists(st.integers(0, 3), min_size=0, max_size=5).map(tuple)
    kind = st.sampled_from(["float32", "float64", "int64", "bool", "complex128", "<U2", "object"])
    return st.tuples(shape, kind)


def make_array(shape, kind, seed):
    rng = np.random.default_rng(seed)
    if kind == "object":
        return np.array([None] * int(np.prod(shape)), dtype=object).reshape(shape)
    if kind == "<U2":
        return np.full(shape, "ab")
    return (rng.normal(0, 1, shape) * 3).astype(kind)


LAYER_MAKERS = {
    "SimpleRNN": lambda: L.SimpleRNN(2),
    "LSTM": lambda: L.LSTM(2, return_sequences=True),
    "GRU": lambda: L.GRU(2, return_state=True),
    "Bidirectional": lambda: L.Bidirectional(L.LSTM(2)),
    "Dense": lambda: L.Dense(2),
    "Embedding": lambda: L.Embedding(4, 2),
    "TimeDistributed": lambda: L.TimeDistributed(L.Dense(2)),
    "Masking": lambda: L.Masking(),
}


@given(name=st.sampled_from(sorted(LAYER_MAKERS)), spec=arrays_of_any_kind(), seed=st.integers(0, 99),
       built=st.booleans())
def test_any_input_gives_a_result_or_a_documented_error(name, spec, seed, built):
    layer = LAYER_MAKERS[name]()
    if built:  # a layer that has seen data checks the feature size too
        layer(np.zeros((1, 3, 3), "float32") if name != "Dense" else np.zeros((1, 3), "float32"))
    x = make_array(*spec, seed)
    kind, detail = classify(Case("layers", name, lambda: layer(x), check=lambda out: all(
        isinstance(o, np.ndarray) and (x.ndim == 0 or o.shape[:1] == x.shape[:1]) and (
            o.dtype.kind != "f" or np.isfinite(o).all()) for o in as_list(out))))
    assert kind in ("clear", "correct"), f"{name} on {x.dtype}{x.shape}: {kind}: {detail}"
