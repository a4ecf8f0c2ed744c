"""Losses with Keras 3 semantics, plus their analytic gradients.

A loss object maps ``(y_true, y_pred, sample_weight)`` to a scalar in three stages:

1. alignment: if the ranks differ by one and the longer array ends in an axis of size 1,
   that axis is squeezed (or, for a rank-1 partner, the partner is expanded), so
   ``(n,)`` and ``(n, 1)`` pair up. Other shape mismatches raise ValueError.
2. per-sample values ``values`` of shape ``y_pred.shape[:-1]``: the loss reduces the last
   axis (MSE/MAE/Huber/binary crossentropy take its mean; categorical ones its sum).
3. reduction (``"sum_over_batch_size"`` by default)::

       loss = sum(values * w) / values.size        w = broadcast sample_weight (or 1)

   so a ``(batch, time, classes)`` prediction is averaged over batch *and* time.
   ``sample_weight`` may be ``(batch,)``, ``(batch, 1)``, ``(batch, time)``, ...

``loss.gradient`` returns ``d loss / d y_pred`` (shape and dtype of ``y_pred``);
``loss.value_and_gradient`` computes both in one pass. Probabilities are clipped to
``[EPSILON, 1 - EPSILON]`` exactly as Keras' TensorFlow backend does, and the gradient is the
derivative of that clipped expression (zero where clipping is active). With
``from_logits=True`` the fused, numerically stable forms are used.

Computation runs in ``y_pred``'s float dtype (Keras would cast to ``floatx``), so float64
inputs give float64 losses and gradients.

Custom losses: subclass :class:`Loss` and write ``call(y_true, y_pred)`` with ``keras.ops``
(its gradient comes from the tape, :mod:`rnnkit.ops`), or implement ``_forward`` with an
analytic gradient; a plain callable passed to :func:`get` is wrapped and differentiated on
the tape too.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from rnnkit import backend

EPSILON = 1e-7  # keras.backend.epsilon()
_REDUCTIONS = ("sum_over_batch_size", "mean", "sum", "mean_with_sample_weight", "none", None)

__all__ = ["Loss", "LossFunctionWrapper", "BinaryCrossentropy", "CategoricalCrossentropy",
           "SparseCategoricalCrossentropy", "MeanSquaredError", "MeanAbsoluteError", "Huber",
           "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
           "mean_squared_error", "mse", "mean_absolute_error", "mae", "huber",
           "KLDivergence", "CosineSimilarity", "Poisson", "LogCosh", "CategoricalHinge", "kl_divergence",
           "kld", "KLD", "cosine_similarity", "poisson", "log_cosh", "logcosh", "categorical_hinge",
           "get", "serialize", "deserialize", "squeeze_or_expand_to_same_rank"]

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


def _sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))  # never overflows
    return np.where(x >= 0, 1.0, e) / (1.0 + e)


def _log_softmax(x: np.ndarray) -> np.ndarray:
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


# --------------------------------------------------------------------------- concrete losses
class BinaryCrossentropy(Loss):
    """Mean over the last axis of the elementwise binary crossentropy.

    ``y_true <- y_true * (1 - label_smoothing) + 0.5 * label_smoothing``, then with
    ``c = clip(y_pred, EPSILON, 1 - EPSILON)``::

        elem = -(y_true * log(c) + (1 - y_true) * log(1 - c))           (probabilities)
        elem = max(x, 0) - x * y_true + log(1 + exp(-|x|)),  x = y_pred  (from_logits)
        d elem/d y_pred = -y_true / c + (1 - y_true) / (1 - c)  (0 where clipped)
        d elem/d x = sigmoid(x) - y_true                                  (from_logits)
    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0,
                 reduction: str = "sum_over_batch_size", name: str = "binary_crossentropy", dtype: Any = None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = _check_flag("from_logits", from_logits)
        self.label_smoothing = _check_unit("label_smoothing", label_smoothing)

    def _forward(self, y_true, y_pred, need_grad):
        dt = y_pred.dtype.type
        if self.label_smoothing:
            y_true = y_true * dt(1.0 - self.label_smoothing) + dt(0.5 * self.label_smoothing)
        n = dt(y_pred.shape[-1])
        if self.from_logits:
            x = y_pred
            elem = np.maximum(x, 0) - x * y_true + np.log1p(np.exp(-np.abs(x)))
            backward = (lambda dv: dv[..., None] / n * (_sigmoid(x) - y_true)) if need_grad else None
        else:
            lo, hi = dt(EPSILON), dt(1.0 - EPSILON)
            c = np.clip(y_pred, lo, hi)
            elem = -(y_true * np.log(c) + (1 - y_true) * np.log(1 - c))

            def backward(dv):
                # Like tf.clip_by_value, the gradient passes where lo <= y_pred <= hi.
                inside = (y_pred >= lo) & (y_pred <= hi)
                return dv[..., None] / n * np.where(inside, -y_true / c + (1 - y_true) / (1 - c), 0)
        return elem.mean(axis=-1), backward if need_grad else None

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": -1}


