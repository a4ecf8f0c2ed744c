"""Random archives and random mutations of valid rnnkit archives, fed to the loaders.

Whatever the bytes, ``load_model``/``load_weights`` either load a model or raise one of
their documented errors (a ValueError/TypeError from rnnkit's own checks), and the
memory they allocate stays bounded (tracemalloc peak under 64 MB for a file of a few KB).
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import tracemalloc
import zipfile

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import event, given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from bad_inputs import Case, classify  # noqa: E402
import rnnkit  # noqa: E402
from rnnkit import layers as L  # noqa: E402
from rnnkit.layers import Input  # noqa: E402
from rnnkit.models import Model, Sequential  # noqa: E402
from rnnkit.saving import load_model, load_weights  # noqa: E402

MEMORY_BOUND = 64 * 2**20
TMP = tempfile.mkdtemp(prefix="rnnkit-loader-props-")


def _models():
    rnnkit.set_seed(0)
    rng = np.random.default_rng(0)
    seq = Sequential([L.Input(shape=(5,), dtype="int32"), L.Embedding(20, 4, mask_zero=True),
                      L.Bidirectional(L.GRU(3)), L.Dense(2, activation="softmax")])
    seq.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["acc"])
    seq.train_on_batch(rng.integers(0, 20, (4, 5)), rng.integers(0, 2, (4,)))
    inp = Input(shape=(4, 3))
    out = L.Dense(1)(L.LSTM(2)(inp))
    fun = Model(inp, out)
    fun.compile(optimizer="rmsprop", loss="mse")
    fun.train_on_batch(rng.normal(size=(2, 4, 3)), rng.normal(size=(2, 1)))
    blobs = []
    for i, m in enumerate((seq, fun)):
        path = os.path.join(TMP, f"valid{i}.keras")
        m.save(path)
        with open(path, "rb") as fh:
            blobs.append(fh.read())
    return blobs


VALID = _models()


def members(blob):
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def archive(parts, compress):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as zf:
        for k, v in parts.items():
            zf.writestr(k, v)
    return buf.getvalue()


def outcome(blob, loader="model"):
    """classify() the load, measuring the peak memory it allocates."""
    path = os.path.join(TMP, "case.keras")
    with open(path, "wb") as fh:
        fh.write(blob)

    def run():
        if loader == "model":
            return load_model(path)
        model = Sequential([L.Input(shape=(4, 3)), L.LSTM(2), L.Dense(1)])
        return load_weights(model, path)

    tracemalloc.start()
    try:
        kind, detail = classify(Case("saving", "property", run, check=lambda r: True))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    event(f"outcome: {'loaded' if kind == 'correct' else 'clear error'}")
    assert kind in ("clear", "correct"), detail
    assert peak < MEMORY_BOUND, f"peak {peak / 2**20:.1f} MB"
    return kind


@given(st.binary(max_size=2000), st.sampled_from(["model", "weights"]))
def test_random_bytes(blob, loader):
    outcome(blob, loader)


@given(which=st.sampled_from([0, 1]), flips=st.lists(st.tuples(st.floats(0, 1, exclude_max=True),
                                                                st.integers(1, 255)), min_size=1, max_size=6))
def test_flipped_bytes(which, flips):
    data = bytearray(VALID[which])
    for where, xor in flips:
        data[int(where * len(data))] ^= xor
    outcome(bytes(data))


@given(which=st.sampled_from([0, 1]), cut=st.floats(0, 1, exclude_max=True))
def test_truncated(which, cut):
    outcome(VALID[which][:int(cut * len(VALID[which]))])


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10, 10**6) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=25)


@st.composite
def json_edits(draw, obj, depth=0):
    """``obj`` with one value somewhere inside replaced, deleted or added at random."""
    if not isinstance(obj, (dict, list)) or not obj or depth > 6 or draw(st.integers(0, 3)) == 0:
        return draw(JSON)
    obj = json.loads(json.dumps(obj))
    if isinstance(obj, dict):
        key = draw(st.sampled_from(sorted(obj)))
        action = draw(st.sampled_from(["edit", "edit", "delete", "add"]))
        if action == "delete":
            del obj[key]
        elif action == "add":
            obj[draw(st.text(max_size=6))] = draw(JSON)
        else:
            obj[key] = draw(json_edits(obj[key], depth + 1))
    else:
        i = draw(st.integers(0, len(obj) - 1))
        obj[i] = draw(json_edits(obj[i], depth + 1))
    return obj


@given(which=st.sampled_from([0, 1]), member=st.sampled_from(["config.json", "metadata.json"]),
       data=st.data(), compress=st.booleans())
def test_mutated_json(which, member, data, compress):
    parts = members(VALID[which])
    edited = data.draw(json_edits(json.loads(parts[member])))
    parts[member] = json.dumps(edited).encode()
    outcome(archive(parts, compress))


def npz(arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


ARRAYS = st.tuples(
    st.lists(st.integers(0, 5), max_size=3).map(tuple),
    st.sampled_from(["float32", "float64", "int8", "int64", "bool", "<U3", "complex64"]),
)


@given(which=st.sampled_from([0, 1]), member=st.sampled_from(["model.weights.npz", "optimizer.npz"]),
       data=st.data())
def test_mutated_npz(which, member, data):
    parts = members(VALID[which])
    with np.load(io.BytesIO(parts[member])) as z:
        arrays = {k: z[k] for k in z.files}
    keys = sorted(arrays)
    for _ in range(data.draw(st.integers(1, 3))):
        action = data.draw(st.sampled_from(["replace", "delete", "add", "rename"]))
        key = data.draw(st.sampled_from(keys)) if keys else "w0000"
        if action == "delete":
            arrays.pop(key, None)
        elif action == "rename":
            if key in arrays:
                arrays[data.draw(st.text(alphabet="abw0123_/", min_size=1, max_size=6))] = arrays.pop(key)
        else:
            shape, dtype = data.draw(ARRAYS)
            value = np.ones(shape, dtype=dtype) if dtype != "<U3" else np.full(shape, "abc")
            name = key if action == "replace" else data.draw(st.text(alphabet="w0123456789", min_size=1, max_size=6))
            arrays[name] = value
    parts[member] = npz(arrays)
    outcome(archive(parts, True))


@given(cell=st.sampled_from(["SimpleRNN", "LSTM", "GRU"]), bidirectional=st.booleans(),
       units=st.integers(1, 4), return_sequences=st.booleans(), embed=st.booleans(),
       optimizer=st.sampled_from(["sgd", "rmsprop", "adam", "adamw", "adagrad"]),
       seed=st.integers(0, 2**16))
def test_save_load_round_trip(cell, bidirectional, units, return_sequences, embed, optimizer, seed):
    rnnkit.set_seed(seed)
    rng = np.random.default_rng(seed)
    rnn = getattr(L, cell)(units, return_sequences=return_sequences)
    stack = ([L.Input(shape=(5,), dtype="int32"), L.Embedding(9, 3, mask_zero=True)] if embed
             else [L.Input(shape=(5, 3))])
    stack += [L.Bidirectional(rnn) if bidirectional else rnn, L.Dense(2)]
    model = Sequential(stack)
    model.compile(optimizer=optimizer, loss="mse", metrics=["mae"])
    x = rng.integers(0, 9, (4, 5)) if embed else rng.normal(size=(4, 5, 3)).astype("float32")
    y = rng.normal(size=(4, 5, 2) if return_sequences else (4, 2)).astype("float32")
    model.train_on_batch(x, y)
    path = os.path.join(TMP, "round.keras")
    model.save(path)
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.get_config() == model.get_config()
    state, loaded_state = model.optimizer.get_state(), loaded.optimizer.get_state()
    assert sorted(state) == sorted(loaded_state)
    for k in state:
        np.testing.assert_array_equal(state[k], loaded_state[k])
    # One more step from the loaded model equals one more step from the original.
    model.train_on_batch(x, y)
    loaded.train_on_batch(x, y)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
