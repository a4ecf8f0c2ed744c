"""Label and array helpers with Keras semantics: ``to_categorical`` and ``normalize``."""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["normalize", "to_categorical"]


def to_categorical(y: Any, num_classes: int | None = None, dtype: Any = "float64") -> np.ndarray:
    """One-hot encode integer class labels (``keras.utils.to_categorical``).

    Args:
        y: array-like of integer labels in ``[0, num_classes)``, any shape. A
            trailing axis of size 1 is dropped first (so ``(n, 1)`` gives
            ``(n, num_classes)``, not ``(n, 1, num_classes)``). Floats are
            truncated toward zero, as Keras' ``int64`` cast does.
        num_classes: number of classes; ``None`` or 0 (as in Keras) means ``max(y) + 1``.
        dtype: output dtype; ``float64`` by default, like Keras 3's NumPy path.

    Returns:
        Array of shape ``y.shape (minus a trailing 1) + (num_classes,)``.

    Raises:
        ValueError: a label outside ``[0, num_classes)``, an empty ``y`` without
            ``num_classes``, or a bad ``num_classes``.
    """
    labels = np.array(y, dtype="int64")
    shape = labels.shape
    if len(shape) > 1 and shape[-1] == 1:
        shape = shape[:-1]
    labels = labels.reshape(-1)
    if num_classes is not None and (
        isinstance(num_classes, bool) or not isinstance(num_classes, (int, np.integer)) or num_classes < 0
    ):
        raise ValueError(
            f"to_categorical: num_classes must be None or a non-negative integer; received {num_classes!r}"
        )
    if not num_classes:
        if labels.size == 0:
            raise ValueError("to_categorical: num_classes is required when y is empty; received y with 0 labels")
        num_classes = int(labels.max()) + 1
    num_classes = int(num_classes)
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        bad = labels[(labels < 0) | (labels >= num_classes)][0]
        raise ValueError(
            f"to_categorical: labels must be in [0, {num_classes}) for num_classes={num_classes}; "
            f"received label {int(bad)}"
        )
    out = np.zeros((labels.size, num_classes), dtype=dtype)
    out[np.arange(labels.size), labels] = 1
    return out.reshape(shape + (num_classes,))


def normalize(x: Any, axis: int = -1, order: int | float = 2) -> np.ndarray:
    """Divide ``x`` by its ``order``-norm along ``axis`` (zero norms are left as 1).

    Args:
        x: array-like.
        axis: axis to normalize along.
        order: norm order passed to ``np.linalg.norm`` (2 = Euclidean, 1 = L1).

    Returns:
        A new float array of the same shape as ``x``.

    Note:
        Same values as Keras 3 for ``axis=-1`` on arrays of rank >= 2. Keras turns
        ``axis=0`` into ``-1`` when re-expanding the norm (wrong for 2-D inputs)
        and returns shape ``(1, n)`` for 1-D inputs; rnnkit normalizes along the
        axis asked for and keeps the input shape.
    """
    arr = np.asarray(x)
    if not np.issubdtype(arr.dtype, np.floating):
        arr = arr.astype("float64")
    if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
        raise ValueError(f"normalize: axis must be an integer; received {axis!r}")
    norm = np.linalg.norm(arr, order, axis, keepdims=True)
    norm[norm == 0] = 1  # leave all-zero vectors unchanged instead of dividing by 0
    return arr / norm
