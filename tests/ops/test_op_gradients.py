"""Every differentiable op's gradient rule against central finite differences (float64).

Each case is ``fn(*arrays)``; the loss is ``sum(fn(...) * u)`` for a random upstream ``u``,
so every output entry's gradient matters. Inputs are watched arrays, so the rule under
test is the only thing the tape records between them and the loss.
"""
from __future__ import annotations

import numpy as np
import pytest

from rnnkit import ops
from rnnkit.ops import GradientTape

R = np.random.default_rng(0)


def pos(*shape):
    return R.uniform(0.5, 2.0, shape)


def anyv(*shape):
    return R.normal(size=shape)


def away(*shape):  # values away from kinks (relu, abs, max ties)
    v = R.uniform(0.2, 1.5, shape) * R.choice([-1, 1], shape)
    return v


def distinct(*shape):
    return R.permutation(np.arange(int(np.prod(shape)), dtype=float)).reshape(shape) * 0.37 + 0.1


IDX = np.array([[2, 0], [1, 2], [0, 0]])

CASES = {
    "add_broadcast": (lambda a, b: ops.add(a, b), [anyv(3, 4), anyv(4)]),
    "subtract": (lambda a, b: ops.subtract(a, b), [anyv(3, 1), anyv(1, 4)]),
    "multiply": (lambda a, b: ops.multiply(a, b), [anyv(2, 3, 4), anyv(3, 1)]),
    "divide": (lambda a, b: ops.divide(a, b), [anyv(3, 4), pos(3, 4)]),
    "divide_no_nan": (lambda a, b: ops.divide_no_nan(a, b), [anyv(3, 4), pos(4)]),
    "power": (lambda a, b: ops.power(a, b), [pos(3, 4), anyv(3, 4)]),
    "power_scalar": (lambda a: ops.power(a, 3), [anyv(5)]),
    "negative": (lambda a: ops.negative(a), [anyv(3)]),
    "abs": (lambda a: ops.abs(a), [away(4, 3)]),
    "square": (lambda a: ops.square(a), [anyv(4, 3)]),
    "sqrt": (lambda a: ops.sqrt(a), [pos(4, 3)]),
    "rsqrt": (lambda a: ops.rsqrt(a), [pos(4, 3)]),
    "reciprocal": (lambda a: ops.reciprocal(a), [pos(4)]),
    "exp": (lambda a: ops.exp(a), [anyv(4, 3)]),
    "expm1": (lambda a: ops.expm1(a), [anyv(4, 3)]),
    "log": (lambda a: ops.log(a), [pos(4, 3)]),
    "log1p": (lambda a: ops.log1p(a), [pos(4, 3)]),
    "log2": (lambda a: ops.log2(a), [pos(4)]),
    "sin_cos": (lambda a: ops.add(ops.sin(a), ops.cos(a)), [anyv(5)]),
    "tanh": (lambda a: ops.tanh(a), [anyv(4, 3)]),
    "sigmoid": (lambda a: ops.sigmoid(a), [anyv(4, 3) * 3]),
    "maximum": (lambda a, b: ops.maximum(a, b), [distinct(3, 4), distinct(3, 4) + 0.05]),
    "minimum": (lambda a, b: ops.minimum(a, b), [distinct(3, 4), distinct(3, 4)[:, ::-1] + 0.05]),
    "clip": (lambda a: ops.clip(a, -0.5, 0.7), [away(4, 5)]),
    "sum_axis": (lambda a: ops.sum(a, axis=1), [anyv(3, 4, 2)]),
    "sum_keepdims": (lambda a: ops.sum(a, axis=(0, 2), keepdims=True), [anyv(3, 4, 2)]),
    "sum_all": (lambda a: ops.sum(a), [anyv(3, 4)]),
    "mean_axis": (lambda a: ops.mean(a, axis=-1), [anyv(3, 4)]),
    "mean_all": (lambda a: ops.mean(a), [anyv(3, 4)]),
    "max_axis": (lambda a: ops.max(a, axis=0), [distinct(3, 4)]),
    "min_keepdims": (lambda a: ops.min(a, axis=1, keepdims=True), [distinct(3, 4)]),
    "prod": (lambda a: ops.prod(a, axis=1), [pos(3, 4)]),
    "prod_all": (lambda a: ops.prod(a), [pos(2, 3)]),
    "var": (lambda a: ops.var(a, axis=0), [anyv(5, 3)]),
    "std": (lambda a: ops.std(a, axis=-1, keepdims=True), [anyv(3, 5)]),
    "logsumexp": (lambda a: ops.logsumexp(a, axis=-1), [anyv(3, 5)]),
    "logsumexp_all": (lambda a: ops.logsumexp(a), [anyv(3, 5)]),
    "cumsum": (lambda a: ops.cumsum(a, axis=1), [anyv(3, 5)]),
    "cumsum_flat": (lambda a: ops.cumsum(a), [anyv(3, 2)]),
    "cumprod": (lambda a: ops.cumprod(a, axis=0), [pos(4, 2)]),
    "norm": (lambda a: ops.norm(a, axis=-1), [anyv(3, 4)]),
    "matmul": (lambda a, b: ops.matmul(a, b), [anyv(3, 4), anyv(4, 2)]),
    "matmul_batched": (lambda a, b: ops.matmul(a, b), [anyv(2, 3, 4), anyv(4, 5)]),
    "matmul_vec": (lambda a, b: ops.matmul(a, b), [anyv(4), anyv(2, 4, 3)]),
    "dot": (lambda a, b: ops.dot(a, b), [anyv(3, 4), anyv(4, 2)]),
    "einsum": (lambda a, b: ops.einsum("btd,du->btu", a, b), [anyv(2, 3, 4), anyv(4, 5)]),
    "einsum_sumout": (lambda a, b: ops.einsum("ij,jk->i", a, b), [anyv(2, 3), anyv(3, 4)]),
    "tensordot": (lambda a, b: ops.tensordot(a, b, axes=([1, 2], [2, 0])), [anyv(2, 3, 4), anyv(4, 5, 3)]),
    "tensordot_int": (lambda a, b: ops.tensordot(a, b, axes=1), [anyv(2, 3), anyv(3, 4)]),
    "outer": (lambda a, b: ops.outer(a, b), [anyv(3), anyv(4)]),
    "reshape": (lambda a: ops.reshape(a, (4, -1)), [anyv(2, 3, 2)]),
    "transpose": (lambda a: ops.transpose(a, (2, 0, 1)), [anyv(2, 3, 4)]),
    "transpose_default": (lambda a: ops.transpose(a), [anyv(2, 3)]),
    "swapaxes": (lambda a: ops.swapaxes(a, 0, 2), [anyv(2, 3, 4)]),
    "moveaxis": (lambda a: ops.moveaxis(a, 0, -1), [anyv(2, 3, 4)]),
    "expand_dims": (lambda a: ops.expand_dims(a, 1), [anyv(2, 3)]),
    "squeeze": (lambda a: ops.squeeze(a, axis=1), [anyv(2, 1, 3)]),
    "broadcast_to": (lambda a: ops.broadcast_to(a, (4, 2, 3)), [anyv(2, 1)]),
    "flip": (lambda a: ops.flip(a, axis=1), [anyv(2, 3)]),
    "roll": (lambda a: ops.roll(a, 2, axis=1), [anyv(2, 5)]),
    "tile": (lambda a: ops.tile(a, (2, 3)), [anyv(2, 3)]),
    "repeat": (lambda a: ops.repeat(a, 2, axis=1), [anyv(2, 3)]),
    "repeat_flat": (lambda a: ops.repeat(a, 3), [anyv(2, 2)]),
    "pad": (lambda a: ops.pad(a, ((1, 0), (2, 1))), [anyv(2, 3)]),
    "concatenate": (lambda a, b: ops.concatenate([a, b], axis=1), [anyv(2, 3), anyv(2, 1)]),
    "stack": (lambda a, b: ops.stack([a, b], axis=1), [anyv(2, 3), anyv(2, 3)]),
    "unstack": (lambda a: ops.stack(ops.unstack(a, axis=1)[::-1]), [anyv(2, 3)]),
    "split": (lambda a: ops.multiply(*ops.split(a, 2, axis=1)), [anyv(3, 4)]),
    "split_indices": (lambda a: ops.concatenate(ops.split(a, [1, 3], axis=0)[::-1]), [anyv(4, 2)]),
    "getitem_slice": (lambda a: a[:, 1:3], [anyv(3, 4)]),
    "getitem_int": (lambda a: a[1], [anyv(3, 4)]),
    "getitem_fancy_repeat": (lambda a: a[np.array([0, 2, 0])], [anyv(3, 4)]),
    "getitem_bool": (lambda a: a[np.array([True, False, True])], [anyv(3, 2)]),
    "getitem_newaxis": (lambda a: a[:, None, ::-1], [anyv(2, 3)]),
    "slice": (lambda a: ops.slice(a, (1, 0), (2, 3)), [anyv(3, 4)]),
    "take": (lambda a: ops.take(a, IDX, axis=0), [anyv(3, 4)]),
    "take_axis1": (lambda a: ops.take(a, np.array([1, 1, 0]), axis=1), [anyv(2, 3)]),
    "take_flat": (lambda a: ops.take(a, np.array([5, 0, 5])), [anyv(2, 3)]),
    "take_along_axis": (lambda a: ops.take_along_axis(a, IDX, axis=1), [anyv(3, 4)]),
    "where": (lambda a, b: ops.where(a > 0, a, b), [away(3, 4), anyv(4)]),
    "sort": (lambda a: ops.sort(a, axis=-1), [distinct(3, 4)]),
    "top_k": (lambda a: ops.top_k(a, 2)[0], [distinct(3, 5)]),
    "triu_tril": (lambda a: ops.add(ops.triu(a, 1), ops.tril(a) * 2), [anyv(3, 3)]),
    "cast": (lambda a: ops.cast(a, "float64") * 2, [anyv(3)]),
    "identity": (lambda a: ops.identity(a), [anyv(3)]),
    "relu": (lambda a: ops.relu(a), [away(4, 3)]),
    "relu6": (lambda a: ops.relu6(a * 4), [away(4, 3)]),
    "softmax": (lambda a: ops.softmax(a), [anyv(3, 4)]),
    "softmax_axis0": (lambda a: ops.softmax(a, axis=0), [anyv(3, 4)]),
    "log_softmax": (lambda a: ops.log_softmax(a, axis=-1), [anyv(3, 4)]),
    "softplus": (lambda a: ops.softplus(a), [anyv(3, 4)]),
    "softsign": (lambda a: ops.softsign(a), [away(3, 4)]),
    "log_sigmoid": (lambda a: ops.log_sigmoid(a), [anyv(3, 4)]),
    "gelu_tanh": (lambda a: ops.gelu(a), [anyv(3, 4)]),
    "gelu_exact": (lambda a: ops.gelu(a, approximate=False), [anyv(3, 4)]),
    "silu": (lambda a: ops.silu(a), [anyv(3, 4)]),
    "swish": (lambda a: ops.nn.swish(a), [anyv(3, 4)]),
    "hard_sigmoid": (lambda a: ops.hard_sigmoid(a * 2), [away(3, 4)]),
    "hard_silu": (lambda a: ops.hard_silu(a * 2), [away(3, 4)]),
    "elu": (lambda a: ops.elu(a, alpha=0.7), [away(3, 4)]),
    "selu": (lambda a: ops.selu(a), [away(3, 4)]),
    "leaky_relu": (lambda a: ops.leaky_relu(a), [away(3, 4)]),
    "bce": (lambda a: ops.binary_crossentropy(np.array([[0.0, 1.0]]), ops.sigmoid(a)), [anyv(3, 2)]),
    "bce_logits": (lambda a: ops.binary_crossentropy(np.array([[0.0, 1.0]]), a, from_logits=True),
                   [anyv(3, 2)]),
    "cce": (lambda a: ops.categorical_crossentropy(np.eye(3), ops.softmax(a)), [anyv(3, 3)]),
    "cce_logits": (lambda a: ops.categorical_crossentropy(np.eye(3), a, from_logits=True), [anyv(3, 3)]),
    "scce": (lambda a: ops.sparse_categorical_crossentropy(np.array([2, 0, 1]), a, from_logits=True),
             [anyv(3, 3)]),
    "moments": (lambda a: ops.multiply(*ops.nn.moments(a, axes=[0])), [anyv(4, 3)]),
    "slice_update": (lambda a, b: ops.slice_update(a, (1, 1), b) * 2, [anyv(3, 4), anyv(2, 2)]),
    "scan": (lambda a, w: ops.scan(lambda c, x: (ops.tanh(c @ w + x),) * 2, ops.zeros((2,), "float64"), a)[1],
             [anyv(4, 2), anyv(2, 2)]),
    "fori_loop": (lambda a: ops.fori_loop(0, 3, lambda i, v: ops.sin(v) * (i + 1), a), [anyv(3)]),
    "while_loop": (lambda a: ops.while_loop(lambda v, k: k < 3, lambda v, k: (v * v * 0.5, k + 1), (a, 0))[0],
                   [anyv(3)]),
    "map": (lambda a: ops.map(lambda r: ops.sum(r * r), a), [anyv(3, 2)]),
    "cond": (lambda a: ops.cond(True, lambda: ops.exp(a), lambda: a), [anyv(3)]),
    "operators": (lambda a, b: (a * 2 - b) / (b + 3) + (a ** 2) @ b.T @ b - (-a), [anyv(2, 3), pos(2, 3)]),
    "reflected": (lambda a: 1.5 - a + 2 * a - 1 / (a + 3) + 2 ** a, [pos(2, 3)]),
    "numpy_ufunc_on_tensor": (lambda a: np.tanh(ops.multiply(a, 1.0)) * np.ones(3) + np.exp(a * 1.0),
                              [anyv(2, 3)]),
}


