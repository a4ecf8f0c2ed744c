"""IMDB movie-review sentiment data, the way ``keras.datasets.imdb`` serves it.

``load_data`` returns ``(x_train, y_train), (x_test, y_test)``: ``x`` are 1-D object
arrays of Python ``list[int]`` (word ids), ``y`` int64 arrays of 0 (negative) / 1
(positive). Word id ``i`` means the word of frequency rank ``i - index_from``
(``the`` has rank 1, so id 4 with the defaults); ids 0, 1, 2 are padding, start
and out-of-vocabulary markers. Use :func:`decode` to read a review back.

Where the data comes from, first hit wins:

1. ``path`` if it exists: an official-format ``.npz`` (read with a restricted,
   pickle-safe reader), an ``aclImdb/`` folder, or ``imdb_reviews.csv(.gz)``;
2. ``imdb.npz`` in ``$RNNKIT_DATA`` or the cache (``$RNNKIT_CACHE``, default
   ``~/.rnnkit/datasets``);
3. the raw reviews there (``aclImdb/`` or ``imdb_reviews.csv.gz``, plus
   ``imdb_word_index.json``), converted as described in
   :mod:`rnnkit.datasets._imdb_raw` and cached as a pickle-free npz;
4. a download of the official file into the cache.

The raw-review rebuild matches about 99% of the official sequences exactly. Its
order inside a split is negatives then positives by id (the official order is
unknown), so ``seed`` shuffles give different samples than Keras with the official
file; everything else (``num_words``, ``skip_top``, ``maxlen``, ``start_char``,
``oov_char``, ``index_from``) behaves identically.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from . import _files, _imdb_raw
from ._imdb_raw import SPLITS, Ragged
from ._safe_npz import load_npz
from ..preprocessing.sequence import pad_sequences

__all__ = ["decode", "get_word_index", "load_data", "load_texts"]

NPZ_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb.npz"
NPZ_SHA256 = "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"
WORD_INDEX_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/imdb_word_index.json"
WORD_INDEX_SHA256 = "027313fe9a320280f3bf0fac5baf58c4a683cf39a7ed9c3d3d3912bde4284cf6"
RAW_URL = "https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz"
CSV_NAME = "imdb_reviews.csv.gz"
ACL_NAME = "aclImdb"
WORD_INDEX_NAME = "imdb_word_index.json"

_RAW_HINT = (
    f"Alternatively put {CSV_NAME} and {WORD_INDEX_NAME}, or the {ACL_NAME}/ folder "
    f"(from {RAW_URL}), into ${_files.DATA_ENV}; rnnkit builds the sequences from them."
)


def _check_int(name: str, value, allow_none: bool = False, minimum: int | None = 0) -> None:
    if value is None and allow_none:
        return
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or (
        minimum is not None and value < minimum
    ):
        expected = "an integer" + (f" >= {minimum}" if minimum is not None else "")
        expected += " or None" if allow_none else ""
        raise ValueError(f"imdb.load_data: {name} must be {expected}; received {value!r}")


# ------------------------------------------------------------------ sources
def _raw_source_in(d: Path) -> Path | None:
    if _imdb_raw.is_acl_folder(d / ACL_NAME):
        return d / ACL_NAME
    if (d / CSV_NAME).is_file():
        return d / CSV_NAME
    return None


def _locate(path: str | os.PathLike) -> tuple[str, Path] | None:
    """(kind, location) of the first available source; kind is 'npz' or 'raw'."""
    p = Path(path).expanduser()
    if p.is_dir():
        if _imdb_raw.is_acl_folder(p):
            return "raw", p
        if (p / "imdb.npz").is_file():  # a data folder passed as path
            return "npz", p / "imdb.npz"
        raw = _raw_source_in(p)
        if raw is None:
            raise FileNotFoundError(
                f"imdb.load_data: path={str(path)!r} is a folder without imdb.npz, {CSV_NAME} "
                f"or an {ACL_NAME}/ folder (train/pos, train/neg, test/pos, test/neg)"
            )
        return "raw", raw
    if p.exists():
        return ("raw", p) if p.name.endswith((".csv", ".csv.gz")) else ("npz", p)
    dirs = _files.data_dirs()
    # The official file anywhere beats a rebuild: it is Keras' exact data.
    for d in dirs:
        if (d / p.name).is_file():
            return "npz", d / p.name
    for d in dirs:
        raw = _raw_source_in(d)
        if raw is not None:
            return "raw", raw
    return None


def _word_index_path(near: Path | None = None, download: bool = True) -> Path:
    if near is not None:
        for d in (near.parent, near):
            if (d / WORD_INDEX_NAME).is_file():
                return d / WORD_INDEX_NAME
    return _files.resolve(WORD_INDEX_NAME, url=WORD_INDEX_URL, sha256=WORD_INDEX_SHA256, allow_download=download)


def get_word_index(path: str | os.PathLike = WORD_INDEX_NAME, *, download: bool = True) -> dict[str, int]:
    """The IMDB word index: ``dict`` word -> frequency rank (1-based, ``the`` = 1).

    ``path`` is used if it exists, else ``imdb_word_index.json`` is looked up in
    ``$RNNKIT_DATA`` and the cache, else downloaded (sha256-checked).
    """
    resolved = _files.resolve(
        WORD_INDEX_NAME if path is None else os.fspath(path),
        path=None if path is None else path,
        url=WORD_INDEX_URL,
        sha256=WORD_INDEX_SHA256,
        allow_download=download,
    )
    with open(resolved, encoding="utf-8") as fh:
        index = json.load(fh)
    if not isinstance(index, dict):
        raise ValueError(f"{resolved}: expected a JSON object word -> rank; received {type(index).__name__}")
    return index


def _read_npz(path: Path) -> dict[str, tuple[Ragged, np.ndarray]]:
    arrays = load_npz(path)
    if _imdb_raw.is_built_cache(list(arrays)):
        built = _imdb_raw.load_built(path)
        if built is None:
            raise ValueError(f"{path}: malformed rnnkit IMDB cache file")
        return built
    missing = [k for k in ("x_train", "y_train", "x_test", "y_test") if k not in arrays]
    if missing:
        raise ValueError(f"{path}: not an IMDB npz; missing arrays {missing}, found {sorted(arrays)}")
    out = {}
    for split in SPLITS:
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 1 or y.shape != (len(x),):
            raise ValueError(f"{path}: x_{split} has shape {x.shape} but y_{split} has shape {y.shape}")
        out[split] = (Ragged.from_lists(x), y)
    return out


def _load_raw(source: Path, download: bool) -> dict[str, tuple[Ragged, np.ndarray]]:
    wi_path = _word_index_path(near=source, download=download)
    cache_file = _imdb_raw.cache_path(_files.cache_dir(), source, wi_path)
    built = _imdb_raw.load_built(cache_file) if cache_file.is_file() else None
    if built is None:
        with open(wi_path, encoding="utf-8") as fh:
            word_index = json.load(fh)
        built = _imdb_raw.build(source, word_index)
        try:
            _imdb_raw.save_built(cache_file, built)
        except OSError:
            pass  # a read-only cache only costs a rebuild next time
    return built


def _load_ranks(path: str | os.PathLike, download: bool) -> dict[str, tuple[Ragged, np.ndarray]]:
    found = _locate(path)
    if found is None:
        npz = _files.resolve(
            Path(path).name, path=path, url=NPZ_URL, sha256=NPZ_SHA256, allow_download=download, hint=_RAW_HINT
        )
        found = ("npz", npz)
    kind, location = found
    return _read_npz(location) if kind == "npz" else _load_raw(location, download)


# ------------------------------------------------------------ Keras' rules
def _to_object_array(seqs: Ragged) -> np.ndarray:
    # Filled one by one: np.array(lists, dtype=object) would make a 2-D array if
    # all lists had the same length.
    out = np.empty(len(seqs), dtype=object)
    for i, seq in enumerate(seqs.to_lists()):
        out[i] = seq
    return out


def _keras_rules(data, num_words, skip_top, maxlen, seed, start_char, oov_char, index_from):
    """Apply ``keras.datasets.imdb.load_data``'s post-processing to word ranks."""
    rng = np.random.RandomState(seed)  # local: the global NumPy state is untouched
    parts = []
    for split in SPLITS:  # train first: the shuffles consume rng in Keras' order
        seqs, labels = data[split]
        order = np.arange(len(seqs))
        rng.shuffle(order)
        seqs, labels = seqs.take(order), np.asarray(labels)[order]
        flat, offsets = seqs.flat + index_from, seqs.offsets
        if start_char is not None:
            flat = np.insert(flat, offsets[:-1], start_char)
            offsets = offsets + np.arange(len(offsets))
        seqs = Ragged(flat, offsets)
        if maxlen:  # Keras keeps sequences strictly shorter than maxlen
            keep = np.flatnonzero(seqs.lengths < maxlen)
            seqs, labels = seqs.take(keep), labels[keep]
        parts.append((seqs, labels))
    if maxlen and (len(parts[0][0]) == 0 or len(parts[1][0]) == 0):
        raise ValueError(
            f"imdb.load_data: after filtering for sequences shorter than maxlen={maxlen}, "
            "no sequence was kept. Increase maxlen."
        )
    if not num_words:
        # Keras uses the largest id as num_words, and since the test below is
        # `w < num_words`, that one largest id becomes oov_char. Kept for parity.
        num_words = max((int(s.flat.max()) for s, _ in parts if s.flat.size), default=0)
    out = []
    for seqs, labels in parts:
        flat = seqs.flat
        inside = (flat >= skip_top) & (flat < num_words)
        if oov_char is not None:
            seqs = Ragged(np.where(inside, flat, oov_char), seqs.offsets)
        else:
            counts = np.bincount(seqs.row_ids()[inside], minlength=len(seqs))
            offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
            np.cumsum(counts, out=offsets[1:])
            seqs = Ragged(flat[inside], offsets)
        out.append((_to_object_array(seqs), labels))
    return out[0], out[1]


