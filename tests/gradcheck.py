"""Central finite differences against a layer's analytic backward pass (float64)."""
from __future__ import annotations

import numpy as np


def _as_list(v):
    return list(v) if isinstance(v, (list, tuple)) else [v]


def loss_and_grads(layer, x, upstream, **call):
    """L = sum_i <out_i, upstream_i>; returns (L, dx-or-list, weight grads)."""
    outs, cache = layer.forward(x, **call)
    outs = _as_list(outs)
    loss = float(sum(np.sum(o * u) for o, u in zip(outs, upstream) if u is not None))
    g = upstream if len(outs) > 1 else upstream[0]
    dx = layer.backward(g, cache)
    return loss, dx, [None if w is None else w.copy() for w in layer.grads]


def numeric(f, arr, eps=1e-6, max_entries=60, rng=None):
    """Numerical df/darr on up to ``max_entries`` random entries; returns (indices, values)."""
    rng = rng or np.random.default_rng(0)
    flat = arr.reshape(-1)
    idx = np.arange(flat.size)
    if flat.size > max_entries:
        idx = rng.choice(flat.size, max_entries, replace=False)
    vals = []
    for i in idx:
        old = flat[i]
        flat[i] = old + eps
        fp = f()
        flat[i] = old - eps
        fm = f()
        flat[i] = old
        vals.append((fp - fm) / (2 * eps))
    return idx, np.array(vals)


def check_layer_gradients(layer, x, upstream, tol=1e-6, check_x=True, initial_state=None, **call):
    """Assert analytic == numerical gradients for every weight, the input and initial states."""
    if initial_state is not None:
        call["initial_state"] = initial_state
    _, dx, wgrads = loss_and_grads(layer, x, upstream, **call)

    def f():
        outs, _ = layer.forward(x, **call)
        return float(sum(np.sum(o * u) for o, u in zip(_as_list(outs), upstream) if u is not None))

    targets = [(f"weight {n}", w, g) for n, w, g in zip(layer.weight_names, layer.weights, wgrads)]
    if initial_state is not None:
        dx, *dstates = dx
        targets += [(f"initial_state[{k}]", s, d) for k, (s, d) in enumerate(zip(initial_state, dstates))]
    if check_x:
        targets.append(("input", x, dx))
    for name, arr, grad in targets:
        idx, num = numeric(f, arr)
        ana = np.asarray(grad).reshape(-1)[idx]
        scale = max(1.0, np.abs(num).max())
        err = np.abs(ana - num).max() / scale
        assert err < tol, f"{name}: max error {err:.2e}\nanalytic {ana[:6]}\nnumeric  {num[:6]}"
