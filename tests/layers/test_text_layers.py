"""TextVectorization, StringLookup and IntegerLookup: parity with Keras 3 on real IMDB reviews
(fixtures from tests/fixtures/make_keras_text_layer_fixtures.py), behaviour, saving, models."""
from __future__ import annotations

import csv
import gzip
import json
import os
from pathlib import Path

import numpy as np
import pytest

from rnnkit.layers import IntegerLookup, StringLookup, TextVectorization, deserialize, serialize

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "text_layers"
META = json.loads((FIX / "text_layers.json").read_text())
ARR = np.load(FIX / "text_layers.npz")
DATA = os.environ.get("RNNKIT_DATA")
needs_data = pytest.mark.skipif(not DATA or not os.path.exists(os.path.join(DATA or "", "imdb_reviews.csv.gz")),
                                reason="set RNNKIT_DATA to the shared data folder (imdb_reviews.csv.gz)")


@pytest.fixture(scope="module")
def reviews():
    with gzip.open(os.path.join(DATA, "imdb_reviews.csv.gz"), "rt", encoding="utf-8", newline="") as fh:
        rows = [r["review"] for r in csv.DictReader(fh)]
    return (np.array([rows[i] for i in META["adapt_rows"]]), np.array([rows[i] for i in META["encode_rows"]]))


def _tv(cfg):
    cfg = dict(cfg)
    if isinstance(cfg.get("ngrams"), list):
        cfg["ngrams"] = tuple(cfg["ngrams"])
    return TextVectorization(**cfg)


@needs_data
@pytest.mark.parametrize("case", sorted(META["text_vectorization"]))
def test_text_vectorization_matches_keras_on_imdb(case, reviews):
    adapt, encode = reviews
    entry = META["text_vectorization"][case]
    layer = _tv(entry["config"])
    layer.adapt(adapt)
    assert layer.get_vocabulary() == entry["vocabulary"]
    out = layer(encode)
    ref = ARR[f"tv/{case}"]
    assert out.shape == ref.shape
    if out.dtype.kind == "i":
        np.testing.assert_array_equal(out, ref)
    else:
        np.testing.assert_allclose(out, ref, rtol=1e-5, atol=1e-6)
    if "idf_weights" in entry:
        np.testing.assert_allclose(layer.idf_weights, entry["idf_weights"], rtol=1e-6)


@needs_data
def test_adapt_from_batches_equals_adapt_from_array(reviews):
    adapt, _ = reviews
    whole = TextVectorization(max_tokens=300)
    whole.adapt(adapt)
    batched = TextVectorization(max_tokens=300)
    batched.adapt((adapt[i:i + 50], np.zeros(len(adapt[i:i + 50]))) for i in range(0, len(adapt), 50))
    assert whole.get_vocabulary() == batched.get_vocabulary()


@pytest.mark.parametrize("key", sorted(META["lookups"]))
def test_lookups_match_keras(key):
    entry = META["lookups"][key]
    cls = StringLookup if key.startswith("string/") else IntegerLookup
    layer = cls(**entry["config"])
    if "adapt" in entry:
        layer.adapt(np.array(entry["adapt"]))
    if "vocabulary" in entry:
        assert layer.get_vocabulary() == entry["vocabulary"]
    if "idf_weights" in entry:
        np.testing.assert_allclose(layer.idf_weights, entry["idf_weights"], rtol=1e-6)
    if "output" in entry:
        assert layer(np.array(entry["input"])).tolist() == entry["output"]
    elif f"lookup/{key}" in ARR:
        inp = np.array(entry["input"] if "input" in entry else entry["adapt"])
        out, ref = layer(inp), ARR[f"lookup/{key}"]
        assert out.shape == ref.shape
        np.testing.assert_allclose(out, ref, rtol=1e-6)


def test_get_config_keys_match_keras():
    for cls, layer in (("TextVectorization", TextVectorization(max_tokens=10, output_sequence_length=4, name="tv")),
                       ("StringLookup", StringLookup(vocabulary=["and", "earth"], name="sl")),
                       ("IntegerLookup", IntegerLookup(vocabulary=[12, 36], name="il"))):
        keras_keys = set(META["get_config"][cls])
        mine = set(layer.get_config())
        # Keras' base-layer bookkeeping that rnnkit does not model
        assert keras_keys - mine <= {"dtype", "trainable", "name"} | {"batch_input_shape"}, (cls, keras_keys - mine)


