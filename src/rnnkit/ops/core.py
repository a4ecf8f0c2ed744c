"""``keras.ops`` arithmetic, comparisons, reductions and products, with gradient rules.

Every function takes NumPy arrays, Python numbers, :class:`~rnnkit.ops.tape.Tensor` or
:class:`~rnnkit.ops.tape.Variable` values and broadcasts as NumPy does. Without an active
recording it returns a NumPy array; while one is active and an input is tracked, a
Tensor whose node holds the vector-Jacobian product (``vjp``) written next to the op.
"""
from __future__ import annotations

import builtins

import numpy as np

from .tape import make, track, unwrap


def unbroadcast(g, shape) -> np.ndarray:
    """Sum ``g`` over the axes NumPy broadcast to reach it from ``shape``."""
    g = np.asarray(g)
    if g.shape == tuple(shape):
        return g
    extra = g.ndim - len(shape)
    if extra > 0:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g.reshape(shape)


def _unary(x, f, df):
    """``f(x)``; ``df(v, out, g)`` is the gradient for input value ``v``."""
    v, t = track(x)
    out = f(v)
    if t is None:
        return out
    return make(out, (t,), lambda g: (df(v, out, g),))


def _binary(x1, x2, f, d1, d2):
    a, ta = track(x1)
    b, tb = track(x2)
    out = f(a, b)
    if ta is None and tb is None:
        return out

    def vjp(g):
        return (None if ta is None else unbroadcast(d1(a, b, out, g), np.shape(a)),
                None if tb is None else unbroadcast(d2(a, b, out, g), np.shape(b)))

    return make(out, (ta, tb), vjp)


def _constant(x, f):
    """A value with no gradient (comparisons, rounding, indices)."""
    return f(*[unwrap(v) for v in x])


# ------------------------------------------------------------------------- arithmetic
def add(x1, x2):
    return _binary(x1, x2, np.add, lambda a, b, o, g: g, lambda a, b, o, g: g)


def subtract(x1, x2):
    return _binary(x1, x2, np.subtract, lambda a, b, o, g: g, lambda a, b, o, g: -g)


def multiply(x1, x2):
    return _binary(x1, x2, np.multiply, lambda a, b, o, g: g * b, lambda a, b, o, g: g * a)


def divide(x1, x2):
    return _binary(x1, x2, np.true_divide, lambda a, b, o, g: g / b, lambda a, b, o, g: -g * o / b)


true_divide = divide


def divide_no_nan(x1, x2):
    """``x1 / x2``, 0 where ``x2 == 0``."""
    def f(a, b):
        safe = np.where(b == 0, 1, b)
        return np.where(b == 0, 0, a / safe)

    def d1(a, b, o, g):
        return np.where(b == 0, 0, g / np.where(b == 0, 1, b))

    def d2(a, b, o, g):
        return np.where(b == 0, 0, -g * o / np.where(b == 0, 1, b))

    return _binary(x1, x2, f, d1, d2)


def floor_divide(x1, x2):
    return _constant((x1, x2), np.floor_divide)


def mod(x1, x2):
    return _constant((x1, x2), np.mod)


def power(x1, x2):
    def d1(a, b, o, g):
        return g * b * np.power(a, b - 1) if np.ndim(b) or b != 0 else np.zeros_like(g)

    def d2(a, b, o, g):
        safe = np.where(a > 0, a, 1)
        return g * o * np.where(a > 0, np.log(safe), 0)

    return _binary(x1, x2, np.power, d1, d2)


def negative(x):
    return _unary(x, np.negative, lambda v, o, g: -g)


def abs(x):  # noqa: A001 - Keras' name
    return _unary(x, np.abs, lambda v, o, g: g * np.sign(v))


absolute = abs


def square(x):
    return _unary(x, np.square, lambda v, o, g: 2 * g * v)


def sqrt(x):
    return _unary(x, np.sqrt, lambda v, o, g: g / (2 * o))


def rsqrt(x):
    return _unary(x, lambda v: 1 / np.sqrt(v), lambda v, o, g: -0.5 * g * o / v)


def reciprocal(x):
    return _unary(x, np.reciprocal, lambda v, o, g: -g * o * o)


def exp(x):
    return _unary(x, np.exp, lambda v, o, g: g * o)


def expm1(x):
    return _unary(x, np.expm1, lambda v, o, g: g * (o + 1))


def log(x):
    return _unary(x, np.log, lambda v, o, g: g / v)


def log1p(x):
    return _unary(x, np.log1p, lambda v, o, g: g / (1 + v))