class CategoricalCrossentropy(Loss):
    """Crossentropy between one-hot (or soft) targets and class probabilities / logits.

    ``y_true <- y_true * (1 - label_smoothing) + label_smoothing / num_classes``. For
    probabilities, Keras first renormalizes: ``q = y_pred / sum(y_pred)``, ``c = clip(q)``::

        values = -sum(y_true * log(c))                      (probabilities)
        values = -sum(y_true * log_softmax(y_pred))         (from_logits)
        d/dy_pred = (a - sum(a * q)) / sum(y_pred),  a = -y_true / c (0 where clipped)
        d/dy_pred = softmax(y_pred) * sum(y_true) - y_true  (from_logits)
    """

    def __init__(self, from_logits: bool = False, label_smoothing: float = 0.0,
                 reduction: str = "sum_over_batch_size", name: str = "categorical_crossentropy",
                 dtype: Any = None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = _check_flag("from_logits", from_logits)
        self.label_smoothing = _check_unit("label_smoothing", label_smoothing)

    def _forward(self, y_true, y_pred, need_grad):
        dt = y_pred.dtype.type
        if self.label_smoothing:
            ls = self.label_smoothing
            y_true = y_true * dt(1.0 - ls) + dt(ls) / dt(y_true.shape[-1])
        if self.from_logits:
            logp = _log_softmax(y_pred)
            values = -(y_true * logp).sum(axis=-1)
            if not need_grad:
                return values, None
            return values, lambda dv: dv[..., None] * (np.exp(logp) * y_true.sum(-1, keepdims=True) - y_true)
        s = y_pred.sum(axis=-1, keepdims=True)
        q = y_pred / s
        lo, hi = dt(EPSILON), dt(1.0 - EPSILON)
        c = np.clip(q, lo, hi)
        values = -(y_true * np.log(c)).sum(axis=-1)

        def backward(dv):
            a = np.where((q >= lo) & (q <= hi), -y_true / c, 0)
            return dv[..., None] * (a - (a * q).sum(-1, keepdims=True)) / s
        return values, backward if need_grad else None

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits,
                "label_smoothing": self.label_smoothing, "axis": -1}


class SparseCategoricalCrossentropy(Loss):
    """Crossentropy with integer labels ``k`` (shape ``y_pred.shape[:-1]``, or with a trailing 1).

    For probabilities Keras' TensorFlow backend clips and treats the logs as logits, so the
    probabilities are implicitly renormalized (``c = clip(y_pred)``)::

        values = log(sum(c)) - log(c[k])          d/dy_pred = (1/sum(c) - onehot(k)/c[k]) (0 where clipped)
        values = logsumexp(x) - x[k]              d/dx = softmax(x) - onehot(k)     (from_logits)
    """

    def __init__(self, from_logits: bool = False, reduction: str = "sum_over_batch_size",
                 name: str = "sparse_categorical_crossentropy", dtype: Any = None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.from_logits = _check_flag("from_logits", from_logits)

    def _align(self, y_true, y_pred):
        labels = np.asarray(y_true)
        if y_pred.ndim == 0:
            raise ValueError("Argument `y_pred` must have a class axis; received a scalar")
        lab = labels[..., 0] if labels.ndim == y_pred.ndim and labels.shape[-1:] == (1,) else labels
        if lab.shape != y_pred.shape[:-1]:
            raise ValueError("Argument `y_true` must hold one class index per prediction, shape "
                             f"{y_pred.shape[:-1]} (or with a trailing 1); received "
                             f"y_true.shape={labels.shape} for y_pred.shape={y_pred.shape}")
        num_classes = y_pred.shape[-1]
        if lab.dtype.kind not in "iub":
            if lab.dtype.kind != "f" or not np.all(np.isfinite(lab)) or np.any(lab != np.round(lab)):
                bad = lab[~np.isfinite(lab) | (lab != np.round(lab))][:5] if lab.dtype.kind == "f" else lab.dtype
                raise ValueError(f"Argument `y_true` must contain integer class indices; received {bad}")
        bad = lab[(lab < 0) | (lab >= num_classes)]
        if bad.size:
            raise ValueError(f"Argument `y_true` must contain class indices in [0, {num_classes}); "
                             f"received out-of-range values {np.unique(bad)[:5].tolist()}")
        return lab.astype(np.intp), y_pred

    def _forward(self, y_true, y_pred, need_grad):
        dt = y_pred.dtype.type
        onehot = np.arange(y_pred.shape[-1]) == y_true[..., None]
        if self.from_logits:
            logp = _log_softmax(y_pred)
            values = -np.take_along_axis(logp, y_true[..., None], axis=-1)[..., 0]
            backward = lambda dv: dv[..., None] * (np.exp(logp) - onehot)  # noqa: E731
            return values, backward if need_grad else None
        lo, hi = dt(EPSILON), dt(1.0 - EPSILON)
        c = np.clip(y_pred, lo, hi)
        s = c.sum(axis=-1)
        ck = np.take_along_axis(c, y_true[..., None], axis=-1)[..., 0]
        values = np.log(s) - np.log(ck)

        def backward(dv):
            inside = (y_pred >= lo) & (y_pred <= hi)
            d = 1 / s[..., None] - np.where(onehot, 1 / ck[..., None], 0)
            return dv[..., None] * np.where(inside, d, 0)
        return values, backward if need_grad else None

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "ignore_class": None}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if config.pop("ignore_class", None) is not None:
            raise ValueError("Argument `ignore_class` is not supported by rnnkit; expected None")
        return super().from_config(config)


