"""Building IMDB from the raw reviews (CSV or aclImdb folder), caching, load_texts.

Small synthetic corpora check the rule and the order exactly; the real
imdb_reviews.csv.gz (RNNKIT_DATA, or ../shared/data) checks the full build.
"""
from __future__ import annotations

import csv
import gzip
import json
import string
from pathlib import Path

import numpy as np
import pytest

from rnnkit.datasets import _imdb_raw, imdb

WORD_INDEX = {"the": 1, "movie": 2, "was": 3, "great": 4, "bad": 5, "it's": 6, "br": 7, "a": 8, "film": 9}
# (split, sentiment, id, rating, review); ids deliberately out of order
REVIEWS = [
    ("test", "positive", 3, 9, "A great film!"),
    ("train", "positive", 10, 8, "Great, GREAT movie.<br />It's great."),
    ("train", "negative", 2, 1, "The movie was bad...really bad"),
    ("train", "negative", 11, 3, "bad-film; the (worst) unknownword"),
    ("train", "positive", 4, 10, "the film"),
    ("test", "negative", 7, 2, "Bad. BAD! it's bad"),
]


def rule(text):
    """Independent statement of the rebuild rule, for the expectations below."""
    cleaned = "".join(" " if (c in string.punctuation and c != "'") else c for c in text.lower())
    return [WORD_INDEX[w] for w in cleaned.split() if w in WORD_INDEX]


def ordered(split):
    rows = [r for r in REVIEWS if r[0] == split]
    return sorted(rows, key=lambda r: (r[1] == "positive", r[2]))


def write_csv(path: Path, rows=REVIEWS):
    with gzip.open(path, "wt", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["review", "sentiment", "split", "id", "rating"])
        for split, sentiment, rid, rating, text in sorted(rows, key=lambda r: (r[0] != "train", r[1], r[2])):
            w.writerow([text, sentiment, split, rid, rating])
    return path


def write_acl(root: Path):
    for split, sentiment, rid, rating, text in REVIEWS:
        d = root / "aclImdb" / split / ("pos" if sentiment == "positive" else "neg")
        d.mkdir(parents=True, exist_ok=True)
        (d / f"{rid}_{rating}.txt").write_text(text, encoding="utf-8")
    (root / "aclImdb" / "train" / "pos" / "notes.txt").write_text("ignored")  # not <id>_<rating>.txt
    return root / "aclImdb"


@pytest.fixture
def corpus(tmp_path):
    d = tmp_path / "data"
    d.mkdir()
    write_csv(d / "imdb_reviews.csv.gz")
    (d / "imdb_word_index.json").write_text(json.dumps(WORD_INDEX))
    return d


def unshuffled(**kwargs):
    """load_data with the shuffle undone: x in the built (file) order."""
    (xtr, ytr), (xte, yte) = imdb.load_data(**kwargs)
    seed = kwargs.get("seed", 113)
    rng = np.random.RandomState(seed)
    out = []
    for x, y in ((xtr, ytr), (xte, yte)):
        order = np.arange(len(x))
        rng.shuffle(order)
        inv = np.argsort(order)
        out.append(([x[i] for i in inv], y[inv]))
    return out


def test_csv_build_follows_the_rule_and_order(corpus, monkeypatch):
    monkeypatch.setenv("RNNKIT_DATA", str(corpus))
    (xtr, ytr), (xte, yte) = unshuffled(num_words=100)
    for split, x, y in (("train", xtr, ytr), ("test", xte, yte)):
        rows = ordered(split)
        assert x == [[1] + [r + 3 for r in rule(row[4])] for row in rows]
        assert y.tolist() == [int(row[1] == "positive") for row in rows]
    assert xtr[3] == [1, 4 + 3, 4 + 3, 2 + 3, 7 + 3, 6 + 3, 4 + 3]  # "Great, GREAT movie.<br />It's great."


def test_acl_folder_gives_the_same_as_csv(corpus, tmp_path, monkeypatch):
    acl = write_acl(tmp_path / "raw")
    (tmp_path / "raw" / "imdb_word_index.json").write_text(json.dumps(WORD_INDEX))
    from_acl = imdb.load_data(path=acl, num_words=100)
    from_parent = imdb.load_data(path=acl.parent, num_words=100)
    from_csv = imdb.load_data(path=corpus / "imdb_reviews.csv.gz", num_words=100)
    from_dir = imdb.load_data(path=corpus, num_words=100)  # a data folder holding the CSV
    for a, b, c, d in zip(from_acl, from_parent, from_csv, from_dir):
        assert [list(s) for s in a[0]] == [list(s) for s in b[0]] == [list(s) for s in c[0]]
        assert [list(s) for s in d[0]] == [list(s) for s in c[0]]
        np.testing.assert_array_equal(a[1], c[1])
    with pytest.raises(FileNotFoundError, match="is a folder without imdb.npz"):
        imdb.load_data(path=tmp_path)


