"""Reverse accumulation over the recorded graph, and :class:`GradientTape` (see :mod:`.tape`)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .tape import STATE, Node, Tensor, Variable, _flat, stop_recording, unwrap


# ------------------------------------------------------------------------------- backprop
def backprop(targets: Sequence[Tensor], seeds: Sequence) -> tuple[dict, dict]:
    """Push ``seeds`` (d loss / d target) back through the graph.

    Returns ``(leaf_grads, node_grads)``: gradients by leaf key, and by ``(id(node),
    output index)`` for every tensor reached (for intermediate tensors as sources).
    """
    order: list[Node] = []
    seen: set = set()
    for t in targets:
        if not isinstance(t, Tensor) or id(t.node) in seen:
            continue
        stack = [(t.node, False)]
        while stack:
            node, done = stack.pop()
            if done:
                order.append(node)
                continue
            if id(node) in seen:
                continue
            seen.add(id(node))
            stack.append((node, True))
            for inp in node.inputs:
                if inp is not None and id(inp.node) not in seen:
                    stack.append((inp.node, False))
    grads: dict[int, list] = {}

    def add(node, index, g):
        slot = grads.setdefault(id(node), [None] * node.n_out)
        slot[index] = g if slot[index] is None else slot[index] + g

    for t, s in zip(targets, seeds):
        if isinstance(t, Tensor) and s is not None:
            add(t.node, t.index, np.asarray(s, dtype=np.result_type(t.value)).reshape(np.shape(t.value))
                if np.ndim(s) == np.ndim(t.value) or np.size(s) == np.size(t.value)
                else np.broadcast_to(s, np.shape(t.value)))
    leaf_grads: dict = {}
    for node in reversed(order):
        gs = grads.get(id(node))
        if gs is None or all(g is None for g in gs):
            continue
        if node.key is not None:
            prev = leaf_grads.get(node.key)
            leaf_grads[node.key] = gs[0] if prev is None else prev + gs[0]
            continue
        back = node.vjp(gs if node.n_out > 1 else gs[0])
        n_in = len(node.inputs)
        for inp, g in zip(node.inputs, back[:n_in]):
            if inp is not None and g is not None:
                add(inp.node, inp.index, g)
        for key, g in zip(node.leaf_keys, back[n_in:]):
            if g is not None:
                prev = leaf_grads.get(key)
                leaf_grads[key] = g if prev is None else prev + g
    node_grads = {(k, i): g for k, gs in grads.items() for i, g in enumerate(gs)}
    return leaf_grads, node_grads


def source_key(x):
    """The leaf key of a differentiation source (Variable, array, or leaf Tensor)."""
    if isinstance(x, Variable):
        return id(x.value)
    if isinstance(x, Tensor):
        return x.node.key
    return id(x)


class GradientTape:
    """``tf.GradientTape`` over :mod:`rnnkit.ops`::

        with rnnkit.GradientTape() as tape:
            y_pred = model(x, training=True)
            loss = model.compute_loss(y=y, y_pred=y_pred)
        grads = tape.gradient(loss, model.trainable_variables)

    Trainable Variables read inside are watched automatically
    (``watch_accessed_variables=False`` turns that off); ``tape.watch(array)`` makes an
    array a source for the ops that receive it. Built-in layers and models called inside
    are one recorded op each (their analytic backward). ``persistent=True`` allows
    several ``gradient`` calls.
    """

    def __init__(self, persistent: bool = False, watch_accessed_variables: bool = True):
        self._persistent = bool(persistent)
        self._watch_accessed = bool(watch_accessed_variables)
        self._watched: dict[int, Any] = {}
        self._used = False
        self._active = False

    def __enter__(self) -> "GradientTape":
        STATE.recording += 1
        STATE.tapes = STATE.tapes + [self]
        self._active = True
        return self

    def __exit__(self, *exc) -> bool:
        STATE.recording -= 1
        STATE.tapes = [t for t in STATE.tapes if t is not self]
        self._active = False
        return False

    def watch(self, tensor) -> None:
        """Make arrays or Variables (a structure of them) differentiation sources."""
        for x in _flat(tensor):
            if isinstance(x, Variable):
                self._watched[id(x.value)] = x.value
            elif isinstance(x, np.ndarray):
                self._watched[id(x)] = x
            elif not isinstance(x, Tensor):
                raise TypeError(f"GradientTape.watch expects arrays, Variables or Tensors; received "
                                f"{type(x).__name__}")

    def stop_recording(self) -> stop_recording:
        return stop_recording()

    def reset(self) -> None:
        self._watched.clear()

    def watched_variables(self) -> list:
        return list(self._watched.values())

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        """d(sum of ``target``)/d``sources``, in the structure of ``sources``.

        ``sources``: Variables, parameter arrays (``model.trainable_weights``), watched
        arrays or intermediate Tensors. Unconnected sources give None (or zeros with
        ``unconnected_gradients="zero"``).
        """
        if unconnected_gradients not in ("none", "zero"):
            raise ValueError(f"GradientTape.gradient: unconnected_gradients must be 'none' or 'zero'; "
                             f"received {unconnected_gradients!r}")
        if self._used and not self._persistent:
            raise RuntimeError("A non-persistent GradientTape can only be used to compute one set of "
                               "gradients; use GradientTape(persistent=True) for several")
        self._used = True
        targets = _flat(target)
        if output_gradients is None:
            seeds = [np.ones_like(np.asarray(unwrap(t), dtype=float)) if isinstance(t, Tensor) else None
                     for t in targets]
            seeds = [None if s is None else s.astype(np.result_type(t.value)) if isinstance(t, Tensor) else s
                     for s, t in zip(seeds, targets)]
        else:
            seeds = [unwrap(g) for g in _flat(output_gradients)]
        with stop_recording():
            leaf_grads, node_grads = backprop(targets, seeds)

        def one(s):
            if isinstance(s, Tensor) and s.node.key is None:
                g = node_grads.get((id(s.node), s.index))
            else:
                g = leaf_grads.get(source_key(s))
            if g is None and unconnected_gradients == "zero":
                g = np.zeros_like(np.asarray(unwrap(s)))
            if g is not None:
                arr = np.asarray(unwrap(s))
                g = np.asarray(g)
                if arr.dtype.kind == "f" and g.dtype != arr.dtype:
                    g = g.astype(arr.dtype)
            return g

        return _map_struct(one, sources)


def _map_struct(fn, s):
    if isinstance(s, (list, tuple)) and not isinstance(s, np.ndarray):
        return type(s)(_map_struct(fn, v) for v in s) if isinstance(s, list) else \
            tuple(_map_struct(fn, v) for v in s)
    if isinstance(s, dict):
        return {k: _map_struct(fn, v) for k, v in s.items()}
    return fn(s)
