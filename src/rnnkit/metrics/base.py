"""Stateful metrics with Keras 3 semantics.

Every metric accumulates over ``update_state(y_true, y_pred, sample_weight=None)`` calls and
reports ``result()``; ``reset_state()`` clears it. Two families:

* mean metrics (accuracies, MAE/MSE, crossentropies, :class:`Mean`): a per-element value
  array ``values`` is reduced to one value per sample (the mean over the axes beyond the
  weight's rank, then over the remaining non-batch axes), and::

      total += sum(values * w);   count += sum(w)   (or the batch size)
      result = total / count

* confusion metrics (:class:`Precision`, :class:`Recall`, :class:`AUC`): weighted true/false
  positive/negative counts at a set of thresholds (a prediction is positive when
  ``y_pred > threshold``). With >= 3 evenly spaced thresholds Keras switches to a bucketed
  count (``bucket = ceil(y_pred * (T - 1)) - 1``), reproduced here, in float32 like Keras, so
  ties at threshold values resolve identically.
"""
from __future__ import annotations

import math
from typing import Any, Callable

import numpy as np

from rnnkit import backend
from rnnkit import losses as _losses
from rnnkit.losses import EPSILON, squeeze_or_expand_to_same_rank

__all__ = ["Metric", "Mean", "Sum", "MeanMetricWrapper", "Accuracy", "BinaryAccuracy",
           "CategoricalAccuracy", "SparseCategoricalAccuracy", "MeanAbsoluteError",
           "MeanSquaredError", "RootMeanSquaredError", "BinaryCrossentropy",
           "CategoricalCrossentropy", "SparseCategoricalCrossentropy", "Precision", "Recall",
           "AUC", "F1Score", "FBetaScore", "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy",
           "MeanAbsolutePercentageError", "get", "serialize", "deserialize"]

NEG_INF = -1e10  # Keras' stand-in for -inf (top_k filtering, top_k threshold)


