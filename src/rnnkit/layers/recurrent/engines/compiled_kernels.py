"""The compiled kernels of :mod:`._jit` (imported only when Numba is installed).

Module-level functions, so that Numba's on-disk cache (``cache=True``) finds them
again in a new process instead of compiling each one anew (~2 s).

Inputs: the input projections ``x_t @ kernel + bias`` of sample ``b`` at step ``t``
are row ``r`` of ``table``: ``r = ids[b, t]`` (an Embedding's ids, when ``table`` is
the projected embedding matrix), or ``r = b * steps + t`` when ``ids`` is empty
(``table`` is then every step's projection, ``(B * T, G)``).

Layout: samples are taken in groups of ``G`` = 4 through the whole sequence. Per
step, ``z[g] = table[r] + h[b0 + g] @ RKT`` for the group's rows at once, so
each row of ``RKT`` is loaded once for four samples (the products are then bound
by the multiply-add units, not by loads and stores); then the gate equations of
each sample run over its units as one vectorized loop. A batch's last ``< G``
samples take the same path one at a time.

Gates, in float32 (16 lanes per AVX-512 vector; float64 was 1.3x slower for an
LSTM): ``_pq(x)`` returns the numerator and denominator of the rational
approximation ``tanh(x) ~= n / d`` (see :func:`tanh`), ``sigmoid(x) = (d + n) / (2 d)``
at ``x / 2``. Products and sums of gates are formed over a common denominator, so
an LSTM step divides twice per unit instead of five times (division is the
slowest vector instruction).
"""
from __future__ import annotations

import numba
import numpy as np

# "contract": a * b + c may become one fused multiply-add (rounded once, so never
# less accurate); everything else keeps IEEE semantics.
jit = numba.njit(cache=True, fastmath={"contract"}, nogil=True, error_model="numpy")

G = 4  # samples per group (see the module docstring)


f32 = np.float32
# x * P(x^2) / Q(x^2) on |x| <= 9.1 (beyond, float32 tanh is +-1): relative error
# 1.5e-9 in exact arithmetic, fitted for rnnkit by iteratively reweighted least
# squares; evaluated in float32 the result is within 6 ulp of tanh (0.9 ulp on
# average; np.tanh: 1.4 ulp at most).
_C = (f32(9.1), f32(-1.2034374273223651e-11), f32(3.035658357202068e-08), f32(2.7912395340753024e-05),
      f32(0.0038636162400500274), f32(0.13676155418448158), f32(0.9999999985571804),
      f32(1.2807261421836785e-06), f32(0.0003930323924127534), f32(0.02722859656857935),
      f32(0.4700948735718367), f32(1.0))


@jit
def _pq(x):
    # x: float32. tanh(x) ~= n / d; returns (n, d), d >= 1.
    a = min(max(x, -_C[0]), _C[0])
    s = a * a
    p = ((((_C[1] * s + _C[2]) * s + _C[3]) * s + _C[4]) * s + _C[5]) * s + _C[6]
    q = (((_C[7] * s + _C[8]) * s + _C[9]) * s + _C[10]) * s + _C[11]
    # Rounded in float32, |a * p| can exceed q by an ulp near the clamp: keep |tanh| <= 1.
    return min(max(a * p, -q), q), q


@jit
def tanh(x, out):
    """``out[i] = tanh(x[i])`` as the kernels compute it (float32 arrays; for tests)."""
    for i in range(x.size):
        n, d = _pq(x[i])
        out[i] = n / d


@jit
def _row(ids, b, t, steps):
    return ids[b, t] if ids.shape[0] != 0 else b * steps + t


@jit
def _start(z, table, ids, b0, n, t, steps, init, width):
    # z[g] = table[row of (b0 + g, t)] (init empty), or init (GRU: added later), g < n.
    for g in range(n):
        if init.shape[0] == 0:
            r = _row(ids, b0 + g, t, steps)
            for j in range(width):
                z[g, j] = table[r, j]
        else:
            for j in range(width):
                z[g, j] = init[j]


