"""Process-wide settings: default float dtype, the seeded random generator, unique layer names.

rnnkit never touches NumPy's global random state. Every random draw goes through a
``np.random.Generator``: either one built from a layer's own ``seed=`` argument, or
the library generator returned by :func:`rng`, which :func:`set_random_seed` resets.
"""
from __future__ import annotations

import re
from collections import defaultdict

import numpy as np

_FLOATX = "float32"
_RNG: np.random.Generator = np.random.default_rng()
_UIDS: defaultdict[str, int] = defaultdict(int)


def floatx() -> str:
    """The default float dtype of new layers (``"float32"`` unless changed)."""
    return _FLOATX


def set_floatx(value: str) -> None:
    """Set the default float dtype: ``"float16"``, ``"float32"`` or ``"float64"``."""
    global _FLOATX
    if value not in ("float16", "float32", "float64"):
        raise ValueError(
            f"set_floatx expects 'float16', 'float32' or 'float64'; received {value!r}"
        )
    _FLOATX = value


def standardize_dtype(dtype) -> np.dtype:
    """Resolve ``None`` to :func:`floatx`, and names or NumPy dtypes to a float ``np.dtype``."""
    if dtype is None:
        return np.dtype(_FLOATX)
    if hasattr(dtype, "name") and not isinstance(dtype, (str, np.dtype, type)):
        dtype = dtype.name  # a DTypePolicy-like object
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(f"dtype must be a float dtype name such as 'float32'; received {dtype!r}") from exc
    if dt.kind != "f":
        raise TypeError(f"dtype must be a float dtype such as 'float32'; received {dt.name!r}")
    return dt


def set_random_seed(seed: int) -> None:
    """Make initialization, shuffling and dropout repeatable.

    Resets the library generator that layers without their own ``seed`` draw from.
    """
    global _RNG
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"set_random_seed expects an integer seed; received {seed!r}")
    _RNG = np.random.default_rng(int(seed))


def rng() -> np.random.Generator:
    """The library generator (see :func:`set_random_seed`)."""
    return _RNG


def make_rng(seed=None) -> np.random.Generator:
    """A generator for one consumer: from ``seed`` if given, else split off the library generator."""
    if isinstance(seed, np.random.Generator):
        return seed
    if seed is None:
        return np.random.default_rng(_RNG.integers(0, 2**63 - 1))
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"seed must be an integer or np.random.Generator; received {seed!r}")
    return np.random.default_rng(int(seed))


def to_snake_case(name: str) -> str:
    """``SimpleRNN`` -> ``simple_rnn``, ``LSTM`` -> ``lstm``, ``TimeDistributed`` -> ``time_distributed``,
    ``Conv1D`` -> ``conv1d`` (as Keras: a digit does not start a new word)."""
    s = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", s).lower()


def unique_name(prefix: str) -> str:
    """Keras-style default names: ``lstm``, ``lstm_1``, ``lstm_2``, ..."""
    n = _UIDS[prefix]
    _UIDS[prefix] += 1
    return prefix if n == 0 else f"{prefix}_{n}"


def clear_session() -> None:
    """Reset default layer names (as ``keras.backend.clear_session``)."""
    _UIDS.clear()
