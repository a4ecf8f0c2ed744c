"""The compiled kernels of :mod:`._jit` (imported only when Numba is installed).

Module-level functions, so that Numba's on-disk cache (``cache=True``) finds them
again in a new process instead of compiling each one anew (~2 s).
"""
from __future__ import annotations

import numba
import numpy as np

jit = numba.njit(cache=True, fastmath=False, nogil=True, error_model="numpy")


@jit
def _tanh(x):
    # x: float64. Odd rational approximation, clamped where tanh rounds to 1 in float32.
    a = min(max(x, -9.1), 9.1)
    s = a * a
    p = ((((-1.2034374273223651e-11 * s + 3.035658357202068e-08) * s + 2.7912395340753024e-05) * s
          + 0.0038636162400500274) * s + 0.13676155418448158) * s + 0.9999999985571804
    q = (((1.2807261421836785e-06 * s + 0.0003930323924127534) * s + 0.02722859656857935) * s
         + 0.4700948735718367) * s + 1.0
    return a * p / q


@jit
def _sigmoid(x):
    return 0.5 * _tanh(0.5 * x) + 0.5


@jit
def _add_h_rk(z, h, b, RKT, units, width):
    # z += h[b] @ RKT, four rows of RKT per pass (fewer loads and stores of z).
    k = 0
    while k + 4 <= units:
        h0, h1, h2, h3 = h[b, k], h[b, k + 1], h[b, k + 2], h[b, k + 3]
        for j in range(width):
            z[j] += h0 * RKT[k, j] + h1 * RKT[k + 1, j] + h2 * RKT[k + 2, j] + h3 * RKT[k + 3, j]
        k += 4
    while k < units:
        hk = h[b, k]
        for j in range(width):
            z[j] += hk * RKT[k, j]
        k += 1


@jit
def _project(z, P, b, t, h, RKT, units, width):
    # z = P[b, t] + h[b] @ RKT
    for j in range(width):
        z[j] = P[b, t, j]
    _add_h_rk(z, h, b, RKT, units, width)


@jit
def simple_rnn(P, RKT, h, mask, reverse, H):
    """h_t = tanh(P[b, t] + h_{t-1} @ RKT); P (B, T, U); h (B, U) in place; H (B, T, U) or empty."""
    batch, steps, units = P.shape
    z = np.empty(units, np.float32)
    for b in range(batch):
        for j in range(steps):
            t = steps - 1 - j if reverse else j
            if mask.shape[0] == 0 or mask[b, t]:
                _project(z, P, b, t, h, RKT, units, units)
                for u in range(units):
                    h[b, u] = _tanh(z[u])
            if H.shape[0] != 0:
                for u in range(units):
                    H[b, j, u] = h[b, u]


@jit
def lstm(P, RKT, h, c, mask, reverse, H):
    """Keras gate order i, f, c, o in ``z = P[b, t] + h_{t-1} @ RKT`` (4U wide)::

        i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o);  g = tanh(z_c)
        c_t = f * c_{t-1} + i * g;  h_t = o * tanh(c_t)
    """
    batch, steps, width = P.shape
    units = width // 4
    z = np.empty(width, np.float32)
    # tanh of every gate row at once (sigmoid rows at half the argument): one
    # contiguous loop the compiler vectorizes; then the rows are combined.
    half = np.full(width, 0.5)
    half[2 * units:3 * units] = 1.0
    th = np.empty(width, np.float64)
    for b in range(batch):
        for j in range(steps):
            t = steps - 1 - j if reverse else j
            if mask.shape[0] == 0 or mask[b, t]:
                _project(z, P, b, t, h, RKT, units, width)
                for w in range(width):
                    th[w] = _tanh(half[w] * z[w])
                for u in range(units):  # c_t = f * c + i * g, kept in th[:U]
                    cf = np.float32((0.5 * th[units + u] + 0.5) * c[b, u]
                                    + (0.5 * th[u] + 0.5) * th[2 * units + u])
                    c[b, u] = cf
                    th[u] = cf
                for u in range(units):
                    th[units + u] = _tanh(th[u])
                for u in range(units):  # h_t = o * tanh(c_t)
                    h[b, u] = (0.5 * th[3 * units + u] + 0.5) * th[units + u]
            if H.shape[0] != 0:
                for u in range(units):
                    H[b, j, u] = h[b, u]


@jit
def gru(P, RKT, rbias, h, mask, reverse, H):
    """Keras GRU with ``reset_after=True``, gate order z, r, h; ``P`` holds
    ``x @ kernel + input_bias``, ``zr = h_{t-1} @ RKT + rbias``::

        z = sigmoid(P_z + zr_z);  r = sigmoid(P_r + zr_r)
        hh = tanh(P_h + r * zr_h);  h_t = z * h_{t-1} + (1 - z) * hh
    """
    batch, steps, width = P.shape
    units = width // 3
    zr = np.empty(width, np.float32)
    for b in range(batch):
        for j in range(steps):
            t = steps - 1 - j if reverse else j
            if mask.shape[0] == 0 or mask[b, t]:
                for w in range(width):
                    zr[w] = rbias[w]
                _add_h_rk(zr, h, b, RKT, units, width)
                for u in range(units):
                    zg = _sigmoid(np.float32(P[b, t, u] + zr[u]))
                    rg = _sigmoid(np.float32(P[b, t, units + u] + zr[units + u]))
                    hh = _tanh(np.float32(P[b, t, 2 * units + u] + np.float32(rg) * zr[2 * units + u]))
                    h[b, u] = zg * h[b, u] + (1.0 - zg) * hh
            if H.shape[0] != 0:
                for u in range(units):
                    H[b, j, u] = h[b, u]
