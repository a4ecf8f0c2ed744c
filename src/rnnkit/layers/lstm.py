"""LSTM (Hochreiter & Schmidhuber, 1997) with Keras' layout and gate order i, f, c, o.

Weights: ``kernel (D, 4U)``, ``recurrent_kernel (U, 4U)``, ``bias (4U,)``; column
blocks ``[i | f | c | o]`` (input gate, forget gate, cell candidate, output gate).
``4 * ((D + 1) * U + U^2)`` parameters.
"""
from __future__ import annotations

import numpy as np

from .. import activations, initializers
from . import _fm, _jit
from .recurrent import RecurrentLayer


def lstm_step(x_t, h_prev, c_prev, kernel, recurrent_kernel, bias=None,
              activation="tanh", recurrent_activation="sigmoid"):
    """One LSTM step, as the gate equations are written::

        z = x_t @ kernel + h_prev @ recurrent_kernel + bias     # (B, 4U), blocks i|f|c|o
        i = sigmoid(z_i)          input gate
        f = sigmoid(z_f)          forget gate
        g = tanh(z_c)             cell candidate
        o = sigmoid(z_o)          output gate
        c_t = f * c_prev + i * g
        h_t = o * tanh(c_t)

    Shapes: ``x_t (B, D)``, ``h_prev``/``c_prev (B, U)``. Returns ``(h_t, c_t)``.
    """
    act, rec = activations.get(activation), activations.get(recurrent_activation)
    z = x_t @ kernel + h_prev @ recurrent_kernel
    if bias is not None:
        z = z + bias
    z_i, z_f, z_c, z_o = np.split(z, 4, axis=-1)
    i, f, g, o = rec(z_i), rec(z_f), act(z_c), rec(z_o)
    c_t = f * c_prev + i * g
    h_t = o * act(c_t)
    return h_t, c_t


def _sigmoid_(x):
    """In-place logistic function via ``0.5 * tanh(0.5 x) + 0.5`` (stable, one transcendental)."""
    x *= 0.5
    np.tanh(x, out=x)
    x *= 0.5
    x += 0.5


def lstm_sequence_forward(xs, h0, c0, kernel, recurrent_kernel, bias, activation,
                          recurrent_activation, mask=None, rdrop=None):
    """Run the LSTM over ``xs (T, B, D)``; returns ``H (T, B, U)``, ``[h_T, c_T]``, cache.

    ``G[t]`` first holds the pre-activations ``z`` of step t and is then overwritten
    with the gate values ``[i | f | g | o]``; ``C`` holds the cell states and ``TC``
    ``activation(c_t)``. At masked steps ``h`` and ``c`` are carried forward.
    """
    steps, batch, _ = xs.shape
    units = recurrent_kernel.shape[0]
    u2, u3 = 2 * units, 3 * units
    G = (xs.reshape(steps * batch, -1) @ kernel).reshape(steps, batch, 4 * units)
    if bias is not None:
        G += bias
    keep_z = not (activation.from_output and recurrent_activation.from_output)
    Zs = np.empty_like(G) if keep_z else None
    H = np.empty((steps, batch, units), G.dtype)
    C = np.empty_like(H)
    TC = np.empty_like(H)
    buf = np.empty((batch, 4 * units), G.dtype)
    tmp = np.empty((batch, units), G.dtype)
    fast = activation is activations.tanh and recurrent_activation is activations.sigmoid
    h, c = h0, c0
    for t in range(steps):
        np.dot(h if rdrop is None else h * rdrop, recurrent_kernel, out=buf)
        g = G[t]
        g += buf
        if keep_z:
            Zs[t] = g
        if fast:
            _sigmoid_(g[:, :u2])
            np.tanh(g[:, u2:u3], out=g[:, u2:u3])
            _sigmoid_(g[:, u3:])
        else:
            g[:, :u2] = recurrent_activation(g[:, :u2])
            g[:, u2:u3] = activation(g[:, u2:u3])
            g[:, u3:] = recurrent_activation(g[:, u3:])
        ct, ht = C[t], H[t]
        np.multiply(g[:, units:u2], c, out=ct)
        np.multiply(g[:, :units], g[:, u2:u3], out=tmp)
        ct += tmp
        if fast:
            np.tanh(ct, out=TC[t])
        else:
            TC[t] = activation(ct)
        np.multiply(g[:, u3:], TC[t], out=ht)
        if mask is not None:
            keep_prev = ~mask[t]
            np.copyto(ht, h, where=keep_prev)
            np.copyto(ct, c, where=keep_prev)
        h, c = ht, ct
    cache = (xs, h0, c0, G, Zs, H, C, TC, mask, rdrop, activation, recurrent_activation)
    return H, [h.copy(), c.copy()], cache