def load_data(
    path: str | os.PathLike = "imdb.npz",
    num_words: int | None = None,
    skip_top: int = 0,
    maxlen: int | None = None,
    seed: int | None = 113,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
    *,
    download: bool = True,
):
    """Load IMDB as ``(x_train, y_train), (x_test, y_test)`` with Keras' semantics.

    Args:
        path: an existing file/folder (official npz, ``aclImdb/``, CSV) or a file
            name looked up in ``$RNNKIT_DATA`` and the cache (see module docs).
        num_words: keep ids ``< num_words``; others become ``oov_char`` (or are
            dropped if ``oov_char`` is None). ``None``: all words (see note).
        skip_top: ids ``< skip_top`` are treated like rare words (note that this
            includes ``start_char`` when ``skip_top > start_char``, as in Keras).
        maxlen: keep only sequences with ``len < maxlen`` (start marker counted).
        seed: seed of the shuffle (train, then test, from one local RandomState).
        start_char: id prepended to every sequence; None for no marker.
        oov_char: id replacing cut-off words; None drops them.
        index_from: offset added to every word rank.
        download: allow fetching the official file when nothing is found locally.

    Returns:
        ``x_train``, ``x_test``: object arrays ``(n,)`` of ``list[int]``;
        ``y_train``, ``y_test``: int arrays ``(n,)`` (1 = positive).

    Note:
        As in Keras, ``num_words=None`` sets the limit to the largest id, so that
        single word is replaced by ``oov_char``.

    Raises:
        FileNotFoundError: no data anywhere and no download possible.
        ValueError: bad arguments, a tampered npz, or ``maxlen`` keeping nothing.
    """
    _check_int("num_words", num_words, allow_none=True)
    _check_int("skip_top", skip_top)
    _check_int("maxlen", maxlen, allow_none=True)
    _check_int("start_char", start_char, allow_none=True, minimum=None)
    _check_int("oov_char", oov_char, allow_none=True, minimum=None)
    _check_int("index_from", index_from)
    data = _load_ranks(path, download)
    return _keras_rules(data, num_words, skip_top, maxlen, seed, start_char, oov_char, index_from)


