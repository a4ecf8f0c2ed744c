"""``StringLookup`` and ``IntegerLookup``: map tokens to vocabulary indices (and back).

Index layout, as Keras 3 (``output_mode="int"``)::

    [mask_token (if set)] + [oov_token] * num_oov_indices + vocabulary tokens

so with the defaults (no mask, one OOV index) unknown tokens get index 0 and the first
vocabulary token index 1. In the other output modes there is no mask index: the mask
token is dropped, and each row becomes a vector of ``vocabulary_size()`` (or ``max_tokens``
with ``pad_to_max_tokens``) values: ``one_hot``, ``multi_hot`` (1 where a token occurs),
``count`` (occurrences), ``tf_idf`` (count times the token's idf weight).

``adapt(data)`` counts tokens and keeps the most frequent ones (ties: the token that
sorts *last* comes first, as Keras' ``lexsort(...)[::-1]``), at most ``max_tokens`` indices
in all. In ``tf_idf`` mode it also learns ``idf = log(1 + documents / (1 + documents with
the token))``, each row of the adapted data being one document, with the mean idf for
the OOV indices.

With ``num_oov_indices > 1`` an unknown integer goes to OOV index ``value % n`` (Keras'
rule); an unknown string is hashed with CRC-32 (Keras uses FarmHash, so the OOV slot a
given string lands in differs; known tokens map identically).

The vocabulary is part of ``get_config()``, so a saved model restores it.
"""
from __future__ import annotations

import math
import os
import zlib
from collections import Counter
from typing import Any, Sequence

import numpy as np

from .base import Layer

_MODES = ("int", "one_hot", "multi_hot", "count", "tf_idf")


