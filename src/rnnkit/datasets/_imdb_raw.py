"""Build the Keras IMDB word-rank sequences from the raw reviews.

Sources: the ``aclImdb/`` folder of the Stanford release (``train|test`` /
``pos|neg`` / ``<id>_<rating>.txt``) or ``imdb_reviews.csv.gz`` (columns
``review,sentiment,split,id,rating``).

Rule (reproduces about 99% of the official sequences exactly): lower-case the
review, replace every ASCII punctuation character except ``'`` by a space, split
on whitespace, and map each word through ``imdb_word_index.json``; words missing
from the index are dropped. The result holds 1-based frequency ranks, exactly
what the official ``imdb.npz`` stores before ``load_data`` adds ``index_from``.

Order: within each split, all negative reviews then all positive ones, each by
ascending numeric id (the CSV's order). The official file's order is unknown;
``load_data`` shuffles anyway.

Built arrays are cached as a plain (pickle-free) ``.npz`` of one flat int32 array
plus int64 offsets per split, keyed by the sources' paths, sizes and mtimes.
"""
from __future__ import annotations

import csv
import gzip
import hashlib
import itertools
import os
import re
import string
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

_PUNCT_TO_SPACE = str.maketrans({c: " " for c in string.punctuation if c != "'"})
_CACHE_FORMAT = 1
_NAME_RE = re.compile(r"^(\d+)_(\d+)\.txt$")
SPLITS = ("train", "test")