# ------------------------------------------------------------------- texts
def load_texts(
    path: str | os.PathLike | None = None,
    split: str | None = "train",
    *,
    strip_html: bool = False,
    seed: int | None = None,
) -> tuple[list[str], np.ndarray]:
    """Raw review texts and labels, for a ``Tokenizer`` pipeline.

    Args:
        path: ``imdb_reviews.csv(.gz)`` or an ``aclImdb/`` folder; default: looked
            up in ``$RNNKIT_DATA`` and the cache.
        split: ``"train"``, ``"test"`` or ``None`` (train followed by test).
        strip_html: replace the ``<br />`` tags of the original reviews by spaces.
        seed: if given, shuffle texts and labels together with a local RandomState.

    Returns:
        ``(texts, labels)``: ``list[str]`` and int64 array ``(n,)`` (1 = positive),
        negatives then positives by id unless shuffled.
    """
    if split not in ("train", "test", None):
        raise ValueError(f"imdb.load_texts: split must be 'train', 'test' or None; received {split!r}")
    source: Path | None
    if path is not None and Path(path).expanduser().exists():
        source = Path(path).expanduser()
    else:
        dirs = _files.data_dirs()
        source = next((s for s in map(_raw_source_in, dirs) if s is not None), None)
        if source is None:
            looked = "\n".join(f"  - {d / CSV_NAME} or {d / ACL_NAME}/" for d in dirs)
            given = f"path={str(path)!r} does not exist; " if path is not None else ""
            raise FileNotFoundError(
                f"imdb.load_texts: {given}no raw IMDB reviews found. Looked in:\n{looked}\n"
                f"Put {CSV_NAME} or the {ACL_NAME}/ folder (from {RAW_URL}) there, or set ${_files.DATA_ENV}."
            )
    reviews = _imdb_raw.read_reviews(source)
    wanted = SPLITS if split is None else (split,)
    texts = [t for s in wanted for t in reviews[s][0]]
    labels = np.concatenate([reviews[s][1] for s in wanted])
    if strip_html:
        texts = [t.replace("<br />", " ").replace("<br/>", " ").replace("<br>", " ") for t in texts]
    if seed is not None:
        order = np.arange(len(texts))
        np.random.RandomState(seed).shuffle(order)
        texts, labels = [texts[i] for i in order], labels[order]
    return texts, labels


