"""What models and layers share around a layer call: mask checks, running one layer of a
model (forward and backward), and Keras' empty-batch answer. Functions only: no layer
class lives here."""
from __future__ import annotations

from typing import Any

import numpy as np


def check_mask(layer: Any, mask, batch: int, timesteps: int):
    """Validate a ``(batch, timesteps)`` mask; ``None`` when absent or all True."""
    if mask is None:
        return None
    m = np.asarray(mask)
    if m.dtype.kind not in "biuf":
        raise TypeError(
            f"{type(layer).__name__} '{layer.name}' expects a boolean mask of shape (batch, "
            f"timesteps); received dtype {m.dtype}"
        )
    if m.shape != (batch, timesteps):
        raise ValueError(
            f"{type(layer).__name__} '{layer.name}' expects mask of shape (batch, timesteps) = "
            f"({batch}, {timesteps}); received {m.shape}"
        )
    m = m.astype(bool, copy=False)
    return None if m.all() else m


def run_backward(layer: Any, grad_outputs, cache, input_grad: bool = True):
    """``layer.backward(grad_outputs, cache)`` of a layer or model.

    ``input_grad=False`` (nobody reads dL/d(inputs), as in a training step) is passed on
    where that ``backward`` says it takes it (``takes_input_grad``: recurrent layers,
    ``Sequential``, the functional ``Model``); a wrapper set on the instance (the MPI
    gradient buckets) does not, and gets the plain call.
    """
    if not input_grad and getattr(layer.backward, "takes_input_grad", False):
        return layer.backward(grad_outputs, cache, input_grad=False)
    return layer.backward(grad_outputs, cache)


def run_layer(layer: Any, inputs, mask, training: bool, keep_caches: bool, **kwargs):
    """Run one layer of a model: ``(outputs, cache or None, output mask)``.

    A nested model (one with ``_run_masked``) reports the mask its own last layers
    produce, as Keras propagates it; other layers give ``compute_mask``'s.
    """
    nested = getattr(layer, "_run_masked", None)
    if nested is not None and not kwargs:
        return nested(inputs, mask, training, keep_caches)
    if keep_caches:
        out, cache = layer.forward(inputs, mask=mask, training=training, **kwargs)
    else:
        out, cache = layer.call(inputs, mask=mask, training=training, **kwargs), None
    return out, cache, layer.compute_mask(inputs, mask)


def is_empty_batch(x) -> bool:
    """Whether ``x`` (an array, or a list of arrays for several inputs) has zero samples."""
    if isinstance(x, (list, tuple)):
        return bool(x) and all(isinstance(a, np.ndarray) and a.ndim > 0 and a.shape[0] == 0 for a in x)
    return isinstance(x, np.ndarray) and x.ndim > 0 and x.shape[0] == 0


def has_stateful(layer) -> bool:
    if getattr(layer, "stateful", False):
        return True
    subs = list(getattr(layer, "_sublayers", None) or []) + list(getattr(layer, "_layers", None) or [])
    return any(has_stateful(s) for s in subs if s is not layer)


def empty_batch_call(call, x, kwargs: dict):
    """Keras' answer to an empty batch: an empty result of the right shape and dtype.

    Runs ``call`` on one all-zero sample (and one-row masks and initial states) and keeps
    zero rows of every output, so each layer's output shape rules apply unchanged.
    """
    def one_row(a):
        if isinstance(a, (list, tuple)):
            return [one_row(v) for v in a]
        if isinstance(a, np.ndarray) and a.ndim > 0 and a.shape[0] == 0:
            return np.ones((1,) + a.shape[1:], a.dtype) if a.dtype == bool else np.zeros((1,) + a.shape[1:], a.dtype)
        return a

    out = call(one_row(x), **{k: one_row(v) for k, v in kwargs.items()})
    if isinstance(out, list):
        return [o[:0] for o in out]
    return out[:0]
