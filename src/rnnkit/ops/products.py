"""``keras.ops`` products: ``matmul``, ``dot``, ``einsum``, ``tensordot``, ``outer``, with
gradient rules (see :mod:`.core`)."""
from __future__ import annotations

import builtins

import numpy as np

from .core import multiply, unbroadcast
from .tape import make, track, unwrap


# --------------------------------------------------------------------------- products
def matmul(x1, x2):
    a, ta = track(x1)
    b, tb = track(x2)
    out = np.matmul(a, b)
    if ta is None and tb is None:
        return out

    def vjp(g):
        ga = gb = None
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        g2 = g
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if b.ndim == 1:
            g2 = np.expand_dims(g2, -1)
        if ta is not None:
            ga = unbroadcast(np.matmul(g2, np.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
        if tb is not None:
            gb = unbroadcast(np.matmul(np.swapaxes(a2, -1, -2), g2), b2.shape).reshape(b.shape)
        return ga, gb

    return make(out, (ta, tb), vjp)


def dot(x1, x2):
    a, b = unwrap(x1), unwrap(x2)
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return multiply(x1, x2)
    if np.ndim(b) <= 2:
        return matmul(x1, x2)
    return tensordot(x1, x2, axes=([-1], [-2]))


def einsum(subscripts: str, *operands):
    vals, ts = zip(*[track(o) for o in operands])
    out = np.einsum(subscripts, *vals)
    if builtins.all(t is None for t in ts):
        return out
    spec = subscripts.replace(" ", "")
    if "..." in spec:
        raise NotImplementedError("einsum with '...' has no gradient rule here; write the axes out")
    lhs, rhs = spec.split("->") if "->" in spec else (spec, None)
    ins = lhs.split(",")
    if rhs is None:
        letters = [c for c in "".join(ins)]
        rhs = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))

    def vjp(g):
        grads = []
        for k, (t, v) in enumerate(zip(ts, vals)):
            if t is None:
                grads.append(None)
                continue
            others = [ins[j] for j in range(len(ins)) if j != k]
            target = ins[k]
            # Letters repeated inside one operand (diagonals) are not supported.
            if len(set(target)) != len(target):
                raise NotImplementedError("einsum gradient with a repeated index in one operand")
            known = set(rhs) | set("".join(others))
            missing = [c for c in target if c not in known]
            expr = ",".join([rhs] + others) + "->" + "".join(c for c in target if c not in missing)
            r = np.einsum(expr, g, *[vals[j] for j in range(len(ins)) if j != k])
            if missing:  # summed-out letters only in this operand: broadcast back
                shape = [v.shape[i] if c in missing else 1 for i, c in enumerate(target)]
                idx = [i for i, c in enumerate(target) if c in missing]
                r = np.expand_dims(r, idx) * np.ones(shape, dtype=r.dtype)
            grads.append(r)
        return tuple(grads)

    return make(out, tuple(ts), vjp)


def tensordot(x1, x2, axes=2):
    a, ta = track(x1)
    b, tb = track(x2)
    out = np.tensordot(a, b, axes=axes)
    if ta is None and tb is None:
        return out
    if isinstance(axes, int):
        ax_a = list(range(a.ndim - axes, a.ndim))
        ax_b = list(range(axes))
    else:
        ax_a, ax_b = axes
        ax_a = [ax_a] if isinstance(ax_a, int) else list(ax_a)
        ax_b = [ax_b] if isinstance(ax_b, int) else list(ax_b)
    ax_a = [i % a.ndim for i in ax_a]
    ax_b = [i % b.ndim for i in ax_b]
    free_a = [i for i in range(a.ndim) if i not in ax_a]
    free_b = [i for i in range(b.ndim) if i not in ax_b]

    def vjp(g):
        na, nb = len(free_a), len(free_b)
        ga = gb = None
        if ta is not None:
            # g: free_a + free_b; contract g's free_b with b's free_b -> free_a + ax_b order
            r = np.tensordot(g, b, axes=(list(range(na, na + nb)), free_b))
            # r axes: free_a..., then b's contracted axes in b order (ax_b sorted)
            order_b = sorted(ax_b)
            src = free_a + [ax_a[ax_b.index(j)] for j in order_b]
            ga = np.transpose(r, np.argsort(src))
        if tb is not None:
            r = np.tensordot(a, g, axes=(free_a, list(range(na))))
            order_a = sorted(ax_a)
            src = [ax_b[ax_a.index(i)] for i in order_a] + free_b
            gb = np.transpose(r, np.argsort(src))
        return ga, gb

    return make(out, (ta, tb), vjp)


def outer(x1, x2):
    return multiply(_reshape(x1, (-1, 1)), _reshape(x2, (1, -1)))


def _reshape(x, shape):
    from .array_ops import reshape
    return reshape(x, shape)
