"""Tokenizer and text helpers against fixtures recorded from Keras 2's legacy Tokenizer.

The fixtures (tests/fixtures/text/tokenizer.npz) come from
tests/fixtures/make_text_fixtures.py run with ``keras_preprocessing`` on 300 real
IMDB reviews.
"""
from __future__ import annotations

import json
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

from rnnkit.preprocessing.text import (
    Tokenizer,
    hashing_trick,
    one_hot,
    text_to_word_sequence,
    tokenizer_from_json,
)

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "text" / "tokenizer.npz"


@pytest.fixture(scope="module")
def fx():
    with np.load(FIXTURE, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    payload = json.loads(arrays.pop("payload").tobytes().decode("utf-8"))
    return payload, arrays


def unflatten(arrays, name):
    flat, off = arrays[f"{name}_flat"].tolist(), arrays[f"{name}_offsets"].tolist()
    return [flat[a:b] for a, b in zip(off[:-1], off[1:])]


def index_list(tok):
    return sorted(tok.word_index, key=tok.word_index.get)


SAMPLES = ["The cat sat on the mat.", "The dog ate my homework."]


def test_seed_example_char_level():
    tok = Tokenizer(num_words=100, char_level=True)
    tok.fit_on_texts(SAMPLES)
    assert tok.word_index == {
        " ": 1, "t": 2, "e": 3, "h": 4, "a": 5, "o": 6, "m": 7, ".": 8, "c": 9, "s": 10,
        "n": 11, "d": 12, "g": 13, "y": 14, "w": 15, "r": 16, "k": 17,
    }
    assert tok.texts_to_sequences(SAMPLES) == [
        [2, 4, 3, 1, 9, 5, 2, 1, 10, 5, 2, 1, 6, 11, 1, 2, 4, 3, 1, 7, 5, 2, 8],
        [2, 4, 3, 1, 12, 6, 13, 1, 5, 2, 3, 1, 7, 14, 1, 4, 6, 7, 3, 15, 6, 16, 17, 8],
    ]
    row = tok.texts_to_matrix(SAMPLES, mode="binary")[0]
    expected = np.zeros(100)
    expected[1:12] = 1
    np.testing.assert_array_equal(row, expected)


def test_ties_keep_first_seen_order_and_oov_is_index_1():
    tok = Tokenizer(oov_token="<unk>")
    tok.fit_on_texts(["b a", "a b c"])
    assert tok.word_index == {"<unk>": 1, "b": 2, "a": 3, "c": 4}
    assert tok.texts_to_sequences(["c zzz a"]) == [[4, 1, 3]]
    assert isinstance(tok.word_counts, OrderedDict)


def test_vocabulary_tables_match_keras(fx):
    payload, arrays = fx
    tok = Tokenizer()
    tok.fit_on_texts(payload["texts"])
    words = payload["default"]["word_index"]
    assert index_list(tok) == words
    assert tok.document_count == payload["default"]["document_count"] == 300
    np.testing.assert_array_equal([tok.word_counts[w] for w in words], arrays["default_word_counts"])
    np.testing.assert_array_equal([tok.word_docs[w] for w in words], arrays["default_word_docs"])
    np.testing.assert_array_equal(
        [tok.index_docs[i] for i in range(1, len(words) + 1)], arrays["default_index_docs"]
    )
    np.testing.assert_array_equal([tok.word_index[w] for w in tok.word_counts], arrays["default_word_counts_order"])
    assert tok.texts_to_sequences(payload["texts"]) == unflatten(arrays, "default_seq")
    assert tok.index_word == {i: w for w, i in tok.word_index.items()}


def test_num_words_and_oov_on_unseen_texts(fx):
    payload, arrays = fx
    texts = payload["texts"]
    tok = Tokenizer(num_words=1000, oov_token="<OOV>")
    tok.fit_on_texts(texts[:250])
    # num_words limits conversions only, never the index itself.
    assert len(tok.word_index) == payload["oov"]["word_index_len"] > 1000
    assert index_list(tok)[:1200] == payload["oov"]["word_index_head"]
    seqs = tok.texts_to_sequences(texts[250:])
    assert seqs == unflatten(arrays, "oov_seq")
    assert max(max(s) for s in seqs if s) < 1000
    assert tok.sequences_to_texts(seqs[:10]) == payload["oov"]["sequences_to_texts"]
    assert list(tok.texts_to_sequences_generator(texts[250:253])) == seqs[:3]
    assert list(tok.sequences_to_texts_generator(seqs[:2])) == payload["oov"]["sequences_to_texts"][:2]


@pytest.mark.parametrize("mode", ["binary", "count", "tfidf", "freq"])
def test_matrix_modes_match_keras(fx, mode):
    payload, arrays = fx
    tok = Tokenizer(num_words=300)
    tok.fit_on_texts(payload["texts"])
    got = tok.texts_to_matrix(payload["texts"][:40], mode=mode)
    assert got.shape == (40, 300) and got.dtype == np.float64
    np.testing.assert_allclose(got, arrays[f"matrix_{mode}"], rtol=1e-13, atol=0)


def test_num_words_drops_rare_words_without_oov(fx):
    payload, arrays = fx
    tok = Tokenizer(num_words=300)
    tok.fit_on_texts(payload["texts"])
    assert tok.texts_to_sequences(payload["texts"][:40]) == unflatten(arrays, "nw300_seq")
    assert tok.sequences_to_texts(tok.texts_to_sequences(payload["texts"][:5])) == payload["nw300_texts"]


def test_custom_filters_case_and_fit_on_sequences(fx):
    payload, arrays = fx
    texts = payload["texts"][:30]
    tok = Tokenizer(lower=False, filters='"#$%&()*+-/<=>@[\\]^_`{|}~\t\n')
    tok.fit_on_texts(texts)
    assert index_list(tok) == payload["cased"]["word_index"]
    seqs = tok.texts_to_sequences(texts)
    # width = len(word_index) + 1 when num_words is not set
    np.testing.assert_array_equal(tok.sequences_to_matrix(seqs[:10], mode="count"), arrays["cased_matrix_count"])
    tok2 = Tokenizer(num_words=200)
    tok2.fit_on_sequences(seqs)
    np.testing.assert_allclose(
        tok2.sequences_to_matrix(seqs[:10], mode="tfidf"), arrays["fit_on_sequences_tfidf"], rtol=1e-13
    )


def test_char_level_on_reviews(fx):
    payload, arrays = fx
    tok = Tokenizer(num_words=40, char_level=True)
    tok.fit_on_texts(payload["texts"][:100])
    assert index_list(tok) == payload["char"]["word_index"]
    assert tok.texts_to_sequences(payload["texts"][:3]) == payload["char"]["sequences"]
    np.testing.assert_array_equal(tok.texts_to_matrix(payload["texts"][:5], mode="count"), arrays["char_matrix_count"])


def test_text_to_word_sequence_and_md5_hashing(fx):
    payload, _ = fx
    for case in payload["text_to_word_sequence"]:
        assert text_to_word_sequence(case["text"], **case["kwargs"]) == case["out"]
    for case in payload["hashing_trick_md5"]:
        assert hashing_trick(case["text"], case["n"], hash_function="md5") == case["out"]


def test_one_hot_uses_python_hash():
    text = "The quick brown fox jumps over the lazy dog"
    got = one_hot(text, 50)
    assert got == hashing_trick(text, 50, hash_function=hash)
    assert len(got) == 9 and all(1 <= i <= 49 for i in got)
    assert got[0] == got[6]  # "the" twice, after lower-casing
    assert hashing_trick(text, 50, hash_function=len) == [len(w) % 49 + 1 for w in text.lower().split()]


def test_keras_json_loads_into_rnnkit(fx):
    payload, _ = fx
    tok = tokenizer_from_json(payload["json"]["json"])
    assert tok.num_words == 50 and tok.oov_token == "<OOV>" and tok.word_index["<OOV>"] == 1
    assert tok.texts_to_sequences(payload["texts"][15:18]) == payload["json"]["probe"]


def test_to_json_round_trip_matches_keras_config(fx):
    payload, _ = fx
    tok = Tokenizer(num_words=50, oov_token="<OOV>")
    tok.fit_on_texts(payload["texts"][:15])
    ours = json.loads(tok.to_json())
    keras = json.loads(payload["json"]["json"])
    assert ours["class_name"] == keras["class_name"] == "Tokenizer"
    for key, value in keras["config"].items():
        mine = ours["config"][key]
        if isinstance(value, str) and value.startswith("{"):
            assert json.loads(mine) == json.loads(value), key
        else:
            assert mine == value, key
    back = tokenizer_from_json(tok.to_json())
    assert back.word_index == tok.word_index and back.index_word == tok.index_word
    assert back.word_counts == tok.word_counts and dict(back.index_docs) == dict(tok.index_docs)
    probe = payload["texts"][15:18]
    assert back.texts_to_sequences(probe) == tok.texts_to_sequences(probe)
    np.testing.assert_array_equal(back.texts_to_matrix(probe, "tfidf"), tok.texts_to_matrix(probe, "tfidf"))
    back.fit_on_texts(["brand new words"])  # a restored tokenizer can keep fitting
    assert "brand" in back.word_index


def test_token_lists_and_analyzer():
    tok = Tokenizer()
    tok.fit_on_texts([["Hello", "World"], ["hello"]])
    assert tok.word_index == {"hello": 1, "world": 2}
    tok = Tokenizer(analyzer=lambda t: t.split("|"))
    tok.fit_on_texts(["a|b|a", "c"])
    assert tok.word_index == {"a": 1, "b": 2, "c": 3}
    assert tok.texts_to_sequences(["c|a|x"]) == [[3, 1]]


def test_errors_name_the_problem():
    tok = Tokenizer()
    with pytest.raises(ValueError, match="num_words"):
        tok.sequences_to_matrix([[1, 2]])
    tok.fit_on_texts(["a b"])
    with pytest.raises(ValueError, match="mode must be one of .*received 'tf-idf'"):
        tok.texts_to_matrix(["a"], mode="tf-idf")
    with pytest.raises(ValueError, match="tfidf"):
        Tokenizer(num_words=5).sequences_to_matrix([[1]], mode="tfidf")
    with pytest.raises(ValueError, match="num_words.*received -3"):
        Tokenizer(num_words=-3)
    with pytest.raises(TypeError, match="unrecognized"):
        Tokenizer(bogus=1)
    with pytest.raises(TypeError, match="single str"):
        tok.fit_on_texts("a b c")
    with pytest.raises(ValueError, match="n must be an integer >= 2"):
        hashing_trick("a", 1)