def lstm_sequence_backward(dH, dfinals, cache, kernel, recurrent_kernel, bias):
    """BPTT for :func:`lstm_sequence_forward`.

    Per step, from the last (``dc`` carries dL/dc_t, ``dh`` dL/dh_t)::

        dz_o = dh * tc * o'                       tc = activation(c_t)
        dc   = dc + dh * o * activation'(c_t)
        dz_i = dc * g * i'      dz_f = dc * c_prev * f'      dz_c = dc * i * g'
        dc_prev = dc * f        dh_prev = (dz @ recurrent_kernel.T) * rdrop

    Returns ``dxs (T, B, D)``, ``[dh0, dc0]``, ``[dkernel, drecurrent_kernel, (dbias)]``.
    """
    xs, h0, c0, G, Zs, H, C, TC, mask, rdrop, act, rec = cache
    steps, batch, dim = xs.shape
    units = recurrent_kernel.shape[0]
    u2, u3 = 2 * units, 3 * units
    dG = np.empty_like(G)
    dh = np.zeros((batch, units), H.dtype) if dfinals[0] is None else np.array(dfinals[0], H.dtype)
    dc = np.zeros((batch, units), H.dtype) if dfinals[1] is None else np.array(dfinals[1], H.dtype)
    rt = recurrent_kernel.T
    fast = act is activations.tanh and rec is activations.sigmoid
    tmp = np.empty((batch, units), H.dtype)

    def gate_grad(y, dy, block, t):
        # dL/dz for a gate: sigmoid' = y (1 - y) in the fast path.
        if fast and block != 2:
            return dy * (y - y * y)
        a = act if block == 2 else rec
        z = None if Zs is None else Zs[t][:, block * units:(block + 1) * units]
        return a.backward(z, y, dy)

    for t in range(steps - 1, -1, -1):
        if dH is not None:
            dh += dH[t]
        if mask is not None:
            m = mask[t]
            h_pass = np.where(m, 0, dh)
            c_pass = np.where(m, 0, dc)
            dh *= m
            dc *= m
        g, tc = G[t], TC[t]
        i, f, cc, o = g[:, :units], g[:, units:u2], g[:, u2:u3], g[:, u3:]
        c_prev = c0 if t == 0 else C[t - 1]
        dg = dG[t]
        dg[:, u3:] = gate_grad(o, dh * tc, 3, t)
        np.multiply(dh, o, out=tmp)
        if fast:
            dc += tmp * (1 - tc * tc)
        else:
            dc += act.backward(C[t], tc, tmp)
        dg[:, :units] = gate_grad(i, dc * cc, 0, t)
        dg[:, units:u2] = gate_grad(f, dc * c_prev, 1, t)
        dg[:, u2:u3] = gate_grad(cc, dc * i, 2, t)
        dc *= f
        dh = dg @ rt
        if rdrop is not None:
            dh *= rdrop
        if mask is not None:
            dh += h_pass
            dc += c_pass
    flat = dG.reshape(steps * batch, 4 * units)
    dkernel = xs.reshape(steps * batch, dim).T @ flat
    drec = (h0 if rdrop is None else h0 * rdrop).T @ dG[0]
    if steps > 1:
        hp = H[:-1] if rdrop is None else H[:-1] * rdrop
        drec += hp.reshape(-1, units).T @ flat[batch:]
    grads = [dkernel, drec]
    if bias is not None:
        grads.append(flat.sum(axis=0))
    dxs = (flat @ kernel.T).reshape(steps, batch, dim)
    return dxs, [dh, dc], grads


