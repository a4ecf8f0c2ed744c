"""Random archives and random mutations of valid archives, fed to the loaders.

The archives are Keras 3 ``.keras`` files (rnnkit's native format: ``config.json``,
``metadata.json``, ``model.weights.h5``) and archives in rnnkit's former format
(``model.weights.npz``, ``optimizer.npz``), which still load. Whatever the bytes,
``load_model``/``load_weights`` either load a model or raise one of their documented
errors (a ValueError/TypeError from rnnkit's own checks), and the memory they allocate
stays bounded (tracemalloc peak under 64 MB for a file of a few KB).
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import tracemalloc
import zipfile

import h5py
import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import event, given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from bad_inputs import Case, classify  # noqa: E402
from bad_inputs_saving import edit_h5, v1_members, zip_bytes  # noqa: E402
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
    blobs, old = [], []
    for i, m in enumerate((seq, fun)):
        path = os.path.join(TMP, f"valid{i}.keras")
        m.save(path)
        with open(path, "rb") as fh:
            blobs.append(fh.read())
        old.append(zip_bytes(v1_members(m)))
    return blobs, old


VALID, VALID_V1 = _models()


def members(blob):
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def archive(parts, compress):
    return zip_bytes(parts, compress)


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


FLIPS = st.lists(st.tuples(st.floats(0, 1, exclude_max=True), st.integers(1, 255)), min_size=1, max_size=6)


def flipped(data, flips):
    data = bytearray(data)
    for where, xor in flips:
        data[int(where * len(data))] ^= xor
    return bytes(data)


@given(which=st.sampled_from([0, 1]), old=st.booleans(), flips=FLIPS)
def test_flipped_bytes(which, old, flips):
    outcome(flipped((VALID_V1 if old else VALID)[which], flips))


@given(which=st.sampled_from([0, 1]), old=st.booleans(), cut=st.floats(0, 1, exclude_max=True))
def test_truncated(which, old, cut):
    blob = (VALID_V1 if old else VALID)[which]
    outcome(blob[:int(cut * len(blob))])


@given(which=st.sampled_from([0, 1]), flips=FLIPS, cut=st.none() | st.floats(0, 1, exclude_max=True),
       loader=st.sampled_from(["model", "weights"]))
def test_damaged_weights_h5(which, flips, cut, loader):
    """Bytes of ``model.weights.h5`` flipped or cut off, in an archive whose CRCs are valid:
    only the HDF5 reader can tell (flipped array data may load as other numbers, as in Keras)."""
    parts = members(VALID[which])
    h5 = flipped(parts["model.weights.h5"], flips)
    parts["model.weights.h5"] = h5 if cut is None else h5[:int(cut * len(h5))]
    outcome(archive(parts, True), loader)


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


@given(which=st.sampled_from([0, 1]), old=st.booleans(),
       member=st.sampled_from(["config.json", "metadata.json"]), data=st.data(), compress=st.booleans())
def test_mutated_json(which, old, member, data, compress):
    parts = members((VALID_V1 if old else VALID)[which])
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


@given(which=st.sampled_from([0, 1]), data=st.data(), loader=st.sampled_from(["model", "weights"]))
def test_mutated_h5(which, data, loader):
    """Datasets of ``model.weights.h5`` (weights and optimizer variables) replaced by arrays
    of random shapes and dtypes, deleted, renamed or moved, or groups replaced by arrays."""
    parts = members(VALID[which])
    with h5py.File(io.BytesIO(parts["model.weights.h5"]), "r") as f:
        names = []
        f.visititems(lambda n, o: names.append((n, isinstance(o, h5py.Dataset))))
    datasets = sorted(n for n, is_ds in names if is_ds)
    groups = sorted(n for n, is_ds in names if not is_ds)
    edits = []
    for _ in range(data.draw(st.integers(1, 3))):
        action = data.draw(st.sampled_from(["replace", "replace", "delete", "rename", "add", "group"]))
        if action == "group":
            edits.append((action, data.draw(st.sampled_from(groups)), None))
            continue
        key = data.draw(st.sampled_from(datasets))
        if action == "rename":
            parent = key.rsplit("/", 1)[0]
            edits.append((action, key, parent + "/" + data.draw(st.text(alphabet="0123456789x", min_size=1, max_size=3))))
        elif action in ("replace", "add"):
            shape, dtype = data.draw(ARRAYS)
            value = np.full(shape, "abc", dtype="S3") if dtype == "<U3" else \
                np.full(shape, data.draw(st.sampled_from([0, 1, -5, np.nan, np.inf])), dtype=dtype) \
                if dtype.startswith("float") else np.ones(shape, dtype=dtype)
            name = key if action == "replace" else key.rsplit("/", 1)[0] + "/" + str(data.draw(st.integers(0, 20)))
            edits.append((action, name, value))
        else:
            edits.append((action, key, None))

    def edit(f):
        for action, key, value in edits:
            if action == "group" and key in f:
                del f[key]
                f[key] = np.zeros(2)
            elif action == "rename" and key in f and isinstance(f.get(value.rsplit("/", 1)[0]), h5py.Group) \
                    and value not in f:
                f.move(key, value)
            elif action in ("replace", "add"):
                if key in f:
                    del f[key]
                if isinstance(f.get(key.rsplit("/", 1)[0]), h5py.Group):
                    f[key] = value
            elif action == "delete" and key in f:
                del f[key]

    parts["model.weights.h5"] = edit_h5(parts["model.weights.h5"], edit)
    outcome(archive(parts, True), loader)


@given(which=st.sampled_from([0, 1]), member=st.sampled_from(["model.weights.npz", "optimizer.npz"]),
       data=st.data())
def test_mutated_npz(which, member, data):
    """The former format's ``.npz`` members, mutated (their loader still reads them)."""
    parts = members(VALID_V1[which])
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