class IndexLookup(Layer):
    """Base of :class:`StringLookup` and :class:`IntegerLookup` (see the module docstring).

    Input: an array of tokens of any shape (rank <= 2 outside ``"int"`` mode). Output:
    ``"int"`` -> int64 ids of the input's shape; ``"one_hot"`` -> float32 ``(..., depth)``
    (a trailing axis of 1 is replaced); ``"multi_hot"``/``"count"``/``"tf_idf"`` -> float32
    ``(batch, depth)`` for rank-2 input, ``(depth,)`` for rank-1 input (one sample).
    """

    supports_masking = False
    _is_string = True

    def __init__(self, max_tokens: int | None, num_oov_indices: int, mask_token, oov_token,
                 vocabulary=None, idf_weights=None, invert: bool = False, output_mode: str = "int",
                 pad_to_max_tokens: bool = False, sparse: bool = False, name: str | None = None,
                 **kwargs: Any):
        kwargs.pop("vocabulary_size", None)  # Keras' config key, derived from the vocabulary
        kwargs.pop("has_input_vocabulary", None)
        kwargs.pop("encoding", None)
        kwargs.pop("vocabulary_dtype", None)
        oov_method, salt = kwargs.pop("oov_method", "floormod"), kwargs.pop("salt", None)
        trainable = kwargs.pop("trainable", True)
        super().__init__(name=name, trainable=trainable, **kwargs)
        cls = type(self).__name__
        if output_mode == "tf-idf":
            output_mode = "tf_idf"
        if output_mode not in _MODES:
            raise ValueError(f"{cls}: output_mode must be one of {list(_MODES)}; received {output_mode!r}")
        if max_tokens is not None and (isinstance(max_tokens, bool) or not isinstance(max_tokens, int)
                                       or max_tokens <= 1):
            raise ValueError(f"{cls}: max_tokens must be None or an integer > 1; received {max_tokens!r}")
        if isinstance(num_oov_indices, bool) or not isinstance(num_oov_indices, int) or num_oov_indices < 0:
            raise ValueError(f"{cls}: num_oov_indices must be an integer >= 0; received {num_oov_indices!r}")
        if invert and output_mode != "int":
            raise ValueError(f"{cls}: invert=True works only with output_mode='int'; received "
                             f"output_mode={output_mode!r}")
        if pad_to_max_tokens and max_tokens is None:
            raise ValueError(f"{cls}: pad_to_max_tokens=True needs max_tokens; received max_tokens=None")
        if sparse:
            raise ValueError(f"{cls}: sparse=True is not supported (rnnkit returns dense NumPy arrays)")
        if idf_weights is not None and output_mode != "tf_idf":
            raise ValueError(f"{cls}: idf_weights applies only to output_mode='tf_idf'; received "
                             f"output_mode={output_mode!r}")
        if oov_method not in ("floormod", "farmhash") or salt is not None:
            raise ValueError(f"{cls}: only oov_method='floormod' or 'farmhash' and salt=None are supported; "
                             f"received oov_method={oov_method!r}, salt={salt!r}")
        self.oov_method = oov_method
        self.max_tokens, self.num_oov_indices = max_tokens, num_oov_indices
        self.mask_token, self.oov_token = mask_token, oov_token
        self.invert, self.output_mode = bool(invert), output_mode
        self.pad_to_max_tokens, self.sparse = bool(pad_to_max_tokens), False
        self._tokens: list = []
        self._index: dict = {}
        self.idf_weights: np.ndarray | None = None
        self._adapted_state: tuple | None = None
        self._has_input_vocabulary = vocabulary is not None
        if vocabulary is not None:
            if output_mode == "tf_idf" and idf_weights is None:
                raise ValueError(f"{cls}: with output_mode='tf_idf' and a vocabulary, pass idf_weights too")
            self.set_vocabulary(vocabulary, idf_weights)
        self.built = True

    # ------------------------------------------------------------------ indices
    def _oov_start(self) -> int:
        return 1 if self.mask_token is not None and self.output_mode == "int" else 0

    def _token_start(self) -> int:
        return self._oov_start() + self.num_oov_indices

    def vocabulary_size(self) -> int:
        """Indices in use: mask and OOV indices plus the vocabulary tokens."""
        return self._token_start() + len(self._tokens)

    def get_vocabulary(self, include_special_tokens: bool = True) -> list:
        """The token at each index (``include_special_tokens=False``: vocabulary tokens only)."""
        vocab = [self.oov_token] * self._token_start() + list(self._tokens)
        if self.mask_token is not None and self.output_mode == "int":
            vocab[0] = self.mask_token
        return vocab if include_special_tokens else vocab[self._token_start():]

    def _depth(self) -> int:
        if self.pad_to_max_tokens and self.max_tokens is not None:
            return self.max_tokens
        return self.vocabulary_size()

    # --------------------------------------------------------------- vocabulary
    def _convert_tokens(self, values, what: str) -> list:
        raise NotImplementedError

    def set_vocabulary(self, vocabulary, idf_weights=None) -> None:
        """Use ``vocabulary`` (a list/array of tokens, or a path to a file with one per line),
        with or without the leading special tokens; ``idf_weights`` (one per given token) is
        required in ``tf_idf`` mode."""
        cls = type(self).__name__
        if isinstance(vocabulary, (str, os.PathLike)):
            with open(vocabulary, encoding="utf-8") as fh:
                lines = fh.read().splitlines()
            while lines and lines[-1] == "":
                lines.pop()
            vocabulary = lines
        given = self._convert_tokens(list(np.asarray(vocabulary).ravel()) if np.ndim(vocabulary) else [],
                                     "vocabulary")
        if not given:
            raise ValueError(f"{cls}: cannot set an empty vocabulary")
        start = self._token_start()
        special = [self.mask_token] * self._oov_start() + [self.oov_token] * self.num_oov_indices
        has_special = given[:start] == special
        tokens = given[start:] if has_special else given
        seen, repeated = set(), []
        for t in tokens:
            if t in seen:
                repeated.append(t)
            seen.add(t)
        if repeated:
            raise ValueError(f"{cls}: the vocabulary repeats {repeated[:10]}; each token must appear once")
        if self.mask_token is not None and self.mask_token in seen:
            raise ValueError(f"{cls}: the vocabulary holds the mask token {self.mask_token!r} after the "
                             f"special tokens; leave it out or put the special tokens {special} first")
        if self.invert and self.oov_token is not None and self.oov_token in seen:
            raise ValueError(f"{cls}: the vocabulary holds the OOV token {self.oov_token!r} after the "
                             f"special tokens; leave it out or put the special tokens {special} first")
        if self.max_tokens is not None and start + len(tokens) > self.max_tokens:
            raise ValueError(f"{cls}: the vocabulary has {start + len(tokens)} indices with the special "
                             f"tokens, more than max_tokens={self.max_tokens}")
        self._set_tokens(tokens)
        if self.output_mode == "tf_idf":
            if idf_weights is None:
                raise ValueError(f"{cls}: output_mode='tf_idf' needs idf_weights with the vocabulary")
            idf = np.asarray(idf_weights, dtype=np.float64)
            if idf.ndim != 1 or len(idf) != len(given):
                raise ValueError(f"{cls}: idf_weights must be 1-D with one weight per vocabulary entry "
                                 f"({len(given)}); received shape {idf.shape}")
            front = 0 if has_special else start
            back = self.max_tokens - front - len(idf) if self.pad_to_max_tokens and self.max_tokens else 0
            self.idf_weights = np.concatenate([np.full(front, idf.mean() if front else 0.0), idf,
                                               np.zeros(back)]).astype(np.float32)
        elif idf_weights is not None:
            raise ValueError(f"{cls}: idf_weights applies only to output_mode='tf_idf'")
        self._has_input_vocabulary = True

    def _set_tokens(self, tokens: list) -> None:
        self._tokens = list(tokens)
        start = self._token_start()
        self._index = {t: start + i for i, t in enumerate(self._tokens)}

    def adapt(self, data, batch_size=None, steps: int | None = None) -> None:
        """Learn the vocabulary (and idf weights) from ``data``: an array (each row a document)
        or an iterable of batches."""
        counts: Counter = Counter()
        doc_counts: Counter = Counter()
        docs = 0
        for batch in _batches(data, steps):
            rows = self._rows_for_adapt(batch)
            for row in rows:
                counts.update(row)
                if self.output_mode == "tf_idf":
                    doc_counts.update(set(row))
            docs += len(rows)
        self._finalize(counts, doc_counts, docs)

    def _rows_for_adapt(self, batch) -> list[list]:
        arr = np.asarray(batch)
        if arr.ndim == 0:
            arr = arr[None]
        if arr.ndim == 1:
            arr = arr[None]  # a 1-D array is one document, as Keras
        return [self._convert_tokens(list(r.ravel()), "adapt data") for r in arr]

    def _finalize(self, counts: dict, doc_counts: dict, docs: int) -> None:
        for special in (self.mask_token, self.oov_token):
            counts.pop(special, None)
        # Count descending, then the token descending: Keras' lexsort((tokens, counts))[::-1].
        order = sorted(counts, key=lambda t: (counts[t], _sort_key(t)), reverse=True)
        if self.max_tokens:
            order = order[:max(self.max_tokens - self._token_start(), 0)]
        self._set_tokens(order)
        if self.output_mode == "tf_idf":
            idf = np.array([math.log1p(docs / (1 + doc_counts.get(t, 0))) for t in order])
            mean = float(np.float32(idf).mean()) if len(idf) else 0.0
            parts = [np.full(self._token_start(), mean), idf]
            if self.pad_to_max_tokens and self.max_tokens is not None:
                parts.append(np.zeros(self.max_tokens - self._token_start() - len(idf)))
            self.idf_weights = np.concatenate(parts).astype(np.float32)
        self._has_input_vocabulary = False

    # ------------------------------------------------------------------ running
    def _lookup(self, arr: np.ndarray) -> np.ndarray:
        """Token array -> int64 index array of the same shape (mask -> 0, or -2 to drop)."""
        return self.lookup_tokens(arr.ravel().tolist()).reshape(arr.shape)

    def lookup_tokens(self, tokens: list) -> np.ndarray:
        """A flat list of tokens -> their int64 indices (the mask token -> 0 in ``"int"``
        mode, else -2, which the encoders drop)."""
        get = self._index.get
        ids = np.fromiter((get(t, -1) for t in tokens), dtype=np.int64, count=len(tokens))
        miss = np.flatnonzero(ids < 0)
        if not miss.size:
            return ids
        mask = self.mask_token
        if mask is not None:
            is_mask = np.fromiter((tokens[j] == mask for j in miss), dtype=bool, count=miss.size)
            ids[miss[is_mask]] = 0 if self.output_mode == "int" else -2
            miss = miss[~is_mask]
        if self.num_oov_indices == 1:
            ids[miss] = self._oov_start()
        elif self.num_oov_indices > 1:
            start = self._oov_start()
            ids[miss] = [start + self._oov_bucket(tokens[j]) for j in miss]
        elif miss.size:
            unknown = sorted({tokens[j] for j in miss[:1000]}, key=str)[:10]
            raise ValueError(f"{type(self).__name__} '{self.name}': with num_oov_indices=0 every input "
                             f"must be in the vocabulary; found out-of-vocabulary values {unknown} "
                             "(set num_oov_indices=1)")
        return ids

    def _oov_bucket(self, token) -> int:
        raise NotImplementedError

    def _invert(self, arr: np.ndarray) -> np.ndarray:
        ids = np.asarray(arr)
        if ids.dtype.kind not in "iu":
            raise TypeError(f"{type(self).__name__} '{self.name}' (invert=True) expects integer indices; "
                            f"received dtype {ids.dtype}")
        table = np.array([self.oov_token] * self._token_start() + list(self._tokens),
                         dtype=self._output_token_dtype())
        if self.mask_token is not None:
            table[0] = self.mask_token
        safe = np.where((ids >= 0) & (ids < len(table)), ids, self._oov_start() if self._token_start() else 0)
        out = table[safe] if len(table) else np.full(ids.shape, self.oov_token)
        outside = (ids < 0) | (ids >= len(table)) | ((ids >= self._oov_start()) & (ids < self._token_start()))
        if outside.any():
            out = np.where(outside, np.array(self.oov_token, dtype=out.dtype), out)
        return out

    def _output_token_dtype(self):
        return object

    def call(self, inputs, mask=None, training: bool = False, **kwargs):
        arr = self._convert_input(inputs)
        if self.invert:
            return self._invert(arr)
        if self.output_mode != "int" and not self._tokens and not self.pad_to_max_tokens:
            raise RuntimeError(f"{type(self).__name__} '{self.name}': output_mode={self.output_mode!r} "
                               "needs a vocabulary; call adapt() or pass vocabulary= first")
        ids = self._lookup(arr)
        if self.output_mode == "int":
            return ids
        return encode_ids(ids, self.output_mode, self._depth(), self.idf_weights)

    def forward(self, inputs, mask=None, training: bool = False, **kwargs):
        return self.call(inputs, mask=mask, training=training), None

    def backward(self, grad_outputs, cache):
        return None  # tokens have no gradient

    def compute_output_shape(self, input_shape):
        shape = tuple(input_shape)
        if self.output_mode == "int":
            return shape
        depth = self.max_tokens if self.pad_to_max_tokens else (self.vocabulary_size() or None)
        if self.output_mode == "one_hot":
            return (shape[:-1] if shape and shape[-1] == 1 else shape) + (depth,)
        return (shape[0] if len(shape) > 1 else None, depth) if shape else (depth,)

    def compute_mask(self, inputs, mask):
        return None

    def get_config(self) -> dict:
        config = super().get_config()
        config.update({
            "max_tokens": self.max_tokens, "num_oov_indices": self.num_oov_indices,
            "mask_token": self.mask_token, "oov_token": self.oov_token,
            # With the special tokens first, so that set_vocabulary restores the OOV idf as saved.
            "vocabulary": self.get_vocabulary() if self._tokens else None,
            "idf_weights": (None if self.idf_weights is None
                            else [float(v) for v in self.idf_weights[:self.vocabulary_size()]]),
            "invert": self.invert, "output_mode": self.output_mode,
            "pad_to_max_tokens": self.pad_to_max_tokens, "sparse": False,
            "vocabulary_size": self.vocabulary_size(), "oov_method": self.oov_method, "salt": None,
        })
        return config

    @classmethod
    def from_config(cls, config: dict):
        return cls(**dict(config))


