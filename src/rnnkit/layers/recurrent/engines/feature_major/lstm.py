"""LSTM on the feature-major NumPy engine: the equations of
:mod:`rnnkit.layers.recurrent.lstm`, for tanh/sigmoid, restated for speed.

Tests (tests/layers/recurrent/test_lstm.py) hold these equal to the reference.
``gates``, when given, is the compiled gate pass of :mod:`..compiled_kernels`
(``lstm_fm_gates[_train]``): one call instead of the ~10 NumPy calls per step.
"""
from __future__ import annotations

import numpy as np

from ..threads import Accumulator, Helper
from . import layout

# Working row order: the three sigmoid gates first, so one contiguous block gets the
# affine map, then the candidate; c_prev follows it in ``G`` so that
# ``[i, f] * [g, c_prev]`` is one call. Rows [o | i | f | g], by the cell's gate names.
ROW_GATES = ("o", "i", "f", "c")


def forward(cell, XH, states0, kernel, recurrent_kernel, bias, drop=None, rdrop=None,
            train=True, ws=None, gates=None, chunk=32, c_marks=None, mark_every=1):
    """Feature-major LSTM (see :mod:`.layout`): the math of :func:`..lstm.lstm_sequence_forward`
    for tanh/sigmoid, over ``XH`` from :func:`.layout.inputs_fm`.

    ``h0``/``c0`` are ``(U, B)``; ``drop (T, 1, B)`` bool is True at masked steps;
    ``rdrop (U, B)``; ``ws`` an optional :class:`.layout.Workspace`. ``G[t]`` holds the
    rows ``[o | i | f | g | c_prev]`` of step t; per step::

        G[t][:4U] = tanh(Wxs @ XH[t][:kx] + RKs @ XH[t][kx:])   # sigmoid rows halved
        G[t][:3U] = 0.5 * G[t][:3U] + 0.5                        # o, i, f
        P = [i, f] * [g, c_prev];  c = P[:U] + P[U:]             # c is G[t + 1][4U:]
        tc = tanh(c);  h = o * tc                                # h is HS[t + 1]

    The input projection of the next chunk of steps runs on the helper thread, and
    so does :func:`_lstm_fm_prepare` of each finished chunk when training. Returns
    ``HS (T + 1, U, B)`` (``HS[1:]`` are the states), ``[h_T, c_T]`` and the cache
    (None unless ``train``). At inference, ``c_marks`` (a list) receives a copy of the
    cell state entering every ``mark_every``-th chunk of ``chunk`` steps (what
    :func:`regate` starts from).
    """
    h0, c0 = states0
    steps, width, batch = XH.shape[0] - 1, XH.shape[1], XH.shape[2]
    units = h0.shape[0]
    kx = width - units
    u2, u3, u4, u5 = 2 * units, 3 * units, 4 * units, 5 * units
    dt = XH.dtype
    perm = layout.gate_perm(cell.blocks(*ROW_GATES), units)
    scale = layout.row_scale(u3, u4, dt)
    Wx = layout.input_weights(kernel, bias, perm)
    RK = np.ascontiguousarray(recurrent_kernel.T[perm])
    Wxs, RKs = Wx * scale, RK * scale
    C = min(steps, chunk)
    tag = "" if train else "_infer"
    if train:
        G = layout.empty(ws, "G", (steps + 1, u5, batch), dt)
        dZ = layout.empty(ws, "dZ", (steps, u4, batch), dt)
    else:
        G = layout.empty(ws, "G_infer", (2, C + 1, u5, batch), dt)
    TC = layout.empty(ws, "TC" + tag, (2, C, units, batch), dt)
    # The dot reads h_prev from XH's state rows; with recurrent dropout those hold
    # h * rdrop and the states themselves live in HS.
    HS = XH[:, kx:] if rdrop is None else layout.empty(ws, "HS" + tag, (steps + 1, units, batch), dt)
    HS[0] = h0
    if rdrop is not None:
        np.multiply(h0, rdrop, out=XH[0, kx:])
    zr = np.empty((u4, batch), dt)
    P = np.empty((u2, batch), dt)
    P1, P2 = P[:units], P[units:]
    views = []
    for k, a in enumerate(range(0, steps, C)):
        n = min(C, steps - a)
        views.append((a, n, G[a:a + n + 1] if train else G[k % 2, :n + 1], TC[k % 2, :n]))

    def project(k):
        a, n, Gk, _ = views[k]
        np.matmul(Wxs, XH[a:a + n, :kx], out=Gk[:n, :u4])

    def prepare(k):
        a, n, _, TCk = views[k]
        _lstm_fm_prepare(G[a:a + n], TCk, HS[a + 1:a + n + 1], dZ[a:a + n], units)

    with Helper(C * batch * Wx.size, batch * RK.size) as helper:
        views[0][2][0, u4:] = c0
        project(0)
        for k, (a, n, Gk, TCk) in enumerate(views):
            if k and not train:
                pG, pn = views[k - 1][2], views[k - 1][1]
                Gk[0, u4:] = pG[pn, u4:]
            if c_marks is not None and k % mark_every == 0:
                c_marks.append(np.array(Gk[0, u4:]))
            nxt = helper.submit(project, k + 1) if k + 1 < len(views) else None
            Z, S, IF, GC, O, Cs = Gk[:, :u4], Gk[:, :u3], Gk[:, units:u3], Gk[:, u3:], Gk[:, :units], Gk[:, u4:]
            Hin = XH[a:a + n + 1, kx:]
            Hk = HS[a:a + n + 1]
            for j in range(n):
                ht, tc, c = Hk[j + 1], TCk[j], Cs[j + 1]
                np.dot(RKs, Hin[j], out=zr)
                z = Z[j]
                if gates is None:
                    z += zr
                    np.tanh(z, out=z)
                    s = S[j]
                    s *= 0.5
                    s += 0.5
                    np.multiply(IF[j], GC[j], out=P)
                    np.add(P1, P2, out=c)
                    np.tanh(c, out=tc)
                    np.multiply(O[j], tc, out=ht)
                elif train:  # _lstm_fm_prepare's work too
                    gates(z, zr, Cs[j], c, ht, dZ[a + j])
                else:
                    gates(z, zr, Cs[j], c, ht)
                if drop is not None:
                    np.copyto(ht, Hk[j], where=drop[a + j])
                    np.copyto(c, Cs[j], where=drop[a + j])
                if rdrop is not None:
                    np.multiply(ht, rdrop, out=Hin[j + 1])
            if nxt is not None:
                nxt.result()
            if train and gates is None:
                helper.submit(prepare, k)
    a, n, Gk, _ = views[-1]
    cache = (XH, G, HS, dZ, rdrop, Wx, RK, perm, kernel.shape[0], ws) if train else None
    return HS, [HS[steps], Gk[n, u4:]], cache