def test_standardize_split_ngrams_by_hand():
    tv = TextVectorization(vocabulary=["the", "cat", "sat", "the cat"], ngrams=2, output_sequence_length=8)
    out = tv(np.array(["The CAT, sat!", "cat\tthe  dog"]))
    # index 0 pads, 1 is [UNK]; "the"=2 "cat"=3 "sat"=4 "the cat"=5
    assert out.tolist() == [[2, 3, 4, 5, 1, 0, 0, 0], [3, 2, 1, 1, 1, 0, 0, 0]]
    assert tv.get_vocabulary()[:2] == ["", "[UNK]"]
    assert TextVectorization(standardize="lower", split=None, vocabulary=["a,b"])(np.array([["A,B"]])).tolist() == [[2]]
    chars = TextVectorization(split="character", standardize=None, vocabulary=list("abé"))
    assert chars(np.array(["abéz"])).tolist() == [[2, 3, 4, 1]]
    # non-ASCII capitals are left as they are, as tf.strings.lower does
    assert TextVectorization(vocabulary=["é"])(np.array(["É é"])).tolist() == [[1, 2]]


def test_callable_standardize_and_split():
    tv = TextVectorization(standardize=lambda a: np.char.replace(np.char.lower(a), "-", " "),
                           split=lambda s: s.split(" "), vocabulary=["well", "made"])
    assert tv(np.array(["Well-made"])).tolist() == [[2, 3]]
    with pytest.raises(ValueError, match="callable standardize cannot be saved"):
        tv.get_config()


def test_int_mode_pads_to_longest_without_output_sequence_length():
    tv = TextVectorization(vocabulary=["a", "b"])
    assert tv(np.array(["a b a", "b"])).tolist() == [[2, 3, 2], [3, 0, 0]]
    assert tv(np.array([["a"], ["b b"]])).tolist() == [[2, 0], [3, 3]]


def test_multi_hot_count_tf_idf_by_hand():
    docs = np.array(["a a b", "b c", "a"])
    mh = TextVectorization(output_mode="multi_hot")
    mh.adapt(docs)
    assert mh.get_vocabulary() == ["[UNK]", "a", "b", "c"]
    assert mh(np.array(["a a d"])).tolist() == [[1, 1, 0, 0]]
    ct = TextVectorization(output_mode="count", vocabulary=["a", "b", "c"])
    assert ct(np.array(["a a d"])).tolist() == [[1, 2, 0, 0]]
    ti = TextVectorization(output_mode="tf_idf")
    ti.adapt(docs)
    idf = np.log1p(3 / (1 + np.array([2, 2, 1])))
    np.testing.assert_allclose(ti.idf_weights, np.r_[idf.mean(), idf], rtol=1e-6)
    np.testing.assert_allclose(ti(np.array(["a a c"]))[0], [0, 2 * idf[0], 0, idf[2]], rtol=1e-6)


def test_max_tokens_and_ties():
    tv = TextVectorization(max_tokens=4)
    tv.adapt(np.array(["b a c a b d"]))
    # counts a=2 b=2 c=1 d=1; two learned slots; ties broken by the later-sorting token first
    assert tv.get_vocabulary() == ["", "[UNK]", "b", "a"]


def test_set_vocabulary_with_or_without_special_tokens():
    tv = TextVectorization()
    tv.set_vocabulary(["x", "y"])
    assert tv.get_vocabulary() == ["", "[UNK]", "x", "y"]
    tv.set_vocabulary(["", "[UNK]", "y", "x"])
    assert tv.get_vocabulary() == ["", "[UNK]", "y", "x"]
    with pytest.raises(ValueError, match="repeats"):
        tv.set_vocabulary(["x", "x"])
    with pytest.raises(ValueError, match="max_tokens"):
        TextVectorization(max_tokens=3, vocabulary=["a", "b"])


def test_vocabulary_file(tmp_path):
    path = tmp_path / "vocab.txt"
    path.write_text("red\ngreen\nblue\n", encoding="utf-8")
    assert StringLookup(vocabulary=str(path)).get_vocabulary() == ["[UNK]", "red", "green", "blue"]


def test_lookup_oov_and_invert_round_trip():
    sl = StringLookup(vocabulary=["a", "b", "c"], num_oov_indices=2)
    ids = sl(np.array(["a", "zz", "c", "q"]))
    assert ids[0] == 2 and ids[2] == 4 and set(ids[[1, 3]]) <= {0, 1}
    inv = StringLookup(vocabulary=["a", "b", "c"], invert=True)
    assert inv(StringLookup(vocabulary=["a", "b", "c"])(np.array(["c", "a", "x"]))).tolist() == ["c", "a", "[UNK]"]
    il = IntegerLookup(vocabulary=[10, 20], num_oov_indices=3)
    assert il(np.array([10, 20, 7, 8])).tolist() == [3, 4, 1, 2]  # 7 % 3, 8 % 3
    with pytest.raises(ValueError, match="num_oov_indices=0"):
        StringLookup(vocabulary=["a"], num_oov_indices=0)(np.array(["b"]))


