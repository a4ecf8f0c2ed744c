"""imdb.load_data against the real keras.datasets.imdb.load_data.

The fixture holds the word ranks of 200 real reviews and, for several argument
combinations, what Keras returned when reading an official-format npz of them
(tests/fixtures/make_text_fixtures.py). Here the same npz is rebuilt in tmp_path
and rnnkit must return identical arrays.
"""
from __future__ import annotations

import json
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from rnnkit.datasets import _files, imdb

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "text" / "imdb_load_data.npz"

with np.load(FIXTURE, allow_pickle=False) as _f:
    FX = {k: _f[k] for k in _f.files}
CASES = json.loads(FX["cases"].tobytes().decode("utf-8"))


def unflatten(name):
    flat, off = FX[f"{name}_flat"].tolist(), FX[f"{name}_offsets"].tolist()
    return [flat[a:b] for a, b in zip(off[:-1], off[1:])]


def obj_array(seqs):
    arr = np.empty(len(seqs), dtype=object)
    for i, s in enumerate(seqs):
        arr[i] = list(s)
    return arr


@pytest.fixture
def official_npz(tmp_path):
    """The fixture reviews in the official format (pickled object arrays)."""
    path = tmp_path / "imdb_small.npz"
    np.savez(path, x_train=obj_array(unflatten("raw_x_train")), y_train=FX["raw_y_train"],
             x_test=obj_array(unflatten("raw_x_test")), y_test=FX["raw_y_test"])
    return path


@pytest.mark.parametrize("k", range(len(CASES)), ids=[json.dumps(c) for c in CASES])
def test_identical_to_keras(official_npz, k):
    (x_train, y_train), (x_test, y_test) = imdb.load_data(path=official_npz, **CASES[k])
    for name, x, y in (("train", x_train, y_train), ("test", x_test, y_test)):
        assert x.dtype == object and x.ndim == 1
        assert all(type(s) is list for s in x)
        assert all(type(v) is int for s in x[:5] for v in s)
        assert [list(s) for s in x] == unflatten(f"case{k}_x_{name}")
        np.testing.assert_array_equal(y, FX[f"case{k}_y_{name}"])
        assert y.dtype == FX[f"case{k}_y_{name}"].dtype


def test_global_numpy_random_state_is_untouched(official_npz):
    np.random.seed(0)
    before = np.random.get_state()[1].copy()
    first = imdb.load_data(path=official_npz, seed=5)
    np.testing.assert_array_equal(np.random.get_state()[1], before)
    again = imdb.load_data(path=official_npz, seed=5)
    assert [list(s) for s in first[0][0]] == [list(s) for s in again[0][0]]


def test_maxlen_that_keeps_nothing(official_npz):
    with pytest.raises(ValueError, match="maxlen=2, no sequence was kept"):
        imdb.load_data(path=official_npz, maxlen=2)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"num_words": -1}, "num_words must be an integer >= 0 or None; received -1"),
        ({"skip_top": None}, "skip_top must be an integer >= 0; received None"),
        ({"maxlen": 3.5}, "maxlen must be"),
        ({"index_from": "3"}, "index_from must be"),
        ({"oov_char": 1.0}, "oov_char must be an integer or None"),
    ],
)
def test_argument_errors(official_npz, kwargs, match):
    with pytest.raises(ValueError, match=match):
        imdb.load_data(path=official_npz, **kwargs)


def test_decode_handles_the_offset_and_markers():
    index = {"the": 1, "movie": 2, "great": 3}
    assert imdb.decode([1, 4, 5, 2, 6, 0], word_index=index) == "<start> the movie <oov> great <pad>"
    assert imdb.decode(np.array([3, 999]), word_index=index) == "? ?"
    assert imdb.decode([0, 1, 2], index_from=0, word_index=index, start_char=None, oov_char=None) == (
        "<pad> the movie"
    )