class Metric:
    """Base class: ``name`` defaults to the snake-case class name (made unique)."""

    def __init__(self, name: str | None = None, dtype: Any = None):
        self.name = name if name is not None else backend.unique_name(backend.to_snake_case(type(self).__name__))
        self.dtype = backend.standardize_dtype(dtype).name

    def update_state(self, *args: Any, **kwargs: Any) -> None:
        raise NotImplementedError

    def result(self) -> float | np.ndarray:
        raise NotImplementedError

    def reset_state(self) -> None:
        """Zero every variable made by :meth:`add_variable` (Keras 3's default)."""
        if not self.__dict__.get("_variables"):
            raise NotImplementedError(f"{type(self).__name__}.reset_state")
        for v in self._variables:
            v.assign(np.zeros_like(v.value))

    def add_variable(self, shape=(), initializer="zeros", dtype: Any = None, aggregation: str = "sum",
                     name: str | None = None):
        """A state :class:`~rnnkit.ops.Variable` (``assign``, ``assign_add``...) for custom metrics."""
        from ..ops.tape import Variable
        var = Variable(initializer, shape=tuple(shape), dtype=dtype or self.dtype, trainable=False,
                       name=name)
        self.__dict__.setdefault("_variables", []).append(var)
        return var

    def add_weight(self, name: str | None = None, shape=(), initializer="zeros", dtype: Any = None, **kwargs):
        return self.add_variable(shape=shape, initializer=initializer, dtype=dtype, name=name)

    @property
    def variables(self) -> list:
        return list(self.__dict__.get("_variables", []))

    def __call__(self, *args: Any, **kwargs: Any) -> float | np.ndarray:
        """``update_state`` then ``result``."""
        self.update_state(*args, **kwargs)
        return self.result()

    def get_config(self) -> dict[str, Any]:
        return {"name": self.name, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Metric":
        return cls(**config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r}>"


# --------------------------------------------------------------------------- mean family
def _samplewise(values: np.ndarray, sample_weight: Any) -> tuple[np.ndarray, np.ndarray | None]:
    """Keras' ``reduce_to_samplewise_values`` with ``mean``: one value (and weight) per sample."""
    values = np.asarray(values, dtype=np.float64)
    sw = None
    if sample_weight is not None:
        sw = np.asarray(sample_weight, dtype=np.float64)
        values, sw = squeeze_or_expand_to_same_rank(values, sw)
        w_nd, v_nd = sw.ndim, values.ndim
        if v_nd > w_nd:
            values = values.mean(axis=tuple(range(w_nd, v_nd)))
        try:
            sw = np.broadcast_to(sw, values.shape)
        except ValueError:
            raise ValueError(f"Argument `sample_weight` of shape {np.shape(sample_weight)} must match the "
                             f"leading axes of the values, shape {values.shape}") from None
        values = values * sw
        if w_nd > 1:
            sw = sw.mean(axis=tuple(range(1, w_nd)))
    if values.ndim > 1:
        values = values.mean(axis=tuple(range(1, values.ndim)))
    return values, sw


class Mean(Metric):
    """Weighted mean of the values seen (also the loss tracker: ``update_state(loss, batch_size)``)."""

    def __init__(self, name: str = "mean", dtype: Any = None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        values, sw = _samplewise(values, sample_weight)
        self.total += float(values.sum())
        if sw is not None:
            self.count += float(np.sum(sw))
        else:
            self.count += values.shape[0] if values.ndim >= 1 else 1

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0

    def reset_state(self) -> None:
        self.total, self.count = 0.0, 0.0


class Sum(Metric):
    """Weighted sum of the values seen."""

    def __init__(self, name: str = "sum", dtype: Any = None):
        super().__init__(name=name, dtype=dtype)
        self.reset_state()

    def update_state(self, values: Any, sample_weight: Any = None) -> None:
        values = np.asarray(values, dtype=np.float64)
        if sample_weight is not None:  # Keras reduces with sum (not mean) here
            values, sw = squeeze_or_expand_to_same_rank(values, np.asarray(sample_weight, np.float64))
            if values.ndim > sw.ndim:
                values = values.sum(axis=tuple(range(sw.ndim, values.ndim)))
            values = values * np.broadcast_to(sw, values.shape)
        self.total += float(values.sum())

    def result(self) -> float:
        return self.total

    def reset_state(self) -> None:
        self.total = 0.0


class MeanMetricWrapper(Mean):
    """Mean of ``fn(y_true, y_pred, **kwargs)`` (per-sample or per-element values)."""

    def __init__(self, fn: Callable, name: str | None = None, dtype: Any = None, **kwargs: Any):
        super().__init__(name=name or backend.to_snake_case(getattr(fn, "__name__", "metric")), dtype=dtype)
        self._fn, self._fn_kwargs = fn, kwargs

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        super().update_state(self._fn(y_true, y_pred, **self._fn_kwargs), sample_weight)

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), **self._fn_kwargs}


