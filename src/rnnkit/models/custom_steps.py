"""Keras 3's customizable training step: ``train_step``/``test_step`` overrides,
``compute_loss``, ``metrics`` and ``compute_metrics``, on top of the tape.

``fit`` keeps its fused, tape-free step for models that override none of these. A model
class that overrides ``train_step``, ``compute_loss`` or ``compute_metrics`` gets Keras'
loop instead: ``fit`` calls ``model.train_step(data)`` with ``data = (x, y)`` (or
``(x, y, sample_weight)``, or ``(x,)``) and reports the dict it returns; likewise
``evaluate`` and ``test_step``. Methods that rnnkit's loops would silently bypass
(``predict_step``, ``make_train_function``...) are refused when the class is defined.
"""
from __future__ import annotations

import numpy as np

_HONORED_TRAIN = ("train_step", "compute_loss", "compute_metrics")
_HONORED_TEST = ("test_step", "compute_loss", "compute_metrics")
_REFUSED = ("predict_step", "make_train_function", "make_test_function", "make_predict_function",
            "train_function", "test_function", "predict_function")


def unpack_x_y_sample_weight(data):
    """``(x, y, sample_weight)`` from what ``fit`` hands ``train_step`` (Keras' helper)."""
    if isinstance(data, list):
        data = tuple(data)
    if not isinstance(data, tuple):
        return data, None, None
    if len(data) == 1:
        return data[0], None, None
    if len(data) == 2:
        return data[0], data[1], None
    if len(data) == 3:
        return data
    raise ValueError(f"Data is expected to be (x,), (x, y) or (x, y, sample_weight); received a "
                     f"tuple of {len(data)} elements")


def _pythonify(logs) -> dict:
    if logs is None:
        return {}
    if not isinstance(logs, dict):
        raise TypeError(f"train_step/test_step must return a dict of logs (name -> value); "
                        f"received {type(logs).__name__}")
    out = {}
    for k, v in logs.items():
        if isinstance(v, dict):
            out.update(_pythonify(v))
            continue
        a = np.asarray(v)
        out[k] = float(a) if a.size == 1 else a
    return out


class CompileMetrics:
    """The metrics given to ``compile(metrics=...)``, as one object (Keras 3's
    ``compile_metrics``): ``update_state(y, y_pred, sample_weight)``, ``result()`` a dict."""

    name = "compile_metrics"

    def __init__(self, model):
        self._model = model

    def update_state(self, y_true, y_pred, sample_weight=None):
        from ..ops.tape import unwrap_struct
        m = self._model
        y_true, y_pred = unwrap_struct(y_true), unwrap_struct(y_pred)
        sample_weight = unwrap_struct(sample_weight)
        tracker = m._loss_tracker
        m._resolve_metrics(y_true, y_pred)
        if tracker is not None:
            m._loss_tracker = tracker
        if m._output_names_for_training() is None:
            for metric in m._metrics:
                metric.update_state(y_true, y_pred, sample_weight=sample_weight)
        else:
            for ms, yt, yp in zip(m._output_metrics, y_true, y_pred):
                for metric in ms:
                    metric.update_state(yt, yp, sample_weight=sample_weight)

    def result(self) -> dict:
        return {metric.name: metric.result() for metric in (self._model._metrics or [])}

    def reset_state(self) -> None:
        for metric in self._model._metrics or []:
            metric.reset_state()

    @property
    def metrics(self) -> list:
        return list(self._model._metrics or [])


def _loss_op(fn, y, y_pred, sample_weight, weight):
    """The compiled loss as a recorded op (its vjp is the loss' analytic gradient)."""
    from ..ops.tape import make, track, unwrap
    yp, t = track(y_pred)
    y = unwrap(y)
    if t is None:
        return np.asarray(weight * float(fn(y, yp, sample_weight=sample_weight)), dtype=np.result_type(yp))
    value, dy = fn.value_and_gradient(y, yp, sample_weight=sample_weight)
    dt = np.asarray(yp).dtype
    return make(np.asarray(weight * value, dtype=dt), (t,), lambda g: (np.asarray(g) * dy * dt.type(weight),))


