"""The generic loop over time steps that ``RNN(cell)`` runs for any cell other than a built-in one.

A cell is anything with ``cell(x_t, states) -> (output, new_states)`` and a
``state_size``: a user's cell written with :mod:`rnnkit.ops`, :class:`StackedRNNCells`,
a cell with nested states. The loop is plain Python over the steps; every op of
the cell is recorded on the tape when gradients are needed, so backward is the
tape's (:func:`traced_forward`, :func:`traced_backward`).

States. ``state_size`` lists one entry per state (an int alone means one state):
an int ``n`` is a ``(batch, n)`` state, a tuple of ints a ``(batch, *shape)`` state,
a list a nested group of states (``StackedRNNCells`` gives one group per cell). A
cell's ``get_initial_state(batch_size)`` is used when it has one. Inside the loop
the states travel flat, as a list of arrays, and are packed back into their
structure for each cell call.

Masks follow Keras: at a masked step every state keeps its previous value and the
output repeats the previous output (zeros before the first real step), or is zeros
with ``zero_output_for_mask``.
"""
from __future__ import annotations

import numpy as np

from ... import ops
from ...ops import tape as _tape
from ...ops.gradient_tape import backprop
from ...ops.layer_autodiff import layer_grads_fix
from .cells import hold_dropout_masks


# ------------------------------------------------------------------ structures
def flatten(s) -> list:
    """The arrays of a nested list/tuple structure, depth first."""
    if isinstance(s, (list, tuple)):
        return [v for item in s for v in flatten(item)]
    return [s]


def pack(flat: list, structure):
    """``flat`` laid out as ``structure`` (nested lists; a leaf is anything else)."""
    it = iter(flat)

    def build(s):
        if isinstance(s, (list, tuple)):
            return [build(v) for v in s]
        return next(it)

    return build(structure)


def _shape_of(size) -> tuple:
    if isinstance(size, (int, np.integer)) and not isinstance(size, bool):
        return (int(size),)
    if hasattr(size, "as_list"):  # a TensorShape-like object
        return tuple(int(d) for d in size.as_list())
    if isinstance(size, tuple) and all(isinstance(d, (int, np.integer)) for d in size):
        return tuple(int(d) for d in size)
    raise ValueError(f"state_size entries must be ints, tuples of ints (a state's shape) or lists "
                     f"(a group of states); received {size!r}")


def _zeros_for(size, batch: int, dtype):
    if isinstance(size, list):
        return [_zeros_for(s, batch, dtype) for s in size]
    return np.zeros((batch, *_shape_of(size)), dtype)


def initial_states(cell, batch: int, dtype) -> list:
    """The cell's initial states for ``batch`` samples, as a (possibly nested) list."""
    fn = getattr(cell, "get_initial_state", None)
    if fn is not None:
        init = fn(batch_size=batch)
        init = list(init) if isinstance(init, (list, tuple)) else [init]
        return pack([np.asarray(_tape.unwrap(v), dtype) for v in flatten(init)], init)
    size = cell.state_size
    entries = [size] if not isinstance(size, (list, tuple)) else list(size)
    return [_zeros_for(s, batch, dtype) for s in entries]


# ---------------------------------------------------------------------- the loop
def _time_slices(x) -> list:
    """``x (B, T, ...)`` as T step inputs ``(B, ...)``; one op (its vjp stacks the gradients)."""
    v, t = _tape.track(x)
    steps = [v[:, i] for i in range(v.shape[1])]
    if t is None:
        return steps

    def vjp(gs):
        out = np.zeros_like(v)
        for i, g in enumerate(gs):
            if g is not None:
                out[:, i] = g
        return (out,)

    return _tape.make_multi(steps, (t,), vjp)


def _expand(m: np.ndarray, ref) -> np.ndarray:
    """The ``(B,)`` step mask shaped to broadcast against ``ref (B, ...)``."""
    return m.reshape(m.shape + (1,) * (np.ndim(_tape.unwrap(ref)) - 1))