def _same_shape(fn: str, y_true: np.ndarray, y_pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    yt, yp = squeeze_or_expand_to_same_rank(y_true, y_pred)
    if yt.shape != yp.shape:
        raise ValueError(f"Arguments `y_true` and `y_pred` of {fn} must have the same shape (up to a "
                         f"trailing axis of size 1); received y_true.shape={y_true.shape}, "
                         f"y_pred.shape={y_pred.shape}")
    return yt, yp


def accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """``1.0`` where ``y_true == y_pred`` elementwise."""
    yt, yp = _same_shape("accuracy", np.asarray(y_true), np.asarray(y_pred))
    return (yt == yp).astype(np.float64)


def binary_accuracy(y_true: Any, y_pred: Any, threshold: float = 0.5) -> np.ndarray:
    """``1.0`` where ``(y_pred > threshold) == y_true`` elementwise."""
    yt, yp = _same_shape("binary_accuracy", np.asarray(y_true), np.asarray(y_pred))
    return ((yp > threshold).astype(yt.dtype) == yt).astype(np.float64)


def categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """``1.0`` where ``argmax(y_true) == argmax(y_pred)`` over the last axis (first index on ties)."""
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    if yt.shape != yp.shape or yp.ndim == 0:
        raise ValueError("Arguments `y_true` (one-hot) and `y_pred` of categorical_accuracy must have the "
                         f"same shape; received y_true.shape={yt.shape}, y_pred.shape={yp.shape}")
    return (yt.argmax(-1) == yp.argmax(-1)).astype(np.float64)


def sparse_categorical_accuracy(y_true: Any, y_pred: Any) -> np.ndarray:
    """``1.0`` where the integer label equals ``argmax(y_pred)``."""
    yt, yp = np.asarray(y_true), np.asarray(y_pred)
    if yp.ndim == yt.ndim and yt.shape[-1:] == (1,):
        yt = yt[..., 0]
    if yt.shape != yp.shape[:-1]:
        raise ValueError("Argument `y_true` of sparse_categorical_accuracy must have shape "
                         f"{yp.shape[:-1]} (or with a trailing 1); received y_true.shape={np.shape(y_true)} "
                         f"for y_pred.shape={yp.shape}")
    return (yp.argmax(-1) == yt).astype(np.float64)


def _wrapper(class_name: str, fn: Callable, default_name: str, doc: str, params: tuple = ()) -> type:
    """A MeanMetricWrapper subclass with Keras' constructor signature ``(name, dtype, *params)``."""

    def __init__(self, name: str = default_name, dtype: Any = None, **kwargs: Any):
        unknown = set(kwargs) - {p for p, _ in params}
        if unknown:
            raise ValueError(f"Argument(s) not recognized by {class_name}: {sorted(unknown)}")
        MeanMetricWrapper.__init__(self, fn, name=name, dtype=dtype, **{p: kwargs.get(p, d) for p, d in params})

    return type(class_name, (MeanMetricWrapper,), {"__init__": __init__, "__doc__": doc})


def _loss_fn(loss_cls: type) -> Callable:
    return lambda y_true, y_pred, **kw: loss_cls(**kw).call(y_true, y_pred)


Accuracy = _wrapper("Accuracy", accuracy, "accuracy", "Fraction of exact matches ``y_true == y_pred``.")
BinaryAccuracy = _wrapper("BinaryAccuracy", binary_accuracy, "binary_accuracy",
                          "Fraction with ``(y_pred > threshold) == y_true``.", (("threshold", 0.5),))
CategoricalAccuracy = _wrapper("CategoricalAccuracy", categorical_accuracy, "categorical_accuracy",
                               "Fraction with ``argmax(y_true) == argmax(y_pred)``.")
SparseCategoricalAccuracy = _wrapper("SparseCategoricalAccuracy", sparse_categorical_accuracy,
                                     "sparse_categorical_accuracy", "Fraction with ``y_true == argmax(y_pred)``.")
MeanAbsoluteError = _wrapper("MeanAbsoluteError", _losses.mean_absolute_error, "mean_absolute_error",
                             "Mean of ``|y_true - y_pred|``.")
MeanSquaredError = _wrapper("MeanSquaredError", _losses.mean_squared_error, "mean_squared_error",
                            "Mean of ``(y_true - y_pred)**2``.")
BinaryCrossentropy = _wrapper("BinaryCrossentropy", _loss_fn(_losses.BinaryCrossentropy), "binary_crossentropy",
                              "Mean binary crossentropy (see rnnkit.losses).",
                              (("from_logits", False), ("label_smoothing", 0.0)))
CategoricalCrossentropy = _wrapper("CategoricalCrossentropy", _loss_fn(_losses.CategoricalCrossentropy),
                                   "categorical_crossentropy", "Mean categorical crossentropy (see rnnkit.losses).",
                                   (("from_logits", False), ("label_smoothing", 0.0)))
SparseCategoricalCrossentropy = _wrapper("SparseCategoricalCrossentropy",
                                         _loss_fn(_losses.SparseCategoricalCrossentropy),
                                         "sparse_categorical_crossentropy",
                                         "Mean sparse categorical crossentropy (see rnnkit.losses).",
                                         (("from_logits", False),))


class RootMeanSquaredError(Mean):
    """``sqrt`` of the weighted mean of ``(y_pred - y_true)**2`` over all elements."""

    def __init__(self, name: str = "root_mean_squared_error", dtype: Any = None):
        super().__init__(name=name, dtype=dtype)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        yt, yp = _same_shape("root_mean_squared_error", np.asarray(y_true), np.asarray(y_pred))
        super().update_state(np.square(yp.astype(np.float64) - yt), sample_weight)

    def result(self) -> float:
        return math.sqrt(super().result())


# --------------------------------------------------------------------------- confusion family
def _check_thresholds(thresholds: Any) -> list[float]:
    values = list(np.ravel(thresholds).tolist()) if not isinstance(thresholds, (int, float)) else [thresholds]
    bad = [t for t in values if t is None or not 0 <= t <= 1]
    if bad or not values:
        raise ValueError(f"Argument `thresholds` must be numbers in [0, 1]; received thresholds={thresholds!r}")
    return [float(t) for t in values]


def _evenly_spaced(thresholds: list[float]) -> bool:
    n = len(thresholds)
    return n >= 3 and np.allclose(thresholds, np.arange(n, dtype=np.float32) / (n - 1), atol=EPSILON)


def _confusion(y_true, y_pred, thresholds, evenly, sample_weight=None, top_k=None, class_id=None,
               multi_label=False, label_weights=None, dtype="float32") -> dict[str, np.ndarray]:
    """Weighted ``tp``, ``fp``, ``tn``, ``fn`` per threshold, shape (T,) or (T, labels)."""
    yt = np.asarray(y_true).astype(dtype)
    yp = np.asarray(y_pred).astype(dtype)
    yp, yt = squeeze_or_expand_to_same_rank(yp, yt)
    if yt.shape != yp.shape:
        raise ValueError(f"Arguments `y_true` and `y_pred` must have the same shape; received "
                         f"y_true.shape={np.shape(y_true)}, y_pred.shape={np.shape(y_pred)}")
    sw = None
    if sample_weight is not None:
        sw = np.asarray(sample_weight, dtype=dtype)[..., None]
        _, sw = squeeze_or_expand_to_same_rank(yt, sw, expand_rank_1=False)
    if top_k is not None:  # keep each row's k largest predictions, push the rest to NEG_INF
        keep = np.zeros(yp.shape, dtype=bool)
        np.put_along_axis(keep, np.argsort(-yp, axis=-1, kind="stable")[..., :top_k], True, axis=-1)
        yp = np.where(keep, yp, np.asarray(NEG_INF, dtype))
    if class_id is not None:
        yt, yp = yt[..., class_id, None], yp[..., class_id, None]
    weights = np.ones(yp.shape, dtype) if sw is None else np.broadcast_to(sw, yp.shape).astype(dtype)
    if label_weights is not None:
        weights = weights * np.broadcast_to(np.asarray(label_weights, dtype), yp.shape)
    positive = yt != 0
    if not multi_label:
        yp, positive, weights = yp.reshape(-1, 1), positive.reshape(-1, 1), weights.reshape(-1, 1)
    thr = np.asarray(thresholds, dtype=dtype)
    n_thr, n_lab = len(thr), yp.shape[-1]
    true_w, false_w = np.where(positive, weights, 0), np.where(positive, 0, weights)
    if evenly:
        yp = np.clip(yp, 0, 1)
        bucket = (np.ceil(yp * np.dtype(dtype).type(n_thr - 1)) - 1).astype(np.int64)
        if thr[0] < 0 or thr[-1] > 1:  # Keras' relu on the bucket index
            bucket = np.maximum(bucket, 0)
        index = np.where(bucket >= 0, bucket * n_lab + np.arange(n_lab), -1)  # negatives are dropped
        valid = index >= 0

        def counts(w):
            per_bucket = np.bincount(index[valid], weights=w[valid], minlength=n_thr * n_lab)
            return np.cumsum(per_bucket.reshape(n_thr, n_lab)[::-1], axis=0)[::-1]
        tp, fp = counts(true_w), counts(false_w)
    else:
        pred_pos = yp[None] > thr.reshape(-1, 1, 1)                        # (T, N, labels)
        tp = np.where(pred_pos, true_w[None], 0).sum(axis=1, dtype=np.float64)
        fp = np.where(pred_pos, false_w[None], 0).sum(axis=1, dtype=np.float64)
    fn = true_w.sum(axis=0, dtype=np.float64) - tp
    tn = false_w.sum(axis=0, dtype=np.float64) - fp
    out = {"tp": tp, "fp": fp, "tn": tn, "fn": fn}
    return out if multi_label else {k: v[:, 0] for k, v in out.items()}


def _div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Keras' divide_no_nan: 0 where the denominator is 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(b == 0, 0.0, a / np.where(b == 0, 1.0, b))


class _PrecisionRecall(Metric):
    _second = ""  # "fp" for precision, "fn" for recall

    def __init__(self, thresholds: float | list[float] | None = None, top_k: int | None = None,
                 class_id: int | None = None, name: str | None = None, dtype: Any = None):
        super().__init__(name=name, dtype=dtype)
        self.init_thresholds = thresholds
        self.top_k, self.class_id = top_k, class_id
        default = 0.5 if top_k is None else NEG_INF
        self.thresholds = [default] if thresholds is None else _check_thresholds(thresholds)
        self._evenly = _evenly_spaced(self.thresholds)
        self.reset_state()

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        c = _confusion(y_true, y_pred, self.thresholds, self._evenly, sample_weight,
                       top_k=self.top_k, class_id=self.class_id, dtype=self.dtype)
        self.true_positives += c["tp"]
        self.other += c[self._second]

    def result(self) -> float | np.ndarray:
        r = _div(self.true_positives, self.true_positives + self.other)
        return float(r[0]) if len(self.thresholds) == 1 else r

    def reset_state(self) -> None:
        self.true_positives = np.zeros(len(self.thresholds))
        self.other = np.zeros(len(self.thresholds))

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "thresholds": self.init_thresholds, "top_k": self.top_k,
                "class_id": self.class_id}


