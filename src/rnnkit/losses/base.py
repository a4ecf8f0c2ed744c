"""The loss base classes and the helpers every loss shares.

:class:`Loss` runs the three stages described in :mod:`rnnkit.losses` (alignment,
per-sample values, reduction) and the gradient; :class:`LossFunctionWrapper` wraps a user
callable. The helpers align ranks, pick the computation dtype, broadcast sample weights and
check arguments; :func:`sigmoid` and :func:`log_softmax` are the numerically stable forms
used with ``from_logits=True``.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import backend

EPSILON = 1e-7  # keras.backend.epsilon()
_REDUCTIONS = ("sum_over_batch_size", "mean", "sum", "mean_with_sample_weight", "none", None)

__all__ = ["Loss", "LossFunctionWrapper", "EPSILON", "squeeze_or_expand_to_same_rank", "compute_dtype",
           "broadcast_weights", "sigmoid", "log_softmax"]

Backward = Callable[[np.ndarray], np.ndarray]


# --------------------------------------------------------------------------- shared helpers
def squeeze_or_expand_to_same_rank(x1: np.ndarray, x2: np.ndarray,
                                   expand_rank_1: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Keras' rank alignment: when ranks differ by one and the longer array's last axis has
    size 1, squeeze it, except that a rank-1 partner is expanded instead (if ``expand_rank_1``)."""
    if x1.ndim == x2.ndim + 1 and x1.shape[-1] == 1:
        if x2.ndim == 1 and expand_rank_1:
            x2 = x2[:, None]
        else:
            x1 = x1[..., 0]
    elif x2.ndim == x1.ndim + 1 and x2.shape[-1] == 1:
        if x1.ndim == 1 and expand_rank_1:
            x1 = x1[:, None]
        else:
            x2 = x2[..., 0]
    return x1, x2


def compute_dtype(y_pred: np.ndarray, dtype: Any = None) -> np.dtype:
    """``dtype`` if given, else ``y_pred``'s float32/float64 dtype, else ``floatx()``."""
    if dtype is not None:
        return backend.standardize_dtype(dtype)
    if y_pred.dtype in (np.float32, np.float64):
        return y_pred.dtype
    return np.dtype(backend.floatx())