@jit
def _add_h_rk(z, h, b0, n, RKT, units, width):
    # z[g] += h[b0 + g] @ RKT for g < n.
    if n == G:
        k = 0
        while k + 2 <= units:  # two rows of RKT for four samples per pass
            a0, a1, a2, a3 = h[b0, k], h[b0 + 1, k], h[b0 + 2, k], h[b0 + 3, k]
            c0, c1, c2, c3 = h[b0, k + 1], h[b0 + 1, k + 1], h[b0 + 2, k + 1], h[b0 + 3, k + 1]
            for j in range(width):
                r = RKT[k, j]
                s = RKT[k + 1, j]
                z[0, j] += a0 * r + c0 * s
                z[1, j] += a1 * r + c1 * s
                z[2, j] += a2 * r + c2 * s
                z[3, j] += a3 * r + c3 * s
            k += 2
        if k < units:
            a0, a1, a2, a3 = h[b0, k], h[b0 + 1, k], h[b0 + 2, k], h[b0 + 3, k]
            for j in range(width):
                r = RKT[k, j]
                z[0, j] += a0 * r
                z[1, j] += a1 * r
                z[2, j] += a2 * r
                z[3, j] += a3 * r
        return
    for g in range(n):  # the batch's remainder, one sample at a time, same sums
        b = b0 + g
        k = 0
        while k + 2 <= units:
            a0, c0 = h[b, k], h[b, k + 1]
            for j in range(width):
                z[g, j] += a0 * RKT[k, j] + c0 * RKT[k + 1, j]
            k += 2
        if k < units:
            a0 = h[b, k]
            for j in range(width):
                z[g, j] += a0 * RKT[k, j]


@jit
def _record(H, h, b0, n, j, units):
    if H.shape[0] != 0:
        for g in range(n):
            for u in range(units):
                H[b0 + g, j, u] = h[b0 + g, u]


@jit
def simple_rnn(table, ids, steps, RKT, h, mask, reverse, H):
    """``h_t = tanh(x_t @ kernel + bias + h_{t-1} @ RKT)``, the first term a row of
    ``table`` ``(rows, U)`` (see the module docstring); h ``(B, U)`` updated in place;
    H ``(B, T, U)`` (the outputs in processing order) or empty."""
    batch, units = h.shape
    z = np.empty((G, units), np.float32)
    none = np.empty(0, np.float32)
    for b0 in range(0, batch, G):
        n = min(G, batch - b0)
        for j in range(steps):
            t = steps - 1 - j if reverse else j
            _start(z, table, ids, b0, n, t, steps, none, units)
            _add_h_rk(z, h, b0, n, RKT, units, units)
            for g in range(n):
                b = b0 + g
                if mask.shape[0] == 0 or mask[b, t]:
                    for u in range(units):
                        nh, dh = _pq(z[g, u])
                        h[b, u] = nh / dh
            _record(H, h, b0, n, j, units)


@jit
def lstm(table, ids, steps, RKT, h, c, mask, reverse, H):
    """Keras gate order i, f, c, o in ``z = x_t @ kernel + bias + h_{t-1} @ RKT`` (4U
    wide, the first term a row of ``table``)::

        i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o);  g = tanh(z_c)
        c_t = f * c_{t-1} + i * g;  h_t = o * tanh(c_t)

    With ``tanh(x) = n / d``, ``sigmoid(x) = (d + n) / (2 d)`` at ``x / 2``; ``c_t``
    and ``h_t`` are each one quotient. ``h``, ``c`` ``(B, U)`` are updated in place.
    """
    batch, units = h.shape
    width = 4 * units
    z = np.empty((G, width), np.float32)
    none = np.empty(0, np.float32)
    for b0 in range(0, batch, G):
        n = min(G, batch - b0)
        for j in range(steps):
            t = steps - 1 - j if reverse else j
            _start(z, table, ids, b0, n, t, steps, none, width)
            _add_h_rk(z, h, b0, n, RKT, units, width)
            for g in range(n):
                b = b0 + g
                if mask.shape[0] == 0 or mask[b, t]:
                    for u in range(units):
                        ni, di = _pq(f32(0.5) * z[g, u])
                        nf, df = _pq(f32(0.5) * z[g, units + u])
                        ng, dg = _pq(z[g, 2 * units + u])
                        no, do = _pq(f32(0.5) * z[g, 3 * units + u])
                        ct = (((df + nf) * c[b, u] * di * dg + (di + ni) * ng * df)
                              / (f32(2.0) * df * di * dg))
                        c[b, u] = ct
                        nc, dc = _pq(ct)
                        h[b, u] = (do + no) * nc / (f32(2.0) * do * dc)
            _record(H, h, b0, n, j, units)


