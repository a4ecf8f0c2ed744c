"""``compile`` and the loss and metric bookkeeping it sets up (Keras' compile API), mixed
into the models through :class:`~rnnkit.models.training.TrainingMixin`."""
from __future__ import annotations

import numpy as np

from .. import losses as losses_module
from .. import metrics as metrics_module
from .. import optimizers as optimizers_module
from ..distribute.hooks import current_strategy
from . import guards


def _metric_config(m):
    """How a metric given to ``compile`` is recorded: its name, its config dict (as given, or
    serialized from an rnnkit metric object), or a callable's name."""
    if isinstance(m, (str, dict)):
        return m
    if isinstance(m, metrics_module.Metric):
        try:
            return metrics_module.serialize(m)
        except (TypeError, ValueError):  # a custom metric: recorded by name
            return m.name
    return getattr(m, "name", getattr(m, "__name__", str(m)))


class CompileMixin:
    """``compile``, the per-output losses and metrics, ``metrics_names``, ``reset_metrics``
    and the logs a step reports. Needs the model's ``_output_names_for_training``."""

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                weighted_metrics=None, check_finite: bool = True, **kwargs) -> None:
        """Configure training: optimizer (name or object), loss (name, callable or object), metrics;
        ``check_finite=False`` lets NaN/inf data through fit/evaluate/predict (see :mod:`.guards`)."""

        for k in kwargs:
            if k not in ("run_eagerly", "steps_per_execution", "jit_compile", "auto_scale_loss"):
                raise TypeError(f"compile() got an unexpected keyword argument {k!r}")
        if loss is None and not self._custom_train:
            raise ValueError("compile: loss is required, e.g. loss='binary_crossentropy'; received None")
        self.check_finite = guards.check_flag(check_finite, "compile", "check_finite")
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = loss
        self._strategy = current_strategy()
        if metrics is not None and not isinstance(metrics, (list, tuple, dict)):
            raise TypeError(f"compile: metrics must be a list, e.g. ['accuracy']; received {metrics!r}")
        out_names = self._output_names_for_training()
        if out_names is not None:
            self._compile_outputs(out_names, loss, loss_weights, metrics, weighted_metrics)
            self._loss_tracker = None
            self._compiled = True
            return
        loss = self.loss = guards.single_loss(loss)
        self._loss_fn = losses_module.get(loss)
        if isinstance(loss_weights, (list, tuple)):
            if len(loss_weights) != 1:
                raise ValueError(
                    f"compile: a {type(self).__name__} model has one output, so loss_weights takes one "
                    f"value; received {len(loss_weights)}"
                )
            loss_weights = loss_weights[0]
        if isinstance(loss_weights, dict):
            loss_weights = next(iter(loss_weights.values())) if loss_weights else None
        self._loss_weight = 1.0 if loss_weights is None else float(loss_weights)
        if isinstance(metrics, dict):
            metrics = [m for v in metrics.values() for m in (v if isinstance(v, (list, tuple)) else [v])]
        self._metric_specs = list(metrics or []) + list(weighted_metrics or [])
        self._metrics = None  # resolved on first data, when shapes are known
        self._compile_config = {
            "optimizer": optimizers_module.serialize(self.optimizer),
            "loss": loss if loss is None or isinstance(loss, str) else losses_module.serialize(self._loss_fn),
            "metrics": [_metric_config(m) for m in self._metric_specs],
            "loss_weights": loss_weights,
        }
        self._loss_tracker = None
        self._compiled = True

    def _per_output(self, value, names, what, default):
        """``value`` given once, as a list (one per output) or a dict by output name -> a list."""
        n = len(names)
        if isinstance(value, dict):
            unknown = [k for k in value if k not in names]
            if unknown:
                raise ValueError(
                    f"compile: {what} has keys {unknown} that are not output names; the outputs are "
                    f"{names}"
                )
            return [value.get(k, default) for k in names]
        if isinstance(value, (list, tuple)) and what != "metrics":
            if len(value) != n:
                raise ValueError(
                    f"compile: the model has {n} outputs {names}, so {what} needs {n} values (or one "
                    f"for all, or a dict by output name); received a list of {len(value)}"
                )
            return list(value)
        return [value] * n

    def _compile_outputs(self, names, loss, loss_weights, metrics, weighted_metrics) -> None:
        """compile() for a model returning a list of outputs (one loss and metrics each)."""
        import copy


        n = len(names)
        losses = self._per_output(loss, names, "loss", None)
        if all(v is None for v in losses):
            raise ValueError(f"compile: no loss for any of the outputs {names}")
        self._loss_fns = [None if v is None else losses_module.get(v) for v in losses]
        weights = self._per_output(1.0 if loss_weights is None else loss_weights, names,
                                   "loss_weights", 1.0)
        self._loss_weights = [1.0 if w is None else float(w) for w in weights]
        if isinstance(metrics, dict):
            specs = self._per_output(metrics, names, "metrics", [])
        elif metrics and all(isinstance(m, (list, tuple)) for m in metrics) and len(metrics) == n:
            specs = [list(m) for m in metrics]  # one list per output
        else:
            specs = [list(metrics or []) for _ in names]  # the same metrics for every output
        specs = [list(m) if isinstance(m, (list, tuple)) else ([] if m is None else [m]) for m in specs]
        for i in range(1, n):  # a Metric object given once gets its own copy per output
            specs[i] = [copy.deepcopy(m) if hasattr(m, "update_state") else m for m in specs[i]]
        extra = list(weighted_metrics or [])
        self._output_metric_specs = [m + extra for m in specs]
        self._metric_specs = [m for ms in self._output_metric_specs for m in ms]
        self._metrics = None
        self._output_loss_trackers = []

        def ser(v):
            if v is None or isinstance(v, str):
                return v
            return losses_module.serialize(losses_module.get(v))

        self._compile_config = {
            "optimizer": optimizers_module.serialize(self.optimizer),
            "loss": [ser(v) for v in losses],
            "metrics": [[_metric_config(m) for m in ms] for ms in specs],
            "loss_weights": self._loss_weights,
        }

    def _assert_compiled(self, what: str) -> None:
        if not self._compiled:
            raise RuntimeError(
                f"You must call compile() before {what}(): e.g. model.compile(optimizer='rmsprop', "
                "loss='binary_crossentropy', metrics=['accuracy'])"
            )

    def _resolve_metrics(self, y, y_pred) -> None:

        if self._metrics is not None:
            return
        self._loss_tracker = metrics_module.Mean(name="loss")
        names = self._output_names_for_training()
        if names is None:
            self._metrics = [metrics_module.get(m, loss=self.loss, y_true_shape=np.shape(y),
                                                y_pred_shape=np.shape(y_pred)) for m in self._metric_specs]
            return
        prefix = len(names) > 1
        self._output_loss_trackers = [metrics_module.Mean(name=f"{name}_loss")
                                      for name, fn in zip(names, self._loss_fns) if fn is not None] \
            if prefix else []
        self._output_metrics = []
        for name, specs, fn, yt, yp in zip(names, self._output_metric_specs, self._loss_fns, y, y_pred):
            resolved = [metrics_module.get(m, loss=fn, y_true_shape=np.shape(yt), y_pred_shape=np.shape(yp))
                        for m in specs]
            if prefix:
                for m in resolved:
                    m.name = f"{name}_{m.name}"
            self._output_metrics.append(resolved)
        self._metrics = [m for ms in self._output_metrics for m in ms]

    @property
    def metrics_names(self) -> list[str]:
        return (["loss"] + [t.name for t in self._output_loss_trackers]
                + [m.name for m in (self._metrics or [])])

    def reset_metrics(self) -> None:
        self._reset_user_metrics()
        for m in [self._loss_tracker, *self._output_loss_trackers, *(self._metrics or [])]:
            if m is not None:
                m.reset_state()

    def _logs(self) -> dict[str, float]:
        if self._user_logs is not None:  # what an overridden train_step/test_step returned
            return dict(self._user_logs)
        losses, metrics = [self._loss_tracker, *self._output_loss_trackers], list(self._metrics)
        if self._strategy is not None:  # the values over all ranks
            losses, metrics = self._strategy.reduce_metrics(losses, metrics)
        logs = {"loss": float(losses[0].result())}
        for t in losses[1:]:
            logs[t.name] = float(t.result())
        for m in metrics:
            logs[m.name] = float(m.result())
        return dict(sorted(logs.items()))  # Keras 3's order in logs, History and return_dict
