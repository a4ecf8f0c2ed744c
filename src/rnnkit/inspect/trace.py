"""``trace(model_or_layer, x)``: the gates and states of every recurrent layer at every step.

For one layer the result is a dict of ``(batch, timesteps, units)`` arrays:

- LSTM: ``input_gate``, ``forget_gate``, ``cell_candidate``, ``output_gate``,
  ``cell_state``, ``hidden_state``;
- GRU: ``update_gate``, ``reset_gate``, ``candidate``, ``hidden_state``;
- SimpleRNN: ``preactivation``, ``hidden_state``;

plus ``mask``, ``(batch, timesteps)`` bool, True where the step is real. Every array
is indexed by input position: ``[:, t]`` belongs to ``x[:, t]``, also for
``go_backwards`` layers and the backward half of a Bidirectional (which read the
sequence from the end). At a masked step the states (``hidden_state``,
``cell_state``) show the state carried through it, and the gate values, which the
layer never computes there, are NaN. A Bidirectional gives ``{"forward": ...,
"backward": ...}``; a model gives ``{layer name: trace}`` for every recurrent layer,
each fed the inputs, mask and initial states it really receives in the model.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from ..layers import Bidirectional, RecurrentLayer
from .cells import GRU_KEYS, LSTM_KEYS, SIMPLE_RNN_KEYS, STEP_VALUES, CellRun, run_cell

_KEYS = {"lstm": LSTM_KEYS, "gru": GRU_KEYS, "simple_rnn": SIMPLE_RNN_KEYS}


def public_trace(run: CellRun) -> dict:
    """A :class:`CellRun` as the user-facing dict: ``(B, T, U)`` arrays in input-position order."""
    flip = run.layer.go_backwards
    T, B = run.xs.shape[:2]
    mask = np.ones((B, T), bool) if run.mask is None else run.mask.T.copy()
    out = {}
    for key in _KEYS[run.kind]:
        a = run.values[key].transpose(1, 0, 2)
        if key in STEP_VALUES and run.mask is not None:
            a = np.where(mask[:, :, None], a, np.nan)
        out[key] = np.ascontiguousarray(a[:, ::-1] if flip else a)
    out["mask"] = np.ascontiguousarray(mask[:, ::-1] if flip else mask)
    return out


def _split_bidirectional_states(layer, initial_state):
    if initial_state is None:
        return None, None
    states = list(initial_state)
    nf = len(layer.forward_layer.state_names)
    nb = len(layer.backward_layer.state_names)
    if len(states) != nf + nb:
        raise ValueError(f"Bidirectional '{layer.name}': initial_state must be a list of {nf + nb} arrays "
                         f"(forward states, then backward states); received {len(states)}")
    return states[:nf], states[nf:]


def layer_runs(layer, x, mask=None, initial_state=None, dtype=None):
    """:class:`CellRun` of a recurrent layer, or ``{"forward": run, "backward": run}`` of a Bidirectional."""
    if isinstance(layer, Bidirectional):
        fw, bw = _split_bidirectional_states(layer, initial_state)
        return {"forward": run_cell(layer.forward_layer, x, mask, fw, dtype),
                "backward": run_cell(layer.backward_layer, x, mask, bw, dtype)}
    return run_cell(layer, x, mask, initial_state, dtype)


def _public(runs):
    if isinstance(runs, dict):
        return {k: public_trace(r) for k, r in runs.items()}
    return public_trace(runs)


# ------------------------------------------------------------- inside a model
def is_model(obj) -> bool:
    return hasattr(obj, "_run_masked") and hasattr(obj, "layers")


def recurrent_layers(model) -> list:
    """The model's recurrent layers and Bidirectional wrappers (nested models included), in order."""
    found = []
    for layer in model.layers:
        if isinstance(layer, (RecurrentLayer, Bidirectional)):
            found.append(layer)
        elif is_model(layer):
            found.extend(recurrent_layers(layer))
    return found


@dataclass
class Call:
    """What one call of a layer received inside a model, and the gradients that reached it."""

    inputs: np.ndarray
    mask: np.ndarray | None
    initial_state: list | None
    grads: dict = field(default_factory=dict)  # "self" / "forward" / "backward" -> grad_outputs


