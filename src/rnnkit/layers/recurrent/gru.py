"""GRU (Cho et al., 2014), declared once: Keras' arguments, the gate order z, r, h,
``reset_after``, and the equations as a step and a reference sequence pass.

Weights: ``kernel (D, 3U)``, ``recurrent_kernel (U, 3U)``, column blocks
``[z | r | h]`` (update gate, reset gate, candidate). With ``reset_after=True``
(Keras' default, and PyTorch's formulation) the bias is ``(2, 3U)``: row 0 is added
to the input projection and row 1 to the recurrent one; otherwise it is ``(3U,)``.

Where it runs: :func:`gru_sequence_forward`/:func:`gru_sequence_backward` below are
the reference engine. The fast engines (``reset_after=True``, tanh/sigmoid) restate
the equations for speed in ``engines/feature_major/gru.py`` (NumPy) and
``engines/compiled_kernels.py`` (Numba); ``engines/__init__.py`` chooses among them.
"""
from __future__ import annotations

import numpy as np

from ... import activations
from .base import RecurrentLayer
from .cell import CellSpec, sigmoid_

GRU_CELL = CellSpec("gru", gates=("z", "r", "h"), states=("h",))


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
            sigmoid_(x[:, :u2])
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


class GRU(RecurrentLayer):
    """Gated recurrent unit layer (Keras arguments and weights).

    Parameters: ``3 * (D * U + U^2 + U)`` plus ``3 * U`` more when ``reset_after``.
    """

    cell_spec = GRU_CELL

    def __init__(self, units: int, activation="tanh", recurrent_activation="sigmoid",
                 use_bias: bool = True, reset_after: bool = True, **kwargs):
        super().__init__(units, activation=activation, recurrent_activation=recurrent_activation,
                         use_bias=use_bias, **kwargs)
        self.reset_after = bool(reset_after)

    def _bias_shape(self):
        return (2, 3 * self.units) if self.reset_after else (3 * self.units,)

    def param_formula(self):
        if not self.built:
            return None
        d, u = self.input_dim, self.units
        if not self.use_bias:
            return f"3 x ({d} x {u} + {u}^2)"
        if self.reset_after:
            return f"3 x ({d} x {u} + {u}^2 + 2 x {u})"
        return f"3 x (({d} + 1) x {u} + {u}^2)"

    def reference_forward(self, xs, states0, mt, rdp):
        return gru_sequence_forward(xs, states0[0], self.kernel, self.recurrent_kernel, self.bias,
                                    self.activation, self.recurrent_activation, self.reset_after,
                                    mt, rdp)

    def reference_backward(self, dH, dfinals, kcache):
        return gru_sequence_backward(dH, dfinals, kcache, self.kernel, self.recurrent_kernel, self.bias)

    def get_config(self):
        return {**super().get_config(), "reset_after": self.reset_after}