@jit
def gru(table, ids, steps, RKT, rbias, h, mask, reverse, H):
    """Keras GRU with ``reset_after=True``, gate order z, r, h; ``P`` (a row of
    ``table``) holds ``x_t @ kernel + input_bias``, ``zr = h_{t-1} @ RKT + rbias``::

        z = sigmoid(P_z + zr_z);  r = sigmoid(P_r + zr_r)
        hh = tanh(P_h + r * zr_h);  h_t = z * h_{t-1} + (1 - z) * hh

    ``h_t`` is formed as one quotient (see :func:`lstm`); ``h`` is updated in place.
    """
    batch, units = h.shape
    width = 3 * units
    zr = np.empty((G, width), np.float32)
    for b0 in range(0, batch, G):
        n = min(G, batch - b0)
        for j in range(steps):
            t = steps - 1 - j if reverse else j
            _start(zr, table, ids, b0, n, t, steps, rbias, width)
            _add_h_rk(zr, h, b0, n, RKT, units, width)
            for g in range(n):
                b = b0 + g
                if mask.shape[0] == 0 or mask[b, t]:
                    r = _row(ids, b, t, steps)
                    for u in range(units):
                        nz, dz = _pq(f32(0.5) * (table[r, u] + zr[g, u]))
                        nr, dr = _pq(f32(0.5) * (table[r, units + u] + zr[g, units + u]))
                        nh, dh = _pq(table[r, 2 * units + u] + (dr + nr) / (f32(2.0) * dr) * zr[g, 2 * units + u])
                        h[b, u] = ((dz + nz) * h[b, u] * dh + (dz - nz) * nh) / (f32(2.0) * dz * dh)
            _record(H, h, b0, n, j, units)


# ---------------------------------------------------------------------------
# Gates of one step of the NumPy feature-major kernels (lstm_fm_forward,
# gru_fm_forward): BLAS does the step's product, one compiled pass does the ~10
# elementwise NumPy calls that follow it. (The gate lines repeat from kernel to
# kernel on purpose: Numba did not vectorize them through a shared helper
# returning eight values, 2.5x slower.)

@jit
def lstm_fm_gates(Z, zr, c_prev, c, h):
    """``Z``, ``zr (4U, B)``: the step's input and recurrent products, rows
    ``[o | i | f | g]``, the sigmoid rows at half the argument; ``c_prev``, and the
    outputs ``c``, ``h``, are ``(U, B)``. The equations of :func:`lstm`."""
    units, batch = c.shape
    for u in range(units):
        for b in range(batch):
            no, do = _pq(Z[u, b] + zr[u, b])
            ni, di = _pq(Z[units + u, b] + zr[units + u, b])
            nf, df = _pq(Z[2 * units + u, b] + zr[2 * units + u, b])
            ng, dg = _pq(Z[3 * units + u, b] + zr[3 * units + u, b])
            ct = (((df + nf) * c_prev[u, b] * di * dg + (di + ni) * ng * df)
                  / (f32(2.0) * df * di * dg))
            c[u, b] = ct
            nc, dc = _pq(ct)
            h[u, b] = (do + no) * nc / (f32(2.0) * do * dc)


