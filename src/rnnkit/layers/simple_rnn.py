"""SimpleRNN: the Elman recurrence ``h_t = tanh(x_t W + h_{t-1} U + b)``.

Keras layout: ``kernel (D, U)`` (the seeds' ``W`` transposed), ``recurrent_kernel
(U, U)`` (``U`` transposed), ``bias (U,)``. The seeds write ``np.tanh(np.dot(W,
input_t) + np.dot(U, state_t) + b)`` for one sample; :func:`simple_rnn_step` is that
step for a batch, and :class:`SimpleRNN` runs it over a sequence with one matrix
product for all input projections.
"""
from __future__ import annotations

import numpy as np

from .. import activations
from . import _fm, _jit
from .recurrent import RecurrentLayer


def simple_rnn_step(x_t: np.ndarray, h_prev: np.ndarray, kernel: np.ndarray,
                    recurrent_kernel: np.ndarray, bias: np.ndarray | None = None,
                    activation="tanh") -> np.ndarray:
    """One step, written as the equation::

        h_t = activation(x_t @ kernel + h_prev @ recurrent_kernel + bias)

    Shapes: ``x_t (B, D)`` or ``(D,)``, ``h_prev (B, U)`` or ``(U,)``, ``kernel (D, U)``,
    ``recurrent_kernel (U, U)``, ``bias (U,)``; returns ``h_t`` shaped like ``h_prev``.
    """
    z = x_t @ kernel + h_prev @ recurrent_kernel
    if bias is not None:
        z = z + bias
    return activations.get(activation)(z)


def simple_rnn_sequence_forward(xs, h0, kernel, recurrent_kernel, bias, activation,
                                mask=None, rdrop=None):
    """Run the recurrence over a time-major sequence.

    Args:
        xs: inputs ``(T, B, D)`` in processing order.
        h0: initial state ``(B, U)``.
        activation: an :class:`rnnkit.activations.Activation`.
        mask: ``(T, B, 1)`` bool, False where the step is padding (state carried).
        rdrop: ``(B, U)`` recurrent-dropout multipliers applied to ``h_prev`` before ``U``.

    Returns:
        ``H (T, B, U)`` (the state after every step), ``[h_T]``, and the cache.

    Equations per step (``Z`` holds the pre-activations)::

        Z[t] = xs[t] @ kernel + bias + (h_prev * rdrop) @ recurrent_kernel
        H[t] = activation(Z[t])            where mask[t], else h_prev
    """
    steps, batch, _ = xs.shape
    units = recurrent_kernel.shape[0]
    Z = (xs.reshape(steps * batch, -1) @ kernel).reshape(steps, batch, units)
    if bias is not None:
        Z += bias
    H = np.empty_like(Z)
    buf = np.empty((batch, units), Z.dtype)
    is_tanh = activation is activations.tanh
    h = h0
    for t in range(steps):
        np.dot(h if rdrop is None else h * rdrop, recurrent_kernel, out=buf)
        zt = Z[t]
        zt += buf
        if is_tanh:
            np.tanh(zt, out=H[t])
        else:
            H[t] = activation(zt)
        if mask is not None:
            np.copyto(H[t], h, where=~mask[t])
        h = H[t]
    keep_z = None if activation.from_output else Z
    cache = (xs, h0, keep_z, H, mask, rdrop, activation)
    return H, [h.copy()], cache


