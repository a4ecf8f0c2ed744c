"""Legacy Keras text preprocessing: ``Tokenizer``, ``text_to_word_sequence``, hashing.

Keras 3 dropped these utilities, but a great deal of tutorial code still calls them.
This module reimplements them so that results are identical to the Keras 2 /
``keras-preprocessing`` versions, including the quirks people's saved results
depend on:

* words are ranked by count, ties keep first-seen order (a stable sort);
* ``num_words`` never shrinks ``word_index``; it only applies when converting, and
  keeps the indices ``1 .. num_words - 1``;
* an ``oov_token`` always receives index 1;
* tf-idf uses ``(1 + log(count)) * log(1 + document_count / (1 + docs_with_word))``.
"""
from __future__ import annotations

import hashlib
import json
from collections import OrderedDict, defaultdict
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

__all__ = [
    "DEFAULT_FILTERS",
    "Tokenizer",
    "hashing_trick",
    "one_hot",
    "text_to_word_sequence",
    "tokenizer_from_json",
]

#: Keras' default filter set: ASCII punctuation except ``'``, plus tab and newline.
DEFAULT_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'

_MATRIX_MODES = ("binary", "count", "tfidf", "freq")


def text_to_word_sequence(
    input_text: str,
    filters: str = DEFAULT_FILTERS,
    lower: bool = True,
    split: str = " ",
) -> list[str]:
    """Split a text into a list of tokens.

    Every character of ``filters`` is replaced by ``split`` (after optional
    lower-casing), the text is split on ``split`` and empty pieces are dropped.

    Returns:
        ``list[str]`` of tokens, in text order.
    """
    if not isinstance(input_text, str):
        raise TypeError(
            f"text_to_word_sequence: input_text must be a str; received {type(input_text).__name__}"
        )
    if lower:
        input_text = input_text.lower()
    # str.translate does all replacements in one pass; a dict allows a
    # multi-character `split`, which str.maketrans(a, b) would not.
    table: dict[str, str | int | None] = {c: split for c in filters}
    input_text = input_text.translate(str.maketrans(table))
    return [tok for tok in input_text.split(split) if tok]


def _md5_hash(word: str) -> int:
    return int(hashlib.md5(word.encode()).hexdigest(), 16)


def hashing_trick(
    text: str,
    n: int,
    hash_function: Callable[[str], int] | str | None = None,
    filters: str = DEFAULT_FILTERS,
    lower: bool = True,
    split: str = " ",
    analyzer: Callable[[str], Sequence[str]] | None = None,
) -> list[int]:
    """Map each token of ``text`` to ``hash(token) % (n - 1) + 1``.

    Args:
        text: the text to encode.
        n: size of the hashing space; indices fall in ``[1, n - 1]`` (0 is reserved).
        hash_function: ``None`` for Python's ``hash`` (salted per process unless
            ``PYTHONHASHSEED`` is set, so not reproducible across runs), ``"md5"``
            for a stable hash, or any callable ``str -> int``.
        analyzer: optional callable replacing :func:`text_to_word_sequence`.

    Returns:
        ``list[int]``, one index per token (collisions are possible).
    """
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"hashing_trick: n must be an integer >= 2; received {n!r}")
    if hash_function is None:
        hash_function = hash
    elif hash_function == "md5":
        hash_function = _md5_hash
    elif not callable(hash_function):
        raise ValueError(
            f"hashing_trick: hash_function must be None, 'md5' or a callable; received {hash_function!r}"
        )
    seq: Sequence[str]
    if analyzer is None:
        seq = text_to_word_sequence(text, filters=filters, lower=lower, split=split)
    else:
        seq = analyzer(text)
    return [hash_function(w) % (n - 1) + 1 for w in seq]