def run(cell, seqs: list, states: list, structure, mask, *, go_backwards: bool,
        zero_output_for_mask: bool, return_sequences: bool, training: bool, nested_input: bool):
    """Run ``cell`` over the steps of ``seqs`` (each ``(B, T, ...)``).

    ``states`` are the flat initial states, ``structure`` their nesting; ``mask`` is
    ``(B, T)`` bool or None. Returns ``(outputs, final states)``: the flat outputs,
    each ``(B, T, ...)`` in processing order with ``return_sequences``, else
    ``(B, ...)`` at the last step.
    """
    with hold_dropout_masks(getattr(cell, "cells", [cell])):
        return _run(cell, seqs, states, structure, mask, go_backwards, zero_output_for_mask,
                    return_sequences, training, nested_input)


def _run(cell, seqs, states, structure, mask, go_backwards, zero_output_for_mask, return_sequences,
         training, nested_input):
    steps = int(np.shape(_tape.unwrap(seqs[0]))[1])
    slices = [_time_slices(s) for s in seqs]
    order = range(steps - 1, -1, -1) if go_backwards else range(steps)
    prev, history = None, []
    for t in order:
        x_t = [s[t] for s in slices]
        out, new = cell(x_t if nested_input else x_t[0], pack(states, structure), training=training)
        out_flat = flatten(out)
        new_flat = flatten(new if isinstance(new, (list, tuple)) else [new])
        if len(new_flat) != len(states):
            raise ValueError(f"{type(cell).__name__} returned {len(new_flat)} state array(s); its "
                             f"state_size (or initial states) has {len(states)}")
        if mask is not None and not mask[:, t].all():
            m = mask[:, t]
            new_flat = [ops.where(_expand(m, n), n, s) for n, s in zip(new_flat, states)]
            if zero_output_for_mask or prev is None:
                out_flat = [ops.where(_expand(m, o), o, 0.0) for o in out_flat]
            else:
                out_flat = [ops.where(_expand(m, o), o, p) for o, p in zip(out_flat, prev)]
        prev, states = out_flat, new_flat
        if return_sequences:
            history.append(out_flat)
    if return_sequences:
        return [ops.stack([h[i] for h in history], axis=1) for i in range(len(prev))], states
    return prev, states


# ------------------------------------------------------------- training on the tape
def traced_forward(layer, seqs: list, states0: list | None, call):
    """Record ``call(seq_leaves, state_leaves)`` (a flat list of outputs) on a private
    recording; returns ``(output values, cache)`` for :func:`traced_backward`."""
    x_leaves = [_tape.leaf(s) for s in seqs]
    s_leaves = None if states0 is None else [_tape.leaf(s) for s in states0]
    with _tape.recording():
        outs = call(x_leaves, s_leaves)
    values = [np.asarray(_tape.unwrap(o)) for o in outs]
    return values, (x_leaves, s_leaves, outs)


def traced_backward(layer, grads: list, cache):
    """dL/d(outputs) (flat, None where absent) -> ``(dseqs, dstates0 or None)``; fills the
    gradients of ``layer``'s weights (its cell's)."""
    x_leaves, s_leaves, outs = cache
    targets, seeds = [], []
    for o, g in zip(outs, grads):
        if isinstance(o, _tape.Tensor) and g is not None:
            targets.append(o)
            seeds.append(g)
    with _tape.stop_recording():
        leaf_grads, _ = backprop(targets, seeds)
    for lay, i, _ in layer._entries():
        if len(lay._grads) < len(lay._params):
            lay._grads = list(lay._grads) + [None] * (len(lay._params) - len(lay._grads))
        g = leaf_grads.get(id(lay._params[i][1]))
        lay._grads[i] = np.zeros_like(lay._params[i][1]) if g is None else g
    layer_grads_fix(layer)

    def grad_of(t):
        g = leaf_grads.get(t.node.key)
        return np.zeros_like(t.value) if g is None else np.asarray(g, dtype=t.value.dtype)

    return [grad_of(t) for t in x_leaves], None if s_leaves is None else [grad_of(t) for t in s_leaves]
