"""Confusion-matrix metrics: Precision, Recall, AUC (counts at thresholds) and the F-scores
FBetaScore and F1Score (counts per class)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..losses.base import EPSILON, sigmoid, squeeze_or_expand_to_same_rank
from .base import Metric

__all__ = ["Precision", "Recall", "AUC", "FBetaScore", "F1Score"]

NEG_INF = -1e10  # Keras' stand-in for -inf (top_k filtering, top_k threshold)


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
            y_pred = sigmoid(y_pred.astype(self.dtype))
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


class FBetaScore(Metric):
    """F-beta score per class from thresholded predictions, accumulated over batches.

    ``y_true`` and ``y_pred``: ``(batch, num_classes)``. A prediction counts as positive when
    ``y_pred > threshold``, or, with ``threshold=None``, where it is the row's maximum (and not
    0). Weighted true/false positives and false negatives give per-class precision ``P`` and
    recall ``R`` (each ``tp / (tp + f + 1e-7)``), and::

        F = (1 + beta**2) * P * R / (beta**2 * P + R + 1e-7)

    ``average``: None (one value per class), ``"micro"`` (counts pooled over classes first),
    ``"macro"`` (mean over classes) or ``"weighted"`` (mean weighted by each class's support).
    """

    def __init__(self, average: str | None = None, beta: float = 1.0, threshold: float | None = None,
                 name: str = "fbeta_score", dtype: Any = None):
        super().__init__(name=name, dtype=dtype)
        if average not in (None, "micro", "macro", "weighted"):
            raise ValueError("FBetaScore: average must be None, 'micro', 'macro' or 'weighted'; received "
                             f"average={average!r}")
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or beta <= 0:
            raise ValueError(f"FBetaScore: beta must be a number > 0; received beta={beta!r}")
        if threshold is not None and (isinstance(threshold, bool) or not isinstance(threshold, (int, float))
                                      or not 0 < threshold <= 1):
            raise ValueError(f"FBetaScore: threshold must be None or a number in (0, 1]; received {threshold!r}")
        self.average, self.beta, self.threshold = average, float(beta), threshold
        self.reset_state()

    def reset_state(self) -> None:
        self._tp = self._fp = self._fn = self._support = None

    def update_state(self, y_true: Any, y_pred: Any, sample_weight: Any = None) -> None:
        yt = np.asarray(y_true, dtype=np.float64)
        yp = np.asarray(y_pred, dtype=np.float64)
        if yt.ndim != 2 or yt.shape != yp.shape:
            raise ValueError(f"{type(self).__name__}: y_true and y_pred must both have shape (batch, "
                             f"num_classes); received {yt.shape} and {yp.shape}")
        if self._tp is not None and self._tp.shape not in ((), (yp.shape[1],)):
            raise ValueError(f"{type(self).__name__}: built for {self._tp.shape[0]} classes; received "
                             f"y_pred with {yp.shape[1]}")
        if self.threshold is None:
            pred = (yp >= yp.max(axis=-1, keepdims=True)) & (np.abs(yp) > 1e-9)
        else:
            pred = yp > self.threshold
        pred = pred.astype(np.float64)
        w = None
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float64)
            w = w.reshape(w.shape + (1,) * (2 - w.ndim)) if w.ndim < 2 else w
        axis = None if self.average == "micro" else 0

        def wsum(v):
            return (v if w is None else v * w).sum(axis=axis)

        parts = (wsum(pred * yt), wsum(pred * (1 - yt)), wsum((1 - pred) * yt), wsum(yt))
        if self._tp is None:
            self._tp, self._fp, self._fn, self._support = (np.zeros_like(p) for p in parts)
        self._tp = self._tp + parts[0]
        self._fp = self._fp + parts[1]
        self._fn = self._fn + parts[2]
        self._support = self._support + parts[3]

    def result(self) -> float | np.ndarray:
        if self._tp is None:
            return 0.0
        eps = EPSILON
        precision = self._tp / (self._tp + self._fp + eps)
        recall = self._tp / (self._tp + self._fn + eps)
        b2 = self.beta ** 2
        f = precision * recall / (b2 * precision + recall + eps) * (1 + b2)
        if self.average == "weighted":
            return float((f * self._support / (self._support.sum() + eps)).sum())
        if self.average is not None:
            return float(np.mean(f))
        return f

    def get_config(self) -> dict[str, Any]:
        return {**super().get_config(), "average": self.average, "beta": self.beta,
                "threshold": self.threshold}


class F1Score(FBetaScore):
    """:class:`FBetaScore` with ``beta=1`` (Keras' ``F1Score``)."""

    def __init__(self, average: str | None = None, threshold: float | None = None, name: str = "f1_score",
                 dtype: Any = None):
        super().__init__(average=average, beta=1.0, threshold=threshold, name=name, dtype=dtype)

    def get_config(self) -> dict[str, Any]:
        config = super().get_config()
        config.pop("beta")
        return config