class MeanSquaredError(Loss):
    """``values = mean((y_true - y_pred)**2)`` over the last axis; ``d/dy_pred = 2 (y_pred - y_true) / n``."""

    def __init__(self, reduction: str = "sum_over_batch_size", name: str = "mean_squared_error", dtype: Any = None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def _forward(self, y_true, y_pred, need_grad):
        diff = y_true - y_pred
        n = y_pred.dtype.type(y_pred.shape[-1])
        return np.square(diff).mean(axis=-1), (lambda dv: dv[..., None] * (-2 / n) * diff) if need_grad else None


class MeanAbsoluteError(Loss):
    """``values = mean(|y_true - y_pred|)`` over the last axis; ``d/dy_pred = sign(y_pred - y_true) / n``."""

    def __init__(self, reduction: str = "sum_over_batch_size", name: str = "mean_absolute_error", dtype: Any = None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)

    def _forward(self, y_true, y_pred, need_grad):
        diff = y_pred - y_true
        n = y_pred.dtype.type(y_pred.shape[-1])
        return np.abs(diff).mean(axis=-1), (lambda dv: dv[..., None] / n * np.sign(diff)) if need_grad else None


class Huber(Loss):
    """Mean over the last axis of ``elem``, with ``err = y_pred - y_true``::

        elem = 0.5 * err**2                      if |err| <= delta    (d/d err = err)
        elem = delta * |err| - 0.5 * delta**2    otherwise            (d/d err = delta * sign(err))
    """

    def __init__(self, delta: float = 1.0, reduction: str = "sum_over_batch_size", name: str = "huber_loss",
                 dtype: Any = None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        if isinstance(delta, bool) or not isinstance(delta, (int, float)) or not delta >= 0:
            raise ValueError(f"Argument `delta` must be a number >= 0; received delta={delta!r}")
        self.delta = float(delta)

    def _forward(self, y_true, y_pred, need_grad):
        dt = y_pred.dtype.type
        delta, half = dt(self.delta), dt(0.5)
        err = y_pred - y_true
        abs_err = np.abs(err)
        quad = abs_err <= delta
        elem = np.where(quad, half * np.square(err), delta * abs_err - half * np.square(delta))
        n = dt(y_pred.shape[-1])
        backward = lambda dv: dv[..., None] / n * np.where(quad, err, delta * np.sign(err))  # noqa: E731
        return elem.mean(axis=-1), backward if need_grad else None

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}


# --------------------------------------------------------------------------- function forms
def binary_crossentropy(y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0) -> np.ndarray:
    """Per-sample binary crossentropy, shape ``y_pred.shape[:-1]``."""
    return BinaryCrossentropy(from_logits=from_logits, label_smoothing=label_smoothing).call(y_true, y_pred)


def categorical_crossentropy(y_true, y_pred, from_logits: bool = False, label_smoothing: float = 0.0) -> np.ndarray:
    """Per-sample categorical crossentropy, shape ``y_pred.shape[:-1]``."""
    return CategoricalCrossentropy(from_logits=from_logits, label_smoothing=label_smoothing).call(y_true, y_pred)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits: bool = False) -> np.ndarray:
    """Per-sample sparse categorical crossentropy, shape ``y_pred.shape[:-1]``."""
    return SparseCategoricalCrossentropy(from_logits=from_logits).call(y_true, y_pred)


def mean_squared_error(y_true, y_pred) -> np.ndarray:
    """Per-sample mean squared error, shape ``y_pred.shape[:-1]``."""
    return MeanSquaredError().call(y_true, y_pred)


def mean_absolute_error(y_true, y_pred) -> np.ndarray:
    """Per-sample mean absolute error, shape ``y_pred.shape[:-1]``."""
    return MeanAbsoluteError().call(y_true, y_pred)


