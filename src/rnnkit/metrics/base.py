"""The metric base classes: :class:`Metric`, the weighted :class:`Mean` and :class:`Sum`,
and :class:`MeanMetricWrapper`, the mean of a per-sample function (what most built-in
metrics are). Values are reduced to one per sample as described in :mod:`rnnkit.metrics`.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import backend
from ..losses.base import squeeze_or_expand_to_same_rank

__all__ = ["Metric", "Mean", "Sum", "MeanMetricWrapper"]


class Metric:
    """Base class: ``name`` defaults to the snake-case class name (made unique)."""

    # How traced layers recognize a metric attribute without importing this package.
    _rnnkit_metric = True

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


def _wrapper(class_name: str, fn: Callable, default_name: str, doc: str, params: tuple = (),
             module: str = __name__) -> type:
    """A MeanMetricWrapper subclass with Keras' constructor signature ``(name, dtype, *params)``,
    defined in ``module`` (so it pickles by its qualified name)."""

    def __init__(self, name: str = default_name, dtype: Any = None, **kwargs: Any):
        unknown = set(kwargs) - {p for p, _ in params}
        if unknown:
            raise ValueError(f"Argument(s) not recognized by {class_name}: {sorted(unknown)}")
        MeanMetricWrapper.__init__(self, fn, name=name, dtype=dtype, **{p: kwargs.get(p, d) for p, d in params})

    return type(class_name, (MeanMetricWrapper,), {"__init__": __init__, "__doc__": doc, "__module__": module})
