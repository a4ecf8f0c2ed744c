"""Character corpus, airline passengers series and window helpers."""
from __future__ import annotations

import numpy as np
import pytest

from rnnkit.datasets import CharCorpus, load_airline_passengers, load_char_corpus, make_windows


def test_char_corpus_tables_and_encoding():
    c = CharCorpus("hello world")
    assert c.vocab == [" ", "d", "e", "h", "l", "o", "r", "w"]
    assert c.vocab_size == 8 and len(c) == 11
    assert c.char_to_index["h"] == 3 and c.index_to_char[3] == "h"
    assert c.encoded.dtype == np.int32 and c.encoded.tolist() == [3, 2, 4, 4, 5, 0, 7, 5, 6, 4, 1]
    assert c.decode(c.encoded) == "hello world"
    np.testing.assert_array_equal(c.encode("low"), [4, 5, 7])
    with pytest.raises(ValueError, match="character 'z' is not in the vocabulary"):
        c.encode("zoo")
    assert CharCorpus("añ☃b☃").decode(CharCorpus("añ☃b☃").encoded) == "añ☃b☃"


def test_windows_are_shifted_by_one():
    c = CharCorpus("abcdefghij")
    x, y = c.windows(4, step=3)
    assert x.shape == y.shape == (2, 4)  # (10 - 1 - 4) // 3 + 1
    assert c.decode(x[0]) == "abcd" and c.decode(y[0]) == "bcde"
    assert c.decode(x[1]) == "defg" and c.decode(y[1]) == "efgh"
    assert not x.flags.writeable  # strided views by default
    xc, yc = c.windows(4, step=1, copy=True)
    assert xc.shape == (6, 4) and xc.flags.writeable
    np.testing.assert_array_equal(xc[:, 1:], yc[:, :-1])
    with pytest.raises(ValueError, match="seq_len must be < the text length 10; received 10"):
        c.windows(10)
    with pytest.raises(ValueError, match="step must be a positive integer; received 0"):
        c.windows(3, step=0)


def test_load_char_corpus_from_path_and_errors(tmp_path):
    p = tmp_path / "tiny.txt"
    p.write_text("to be\nor not", encoding="utf-8")
    c = load_char_corpus(p)
    assert c.text == "to be\nor not" and "\n" in c.vocab
    with pytest.raises(FileNotFoundError, match="missing.txt not found"):
        load_char_corpus(tmp_path / "missing.txt")
    with pytest.raises(FileNotFoundError, match="(?s)tinyshakespeare.txt not found.*RNNKIT_DATA"):
        load_char_corpus()  # no data dir, empty cache, network disabled by conftest


def test_tiny_shakespeare_from_data_dir(real_data, monkeypatch):
    if not (real_data / "tinyshakespeare.txt").is_file():
        pytest.skip(f"{real_data} has no tinyshakespeare.txt")
    monkeypatch.setenv("RNNKIT_DATA", str(real_data))
    c = load_char_corpus()
    assert len(c) == 1_115_394 and c.vocab_size == 65 and c.text.startswith("First Citizen:")
    x, y = c.windows(100, step=100)
    assert x.shape == (11_153, 100) and (x[:, 1:] == y[:, :-1]).all()


def test_airline_passengers_real(real_data, monkeypatch):
    if not (real_data / "airline_passengers.csv").is_file():
        pytest.skip(f"{real_data} has no airline_passengers.csv")
    monkeypatch.setenv("RNNKIT_DATA", str(real_data))
    counts, dates = load_airline_passengers()
    assert counts.shape == dates.shape == (144,) and counts.dtype == np.float64
    assert counts[:3].tolist() == [112.0, 118.0, 132.0] and counts[-1] == 432.0
    assert str(dates[0]) == "1949-01" and str(dates[-1]) == "1960-12"


def test_airline_passengers_other_header(tmp_path):
    p = tmp_path / "airline.csv"
    p.write_text('"Month","Passengers"\n"1949-01",112\n"1949-02",118\n')
    counts, dates = load_airline_passengers(p)
    assert counts.tolist() == [112.0, 118.0] and dates.dtype == np.dtype("datetime64[M]")
    p.write_text("Month,Passengers\n1949-01,lots\n")
    with pytest.raises(ValueError, match="expected rows"):
        load_airline_passengers(p)
    with pytest.raises(FileNotFoundError, match="airline_passengers.csv not found"):
        load_airline_passengers()


def test_make_windows():
    series = np.arange(10.0)
    x, y = make_windows(series, window=3, horizon=2)
    assert x.shape == (6, 3, 1) and y.shape == (6, 2) and x.dtype == np.float32
    np.testing.assert_array_equal(x[0, :, 0], [0, 1, 2])
    np.testing.assert_array_equal(y[0], [3, 4])
    np.testing.assert_array_equal(x[-1, :, 0], [5, 6, 7])
    np.testing.assert_array_equal(y[-1], [8, 9])
    x1, y1 = make_windows(series.reshape(-1, 1), window=9, dtype="float64")
    assert x1.shape == (1, 9, 1) and y1.tolist() == [[9.0]]
    with pytest.raises(ValueError, match="needs at least window \\+ horizon = 11 values; received 10"):
        make_windows(series, window=10)
    with pytest.raises(ValueError, match="window must be a positive integer; received 0"):
        make_windows(series, window=0)
    with pytest.raises(ValueError, match=r"series must be 1-D \(or \(n, 1\)\); received shape \(2, 5\)"):
        make_windows(series.reshape(2, 5), window=2)