def _sort_key(token):
    # Keras sorts the UTF-8 bytes; code-point order on str is the same order.
    return token


def _batches(data, steps):
    if isinstance(data, (np.ndarray, list, tuple)) or not hasattr(data, "__iter__"):
        yield data
        return
    for i, batch in enumerate(data):
        if steps is not None and i >= steps:
            break
        yield batch[0] if isinstance(batch, tuple) else batch


def encode_rows(ids: np.ndarray, rows: np.ndarray, n_rows: int, mode: str, depth: int,
                idf: np.ndarray | None) -> np.ndarray:
    """multi_hot/count/tf_idf float32 ``(n_rows, depth)`` from flat ids and their row numbers
    (ids outside ``[0, depth)``, such as a dropped mask, are left out)."""
    keep = (ids >= 0) & (ids < depth)
    out = np.zeros((n_rows, depth), dtype=np.float32)
    np.add.at(out, (rows[keep], ids[keep]), np.float32(1))
    if mode == "multi_hot":
        np.minimum(out, 1, out=out)
    elif mode == "tf_idf" and idf is not None:
        out *= idf[:depth].astype(np.float32)
    return out


def encode_ids(ids: np.ndarray, mode: str, depth: int, idf: np.ndarray | None) -> np.ndarray:
    """int64 ids (``-2`` = dropped mask) -> one_hot/multi_hot/count/tf_idf float32 arrays."""
    if ids.ndim == 0:
        ids = ids[None]
    valid = (ids >= 0) & (ids < depth)
    if mode == "one_hot":
        if ids.shape and ids.shape[-1] == 1 and ids.ndim > 1:
            ids, valid = ids[..., 0], valid[..., 0]
        out = np.zeros(ids.shape + (depth,), dtype=np.float32)
        idx = np.nonzero(valid)
        out[idx + (ids[idx],)] = 1.0
        return out
    if ids.ndim > 2:
        raise ValueError(f"output_mode={mode!r} takes inputs of rank 1 or 2; received shape {ids.shape}")
    rows = ids if ids.ndim == 2 else ids[None]
    vrows = valid if ids.ndim == 2 else valid[None]
    out = np.zeros((rows.shape[0], depth), dtype=np.float32)
    r, c = np.nonzero(vrows)
    np.add.at(out, (r, rows[r, c]), 1.0)
    if mode == "multi_hot":
        out = np.minimum(out, 1.0)
    elif mode == "tf_idf" and idf is not None:
        out = out * idf[:depth].astype(np.float32)
    return out if ids.ndim == 2 else out[0]