class CustomStepsMixin:
    """Mixed into :class:`~rnnkit.models.training.TrainingMixin` (see the module docstring)."""

    _custom_train = False  # set per class: fit must call the class' train_step
    _custom_test = False
    _user_logs: dict | None = None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__module__.startswith("rnnkit."):
            return
        for name in _REFUSED:
            if any(name in vars(c) for c in cls.__mro__ if not c.__module__.startswith("rnnkit.")):
                raise TypeError(
                    f"{cls.__name__} overrides {name}(), which rnnkit's fit/evaluate/predict loops do "
                    "not call, so the override would be silently ignored. Override train_step / "
                    "test_step / call instead")
        user = [c for c in cls.__mro__ if not c.__module__.startswith("rnnkit.") and c is not object]
        cls._custom_train = any(n in vars(c) for c in user for n in _HONORED_TRAIN)
        cls._custom_test = any(n in vars(c) for c in user for n in _HONORED_TEST)

    # ------------------------------------------------------------------ metrics
    @property
    def metrics(self) -> list:
        """Keras 3's list: the loss tracker and ``compile_metrics`` (when compiled), then the
        metrics assigned as attributes."""
        out = []
        if self._compiled:
            out.append(self._ensure_loss_tracker())
            if self._metric_specs:
                out.append(self.compiled_metrics)
        out += self.__dict__.get("_tracked_metrics", [])
        return out

    def _ensure_loss_tracker(self):
        if self._loss_tracker is None:
            from .. import metrics as metrics_module
            self._loss_tracker = metrics_module.Mean(name="loss")
        return self._loss_tracker

    @property
    def compiled_metrics(self) -> CompileMetrics:
        cm = self.__dict__.get("_compile_metrics_obj")
        if cm is None:
            cm = CompileMetrics(self)
            self.__dict__["_compile_metrics_obj"] = cm
        return cm

    def _reset_user_metrics(self) -> None:
        self._user_logs = None
        if self._custom_train or self._custom_test:
            for m in self.metrics:
                m.reset_state()

    def get_metrics_result(self) -> dict:
        out = {}
        for m in self.metrics:
            r = m.result()
            if isinstance(r, dict):
                out.update(r)
            else:
                out[m.name] = r
        return out

    def compute_metrics(self, x, y, y_pred, sample_weight=None) -> dict:
        """Update the compiled metrics with this batch; return every metric's result."""
        if self._metric_specs:
            self.compiled_metrics.update_state(y, y_pred, sample_weight)
        return self.get_metrics_result()

    # --------------------------------------------------------------------- loss
    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        """The compiled loss (weighted sum over outputs), differentiable on the tape."""
        names = self._output_names_for_training()
        terms = []
        if names is None:
            if getattr(self, "_loss_fn", None) is not None:
                terms.append(_loss_op(self._loss_fn, y, y_pred, sample_weight, self._loss_weight))
        else:
            for fn, w, yt, yp in zip(self._loss_fns, self._loss_weights, y, y_pred):
                if fn is not None:
                    terms.append(_loss_op(fn, yt, yp, sample_weight, w))
        terms += list(self.losses)  # add_loss values, as Keras 3 adds them
        if not terms:
            return np.zeros((), dtype=np.float32)
        total = terms[0]
        for t in terms[1:]:
            total = total + t
        return total

    def compiled_loss(self, y, y_pred, sample_weight=None, regularization_losses=None):
        """Keras 2's spelling of :meth:`compute_loss`."""
        return self.compute_loss(y=y, y_pred=y_pred, sample_weight=sample_weight)

    # -------------------------------------------------------------------- steps
    def train_step(self, data) -> dict:
        """Keras 3's default step on the tape (what an override's ``super().train_step`` runs)."""
        from ..ops.gradient_tape import GradientTape
        x, y, sw = unpack_x_y_sample_weight(data)
        with GradientTape() as tape:
            y_pred = self(x, training=True)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sw, training=True)
        self._ensure_loss_tracker().update_state(np.asarray(loss), sample_weight=_batch_size(x))
        params = self.trainable_weights
        grads = tape.gradient(loss, params)
        live = [(g, p) for g, p in zip(grads, params) if g is not None]
        if live:
            self.optimizer.apply([g for g, _ in live], [p for _, p in live])
        return self.compute_metrics(x, y, y_pred, sw)

    def test_step(self, data) -> dict:
        from ..ops.tape import stop_recording
        x, y, sw = unpack_x_y_sample_weight(data)
        with stop_recording():
            y_pred = self(x, training=False)
            loss = self.compute_loss(x=x, y=y, y_pred=y_pred, sample_weight=sw, training=False)
        self._ensure_loss_tracker().update_state(np.asarray(loss), sample_weight=_batch_size(x))
        return self.compute_metrics(x, y, y_pred, sw)

    def _run_custom_step(self, step, x, y, sw) -> float:
        data = (x,) if y is None else ((x, y) if sw is None else (x, y, sw))
        self._user_logs = _pythonify(step(data))
        return self._user_logs.get("loss", float("nan"))

    @property
    def trainable_variables(self) -> list:
        return self.trainable_weights

    @property
    def non_trainable_variables(self) -> list:
        return self.non_trainable_weights

    @property
    def variables(self) -> list:
        return self.weights


def _batch_size(x) -> int:
    while isinstance(x, (list, tuple, dict)):
        x = list(x.values())[0] if isinstance(x, dict) else x[0]
    return int(np.shape(x)[0])
