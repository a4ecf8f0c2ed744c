"""``TextVectorization``: raw strings -> token ids (or multi_hot/count/tf_idf vectors).

Each input string goes through, as in Keras 3:

1. ``standardize``: ``"lower_and_strip_punctuation"`` (default) lower-cases ASCII letters
   (TensorFlow's ``tf.strings.lower`` leaves other letters alone) and deletes the ASCII
   punctuation ``!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~'``; ``"lower"``, ``"strip_punctuation"``,
   None, or a callable taking and returning a NumPy array of strings;
2. ``split``: ``"whitespace"`` (runs of ASCII whitespace), ``"character"`` (Unicode code
   points), None (each input is one token) or a callable ``str -> list of tokens``;
3. ``ngrams``: n (all 1..n-grams) or a tuple of widths; n-grams join tokens with a space,
   all of the first width first;
4. a :class:`~rnnkit.layers.StringLookup` with ``mask_token=""`` in ``"int"`` mode (index 0
   pads, 1 is ``[UNK]``) and no mask otherwise.

Shapes: input ``(batch,)`` or ``(batch, 1)`` strings. ``"int"`` -> int64 ``(batch,
output_sequence_length)`` (truncated or zero-padded; without it, padded to the batch's
longest); other modes -> float32 ``(batch, vocabulary_size())`` (or ``max_tokens`` with
``pad_to_max_tokens``). The layer has no weights; the vocabulary and idf weights are in
``get_config()``, so ``model.save`` keeps them. As a model's first layer it takes the
string array itself: ``model.fit(np.array(texts), y)``.
"""
from __future__ import annotations

import re
from collections import Counter
from typing import Any, Callable

import numpy as np

from .base import Layer
from .index_lookup import StringLookup, encode_rows

_PUNCTUATION = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\''   # Keras' strip regex, as a set of characters
_ASCII_SPACE = re.compile(r"[ \t\n\r\f\v]+")
_LOWER: dict[int, int | None] = {ord(c): ord(c) + 32 for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}
_STRIP: dict[int, int | None] = {ord(c): None for c in _PUNCTUATION}
# One str.translate pass per built-in mode (lower-casing ASCII only, as tf.strings.lower).
_TABLES: dict[str, dict[int, int | None]] = {"lower": _LOWER, "strip_punctuation": _STRIP, "lower_and_strip_punctuation": {**_LOWER, **_STRIP}}
_STANDARDIZE = tuple(_TABLES)
_SPLIT = ("whitespace", "character")


def standardize_text(text: str, mode: str | None) -> str:
    """One string through a built-in ``standardize`` mode (None: unchanged)."""
    return text.translate(_TABLES[mode]) if mode else text


def split_whitespace(text: str) -> list[str]:
    """Split on runs of ASCII whitespace (TensorFlow's rule; ``str.split`` would also split on
    Unicode spaces such as U+00A0, so it serves only ASCII text)."""
    if text.isascii():
        return text.split()
    return [t for t in _ASCII_SPACE.split(text) if t]


def ngram_tokens(tokens: list[str], widths: tuple[int, ...]) -> list[str]:
    """All n-grams of each width in ``widths``, width by width, tokens joined by a space."""
    out: list[str] = []
    for n in widths:
        if n == 1:
            out += tokens
        else:
            out += [" ".join(tokens[i:i + n]) for i in range(len(tokens) - n + 1)]
    return out