class Precision(_PrecisionRecall):
    """``tp / (tp + fp)`` at each threshold (default 0.5); a float for a single threshold."""
    _second = "fp"


class Recall(_PrecisionRecall):
    """``tp / (tp + fn)`` at each threshold (default 0.5); a float for a single threshold."""
    _second = "fn"


class AUC(Metric):
    """Area under the ROC or PR curve from counts at ``num_thresholds`` thresholds.

    Thresholds are ``[-EPSILON, 1/(T-1), ..., (T-2)/(T-1), 1 + EPSILON]`` (or ``[-EPSILON] +
    sorted(thresholds) + [1 + EPSILON]``). With ``x``/``y`` = (false-positive rate, recall) for
    ROC or (recall, precision) for PR, ``auc = sum((x[i] - x[i+1]) * h[i])``, ``h`` being the
    mean (``"interpolation"``), min (``"minoring"``) or max (``"majoring"``) of ``y[i], y[i+1]``.
    PR with interpolation uses Davis & Goadrich's integral, as Keras does. ``multi_label=True``
    keeps per-label counts (``y_pred`` of shape (batch, labels)) and averages the label AUCs
    (weighted by ``label_weights`` if given).
    """

    def __init__(self, num_thresholds: int = 200, curve: str = "ROC", summation_method: str = "interpolation",
                 name: str | None = None, dtype: Any = None, thresholds: list[float] | None = None,
                 multi_label: bool = False, num_labels: int | None = None,
                 label_weights: list[float] | None = None, from_logits: bool = False):
        super().__init__(name=name, dtype=dtype)
        if str(curve).upper() not in ("ROC", "PR"):
            raise ValueError(f"Argument `curve` must be 'ROC' or 'PR'; received curve={curve!r}")
        if summation_method not in ("interpolation", "minoring", "majoring"):
            raise ValueError("Argument `summation_method` must be 'interpolation', 'minoring' or "
                             f"'majoring'; received summation_method={summation_method!r}")
        self._init_from_thresholds = thresholds is not None
        if thresholds is not None:
            inner = sorted(_check_thresholds(thresholds))
            self.num_thresholds = len(inner) + 2
            self._evenly = _evenly_spaced([0.0] + inner + [1.0])
        else:
            if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, int) or num_thresholds <= 1:
                raise ValueError(f"Argument `num_thresholds` must be an integer > 1; received "
                                 f"num_thresholds={num_thresholds!r}")
            self.num_thresholds = num_thresholds
            inner = [(i + 1) * 1.0 / (num_thresholds - 1) for i in range(num_thresholds - 2)]
            self._evenly = True
        self._thresholds = [0.0 - EPSILON] + inner + [1.0 + EPSILON]
        self.curve, self.summation_method = str(curve).upper(), summation_method
        self.multi_label, self.num_labels, self._from_logits = bool(multi_label), num_labels, bool(from_logits)
        if num_labels and not multi_label:
            raise ValueError("Argument `num_labels` is only used with multi_label=True; received "
                             f"num_labels={num_labels!r} with multi_label=False")
        self.label_weights = None if label_weights is None else np.asarray(label_weights, dtype=np.float64)
        self.reset_state()

    @property
    def thresholds(self) -> list[float]:
        return list(self._thresholds)

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        y_pred = np.asarray(y_pred)
        if self.multi_label and y_pred.ndim != 2:
            raise ValueError(f"Argument `y_pred` must have rank 2 when multi_label=True; received shape {y_pred.shape}")
        if self._from_logits:
            y_pred = _losses._sigmoid(y_pred.astype(self.dtype))
        c = _confusion(y_true, y_pred, self._thresholds, self._evenly, sample_weight,
                       multi_label=self.multi_label,
                       label_weights=None if self.multi_label else self.label_weights, dtype=self.dtype)
        if self.tp is None:
            self.tp, self.fp, self.tn, self.fn = (np.zeros_like(c[k]) for k in ("tp", "fp", "tn", "fn"))
        self.tp += c["tp"]
        self.fp += c["fp"]
        self.tn += c["tn"]
        self.fn += c["fn"]

    def _combine(self, per_label: np.ndarray) -> float:
        if not self.multi_label:
            return float(per_label)
        if self.label_weights is None:
            return float(per_label.mean())
        return float(_div(np.sum(per_label * self.label_weights), np.sum(self.label_weights)))

    def result(self) -> float:
        if self.tp is None:
            return 0.0
        tp, fp, tn, fn = self.tp, self.fp, self.tn, self.fn
        if self.curve == "PR" and self.summation_method == "interpolation":
            # Davis & Goadrich: precision interpolated linearly in tp between thresholds.
            dtp = tp[:-1] - tp[1:]
            p = tp + fp
            dp = p[:-1] - p[1:]
            slope = _div(dtp, np.maximum(dp, 0))
            intercept = tp[1:] - slope * p[1:]
            ratio = np.where((p[:-1] > 0) & (p[1:] > 0), _div(p[:-1], np.maximum(p[1:], 0)), 1.0)
            increment = _div(slope * (dtp + intercept * np.log(ratio)), np.maximum(tp[1:] + fn[1:], 0))
            return self._combine(increment.sum(axis=0))
        recall = _div(tp, tp + fn)
        if self.curve == "ROC":
            x, y = _div(fp, fp + tn), recall
        else:
            x, y = recall, _div(tp, tp + fp)
        if self.summation_method == "interpolation":
            heights = (y[:-1] + y[1:]) / 2.0
        elif self.summation_method == "minoring":
            heights = np.minimum(y[:-1], y[1:])
        else:
            heights = np.maximum(y[:-1], y[1:])
        return self._combine(((x[:-1] - x[1:]) * heights).sum(axis=0))

    def reset_state(self) -> None:
        self.tp = self.fp = self.tn = self.fn = None

    def get_config(self) -> dict[str, Any]:
        config = {**super().get_config(), "num_thresholds": self.num_thresholds, "curve": self.curve,
                  "summation_method": self.summation_method, "multi_label": self.multi_label,
                  "num_labels": self.num_labels, "from_logits": self._from_logits,
                  "label_weights": None if self.label_weights is None else self.label_weights.tolist()}
        if self._init_from_thresholds:
            config["thresholds"] = self._thresholds[1:-1]
        return config