def text_to_ranks(text: str, word_index: dict[str, int]) -> list[int]:
    """One raw review -> its word ranks, by the rule the IMDB data was built with
    (lower-case, punctuation except ``'`` to spaces, words not in ``word_index`` dropped).

    Add ``index_from`` (3) to turn ranks into :func:`load_data`'s ids.
    """
    return _imdb_raw.words_to_ranks(text, word_index)


def encode_reviews(texts, meta) -> np.ndarray:
    """Raw review strings -> padded ids ``(len(texts), meta["maxlen"])``, by the rule the IMDB
    data was built with (see :func:`text_to_ranks`); ``meta`` holds ``word_index``,
    ``num_words``, ``index_from``, ``start_char``, ``oov_char`` and ``maxlen`` (the CLI saves
    them with its models)."""
    word_index = meta["word_index"]
    num_words, index_from = meta["num_words"], meta["index_from"]
    seqs = []
    for text in texts:
        ids = [meta["start_char"]]
        for rank in text_to_ranks(text, word_index):
            i = rank + index_from
            ids.append(i if i < num_words else meta["oov_char"])
        seqs.append(ids)
    return pad_sequences(seqs, maxlen=meta["maxlen"])


_DEFAULT_INVERSE: dict[int, str] | None = None


def decode(
    sequence: Sequence[int] | np.ndarray,
    index_from: int = 3,
    word_index: dict[str, int] | None = None,
    start_char: int | None = 1,
    oov_char: int | None = 2,
) -> str:
    """Turn word ids back into a readable string.

    Id ``i`` is the word of rank ``i - index_from`` (the off-by-``index_from``
    step people forget). ``0`` -> ``<pad>``, ``start_char`` -> ``<start>``,
    ``oov_char`` -> ``<oov>``, unknown ids -> ``?``.

    Args:
        sequence: one review's ids (list or 1-D array).
        index_from, start_char, oov_char: as passed to :func:`load_data`.
        word_index: word -> rank dict; default :func:`get_word_index` (cached).

    Returns:
        The words joined by single spaces.
    """
    global _DEFAULT_INVERSE
    if word_index is None:
        if _DEFAULT_INVERSE is None:
            _DEFAULT_INVERSE = {rank: w for w, rank in get_word_index().items()}
        inverse = _DEFAULT_INVERSE
    else:
        inverse = {rank: w for w, rank in word_index.items()}
    special = {0: "<pad>"}
    if start_char is not None:
        special[int(start_char)] = "<start>"
    if oov_char is not None:
        special[int(oov_char)] = "<oov>"
    words = []
    for i in np.asarray(sequence).reshape(-1).tolist():
        if i in special:
            words.append(special[i])
        else:
            words.append(inverse.get(i - index_from, "?"))
    return " ".join(words)