@dataclass
class Ragged:
    """Integer sequences stored as one flat array plus offsets.

    ``flat``: int64 ``(total,)``; ``offsets``: int64 ``(n + 1,)``, sequence ``i`` is
    ``flat[offsets[i]:offsets[i + 1]]``.
    """

    flat: np.ndarray
    offsets: np.ndarray

    @classmethod
    def from_lists(cls, seqs) -> "Ragged":
        lengths = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
        offsets = np.zeros(len(seqs) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        flat = np.fromiter(itertools.chain.from_iterable(seqs), dtype=np.int64, count=int(offsets[-1]))
        return cls(flat, offsets)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def row_ids(self) -> np.ndarray:
        """``(total,)`` index of the sequence each flat value belongs to."""
        return np.repeat(np.arange(len(self)), self.lengths)

    def take(self, idx: np.ndarray) -> "Ragged":
        """Sequences ``idx`` (any order, repeats allowed), gathered without Python loops."""
        idx = np.asarray(idx, dtype=np.int64)
        lengths = self.lengths[idx]
        offsets = np.zeros(len(idx) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        # position of each output value in self.flat = its source start + its rank inside the row
        src = np.repeat(self.offsets[:-1][idx] - offsets[:-1], lengths) + np.arange(offsets[-1])
        return Ragged(self.flat[src], offsets)

    def to_lists(self) -> list[list[int]]:
        values = self.flat.tolist()  # Python ints, as in Keras' object arrays
        bounds = self.offsets.tolist()
        return [values[a:b] for a, b in zip(bounds[:-1], bounds[1:])]


def words_to_ranks(text: str, word_index: dict[str, int]) -> list[int]:
    """Apply the rebuild rule to one review; returns its word ranks."""
    get = word_index.get
    ranks = [get(w) for w in text.lower().translate(_PUNCT_TO_SPACE).split()]
    return [r for r in ranks if r is not None]


# --------------------------------------------------------------------- readers
def is_acl_folder(path: Path) -> bool:
    return all((path / s / lab).is_dir() for s in SPLITS for lab in ("pos", "neg"))


def read_acl_folder(root: Path) -> dict[str, tuple[list[str], np.ndarray]]:
    """Reviews of ``aclImdb/`` per split: (texts, labels int64 with 1 = positive)."""
    out = {}
    for split in SPLITS:
        texts: list[str] = []
        labels: list[int] = []
        for label_name, label in (("neg", 0), ("pos", 1)):
            entries = []
            for f in (root / split / label_name).iterdir():
                m = _NAME_RE.match(f.name)
                if m:
                    entries.append((int(m.group(1)), f))
            for _, f in sorted(entries):
                texts.append(f.read_text(encoding="utf-8"))
                labels.append(label)
        out[split] = (texts, np.asarray(labels, dtype=np.int64))
    return out


def read_csv_reviews(path: Path) -> dict[str, tuple[list[str], np.ndarray]]:
    """Reviews of ``imdb_reviews.csv(.gz)`` per split, in file order."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        needed = ("review", "sentiment", "split")
        if header is None or any(col not in header for col in needed):
            raise ValueError(f"{path}: expected CSV columns {needed}; received header {header}")
        col = {name: header.index(name) for name in needed}
        texts: dict[str, list[str]] = {s: [] for s in SPLITS}
        labels: dict[str, list[int]] = {s: [] for s in SPLITS}
        for lineno, row in enumerate(reader, start=2):
            split, sentiment = row[col["split"]], row[col["sentiment"]]
            if split not in texts or sentiment not in ("positive", "negative"):
                raise ValueError(
                    f"{path}:{lineno}: expected split train/test and sentiment positive/negative; "
                    f"received {split!r}, {sentiment!r}"
                )
            texts[split].append(row[col["review"]])
            labels[split].append(1 if sentiment == "positive" else 0)
    return {s: (texts[s], np.asarray(labels[s], dtype=np.int64)) for s in SPLITS}


def read_reviews(source: Path) -> dict[str, tuple[list[str], np.ndarray]]:
    """Dispatch on the source kind: an ``aclImdb`` folder (or its parent) or a CSV."""
    if source.is_dir():
        root = source if is_acl_folder(source) else source / "aclImdb"
        if not is_acl_folder(root):
            raise FileNotFoundError(
                f"{source} is not an aclImdb folder: expected train/pos, train/neg, test/pos, test/neg"
            )
        return read_acl_folder(root)
    return read_csv_reviews(source)


# ----------------------------------------------------------------- build+cache
def _fingerprint(*paths: Path) -> str:
    h = hashlib.sha256(f"format={_CACHE_FORMAT}".encode())
    for p in paths:
        st = p.stat()
        h.update(f"|{p.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode())
    return h.hexdigest()[:16]


def cache_path(cache_dir: Path, source: Path, word_index_path: Path) -> Path:
    return cache_dir / f"imdb_built_{_fingerprint(source, word_index_path)}.npz"


def save_built(path: Path, data: dict[str, tuple[Ragged, np.ndarray]]) -> None:
    """Write the built arrays atomically (temp file + rename) as a pickle-free npz."""
    arrays = {}
    for split, (seqs, labels) in data.items():
        arrays[f"{split}_flat"] = seqs.flat.astype(np.int32)
        arrays[f"{split}_offsets"] = seqs.offsets
        arrays[f"{split}_labels"] = labels
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=path.name + ".", suffix=".part", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, **arrays)  # type: ignore[arg-type]  # numpy's stub types **kwds as allow_pickle
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def load_built(path: Path) -> dict[str, tuple[Ragged, np.ndarray]] | None:
    """Read a cache file; ``None`` if it is missing or does not validate."""
    try:
        with np.load(path, allow_pickle=False) as f:
            out = {}
            for split in SPLITS:
                flat = f[f"{split}_flat"].astype(np.int64)
                offsets = f[f"{split}_offsets"].astype(np.int64)
                labels = f[f"{split}_labels"]
                ok = (
                    offsets.ndim == 1 and len(offsets) == len(labels) + 1 and offsets[0] == 0
                    and offsets[-1] == len(flat) and np.all(np.diff(offsets) >= 0)
                )
                if not ok:
                    return None
                out[split] = (Ragged(flat, offsets), labels)
            return out
    except (OSError, KeyError, ValueError):
        return None


def build(source: Path, word_index: dict[str, int]) -> dict[str, tuple[Ragged, np.ndarray]]:
    """Read and encode all reviews: ``{split: (Ragged ranks, labels)}``."""
    reviews = read_reviews(source)
    return {
        split: (Ragged.from_lists([words_to_ranks(t, word_index) for t in texts]), labels)
        for split, (texts, labels) in reviews.items()
    }


def is_built_cache(npz_members: list[str]) -> bool:
    return {f"{s}_{k}" for s in SPLITS for k in ("flat", "offsets", "labels")} <= set(npz_members)


__all__ = [
    "Ragged", "SPLITS", "build", "cache_path", "is_acl_folder", "is_built_cache",
    "load_built", "read_reviews", "save_built", "words_to_ranks",
]
