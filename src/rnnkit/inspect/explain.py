"""Explained predictions of a sequence classifier: running prediction, attributions, gates.

``explain(model, text_or_ids)`` works on a ``Sequential`` model that starts with an
``Embedding`` (such as the one ``rnnkit train imdb`` makes) and returns a dict with

- the prediction after each token: the model's output on every prefix of the input;
- per-token attributions by integrated gradients (Sundararajan et al., 2017) on the
  embedded input, from a stated baseline: ``"zero"`` (all-zero embeddings) or
  ``"pad"`` (every token replaced by the padding id 0). By the completeness property
  the attributions sum to ``f(input) - f(baseline)``; the integral is computed with
  Gauss-Legendre quadrature, and the remaining error is reported;
- the chosen gate activations of a recurrent layer over the tokens (from
  :func:`rnnkit.inspect.trace`).

:mod:`.report` renders it as one self-contained HTML file or a matplotlib PNG.
"""
from __future__ import annotations

import numpy as np

from ..layers import (Activation, Bidirectional, Dense, Dropout, Embedding, Masking, RecurrentLayer,
                      TimeDistributed)
from ..layers.layer_utils import run_layer
from .trace import trace

DEFAULT_GATES = {"lstm": ("input_gate", "forget_gate", "output_gate"),
                 "gru": ("update_gate", "reset_gate"),
                 "simple_rnn": ("hidden_state",)}
# Layers whose output at step t depends on steps <= t only (with a forward RNN).
_CAUSAL = (Embedding, Masking, Dropout, Activation, Dense, TimeDistributed)


def _check_model(model):
    layers = getattr(model, "layers", None)
    if layers is None or not hasattr(model, "_run_masked") or not layers or not isinstance(layers[0], Embedding):
        raise ValueError("explain needs a Sequential model whose first layer is an Embedding (token ids in, "
                         f"like `rnnkit train imdb` makes); received {type(model).__name__}")
    if hasattr(model, "inputs") and len(getattr(model, "inputs", [])) > 1:
        raise ValueError("explain needs a model with one input")
    return layers


# ------------------------------------------------------------------ tokens
def encode_text(text: str, meta: dict) -> np.ndarray:
    """One review -> ``(1, maxlen)`` ids, by the rule ``rnnkit predict`` uses."""
    from ..datasets.imdb import encode_reviews

    missing = [k for k in ("word_index", "num_words", "index_from", "start_char", "oov_char", "maxlen")
               if k not in meta]
    if missing:
        raise ValueError(f"explain: to encode text the model's metadata (or meta=) needs {missing}; "
                         "models made by `rnnkit train imdb` have them, otherwise pass token ids")
    return encode_reviews([text], meta)


def decode_ids(ids, meta: dict | None) -> list[str]:
    """Token strings for ids, through the metadata's word index (IMDB) or character list."""
    meta = meta or {}
    if "chars" in meta:
        chars = meta["chars"]
        return [chars[i] if 0 <= i < len(chars) else f"#{i}" for i in ids]
    index = meta.get("word_index")
    if not index:
        return [str(int(i)) for i in ids]
    offset = meta.get("index_from", 3)
    inverse = {rank + offset: w for w, rank in index.items()}
    special = {0: "<pad>", meta.get("start_char", 1): "<start>", meta.get("oov_char", 2): "<oov>"}
    return [special.get(int(i)) or inverse.get(int(i), f"#{int(i)}") for i in ids]


# -------------------------------------------------------------- the model
def _forward(layers, x, mask):
    """Run ``layers`` on ``x`` keeping caches; returns ``(output, caches)``."""
    caches = []
    for layer in layers:
        x, cache, mask = run_layer(layer, x, mask, False, True)
        caches.append(cache)
    return x, caches


def _backward(layers, caches, g):
    for layer, cache in zip(reversed(layers), reversed(caches)):
        g = layer.backward(g, cache)
    return g


def _scalar_output(y, target):
    y = np.asarray(y)
    if y.ndim != 2:
        raise ValueError(f"explain needs a model with one output per sample, (batch, classes); its output has "
                         f"shape {y.shape}")
    return y[:, target]


def gauss_legendre(n: int):
    """Nodes and weights of n-point Gauss-Legendre quadrature on [0, 1] (weights sum to 1)."""
    t, w = np.polynomial.legendre.leggauss(n)
    return 0.5 * (t + 1.0), 0.5 * w