# Working row order of the fast kernels: the three sigmoid gates first, so one
# contiguous block gets the affine map, then g; c_prev follows g in ``G`` so that
# ``[i, f] * [g, c_prev]`` is one call.
_FM_ORDER = (3, 0, 1, 2)  # Keras blocks i=0, f=1, c=2, o=3 -> rows [o | i | f | g]


def lstm_fm_forward(XH, h0, c0, kernel, recurrent_kernel, bias, drop=None, rdrop=None,
                    train=True, ws=None):
    """Feature-major LSTM (see :mod:`._fm`): the math of :func:`lstm_sequence_forward`
    for tanh/sigmoid, over ``XH`` from :func:`._fm.inputs_fm`.

    ``h0``/``c0`` are ``(U, B)``; ``drop (T, 1, B)`` bool is True at masked steps;
    ``rdrop (U, B)``; ``ws`` an optional :class:`._fm.Workspace`. ``G[t]`` holds the
    rows ``[o | i | f | g | c_prev]`` of step t; per step::

        G[t][:4U] = tanh(Wxs @ XH[t][:kx] + RKs @ XH[t][kx:])   # sigmoid rows halved
        G[t][:3U] = 0.5 * G[t][:3U] + 0.5                        # o, i, f
        P = [i, f] * [g, c_prev];  c = P[:U] + P[U:]             # c is G[t + 1][4U:]
        tc = tanh(c);  h = o * tc                                # h is HS[t + 1]

    The input projection of the next chunk of steps runs on the helper thread, and
    so does :func:`_lstm_fm_prepare` of each finished chunk when training. Returns
    ``HS (T + 1, U, B)`` (``HS[1:]`` are the states), ``[h_T, c_T]`` and the cache
    (None unless ``train``).
    """
    steps, width, batch = XH.shape[0] - 1, XH.shape[1], XH.shape[2]
    units = h0.shape[0]
    kx = width - units
    u2, u3, u4, u5 = 2 * units, 3 * units, 4 * units, 5 * units
    dt = XH.dtype
    perm = _fm.gate_perm(_FM_ORDER, units)
    scale = _fm.row_scale(u3, u4, dt)
    Wx = _fm.input_weights(kernel, bias, perm)
    RK = np.ascontiguousarray(recurrent_kernel.T[perm])
    Wxs, RKs = Wx * scale, RK * scale
    C = min(steps, _fm.CHUNK)
    tag = "" if train else "_infer"
    if train:
        G = _fm.empty(ws, "G", (steps + 1, u5, batch), dt)
        dZ = _fm.empty(ws, "dZ", (steps, u4, batch), dt)
    else:
        G = _fm.empty(ws, "G_infer", (2, C + 1, u5, batch), dt)
    TC = _fm.empty(ws, "TC" + tag, (2, C, units, batch), dt)
    # The dot reads h_prev from XH's state rows; with recurrent dropout those hold
    # h * rdrop and the states themselves live in HS.
    HS = XH[:, kx:] if rdrop is None else _fm.empty(ws, "HS" + tag, (steps + 1, units, batch), dt)
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

    gates = _jit.fm_gates("lstm_fm_gates_train" if train else "lstm_fm_gates", dt)  # or None
    with _fm.Helper(C * batch * Wx.size, batch * RK.size) as helper:
        views[0][2][0, u4:] = c0
        project(0)
        for k, (a, n, Gk, TCk) in enumerate(views):
            if k and not train:
                pG, pn = views[k - 1][2], views[k - 1][1]
                Gk[0, u4:] = pG[pn, u4:]
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