def huber(y_true, y_pred, delta: float = 1.0) -> np.ndarray:
    """Per-sample Huber loss, shape ``y_pred.shape[:-1]``."""
    return Huber(delta=delta).call(y_true, y_pred)


mse = mean_squared_error
mae = mean_absolute_error

# --------------------------------------------------------------------------- resolution
_CLASSES = (BinaryCrossentropy, CategoricalCrossentropy, SparseCategoricalCrossentropy,
            MeanSquaredError, MeanAbsoluteError, Huber)
_FUNCTIONS = {binary_crossentropy: BinaryCrossentropy, categorical_crossentropy: CategoricalCrossentropy,
              sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
              mean_squared_error: MeanSquaredError, mean_absolute_error: MeanAbsoluteError, huber: Huber}
_NAMES: dict[str, type[Loss]] = {cls.__name__: cls for cls in _CLASSES}
_NAMES.update({fn.__name__: cls for fn, cls in _FUNCTIONS.items()})
_NAMES.update({"bce": BinaryCrossentropy, "mse": MeanSquaredError, "mae": MeanAbsoluteError,
               "huber_loss": Huber})


def serialize(loss: Loss) -> dict[str, Any]:
    """``{"class_name": ..., "config": loss.get_config()}`` (a wrapped callable is recorded by
    its function name only, so it can be described but not rebuilt)."""
    if not isinstance(loss, Loss):
        raise TypeError(f"serialize expects an rnnkit Loss; received {loss!r}")
    if isinstance(loss, LossFunctionWrapper):
        return {"class_name": "LossFunctionWrapper", "config": {
            **Loss.get_config(loss), "fn": getattr(loss.fn, "__name__", repr(loss.fn))}}
    return {"class_name": type(loss).__name__, "config": loss.get_config()}


def deserialize(config: dict[str, Any]) -> Loss:
    """Inverse of :func:`serialize` (not possible for wrapped custom callables)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Argument `config` must be a dict with a 'class_name' key; received {config!r}")
    if config["class_name"] == "LossFunctionWrapper":
        fn = (config.get("config") or {}).get("fn")
        from ..saving_registry import get_registered_object
        obj = get_registered_object(fn) if isinstance(fn, str) else None
        if callable(obj):
            return LossFunctionWrapper(obj, name=(config.get("config") or {}).get("name"))
        raise ValueError(f"Loss config wraps the custom function {fn!r}, which cannot be rebuilt "
                         "from a config; pass the function (or a Loss subclass) itself instead")
    return _lookup(config["class_name"]).from_config(config.get("config") or {})


_EXTRA = ("KLDivergence", "CosineSimilarity", "Poisson", "LogCosh", "CategoricalHinge", "kl_divergence",
          "kld", "KLD", "cosine_similarity", "poisson", "log_cosh", "logcosh", "categorical_hinge")


def _register_extra() -> None:
    """Add the losses of losses_extra.py to the registries (imported on first need)."""
    if "KLDivergence" not in _NAMES:
        from . import extra as losses_extra

        _NAMES.update(losses_extra.NAMES)
        _FUNCTIONS.update(losses_extra.FUNCTIONS)


def __getattr__(name: str):
    if name in _EXTRA:
        from . import extra as losses_extra

        return getattr(losses_extra, name)
    raise AttributeError(f"module 'rnnkit.losses' has no attribute {name!r}")


def _lookup(name: str) -> type[Loss]:
    _register_extra()
    cls = _NAMES.get(name) or {k.lower(): v for k, v in _NAMES.items()}.get(name.lower())
    if cls is None:  # a registered custom Loss subclass (or one in custom_objects)
        from ..saving_registry import get_registered_object
        obj = get_registered_object(name)
        cls = obj if isinstance(obj, type) and issubclass(obj, Loss) else None
    if cls is None:
        raise ValueError(f"Unknown loss {name!r}; expected one of {sorted(_NAMES)}")
    return cls


def get(identifier: Any) -> Loss | None:
    """Resolve a name (``"mse"``, ``"binary_crossentropy"``, ``"Huber"``...), a config dict,
    a loss class or instance, one of this module's functions, or another callable (wrapped,
    value only)."""
    if identifier is None or isinstance(identifier, Loss):
        return identifier
    _register_extra()
    if isinstance(identifier, str):
        return _lookup(identifier)()
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if identifier in _FUNCTIONS:
        return _FUNCTIONS[identifier]()
    if callable(identifier):
        return LossFunctionWrapper(identifier)
    raise ValueError(f"Could not interpret loss identifier {identifier!r}; expected a name "
                     f"(one of {sorted(_NAMES)}), a config dict, a Loss or a callable")
