"""``keras.ops`` shape and indexing operations, with gradient rules (see :mod:`.core`)."""
from __future__ import annotations

import builtins

import numpy as np

from .core import _unary, unbroadcast
from .tape import make, track, unwrap


def reshape(x, newshape):
    newshape = tuple(-1 if d is None else int(d) for d in
                     ((newshape,) if isinstance(newshape, int) else newshape))
    return _unary(x, lambda v: np.reshape(v, newshape), lambda v, o, g: np.reshape(g, np.shape(v)))


def ravel(x):
    return reshape(x, (-1,))


def transpose(x, axes=None):
    def df(v, o, g):
        return np.transpose(g) if axes is None else np.transpose(g, np.argsort(axes))

    return _unary(x, lambda v: np.transpose(v, axes), df)


def swapaxes(x, axis1: int, axis2: int):
    return _unary(x, lambda v: np.swapaxes(v, axis1, axis2), lambda v, o, g: np.swapaxes(g, axis1, axis2))


def moveaxis(x, source, destination):
    return _unary(x, lambda v: np.moveaxis(v, source, destination),
                  lambda v, o, g: np.moveaxis(g, destination, source))


def expand_dims(x, axis):
    return _unary(x, lambda v: np.expand_dims(v, axis), lambda v, o, g: np.reshape(g, np.shape(v)))


def squeeze(x, axis=None):
    ax = tuple(axis) if isinstance(axis, list) else axis
    return _unary(x, lambda v: np.squeeze(v, axis=ax), lambda v, o, g: np.reshape(g, np.shape(v)))


def broadcast_to(x, shape):
    return _unary(x, lambda v: np.broadcast_to(v, shape), lambda v, o, g: unbroadcast(g, np.shape(v)))


def flip(x, axis=None):
    return _unary(x, lambda v: np.flip(v, axis), lambda v, o, g: np.flip(g, axis))


def roll(x, shift, axis=None):
    def df(v, o, g):
        neg = tuple(-s for s in shift) if isinstance(shift, (tuple, list)) else -shift
        return np.roll(g, neg, axis)

    return _unary(x, lambda v: np.roll(v, shift, axis), df)


def tile(x, repeats):
    reps = (repeats,) if isinstance(repeats, int) else tuple(repeats)

    def df(v, o, g):
        shp = np.shape(v)
        nd = max(len(shp), len(reps))
        shp = (1,) * (nd - len(shp)) + tuple(shp)
        rr = (1,) * (nd - len(reps)) + reps
        split = [d for pair in zip(rr, shp) for d in pair]
        gg = np.reshape(g, split).sum(axis=tuple(range(0, 2 * nd, 2)))
        return gg.reshape(np.shape(v))

    return _unary(x, lambda v: np.tile(v, reps), df)


def repeat(x, repeats, axis=None):
    def df(v, o, g):
        vv = np.asarray(v)
        if axis is None:
            idx = np.repeat(np.arange(vv.size), repeats)
            out = np.zeros(vv.size, dtype=np.result_type(g))
            np.add.at(out, idx, np.ravel(g))
            return out.reshape(vv.shape)
        idx = np.repeat(np.arange(vv.shape[axis]), repeats)
        out = np.zeros(vv.shape, dtype=np.result_type(g))
        gm = np.moveaxis(g, axis, 0)
        om = np.moveaxis(out, axis, 0)
        np.add.at(om, idx, gm)
        return out

    return _unary(x, lambda v: np.repeat(v, repeats, axis=axis), df)


def pad(x, pad_width, mode: str = "constant", constant_values=None):
    if mode != "constant":
        raise NotImplementedError(f"ops.pad: only mode='constant' has a gradient rule; received {mode!r}")
    pw = np.broadcast_to(np.asarray(pad_width), (np.ndim(unwrap(x)), 2))
    cv = 0 if constant_values is None else constant_values

    def df(v, o, g):
        sl = tuple(builtins.slice(int(a), g.shape[i] - int(b)) for i, (a, b) in enumerate(pw))
        return g[sl]

    return _unary(x, lambda v: np.pad(v, pw, mode="constant", constant_values=cv), df)


def concatenate(xs, axis: int = 0):
    vals, ts = zip(*[track(x) for x in xs])
    out = np.concatenate(vals, axis=axis)
    if all(t is None for t in ts):
        return out
    bounds = np.cumsum([np.shape(v)[axis] for v in vals])[:-1]

    def vjp(g):
        return tuple(np.split(g, bounds, axis=axis))

    return make(out, tuple(ts), vjp)


def stack(xs, axis: int = 0):
    vals, ts = zip(*[track(x) for x in xs])
    out = np.stack(vals, axis=axis)
    if all(t is None for t in ts):
        return out
    return make(out, tuple(ts), lambda g: tuple(np.moveaxis(g, axis, 0)))


def hstack(xs):
    return concatenate(xs, axis=1 if np.ndim(unwrap(xs[0])) > 1 else 0)


