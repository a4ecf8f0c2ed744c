"""Shared plumbing of the fast "feature-major" recurrent kernels.

The reference kernels keep a step's state as ``(B, U)`` rows; their gate blocks
(``z[:, :U]``, ``z[:, U:2U]``, ...) are then strided views, and NumPy runs an
elementwise call on a strided ``(128, 32)`` view 2-3x slower than on a
contiguous block. The fast kernels store every step feature-major, ``(F, B)``,
in time-major stacks ``(T, F, B)``: a gate block is a contiguous run of rows,
each step's block is contiguous, and the per-step product is ``z = W @ h``.

Inputs and states share one array, ``XH (T + 1, D + 1 + U, B)``: step t's rows
are ``[x_t | 1 | h_{t-1}]``. The row of ones makes the bias one more column of
the working kernel, the state rows are what the per-step product reads, and
every weight gradient (bias included) is one stacked product
``sum_t dZ[t] @ XH[t].T`` per chunk of steps.

Sigmoid gates use ``sigmoid(z) = 0.5 * tanh(z / 2) + 0.5``: their rows of the
working kernels are halved once per call (exact in binary floating point), so
one ``np.tanh`` over all gate rows serves the sigmoid and tanh gates alike.

The step loop is ~10 small NumPy calls per step on one core. What does not
depend on it runs on one helper thread meanwhile (see :class:`Helper`): the
input projection of the next chunk, the backward factors of finished forward
chunks, the weight gradients of finished backward chunks.
"""
from __future__ import annotations

import sys

import numpy as np

# Bytes of the (steps, rows, cols) partial products summed into a weight gradient.
_OUTER_BYTES = 8 << 20
# Multiply-adds per step above which sum_outer runs as one product.
_ONE_PRODUCT_MACS = 8 << 20


def inputs_fm(x: np.ndarray, go_backwards: bool, dp, bias: bool, state_rows: int,
              ws=None) -> np.ndarray:
    """``x (B, T, D)`` -> ``XH (T + 1, D [+1] + state_rows, B)`` in processing order.

    Rows of step t: ``[x_t (D) | 1 (with bias) | h_{t-1} (state_rows)]``; the kernel
    fills the state rows (``XH[t + 1]`` gets the state after step t), so that every
    weight gradient is one product ``sum_t dZ[t] @ XH[t].T`` per chunk. ``dp`` is the
    ``(B, D)`` input-dropout multiplier or None.
    """
    batch, steps, dim = x.shape
    XH = empty(ws, "XH", (steps + 1, dim + int(bias) + state_rows, batch), x.dtype)
    src = x[:, ::-1] if go_backwards else x
    np.copyto(XH[:steps, :dim], src.transpose(1, 2, 0))
    if bias:
        XH[:, dim] = 1
    if dp is not None:
        XH[:steps, :dim] *= dp.T
    return XH


def run_inputs(layer, run, ws=None):
    """``layer``'s call ``run`` in the kernels' layout: ``(XH, drop, states0, rdrop)``.

    ``XH`` from :func:`inputs_fm`; ``drop (T, 1, B)`` bool, True at masked steps, or
    None; the initial states ``(U, B)`` each; the recurrent-dropout multipliers
    ``(U, B)`` or None.
    """
    XH = inputs_fm(run.x, run.reverse, run.dp, layer.use_bias, layer.units, ws)
    mt = run.mt
    drop = None if mt is None else ~mt.reshape(mt.shape[0], 1, mt.shape[1])
    s0 = [np.ascontiguousarray(s.T) for s in run.states0]
    rd = None if run.rdp is None else np.ascontiguousarray(run.rdp.T)
    return XH, drop, s0, rd


def output_grads_fm(dseq, out_mask, dtype):
    """dL/d(outputs) ``(B, T, U)`` times the ``(T, B, 1)`` output multipliers (or None)
    -> ``(T, U, B)``, a new array; None for None."""
    if dseq is None:
        return None
    batch, steps, units = dseq.shape
    dHT = np.empty((steps, units, batch), dtype)
    if out_mask is None:
        np.copyto(dHT, dseq.transpose(1, 2, 0))
    else:
        np.multiply(dseq.transpose(1, 2, 0), out_mask.reshape(steps, 1, batch), out=dHT)
    return dHT


def state_grads_fm(dfinals, units: int, batch: int, dtype) -> list:
    """dL/d(final states) ``(B, U)`` or None each -> ``(U, B)`` copies (zeros for None)
    that the kernels update in place."""
    return [np.zeros((units, batch), dtype) if d is None else np.array(d.T, order="C") for d in dfinals]


def caller_grads(dxs, dstates0, dp, reverse: bool):
    """The kernels' ``dxs (T, B, D)`` (or None) and ``(U, B)`` state gradients -> the
    engine's ``dx (B, T, D)`` in the caller's order (a view; input dropout ``dp (B, D)``
    applied) and ``(B, U)`` state gradients."""
    dstates0 = [np.ascontiguousarray(d.T) for d in dstates0]
    if dxs is None:
        return None, dstates0
    if dp is not None:
        dxs *= dp
    # (T, B, D) memory seen as (B, T, D): Embedding reads it without a copy.
    dx = dxs.transpose(1, 0, 2)
    return (dx[:, ::-1] if reverse else dx), dstates0


# Steps between flushes in the backward loops. A gradient that decays into the
# subnormal range is zero after the next flush and stays zero, so each value spends at
# most this many steps on the slow path, while the flush itself is 2 calls a state.
FLUSH_EVERY = 8


