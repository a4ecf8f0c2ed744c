"""Gradient flow through time: ‖∂L/∂h_t‖ in a model and ‖∂h_T/∂h_t‖ of a layer.

These are the numbers behind the vanishing-gradient story: in a SimpleRNN the
gradient that reaches early steps shrinks geometrically with the distance, while an
LSTM's cell state and a GRU's update gate give it a path that does not shrink.

Both are computed by backpropagation through time over a trace (:mod:`.cells`),
step by step from the public step equations. :func:`gradient_norms` takes the
gradient that reaches each recurrent layer's outputs from the model's own
``forward``/``backward`` and carries it back through the recurrence.
"""
from __future__ import annotations

import numpy as np

from .. import losses as losses_module
from ..layers import Bidirectional, RecurrentLayer
from .cells import CellRun, backprop_cell, output_keep
from .trace import entry_names, is_model, layer_runs, recording, recurrent_layers

# Elements of one batch chunk's (units, T, B, units) Jacobian stack.
_JACOBIAN_CHUNK = 1 << 23


def _upstream(run: CellRun, grad_outputs):
    """The gradient of a layer's outputs as (dL/dh_t direct ``(T, B, U)``, [dL/d final states])."""
    layer = run.layer
    n = 2 if run.kind == "lstm" else 1
    if layer.return_state:
        g_out, g_states = grad_outputs[0], list(grad_outputs[1:])
    else:
        g_out, g_states = grad_outputs, []
    keep = output_keep(run)
    dt = run.xs.dtype
    d_direct: np.ndarray | None = None
    d_final: list[np.ndarray | None] = [None] * n
    if g_out is not None:
        g_out = np.asarray(g_out, dt)
        if layer.return_sequences:  # outputs are in processing order, as the run is
            d_direct = np.ascontiguousarray(g_out.transpose(1, 0, 2))
            if keep is not None:
                d_direct *= keep[..., None]
        else:
            d_final[0] = g_out if keep is None else g_out * keep[-1][:, None]
    for k, g in enumerate(g_states):
        if g is not None:
            g = np.asarray(g, dt)
            d_final[k] = g if d_final[k] is None else d_final[k] + g
    return d_direct, d_final


def _by_position(run: CellRun, values_tb: np.ndarray) -> np.ndarray:
    """``(T, B)`` in processing order -> ``(B, T)`` by input position."""
    out = values_tb.T
    return np.ascontiguousarray(out[:, ::-1] if run.layer.go_backwards else out)


def hidden_state_gradients(run: CellRun, grad_outputs) -> np.ndarray:
    """dL/dh_t for every step, ``(B, T, U)`` by input position, given the gradient of the layer's outputs."""
    if grad_outputs is None:
        return np.zeros(run.values["hidden_state"].transpose(1, 0, 2).shape, run.xs.dtype)
    d_direct, d_final = _upstream(run, grad_outputs)
    dh_all, _, _ = backprop_cell(run, d_direct, d_final)
    out = dh_all.transpose(1, 0, 2)
    return np.ascontiguousarray(out[:, ::-1] if run.layer.go_backwards else out)


def _loss_of(model, loss):
    if loss is None:
        loss = getattr(model, "loss", None)
        if loss is None:
            raise ValueError("gradient_norms: the model is not compiled; compile it or pass loss=, "
                             "e.g. loss='binary_crossentropy'")
    if isinstance(loss, (list, tuple, dict)):
        raise ValueError("gradient_norms: give one loss for the model's one output; received "
                         f"{type(loss).__name__}")
    return losses_module.get(loss)


def gradient_norms(model, x, y, sample_weight=None, loss=None, return_gradients: bool = False,
                   dtype=None) -> dict:
    """‖∂L/∂h_t‖ for every recurrent layer of ``model``, per sample and step.

    ``L`` is the model's loss on the batch ``(x, y)`` (its compiled loss, or ``loss=``),
    computed in inference mode (no dropout). Keras' losses average over the batch,
    so each sample's gradient carries a factor ``1 / batch``. ``h_t`` is the layer's hidden state after step t (for an LSTM the
    derivative holds the cell state ``c_t`` fixed); the gradient counts every path
    from ``h_t`` to the loss: the layer's output at t (with ``return_sequences``) and
    every later step of the recurrence.

    ``dtype`` is the float type of the backpropagation through time (default: each
    layer's own); ``"float64"`` keeps gradients that vanish below float32's range
    (about 1e-38) from underflowing to 0.

    Returns:
        ``{layer name: (batch, timesteps) array}`` indexed by input position, a
        Bidirectional giving ``{"forward": ..., "backward": ...}``. With
        ``return_gradients=True`` the ``(batch, timesteps, units)`` gradients
        themselves instead of their norms.

    Side effect: the model's ``backward`` runs, so the layers' ``grads`` hold this
    batch's weight gradients afterwards.
    """
    if not is_model(model):
        raise TypeError(f"gradient_norms expects a Sequential or functional model; received {type(model).__name__}")
    loss_fn = _loss_of(model, loss)
    layers = recurrent_layers(model)
    if not layers:
        raise ValueError(f"gradient_norms: model '{model.name}' has no recurrent layer")
    with recording(layers, backward=True) as records:
        y_pred, cache = model.forward(x, training=False)
        if isinstance(y_pred, list):
            raise ValueError("gradient_norms supports models with one output; this one returns "
                             f"{len(y_pred)}")
        _, dy = loss_fn.value_and_gradient(y, y_pred, sample_weight=sample_weight)
        model.backward(dy, cache)
    out = {}
    for layer in layers:
        calls = records[id(layer)]
        for name, call in zip(entry_names(layer, calls), calls):
            runs = layer_runs(layer, call.inputs, call.mask, call.initial_state, dtype)
            grads: dict | np.ndarray
            if isinstance(runs, dict):
                grads = {part: hidden_state_gradients(r, call.grads.get(part)) for part, r in runs.items()}
            else:
                grads = hidden_state_gradients(runs, call.grads.get("self"))
            out[name] = grads if return_gradients else _norms(grads)
    return out