def broadcast_weights(sample_weight: Any, values: np.ndarray, dtype: np.dtype,
                      arg: str = "sample_weight") -> tuple[np.ndarray, np.ndarray, tuple]:
    """Align ``sample_weight`` with ``values`` (Keras' squeeze/expand, then broadcasting).

    Returns ``(values_view, weights, weights_shape_before_broadcast)``. A weight whose shape
    is a prefix of ``values.shape`` (e.g. ``(batch,)`` for ``(batch, time)`` values) is
    aligned on the leading axes; Keras would fail (or, if batch == time, weight time steps).
    """
    sw = np.asarray(sample_weight, dtype=dtype)
    vals, sw = squeeze_or_expand_to_same_rank(values, sw)
    if sw.ndim < vals.ndim and sw.shape == vals.shape[:sw.ndim]:
        sw = sw.reshape(sw.shape + (1,) * (vals.ndim - sw.ndim))
    try:
        ok = np.broadcast_shapes(vals.shape, sw.shape) == vals.shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"Argument `{arg}` must broadcast to the per-sample shape {values.shape} "
                         f"(e.g. (batch,), (batch, 1) or {values.shape}); received shape "
                         f"{np.shape(sample_weight)}")
    return vals, np.broadcast_to(sw, vals.shape), sw.shape


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Elementwise ``1 / (1 + exp(-x))``, any shape, without overflow for large ``|x|``."""
    e = np.exp(-np.abs(x))  # never overflows
    return np.where(x >= 0, 1.0, e) / (1.0 + e)


def log_softmax(x: np.ndarray) -> np.ndarray:
    """``log(softmax(x))`` over the last axis, same shape as ``x``, shifted by the row maximum."""
    z = x - x.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _check_flag(arg: str, value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"Argument `{arg}` must be a bool; received {arg}={value!r}")
    return bool(value)


def _check_unit(arg: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"Argument `{arg}` must be a number in [0, 1]; received {arg}={value!r}")
    return float(value)


# --------------------------------------------------------------------------- base classes
class Loss:
    """Base class.

    Subclasses implement ``_forward(y_true, y_pred, need_grad) -> (values, backward)`` on
    aligned float arrays, where ``values`` has shape ``y_pred.shape[:-1]`` and
    ``backward(dvalues) -> d/d y_pred`` (None when ``need_grad`` is False). ``_align``
    may be overridden to change how ``y_true`` is validated and paired with ``y_pred``.

    Args:
        name: loss name (Keras default names, e.g. ``"binary_crossentropy"``).
        reduction: ``"sum_over_batch_size"`` (= ``"mean"``), ``"sum"``,
            ``"mean_with_sample_weight"`` or ``"none"`` (per-sample array, no gradient).
        dtype: computation dtype; default: ``y_pred``'s float dtype.
    """

    def __init__(self, name: str | None = None, reduction: str | None = "sum_over_batch_size",
                 dtype: Any = None):
        if reduction not in _REDUCTIONS:
            raise ValueError(f"Argument `reduction` must be one of {list(_REDUCTIONS)}; "
                             f"received reduction={reduction!r}")
        self.name = name if name is not None else backend.unique_name(backend.to_snake_case(type(self).__name__))
        self.reduction = reduction
        self.dtype = None if dtype is None else backend.standardize_dtype(dtype).name

    # -- subclass hooks
    def _align(self, y_true: Any, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        yt = np.asarray(y_true, dtype=y_pred.dtype)
        yt2, yp2 = squeeze_or_expand_to_same_rank(yt, y_pred)
        if yt2.shape != yp2.shape or yp2.ndim == 0:
            raise ValueError(f"Arguments `y_true` and `y_pred` of {type(self).__name__} must have the same "
                             "shape (up to a trailing axis of size 1) and rank >= 1; received "
                             f"y_true.shape={yt.shape}, y_pred.shape={y_pred.shape}")
        return yt2, yp2

    def _forward(self, y_true: np.ndarray, y_pred: np.ndarray,
                 need_grad: bool) -> tuple[np.ndarray, Backward | None]:
        if type(self).call is not Loss.call:  # Keras-style subclass: call() written with ops
            from ..ops.layer_autodiff import values_and_vjp
            return values_and_vjp(self.call, y_true, y_pred, need_grad)
        raise NotImplementedError(f"{type(self).__name__} must define call(y_true, y_pred) or _forward")

    # -- public API
    def call(self, y_true: Any, y_pred: Any) -> np.ndarray:
        """Per-sample losses, shape ``y_pred.shape[:-1]`` (after alignment), unweighted."""
        yp = np.asarray(y_pred)
        yp = yp.astype(compute_dtype(yp, self.dtype), copy=False)
        return self._forward(*self._align(y_true, yp), need_grad=False)[0]

    def __call__(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> float | np.ndarray:
        """The reduced loss (a float; a per-sample array when ``reduction="none"``)."""
        return self._run(y_true, y_pred, sample_weight, need_grad=False)[0]

    def gradient(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> np.ndarray:
        """``d loss / d y_pred``: same shape and (float) dtype as ``y_pred``."""
        return self._run(y_true, y_pred, sample_weight, need_grad=True)[1]

    def value_and_gradient(self, y_true: Any, y_pred: Any,
                           sample_weight: Any = None) -> tuple[float, np.ndarray]:
        """``(loss, d loss / d y_pred)`` from one forward pass."""
        return self._run(y_true, y_pred, sample_weight, need_grad=True)

    def _run(self, y_true, y_pred, sample_weight, need_grad):
        yp_in = np.asarray(y_pred)
        dtype = compute_dtype(yp_in, self.dtype)
        yt, yp = self._align(y_true, yp_in.astype(dtype, copy=False))
        values, backward = self._forward(yt, yp, need_grad)
        if self.reduction in (None, "none"):
            if need_grad:
                raise ValueError("gradient needs a scalar loss; this loss has reduction='none'")
            if sample_weight is None:
                return values, None
            return values * broadcast_weights(sample_weight, values, dtype)[1].reshape(values.shape), None
        weights, divisor = None, values.size
        if sample_weight is not None:
            _, w, w_shape = broadcast_weights(sample_weight, values, dtype)
            weights = w.reshape(values.shape)
            if self.reduction == "mean_with_sample_weight":
                divisor = np.asarray(sample_weight, dtype=dtype).sum()
        if self.reduction == "sum":
            divisor = 1
        total = (values * weights).sum() if weights is not None else values.sum()
        # Keras' divide_no_nan: an empty batch (or zero total weight) gives 0, not nan.
        loss = float(total / divisor) if divisor else 0.0
        if not need_grad:
            return loss, None
        if not divisor:
            dvalues = np.zeros(values.shape, dtype=dtype)
        elif weights is not None:
            dvalues = weights / dtype.type(divisor)
        else:
            dvalues = np.full(values.shape, dtype.type(1) / dtype.type(divisor), dtype=dtype)
        grad = backward(dvalues)
        out_dtype = yp_in.dtype if yp_in.dtype.kind == "f" else dtype  # the model's dtype
        return loss, grad.reshape(yp_in.shape).astype(out_dtype, copy=False)

    # -- saving
    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "reduction": self.reduction}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Loss":
        config = dict(config)
        axis = config.pop("axis", -1)
        if axis != -1:
            raise ValueError(f"Argument `axis` must be -1 (the class axis is last); received axis={axis!r}")
        config.pop("fn", None)  # Keras' LossFunctionWrapper configs may carry the function name
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


class LossFunctionWrapper(Loss):
    """Wraps a user callable ``fn(y_true, y_pred) -> per-sample values``, written with
    ``keras.ops`` (its gradient comes from the tape)."""

    def __init__(self, fn: Callable, name: str | None = None, reduction: str = "sum_over_batch_size",
                 **kwargs: Any):
        super().__init__(name=name or getattr(fn, "__name__", "loss"), reduction=reduction)
        self.fn, self._fn_kwargs = fn, kwargs

    def _align(self, y_true, y_pred):
        return squeeze_or_expand_to_same_rank(np.asarray(y_true, dtype=y_pred.dtype), y_pred)

    def _forward(self, y_true, y_pred, need_grad):
        # The gradient comes from the tape: write the function with keras.ops.
        from ..ops.layer_autodiff import values_and_vjp
        return values_and_vjp(lambda t, p: self.fn(t, p, **self._fn_kwargs), y_true, y_pred, need_grad)