def test_config_round_trip_keeps_adapted_vocabulary_and_idf():
    tv = TextVectorization(output_mode="tf_idf", max_tokens=6, pad_to_max_tokens=True, ngrams=(1, 2))
    tv.adapt(np.array(["a b c", "a b", "c d e"]))
    again = deserialize(json.loads(json.dumps(serialize(tv))))
    assert again.get_vocabulary() == tv.get_vocabulary()
    x = np.array(["a b d", "e"])
    np.testing.assert_array_equal(again(x), tv(x))
    sl = StringLookup(mask_token="[M]")
    sl.adapt(np.array([["x", "y", "y", "[M]"]]))
    again = deserialize(serialize(sl))
    assert again.get_vocabulary() == ["[M]", "[UNK]", "y", "x"]


@pytest.mark.parametrize("factory,msg", [
    (lambda: TextVectorization(standardize="upper"), "standardize"),
    (lambda: TextVectorization(split="comma"), "split"),
    (lambda: TextVectorization(ngrams=0), "ngrams"),
    (lambda: TextVectorization(output_mode="one_hot"), "output_mode"),
    (lambda: TextVectorization(output_mode="count", output_sequence_length=3), "output_sequence_length"),
    (lambda: StringLookup(max_tokens=1), "max_tokens"),
    (lambda: StringLookup(invert=True, output_mode="count"), "invert"),
    (lambda: StringLookup(output_mode="tf_idf", vocabulary=["a"]), "idf_weights"),
    (lambda: IntegerLookup(num_oov_indices=-1), "num_oov_indices")])
def test_bad_arguments(factory, msg):
    with pytest.raises(ValueError, match=msg):
        factory()


def test_bad_inputs():
    tv = TextVectorization(vocabulary=["a"])
    with pytest.raises(TypeError, match="strings"):
        tv(np.array([1.0, 2.0]))
    with pytest.raises(ValueError, match=r"\(batch,\) or \(batch, 1\)"):
        tv(np.array([["a", "b"]]))
    with pytest.raises(TypeError, match="integer"):
        IntegerLookup(vocabulary=[1])(np.array(["a"]))
    with pytest.raises(RuntimeError, match="adapt"):
        TextVectorization(output_mode="multi_hot")(np.array(["a"]))


def test_first_layer_of_models_with_save_and_load(tmp_path):
    from rnnkit import set_seed
    from rnnkit.keras import Input, Model
    from rnnkit.keras.layers import LSTM, Dense, Embedding
    from rnnkit.keras.models import Sequential, load_model

    set_seed(0)
    texts = np.array(["good fine great", "awful bad", "great good", "bad awful poor"] * 4)
    y = np.array([1, 0, 1, 0] * 4, dtype="float32")
    tv = TextVectorization(max_tokens=12, output_sequence_length=4)
    tv.adapt(texts)
    model = Sequential([tv, Embedding(12, 4), LSTM(3), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(texts, y, epochs=2, batch_size=8, verbose=0)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = load_model(path)
    assert loaded.layers[0].get_vocabulary() == tv.get_vocabulary()
    np.testing.assert_allclose(loaded.predict(texts, verbose=0), model.predict(texts, verbose=0), rtol=1e-6)
    # an object array of Python strings (as read from a CSV) works too
    assert np.isfinite(model.evaluate(np.array(list(texts), dtype=object), y, verbose=0))

    inp = Input(shape=(1,), dtype="string")
    out = Dense(1, activation="sigmoid")(TextVectorization(output_mode="multi_hot", vocabulary=["good", "bad"])(inp))
    fmodel = Model(inp, out)
    fmodel.compile(optimizer="adam", loss="binary_crossentropy")
    fmodel.fit(texts[:, None], y, epochs=1, verbose=0)
    assert fmodel.predict(texts[:3, None], verbose=0).shape == (3, 1)
    # (batch,) texts for Input(shape=(1,), dtype="string"): Keras 3 adds the axis
    fmodel.fit(texts, y, epochs=1, verbose=0)
    np.testing.assert_allclose(fmodel.predict(texts[:3], verbose=0), fmodel.predict(texts[:3, None], verbose=0))


def test_lookup_layers_as_first_layer_on_token_arrays():
    from rnnkit import set_seed
    from rnnkit.keras.layers import Dense, Embedding, GRU
    from rnnkit.keras.models import Sequential

    set_seed(0)
    rng = np.random.default_rng(0)
    words = np.array(["red", "green", "blue", "gray"])
    x = words[rng.integers(0, 4, size=(64, 5))]
    y = (x == "red").any(axis=1).astype("float32")
    model = Sequential([StringLookup(vocabulary=list(words)), Embedding(5, 4), GRU(4), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.optimizer.learning_rate = 0.05
    hist = model.fit(x, y, epochs=15, batch_size=16, verbose=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]
    ints = IntegerLookup(vocabulary=[10, 20, 30])
    model = Sequential([ints, Embedding(4, 3), GRU(2)])
    assert model.predict(np.array([[10, 99, 30]]), verbose=0).shape == (1, 2)
