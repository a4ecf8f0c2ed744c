"""Files written by real Keras 3 / tf.keras 2.x load with Keras' predictions, compile config
and optimizer state; files rnnkit writes are what Keras 3 loaded and predicted the same
with (fixtures: tests/fixtures/make_keras_file_fixtures.py)."""
from __future__ import annotations

import json
import pathlib
import zipfile

import numpy as np
import pytest

from rnnkit.keras import layers
from rnnkit.keras.models import Model, Sequential, load_model

HERE = pathlib.Path(__file__).parent.parent / "fixtures" / "keras_files"
CASES = sorted(p.stem for p in HERE.glob("*.npz") if not p.stem.endswith(".tf2"))
# A .tf2.h5 with its own .tf2.npz holds trained weights (test_tf_keras_2_file_resumes_training).
FORMATS = [(c, s) for c in CASES for s in (".keras", ".h5", ".tf2.h5") if (HERE / f"{c}{s}").exists()
           and not (s == ".tf2.h5" and (HERE / f"{c}.tf2.npz").exists())]


def _arrays(data, prefix):
    keys = sorted((k for k in data.files if k.startswith(prefix)), key=lambda k: int(k.split("_")[-1]))
    return [data[k] for k in keys]


def _one(v):
    return v[0] if len(v) == 1 else v


def _predict(model, xs):
    out = model.predict(_one(xs), verbose=0)
    return out if isinstance(out, list) else [out]


def test_fixtures_are_present():
    assert len(CASES) == 11 and len(FORMATS) == 24


@pytest.mark.parametrize("case,suffix", FORMATS)
def test_keras_written_file_predicts_like_keras(case, suffix):
    data = np.load(HERE / f"{case}.npz")
    meta = json.loads(str(data["meta"]))
    model = load_model(HERE / f"{case}{suffix}")
    for got, want in zip(_predict(model, _arrays(data, "x_")), _arrays(data, "y_"), strict=True):
        np.testing.assert_allclose(got, want, atol=2e-5, rtol=0)
    assert model._compiled == meta["compiled"]


@pytest.mark.parametrize("case", [c for c in CASES if "after_0" in np.load(HERE / f"{c}.npz").files])
def test_keras_file_resumes_training_with_its_optimizer_state(case):
    """One train_on_batch after loading gives Keras' weights: the optimizer (its moments,
    step count, learning rate) came back from the file, no compile() needed."""
    data = np.load(HERE / f"{case}.npz")
    model = load_model(HERE / f"{case}.keras")
    model.train_on_batch(_one(_arrays(data, "tx_")), _one(_arrays(data, "ty_")))
    for got, want in zip(model.get_weights(), _arrays(data, "after_"), strict=True):
        np.testing.assert_allclose(got, want, atol=2e-5, rtol=0)


def test_tf_keras_2_file_resumes_training():
    """tf.keras 2.x stores Adam's moments without a learning-rate variable; they load."""
    data = np.load(HERE / "seq_gru_options.tf2.npz")
    model = load_model(HERE / "seq_gru_options.tf2.h5")
    np.testing.assert_allclose(_predict(model, _arrays(data, "x_"))[0], data["y_0"], atol=2e-5, rtol=0)
    assert model.optimizer.iterations == 1
    model.train_on_batch(_one(_arrays(data, "tx_")), _one(_arrays(data, "ty_")))
    for got, want in zip(model.get_weights(), _arrays(data, "after_"), strict=True):
        np.testing.assert_allclose(got, want, atol=2e-5, rtol=0)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("suffix", [".weights.h5", ".h5", ".keras"])