def _loss(fn, arrays, u):
    out = fn(*arrays)
    return out, np.sum(np.asarray(out) * u)


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradient_matches_finite_differences(name):
    fn, arrays = CASES[name]
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    out = fn(*arrays)
    assert isinstance(out, (np.ndarray, np.generic)), "without a tape, ops return NumPy values"
    u = np.random.default_rng(1).normal(size=np.shape(out))
    with GradientTape() as tape:
        tape.watch(arrays)
        # convert_to_tensor: a watched array becomes a Tensor, so operators record too.
        y = ops.sum(ops.multiply(fn(*[ops.convert_to_tensor(a) for a in arrays]), u))
    grads = tape.gradient(y, arrays)
    eps = 1e-6
    for k, (a, g) in enumerate(zip(arrays, grads)):
        assert g is not None, f"input {k}: no gradient"
        assert g.shape == a.shape
        num = np.zeros_like(a)
        flat, nflat = a.reshape(-1), num.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            fp = np.sum(np.asarray(fn(*arrays)) * u)
            flat[i] = old - eps
            fm = np.sum(np.asarray(fn(*arrays)) * u)
            flat[i] = old
            nflat[i] = (fp - fm) / (2 * eps)
        np.testing.assert_allclose(g, num, rtol=1e-5, atol=1e-6, err_msg=f"{name}: input {k}")