def lstm_fm_backward(dHT, dh, dc, cache, keep=None, drop=None):
    """BPTT of :func:`lstm_fm_forward`; the equations of :func:`lstm_sequence_backward`.

    ``dHT (T, U, B)`` or None; ``dh``/``dc (U, B)`` (dL/dh_T, dL/dc_T) are updated in
    place; ``keep``/``drop (T, 1, B)`` the float mask multipliers. With ``F`` and
    ``oc = o * (1 - tc^2)`` from :func:`_lstm_fm_prepare`, per step::

        dc += dh * oc
        dZ[t] = F[t] * [dh, dc, dc, dc]          # dL/dz, rows [o | i | f | g]
        dc *= f;  dh = RK.T @ dZ[t] * rdrop

    Each finished chunk's ``sum_t dZ[t] @ XH[t].T`` (every weight gradient at once)
    runs on the helper thread. Returns ``dxs (T, B, D)``, ``[dh0, dc0] (U, B)`` and
    Keras-layout ``[dkernel, drecurrent_kernel, (dbias)]``.
    """
    XH, G, HS, dZ, rdrop, Wx, RK, perm, dim, ws = cache
    steps, width, batch = XH.shape[0] - 1, XH.shape[1], XH.shape[2]
    units = RK.shape[1]
    kx = width - units
    u2, u3, u4 = 2 * units, 3 * units, 4 * units
    dt = XH.dtype
    RKb = np.ascontiguousarray(RK.T)
    Wd = np.ascontiguousarray(Wx[:, :dim])
    dxs = np.empty((steps, batch, dim), dt)
    tmp = np.empty((units, batch), dt)
    if keep is not None:
        hpass, cpass = np.empty_like(tmp), np.empty_like(tmp)
    C = min(steps, _fm.CHUNK)
    acc = _fm.Accumulator()

    def grads_of(a, b):
        acc.add("w", _fm.sum_outer(dZ[a:b], XH[a:b]))

    Zo, Zifg = dZ[:, :units], dZ[:, units:].reshape(steps, 3, units, batch)
    OC, Gf = G[:, :units], G[:, u2:u3]
    with _fm.Helper(C * batch * (Wx.size + RK.size), batch * RK.size) as helper:
        for e in range(steps, 0, -C):
            s = max(e - C, 0)
            for t in range(e - 1, s - 1, -1):
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
            helper.submit(grads_of, s, e)
            np.matmul(dZ[s:e].transpose(0, 2, 1), Wd, out=dxs[s:e])
    dW = acc.sums["w"]
    grads = [_fm.scatter_cols(dW[:, :dim], perm, u4), _fm.scatter_cols(dW[:, kx:], perm, u4)]
    if kx > dim:
        grads.append(_fm.scatter_vec(dW[:, dim], perm, u4))
    return dxs, [dh, dc], grads


class LSTM(RecurrentLayer):
    """Long short-term memory layer (Keras arguments and weights).

    ``unit_forget_bias=True`` initializes the forget-gate block of the bias to 1, as
    Keras does. ``return_state=True`` returns ``[output, h, c]``.
    """

    n_gates = 4
    state_names = ("h", "c")

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid",
                 use_bias: bool = True, unit_forget_bias: bool = True, **kwargs):
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         use_bias=use_bias, **kwargs)
        self.unit_forget_bias = bool(unit_forget_bias)

    def _bias_init(self, shape, dtype, rng):
        if not self.unit_forget_bias:
            return self.bias_initializer(shape, dtype, rng)
        u = self.units
        return np.concatenate([self.bias_initializer((u,), dtype, rng),
                               initializers.Ones()((u,), dtype, rng),
                               self.bias_initializer((2 * u,), dtype, rng)])

    def _sequence_forward(self, xs, states0, mt, rdp):
        return lstm_sequence_forward(xs, states0[0], states0[1], self.kernel, self.recurrent_kernel,
                                     self.bias, self.activation, self.recurrent_activation, mt, rdp)

    def _sequence_backward(self, dH, dfinals, kcache):
        return lstm_sequence_backward(dH, dfinals, kcache, self.kernel, self.recurrent_kernel, self.bias)

    def _fm_supported(self):
        return self.activation is activations.tanh and self.recurrent_activation is activations.sigmoid

    _jit_max_work = 2048  # batch * units per core, past 64 units (measured crossover)

    def _jit_supported(self):
        return self._fm_supported()

    def _jit_kernel(self):
        k, rk = _jit.kernels().lstm, self.recurrent_kernel
        return lambda table, ids, steps, *rest: k(table, ids, steps, rk, *rest)

    def _fm_run(self, X, s0, drop, rd, train):
        return lstm_fm_forward(X, s0[0], s0[1], self.kernel, self.recurrent_kernel, self.bias,
                               drop, rd, train, self._workspace())

    def _fm_backprop(self, dHT, dfin, kcache, keep, drop):
        return lstm_fm_backward(dHT, dfin[0], dfin[1], kcache, keep, drop)

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}