def test_load_weights_from_keras_files(case, suffix):
    ref = load_model(HERE / f"{case}.keras", compile=False)
    model = load_model(HERE / f"{case}.keras", compile=False)
    for w in model.weights:
        w[...] = 0
    model.load_weights(HERE / f"{case}{suffix}")
    for got, want in zip(model.get_weights(), ref.get_weights(), strict=True):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_rnnkit_written_files_are_what_keras_loaded(case, suffix, tmp_path):
    """The committed rnnkit-written file gave Keras 3 these predictions; rnnkit reading it
    agrees, and rnnkit today writes the same config and weights."""
    data = np.load(HERE / f"{case}.npz")
    keras_pred = np.load(HERE / "rnnkit_written" / f"{case}.keras_pred.npz")
    prefix = "" if suffix == ".keras" else "h5_"
    written = HERE / "rnnkit_written" / f"{case}{suffix}"
    model = load_model(written)
    for got, want, orig in zip(_predict(model, _arrays(data, "x_")), _arrays(keras_pred, f"{prefix}y_"),
                               _arrays(data, "y_"), strict=True):
        np.testing.assert_allclose(got, want, atol=2e-5, rtol=0)
        np.testing.assert_allclose(want, orig, atol=2e-5, rtol=0)
    again = tmp_path / f"again{suffix}"
    load_model(HERE / f"{case}.keras").save(again)
    if suffix == ".keras":
        with zipfile.ZipFile(again) as a, zipfile.ZipFile(written) as b:
            assert json.loads(a.read("config.json")) == json.loads(b.read("config.json"))
            assert sorted(a.namelist()) == sorted(b.namelist()) == \
                ["config.json", "metadata.json", "model.weights.h5"]
    for x, y in zip(load_model(again).get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(x, y)


def _functional():
    a = layers.Input(shape=(5, 3), name="a")
    ids = layers.Input(shape=(5,), dtype="int32", name="ids")
    e = layers.Embedding(9, 3, mask_zero=True)(ids)
    h = layers.Bidirectional(layers.GRU(4, return_sequences=True), merge_mode="ave")(e)
    s = layers.LSTM(4)(layers.Concatenate()([h, a]))
    return Model([a, ids], layers.Dense(2)(s))


@pytest.mark.parametrize("suffix", [".keras", ".h5"])
@pytest.mark.parametrize("make", ["sequential", "functional"])
def test_round_trip_with_optimizer_state(tmp_path, rng, suffix, make):
    if make == "sequential":
        model = Sequential([layers.Input(shape=(6, 3)), layers.LSTM(4, return_sequences=True),
                            layers.TimeDistributed(layers.Dense(2)), layers.Flatten(), layers.Dense(1)])
        x = rng.normal(size=(8, 6, 3)).astype("float32")
    else:
        model = _functional()
        x = [rng.normal(size=(8, 5, 3)).astype("float32"), rng.integers(0, 9, size=(8, 5))]
    model.compile(optimizer="adam", loss="mse", metrics=["mae"])
    y = rng.normal(size=(8, model.output_shape[-1])).astype("float32")
    model.train_on_batch(x, y)
    path = tmp_path / f"m{suffix}"
    model.save(path)
    loaded = load_model(path)
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    model.train_on_batch(x, y)
    loaded.train_on_batch(x, y)
    for a, b in zip(model.get_weights(), loaded.get_weights(), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("name", ["w.weights.h5", "w.h5"])
def test_save_weights_round_trip(tmp_path, rng, name):
    model = _functional()
    other = _functional()
    model.save_weights(tmp_path / name)
    other.load_weights(tmp_path / name)
    for a, b in zip(model.get_weights(), other.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    import h5py

    with h5py.File(tmp_path / name) as f:  # real HDF5, in Keras' layout
        assert ("layers" in f) == name.endswith(".weights.h5")


def test_metadata_travels_and_old_rnnkit_archives_still_load(tmp_path, rng):
    model = Sequential([layers.Input(shape=(4,)), layers.Dense(2)])
    model.metadata = {"task": "demo", "vocab": ["a", "b"]}
    model.save(tmp_path / "m.keras")
    assert load_model(tmp_path / "m.keras").metadata == {"task": "demo", "vocab": ["a", "b"]}
    # The format rnnkit wrote before (rnnkit.keras/1: npz weights) still loads.
    import io

    cfg = {"format": "rnnkit.keras/1", "class_name": "Sequential", "config": model.get_config(),
           "compile_config": None}
    buf = io.BytesIO()
    np.savez(buf, **{f"w{i:04d}": w for i, w in enumerate(model.weights)})
    with zipfile.ZipFile(tmp_path / "old.keras", "w") as zf:
        zf.writestr("config.json", json.dumps(cfg))
        zf.writestr("model.weights.npz", buf.getvalue())
        zf.writestr("metadata.json", json.dumps({"format": "rnnkit.keras/1", "user": {"task": "old"}}))
    old = load_model(tmp_path / "old.keras")
    x = rng.normal(size=(3, 4)).astype("float32")
    np.testing.assert_array_equal(old.predict(x, verbose=0), model.predict(x, verbose=0))
    assert old.metadata == {"task": "old"}


@pytest.mark.parametrize("kind,option,value", [("GRU", "time_major", True),
                                               ("LSTM", "time_major", True),
                                               ("Dense", "lora_rank", 4)])
def test_keras_options_rnnkit_lacks_are_named(tmp_path, kind, option, value):
    """An option rnnkit does not have is dropped only at its do-nothing value."""
    path = HERE / "seq_simple_rnn_masking.keras"
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    cfg = json.loads(members["config.json"])
    entry = {"LSTM": {"class_name": "LSTM", "config": {"name": "x", "units": 2}},
             "GRU": {"class_name": "GRU", "config": {"name": "x", "units": 2}},
             "Dense": {"class_name": "Dense", "config": {"name": "x", "units": 2}}}[kind]
    entry["config"][option] = value
    cfg["config"]["layers"].insert(1, entry)
    bad = tmp_path / "bad.keras"
    with zipfile.ZipFile(bad, "w") as zf:
        for n, d in {**members, "config.json": json.dumps(cfg).encode()}.items():
            zf.writestr(n, d)
    with pytest.raises(ValueError, match=rf"bad.keras: layer 'x' \({kind}\) uses option {option}="):
        load_model(bad)