def _norms(grads):
    if isinstance(grads, dict):
        return {k: np.linalg.norm(g, axis=-1) for k, g in grads.items()}
    return np.linalg.norm(grads, axis=-1)


def _jacobian_norms_of_run(run: CellRun, ord) -> np.ndarray:
    B, u = run.xs.shape[1], run.layer.units
    # Row k of J_t = dh_T/dh_t is the gradient of h_T[k]: all units at once as K = u
    # upstream vectors e_k.
    eye = np.broadcast_to(np.eye(u, dtype=run.xs.dtype)[:, None, :], (u, B, u))
    dh_all, _, _ = backprop_cell(run, None, [eye, None])  # (K, T, B, U)
    J = dh_all.transpose(2, 1, 0, 3)  # (B, T, K, U)
    if ord == "fro":
        norms = np.sqrt(np.einsum("btkj,btkj->bt", J, J))
    else:
        norms = np.linalg.norm(J, ord=2, axis=(2, 3))
    return np.ascontiguousarray(norms[:, ::-1] if run.layer.go_backwards else norms)


def _layer_jacobian_norms(layer, x, mask, initial_state, ord, dtype):
    x = np.asarray(x)
    if x.ndim != 3:
        raise ValueError(f"jacobian_norms: x must have shape (batch, timesteps, features); received {x.shape}")
    units = layer.forward_layer.units if isinstance(layer, Bidirectional) else layer.units
    per_sample = units * units * max(x.shape[1], 1)
    chunk = max(1, _JACOBIAN_CHUNK // per_sample)
    parts = []
    for a in range(0, x.shape[0], chunk):
        sl = slice(a, a + chunk)
        m = None if mask is None else np.asarray(mask)[sl]
        s = None if initial_state is None else [np.asarray(v)[sl] for v in initial_state]
        runs = layer_runs(layer, x[sl], m, s, dtype)
        if isinstance(runs, dict):
            parts.append({k: _jacobian_norms_of_run(r, ord) for k, r in runs.items()})
        else:
            parts.append(_jacobian_norms_of_run(runs, ord))
    if isinstance(parts[0], dict):
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    return np.concatenate(parts)


def jacobian_norms(layer_or_model, x, mask=None, initial_state=None, ord="fro", dtype=None):
    """‖∂h_T/∂h_t‖ for every step t: how much the last hidden state still depends on step t's.

    ``h_T`` is the state after the layer's last step (for ``go_backwards``, after
    reading ``x[:, 0]``), ``h_t`` the state after reading ``x[:, t]``; for an LSTM the
    state is the pair ``(h_t, c_t)`` and the derivative holds ``c_t`` fixed. At
    ``t = T`` the Jacobian is the identity (norm ``sqrt(units)`` Frobenius, 1 spectral).

    Args:
        layer_or_model: a ``SimpleRNN``/``LSTM``/``GRU``/``Bidirectional``, or a model
            (then every recurrent layer, fed the inputs it gets in the model).
        x: ``(batch, timesteps, features)`` for a layer; the model's input for a model.
        ord: ``"fro"`` (Frobenius, default) or ``2`` (spectral: the largest singular
            value, the factor by which a perturbation of ``h_t`` can grow at most).
        dtype: the float type to compute in (default: the layer's; ``"float64"``
            for norms below float32's range).

    Returns:
        ``(batch, timesteps)`` by input position (a dict for a Bidirectional or a model).
    """
    if ord not in ("fro", 2):
        raise ValueError(f"jacobian_norms: ord must be 'fro' or 2; received {ord!r}")
    if is_model(layer_or_model):
        layers = recurrent_layers(layer_or_model)
        if not layers:
            raise ValueError(f"jacobian_norms: model '{layer_or_model.name}' has no recurrent layer")
        with recording(layers) as records:
            layer_or_model.forward(x, mask=mask, training=False)
        out = {}
        for layer in layers:
            calls = records[id(layer)]
            for name, call in zip(entry_names(layer, calls), calls):
                out[name] = _layer_jacobian_norms(layer, call.inputs, call.mask, call.initial_state, ord, dtype)
        return out
    if not isinstance(layer_or_model, (RecurrentLayer, Bidirectional)):
        raise TypeError("jacobian_norms expects a SimpleRNN/LSTM/GRU/Bidirectional layer or a model; "
                        f"received {type(layer_or_model).__name__}")
    return _layer_jacobian_norms(layer_or_model, x, mask, initial_state, ord, dtype)