class StringLookup(IndexLookup):
    """Strings -> indices (Keras 3 ``StringLookup``); see the module docstring.

    Args:
        max_tokens: most indices in all (special ones included), or None.
        num_oov_indices: indices for unknown tokens (default 1).
        mask_token: token that maps to index 0 (``"int"`` mode), or None.
        oov_token: the token that ``invert=True`` returns for unknown indices.
        vocabulary: tokens, or a file with one per line.
        idf_weights: for ``output_mode="tf_idf"`` with a given vocabulary.
        invert: map indices back to tokens.
        output_mode: ``"int"``, ``"one_hot"``, ``"multi_hot"``, ``"count"`` or ``"tf_idf"``.
        pad_to_max_tokens: outside ``"int"`` mode, make every row ``max_tokens`` long.
    """

    def __init__(self, max_tokens: int | None = None, num_oov_indices: int = 1, mask_token: str | None = None,
                 oov_token: str = "[UNK]", vocabulary: Sequence[str] | str | None = None,
                 idf_weights=None, invert: bool = False, output_mode: str = "int",
                 pad_to_max_tokens: bool = False, sparse: bool = False, encoding: str = "utf-8",
                 name: str | None = None, **kwargs: Any):
        if encoding not in ("utf-8", "utf8", "UTF-8"):
            raise ValueError(f"StringLookup: only encoding='utf-8' is supported; received {encoding!r}")
        super().__init__(max_tokens, num_oov_indices, mask_token, oov_token, vocabulary=vocabulary,
                         idf_weights=idf_weights, invert=invert, output_mode=output_mode,
                         pad_to_max_tokens=pad_to_max_tokens, sparse=sparse, name=name, **kwargs)

    def _convert_tokens(self, values, what):
        out = []
        for v in values:
            if isinstance(v, (bytes, np.bytes_)):
                v = bytes(v).decode("utf-8")
            if not isinstance(v, str):
                raise TypeError(f"StringLookup '{self.name}': the {what} must hold strings; received "
                                f"{type(v).__name__} {v!r}")
            out.append(str(v))
        return out

    def _convert_input(self, x):
        if self.invert:
            return np.asarray(x)
        arr = np.asarray(x)
        if arr.dtype.kind == "S":
            arr = np.char.decode(arr, "utf-8")
        elif arr.dtype.kind == "O":
            arr = np.asarray(self._convert_tokens(list(arr.ravel()), "input"), dtype=str).reshape(arr.shape)
        elif arr.dtype.kind != "U":
            raise TypeError(f"StringLookup '{self.name}' expects an array of strings; received dtype "
                            f"{arr.dtype}")
        return arr

    def _oov_bucket(self, token) -> int:
        return zlib.crc32(token.encode("utf-8")) % self.num_oov_indices

    def _output_token_dtype(self):
        width = max([len(str(t)) for t in [self.oov_token, self.mask_token or "", *self._tokens]] + [1])
        return f"<U{width}"

    def get_config(self) -> dict:
        return {**super().get_config(), "encoding": "utf-8"}