def working_weights(cell, kernel, recurrent_kernel, bias):
    """``(W, Wx, RK, perm)`` as :func:`forward` builds them: ``Wx (4U, D [+1])`` and
    ``RK (4U, U)`` in working row order ``perm``, and ``W = [Wx | RK]`` with the sigmoid
    rows halved, the whole product of a step with ``XH[t]`` in one matrix."""
    units = recurrent_kernel.shape[0]
    perm = layout.gate_perm(cell.blocks(*ROW_GATES), units)
    Wx = layout.input_weights(kernel, bias, perm)
    RK = np.ascontiguousarray(recurrent_kernel.T[perm])
    W = np.concatenate([Wx, RK], axis=1)
    W *= layout.row_scale(3 * units, 4 * units, W.dtype)
    return W, Wx, RK, perm


def regate(XH, c0, W, G, F, drop=None, gates=None):
    """Recompute what :func:`forward` keeps for backward over ``n`` steps whose states
    are known (``memory="low"``): no step waits for the one before except through ``c``.

    ``XH (n + 1, R, B)`` the steps' rows, state rows filled (as :func:`forward` left
    them); ``c0 (U, B)`` the cell state entering the
    first step; ``W`` from :func:`working_weights`; ``drop (n, 1, B)`` or None. Fills
    ``G (n + 1, 5U, B)`` and ``F (n, 4U, B)`` as the training forward does; ``gates``
    is the compiled ``lstm_fm_regate`` or None (NumPy)::

        G[t][:4U] = W @ XH[t]                      # all n steps: one stacked product
        gates = tanh(G[t][:4U]); sigmoid rows 0.5 * g + 0.5
        c_t = f * c_{t-1} + i * g                  # the only step-by-step part
        F, o * (1 - tc^2)                          # as _lstm_fm_prepare
    """
    regate_products(XH, c0, W, G)
    regate_gates(G, F, drop, gates)