def log2(x):
    return _unary(x, np.log2, lambda v, o, g: g / (v * np.log(2.0)))


def log10(x):
    return _unary(x, np.log10, lambda v, o, g: g / (v * np.log(10.0)))


def sin(x):
    return _unary(x, np.sin, lambda v, o, g: g * np.cos(v))


def cos(x):
    return _unary(x, np.cos, lambda v, o, g: -g * np.sin(v))


def tanh(x):
    return _unary(x, np.tanh, lambda v, o, g: g * (1 - o * o))


def sigmoid(x):
    def f(v):
        e = np.exp(-np.abs(v))  # never overflows
        return np.where(v >= 0, 1, e) / (1 + e)

    return _unary(x, f, lambda v, o, g: g * o * (1 - o))


def sign(x):
    return _constant((x,), np.sign)


def floor(x):
    return _constant((x,), np.floor)


def ceil(x):
    return _constant((x,), np.ceil)


def round(x, decimals: int = 0):  # noqa: A001 - Keras' name
    return _constant((x,), lambda v: np.round(v, decimals))


def maximum(x1, x2):
    # Ties send the gradient to the first argument, as TensorFlow does.
    return _binary(x1, x2, np.maximum, lambda a, b, o, g: g * (a >= b), lambda a, b, o, g: g * (a < b))


def minimum(x1, x2):
    return _binary(x1, x2, np.minimum, lambda a, b, o, g: g * (a <= b), lambda a, b, o, g: g * (a > b))


def clip(x, x_min, x_max):
    lo, hi = unwrap(x_min), unwrap(x_max)
    return _unary(x, lambda v: np.clip(v, lo, hi), lambda v, o, g: g * ((v >= lo) & (v <= hi)))


# ------------------------------------------------------------------------ comparisons
def equal(x1, x2):
    return _constant((x1, x2), np.equal)


def not_equal(x1, x2):
    return _constant((x1, x2), np.not_equal)


def greater(x1, x2):
    return _constant((x1, x2), np.greater)


def greater_equal(x1, x2):
    return _constant((x1, x2), np.greater_equal)


def less(x1, x2):
    return _constant((x1, x2), np.less)


def less_equal(x1, x2):
    return _constant((x1, x2), np.less_equal)


def logical_and(x1, x2):
    return _constant((x1, x2), np.logical_and)


def logical_or(x1, x2):
    return _constant((x1, x2), np.logical_or)


def logical_not(x):
    return _constant((x,), np.logical_not)


def isnan(x):
    return _constant((x,), np.isnan)


def isfinite(x):
    return _constant((x,), np.isfinite)


def all(x, axis=None, keepdims: bool = False):  # noqa: A001
    return _constant((x,), lambda v: np.all(v, axis=_axis(axis), keepdims=keepdims))


def any(x, axis=None, keepdims: bool = False):  # noqa: A001
    return _constant((x,), lambda v: np.any(v, axis=_axis(axis), keepdims=keepdims))


# ------------------------------------------------------------------------- reductions
def _axis(axis):
    return tuple(axis) if isinstance(axis, list) else axis


def _expand_back(g, shape, axis, keepdims):
    """Reshape a reduced gradient so it broadcasts against the input of ``shape``."""
    if axis is None:
        return np.reshape(g, (1,) * len(shape))
    if keepdims:
        return g
    axes = (axis,) if isinstance(axis, int) else tuple(axis)
    axes = sorted(a % len(shape) for a in axes)
    for a in axes:
        g = np.expand_dims(g, a)
    return g


def sum(x, axis=None, keepdims: bool = False):  # noqa: A001
    axis = _axis(axis)
    return _unary(x, lambda v: np.sum(v, axis=axis, keepdims=keepdims),
                  lambda v, o, g: np.broadcast_to(_expand_back(g, np.shape(v), axis, keepdims), np.shape(v)))


def mean(x, axis=None, keepdims: bool = False):
    axis = _axis(axis)

    def df(v, o, g):
        n = np.size(v) // builtins.max(np.size(o), 1) if np.size(v) else 1
        return np.broadcast_to(_expand_back(g, np.shape(v), axis, keepdims) / n, np.shape(v))

    return _unary(x, lambda v: np.mean(v, axis=axis, keepdims=keepdims), df)


def _extreme(x, axis, keepdims, f):
    axis = _axis(axis)

    def df(v, o, g):
        ob = _expand_back(o, np.shape(v), axis, keepdims)
        hit = (v == ob)
        # Ties share the gradient evenly (as TensorFlow's reduce_max does).
        count = np.sum(hit, axis=axis, keepdims=True)
        return hit * _expand_back(g, np.shape(v), axis, keepdims) / count

    return _unary(x, lambda v: f(v, axis=axis, keepdims=keepdims), df)