def integrated_gradients(model, ids, target: int = 0, baseline: str = "zero", steps: int = 32,
                         batch_size: int = 64):
    """Integrated gradients of output ``target`` with respect to the embedded input.

    For embedded input ``E (T, D)`` and baseline ``E0``, token t gets
    ``sum_d (E - E0)[t, d] * integral_0^1 df/dE[t, d](E0 + a (E - E0)) da``; the
    integral is an ``steps``-point Gauss-Legendre sum. The mask (``mask_zero``) stays
    the input's along the path.

    Returns ``(attributions (T,), f(E), f(E0))`` for ``ids (T,)``.
    """
    if baseline not in ("zero", "pad"):
        raise ValueError(f"explain: baseline must be 'zero' (zero embeddings) or 'pad' (every token the padding "
                         f"id 0); received {baseline!r}")
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"explain: steps must be a positive integer; received {steps!r}")
    layers = _check_model(model)
    emb, rest = layers[0], layers[1:]
    ids = np.asarray(ids)[None]
    E = emb(ids)[0]
    mask = emb.compute_mask(ids, None)
    E0 = np.zeros_like(E) if baseline == "zero" else emb(np.zeros_like(ids))[0]
    alphas, weights = gauss_legendre(int(steps))
    path = np.concatenate([[0.0, 1.0], alphas])  # the two ends give f(E0) and f(E)
    avg_grad = np.zeros(E.shape, np.float64)
    outputs = []
    for a in range(0, len(path), batch_size):
        al = path[a:a + batch_size].astype(E.dtype)
        Z = E0[None] + al[:, None, None] * (E - E0)[None]
        m = None if mask is None else np.repeat(mask, len(al), axis=0)
        y, caches = _forward(rest, Z, m)
        outputs.append(_scalar_output(y, target))
        dy = np.zeros_like(y)
        dy[:, target] = 1.0
        dZ = np.asarray(_backward(rest, caches, dy), np.float64)
        w = np.concatenate([[0.0, 0.0], weights])[a:a + batch_size]
        avg_grad += np.tensordot(w, dZ, axes=1)
    values = np.concatenate(outputs)
    attributions = np.sum((E - E0).astype(np.float64) * avg_grad, axis=-1)
    return attributions, float(values[1]), float(values[0])


def _running_from_trace(layers, ids):
    """Prediction after each token from one trace, or None where the model is not causal.

    Applies when the last recurrent layer reads forwards and returns its last state
    only, and everything before it is causal: then the head applied to its hidden
    state after step t is the model's output on ``ids[:t + 1]``.
    """
    idx = [i for i, lay in enumerate(layers) if isinstance(lay, (RecurrentLayer, Bidirectional))]
    if not idx:
        return None
    r = idx[-1]
    last = layers[r]
    if (isinstance(last, Bidirectional) or last.go_backwards or last.return_sequences or last.return_state
            or getattr(last, "stateful", False)):
        return None
    for lay in layers[:r]:
        causal = isinstance(lay, _CAUSAL) or (isinstance(lay, RecurrentLayer) and not lay.go_backwards
                                              and lay.return_sequences and not lay.stateful)
        if not causal:
            return None
    x, mask = ids[None], None
    for lay in layers[:r]:
        x, _, mask = run_layer(lay, x, mask, False, False)
    states = trace(last, x, mask=mask)["hidden_state"][0]  # (T, U)
    out = states
    for lay in layers[r + 1:]:
        out, _, _ = run_layer(lay, out, None, False, False)
    return np.asarray(out)


def running_predictions(model, ids, target: int = 0) -> np.ndarray:
    """The model's output ``target`` on every prefix ``ids[:t + 1]``, ``(T,)``.

    From one trace of the last recurrent layer where the model allows it (see
    :func:`_running_from_trace`), else one model call per prefix.
    """
    layers = _check_model(model)
    ids = np.asarray(ids)
    fast = _running_from_trace(layers, ids)
    if fast is not None:
        return _scalar_output(fast, target).astype(np.float64)
    return np.array([float(_scalar_output(model.predict(ids[None, :t + 1], verbose=0), target)[0])
                     for t in range(len(ids))])


