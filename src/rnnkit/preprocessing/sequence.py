"""``pad_sequences``: turn a ragged list of sequences into one rectangular array.

Results are identical to ``keras.utils.pad_sequences`` (and the Keras 2 /
``keras-preprocessing`` version) for every input Keras accepts. Differences, all
on inputs where Keras crashes or misbehaves: arguments are validated up front with
a ``ValueError`` naming the argument; ``maxlen=0`` gives an ``(n, 0)`` array for
both truncating modes; an empty ``sequences`` gives an ``(0, maxlen or 0)`` array;
any iterable (e.g. a generator) is accepted; and ``dtype="object"`` or
``np.object_`` count as object dtypes for string padding values.
"""
from __future__ import annotations

from typing import Any, Iterable, Sequence

import numpy as np

__all__ = ["pad_sequences"]

_SIDES = ("pre", "post")


def _check_side(name: str, value: Any) -> None:
    if not isinstance(value, str) or value not in _SIDES:
        raise ValueError(f"pad_sequences: {name} must be 'pre' or 'post'; received {value!r}")


def pad_sequences(
    sequences: Iterable[Sequence[Any]] | np.ndarray,
    maxlen: int | None = None,
    dtype: Any = "int32",
    padding: str = "pre",
    truncating: str = "pre",
    value: Any = 0.0,
) -> np.ndarray:
    """Pad (and truncate) sequences to a common length.

    Args:
        sequences: ``num_samples`` sequences (lists, tuples or arrays). Elements may
            themselves be arrays of a fixed shape ``sample_shape``, taken from the
            first non-empty sequence.
        maxlen: output length; default the longest sequence's length.
        dtype: output dtype. Use ``object`` (or a ``str`` dtype like ``"<U10"``)
            for string tokens.
        padding: ``"pre"`` pads at the start, ``"post"`` at the end.
        truncating: ``"pre"`` drops the start of long sequences, ``"post"`` the end.
        value: the padding value (a string needs an object or str ``dtype``).

    Returns:
        Array of shape ``(num_samples, maxlen) + sample_shape`` and dtype ``dtype``.

    Raises:
        ValueError: bad ``padding``, ``truncating``, ``maxlen``, a non-sequence
            element, inconsistent element shapes, or a string ``value`` with a
            numeric ``dtype``.
    """
    _check_side("padding", padding)
    _check_side("truncating", truncating)
    if maxlen is not None and (
        isinstance(maxlen, bool) or not isinstance(maxlen, (int, np.integer)) or maxlen < 0
    ):
        raise ValueError(f"pad_sequences: maxlen must be None or an integer >= 0; received {maxlen!r}")
    if isinstance(sequences, (str, bytes)):
        raise ValueError(
            "pad_sequences: sequences must be a list of sequences; received a single "
            f"{type(sequences).__name__} {sequences[:30]!r}"
        )
    if not hasattr(sequences, "__len__"):
        try:
            sequences = list(sequences)
        except TypeError:
            raise ValueError(
                f"pad_sequences: sequences must be a list of sequences; received {type(sequences).__name__}"
            ) from None

    lengths: list[int] = []
    sample_shape: tuple[int, ...] | None = None
    for idx, seq in enumerate(sequences):
        # A bare string would pass len() but is one token, not a sequence of them.
        if (
            isinstance(seq, (str, bytes))
            or not hasattr(seq, "__len__")
            or (isinstance(seq, np.ndarray) and seq.ndim == 0)
        ):
            raise ValueError(
                "pad_sequences: sequences must be a list of sequences (lists or arrays); "
                f"element {idx} is {type(seq).__name__} {seq!r:.40}"
            )
        lengths.append(len(seq))
        if sample_shape is None and len(seq):
            sample_shape = np.asarray(seq).shape[1:]
    if sample_shape is None:
        sample_shape = ()

    target = int(max(lengths, default=0)) if maxlen is None else int(maxlen)

    out_dtype = np.dtype(dtype)
    if isinstance(value, str) and out_dtype.kind not in ("O", "U", "S"):
        raise ValueError(
            f"pad_sequences: a string value needs dtype=object or a str dtype; received "
            f"dtype={out_dtype.name!r} with value={value!r}"
        )

    x = np.full((len(lengths), target) + sample_shape, value, dtype=out_dtype)
    if target == 0:
        return x  # nothing to copy; also avoids s[-0:] meaning "everything"
    for idx, seq in enumerate(sequences):
        if lengths[idx] == 0:
            continue
        kept = seq[-target:] if truncating == "pre" else seq[:target]
        kept = np.asarray(kept, dtype=out_dtype)
        if kept.shape[1:] != sample_shape:
            raise ValueError(
                f"pad_sequences: every element of sequences must have shape {sample_shape} "
                f"(from the first non-empty sequence); sequence {idx} has {kept.shape[1:]}"
            )
        if padding == "post":
            x[idx, : len(kept)] = kept
        else:
            x[idx, target - len(kept) :] = kept
    return x
