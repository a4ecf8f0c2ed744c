"""Finite-difference checks for layers taking a list of inputs and/or returning several
outputs (attention, Dot), and for layers with non-trainable weights (BatchNormalization).

L = sum_i <out_i, upstream_i> (+ the layer's ``losses``, whose gradient ``backward``
includes); every trainable weight and every input is checked on random entries.
"""
from __future__ import annotations

import numpy as np

from gradcheck import numeric


def _as_list(v):
    return list(v) if isinstance(v, (list, tuple)) else [v]


def check(layer, inputs, rng, tol=1e-6, with_losses=False, check_inputs=True, max_entries=40, **call):
    """Forward once to get shapes, draw upstream gradients, compare backward with numbers."""
    layer._maybe_build([np.shape(x) for x in inputs] if isinstance(inputs, list) else np.shape(inputs))
    outs, _ = layer.forward(inputs, **call)
    ups = [rng.normal(size=np.shape(o)) for o in _as_list(outs)]

    def f():
        out, _ = layer.forward(inputs, **call)
        total = float(sum(np.sum(o * u) for o, u in zip(_as_list(out), ups)))
        if with_losses:
            total += float(sum(layer.losses))
        return total

    out, cache = layer.forward(inputs, **call)
    g = ups if isinstance(out, (list, tuple)) else ups[0]
    dx = layer.backward(g, cache)
    grads = [None if w is None else np.array(w, copy=True) for w in layer.grads]
    targets = [(n, w, gw) for n, w, gw, t in zip(layer.weight_names, layer.weights, grads,
                                                 layer.trainable_mask) if t]
    if check_inputs:
        xs, dxs = _as_list(inputs), _as_list(dx)
        assert len(xs) == len(dxs)
        targets += [(f"input {i}", x, d) for i, (x, d) in enumerate(zip(xs, dxs))]
    for name, arr, grad in targets:
        assert grad is not None, f"{name}: no gradient"
        assert np.shape(grad) == np.shape(arr), f"{name}: gradient shape {np.shape(grad)} != {np.shape(arr)}"
        idx, num = numeric(f, arr, max_entries=max_entries)
        ana = np.asarray(grad).reshape(-1)[idx]
        err = np.abs(ana - num).max() / max(1.0, np.abs(num).max())
        assert err < tol, f"{name}: max error {err:.2e}\nanalytic {ana[:6]}\nnumeric  {num[:6]}"
