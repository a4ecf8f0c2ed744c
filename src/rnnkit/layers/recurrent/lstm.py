"""LSTM (Hochreiter & Schmidhuber, 1997), declared once: Keras' arguments, the gate
order i, f, c, o, and the equations as a step and a reference sequence pass.

Weights: ``kernel (D, 4U)``, ``recurrent_kernel (U, 4U)``, ``bias (4U,)``; column
blocks ``[i | f | c | o]`` (input gate, forget gate, cell candidate, output gate).
``4 * ((D + 1) * U + U^2)`` parameters.

Where it runs: :func:`lstm_sequence_forward`/:func:`lstm_sequence_backward` below are
the reference engine. The fast engines restate the same equations for speed in
``engines/feature_major/lstm.py`` (NumPy) and ``engines/compiled_kernels.py``
(Numba); ``engines/__init__.py`` chooses among them, and tests hold them equal.
"""
from __future__ import annotations

import numpy as np

from ... import activations, initializers
from .base import RecurrentLayer
from .cell import CellSpec, sigmoid_

LSTM_CELL = CellSpec("lstm", gates=("i", "f", "c", "o"), states=("h", "c"))


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
            sigmoid_(g[:, :u2])
            np.tanh(g[:, u2:u3], out=g[:, u2:u3])
            sigmoid_(g[:, u3:])
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


class LSTM(RecurrentLayer):
    """Long short-term memory layer (Keras arguments and weights).

    ``unit_forget_bias=True`` initializes the forget-gate block of the bias to 1, as
    Keras does. ``return_state=True`` returns ``[output, h, c]``.
    """

    cell_spec = LSTM_CELL

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

    def param_formula(self):
        if not self.built:
            return None
        d, u = self.input_dim, self.units
        return f"4 x (({d} + 1) x {u} + {u}^2)" if self.use_bias else f"4 x ({d} x {u} + {u}^2)"

    def reference_forward(self, xs, states0, mt, rdp):
        return lstm_sequence_forward(xs, states0[0], states0[1], self.kernel, self.recurrent_kernel,
                                     self.bias, self.activation, self.recurrent_activation, mt, rdp)

    def reference_backward(self, dH, dfinals, kcache):
        return lstm_sequence_backward(dH, dfinals, kcache, self.kernel, self.recurrent_kernel, self.bias)

    def get_config(self):
        return {**super().get_config(), "unit_forget_bias": self.unit_forget_bias}
