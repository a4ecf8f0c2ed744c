"""Small corpora for sequence models: character-level text and a univariate series.

* :func:`load_char_corpus` / :class:`CharCorpus`: any text file (default Tiny
  Shakespeare) as integer ids over its sorted character set, with windows for
  many-to-many next-character training.
* :func:`load_airline_passengers` and :func:`make_windows`: the Box & Jenkins
  monthly airline passengers series and sliding windows over any 1-D series.

Files are resolved like every rnnkit data set: explicit ``path``, ``$RNNKIT_DATA``,
the cache (``$RNNKIT_CACHE`` or ``~/.rnnkit/datasets``), then a download.
"""
from __future__ import annotations

import csv
import io
import os
from typing import Any, Sequence

import numpy as np

from . import _files

__all__ = ["CharCorpus", "load_airline_passengers", "load_char_corpus", "make_windows"]

SHAKESPEARE_NAME = "tinyshakespeare.txt"
SHAKESPEARE_URL = "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt"
SHAKESPEARE_SHA256 = "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed"
AIRLINE_NAME = "airline_passengers.csv"
AIRLINE_URL = "https://raw.githubusercontent.com/jbrownlee/Datasets/master/airline-passengers.csv"


def _positive_int(owner: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer; received {value!r}")
    return int(value)


class CharCorpus:
    """A text encoded character by character.

    Attributes:
        text: the raw text (``str``).
        vocab: sorted list of the distinct characters; ``vocab[i]`` has id ``i``.
        char_to_index: ``dict[str, int]``.
        index_to_char: ``dict[int, str]``.
        encoded: int32 array ``(len(text),)`` of character ids.
    """

    def __init__(self, text: str) -> None:
        if not isinstance(text, str) or not text:
            raise ValueError(f"CharCorpus: text must be a non-empty str; received {type(text).__name__}")
        self.text = text
        self.vocab: list[str] = sorted(set(text))
        self.char_to_index: dict[str, int] = {c: i for i, c in enumerate(self.vocab)}
        self.index_to_char: dict[int, str] = dict(enumerate(self.vocab))
        self.encoded: np.ndarray = self.encode(text)

    @property
    def vocab_size(self) -> int:
        """Number of distinct characters."""
        return len(self.vocab)

    def __len__(self) -> int:
        return len(self.text)

    def encode(self, text: str) -> np.ndarray:
        """Ids of ``text`` as int32 ``(len(text),)``; unknown characters raise ``ValueError``."""
        # Going through a code-point lookup table is ~50x faster than a Python loop.
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        table = np.full(max(ord(c) for c in self.vocab) + 1, -1, dtype=np.int64)
        table[[ord(c) for c in self.vocab]] = np.arange(len(self.vocab))
        ids = np.where(codes < len(table), table[np.minimum(codes, len(table) - 1)], -1)
        if ids.size and ids.min() < 0:
            bad = text[int(np.flatnonzero(ids < 0)[0])]
            raise ValueError(f"CharCorpus.encode: character {bad!r} is not in the vocabulary")
        return ids.astype(np.int32)

    def decode(self, ids: Sequence[int] | np.ndarray) -> str:
        """Characters of the ids (any iterable of ints) joined into a string."""
        return "".join(self.vocab[int(i)] for i in np.asarray(ids).reshape(-1))

    def windows(self, seq_len: int, step: int = 1, copy: bool = False) -> tuple[np.ndarray, np.ndarray]:
        """Input/target windows for many-to-many next-character training.

        Window ``k`` starts at ``k * step``: ``x[k] = encoded[s : s + seq_len]`` and
        ``y[k] = encoded[s + 1 : s + seq_len + 1]`` (the same characters shifted by one).

        Args:
            seq_len: window length.
            step: distance between window starts.
            copy: return independent arrays; by default they are read-only strided
                views of ``encoded`` (no memory cost even with ``step=1``).

        Returns:
            ``(x, y)``, int32 arrays of shape ``(n, seq_len)`` with
            ``n = (len(text) - 1 - seq_len) // step + 1``.
        """
        seq_len = _positive_int("CharCorpus.windows", "seq_len", seq_len)
        step = _positive_int("CharCorpus.windows", "step", step)
        if seq_len + 1 > len(self.encoded):
            raise ValueError(
                f"CharCorpus.windows: seq_len must be < the text length {len(self.encoded)}; received {seq_len}"
            )
        view = np.lib.stride_tricks.sliding_window_view(self.encoded, seq_len + 1)[::step]
        x, y = view[:, :-1], view[:, 1:]
        return (x.copy(), y.copy()) if copy else (x, y)


def load_char_corpus(
    path: str | os.PathLike | None = None, *, encoding: str = "utf-8", download: bool = True
) -> CharCorpus:
    """Load a text file as a :class:`CharCorpus`.

    Args:
        path: any text file; default ``tinyshakespeare.txt`` from ``$RNNKIT_DATA``
            or the cache, downloaded (sha256-checked) if missing.
        encoding: text encoding of the file.
        download: allow the Tiny Shakespeare download.
    """
    if path is None:
        resolved = _files.resolve(
            SHAKESPEARE_NAME, url=SHAKESPEARE_URL, sha256=SHAKESPEARE_SHA256, allow_download=download
        )
    else:
        resolved = _files.resolve(
            os.path.basename(os.fspath(path)), path=path, url=None, allow_download=False
        )
    with open(resolved, encoding=encoding, newline="") as fh:
        return CharCorpus(fh.read())


def _parse_series_csv(text: str, source: str) -> tuple[np.ndarray, np.ndarray]:
    rows = [r for r in csv.reader(io.StringIO(text)) if r]
    if rows and not _is_number(rows[0][-1]):
        rows = rows[1:]  # header such as Date,Count or "Month","Passengers"
    if not rows or any(len(r) < 2 or not _is_number(r[1]) for r in rows):
        raise ValueError(f"{source}: expected rows 'YYYY-MM,<count>' after an optional header")
    dates = np.array([r[0].strip() for r in rows], dtype="datetime64[M]")
    counts = np.array([float(r[1]) for r in rows], dtype=np.float64)
    return counts, dates


def _is_number(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


def load_airline_passengers(
    path: str | os.PathLike | None = None, *, download: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Monthly international airline passengers (thousands), 1949-01 .. 1960-12.

    Args:
        path: a two-column CSV (month, count); default ``airline_passengers.csv`` in
            ``$RNNKIT_DATA`` or the cache, else downloaded (no published checksum:
            the download is validated by parsing it).
        download: allow the download.

    Returns:
        ``(counts, dates)``: float64 ``(144,)`` and ``datetime64[M]`` ``(144,)``.
    """
    resolved = _files.resolve(
        AIRLINE_NAME if path is None else os.path.basename(os.fspath(path)),
        path=path,
        url=AIRLINE_URL if path is None else None,
        allow_download=download,
    )
    with open(resolved, encoding="utf-8") as fh:
        return _parse_series_csv(fh.read(), str(resolved))


def make_windows(
    series: Sequence[float] | np.ndarray, window: int, horizon: int = 1, dtype: Any = "float32"
) -> tuple[np.ndarray, np.ndarray]:
    """Sliding windows over a univariate series for one- or multi-step forecasting.

    ``x[k] = series[k : k + window]`` and ``y[k] = series[k + window : k + window + horizon]``.

    Args:
        series: 1-D array-like (a trailing axis of size 1 is accepted).
        window: input length (time steps per sample).
        horizon: number of future values to predict.
        dtype: output dtype.

    Returns:
        ``x`` of shape ``(n, window, 1)`` and ``y`` of shape ``(n, horizon)``, with
        ``n = len(series) - window - horizon + 1``.
    """
    window = _positive_int("make_windows", "window", window)
    horizon = _positive_int("make_windows", "horizon", horizon)
    values = np.asarray(series, dtype=dtype)
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1:
        raise ValueError(f"make_windows: series must be 1-D (or (n, 1)); received shape {values.shape}")
    n = len(values) - window - horizon + 1
    if n < 1:
        raise ValueError(
            f"make_windows: series needs at least window + horizon = {window + horizon} values; "
            f"received {len(values)}"
        )
    view = np.lib.stride_tricks.sliding_window_view(values, window + horizon)[:n]
    return view[:, :window, None].copy(), view[:, window:].copy()
