"""GRU (``reset_after=True``, tanh/sigmoid) on the feature-major NumPy engine: the
equations of :mod:`rnnkit.layers.recurrent.gru`, restated for speed.

Tests (tests/layers/recurrent/test_gru.py) hold these equal to the reference.
``gates``, when given, is the compiled gate pass (``gru_fm_gates[_train]``).
"""
from __future__ import annotations

import numpy as np

from ..threads import Accumulator, Helper
from . import layout

ROW_GATES = ("r", "z", "h")       # working rows of the gates (sigmoids first)
GRAD_ROW_GATES = ("h", "r", "z")  # rows of the recurrent gradient, next to dz_h in dR


def forward(cell, XH, states0, kernel, recurrent_kernel, bias, drop=None, rdrop=None,
            train=True, ws=None, gates=None, chunk=32):
    """Feature-major GRU, ``reset_after=True`` with tanh/sigmoid (see :mod:`.layout`); the
    math of :func:`..gru.gru_sequence_forward`. ``XH`` rows are ``[x_t | 1 | h_{t-1}]`` (no
    ones row without bias), so ``XH[t][D:]`` times ``RKa = [b_rec | recurrent_kernel.T]``
    adds the recurrent bias. Per step, ``G[t]`` holds ``[r | z | hh]``::

        G[t] = Wxs @ XH[t][:kx]                   # helper thread, a chunk ahead
        M[t] = RKas @ XH[t][D:]                   # [m_r | m_z | m_h], r and z rows halved
        r, z = 0.5 * tanh(G[t][:2U] + M[t][:2U]) + 0.5
        hh = tanh(G[t][2U:] + r * m_h)
        HD[t] = h_prev - hh;  h = hh + z * HD[t]   # h is HS[t + 1]

    When training, :func:`_gru_fm_prepare` of each finished chunk runs on the helper.
    Returns ``HS (T + 1, U, B)``, ``[h_T]`` and the cache (None unless ``train``).
    """
    h0 = states0[0]
    steps, width, batch = XH.shape[0] - 1, XH.shape[1], XH.shape[2]
    units = h0.shape[0]
    kx, dim = width - units, kernel.shape[0]
    u2, u3 = 2 * units, 3 * units
    dt = XH.dtype
    pf = layout.gate_perm(cell.blocks(*ROW_GATES), units)
    pb = layout.gate_perm(cell.blocks(*GRAD_ROW_GATES), units)
    scale = layout.row_scale(u2, u3, dt)
    Wx = layout.input_weights(kernel, None if bias is None else bias[0], pf)
    RKa = recurrent_kernel.T[pf]
    if bias is not None:
        RKa = np.concatenate([bias[1][pf][:, None], RKa], axis=1)
    Wxs, RKas = Wx * scale, np.ascontiguousarray(RKa * scale)
    C = min(steps, chunk)
    tag = "" if train else "_infer"
    G = layout.empty(ws, "G", (steps, u3, batch), dt) if train else layout.empty(ws, "G_infer", (2, C, u3, batch), dt)
    M = layout.empty(ws, "M" + tag, (2, C, u3, batch), dt)
    HD = layout.empty(ws, "HD" + tag, (2, C, units, batch), dt)
    dR = layout.empty(ws, "dR", (steps, 4 * units, batch), dt) if train else None
    HS = XH[:, kx:] if rdrop is None else layout.empty(ws, "HS" + tag, (steps + 1, units, batch), dt)
    HS[0] = h0
    if rdrop is not None:
        np.multiply(h0, rdrop, out=XH[0, kx:])
    tmp = np.empty((units, batch), dt)
    views = []
    for k, a in enumerate(range(0, steps, C)):
        n = min(C, steps - a)
        views.append((a, n, G[a:a + n] if train else G[k % 2, :n], M[k % 2, :n], HD[k % 2, :n]))

    def project(k):
        a, n, Gk, _, _ = views[k]
        np.matmul(Wxs, XH[a:a + n, :kx], out=Gk)

    def prepare(k):
        a, n, Gk, Mk, HDk = views[k]
        _gru_fm_prepare(Gk, Mk, HDk, dR[a:a + n], units)

    with Helper(C * batch * Wx.size, batch * RKas.size) as helper:
        project(0)
        for k, (a, n, Gk, Mk, HDk) in enumerate(views):
            nxt = helper.submit(project, k + 1) if k + 1 < len(views) else None
            RZ, R, Zg, HH = Gk[:, :u2], Gk[:, :units], Gk[:, units:u2], Gk[:, u2:]
            MRZ, MH = Mk[:, :u2], Mk[:, u2:]
            Rin, Hin, Hk = XH[a:a + n + 1, dim:], XH[a:a + n + 1, kx:], HS[a:a + n + 1]
            for j in range(n):
                ht = Hk[j + 1]
                np.dot(RKas, Rin[j], out=Mk[j])
                if gates is None:
                    rz = RZ[j]
                    rz += MRZ[j]
                    np.tanh(rz, out=rz)
                    rz *= 0.5
                    rz += 0.5
                    np.multiply(R[j], MH[j], out=tmp)
                    hh = HH[j]
                    hh += tmp
                    np.tanh(hh, out=hh)
                    np.subtract(Hk[j], hh, out=HDk[j])
                    np.multiply(HDk[j], Zg[j], out=tmp)
                    np.add(hh, tmp, out=ht)
                elif train:  # _gru_fm_prepare's work too
                    gates(Gk[j], Mk[j], Hk[j], ht, dR[a + j])
                else:
                    gates(Gk[j], Mk[j], Hk[j], ht)
                if drop is not None:
                    np.copyto(ht, Hk[j], where=drop[a + j])
                if rdrop is not None:
                    np.multiply(ht, rdrop, out=Hin[j + 1])
            if nxt is not None:
                nxt.result()
            if train and gates is None:
                helper.submit(prepare, k)
    RKb = np.ascontiguousarray(recurrent_kernel.T[pb].T)
    cache = (XH, G, dR, rdrop, Wx, RKb, pf, pb, dim, ws) if train else None
    return HS, [HS[steps]], cache