# --------------------------------------------------------------------------- resolution
_CLASSES = (Mean, Sum, Accuracy, BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy,
            MeanAbsoluteError, MeanSquaredError, RootMeanSquaredError, BinaryCrossentropy,
            CategoricalCrossentropy, SparseCategoricalCrossentropy, Precision, Recall, AUC)
_NAMES: dict[str, type[Metric]] = {cls.__name__: cls for cls in _CLASSES}
_NAMES.update({backend.to_snake_case(cls.__name__): cls for cls in _CLASSES})
_NAMES.update({"auc": AUC, "mse": MeanSquaredError, "MSE": MeanSquaredError, "mae": MeanAbsoluteError,
               "MAE": MeanAbsoluteError, "bce": BinaryCrossentropy, "BCE": BinaryCrossentropy})


_EXTRA = ("F1Score", "FBetaScore", "TopKCategoricalAccuracy", "SparseTopKCategoricalAccuracy",
          "MeanAbsolutePercentageError", "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy",
          "mean_absolute_percentage_error")


def _register_extra() -> None:
    """Add the metrics of metrics_extra.py to the registries (imported on first need)."""
    global _CLASSES
    if "F1Score" not in _NAMES:
        from . import extra as metrics_extra

        _NAMES.update(metrics_extra.NAMES)
        _CLASSES = _CLASSES + metrics_extra.CLASSES


