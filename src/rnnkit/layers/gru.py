"""GRU (Cho et al., 2014) with Keras' layout: gate order z, r, h and ``reset_after``.

Weights: ``kernel (D, 3U)``, ``recurrent_kernel (U, 3U)``, column blocks
``[z | r | h]`` (update gate, reset gate, candidate). With ``reset_after=True``
(Keras' default, and PyTorch's formulation) the bias is ``(2, 3U)``: row 0 is added
to the input projection and row 1 to the recurrent one; otherwise it is ``(3U,)``.
"""
from __future__ import annotations

import numpy as np

from .. import activations
from . import _fm, _jit
from .lstm import _sigmoid_
from .recurrent import RecurrentLayer


def gru_step(x_t, h_prev, kernel, recurrent_kernel, bias=None, reset_after: bool = True,
             activation="tanh", recurrent_activation="sigmoid"):
    """One GRU step, as the equations are written. With ``reset_after=True``::

        x = x_t @ kernel + bias[0]               # (B, 3U), blocks z|r|h
        m = h_prev @ recurrent_kernel + bias[1]
        z  = sigmoid(x_z + m_z)                  update gate
        r  = sigmoid(x_r + m_r)                  reset gate
        hh = tanh(x_h + r * m_h)                 candidate
        h_t = z * h_prev + (1 - z) * hh

    With ``reset_after=False`` the reset gate is applied before the product:
    ``hh = tanh(x_h + (r * h_prev) @ recurrent_kernel_h)`` and ``bias`` is ``(3U,)``.
    """
    act, rec = activations.get(activation), activations.get(recurrent_activation)
    u = recurrent_kernel.shape[0]
    b_in = b_rec = 0.0
    if bias is not None:
        b_in, b_rec = (bias[0], bias[1]) if reset_after else (bias, 0.0)
    x = x_t @ kernel + b_in
    if reset_after:
        m = h_prev @ recurrent_kernel + b_rec
        z = rec(x[..., :u] + m[..., :u])
        r = rec(x[..., u:2 * u] + m[..., u:2 * u])
        hh = act(x[..., 2 * u:] + r * m[..., 2 * u:])
    else:
        m = h_prev @ recurrent_kernel[:, :2 * u]
        z = rec(x[..., :u] + m[..., :u])
        r = rec(x[..., u:2 * u] + m[..., u:])
        hh = act(x[..., 2 * u:] + (r * h_prev) @ recurrent_kernel[:, 2 * u:])
    return z * h_prev + (1 - z) * hh


def gru_sequence_forward(xs, h0, kernel, recurrent_kernel, bias, activation, recurrent_activation,
                         reset_after=True, mask=None, rdrop=None):
    """Run the GRU over ``xs (T, B, D)``; returns ``H (T, B, U)``, ``[h_T]``, cache.

    ``X[t]`` holds the input projections of step t, then is overwritten with the
    gate values ``[z | r | hh]``. ``M[t]`` keeps what the candidate needs from the
    recurrent side: ``h_prev @ U_h + b_rec_h`` (reset_after) or ``r * h_prev``.
    """
    steps, batch, _ = xs.shape
    units = recurrent_kernel.shape[0]
    u2 = 2 * units
    X = (xs.reshape(steps * batch, -1) @ kernel).reshape(steps, batch, 3 * units)
    b_rec = None
    if bias is not None:
        if reset_after:
            X += bias[0]
            b_rec = bias[1]
        else:
            X += bias
    keep_z = not (activation.from_output and recurrent_activation.from_output)
    Zs = np.empty_like(X) if keep_z else None
    H = np.empty((steps, batch, units), X.dtype)
    M = np.empty_like(H)
    fast = recurrent_activation is activations.sigmoid
    if reset_after:
        buf = np.empty((batch, 3 * units), X.dtype)
    else:
        rk_zr = np.ascontiguousarray(recurrent_kernel[:, :u2])
        rk_h = np.ascontiguousarray(recurrent_kernel[:, u2:])
        buf = np.empty((batch, u2), X.dtype)
        buf_h = np.empty((batch, units), X.dtype)
    h = h0
    for t in range(steps):
        hr = h if rdrop is None else h * rdrop
        x = X[t]
        if reset_after:
            np.dot(hr, recurrent_kernel, out=buf)
            if b_rec is not None:
                buf += b_rec
            x[:, :u2] += buf[:, :u2]
            M[t] = buf[:, u2:]
        else:
            np.dot(hr, rk_zr, out=buf)
            x[:, :u2] += buf
        if keep_z:
            Zs[t, :, :u2] = x[:, :u2]
        if fast:
            _sigmoid_(x[:, :u2])
        else:
            x[:, :u2] = recurrent_activation(x[:, :u2])
        r = x[:, units:u2]
        if reset_after:
            x[:, u2:] += r * M[t]
        else:
            np.multiply(r, hr, out=M[t])
            np.dot(M[t], rk_h, out=buf_h)
            x[:, u2:] += buf_h
        if keep_z:
            Zs[t, :, u2:] = x[:, u2:]
        x[:, u2:] = activation(x[:, u2:])
        hh = x[:, u2:]
        ht = H[t]
        np.subtract(h, hh, out=ht)
        ht *= x[:, :units]
        ht += hh
        if mask is not None:
            np.copyto(ht, h, where=~mask[t])
        h = ht
    cache = (xs, h0, X, Zs, H, M, mask, rdrop, activation, recurrent_activation, reset_after)
    return H, [h.copy()], cache