def regate_products(XH, c0, W, G):
    """The first half of :func:`regate`: every step's product, and ``c0`` into ``G[0]``."""
    n = XH.shape[0] - 1
    u4 = 4 * c0.shape[0]
    np.matmul(W, XH[:n], out=G[:n, :u4])
    G[0, u4:] = c0


def regate_gates(G, F, drop=None, gates=None):
    """The second half of :func:`regate`: the gates, ``c`` step by step, and ``F``."""
    n = F.shape[0]
    units = G.shape[1] // 5
    u3, u4 = 3 * units, 4 * units
    batch, dt = G.shape[2], G.dtype
    if gates is not None:
        gates(G, F, np.zeros((0, 0), np.bool_) if drop is None else drop.reshape(n, -1))
        return
    Z = G[:n, :u4]
    np.tanh(Z, out=Z)
    S = G[:n, :u3]
    S *= 0.5
    S += 0.5
    P = np.empty((2 * units, batch), dt)
    # tanh(c) of a masked step is that of its new c, not of the carried one, as in forward.
    CU = G[1:, u4:] if drop is None else np.empty((n, units, batch), dt)
    for j in range(n):
        np.multiply(G[j, units:u3], G[j, u3:], out=P)
        np.add(P[:units], P[units:], out=CU[j])
        if drop is not None:
            c = G[j + 1, u4:]
            np.copyto(c, CU[j])
            np.copyto(c, G[j, u4:], where=drop[j])
    TC = np.tanh(CU)
    # h = o * tc again (not the stored states), as the compiled pass does.
    _lstm_fm_prepare(G[:n], TC, G[:n, :units] * TC, F, units)


def _lstm_fm_prepare(G, TC, H, F, units):
    """What backward needs of a chunk of steps, computed in bulk (off the step loop).

    ``F = [o' * tc, i' * g, f' * c_prev, g' * i]`` (``s' = s - s*s``, ``g' = 1 - g*g``)
    and the ``o`` rows of ``G`` become ``o * (1 - tc^2) = o - h * tc``.
    """
    u2, u3, u4 = 2 * units, 3 * units, 4 * units
    np.multiply(G[:, :u4], G[:, :u4], out=F)
    np.subtract(G[:, :u3], F[:, :u3], out=F[:, :u3])
    np.subtract(1, F[:, u3:], out=F[:, u3:])
    F[:, :units] *= TC
    F[:, units:u3] *= G[:, u3:]
    F[:, u3:] *= G[:, units:u2]
    np.subtract(G[:, :units], H * TC, out=G[:, :units])