def __getattr__(name: str):
    if name in _EXTRA:
        from . import extra as metrics_extra

        return getattr(metrics_extra, name)
    raise AttributeError(f"module 'rnnkit.metrics' has no attribute {name!r}")


def _loss_kind(loss: Any) -> type | None:
    """The rnnkit loss class behind ``loss`` (a name, function or instance), if recognizable."""
    if loss is None:
        return None
    if isinstance(loss, _losses.Loss):
        return type(loss)
    try:
        return type(_losses.get(loss))
    except (ValueError, TypeError):
        return None


def _accuracy_class(identifier: str, loss: Any, y_true_shape: Any, y_pred_shape: Any) -> type[Metric]:
    kind = _loss_kind(loss)
    yt = None if y_true_shape is None else tuple(y_true_shape)
    yp = None if y_pred_shape is None else tuple(y_pred_shape)
    if (yp and yp[-1] == 1) or kind is _losses.BinaryCrossentropy:
        return BinaryAccuracy
    if kind is _losses.SparseCategoricalCrossentropy:
        return SparseCategoricalAccuracy
    if yt is not None and yp:
        if len(yt) < len(yp) or (yt[-1:] == (1,) and yp[-1] > 1):
            return SparseCategoricalAccuracy
        return CategoricalAccuracy
    if kind is _losses.CategoricalCrossentropy:
        return CategoricalAccuracy
    raise ValueError(f"Cannot resolve metric {identifier!r}: pass `loss` (a crossentropy) or both "
                     f"`y_true_shape` and `y_pred_shape`; received loss={loss!r}, "
                     f"y_true_shape={y_true_shape!r}, y_pred_shape={y_pred_shape!r}")