def _gate_maps(model, ids, gates, layer_name, direction):
    traced = trace(model, ids[None])
    if layer_name is None:
        layer_name = list(traced)[-1]
    if layer_name not in traced:
        raise ValueError(f"explain: no recurrent layer {layer_name!r}; the model has {list(traced)}")
    tr = traced[layer_name]
    if "forward" in tr:
        if direction not in tr:
            raise ValueError(f"explain: direction must be 'forward' or 'backward'; received {direction!r}")
        tr = tr[direction]
    available = [k for k in tr if k != "mask"]
    kind = "lstm" if "cell_state" in tr else "gru" if "update_gate" in tr else "simple_rnn"
    names = list(DEFAULT_GATES[kind] if gates is None else gates)
    bad = [g for g in names if g not in available]
    if bad:
        raise ValueError(f"explain: gates {bad} are not in layer {layer_name!r}; choose from {available}")
    return layer_name, {g: tr[g][0].T for g in names}  # (units, T)


def explain(model, text_or_ids, *, meta: dict | None = None, baseline: str = "zero", steps: int = 32,
            target: int | None = None, gates=None, layer: str | None = None,
            direction: str = "forward") -> dict:
    """Explain one prediction of a sequence classifier.

    Args:
        model: a ``Sequential`` model starting with an ``Embedding``, output
            ``(batch, 1)`` (sigmoid) or ``(batch, classes)``.
        text_or_ids: a string (encoded with the model's word index: ``meta`` or the
            model's ``metadata``, as ``rnnkit predict`` does, padded to its ``maxlen``)
            or a 1-D sequence of token ids (used as given).
        baseline: ``"zero"`` (all-zero embeddings) or ``"pad"`` (every token the
            padding id 0) for integrated gradients.
        steps: quadrature points for the integral (Gauss-Legendre).
        target: the output column to explain (default: 0 for one output, else the
            predicted class).
        gates: names from the layer's trace to show (default: all gates).
        layer, direction: which recurrent layer (default: the last) and, for a
            Bidirectional, which direction.

    Returns:
        A dict: ``tokens`` (list of str), ``ids``, ``positions`` (their indices in the
        model input; leading padding is left out), ``prediction``, ``running`` (the
        output on each prefix, ``(n,)``), ``attributions`` (``(n,)``), ``baseline``
        (its description), ``baseline_prediction``, ``completeness_error``
        (``|sum(attributions) - (prediction - baseline_prediction)|``, the sum taken
        over every position), ``padding_attribution`` (the part of that sum on the
        leading padding that is left out; 0 with the ``"pad"`` baseline), ``layer``,
        ``gates`` (``{name: (units, n)}``), ``target``, ``target_name``.
    """
    layers = _check_model(model)
    meta = dict(meta if meta is not None else getattr(model, "metadata", None) or {})
    if isinstance(text_or_ids, str):
        ids = encode_text(text_or_ids, meta)[0]
    else:
        ids = np.asarray(text_or_ids)
        if ids.ndim != 1 or ids.dtype.kind not in "iu" or ids.size == 0:
            raise ValueError(f"explain: give a string or a non-empty 1-D sequence of integer token ids; received "
                             f"an array of shape {ids.shape} and dtype {ids.dtype}")
        vocab = layers[0].input_dim
        if ids.min() < 0 or ids.max() >= vocab:
            raise ValueError(f"explain: token ids must be in [0, {vocab}) (the Embedding's input_dim); received "
                             f"ids from {ids.min()} to {ids.max()}")
    y = np.asarray(model.predict(ids[None], verbose=0))
    if target is None:
        target = 0 if y.shape[-1] == 1 else int(np.argmax(y[0]))
    if not 0 <= target < y.shape[-1]:
        raise ValueError(f"explain: target must be in [0, {y.shape[-1]}); received {target}")
    attributions, f_x, f_base = integrated_gradients(model, ids, target, baseline, steps)
    running = running_predictions(model, ids, target)
    layer_name, gate_maps = _gate_maps(model, ids, gates, layer, direction)
    real = np.flatnonzero(ids != 0)
    first = int(real[0]) if real.size else 0
    shown = slice(first, len(ids))
    base_text = ("all-zero embeddings at every position" if baseline == "zero"
                 else "the padding token (id 0) at every position")
    return {
        "tokens": decode_ids(ids[shown], meta), "ids": ids[shown], "positions": np.arange(len(ids))[shown],
        "prediction": f_x, "running": running[shown], "attributions": attributions[shown],
        "baseline": base_text, "baseline_prediction": f_base,
        "completeness_error": abs(float(attributions.sum()) - (f_x - f_base)),
        "padding_attribution": float(attributions[:first].sum()),
        "layer": layer_name, "gates": {k: v[:, shown] for k, v in gate_maps.items()},
        "target": target,
        "target_name": "P(positive)" if y.shape[-1] == 1 else f"P(class {target})",
        "steps": int(steps),
    }
