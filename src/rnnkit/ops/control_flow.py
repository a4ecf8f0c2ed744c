"""``keras.ops`` control flow (``cond``, ``fori_loop``, ``while_loop``, ``scan``, ``map``,
``vectorized_map``) and ``slice_update``. Loops run in Python, so every step's ops are
recorded and the gradient flows through them as through any other code."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .array_ops import stack
from .core import unbroadcast
from .tape import make, track, unwrap


def _flat_map(fn, s):
    if isinstance(s, (list, tuple)):
        return type(s)(_flat_map(fn, v) for v in s)
    if isinstance(s, dict):
        return {k: _flat_map(fn, v) for k, v in s.items()}
    return fn(s)


def cond(pred, true_fn: Callable, false_fn: Callable):
    return true_fn() if bool(np.asarray(unwrap(pred))) else false_fn()


def fori_loop(lower: int, upper: int, body_fun: Callable, init_val):
    val = init_val
    for i in range(int(unwrap(lower)), int(unwrap(upper))):
        val = body_fun(i, val)
    return val


def while_loop(cond: Callable, body: Callable, loop_vars, maximum_iterations: int | None = None):
    single = not isinstance(loop_vars, (list, tuple))
    vars_ = (loop_vars,) if single else tuple(loop_vars)
    n = 0
    while bool(np.asarray(unwrap(cond(*vars_)))):
        if maximum_iterations is not None and n >= maximum_iterations:
            break
        out = body(*vars_)
        vars_ = (out,) if single else tuple(out)
        n += 1
    return vars_[0] if single else type(loop_vars)(vars_)


def _index(s, i):
    return _flat_map(lambda x: x[i], s)


def _length(xs) -> int:
    while isinstance(xs, (list, tuple, dict)):
        xs = list(xs.values())[0] if isinstance(xs, dict) else xs[0]
    return int(np.shape(unwrap(xs))[0])


def _stack_struct(items: list):
    first = items[0]
    if isinstance(first, (list, tuple)):
        return type(first)(_stack_struct([it[k] for it in items]) for k in range(len(first)))
    if isinstance(first, dict):
        return {k: _stack_struct([it[k] for it in items]) for k in first}
    return stack(items, axis=0)


def scan(f: Callable, init, xs=None, length: int | None = None, reverse: bool = False, unroll: Any = 1):
    """``carry, y = f(carry, x)`` over the leading axis of ``xs``; returns ``(carry, stacked ys)``."""
    n = _length(xs) if xs is not None else int(length)
    order = range(n - 1, -1, -1) if reverse else range(n)
    carry, ys = init, []
    for i in order:
        carry, y = f(carry, None if xs is None else _index(xs, i))
        ys.append(y)
    if reverse:
        ys = ys[::-1]
    return carry, (_stack_struct(ys) if ys and ys[0] is not None else None)


def map(f: Callable, xs):  # noqa: A001 - Keras' name
    return _stack_struct([f(_index(xs, i)) for i in range(_length(xs))])


def vectorized_map(function: Callable, elements):
    return map(function, elements)


def slice_update(inputs, start_indices, updates):
    """``inputs`` with the block at ``start_indices`` replaced by ``updates``."""
    a, ta = track(inputs)
    u, tu = track(updates)
    key = tuple(slice(int(s), int(s) + n) for s, n in zip(unwrap(start_indices), np.shape(u)))
    out = np.array(a, copy=True)
    out[key] = u
    if ta is None and tu is None:
        return out

    def vjp(g):
        ga = np.array(g, copy=True)
        ga[key] = 0
        return ga, unbroadcast(np.asarray(g)[key], np.shape(u))

    return make(out, (ta, tu), vjp)