def simple_rnn_sequence_backward(dH, dfinals, cache, kernel, recurrent_kernel, bias):
    """Backpropagation through time for :func:`simple_rnn_sequence_forward`.

    Args:
        dH: dL/dH ``(T, B, U)`` or None (only the final state is used).
        dfinals: ``[dL/dh_T]`` (entries may be None).

    Returns:
        ``dxs (T, B, D)``, ``[dL/dh0]``, and ``[dkernel, drecurrent_kernel, (dbias)]``.

    Per step, from the last to the first::

        dh      = dH[t] + dh_next                  (dh_next: from step t+1)
        dZ[t]   = activation'(Z[t]) * dh           where mask[t], else 0
        dh_next = (dZ[t] @ recurrent_kernel.T) * rdrop  (+ dh where masked)

    then one product each: ``dkernel = X^T dZ``, ``drecurrent = H_prev^T dZ``, ``dxs = dZ kernel^T``.
    """
    xs, h0, Z, H, mask, rdrop, activation = cache
    steps, batch, dim = xs.shape
    units = recurrent_kernel.shape[0]
    dZ = np.empty_like(H)
    dh = np.zeros((batch, units), H.dtype) if dfinals[0] is None else np.array(dfinals[0], H.dtype)
    rt = recurrent_kernel.T
    is_tanh = activation is activations.tanh
    for t in range(steps - 1, -1, -1):
        if dH is not None:
            dh += dH[t]
        if mask is not None:
            passed = np.where(mask[t], 0, dh)
            dh *= mask[t]
        dz = dZ[t]
        if is_tanh:
            np.multiply(H[t], H[t], out=dz)
            np.subtract(1, dz, out=dz)
            dz *= dh
        else:
            dz[...] = activation.backward(None if Z is None else Z[t], H[t], dh)
        dh = dz @ rt
        if rdrop is not None:
            dh *= rdrop
        if mask is not None:
            dh += passed
    flat = dZ.reshape(steps * batch, units)
    dkernel = xs.reshape(steps * batch, dim).T @ flat
    h_first = h0 if rdrop is None else h0 * rdrop
    drec = h_first.T @ dZ[0]
    if steps > 1:
        h_prev = H[:-1].reshape(-1, units)
        if rdrop is not None:
            h_prev = (H[:-1] * rdrop).reshape(-1, units)
        drec += h_prev.T @ flat[batch:]
    grads = [dkernel, drec]
    if bias is not None:
        grads.append(flat.sum(axis=0))
    dxs = (flat @ kernel.T).reshape(steps, batch, dim)
    return dxs, [dh], grads


def simple_rnn_fm_forward(XH, h0, kernel, recurrent_kernel, bias, drop=None, rdrop=None,
                          train=True, ws=None):
    """Feature-major SimpleRNN with tanh (see :mod:`._fm`), over ``XH`` from
    :func:`._fm.inputs_fm`; the math of :func:`simple_rnn_sequence_forward`::

        XP[t] = Wx @ XH[t][:kx]                  # kx = D (+1 bias row); helper thread
        h_t = tanh(XP[t] + recurrent_kernel.T @ XH[t][kx:])      # h_t is HS[t + 1]

    ``h0 (U, B)``, ``drop (T, 1, B)`` bool (True at masked steps), ``rdrop (U, B)``.
    When training, the helper also stores ``dZ[t] = 1 - h_t^2`` for backward.
    Returns ``HS (T + 1, U, B)``, ``[h_T]`` and the cache (None unless ``train``).
    """
    steps, width, batch = XH.shape[0] - 1, XH.shape[1], XH.shape[2]
    units = h0.shape[0]
    kx = width - units
    dt = XH.dtype
    Wx = _fm.input_weights(kernel, bias, np.arange(units))
    RKT = np.ascontiguousarray(recurrent_kernel.T)
    C = min(steps, _fm.CHUNK)
    tag = "" if train else "_infer"
    XP = _fm.empty(ws, "XP" + tag, (2, C, units, batch), dt)
    HS = XH[:, kx:] if rdrop is None else _fm.empty(ws, "HS" + tag, (steps + 1, units, batch), dt)
    dZ = _fm.empty(ws, "dZ", (steps, units, batch), dt) if train else None
    HS[0] = h0
    if rdrop is not None:
        np.multiply(h0, rdrop, out=XH[0, kx:])
    zr = np.empty((units, batch), dt)
    bounds = [(a, min(C, steps - a)) for a in range(0, steps, C)]

    def project(k):
        a, n = bounds[k]
        np.matmul(Wx, XH[a:a + n, :kx], out=XP[k % 2, :n])

    def prepare(a, n):
        D = dZ[a:a + n]
        np.multiply(HS[a + 1:a + n + 1], HS[a + 1:a + n + 1], out=D)
        np.subtract(1, D, out=D)

    with _fm.Helper(C * batch * Wx.size, batch * RKT.size) as helper:
        project(0)
        for k, (a, n) in enumerate(bounds):
            nxt = helper.submit(project, k + 1) if k + 1 < len(bounds) else None
            XPk, Hin, Hk = XP[k % 2], XH[a:a + n + 1, kx:], HS[a:a + n + 1]
            for j in range(n):
                ht = Hk[j + 1]
                np.dot(RKT, Hin[j], out=zr)
                np.add(XPk[j], zr, out=ht)
                np.tanh(ht, out=ht)
                if drop is not None:
                    np.copyto(ht, Hk[j], where=drop[a + j])
                if rdrop is not None:
                    np.multiply(ht, rdrop, out=Hin[j + 1])
            if nxt is not None:
                nxt.result()
            if train:
                helper.submit(prepare, a, n)
    cache = (XH, dZ, rdrop, Wx, kernel.shape[0], recurrent_kernel) if train else None
    return HS, [HS[steps]], cache