@jit
def gru_fm_gates(Gx, M, h_prev, h):
    """``Gx (3U, B)`` the step's input projections, ``M (3U, B)`` its recurrent
    products (recurrent bias included), rows ``[r | z | h]``, the sigmoid rows at
    half the argument; ``h_prev`` and the output ``h`` ``(U, B)``. The equations of
    :func:`gru`."""
    units, batch = h.shape
    for u in range(units):
        for b in range(batch):
            nr, dr = _pq(Gx[u, b] + M[u, b])
            nz, dz = _pq(Gx[units + u, b] + M[units + u, b])
            nh, dh = _pq(Gx[2 * units + u, b] + (dr + nr) / (f32(2.0) * dr) * M[2 * units + u, b])
            h[u, b] = ((dz + nz) * h_prev[u, b] * dh + (dz - nz) * nh) / (f32(2.0) * dz * dh)


@jit
def lstm_fm_gates_train(Z, zr, c_prev, c, h, F):
    """:func:`lstm_fm_gates` for training, also writing what backward reads (what
    ``_lstm_fm_prepare`` computes after the NumPy loop): ``F (4U, B)`` rows
    ``[o' * tc, i' * g, f' * c_prev, g' * i]`` (``s' = s - s^2``, ``g' = 1 - g^2``,
    ``tc = tanh(c)``), and ``Z`` the gates ``[o * (1 - tc^2) | i | f | g]``."""
    units, batch = c.shape
    two = f32(2.0)
    one = f32(1.0)
    for u in range(units):
        for b in range(batch):
            no, do = _pq(Z[u, b] + zr[u, b])
            ni, di = _pq(Z[units + u, b] + zr[units + u, b])
            nf, df = _pq(Z[2 * units + u, b] + zr[2 * units + u, b])
            ng, dg = _pq(Z[3 * units + u, b] + zr[3 * units + u, b])
            o = (do + no) / (two * do)
            i = (di + ni) / (two * di)
            f = (df + nf) / (two * df)
            g = ng / dg
            cp = c_prev[u, b]
            ct = f * cp + i * g
            c[u, b] = ct
            nc, dc = _pq(ct)
            t = nc / dc
            ht = o * t
            h[u, b] = ht
            Z[u, b] = o - ht * t
            Z[units + u, b] = i
            Z[2 * units + u, b] = f
            Z[3 * units + u, b] = g
            F[u, b] = (o - o * o) * t
            F[units + u, b] = (i - i * i) * g
            F[2 * units + u, b] = (f - f * f) * cp
            F[3 * units + u, b] = (one - g * g) * i


@jit
def lstm_fm_regate(G, F, drop):
    """:func:`lstm_fm_gates_train` over ``n`` steps whose states are known
    (recomputation, see ``feature_major/low_memory.py``): ``G (n + 1, 5U, B)`` holds
    each step's whole pre-activation ``[o | i | f | g]`` (the product with the known
    ``h_{t-1}`` included, sigmoid rows halved) and in rows ``4U:`` the cell state
    entering it (``G[0]`` given; the pass fills ``G[1:]``). Leaves ``G[:n, :4U]`` and
    ``F (n, 4U, B)`` as the training forward does. ``drop (n, B)`` is True where a
    masked step carries ``c`` over (size 0: no mask)."""
    units = G.shape[1] // 5
    batch = G.shape[2]
    u4 = 4 * units
    zr = np.zeros((u4, batch), G.dtype)  # the products are in G already
    h = np.empty((units, batch), G.dtype)  # known: the pass's h is not kept
    for j in range(F.shape[0]):
        lstm_fm_gates_train(G[j, :u4], zr, G[j, u4:], G[j + 1, u4:], h, F[j])
        if drop.shape[0] > 0:
            for b in range(batch):
                if drop[j, b]:
                    for u in range(units):
                        G[j + 1, u4 + u, b] = G[j, u4 + u, b]


