"""Independent recomputations for the rnnkit.inspect tests: one sample-batch step at a
time through the public step functions, with Keras' masking and output rules."""
from __future__ import annotations

import numpy as np

from rnnkit import activations
from rnnkit.layers import GRU, LSTM, SimpleRNN, gru_step, lstm_step, simple_rnn_step


def n_states(layer):
    return 2 if isinstance(layer, LSTM) else 1


def step(layer, x_t, states):
    """The layer's next states from ``x_t (B, D)`` and ``states`` via the exported step function."""
    if isinstance(layer, LSTM):
        h, c = lstm_step(x_t, states[0], states[1], layer.kernel, layer.recurrent_kernel, layer.bias,
                         layer.activation, layer.recurrent_activation)
        return [h, c]
    if isinstance(layer, GRU):
        return [gru_step(x_t, states[0], layer.kernel, layer.recurrent_kernel, layer.bias,
                         layer.reset_after, layer.activation, layer.recurrent_activation)]
    assert isinstance(layer, SimpleRNN)
    return [simple_rnn_step(x_t, states[0], layer.kernel, layer.recurrent_kernel, layer.bias,
                            layer.activation)]


def gates(layer, x_t, states):
    """The named gate values of one step, written out from the Keras equations."""
    act = activations.get(layer.activation)
    u = layer.units
    if isinstance(layer, SimpleRNN):
        z = x_t @ layer.kernel + states[0] @ layer.recurrent_kernel
        if layer.bias is not None:
            z = z + layer.bias
        return {"preactivation": z}
    rec = activations.get(layer.recurrent_activation)
    if isinstance(layer, LSTM):
        z = x_t @ layer.kernel + states[0] @ layer.recurrent_kernel
        if layer.bias is not None:
            z = z + layer.bias
        return {"input_gate": rec(z[:, :u]), "forget_gate": rec(z[:, u:2 * u]),
                "cell_candidate": act(z[:, 2 * u:3 * u]), "output_gate": rec(z[:, 3 * u:])}
    h = states[0]
    W, R, b = layer.kernel, layer.recurrent_kernel, layer.bias
    if layer.reset_after:
        bi = 0 if b is None else b[0]
        br = 0 if b is None else b[1]
        xp, hp = x_t @ W + bi, h @ R + br
        z = rec(xp[:, :u] + hp[:, :u])
        r = rec(xp[:, u:2 * u] + hp[:, u:2 * u])
        hh = act(xp[:, 2 * u:] + r * hp[:, 2 * u:])
    else:
        xp = x_t @ W + (0 if b is None else b)
        z = rec(xp[:, :u] + h @ R[:, :u])
        r = rec(xp[:, u:2 * u] + h @ R[:, u:2 * u])
        hh = act(xp[:, 2 * u:] + (r * h) @ R[:, 2 * u:])
    return {"update_gate": z, "reset_gate": r, "candidate": hh}


def manual_run(layer, x, mask=None, initial_state=None, perturb=None):
    """Run ``layer`` over ``x (B, T, D)`` step by step.

    ``perturb = (s, dh)`` adds ``dh (B, U)`` to the hidden state carried out of
    processing step ``s``. Returns ``(states_per_step, gates_per_step, finals)``, lists
    in processing order, and the per-step masks.
    """
    B, T, _ = x.shape
    xs = x[:, ::-1] if layer.go_backwards else x
    ms = None if mask is None else (mask[:, ::-1] if layer.go_backwards else mask)
    states = ([np.zeros((B, layer.units)) for _ in range(n_states(layer))] if initial_state is None
              else [np.array(s, float) for s in initial_state])
    seq, gseq = [], []
    for s in range(T):
        gseq.append(gates(layer, xs[:, s], states))
        new = step(layer, xs[:, s], states)
        if ms is not None:
            keep = ms[:, s][:, None]
            new = [np.where(keep, a, b) for a, b in zip(new, states)]
        if perturb is not None and perturb[0] == s:
            new[0] = new[0] + perturb[1]
        states = new
        seq.append(states)
    return seq, gseq, states, ms


def keras_outputs(layer, x, mask=None, initial_state=None, perturb=None):
    """The layer's outputs as Keras returns them, from :func:`manual_run`."""
    seq, _, finals, ms = manual_run(layer, x, mask, initial_state, perturb)
    H = np.stack([s[0] for s in seq], axis=1)  # (B, T, U) processing order
    if ms is None:
        keep = np.ones(H.shape[:2])
    else:
        keep = ms if layer.zero_output_for_mask else np.logical_or.accumulate(ms, axis=1)
    if layer.return_sequences:
        out = H * keep[..., None]
    else:
        out = finals[0] * keep[:, -1:]
    return [out, *finals] if layer.return_state else out


def patched_forward(layer, perturb):
    """A replacement for ``layer.forward`` (loss evaluation only) that perturbs one state."""
    def forward(inputs, mask=None, training=False, initial_state=None, **kw):
        return keras_outputs(layer, np.asarray(inputs, float), mask, initial_state, perturb), None
    return forward


def randomize(layer, rng, scale=0.5):
    layer.set_weights([rng.normal(0, scale, w.shape) for w in layer.get_weights()])