def simple_rnn_fm_backward(dHT, dh, cache, keep=None, drop=None):
    """BPTT of :func:`simple_rnn_fm_forward` (the equations of
    :func:`simple_rnn_sequence_backward`); ``dZ[t]`` arrives holding ``1 - h_t^2``::

        dZ[t] *= dh;  dh = recurrent_kernel @ dZ[t] * rdrop

    ``dHT (T, U, B)`` or None, ``dh (U, B)`` updated in place, ``keep``/``drop``
    the float mask multipliers. Returns ``dxs (T, B, D)``, ``[dh0]`` and the grads.
    """
    XH, dZ, rdrop, Wx, dim, recurrent_kernel = cache
    steps, width, batch = XH.shape[0] - 1, XH.shape[1], XH.shape[2]
    units = recurrent_kernel.shape[0]
    kx = width - units
    dt = XH.dtype
    RKb = np.ascontiguousarray(recurrent_kernel)
    Wd = np.ascontiguousarray(Wx[:, :dim])
    dxs = np.empty((steps, batch, dim), dt)
    if keep is not None:
        hpass = np.empty((units, batch), dt)
    C = min(steps, _fm.CHUNK)
    acc = _fm.Accumulator()

    def grads_of(a, b):
        acc.add("w", _fm.sum_outer(dZ[a:b], XH[a:b]))

    with _fm.Helper(C * batch * width * units, batch * RKb.size) as helper:
        for e in range(steps, 0, -C):
            s = max(e - C, 0)
            for t in range(e - 1, s - 1, -1):
                if dHT is not None:
                    dh += dHT[t]
                if keep is not None:
                    np.multiply(dh, drop[t], out=hpass)
                    dh *= keep[t]
                z = dZ[t]
                z *= dh
                np.dot(RKb, z, out=dh)
                if rdrop is not None:
                    dh *= rdrop
                if keep is not None:
                    dh += hpass
            helper.submit(grads_of, s, e)
            np.matmul(dZ[s:e].transpose(0, 2, 1), Wd, out=dxs[s:e])
    dW = acc.sums["w"]
    grads = [np.ascontiguousarray(dW[:, :dim].T), np.ascontiguousarray(dW[:, kx:].T)]
    if kx > dim:
        grads.append(dW[:, dim].copy())
    return dxs, [dh], grads


class SimpleRNN(RecurrentLayer):
    """Fully-connected RNN whose output is fed back as the next input state.

    Weights (Keras order): ``kernel (input_dim, units)``, ``recurrent_kernel (units,
    units)``, ``bias (units,)``; ``units * (input_dim + units + 1)`` parameters.
    """

    n_gates = 1
    state_names = ("h",)

    def __init__(self, units: int, activation="tanh", use_bias: bool = True, **kwargs):
        kwargs.pop("recurrent_activation", None)  # SimpleRNN has no gates
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)

    def _sequence_forward(self, xs, states0, mt, rdp):
        if xs.shape[0] == 0:
            return np.empty((0,) + states0[0].shape, self.dtype), [states0[0].copy()], None
        return simple_rnn_sequence_forward(xs, states0[0], self.kernel, self.recurrent_kernel,
                                           self.bias, self.activation, mt, rdp)

    def _sequence_backward(self, dH, dfinals, kcache):
        return simple_rnn_sequence_backward(dH, dfinals, kcache, self.kernel,
                                            self.recurrent_kernel, self.bias)

    def _fm_supported(self):
        return self.activation is activations.tanh

    _jit_max_work = 4096  # batch * units per core, past 64 units (measured crossover)

    def _jit_supported(self):
        return self.activation is activations.tanh

    def _jit_kernel(self):
        k, rk = _jit.kernels().simple_rnn, self.recurrent_kernel
        return lambda table, ids, steps, *rest: k(table, ids, steps, rk, *rest)

    def _fm_run(self, X, s0, drop, rd, train):
        return simple_rnn_fm_forward(X, s0[0], self.kernel, self.recurrent_kernel, self.bias,
                                     drop, rd, train, self._workspace())

    def _fm_backprop(self, dHT, dfin, kcache, keep, drop):
        return simple_rnn_fm_backward(dHT, dfin[0], kcache, keep, drop)