class TextVectorization(Layer):
    """Keras 3 ``TextVectorization`` (see the module docstring for the pipeline and shapes).

    Args:
        max_tokens: most vocabulary indices (pad and ``[UNK]`` included), or None.
        standardize, split, ngrams: see the module docstring.
        output_mode: ``"int"``, ``"multi_hot"``, ``"count"`` or ``"tf_idf"``.
        output_sequence_length: ``"int"`` mode: pad/truncate every row to this length.
        pad_to_max_tokens: other modes: rows of ``max_tokens`` values.
        vocabulary, idf_weights: a fixed vocabulary (list, or a file with one token per line).
    """

    supports_masking = False

    def __init__(self, max_tokens: int | None = None,
                 standardize: str | Callable | None = "lower_and_strip_punctuation",
                 split: str | Callable | None = "whitespace", ngrams: int | tuple | None = None,
                 output_mode: str = "int", output_sequence_length: int | None = None,
                 pad_to_max_tokens: bool = False, vocabulary=None, idf_weights=None,
                 sparse: bool = False, ragged: bool = False, encoding: str = "utf-8",
                 name: str | None = None, **kwargs: Any):
        for key in ("vocabulary_size", "has_input_vocabulary"):
            kwargs.pop(key, None)
        trainable = kwargs.pop("trainable", True)
        super().__init__(name=name, trainable=trainable, **kwargs)
        if not (standardize is None or callable(standardize) or standardize in _STANDARDIZE):
            raise ValueError(f"TextVectorization: standardize must be one of {list(_STANDARDIZE)}, None or a "
                             f"callable; received {standardize!r}")
        if not (split is None or callable(split) or split in _SPLIT):
            raise ValueError(f"TextVectorization: split must be one of {list(_SPLIT)}, None or a callable; "
                             f"received {split!r}")
        if isinstance(ngrams, list):
            ngrams = tuple(ngrams)
        if not (ngrams is None or (isinstance(ngrams, int) and not isinstance(ngrams, bool) and ngrams >= 1)
                or (isinstance(ngrams, tuple) and ngrams and all(isinstance(n, int) and n >= 1 for n in ngrams))):
            raise ValueError("TextVectorization: ngrams must be None, an integer >= 1 or a tuple of them; "
                             f"received {ngrams!r}")
        if output_mode not in ("int", "multi_hot", "count", "tf_idf", "tf-idf"):
            raise ValueError("TextVectorization: output_mode must be 'int', 'multi_hot', 'count' or "
                             f"'tf_idf'; received {output_mode!r}")
        if output_sequence_length is not None:
            if output_mode != "int":
                raise ValueError("TextVectorization: output_sequence_length applies only to output_mode='int'; "
                                 f"received output_mode={output_mode!r}")
            if isinstance(output_sequence_length, bool) or not isinstance(output_sequence_length, int) \
                    or output_sequence_length < 1:
                raise ValueError("TextVectorization: output_sequence_length must be a positive integer or "
                                 f"None; received {output_sequence_length!r}")
        if ragged:
            raise ValueError("TextVectorization: ragged=True is not supported (rnnkit returns padded arrays)")
        self._standardize, self._split, self._ngrams_arg = standardize, split, ngrams
        self._ngrams = tuple(range(1, ngrams + 1)) if isinstance(ngrams, int) else ngrams
        self._output_mode = "tf_idf" if output_mode == "tf-idf" else output_mode
        self._output_sequence_length = output_sequence_length
        self._lookup_layer = StringLookup(
            max_tokens=max_tokens, vocabulary=vocabulary, idf_weights=idf_weights,
            pad_to_max_tokens=pad_to_max_tokens, mask_token="" if self._output_mode == "int" else None,
            output_mode=self._output_mode, sparse=sparse, encoding=encoding, name=f"{self.name}_lookup")
        self.built = True

    # ------------------------------------------------------------ preprocessing
    def _strings(self, inputs) -> np.ndarray:
        arr = np.asarray(inputs)
        if arr.dtype.kind == "S":
            arr = np.char.decode(arr, "utf-8")
        elif arr.dtype.kind == "O":
            if not all(isinstance(v, (str, bytes)) for v in arr.ravel()):
                raise TypeError(f"TextVectorization '{self.name}' expects an array of strings; received an "
                                "object array holding other values")
            arr = np.array([v.decode("utf-8") if isinstance(v, bytes) else v for v in arr.ravel()],
                           dtype=str).reshape(arr.shape)
        elif arr.dtype.kind != "U":
            raise TypeError(f"TextVectorization '{self.name}' expects an array of strings (batch,) or "
                            f"(batch, 1); received dtype {arr.dtype}")
        return arr

    def _token_rows(self, inputs) -> list[list[str]]:
        """Standardized, split, n-grammed tokens: one list per input row."""
        arr = self._strings(inputs)
        if arr.ndim == 0:
            arr = arr[None]
        if callable(self._standardize):
            arr = np.asarray(self._standardize(arr))
            if arr.dtype.kind not in "USO":
                raise TypeError(f"TextVectorization '{self.name}': the standardize callable must return "
                                f"an array of strings; it returned dtype {arr.dtype}")
            arr = self._strings(arr)
        if self._split is not None:
            if arr.ndim > 1:
                if arr.shape[-1] != 1:
                    raise ValueError(f"TextVectorization '{self.name}': to split strings the input must be "
                                     f"(batch,) or (batch, 1); received shape {arr.shape}")
                arr = arr[..., 0]
            if arr.ndim != 1:
                raise ValueError(f"TextVectorization '{self.name}' expects input of shape (batch,) or "
                                 f"(batch, 1); received {np.shape(inputs)}")
        mode = self._standardize if isinstance(self._standardize, str) else None
        rows = []
        for item in ((arr if arr.ndim == 2 else arr[:, None]) if self._split is None else arr).tolist():
            if self._split is None:
                tokens = [standardize_text(t, mode) for t in item]
            else:
                text = standardize_text(item, mode)
                if self._split == "whitespace":
                    tokens = split_whitespace(text)
                elif self._split == "character":
                    tokens = list(text)
                else:
                    split_fn: Callable = self._split  # type: ignore[assignment]
                    tokens = [str(t) for t in split_fn(text)]
            rows.append(ngram_tokens(tokens, self._ngrams) if self._ngrams else tokens)
        return rows

    # --------------------------------------------------------------- vocabulary
    def adapt(self, data, batch_size=None, steps: int | None = None) -> None:
        """Learn the vocabulary (and idf weights) from strings: an array, or an iterable of
        batches (``(x, y)`` batches use ``x``)."""
        from .index_lookup import _batches

        counts: Counter = Counter()
        doc_counts: Counter = Counter()
        docs = 0
        for batch in _batches(data, steps):
            for row in self._token_rows(batch):
                counts.update(row)
                if self._output_mode == "tf_idf":
                    doc_counts.update(set(row))
                docs += 1
        self._lookup_layer._finalize(counts, doc_counts, docs)

    def get_vocabulary(self, include_special_tokens: bool = True) -> list[str]:
        """Index -> token (``""`` pads at 0 and ``"[UNK]"`` at 1 in ``"int"`` mode)."""
        return self._lookup_layer.get_vocabulary(include_special_tokens)

    def set_vocabulary(self, vocabulary, idf_weights=None) -> None:
        self._lookup_layer.set_vocabulary(vocabulary, idf_weights)

    def vocabulary_size(self) -> int:
        return self._lookup_layer.vocabulary_size()

    @property
    def idf_weights(self):
        return self._lookup_layer.idf_weights

    # ------------------------------------------------------------------ running
    def _convert_input(self, x):
        return self._strings(x)

    def call(self, inputs, mask=None, training: bool = False, **kwargs):
        rows = self._token_rows(inputs)
        lookup = self._lookup_layer
        flat = [t for row in rows for t in row]
        ids = lookup.lookup_tokens(flat)
        lengths = np.fromiter((len(r) for r in rows), dtype=np.int64, count=len(rows))
        if self._output_mode != "int":
            if not lookup._tokens and not lookup.pad_to_max_tokens:
                raise RuntimeError(f"TextVectorization '{self.name}': output_mode={self._output_mode!r} "
                                   "needs a vocabulary; call adapt() or pass vocabulary= first")
            row_of = np.repeat(np.arange(len(rows)), lengths)
            return encode_rows(ids, row_of, len(rows), self._output_mode, lookup._depth(), lookup.idf_weights)
        length = self._output_sequence_length or int(lengths.max(initial=0))
        out = np.zeros((len(rows), length), dtype=np.int64)
        # Scatter each row's first `length` ids: position within the row < length.
        starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        pos = np.arange(len(flat)) - np.repeat(starts, lengths)
        keep = pos < length
        out[np.repeat(np.arange(len(rows)), lengths)[keep], pos[keep]] = ids[keep]
        return out

    def forward(self, inputs, mask=None, training: bool = False, **kwargs):
        return self.call(inputs), None

    def backward(self, grad_outputs, cache):
        return None  # strings have no gradient

    def compute_output_shape(self, input_shape):
        batch = tuple(input_shape)[0] if len(input_shape) else None
        if self._output_mode == "int":
            return (batch, self._output_sequence_length)
        lookup = self._lookup_layer
        return (batch, lookup.max_tokens if lookup.pad_to_max_tokens else (lookup.vocabulary_size() or None))

    def compute_mask(self, inputs, mask):
        return None

    def get_config(self) -> dict:
        for arg in ("standardize", "split"):
            if callable(getattr(self, f"_{arg}")):
                raise ValueError(f"TextVectorization '{self.name}': a callable {arg} cannot be saved in a "
                                 "config (rnnkit never stores code); use a built-in mode to save the model")
        lookup = self._lookup_layer
        config = super().get_config()
        config.update({
            "max_tokens": lookup.max_tokens, "standardize": self._standardize, "split": self._split,
            "ngrams": list(self._ngrams_arg) if isinstance(self._ngrams_arg, tuple) else self._ngrams_arg,
            "output_mode": self._output_mode, "output_sequence_length": self._output_sequence_length,
            "pad_to_max_tokens": lookup.pad_to_max_tokens, "sparse": False, "ragged": False,
            "vocabulary": lookup.get_vocabulary() if lookup._tokens else None,
            "idf_weights": (None if lookup.idf_weights is None
                            else [float(v) for v in lookup.idf_weights[:lookup.vocabulary_size()]]),
            "encoding": "utf-8", "vocabulary_size": lookup.vocabulary_size(),
        })
        return config