def max(x, axis=None, keepdims: bool = False, initial=None):  # noqa: A001
    return _extreme(x, axis, keepdims, np.max)


def min(x, axis=None, keepdims: bool = False, initial=None):  # noqa: A001
    return _extreme(x, axis, keepdims, np.min)


amax, amin = max, min


def prod(x, axis=None, keepdims: bool = False, dtype=None):
    axis = _axis(axis)

    def df(v, o, g):
        # Product of the others, without dividing (correct where entries are zero).
        vv = np.asarray(v)
        ax = tuple(range(vv.ndim)) if axis is None else ((axis,) if isinstance(axis, int) else axis)
        ax = tuple(sorted(a % vv.ndim for a in ax))
        keep = [a for a in range(vv.ndim) if a not in ax]
        moved = np.transpose(vv, keep + list(ax)).reshape(
            [vv.shape[a] for a in keep] + [-1])
        ones = np.ones(moved.shape[:-1] + (1,), dtype=vv.dtype)
        left = np.concatenate([ones, np.cumprod(moved, axis=-1)[..., :-1]], axis=-1)
        right = np.concatenate([np.cumprod(moved[..., ::-1], axis=-1)[..., :-1][..., ::-1], ones], axis=-1)
        others = (left * right).reshape([vv.shape[a] for a in keep] + [vv.shape[a] for a in ax])
        inv = np.argsort(keep + list(ax))
        others = np.transpose(others, inv)
        return others * _expand_back(g, vv.shape, axis, keepdims)

    return _unary(x, lambda v: np.prod(v, axis=axis, keepdims=keepdims), df)


def var(x, axis=None, keepdims: bool = False):
    m = mean(x, axis=axis, keepdims=True)
    return mean(square(subtract(x, m)), axis=axis, keepdims=keepdims)


def std(x, axis=None, keepdims: bool = False):
    return sqrt(var(x, axis=axis, keepdims=keepdims))


def logsumexp(x, axis=None, keepdims: bool = False):
    axis = _axis(axis)

    def f(v):
        m = np.max(v, axis=axis, keepdims=True)
        m = np.where(np.isfinite(m), m, 0)
        out = np.log(np.sum(np.exp(v - m), axis=axis, keepdims=True)) + m
        return out if keepdims else np.squeeze(out, axis=axis) if axis is not None else out.reshape(())

    def df(v, o, g):
        ob = _expand_back(o, np.shape(v), axis, keepdims)
        return np.exp(v - ob) * _expand_back(g, np.shape(v), axis, keepdims)

    return _unary(x, f, df)


def cumsum(x, axis=None, dtype=None):
    def f(v):
        return np.cumsum(v, axis=axis, dtype=dtype)

    def df(v, o, g):
        if axis is None:
            return np.flip(np.cumsum(np.flip(np.ravel(g))), 0).reshape(np.shape(v))
        return np.flip(np.cumsum(np.flip(g, axis), axis=axis), axis)

    return _unary(x, f, df)


def cumprod(x, axis=None, dtype=None):
    def df(v, o, g):
        vv = np.ravel(v) if axis is None else v
        oo = np.ravel(o) if axis is None else o
        gg = np.ravel(g) if axis is None else g
        ax = 0 if axis is None else axis
        # d out_j / d v_i = out_j / v_i for j >= i (inputs here are assumed non-zero)
        r = np.flip(np.cumsum(np.flip(gg * oo, ax), axis=ax), ax) / vv
        return r.reshape(np.shape(v))

    return _unary(x, lambda v: np.cumprod(v, axis=axis, dtype=dtype), df)


def argmax(x, axis=None, keepdims: bool = False):
    return _constant((x,), lambda v: np.argmax(v, axis=axis, keepdims=keepdims))


def argmin(x, axis=None, keepdims: bool = False):
    return _constant((x,), lambda v: np.argmin(v, axis=axis, keepdims=keepdims))


def norm(x, ord=None, axis=None, keepdims: bool = False):  # noqa: A002
    """The L2 norm (Frobenius over all axes by default); other orders are not differentiable here."""
    if ord not in (None, 2, "fro", "euclidean"):
        return _constant((x,), lambda v: np.linalg.norm(v, ord=ord, axis=axis, keepdims=keepdims))
    return sqrt(sum(square(x), axis=axis, keepdims=keepdims))