@jit
def lstm_fm_back_gates(dh, dc, dH, OC, Gf, Z, flush):
    """The elementwise part of one step of the feature-major LSTM backward (what its
    NumPy lines do): ``dh`` (from the step after's product) and ``dc`` are first
    flushed of subnormals (``(v + flush) - flush``), ``dH`` (size 0: none) is the step's
    output gradient; then ``dc += dh * oc``, ``Z *= [dh, dc, dc, dc]`` (``Z (4U, B)``
    holds ``F`` and becomes dL/dz) and ``dc *= f``. ``OC``, ``Gf``, ``dc``: ``(U, B)``."""
    units, batch = dc.shape
    has = dH.shape[0] > 0
    for u in range(units):
        for b in range(batch):
            h = (dh[u, b] + flush) - flush
            c = (dc[u, b] + flush) - flush
            if has:
                h += dH[u, b]
            c += h * OC[u, b]
            Z[u, b] *= h
            Z[units + u, b] *= c
            Z[2 * units + u, b] *= c
            Z[3 * units + u, b] *= c
            dc[u, b] = c * Gf[u, b]


@jit
def gru_fm_back_gates(dh, dH, Zg, F, q, flush):
    """The elementwise part of one step of the feature-major GRU backward (its NumPy
    lines): ``dh`` (from the step after's product) is flushed of subnormals and gets
    the step's output gradient ``dH`` (size 0: none); then ``q = dh * z`` and
    ``F (4U, B) *= dh`` row block by row block (dL/d of the step's products), each
    product flushed. ``Zg``, ``q``, ``dh``: ``(U, B)``."""
    units, batch = dh.shape
    has = dH.shape[0] > 0
    for u in range(units):
        for b in range(batch):
            h = (dh[u, b] + flush) - flush
            if has:
                h += dH[u, b]
            q[u, b] = h * Zg[u, b]
            for k in range(4):
                F[k * units + u, b] = (F[k * units + u, b] * h + flush) - flush


@jit
def gru_fm_gates_train(Gx, M, h_prev, h, F):
    """:func:`gru_fm_gates` for training, also writing what backward reads (what
    ``_gru_fm_prepare`` computes after the NumPy loop): ``Gx`` becomes the gates
    ``[r | z | hh]`` and ``F (4U, B)`` the rows ``[Fh * r | Fh * m_h * r' | (h_prev -
    hh) * z' | Fh]``, ``Fh = (1 - z) * (1 - hh^2)``, ``s' = s - s^2``."""
    units, batch = h.shape
    two = f32(2.0)
    one = f32(1.0)
    for u in range(units):
        for b in range(batch):
            nr, dr = _pq(Gx[u, b] + M[u, b])
            nz, dz = _pq(Gx[units + u, b] + M[units + u, b])
            r = (dr + nr) / (two * dr)
            z = (dz + nz) / (two * dz)
            mh = M[2 * units + u, b]
            nh, dh = _pq(Gx[2 * units + u, b] + r * mh)
            hh = nh / dh
            Gx[u, b] = r
            Gx[units + u, b] = z
            Gx[2 * units + u, b] = hh
            d = h_prev[u, b] - hh
            h[u, b] = hh + d * z
            omz = one - z
            fh = omz * (one - hh * hh)
            F[u, b] = fh * r
            F[units + u, b] = (r - r * r) * mh * fh
            F[2 * units + u, b] = z * omz * d
            F[3 * units + u, b] = fh


@jit
def scatter_add_rows(ids, grads, out):
    """``out[ids[k]] += grads[k]`` for k in order (an Embedding's gradient); ``ids``
    must be in range. Summed in order of occurrence, as TF's segment sums."""
    for k in range(ids.shape[0]):
        r = ids[k]
        for j in range(grads.shape[1]):
            out[r, j] += grads[k, j]
