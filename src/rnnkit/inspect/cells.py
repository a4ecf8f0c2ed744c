"""Every gate and state of a recurrent layer at every step, recomputed from its public weights.

The layers themselves run fused kernels that keep only what backpropagation needs
(and, at inference, nothing per step). This module runs the same equations a second
way, written as :func:`rnnkit.layers.lstm_step`, :func:`~rnnkit.layers.gru_step` and
:func:`~rnnkit.layers.simple_rnn_step` state them: one matrix product for every
step's input projection, then a plain loop over time that keeps every intermediate
value. Tracing is therefore opt-in and never slows a normal call.

:func:`run_cell` returns a :class:`CellRun`, time-major and in *processing* order
(reversed for ``go_backwards``); :func:`backprop_cell` walks it backwards and
returns dL/dh_t for every step. :mod:`rnnkit.inspect.trace` turns runs into the
user-facing ``(batch, timesteps, units)`` dicts.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..layers import GRU, LSTM, SimpleRNN

LSTM_KEYS = ("input_gate", "forget_gate", "cell_candidate", "output_gate", "cell_state", "hidden_state")
GRU_KEYS = ("update_gate", "reset_gate", "candidate", "hidden_state")
SIMPLE_RNN_KEYS = ("preactivation", "hidden_state")
# Values that exist only where the cell ran: NaN at masked steps in a trace.
STEP_VALUES = {"input_gate", "forget_gate", "cell_candidate", "output_gate", "update_gate",
               "reset_gate", "candidate", "preactivation"}


@dataclass
class CellRun:
    """One recurrent layer run over one batch, time-major ``(T, B, ...)``, processing order.

    ``values`` holds the named arrays of :data:`LSTM_KEYS`/:data:`GRU_KEYS`/
    :data:`SIMPLE_RNN_KEYS` (each ``(T, B, U)``, the states carried through masked
    steps) plus what backpropagation reads: ``pre`` (the pre-activations ``(T, B, nU)``),
    ``tc`` (LSTM: ``activation(c_t)``), ``m`` (GRU: the recurrent term of the candidate).
    ``mask`` is ``(T, B)`` bool (True where the step is real) or None.
    """

    layer: Any
    kind: str
    xs: np.ndarray
    mask: np.ndarray | None
    states0: list
    weights: tuple = ()  # (kernel, recurrent_kernel, bias) in the run's dtype
    values: dict = field(default_factory=dict)

    @property
    def steps(self) -> int:
        return self.xs.shape[0]


def cell_kind(layer) -> str:
    """``"lstm"``, ``"gru"`` or ``"simple_rnn"``; TypeError for anything else."""
    if isinstance(layer, LSTM):
        return "lstm"
    if isinstance(layer, GRU):
        return "gru"
    if isinstance(layer, SimpleRNN):
        return "simple_rnn"
    raise TypeError(
        "rnnkit.inspect traces SimpleRNN, LSTM and GRU layers (and Bidirectional wrappers of them); "
        f"received {type(layer).__name__}"
    )


def _n_states(kind: str) -> int:
    return 2 if kind == "lstm" else 1


def check_inputs(layer, x, mask=None, initial_state=None, dtype=None):
    """Validate ``x (B, T, D)``, ``mask (B, T)`` and ``initial_state``; returns arrays in
    ``dtype`` (default: the layer's)."""
    kind = cell_kind(layer)
    name = f"{type(layer).__name__} '{layer.name}'"
    x = np.asarray(x)
    if x.dtype == object or x.dtype.kind not in "fiub":
        raise TypeError(f"{name}: x must be a numeric array (batch, timesteps, features); received dtype {x.dtype}")
    if x.ndim != 3:
        raise ValueError(f"{name}: x must have shape (batch, timesteps, features); received shape {x.shape}")
    if not layer.built:
        layer.build((None,) + x.shape[1:])
    dtype = np.dtype(layer.kernel.dtype if dtype is None else dtype)
    if dtype.kind != "f":
        raise ValueError(f"{name}: dtype must be a float type; received {dtype}")
    if x.shape[2] != layer.kernel.shape[0]:
        raise ValueError(f"{name}: x must have {layer.kernel.shape[0]} features (the kernel's rows); "
                         f"received shape {x.shape}")
    x = x.astype(dtype, copy=False)
    batch, steps = x.shape[:2]
    if mask is not None:
        mask = np.asarray(mask)
        if mask.shape != (batch, steps):
            raise ValueError(f"{name}: mask must have shape (batch, timesteps) = {(batch, steps)}; "
                             f"received {mask.shape}")
        mask = mask.astype(bool)
    n = _n_states(kind)
    if initial_state is None:
        if getattr(layer, "stateful", False) and layer.states is not None:
            states = [np.array(s, dtype) for s in layer.states]
        else:
            states = [np.zeros((batch, layer.units), dtype) for _ in range(n)]
    else:
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        if len(states) != n:
            raise ValueError(f"{name}: initial_state must be a list of {n} array(s) of shape (batch, units); "
                             f"received {len(states)}")
        states = [np.asarray(s, dtype) for s in states]
        for s in states:
            if s.shape != (batch, layer.units):
                raise ValueError(f"{name}: each initial_state array must have shape (batch, units) = "
                                 f"{(batch, layer.units)}; received {s.shape}")
    return x, mask, states


def run_cell(layer, x, mask=None, initial_state=None, dtype=None) -> CellRun:
    """Run ``layer`` over ``x (B, T, D)`` keeping every intermediate value (inference: no dropout).

    ``mask (B, T)`` bool marks real steps; ``initial_state`` is a list of ``(B, U)``
    arrays (default: zeros, or a stateful layer's current states, left unchanged);
    ``dtype`` the float type to compute in (default: the layer's; float64 keeps
    tiny gradients from underflowing).
    """
    kind = cell_kind(layer)
    x, mask, states0 = check_inputs(layer, x, mask, initial_state, dtype)
    dt = x.dtype
    weights = tuple(None if w is None else np.asarray(w, dt)
                    for w in (layer.kernel, layer.recurrent_kernel, layer.bias))
    if layer.go_backwards:
        x = x[:, ::-1]
        mask = None if mask is None else mask[:, ::-1]
    xs = np.ascontiguousarray(x.transpose(1, 0, 2))
    mt = None if mask is None else np.ascontiguousarray(mask.T)
    run = CellRun(layer, kind, xs, mt, states0, weights)
    {"lstm": _run_lstm, "gru": _run_gru, "simple_rnn": _run_simple}[kind](run)
    return run


def _projection(run, bias):
    """Every step's input projection at once: ``(T, B, D) @ kernel + bias``, ``(T, B, G)``."""
    T, B, D = run.xs.shape
    X = (run.xs.reshape(T * B, D) @ run.weights[0]).reshape(T, B, -1)
    if bias is not None:
        X += bias
    return X


def _carry(run, t, new, old):
    """Keep ``old`` where step t is masked (Keras carries the state through padding)."""
    if run.mask is None:
        return new
    return np.where(run.mask[t][:, None], new, old)


def _run_lstm(run):
    layer = run.layer
    act, rec, u = layer.activation, layer.recurrent_activation, layer.units
    _, RK, bias = run.weights
    X = _projection(run, bias)
    T = run.steps
    shape = X.shape[:2] + (u,)
    v = {k: np.empty(shape, X.dtype) for k in LSTM_KEYS}
    v["tc"] = np.empty(shape, X.dtype)
    v["pre"] = X
    h, c = run.states0
    for t in range(T):
        z = X[t]
        z += h @ RK
        i, f, g, o = rec(z[:, :u]), rec(z[:, u:2 * u]), act(z[:, 2 * u:3 * u]), rec(z[:, 3 * u:])
        c_new = f * c + i * g
        tc = act(c_new)
        h_new = o * tc
        c, h = _carry(run, t, c_new, c), _carry(run, t, h_new, h)
        v["input_gate"][t], v["forget_gate"][t], v["cell_candidate"][t], v["output_gate"][t] = i, f, g, o
        v["cell_state"][t], v["hidden_state"][t], v["tc"][t] = c, h, tc
    run.values = v


def _run_gru(run):
    layer = run.layer
    act, rec, u = layer.activation, layer.recurrent_activation, layer.units
    after = layer.reset_after
    _, RK, bias = run.weights
    b_in = b_rec = None
    if bias is not None:
        b_in, b_rec = (bias[0], bias[1]) if after else (bias, None)
    X = _projection(run, b_in)
    T = run.steps
    shape = X.shape[:2] + (u,)
    v = {k: np.empty(shape, X.dtype) for k in GRU_KEYS}
    v["m"] = np.empty(shape, X.dtype)
    v["pre"] = X
    (h,) = run.states0
    for t in range(T):
        a = X[t]
        if after:
            m = h @ RK
            if b_rec is not None:
                m = m + b_rec
            a[:, :2 * u] += m[:, :2 * u]
            z, r = rec(a[:, :u]), rec(a[:, u:2 * u])
            mh = m[:, 2 * u:]
            a[:, 2 * u:] += r * mh
        else:
            a[:, :2 * u] += h @ RK[:, :2 * u]
            z, r = rec(a[:, :u]), rec(a[:, u:2 * u])
            mh = (r * h) @ RK[:, 2 * u:]
            a[:, 2 * u:] += mh
        hh = act(a[:, 2 * u:])
        h = _carry(run, t, z * h + (1 - z) * hh, h)
        v["update_gate"][t], v["reset_gate"][t], v["candidate"][t] = z, r, hh
        v["hidden_state"][t], v["m"][t] = h, mh
    run.values = v


def _run_simple(run):
    layer = run.layer
    _, RK, bias = run.weights
    X = _projection(run, bias)
    v = {"preactivation": X, "hidden_state": np.empty_like(X), "pre": X}
    (h,) = run.states0
    for t in range(run.steps):
        p = X[t]
        p += h @ RK
        h = _carry(run, t, layer.activation(p), h)
        v["hidden_state"][t] = h
    run.values = v


# ---------------------------------------------------------------- backward
def output_keep(run) -> np.ndarray | None:
    """``(T, B)`` float multipliers from carried states to the layer's outputs (Keras'
    rule: a masked step repeats the previous output, zeros before the first real
    step, or zeros everywhere masked with ``zero_output_for_mask``), or None."""
    if run.mask is None:
        return None
    keep = run.mask if run.layer.zero_output_for_mask else np.logical_or.accumulate(run.mask, axis=0)
    return keep.astype(run.xs.dtype)


def backprop_cell(run: CellRun, d_direct=None, d_final=None):
    """Backpropagation through time over a :class:`CellRun`, one step at a time.

    Args:
        d_direct: dL/dh_t from outside the recurrence, ``(T, B, U)`` in processing
            order (or ``(K, T, B, U)``: K upstream vectors at once), or None.
        d_final: ``[dL/dh_T, (dL/dc_T)]`` for the last states (entries may be None),
            each ``(B, U)`` or ``(K, B, U)``.

    Returns:
        ``dh_all`` — dL/dh_t for every t, ``(T, [K,] B, U)``: the total derivative
        with respect to the state after step t (the direct part plus everything that
        flows back through later steps; for an LSTM the partial with ``c_t`` held
        fixed) — then ``dxs (T, [K,] B, D)`` and ``[dL/dh_0, (dL/dc_0)]`` for the
        initial states.
    """
    layer = run.layer
    T, B, D = run.xs.shape
    u = layer.units
    lead = ()  # (K,) when K upstream vectors run at once
    if d_direct is not None:
        lead = np.shape(d_direct)[:-3]
    else:
        lead = next((np.shape(d)[:-2] for d in d_final or [] if d is not None), ())
    dt = run.xs.dtype
    finals = list(d_final or []) + [None] * 2
    dh = np.zeros(lead + (B, u), dt) if finals[0] is None else np.array(finals[0], dt)
    dc = np.zeros(lead + (B, u), dt) if finals[1] is None else np.array(finals[1], dt)
    dh_all = np.empty((T,) + dh.shape, dt)
    dxs = np.empty((T,) + lead + (B, D), dt)
    step = {"lstm": _lstm_step_back, "gru": _gru_step_back, "simple_rnn": _simple_step_back}[run.kind]
    kernel_t = run.weights[0].T
    for t in range(T - 1, -1, -1):
        if d_direct is not None:
            dh = dh + (d_direct[t] if not lead else d_direct[:, t])
        dh_all[t] = dh
        dpre, dh_prev, dc_prev = step(run, t, dh, dc)
        dxs[t] = dpre @ kernel_t
        if run.mask is not None:
            m = run.mask[t][:, None]
            dxs[t] = np.where(m, dxs[t], 0)
            dh_prev = np.where(m, dh_prev, dh)
            if dc_prev is not None:
                dc_prev = np.where(m, dc_prev, dc)
        dh, dc = dh_prev, dc_prev
    if lead:
        dxs = np.moveaxis(dxs, 0, len(lead))
        dh_all = np.moveaxis(dh_all, 0, len(lead))  # (K, T, B, U)
    return dh_all, dxs, [dh] if run.kind != "lstm" else [dh, dc]


def _prev(run, key, t, index):
    return run.states0[index] if t == 0 else run.values[key][t - 1]


def _lstm_step_back(run, t, dh, dc):
    """``c = f c_prev + i g``, ``h = o act(c)``; returns dL/dz (4 blocks), dL/dh_prev, dL/dc_prev."""
    layer, v = run.layer, run.values
    act, rec, u = layer.activation, layer.recurrent_activation, layer.units
    z = v["pre"][t]
    i, f, g, o = v["input_gate"][t], v["forget_gate"][t], v["cell_candidate"][t], v["output_gate"][t]
    tc = v["tc"][t]
    c_new = f * _prev(run, "cell_state", t, 1) + i * g  # the step's own (uncarried) cell state
    dz_o = rec.backward(z[:, 3 * u:], o, dh * tc)
    dct = dc + act.backward(c_new, tc, dh * o)
    dz_i = rec.backward(z[:, :u], i, dct * g)
    dz_f = rec.backward(z[:, u:2 * u], f, dct * _prev(run, "cell_state", t, 1))
    dz_c = act.backward(z[:, 2 * u:3 * u], g, dct * i)
    dz = np.concatenate([dz_i, dz_f, dz_c, dz_o], axis=-1)
    return dz, dz @ run.weights[1].T, dct * f


def _gru_step_back(run, t, dh, dc):
    """``h = z h_prev + (1 - z) hh``; returns dL/d(input projection), dL/dh_prev, None."""
    layer, v = run.layer, run.values
    act, rec, u = layer.activation, layer.recurrent_activation, layer.units
    a = v["pre"][t]
    z, r, hh, mh = v["update_gate"][t], v["reset_gate"][t], v["candidate"][t], v["m"][t]
    h_prev = _prev(run, "hidden_state", t, 0)
    RK = run.weights[1]
    da_h = act.backward(a[:, 2 * u:], hh, dh * (1 - z))
    da_z = rec.backward(a[:, :u], z, dh * (h_prev - hh))
    if layer.reset_after:
        da_r = rec.backward(a[:, u:2 * u], r, da_h * mh)
        dm = np.concatenate([da_z, da_r, da_h * r], axis=-1)
        dh_prev = dh * z + dm @ RK.T
    else:
        dq = da_h @ RK[:, 2 * u:].T  # q = r * h_prev enters through the candidate's columns
        da_r = rec.backward(a[:, u:2 * u], r, dq * h_prev)
        dzr = np.concatenate([da_z, da_r], axis=-1)
        dh_prev = dh * z + dq * r + dzr @ RK[:, :2 * u].T
    return np.concatenate([da_z, da_r, da_h], axis=-1), dh_prev, None


def _simple_step_back(run, t, dh, dc):
    """``h = act(p)``, ``p = x W + h_prev U + b``; returns dL/dp, dL/dh_prev, None."""
    layer, v = run.layer, run.values
    # A masked row's hidden_state is the carried one, not act(p): recompute there.
    y = v["hidden_state"][t] if run.mask is None else layer.activation(v["pre"][t])
    dp = layer.activation.backward(v["pre"][t], y, dh)
    return dp, dp @ run.weights[1].T, None