def backward(dHT, dfinals, cache, keep=None, drop=None, chunk=32, gates=None, input_grad=True):
    """BPTT of :func:`forward`; the equations of :func:`..lstm.lstm_sequence_backward`.

    ``dHT (T, U, B)`` or None; ``dh``/``dc (U, B)`` (dL/dh_T, dL/dc_T) are updated in
    place; ``keep``/``drop (T, 1, B)`` the float mask multipliers. With ``F`` and
    ``oc = o * (1 - tc^2)`` from :func:`_lstm_fm_prepare`, per step::

        dc += dh * oc
        dZ[t] = F[t] * [dh, dc, dc, dc]          # dL/dz, rows [o | i | f | g]
        dc *= f;  dh = RK.T @ dZ[t] * rdrop

    Each finished chunk's ``sum_t dZ[t] @ XH[t].T`` (every weight gradient at once)
    runs on the helper thread. ``gates``, when given, is the compiled
    ``lstm_fm_back_gates`` (the elementwise lines of a step in one call; unmasked runs).
    Returns ``dxs (T, B, D)`` (None without ``input_grad``), ``[dh0, dc0] (U, B)`` and
    Keras-layout ``[dkernel, drecurrent_kernel, (dbias)]``.
    """
    XH, G, HS, dZ, rdrop, Wx, RK, perm, dim, ws = cache
    dh, dc = dfinals
    steps, width, batch = XH.shape[0] - 1, XH.shape[1], XH.shape[2]
    units = RK.shape[1]
    kx = width - units
    u2, u3, u4 = 2 * units, 3 * units, 4 * units
    dt = XH.dtype
    RKb = np.ascontiguousarray(RK.T)
    Wd = np.ascontiguousarray(Wx[:, :dim])
    dxs = np.empty((steps, batch, dim), dt) if input_grad else None
    tmp = np.empty((units, batch), dt)
    if keep is not None:
        hpass, cpass = np.empty_like(tmp), np.empty_like(tmp)
    C = min(steps, chunk)
    acc = Accumulator()
    flush = layout.flush_constant(dt)

    def grads_of(a, b):
        acc.add("w", layout.sum_outer(dZ[a:b], XH[a:b]))

    Zo, Zifg = dZ[:, :units], dZ[:, units:].reshape(steps, 3, units, batch)
    OC, Gf = G[:, :units], G[:, u2:u3]
    compiled = gates is not None and keep is None
    none = np.empty((0, 0), dt)
    with Helper(C * batch * (Wx.size + RK.size), batch * RK.size) as helper:
        for e in range(steps, 0, -C):
            s = max(e - C, 0)
            for t in range(e - 1, s - 1, -1):
                if compiled:
                    gates(dh, dc, none if dHT is None else dHT[t], OC[t], Gf[t], dZ[t], flush)
                    np.dot(RKb, dZ[t], out=dh)
                    if rdrop is not None:
                        dh *= rdrop
                    continue
                if dHT is not None:
                    dh += dHT[t]
                if keep is not None:
                    np.multiply(dh, drop[t], out=hpass)
                    dh *= keep[t]
                    np.multiply(dc, drop[t], out=cpass)
                    dc *= keep[t]
                np.multiply(dh, OC[t], out=tmp)
                dc += tmp
                Zo[t] *= dh
                Zifg[t] *= dc
                dc *= Gf[t]
                np.dot(RKb, dZ[t], out=dh)
                if rdrop is not None:
                    dh *= rdrop
                if keep is not None:
                    dh += hpass
                    dc += cpass
                if t % layout.FLUSH_EVERY == 0:  # subnormals to zero (see layout.flush_constant)
                    dh += flush
                    dh -= flush
                    dc += flush
                    dc -= flush
            helper.submit(grads_of, s, e)
            if input_grad:
                np.matmul(dZ[s:e].transpose(0, 2, 1), Wd, out=dxs[s:e])
    if compiled:  # the last product's result is flushed like the others
        for v in (dh, dc):
            v += flush
            v -= flush
    dW = acc.sums["w"]
    grads = [layout.scatter_cols(dW[:, :dim], perm, u4), layout.scatter_cols(dW[:, kx:], perm, u4)]
    if kx > dim:
        grads.append(layout.scatter_vec(dW[:, dim], perm, u4))
    return dxs, [dh, dc], grads