def flush_constant(dtype) -> np.generic:
    """``c`` such that ``x += c; x -= c`` flushes tiny gradients to zero in place.

    Backpropagating through hundreds of steps shrinks ``dh`` towards zero, into the
    subnormal range, where every multiply, add and BLAS call on Intel CPUs takes a slow
    microcode path (LSTM(32) training measured 3-5x slower here; TensorFlow sets the CPU's
    flush-to-zero flag for this). Adding and subtracting ``c`` rounds every value below
    about ``ulp(c)`` to a multiple of it, so subnormals become 0, and leaves values above
    ``2^-52`` (float32) or ``2^-916`` (float64) unchanged to within an ulp of ``c``
    (float32: 1.6e-30 absolute).
    """
    return np.dtype(dtype).type(2.0 ** -76 if np.dtype(dtype) == np.float32 else 2.0 ** -969)


def mask_fm(mt, dtype):
    """``mt (T, B, 1)`` bool -> ``(keep, drop)`` multipliers ``(T, 1, B)`` of ``dtype``, or Nones."""
    if mt is None:
        return None, None
    keep = mt.reshape(mt.shape[0], 1, mt.shape[1]).astype(dtype)
    return keep, 1 - keep


def sum_outer(A: np.ndarray, Bm: np.ndarray) -> np.ndarray:
    """``sum_t A[t] @ Bm[t].T`` for ``A (T, M, N)``, ``Bm (T, K, N)``: a weight gradient.

    Wide layers and small batches: one product over all steps, ``(M, T*N) @ (T*N, K)``,
    after copying both operands step-minor (LSTM(256) at batch 128, LSTM(64) at batch 32:
    20-27% faster than the stacked products, whose ``(steps, M, K)`` partial results are
    written and summed). Otherwise stacked products over chunks of steps (at batch 64-128
    of narrow layers the copies cost more than they save).
    """
    steps, m, n = A.shape
    k = Bm.shape[1]
    if n <= 32 or m * k * n >= _ONE_PRODUCT_MACS:
        A2 = np.ascontiguousarray(A.transpose(1, 0, 2)).reshape(m, steps * n)
        B2 = np.ascontiguousarray(Bm.transpose(1, 0, 2)).reshape(k, steps * n)
        return A2 @ B2.T
    chunk = max(1, _OUTER_BYTES // max(1, m * k * A.itemsize))
    acc = None
    for a in range(0, steps, chunk):
        part = np.matmul(A[a:a + chunk], Bm[a:a + chunk].transpose(0, 2, 1)).sum(axis=0)
        if acc is None:
            acc = part
        else:
            acc += part
    return acc


def gate_perm(order, units: int) -> np.ndarray:
    """Column indices (Keras layout) of the working rows, gate blocks in ``order``."""
    return np.concatenate([np.arange(g * units, (g + 1) * units) for g in order])


def row_scale(n_sigmoid_rows: int, n_rows: int, dtype) -> np.ndarray:
    """``(n_rows, 1)`` column: 0.5 on the first (sigmoid) rows, 1 elsewhere."""
    s = np.ones((n_rows, 1), dtype)
    s[:n_sigmoid_rows] = 0.5
    return s


def input_weights(kernel, bias_row, perm):
    """Working input kernel ``(G, D [+1])``: ``[kernel.T | bias]`` with rows in ``perm`` order."""
    w = kernel.T[perm]
    if bias_row is None:
        return np.ascontiguousarray(w)
    return np.ascontiguousarray(np.concatenate([w, bias_row[perm][:, None]], axis=1))


def scatter_cols(grad_rows: np.ndarray, perm, n_cols: int) -> np.ndarray:
    """Undo :func:`input_weights`' layout: ``out[:, perm] = grad_rows.T`` -> ``(R, n_cols)``."""
    out = np.empty((grad_rows.shape[1], n_cols), grad_rows.dtype)
    out[:, perm] = grad_rows.T
    return out


def scatter_vec(values: np.ndarray, perm, n: int) -> np.ndarray:
    out = np.empty(n, values.dtype)
    out[perm] = values
    return out


class Workspace:
    """Big buffers a layer keeps between calls, so that each training step does not
    fault in ~100 MB of fresh pages (about 0.35 us per 4 KiB page here).

    :meth:`get` hands out a view of a pooled flat buffer only while nothing else
    holds it: a cache from an earlier call that is still alive (e.g. a forward whose
    backward has not run) keeps its buffers, and the new call gets fresh ones.
    """

    def __init__(self):
        self._flat: dict[str, np.ndarray] = {}

    def get(self, name: str, shape, dtype) -> np.ndarray:
        n = 1
        for d in shape:
            n *= d
        buf = self._flat.get(name)
        # References: the dict, ``buf`` and getrefcount's argument; any more is a live view.
        if buf is None or buf.dtype != dtype or buf.size < n or sys.getrefcount(buf) > 3:
            buf = np.empty(n, dtype)
            self._flat[name] = buf
        return buf[:n].reshape(shape)


def workspace(layer) -> Workspace:
    """``layer``'s pool of big per-call buffers (kept on the layer between calls)."""
    ws = layer.__dict__.get("_engine_workspace")
    if ws is None:
        ws = layer.__dict__["_engine_workspace"] = Workspace()
    return ws


def empty(ws, name, shape, dtype):
    """``np.empty`` from the workspace ``ws`` when there is one."""
    return np.empty(shape, dtype) if ws is None else ws.get(name, shape, dtype)