def gru_sequence_backward(dH, dfinals, cache, kernel, recurrent_kernel, bias):
    """BPTT for :func:`gru_sequence_forward`.

    Per step, with ``dh`` = dL/dh_t::

        dz_h = dh * (1 - z) * act'(hh)
        dz_z = dh * (h_prev - hh) * z'
        dz_r = (dz_h * m_h) * r'                         (reset_after)
        dh_prev = dh * z + ([dz_z, dz_r, dz_h * r] @ recurrent_kernel.T) * rdrop

    Returns ``dxs (T, B, D)``, ``[dh0]``, ``[dkernel, drecurrent_kernel, (dbias)]``.
    """
    xs, h0, X, Zs, H, M, mask, rdrop, act, rec, reset_after = cache
    steps, batch, dim = xs.shape
    units = recurrent_kernel.shape[0]
    u2 = 2 * units
    dX = np.empty_like(X)
    dR = np.empty_like(X) if reset_after else None
    dh = np.zeros((batch, units), H.dtype) if dfinals[0] is None else np.array(dfinals[0], H.dtype)
    rt = recurrent_kernel.T
    if not reset_after:
        rk_zr_t = np.ascontiguousarray(recurrent_kernel[:, :u2]).T
        rk_h_t = np.ascontiguousarray(recurrent_kernel[:, u2:]).T
    fast_rec = rec is activations.sigmoid

    def grad(a, y, dy, t, lo, hi, fast):
        if fast:
            return dy * (y - y * y)
        return a.backward(None if Zs is None else Zs[t, :, lo:hi], y, dy)

    for t in range(steps - 1, -1, -1):
        if dH is not None:
            dh += dH[t]
        if mask is not None:
            h_pass = np.where(mask[t], 0, dh)
            dh *= mask[t]
        x = X[t]
        z, r, hh = x[:, :units], x[:, units:u2], x[:, u2:]
        h_prev = h0 if t == 0 else H[t - 1]
        dx = dX[t]
        # The candidate's activation takes its own backward (the fast formula is sigmoid's).
        dzh = grad(act, hh, dh * (1 - z), t, u2, 3 * units, False)
        dx[:, u2:] = dzh
        dx[:, :units] = grad(rec, z, dh * (h_prev - hh), t, 0, units, fast_rec)
        direct = dh * z
        if reset_after:
            dx[:, units:u2] = grad(rec, r, dzh * M[t], t, units, u2, fast_rec)
            dr = dR[t]
            dr[:, :u2] = dx[:, :u2]
            np.multiply(dzh, r, out=dr[:, u2:])
            dh = dr @ rt
        else:
            hr = h_prev if rdrop is None else h_prev * rdrop
            d_m = dzh @ rk_h_t
            dx[:, units:u2] = grad(rec, r, d_m * hr, t, units, u2, fast_rec)
            dh = d_m * r + dx[:, :u2] @ rk_zr_t
        if rdrop is not None:
            dh *= rdrop
        dh += direct
        if mask is not None:
            dh += h_pass
    n = steps * batch
    flat = dX.reshape(n, 3 * units)
    dkernel = xs.reshape(n, dim).T @ flat
    hp = np.empty_like(H)
    hp[0] = h0
    hp[1:] = H[:-1]
    if rdrop is not None:
        hp *= rdrop
    hp = hp.reshape(n, units)
    if reset_after:
        rflat = dR.reshape(n, 3 * units)
        drec = hp.T @ rflat
    else:
        drec = np.empty_like(recurrent_kernel)
        drec[:, :u2] = hp.T @ flat[:, :u2]
        drec[:, u2:] = M.reshape(n, units).T @ flat[:, u2:]
    grads = [dkernel, drec]
    if bias is not None:
        grads.append(np.stack([flat.sum(axis=0), rflat.sum(axis=0)]) if reset_after else flat.sum(axis=0))
    dxs = (flat @ kernel.T).reshape(steps, batch, dim)
    return dxs, [dh], grads