def one_hot(
    input_text: str,
    n: int,
    filters: str = DEFAULT_FILTERS,
    lower: bool = True,
    split: str = " ",
    analyzer: Callable[[str], Sequence[str]] | None = None,
) -> list[int]:
    """:func:`hashing_trick` with Python's ``hash`` (Keras' misnamed ``one_hot``).

    Returns:
        ``list[int]`` of indices in ``[1, n - 1]``; not stable across processes.
    """
    return hashing_trick(
        input_text, n, hash_function=hash, filters=filters, lower=lower, split=split, analyzer=analyzer
    )


class Tokenizer:
    """Turn texts into integer sequences or bag-of-words matrices (Keras 2 semantics).

    Args:
        num_words: if set, conversions keep only indices ``< num_words`` (the
            ``num_words - 1`` most frequent tokens); ``word_index`` is unaffected.
        filters: characters replaced by ``split`` before splitting.
        lower: lower-case texts first.
        split: token separator.
        char_level: every character is a token (``filters`` are not applied).
        oov_token: if set, it gets index 1 and replaces unknown / cut-off tokens.
        analyzer: optional callable ``str -> list[str]`` used instead of
            :func:`text_to_word_sequence`.

    Attributes:
        word_counts: ``OrderedDict[str, int]`` token -> total count, first-seen order.
        word_docs: ``defaultdict[str, int]`` token -> number of texts containing it.
        word_index: ``dict[str, int]`` token -> index (1 = most frequent).
        index_word: ``dict[int, str]``, the inverse of ``word_index``.
        index_docs: ``defaultdict[int, int]`` index -> number of texts containing it.
        document_count: number of texts / sequences fitted so far.
    """

    def __init__(
        self,
        num_words: int | None = None,
        filters: str = DEFAULT_FILTERS,
        lower: bool = True,
        split: str = " ",
        char_level: bool = False,
        oov_token: str | None = None,
        analyzer: Callable[[str], Sequence[str]] | None = None,
        **kwargs,
    ) -> None:
        if "nb_words" in kwargs:  # Keras 1 spelling, still accepted by Keras 2
            num_words = kwargs.pop("nb_words")
        document_count = kwargs.pop("document_count", 0)
        if kwargs:
            raise TypeError(f"Tokenizer: unrecognized keyword arguments {sorted(kwargs)}")
        if num_words is not None and (
            isinstance(num_words, bool) or not isinstance(num_words, (int, np.integer)) or num_words < 0
        ):
            raise ValueError(
                f"Tokenizer: num_words must be None or a non-negative integer; received {num_words!r}"
            )
        self.num_words = None if num_words is None else int(num_words)
        self.filters = filters
        self.lower = lower
        self.split = split
        self.char_level = char_level
        self.oov_token = oov_token
        self.analyzer = analyzer
        self.document_count = int(document_count)
        self.word_counts: OrderedDict[str, int] = OrderedDict()
        self.word_docs: defaultdict[str, int] = defaultdict(int)
        self.index_docs: defaultdict[int, int] = defaultdict(int)
        self.word_index: dict[str, int] = {}
        self.index_word: dict[int, str] = {}

    # ------------------------------------------------------------------ helpers
    def _tokens(self, text) -> Sequence[str]:
        """Tokens of one text; a list is taken as already tokenized (Keras rule)."""
        if isinstance(text, list):
            return [t.lower() for t in text] if self.lower else text
        if self.char_level:
            # A string is a sequence of characters: each one is a token.
            return text.lower() if self.lower else text
        if self.analyzer is not None:
            return self.analyzer(text)
        return text_to_word_sequence(text, self.filters, self.lower, self.split)

    def _limit(self) -> int | None:
        # Keras tests `if num_words and i >= num_words`, so 0 means "no limit".
        return self.num_words or None

    # --------------------------------------------------------------------- fit
    def fit_on_texts(self, texts: Iterable[str | list[str]]) -> None:
        """Update counts and rebuild ``word_index`` from ``texts``.

        Args:
            texts: iterable of strings, or of token lists (used as-is).
        """
        if isinstance(texts, str):
            raise TypeError("Tokenizer.fit_on_texts: texts must be a list of strings; received a single str")
        for text in texts:
            self.document_count += 1
            seq = self._tokens(text)
            for w in seq:
                self.word_counts[w] = self.word_counts.get(w, 0) + 1
            for w in set(seq):
                self.word_docs[w] += 1
        # sorted() is stable even with reverse=True, so equal counts keep the
        # first-seen order of word_counts -- the tie rule Keras users rely on.
        ranked = sorted(self.word_counts.items(), key=lambda kv: kv[1], reverse=True)
        vocab = ([] if self.oov_token is None else [self.oov_token]) + [w for w, _ in ranked]
        word_index: dict[str, int] = {}
        for i, w in enumerate(vocab, start=1):
            word_index[w] = i  # a later duplicate wins, as with Keras' dict(zip(...))
        self.word_index = word_index
        self.index_word = {i: w for w, i in word_index.items()}
        for w, c in self.word_docs.items():
            self.index_docs[self.word_index[w]] = c

    def fit_on_sequences(self, sequences: Sequence[Sequence[int]]) -> None:
        """Update document frequencies from integer sequences (for ``tfidf``)."""
        self.document_count += len(sequences)
        for seq in sequences:
            for i in set(seq):
                self.index_docs[i] += 1

    # ----------------------------------------------------------- conversions
    def texts_to_sequences(self, texts: Iterable[str | list[str]]) -> list[list[int]]:
        """Encode texts as lists of token indices.

        Unknown tokens, and tokens with index ``>= num_words``, are dropped, or
        replaced by the ``oov_token`` index when one is set.

        Returns:
            ``list[list[int]]``, one list per text.
        """
        return list(self.texts_to_sequences_generator(texts))

    def texts_to_sequences_generator(self, texts: Iterable[str | list[str]]) -> Iterator[list[int]]:
        """Generator version of :meth:`texts_to_sequences`."""
        if isinstance(texts, str):
            raise TypeError("Tokenizer.texts_to_sequences: texts must be a list of strings; received a single str")
        limit = self._limit()
        oov = self.word_index.get(self.oov_token) if self.oov_token is not None else None
        for text in texts:
            vect: list[int] = []
            for w in self._tokens(text):
                i = self.word_index.get(w)
                if i is None or (limit is not None and i >= limit):
                    if oov is not None:
                        vect.append(oov)
                else:
                    vect.append(i)
            yield vect

    def sequences_to_texts(self, sequences: Iterable[Sequence[int]]) -> list[str]:
        """Decode index sequences into space-joined texts (same filtering rules).

        Returns:
            ``list[str]``, one text per sequence.
        """
        return list(self.sequences_to_texts_generator(sequences))

    def sequences_to_texts_generator(self, sequences: Iterable[Sequence[int]]) -> Iterator[str]:
        """Generator version of :meth:`sequences_to_texts`."""
        limit = self._limit()
        oov = self.word_index.get(self.oov_token) if self.oov_token is not None else None
        oov_word = self.index_word.get(oov) if oov is not None else None
        for seq in sequences:
            words: list[str] = []
            for num in seq:
                word = self.index_word.get(num)
                if word is None or (limit is not None and num >= limit):
                    if oov_word is not None:
                        words.append(oov_word)
                else:
                    words.append(word)
            yield " ".join(words)

    def texts_to_matrix(self, texts: Iterable[str | list[str]], mode: str = "binary") -> np.ndarray:
        """Bag-of-words matrix of ``texts``; see :meth:`sequences_to_matrix`."""
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode=mode)

    def sequences_to_matrix(self, sequences: Sequence[Sequence[int]], mode: str = "binary") -> np.ndarray:
        """Vectorize index sequences.

        Args:
            sequences: list of integer sequences.
            mode: ``"binary"`` (1 if present), ``"count"``, ``"freq"`` (count divided
                by the sequence length) or ``"tfidf"``.

        Returns:
            float64 array of shape ``(len(sequences), num_words)``, where
            ``num_words`` is ``self.num_words`` or ``len(word_index) + 1``.
            Indices ``>= num_words`` are ignored; column 0 is never set by texts.
        """
        if mode not in _MATRIX_MODES:
            raise ValueError(
                f"Tokenizer.sequences_to_matrix: mode must be one of {_MATRIX_MODES}; received {mode!r}"
            )
        if self.num_words:
            width = self.num_words
        elif self.word_index:
            width = len(self.word_index) + 1
        else:
            raise ValueError(
                "Tokenizer.sequences_to_matrix: the matrix width is unknown; pass num_words= "
                "to the Tokenizer or fit it on some texts first"
            )
        if mode == "tfidf" and not self.document_count:
            raise ValueError("Tokenizer.sequences_to_matrix: fit the Tokenizer on some data before mode='tfidf'")
        x = np.zeros((len(sequences), width))
        for row, seq in enumerate(sequences):
            if len(seq) == 0:
                continue
            counts: dict[int, int] = {}
            for j in seq:
                if j < width:
                    counts[j] = counts.get(j, 0) + 1
            for j, c in counts.items():
                if mode == "count":
                    x[row, j] = c
                elif mode == "freq":
                    # Keras divides by the full length, dropped indices included.
                    x[row, j] = c / len(seq)
                elif mode == "binary":
                    x[row, j] = 1
                else:
                    tf = 1 + np.log(c)
                    idf = np.log(1 + self.document_count / (1 + self.index_docs.get(j, 0)))
                    x[row, j] = tf * idf
        return x

    # --------------------------------------------------------- serialization
    def get_config(self) -> dict:
        """Configuration dict; the vocabulary tables are JSON strings, as in Keras."""
        return {
            "num_words": self.num_words,
            "filters": self.filters,
            "lower": self.lower,
            "split": self.split,
            "char_level": self.char_level,
            "oov_token": self.oov_token,
            "document_count": self.document_count,
            "word_counts": json.dumps(self.word_counts),
            "word_docs": json.dumps(self.word_docs),
            "index_docs": json.dumps(self.index_docs),
            "index_word": json.dumps(self.index_word),
            "word_index": json.dumps(self.word_index),
        }

    def to_json(self, **kwargs) -> str:
        """JSON string readable by :func:`tokenizer_from_json` (and by Keras').

        ``kwargs`` are passed to ``json.dumps``. A custom ``analyzer`` is not saved.
        """
        return json.dumps({"class_name": type(self).__name__, "config": self.get_config()}, **kwargs)


def tokenizer_from_json(json_string: str) -> Tokenizer:
    """Rebuild a :class:`Tokenizer` from :meth:`Tokenizer.to_json` output (ours or Keras')."""
    payload = json.loads(json_string)
    if not isinstance(payload, dict) or not isinstance(payload.get("config"), dict):
        raise ValueError("tokenizer_from_json: expected a JSON object with a 'config' object")
    config = dict(payload["config"])
    tables = {}
    for key in ("word_counts", "word_docs", "index_docs", "index_word", "word_index"):
        raw = config.pop(key, "{}")
        tables[key] = json.loads(raw) if isinstance(raw, str) else dict(raw)
    tokenizer = Tokenizer(**config)
    # JSON turns integer keys into strings; restore them. Keeping the Keras
    # container types lets a restored tokenizer be fitted further.
    tokenizer.word_counts = OrderedDict(tables["word_counts"])
    tokenizer.word_docs = defaultdict(int, tables["word_docs"])
    tokenizer.index_docs = defaultdict(int, {int(k): v for k, v in tables["index_docs"].items()})
    tokenizer.index_word = {int(k): v for k, v in tables["index_word"].items()}
    tokenizer.word_index = dict(tables["word_index"])
    return tokenizer