def _gru_fm_prepare(G, M, HD, F, units):
    """What backward needs of a chunk of steps, in bulk: ``F`` rows ``[Frh | Fr | Fz | Fh]``
    with ``Fh = (1 - z) * (1 - hh^2)``, ``Fz = HD * z * (1 - z)``, ``Frh = Fh * r``,
    ``Fr = Fh * m_h * r * (1 - r)``; times ``dh`` they give ``[dz_h * r, dz_r, dz_z, dz_h]``.
    """
    u2, u3 = 2 * units, 3 * units
    r, z, hh, mh = G[:, :units], G[:, units:u2], G[:, u2:], M[:, u2:]
    Frh, Fr, Fz, Fh = F[:, :units], F[:, units:u2], F[:, u2:u3], F[:, u3:]
    omz = 1 - z
    np.multiply(hh, hh, out=Fh)
    np.subtract(1, Fh, out=Fh)
    Fh *= omz
    np.multiply(z, omz, out=Fz)
    Fz *= HD
    np.multiply(Fh, r, out=Frh)
    np.multiply(r, r, out=Fr)
    np.subtract(r, Fr, out=Fr)
    Fr *= mh
    Fr *= Fh


def backward(dHT, dfinals, cache, keep=None, drop=None, chunk=32, gates=None, input_grad=True):
    """BPTT of :func:`forward` (the equations of :func:`..gru.gru_sequence_backward`).

    ``dR[t]`` arrives holding ``F`` from :func:`_gru_fm_prepare`; per step::

        dR[t] = F[t] * dh                        # [dz_h * r | dz_r | dz_z | dz_h]
        dh = (RKb @ dR[t][:3U]) * rdrop + dh * z

    ``dR[t][U:]`` is dL/d(input projection) (rows ``[r | z | h]``). The weight
    gradients of finished chunks run on the helper thread. ``gates``, when given, is
    the compiled ``gru_fm_back_gates`` (unmasked runs). Returns ``dxs (T, B, D)``,
    ``[dh0]`` and Keras-layout ``[dkernel, drecurrent_kernel, (dbias (2, 3U))]``.
    """
    XH, G, dR, rdrop, Wx, RKb, pf, pb, dim, ws = cache
    dh = dfinals[0]
    steps, width, batch = XH.shape[0] - 1, XH.shape[1], XH.shape[2]
    units = RKb.shape[0]
    kx = width - units
    u2, u3 = 2 * units, 3 * units
    dt = XH.dtype
    Wd = np.ascontiguousarray(Wx[:, :dim])
    dxs = np.empty((steps, batch, dim), dt) if input_grad else None
    q = np.empty((units, batch), dt)
    if keep is not None:
        hpass = np.empty_like(q)
    C = min(steps, chunk)
    acc = Accumulator()
    flush = layout.flush_constant(dt)

    def grads_of(a, b):
        acc.add("x", layout.sum_outer(dR[a:b, units:], XH[a:b, :kx]))
        acc.add("r", layout.sum_outer(dR[a:b, :u3], XH[a:b, dim:]))

    F4, Zg = dR.reshape(steps, 4, units, batch), G[:, units:u2]
    compiled = gates is not None and keep is None
    none = np.empty((0, 0), dt)
    with Helper(C * batch * (Wx.size + RKb.size), batch * RKb.size) as helper:
        for e in range(steps, 0, -C):
            s = max(e - C, 0)
            for t in range(e - 1, s - 1, -1):
                if compiled:
                    gates(dh, none if dHT is None else dHT[t], Zg[t], dR[t], q, flush)
                    np.dot(RKb, dR[t, :u3], out=dh)
                    if rdrop is not None:
                        dh *= rdrop
                    dh += q
                    continue
                if dHT is not None:
                    dh += dHT[t]
                if keep is not None:
                    np.multiply(dh, drop[t], out=hpass)
                    dh *= keep[t]
                np.multiply(dh, Zg[t], out=q)
                F4[t] *= dh
                dR[t] += flush  # saturated gates' tiny factors times dh: keep them out of the
                dR[t] -= flush  # subnormal range (see layout.flush_constant)
                np.dot(RKb, dR[t, :u3], out=dh)
                if rdrop is not None:
                    dh *= rdrop
                dh += q
                if keep is not None:
                    dh += hpass
                if t % layout.FLUSH_EVERY == 0:  # subnormals to zero (see layout.flush_constant)
                    dh += flush
                    dh -= flush
            helper.submit(grads_of, s, e)
            if input_grad:
                np.matmul(dR[s:e, units:].transpose(0, 2, 1), Wd, out=dxs[s:e])
    if compiled:  # the last product's result is flushed like the others
        dh += flush
        dh -= flush
    dWx, dRK = acc.sums["x"], acc.sums["r"]
    grads = [layout.scatter_cols(dWx[:, :dim], pf, u3), layout.scatter_cols(dRK[:, -units:], pb, u3)]
    if kx > dim:
        grads.append(np.stack([layout.scatter_vec(dWx[:, dim], pf, u3), layout.scatter_vec(dRK[:, 0], pb, u3)]))
    return dxs, [dh], grads