@contextmanager
def recording(layers, backward: bool = False):
    """Record each layer's inputs (and, with ``backward``, the gradients of its outputs).

    Wraps the layers' bound ``forward``/``backward`` with instance attributes for the
    duration, so a model's own forward (and backward) pass feeds the record. Yields
    ``{id(layer): [Call, ...]}``, one :class:`Call` per call in forward order.
    """
    records: dict[int, list[Call]] = {id(layer): [] for layer in layers}
    patched = []

    def patch(obj, name, fn):
        setattr(obj, name, fn)
        patched.append((obj, name))

    for layer in layers:
        calls = records[id(layer)]
        patch(layer, "forward", _recording_forward(layer.forward, calls))
        if backward:
            parts = ({"forward": layer.forward_layer, "backward": layer.backward_layer}
                     if isinstance(layer, Bidirectional) else {"self": layer})
            for part, sub in parts.items():
                patch(sub, "backward", _recording_backward(sub.backward, calls, part))
    try:
        yield records
    finally:
        for obj, name in reversed(patched):
            obj.__dict__.pop(name, None)


def _recording_forward(original, calls):
    def forward(inputs, mask=None, training=False, initial_state=None, **kwargs):
        state = None if initial_state is None else [np.array(s) for s in initial_state]
        calls.append(Call(np.array(inputs), None if mask is None else np.array(mask), state))
        return original(inputs, mask=mask, training=training, initial_state=initial_state, **kwargs)
    return forward


def _recording_backward(original, calls, part):
    def backward(grad_outputs, cache):
        # Backward visits a shared layer's calls in reverse: the latest call without
        # this part's gradient is the one being differentiated.
        for call in reversed(calls):
            if part not in call.grads:
                call.grads[part] = grad_outputs
                break
        return original(grad_outputs, cache)
    return backward


def entry_names(layer, calls) -> list[str]:
    """Keys for the calls of one layer: its name, then ``name:1``, ``name:2`` for repeated calls."""
    return [layer.name if k == 0 else f"{layer.name}:{k}" for k in range(len(calls))]


def model_runs(model, x, mask=None, dtype=None):
    """Run ``model`` on ``x`` (inference) and :func:`layer_runs` of each recurrent layer call,
    by entry name (:func:`entry_names`)."""
    layers = recurrent_layers(model)
    if not layers:
        raise ValueError(f"Model '{model.name}' has no recurrent layer (SimpleRNN, LSTM, GRU or Bidirectional) "
                         "to trace")
    with recording(layers) as records:
        model.forward(x, mask=mask, training=False)
    runs = {}
    for layer in layers:
        calls = records[id(layer)]
        for name, call in zip(entry_names(layer, calls), calls):
            runs[name] = layer_runs(layer, call.inputs, call.mask, call.initial_state, dtype)
    return runs


def trace(model_or_layer, x, mask=None, initial_state=None, dtype=None) -> dict:
    """Every gate and state of every step; see the module docstring for the keys.

    Args:
        model_or_layer: a ``SimpleRNN``, ``LSTM``, ``GRU`` or ``Bidirectional`` layer,
            or a ``Sequential``/functional model containing some.
        x: the input: ``(batch, timesteps, features)`` for a layer; whatever the model
            takes for a model (token ids for an ``Embedding`` model).
        mask: ``(batch, timesteps)`` bool, True at real steps (a layer; for a model,
            masks come from ``Embedding(mask_zero=True)``/``Masking`` as in a call).
        initial_state: for a layer, its initial states (``[h]``, ``[h, c]``, or the
            forward then backward states of a Bidirectional).
        dtype: the float type to compute in (default: each layer's own).

    Returns:
        For a layer, ``{name: (batch, timesteps, units) array, ..., "mask": (batch,
        timesteps) bool}`` (a Bidirectional: ``{"forward": {...}, "backward": {...}}``);
        for a model, ``{layer name: that dict}``.

    The values are computed in the layer's dtype from its weights, step by step, so
    ``hidden_state`` equals the layer's ``return_sequences`` output at every real
    step (read in input order for ``go_backwards``) to float rounding.
    """
    if is_model(model_or_layer):
        if initial_state is not None:
            raise ValueError("trace: initial_state applies to a single layer; a model passes its layers "
                             "their states itself")
        return {name: _public(r) for name, r in model_runs(model_or_layer, x, mask, dtype).items()}
    if not isinstance(model_or_layer, (RecurrentLayer, Bidirectional)):
        raise TypeError("trace expects a SimpleRNN/LSTM/GRU/Bidirectional layer or a model containing one; "
                        f"received {type(model_or_layer).__name__}")
    return _public(layer_runs(model_or_layer, x, mask, initial_state, dtype))