def vstack(xs):
    return concatenate(xs, axis=0)


def unstack(x, num=None, axis: int = 0):
    n = np.shape(unwrap(x))[axis]
    return [take(x, i, axis=axis) for i in range(n)]


def split(x, indices_or_sections, axis: int = 0):
    """Keras' ``split``: a list of pieces (sections, or cut indices)."""
    v = unwrap(x)
    size = np.shape(v)[axis]
    if isinstance(indices_or_sections, int):
        if size % indices_or_sections:
            raise ValueError(f"ops.split: axis {axis} of size {size} cannot be split into "
                             f"{indices_or_sections} equal sections")
        step = size // indices_or_sections
        cuts = list(range(step, size, step))
    else:
        cuts = [int(i) for i in indices_or_sections]
    edges = [0] + cuts + [size]
    pieces = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        key = [builtins.slice(None)] * np.ndim(v)
        key[axis] = builtins.slice(lo, hi)
        pieces.append(getitem(x, tuple(key)))
    return pieces


def _clean_key(key):
    if isinstance(key, tuple):
        return tuple(_clean_key(k) for k in key)
    if isinstance(key, list):
        return np.asarray([unwrap(k) for k in key])
    return unwrap(key)


def getitem(x, key):
    """``x[key]`` (NumPy indexing: ints, slices, None, Ellipsis, integer and boolean arrays)."""
    key = _clean_key(key)
    v, t = track(x)
    out = v[key]
    if t is None:
        return out

    def vjp(g):
        full = np.zeros(np.shape(v), dtype=np.result_type(g))
        np.add.at(full, key, g)  # repeated indices add up
        return (full,)

    return make(out, (t,), vjp)


def slice(inputs, start_indices, shape):  # noqa: A001 - Keras' name
    key = tuple(builtins.slice(int(s), int(s) + int(n)) for s, n in zip(unwrap(start_indices), shape))
    return getitem(inputs, key)


def take(x, indices, axis=None):
    idx = np.asarray(unwrap(indices))
    if idx.dtype.kind not in "iu":
        idx = idx.astype(np.int64)
    v, t = track(x)
    out = np.take(v, idx, axis=axis)
    if t is None:
        return out

    def vjp(g):
        full = np.zeros(np.shape(v), dtype=np.result_type(g))
        if axis is None:
            np.add.at(full.reshape(-1), idx.reshape(-1), np.reshape(g, -1))
        else:
            a = axis % np.ndim(v)
            fm = np.moveaxis(full, a, 0)
            gm = np.moveaxis(np.asarray(g), list(range(a, a + idx.ndim)), list(range(idx.ndim)))
            np.add.at(fm, idx, gm)
        return (full,)

    return make(out, (t,), vjp)


def take_along_axis(x, indices, axis=None):
    idx = np.asarray(unwrap(indices)).astype(np.int64, copy=False)
    v, t = track(x)
    out = np.take_along_axis(v, idx, axis=axis)
    if t is None:
        return out

    def vjp(g):
        full = np.zeros(np.shape(v), dtype=np.result_type(g))
        if axis is None:
            np.add.at(full.reshape(-1), idx.reshape(-1), np.reshape(g, -1))
            return (full,)
        a = axis % np.ndim(v)
        grid = list(np.ix_(*[np.arange(n) for n in np.shape(idx)]))
        grid[a] = idx
        np.add.at(full, tuple(grid), g)
        return (full,)

    return make(out, (t,), vjp)


def where(condition, x1=None, x2=None):
    c = np.asarray(unwrap(condition)).astype(bool)
    if x1 is None and x2 is None:
        return np.nonzero(c)
    a, ta = track(x1)
    b, tb = track(x2)
    out = np.where(c, a, b)
    if ta is None and tb is None:
        return out

    def vjp(g):
        z = np.zeros_like(g)
        return (None if ta is None else unbroadcast(np.where(c, g, z), np.shape(a)),
                None if tb is None else unbroadcast(np.where(c, z, g), np.shape(b)))

    return make(out, (ta, tb), vjp)


def sort(x, axis: int = -1):
    idx = np.argsort(unwrap(x), axis=axis, kind="stable")
    return take_along_axis(x, idx, axis=axis)


def argsort(x, axis: int = -1):
    return np.argsort(unwrap(x), axis=axis, kind="stable")


def top_k(x, k: int, sorted: bool = True):  # noqa: A002 - Keras' name
    """``(values, indices)`` of the ``k`` largest entries along the last axis (ties: lower index first)."""
    v = np.asarray(unwrap(x))
    idx = np.argsort(-v, axis=-1, kind="stable")[..., :k]
    return take_along_axis(x, idx, axis=-1), idx


def triu(x, k: int = 0):
    return _unary(x, lambda v: np.triu(v, k), lambda v, o, g: np.triu(g, k))


def tril(x, k: int = 0):
    return _unary(x, lambda v: np.tril(v, k), lambda v, o, g: np.tril(g, k))
