"""SimpleRNN (tanh) on the feature-major NumPy engine: the equations of
:mod:`rnnkit.layers.recurrent.simple_rnn`, restated for speed.

Tests (tests/layers/recurrent/test_simple_rnn.py) hold these equal to the reference.
"""
from __future__ import annotations

import numpy as np

from ..threads import Accumulator, Helper
from . import layout


def forward(cell, XH, states0, kernel, recurrent_kernel, bias, drop=None, rdrop=None,
            train=True, ws=None, gates=None, chunk=32):
    """Feature-major SimpleRNN with tanh (see :mod:`.layout`), over ``XH`` from
    :func:`.layout.inputs_fm`; the math of :func:`..simple_rnn.simple_rnn_sequence_forward`::

        XP[t] = Wx @ XH[t][:kx]                  # kx = D (+1 bias row); helper thread
        h_t = tanh(XP[t] + recurrent_kernel.T @ XH[t][kx:])      # h_t is HS[t + 1]

    ``h0 (U, B)``, ``drop (T, 1, B)`` bool (True at masked steps), ``rdrop (U, B)``.
    When training, the helper also stores ``dZ[t] = 1 - h_t^2`` for backward.
    Returns ``HS (T + 1, U, B)``, ``[h_T]`` and the cache (None unless ``train``).
    """
    h0 = states0[0]
    steps, width, batch = XH.shape[0] - 1, XH.shape[1], XH.shape[2]
    units = h0.shape[0]
    kx = width - units
    dt = XH.dtype
    Wx = layout.input_weights(kernel, bias, np.arange(units))
    RKT = np.ascontiguousarray(recurrent_kernel.T)
    C = min(steps, chunk)
    tag = "" if train else "_infer"
    XP = layout.empty(ws, "XP" + tag, (2, C, units, batch), dt)
    HS = XH[:, kx:] if rdrop is None else layout.empty(ws, "HS" + tag, (steps + 1, units, batch), dt)
    dZ = layout.empty(ws, "dZ", (steps, units, batch), dt) if train else None
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

    with Helper(C * batch * Wx.size, batch * RKT.size) as helper:
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


def backward(dHT, dfinals, cache, keep=None, drop=None, chunk=32, input_grad=True):
    """BPTT of :func:`forward` (the equations of
    :func:`..simple_rnn.simple_rnn_sequence_backward`); ``dZ[t]`` arrives holding ``1 - h_t^2``::

        dZ[t] *= dh;  dh = recurrent_kernel @ dZ[t] * rdrop

    ``dHT (T, U, B)`` or None, ``dh (U, B)`` updated in place, ``keep``/``drop``
    the float mask multipliers. Returns ``dxs (T, B, D)``, ``[dh0]`` and the grads.
    """
    XH, dZ, rdrop, Wx, dim, recurrent_kernel = cache
    dh = dfinals[0]
    steps, width, batch = XH.shape[0] - 1, XH.shape[1], XH.shape[2]
    units = recurrent_kernel.shape[0]
    kx = width - units
    dt = XH.dtype
    RKb = np.ascontiguousarray(recurrent_kernel)
    Wd = np.ascontiguousarray(Wx[:, :dim])
    dxs = np.empty((steps, batch, dim), dt) if input_grad else None
    if keep is not None:
        hpass = np.empty((units, batch), dt)
    C = min(steps, chunk)
    acc = Accumulator()
    flush = layout.flush_constant(dt)

    def grads_of(a, b):
        acc.add("w", layout.sum_outer(dZ[a:b], XH[a:b]))

    with Helper(C * batch * width * units, batch * RKb.size) as helper:
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
                if t % layout.FLUSH_EVERY == 0:  # subnormals to zero (see layout.flush_constant)
                    dh += flush
                    dh -= flush
            helper.submit(grads_of, s, e)
            if input_grad:
                np.matmul(dZ[s:e].transpose(0, 2, 1), Wd, out=dxs[s:e])
    dW = acc.sums["w"]
    grads = [np.ascontiguousarray(dW[:, :dim].T), np.ascontiguousarray(dW[:, kx:].T)]
    if kx > dim:
        grads.append(dW[:, dim].copy())
    return dxs, [dh], grads

