"""SimpleRNN: the Elman recurrence ``h_t = tanh(x_t W + h_{t-1} U + b)``.

Keras layout: ``kernel (D, U)`` (the seeds' ``W`` transposed), ``recurrent_kernel
(U, U)`` (``U`` transposed), ``bias (U,)``. The seeds write ``np.tanh(np.dot(W,
input_t) + np.dot(U, state_t) + b)`` for one sample; :func:`simple_rnn_step` is that
step for a batch, and :class:`SimpleRNN` runs it over a sequence with one matrix
product for all input projections.

Where it runs: :func:`simple_rnn_sequence_forward`/:func:`simple_rnn_sequence_backward`
below are the reference engine. The fast engines (tanh) restate the equation for
speed in ``engines/feature_major/simple_rnn.py`` (NumPy) and
``engines/compiled_kernels.py`` (Numba); ``engines/__init__.py`` chooses among them.
"""
from __future__ import annotations

import numpy as np

from ... import activations
from .base import RecurrentLayer
from .cell import CellSpec

SIMPLE_RNN_CELL = CellSpec("simple_rnn", gates=("h",), states=("h",))


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


class SimpleRNN(RecurrentLayer):
    """Fully-connected RNN whose output is fed back as the next input state.

    Weights (Keras order): ``kernel (input_dim, units)``, ``recurrent_kernel (units,
    units)``, ``bias (units,)``; ``units * (input_dim + units + 1)`` parameters.
    """

    cell_spec = SIMPLE_RNN_CELL

    def __init__(self, units: int, activation="tanh", use_bias: bool = True, **kwargs):
        kwargs.pop("recurrent_activation", None)  # SimpleRNN has no gates
        super().__init__(units, activation=activation, use_bias=use_bias, **kwargs)

    def param_formula(self):
        if not self.built:
            return None
        d, u = self.input_dim, self.units
        return f"{u} x ({d} + {u} + 1)" if self.use_bias else f"{u} x ({d} + {u})"

    def reference_forward(self, xs, states0, mt, rdp):
        if xs.shape[0] == 0:
            return np.empty((0,) + states0[0].shape, self.dtype), [states0[0].copy()], None
        return simple_rnn_sequence_forward(xs, states0[0], self.kernel, self.recurrent_kernel,
                                           self.bias, self.activation, mt, rdp)

    def reference_backward(self, dH, dfinals, kcache):
        return simple_rnn_sequence_backward(dH, dfinals, kcache, self.kernel,
                                            self.recurrent_kernel, self.bias)

