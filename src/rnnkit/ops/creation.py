"""``keras.ops`` array creation, dtypes and conversion (``zeros``, ``cast``,
``convert_to_tensor``, ``shape``...); ``cast`` and ``identity`` carry gradients."""
from __future__ import annotations

import numpy as np

from .core import _unary
from .tape import Tensor, Variable, make, track, unwrap


# -------------------------------------------------------------------- creation, dtype
def _dtype(dtype):
    from .. import backend
    return backend.standardize_dtype(dtype) if dtype is not None else np.dtype(backend.floatx())


def zeros(shape, dtype=None):
    return np.zeros(shape, dtype=_dtype(dtype))


def ones(shape, dtype=None):
    return np.ones(shape, dtype=_dtype(dtype))


def full(shape, fill_value, dtype=None):
    return np.full(shape, unwrap(fill_value), dtype=_dtype(dtype))


def zeros_like(x, dtype=None):
    return np.zeros_like(np.asarray(unwrap(x)), dtype=dtype)


def ones_like(x, dtype=None):
    return np.ones_like(np.asarray(unwrap(x)), dtype=dtype)


def full_like(x, fill_value, dtype=None):
    return np.full_like(np.asarray(unwrap(x)), unwrap(fill_value), dtype=dtype)


def eye(N, M=None, k: int = 0, dtype=None):  # noqa: N803 - Keras' names
    return np.eye(N, M, k, dtype=_dtype(dtype))


def arange(start, stop=None, step=1, dtype=None):
    return np.arange(start, stop, step, dtype=dtype)


def linspace(start, stop, num=50, endpoint=True, dtype=None):
    return np.linspace(start, stop, num, endpoint=endpoint, dtype=dtype)


def cast(x, dtype):
    from .. import backend
    dt = backend.standardize_dtype(dtype) if not isinstance(dtype, np.dtype) else dtype
    v, t = track(x)
    out = np.asarray(v).astype(dt)
    if t is None or dt.kind != "f":
        return out
    src = np.asarray(v).dtype
    return make(out, (t,), lambda g: (np.asarray(g).astype(src) if src.kind == "f" else None,))


def convert_to_tensor(x, dtype=None, sparse=None):
    """An array (or, while recording, the tracked Tensor) for ``x``."""
    if isinstance(x, (Tensor, Variable, np.ndarray)):
        v, t = track(x)
        if t is not None:
            return t if dtype is None else cast(t, dtype)
        x = v
    arr = np.asarray(x)
    if dtype is not None:
        from .. import backend
        arr = arr.astype(backend.standardize_dtype(dtype), copy=False)
    elif arr.dtype == np.float64 and not isinstance(x, np.ndarray):
        from .. import backend  # Python floats become floatx, as in Keras
        arr = arr.astype(backend.floatx())
    return arr


def convert_to_numpy(x) -> np.ndarray:
    return np.array(unwrap(x))


def stop_gradient(x):
    return np.asarray(unwrap(x))


def identity(x):
    return _unary(x, lambda v: np.array(v), lambda v, o, g: g)


def shape(x) -> tuple:
    return tuple(np.shape(unwrap(x)))


def ndim(x) -> int:
    return int(np.ndim(unwrap(x)))


def size(x) -> int:
    return int(np.size(unwrap(x)))


def dtype(x) -> str:
    return np.asarray(unwrap(x)).dtype.name


def is_tensor(x) -> bool:
    return isinstance(x, (np.ndarray, Tensor, Variable))