def get(identifier: Any, loss: Any = None, y_true_shape: Any = None, y_pred_shape: Any = None) -> Metric | None:
    """Resolve a metric as ``model.compile(metrics=[...])`` does.

    ``"accuracy"``/``"acc"`` (any case) become :class:`BinaryAccuracy` (binary crossentropy loss,
    or ``y_pred`` last dim 1), :class:`SparseCategoricalAccuracy` (sparse crossentropy loss, or
    ``y_true`` with one fewer axis / a last dim of 1 against ``y_pred``'s > 1) or
    :class:`CategoricalAccuracy`. A string keeps the user's spelling as the metric ``name`` (the
    history key: ``"acc"``, ``"mae"``...). Also accepts config dicts, classes, instances and
    callables ``fn(y_true, y_pred) -> values`` (averaged with :class:`MeanMetricWrapper`).
    """
    if identifier is None or isinstance(identifier, Metric):
        return identifier
    _register_extra()
    if isinstance(identifier, str):
        if identifier.lower() in ("accuracy", "acc"):
            return _accuracy_class(identifier, loss, y_true_shape, y_pred_shape)(name=identifier)
        if identifier not in _NAMES:
            from ..saving_registry import get_registered_object
            obj = get_registered_object(identifier)  # a custom metric saved by name
            if isinstance(obj, type) and issubclass(obj, Metric):
                return obj(name=identifier)
            if callable(obj):
                return MeanMetricWrapper(obj, name=identifier)
            raise ValueError(f"Unknown metric {identifier!r}; expected one of "
                             f"{sorted(set(_NAMES) | {'accuracy', 'acc'})}")
        return _NAMES[identifier](name=identifier)
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, type) and issubclass(identifier, Metric):
        return identifier()
    if callable(identifier):
        return MeanMetricWrapper(identifier)
    raise ValueError(f"Could not interpret metric identifier {identifier!r}")


def serialize(metric: Metric) -> dict[str, Any]:
    """``{"class_name": ..., "config": metric.get_config()}``."""
    _register_extra()
    if type(metric) not in _CLASSES:
        raise TypeError(f"serialize expects a built-in rnnkit Metric; received {metric!r}")
    return {"class_name": type(metric).__name__, "config": metric.get_config()}


def deserialize(config: dict[str, Any]) -> Metric:
    """Inverse of :func:`serialize`."""
    _register_extra()
    if not isinstance(config, dict) or config.get("class_name") not in _NAMES:
        raise ValueError(f"Argument `config` must be {{'class_name': one of {sorted(_NAMES)}, 'config': ...}}; "
                         f"received {config!r}")
    return _NAMES[config["class_name"]].from_config(config.get("config") or {})