def test_decode_round_trips_loaded_data(official_npz, tmp_path):
    words = {f"w{r}": r for r in range(1, 90000)}
    (x, _), _ = imdb.load_data(path=official_npz, num_words=1000)
    raw = unflatten("raw_x_train")
    # Recover which raw review became x[0]: the decoded words must be its ranks.
    ranks = [int(w[1:]) for w in imdb.decode(x[0], word_index=words).split()[1:] if w != "<oov>"]
    assert ranks and any(ranks == [r for r in seq if r + 3 < 1000] for seq in raw)


# ------------------------------------------------------------- data sources
def test_offline_without_data_gives_clear_error(isolated_data_env):
    with pytest.raises(FileNotFoundError) as err:
        imdb.load_data()
    msg = str(err.value)
    assert "imdb.npz not found" in msg
    assert str(isolated_data_env / "imdb.npz") in msg  # the cache dir it looked in
    assert "RNNKIT_DATA" in msg and "imdb_reviews.csv.gz" in msg
    assert "download from https://storage.googleapis.com" in msg and "failed" in msg
    assert not list(isolated_data_env.glob("*.part"))


def test_download_flag_and_offline_env(isolated_data_env, monkeypatch):
    def boom(*a, **k):
        raise AssertionError("network must not be touched")

    monkeypatch.setattr(urllib.request, "urlopen", boom)
    with pytest.raises(FileNotFoundError, match="downloading is disabled"):
        imdb.load_data(download=False)
    monkeypatch.setenv("RNNKIT_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="RNNKIT_OFFLINE"):
        imdb.load_data()


def test_download_verifies_checksum_into_cache(official_npz, isolated_data_env, monkeypatch, capsys):
    monkeypatch.setattr(imdb, "NPZ_URL", official_npz.as_uri())
    monkeypatch.setattr(imdb, "NPZ_SHA256", _files.sha256_of(official_npz))
    (x, y), _ = imdb.load_data(seed=1)
    cached = isolated_data_env / "imdb.npz"
    assert cached.read_bytes() == official_npz.read_bytes()
    assert "Downloading imdb.npz" in capsys.readouterr().err
    # Second call reads the cache; the network would fail now.
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: (_ for _ in ()).throw(urllib.error.URLError("x")))
    (x2, y2), _ = imdb.load_data(seed=1)
    assert [list(s) for s in x] == [list(s) for s in x2]


def test_download_with_bad_checksum_leaves_nothing(official_npz, isolated_data_env, monkeypatch):
    monkeypatch.setattr(imdb, "NPZ_URL", official_npz.as_uri())
    monkeypatch.setattr(imdb, "NPZ_SHA256", "0" * 64)
    with pytest.raises(FileNotFoundError, match="sha256 mismatch"):
        imdb.load_data()
    assert list(isolated_data_env.iterdir()) == []


def test_finds_official_file_in_rnnkit_data(official_npz, monkeypatch):
    monkeypatch.setenv("RNNKIT_DATA", str(official_npz.parent))
    expected = imdb.load_data(path=official_npz)
    got = imdb.load_data(path=official_npz.name)  # a bare name is looked up in the data dir
    assert [list(s) for s in got[1][0]] == [list(s) for s in expected[1][0]]


def test_get_word_index_sources(tmp_path, isolated_data_env, monkeypatch):
    wi = tmp_path / "wi.json"
    wi.write_text(json.dumps({"the": 1, "and": 2}))
    assert imdb.get_word_index(wi) == {"the": 1, "and": 2}
    with pytest.raises(FileNotFoundError, match="imdb_word_index.json not found"):
        imdb.get_word_index()
    monkeypatch.setattr(imdb, "WORD_INDEX_URL", wi.as_uri())
    monkeypatch.setattr(imdb, "WORD_INDEX_SHA256", _files.sha256_of(wi))
    assert imdb.get_word_index() == {"the": 1, "and": 2}
    assert (isolated_data_env / "imdb_word_index.json").is_file()