def test_build_is_cached_without_pickles(corpus, isolated_data_env, monkeypatch):
    monkeypatch.setenv("RNNKIT_DATA", str(corpus))
    first = imdb.load_data()
    files = list(isolated_data_env.glob("imdb_built_*.npz"))
    assert len(files) == 1
    with np.load(files[0], allow_pickle=False) as f:  # plain arrays only
        assert f["train_flat"].dtype == np.int32 and len(f["train_labels"]) == 4

    def no_rebuild(*a, **k):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(_imdb_raw, "build", no_rebuild)
    second = imdb.load_data()
    assert [list(s) for s in first[0][0]] == [list(s) for s in second[0][0]]
    # a cached file can also be passed explicitly
    third = imdb.load_data(path=files[0])
    assert [list(s) for s in third[1][0]] == [list(s) for s in first[1][0]]


def test_corrupt_cache_is_rebuilt(corpus, isolated_data_env, monkeypatch):
    monkeypatch.setenv("RNNKIT_DATA", str(corpus))
    expected = imdb.load_data()
    (cache_file,) = isolated_data_env.glob("imdb_built_*.npz")
    cache_file.write_bytes(b"garbage")
    again = imdb.load_data()
    assert [list(s) for s in again[0][0]] == [list(s) for s in expected[0][0]]


def test_load_texts(corpus, monkeypatch):
    monkeypatch.setenv("RNNKIT_DATA", str(corpus))
    texts, labels = imdb.load_texts()
    assert texts == [r[4] for r in ordered("train")]
    assert labels.tolist() == [0, 0, 1, 1] and labels.dtype == np.int64
    texts, labels = imdb.load_texts(split=None, strip_html=True)
    assert len(texts) == 6 and "<br />" not in texts[2] and labels.tolist() == [0, 0, 1, 1, 0, 1]
    shuffled, lab = imdb.load_texts(split="test", seed=0)
    assert sorted(shuffled) == sorted(r[4] for r in ordered("test"))
    assert dict(zip(shuffled, lab.tolist()))["A great film!"] == 1
    with pytest.raises(ValueError, match="split must be 'train', 'test' or None; received 'valid'"):
        imdb.load_texts(split="valid")


def test_load_texts_without_data(isolated_data_env):
    with pytest.raises(FileNotFoundError, match="no raw IMDB reviews found"):
        imdb.load_texts()


def test_bad_csv_header(tmp_path):
    bad = tmp_path / "imdb_reviews.csv"
    bad.write_text("text,label\nhello,1\n")
    (tmp_path / "imdb_word_index.json").write_text("{}")
    with pytest.raises(ValueError, match="expected CSV columns"):
        imdb.load_data(path=bad)


# ------------------------------------------------------------- real data
def test_real_csv_build(real_data, tmp_path_factory, monkeypatch):
    if not (real_data / "imdb_reviews.csv.gz").is_file() or not (real_data / "imdb_word_index.json").is_file():
        pytest.skip(f"{real_data} lacks imdb_reviews.csv.gz or imdb_word_index.json")
    monkeypatch.setenv("RNNKIT_DATA", str(real_data))
    (xtr, ytr), (xte, yte) = imdb.load_data(num_words=100_000)
    assert len(xtr) == len(ytr) == 25_000 and len(xte) == len(yte) == 25_000
    assert int(ytr.sum()) == int(yte.sum()) == 12_500

    # The first CSV row (train, negative, id 0) mapped by the rule, found through the shuffle.
    with gzip.open(real_data / "imdb_reviews.csv.gz", "rt", encoding="utf-8", newline="") as fh:
        first = next(csv.DictReader(fh))
    index = json.loads((real_data / "imdb_word_index.json").read_text(encoding="utf-8"))
    cleaned = "".join(" " if (c in string.punctuation and c != "'") else c for c in first["review"].lower())
    expected = [1] + [index[w] + 3 for w in cleaned.split() if w in index]
    order = np.arange(25_000)
    np.random.RandomState(113).shuffle(order)
    pos = int(np.flatnonzero(order == 0)[0])
    assert xtr[pos] == expected and ytr[pos] == 0
    assert imdb.decode(xtr[pos], word_index=index).startswith("<start> story of a man who has unnatural feelings")

    # num_words=10000 (the seeds' setting) caps ids and keeps the start marker.
    (x10, _), _ = imdb.load_data(num_words=10_000)
    assert max(max(s) for s in x10) == 9_999 and all(s[0] == 1 for s in x10[:100])

    texts, labels = imdb.load_texts(split="train")
    assert len(texts) == 25_000 and texts[0] == first["review"] and labels[:12_500].sum() == 0