class IntegerLookup(IndexLookup):
    """Integers -> indices (Keras 3 ``IntegerLookup``): as :class:`StringLookup`, with
    ``oov_token=-1`` and integer tokens; an unknown value goes to OOV index
    ``value % num_oov_indices``."""

    _is_string = False

    def __init__(self, max_tokens: int | None = None, num_oov_indices: int = 1, mask_token: int | None = None,
                 oov_token: int = -1, vocabulary: Sequence[int] | str | None = None,
                 vocabulary_dtype: str = "int64", idf_weights=None, invert: bool = False,
                 output_mode: str = "int", sparse: bool = False, pad_to_max_tokens: bool = False,
                 name: str | None = None, **kwargs: Any):
        if vocabulary_dtype not in ("int64", "int32"):
            raise ValueError(f"IntegerLookup: vocabulary_dtype must be 'int64' or 'int32'; received "
                             f"{vocabulary_dtype!r}")
        if kwargs.get("oov_method") == "farmhash":
            raise ValueError("IntegerLookup: oov_method='farmhash' is not supported; unknown integers go to "
                             "OOV index value % num_oov_indices (oov_method='floormod')")
        super().__init__(max_tokens, num_oov_indices, None if mask_token is None else int(mask_token),
                         int(oov_token), vocabulary=vocabulary, idf_weights=idf_weights, invert=invert,
                         output_mode=output_mode, pad_to_max_tokens=pad_to_max_tokens, sparse=sparse,
                         name=name, **kwargs)

    def _convert_tokens(self, values, what):
        out = []
        for v in values:
            if isinstance(v, str):
                v = v.strip()
                if not v.lstrip("-").isdigit():
                    raise TypeError(f"IntegerLookup '{self.name}': the {what} must hold integers; received "
                                    f"{v!r}")
                v = int(v)
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
                raise TypeError(f"IntegerLookup '{self.name}': the {what} must hold integers; received "
                                f"{type(v).__name__} {v!r}")
            out.append(int(v))
        return out

    def _convert_input(self, x):
        arr = np.asarray(x)
        if arr.dtype.kind not in "iu":
            if arr.dtype.kind == "f" and arr.size and np.all(arr == np.round(arr)):
                return arr.astype(np.int64)
            raise TypeError(f"IntegerLookup '{self.name}' expects an integer array; received dtype {arr.dtype}")
        return arr.astype(np.int64, copy=False)

    def _oov_bucket(self, token) -> int:
        return int(token) % self.num_oov_indices

    def _output_token_dtype(self):
        return np.int64

    def get_config(self) -> dict:
        return {**super().get_config(), "vocabulary_dtype": "int64"}
