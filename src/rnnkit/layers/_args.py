"""Argument checks shared by the convolution, pooling and reshaping layers."""
from __future__ import annotations

import numpy as np


def int_tuple(value, n: int, arg: str, owner: str, allow_zero: bool = False) -> tuple:
    """``value`` (an int or a sequence of ``n`` ints) as a tuple of ``n`` ints.

    Raises ValueError naming ``owner`` and ``arg`` for anything else, for negative values,
    and for zeros unless ``allow_zero``.
    """
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        out = (int(value),) * n
    elif isinstance(value, (list, tuple)) and len(value) == n and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
        out = tuple(int(v) for v in value)
    else:
        raise ValueError(f"{owner}: {arg} must be an integer or a tuple of {n} integers; "
                         f"received {value!r}")
    low = 0 if allow_zero else 1
    if any(v < low for v in out):
        what = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{owner}: {arg} must be {what}; received {value!r}")
    return out


def choice(value, options: tuple, arg: str, owner: str) -> str:
    """``value`` lower-cased when it is one of ``options``; ValueError otherwise."""
    v = value.lower() if isinstance(value, str) else value
    if v not in options:
        raise ValueError(f"{owner}: {arg} must be one of {list(options)}; received {value!r}")
    return v


def data_format(value, owner: str) -> str:
    """Keras' ``data_format`` (None means ``"channels_last"``)."""
    if value is None:
        return "channels_last"
    return choice(value, ("channels_last", "channels_first"), "data_format", owner)