_FM_FWD = (1, 0, 2)  # Keras blocks z=0, r=1, h=2 -> working rows [r | z | h] (sigmoids first)
_FM_BWD = (2, 1, 0)  # rows [h | r | z] of the recurrent gradient, next to dz_h in dR


def gru_fm_forward(XH, h0, kernel, recurrent_kernel, bias, drop=None, rdrop=None,
                   train=True, ws=None):
    """Feature-major GRU, ``reset_after=True`` with tanh/sigmoid (see :mod:`._fm`); the
    math of :func:`gru_sequence_forward`. ``XH`` rows are ``[x_t | 1 | h_{t-1}]`` (no
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
    steps, width, batch = XH.shape[0] - 1, XH.shape[1], XH.shape[2]
    units = h0.shape[0]
    kx, dim = width - units, kernel.shape[0]
    u2, u3 = 2 * units, 3 * units
    dt = XH.dtype
    pf, pb = _fm.gate_perm(_FM_FWD, units), _fm.gate_perm(_FM_BWD, units)
    scale = _fm.row_scale(u2, u3, dt)
    Wx = _fm.input_weights(kernel, None if bias is None else bias[0], pf)
    RKa = recurrent_kernel.T[pf]
    if bias is not None:
        RKa = np.concatenate([bias[1][pf][:, None], RKa], axis=1)
    Wxs, RKas = Wx * scale, np.ascontiguousarray(RKa * scale)
    C = min(steps, _fm.CHUNK)
    tag = "" if train else "_infer"
    G = _fm.empty(ws, "G", (steps, u3, batch), dt) if train else _fm.empty(ws, "G_infer", (2, C, u3, batch), dt)
    M = _fm.empty(ws, "M" + tag, (2, C, u3, batch), dt)
    HD = _fm.empty(ws, "HD" + tag, (2, C, units, batch), dt)
    dR = _fm.empty(ws, "dR", (steps, 4 * units, batch), dt) if train else None
    HS = XH[:, kx:] if rdrop is None else _fm.empty(ws, "HS" + tag, (steps + 1, units, batch), dt)
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

    gates = _jit.fm_gates("gru_fm_gates_train" if train else "gru_fm_gates", dt)  # or None
    with _fm.Helper(C * batch * Wx.size, batch * RKas.size) as helper:
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


def gru_fm_backward(dHT, dh, cache, keep=None, drop=None):
    """BPTT of :func:`gru_fm_forward` (the equations of :func:`gru_sequence_backward`).

    ``dR[t]`` arrives holding ``F`` from :func:`_gru_fm_prepare`; per step::

        dR[t] = F[t] * dh                        # [dz_h * r | dz_r | dz_z | dz_h]
        dh = (RKb @ dR[t][:3U]) * rdrop + dh * z

    ``dR[t][U:]`` is dL/d(input projection) (rows ``[r | z | h]``). The weight
    gradients of finished chunks run on the helper thread. Returns ``dxs (T, B, D)``,
    ``[dh0]`` and Keras-layout ``[dkernel, drecurrent_kernel, (dbias (2, 3U))]``.
    """
    XH, G, dR, rdrop, Wx, RKb, pf, pb, dim, ws = cache
    steps, width, batch = XH.shape[0] - 1, XH.shape[1], XH.shape[2]
    units = RKb.shape[0]
    kx = width - units
    u2, u3 = 2 * units, 3 * units
    dt = XH.dtype
    Wd = np.ascontiguousarray(Wx[:, :dim])
    dxs = np.empty((steps, batch, dim), dt)
    q = np.empty((units, batch), dt)
    if keep is not None:
        hpass = np.empty_like(q)
    C = min(steps, _fm.CHUNK)
    acc = _fm.Accumulator()

    def grads_of(a, b):
        acc.add("x", _fm.sum_outer(dR[a:b, units:], XH[a:b, :kx]))
        acc.add("r", _fm.sum_outer(dR[a:b, :u3], XH[a:b, dim:]))

    F4, Zg = dR.reshape(steps, 4, units, batch), G[:, units:u2]
    with _fm.Helper(C * batch * (Wx.size + RKb.size), batch * RKb.size) as helper:
        for e in range(steps, 0, -C):
            s = max(e - C, 0)
            for t in range(e - 1, s - 1, -1):
                if dHT is not None:
                    dh += dHT[t]
                if keep is not None:
                    np.multiply(dh, drop[t], out=hpass)
                    dh *= keep[t]
                np.multiply(dh, Zg[t], out=q)
                F4[t] *= dh
                np.dot(RKb, dR[t, :u3], out=dh)
                if rdrop is not None:
                    dh *= rdrop
                dh += q
                if keep is not None:
                    dh += hpass
            helper.submit(grads_of, s, e)
            np.matmul(dR[s:e, units:].transpose(0, 2, 1), Wd, out=dxs[s:e])
    dWx, dRK = acc.sums["x"], acc.sums["r"]
    grads = [_fm.scatter_cols(dWx[:, :dim], pf, u3), _fm.scatter_cols(dRK[:, -units:], pb, u3)]
    if kx > dim:
        grads.append(np.stack([_fm.scatter_vec(dWx[:, dim], pf, u3), _fm.scatter_vec(dRK[:, 0], pb, u3)]))
    return dxs, [dh], grads


class GRU(RecurrentLayer):
    """Gated recurrent unit layer (Keras arguments and weights).

    Parameters: ``3 * (D * U + U^2 + U)`` plus ``3 * U`` more when ``reset_after``.
    """

    n_gates = 3
    state_names = ("h",)

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid",
                 use_bias: bool = True, reset_after: bool = True, **kwargs):
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         use_bias=use_bias, **kwargs)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def _sequence_forward(self, xs, states0, mt, rdp):
        return gru_sequence_forward(xs, states0[0], self.kernel, self.recurrent_kernel, self.bias,
                                    self.activation, self.recurrent_activation, self.reset_after,
                                    mt, rdp)

    def _sequence_backward(self, dH, dfinals, kcache):
        return gru_sequence_backward(dH, dfinals, kcache, self.kernel, self.recurrent_kernel, self.bias)

    def _fm_supported(self):
        return (self.reset_after and self.activation is activations.tanh
                and self.recurrent_activation is activations.sigmoid)

    _jit_max_work = 6144  # batch * units per core, past 64 units (measured crossover)

    def _jit_supported(self):
        return self._fm_supported()

    def _jit_input_bias(self):
        return None if self.bias is None else self.bias[0]

    def _jit_kernel(self):
        rbias = np.zeros(3 * self.units, np.float32) if self.bias is None else self.bias[1]
        k, rk = _jit.kernels().gru, self.recurrent_kernel
        return lambda table, ids, steps, *rest: k(table, ids, steps, rk, rbias, *rest)

    def _fm_run(self, X, s0, drop, rd, train):
        return gru_fm_forward(X, s0[0], self.kernel, self.recurrent_kernel, self.bias, drop, rd,
                              train, self._workspace())

    def _fm_backprop(self, dHT, dfin, kcache, keep, drop):
        return gru_fm_backward(dHT, dfin[0], kcache, keep, drop)

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}
