"""Keras' training API: compile, fit, evaluate, predict, *_on_batch.

One training step is explicit, with no tape::

    y_pred, cache = model.forward(x, training=True)
    loss, dy = loss_fn.value_and_gradient(y, y_pred, sample_weight)
    model.backward(dy, cache)                       # fills model.grads
    optimizer.apply(grads, trainable_weights)       # in place
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .. import backend
from .. import callbacks as callbacks_module


class TrainingMixin:
    """Mixed into :class:`Sequential`; needs ``forward``, ``backward``, ``call``, weights."""

    _compiled = False
    stop_training = False

    # ------------------------------------------------------------------ compile
    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None,
                weighted_metrics=None, **kwargs) -> None:
        """Configure training: optimizer (name or object), loss (name, callable or object), metrics."""
        from .. import losses as losses_module
        from .. import optimizers as optimizers_module

        for k in kwargs:
            if k not in ("run_eagerly", "steps_per_execution", "jit_compile", "auto_scale_loss"):
                raise TypeError(f"compile() got an unexpected keyword argument {k!r}")
        if loss is None:
            raise ValueError("compile: loss is required, e.g. loss='binary_crossentropy'; received None")
        self.optimizer = optimizers_module.get(optimizer)
        self.loss = loss
        self._loss_fn = losses_module.get(loss)
        if isinstance(loss_weights, (list, tuple)):
            if len(loss_weights) != 1:
                raise ValueError(
                    f"compile: a Sequential model has one output, so loss_weights takes one value; "
                    f"received {len(loss_weights)}"
                )
            loss_weights = loss_weights[0]
        if isinstance(loss_weights, dict):
            loss_weights = next(iter(loss_weights.values())) if loss_weights else None
        self._loss_weight = 1.0 if loss_weights is None else float(loss_weights)
        if metrics is not None and not isinstance(metrics, (list, tuple, dict)):
            raise TypeError(f"compile: metrics must be a list, e.g. ['accuracy']; received {metrics!r}")
        if isinstance(metrics, dict):
            metrics = [m for v in metrics.values() for m in (v if isinstance(v, (list, tuple)) else [v])]
        self._metric_specs = list(metrics or []) + list(weighted_metrics or [])
        self._metrics = None  # resolved on first data, when shapes are known
        self._compile_config = {
            "optimizer": optimizers_module.serialize(self.optimizer),
            "loss": loss if isinstance(loss, str) else losses_module.serialize(self._loss_fn),
            "metrics": [m if isinstance(m, str) else getattr(m, "name", str(m)) for m in self._metric_specs],
            "loss_weights": loss_weights,
        }
        self._loss_tracker = None
        self._compiled = True

    def _assert_compiled(self, what: str) -> None:
        if not self._compiled:
            raise RuntimeError(
                f"You must call compile() before {what}(): e.g. model.compile(optimizer='rmsprop', "
                "loss='binary_crossentropy', metrics=['accuracy'])"
            )

    def _resolve_metrics(self, y, y_pred) -> None:
        from .. import metrics as metrics_module

        if self._metrics is not None:
            return
        self._loss_tracker = metrics_module.Mean(name="loss")
        self._metrics = [metrics_module.get(m, loss=self.loss, y_true_shape=np.shape(y),
                                            y_pred_shape=np.shape(y_pred)) for m in self._metric_specs]

    @property
    def metrics_names(self) -> list[str]:
        return ["loss"] + [m.name for m in (self._metrics or [])]

    def reset_metrics(self) -> None:
        for m in [self._loss_tracker, *(self._metrics or [])]:
            if m is not None:
                m.reset_state()

    def _logs(self) -> dict[str, float]:
        logs = {"loss": float(self._loss_tracker.result())}
        for m in self._metrics:
            logs[m.name] = float(m.result())
        return logs

    # -------------------------------------------------------------- data checks
    def _check_data(self, x, y, sample_weight=None, what="fit"):
        if x is None:
            raise ValueError(f"{what}: x is required; received None")
        x = np.asarray(x)
        if x.dtype == object:
            raise ValueError(
                f"{what}: x must be a rectangular array; received a ragged object array of "
                f"{len(x)} sequences (pad them with pad_sequences first)"
            )
        if y is not None:
            y = np.asarray(y)
            if len(y) != len(x):
                raise ValueError(
                    f"{what}: x and y must have the same number of samples; received x with "
                    f"{len(x)} and y with {len(y)}"
                )
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, dtype=np.float64)
            if len(sample_weight) != len(x):
                raise ValueError(
                    f"{what}: sample_weight must have one entry per sample ({len(x)}); received "
                    f"{len(sample_weight)}"
                )
        exp = self.input_shape
        if exp is not None and len(exp) != x.ndim:
            raise ValueError(
                f"{what}: the model expects x of shape {exp}; received x of shape {x.shape}"
            )
        if exp is not None and any(e is not None and e != s for e, s in zip(exp[1:], x.shape[1:])):
            raise ValueError(
                f"{what}: the model expects x of shape {exp}; received x of shape {x.shape}"
            )
        return x, y, sample_weight

    @staticmethod
    def _class_weights(y, class_weight) -> np.ndarray:
        y = np.asarray(y)
        labels = y.argmax(axis=-1) if y.ndim > 1 and y.shape[-1] > 1 else np.rint(y.reshape(len(y), -1)[:, 0])
        out = np.ones(len(y))
        for cls, w in class_weight.items():
            out[labels == int(cls)] = float(w)
        return out

    # --------------------------------------------------------------- one step
    def _train_step(self, x, y, sw):
        y_pred, cache = self.forward(x, training=True)
        self._resolve_metrics(y, y_pred)
        loss, dy = self._loss_fn.value_and_gradient(y, y_pred, sample_weight=sw)
        if self._loss_weight != 1.0:
            loss, dy = loss * self._loss_weight, dy * self._loss_weight
        self.backward(dy, cache)
        params, grads = [], []
        for w, g, t in zip(self.weights, self.grads, self.trainable_mask):
            if t and g is not None:
                params.append(w)
                grads.append(g)
        self.optimizer.apply(grads, params)
        self._update_metrics(loss, y, y_pred, sw, len(x))
        return loss

    def _test_step(self, x, y, sw):
        y_pred = self.call(x, training=False)
        self._resolve_metrics(y, y_pred)
        loss = float(self._loss_fn(y, y_pred, sample_weight=sw)) * self._loss_weight
        self._update_metrics(loss, y, y_pred, sw, len(x))
        return loss

    def _update_metrics(self, loss, y, y_pred, sw, n):
        self._loss_tracker.update_state(loss, sample_weight=n)
        for m in self._metrics:
            m.update_state(y, y_pred, sample_weight=sw)

    # ---------------------------------------------------------------------- fit
    def fit(self, x=None, y=None, batch_size: int | None = None, epochs: int = 1, verbose="auto",
            callbacks: Sequence | None = None, validation_split: float = 0.0, validation_data=None,
            shuffle: bool = True, class_weight: dict | None = None, sample_weight=None,
            initial_epoch: int = 0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size: int | None = None, validation_freq: int = 1):
        """Train for ``epochs`` epochs; returns a :class:`History` (``history.history["loss"]`` ...)."""
        self._assert_compiled("fit")
        x, y, sample_weight = self._check_data(x, y, sample_weight, "fit")
        if y is None:
            raise ValueError("fit: y (the targets) is required; received None")
        batch_size = self._check_batch_size(batch_size, "fit")
        if not isinstance(epochs, (int, np.integer)) or epochs < 0:
            raise ValueError(f"fit: epochs must be a non-negative integer; received {epochs!r}")
        if not isinstance(validation_split, (int, float)) or not 0.0 <= validation_split < 1.0:
            raise ValueError(f"fit: validation_split must be a float in [0, 1); received {validation_split!r}")
        if class_weight is not None:
            cw = self._class_weights(y, class_weight)
            sample_weight = cw if sample_weight is None else sample_weight * cw
        if validation_data is None and validation_split > 0:
            # Keras holds out the *last* fraction of the data, before any shuffling.
            split = int(math.floor(len(x) * (1.0 - validation_split)))
            if split == 0 or split == len(x):
                raise ValueError(
                    f"fit: validation_split={validation_split} leaves no training or no validation "
                    f"samples out of {len(x)}"
                )
            validation_data = (x[split:], y[split:]) if sample_weight is None else \
                (x[split:], y[split:], sample_weight[split:])
            x, y = x[:split], y[:split]
            sample_weight = None if sample_weight is None else sample_weight[:split]
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("fit: validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
                                 f"sample_weight); received {type(validation_data).__name__}")
        verbose = 1 if verbose == "auto" else int(verbose)
        n = len(x)
        steps = max(1, math.ceil(n / batch_size))
        history = callbacks_module.History()
        cbs = callbacks_module.CallbackList(
            list(callbacks or []), add_history=history, add_progbar=verbose != 0, model=self,
            verbose=verbose, epochs=epochs, steps=steps)
        rng = backend.make_rng(None)
        self.stop_training = False
        cbs.on_train_begin({})
        logs: dict[str, Any] = {}
        for epoch in range(initial_epoch, epochs):
            self.reset_metrics()
            cbs.on_epoch_begin(epoch, {})
            order = rng.permutation(n) if shuffle else np.arange(n)
            for step in range(steps):
                idx = order[step * batch_size:(step + 1) * batch_size]
                cbs.on_train_batch_begin(step, {})
                sw = None if sample_weight is None else sample_weight[idx]
                self._train_step(x[idx], y[idx], sw)
                logs = self._logs()
                cbs.on_train_batch_end(step, logs)
                if self.stop_training:
                    break
            epoch_logs = dict(logs)
            if validation_data is not None and (epoch + 1) % validation_freq == 0:
                val = self.evaluate(*validation_data[:2], sample_weight=(
                    validation_data[2] if len(validation_data) == 3 else None),
                    batch_size=validation_batch_size or batch_size, verbose=0, return_dict=True)
                epoch_logs.update({f"val_{k}": v for k, v in val.items()})
            cbs.on_epoch_end(epoch, epoch_logs)
            if self.stop_training:
                break
        cbs.on_train_end(logs)
        history.params = {"verbose": verbose, "epochs": epochs, "steps": steps}
        history.model = self
        return history

    @staticmethod
    def _check_batch_size(batch_size, what):
        if batch_size is None:
            return 32
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"{what}: batch_size must be a positive integer; received {batch_size!r}")
        return int(batch_size)

    # ----------------------------------------------------------------- evaluate
    def evaluate(self, x=None, y=None, batch_size: int | None = None, verbose="auto",
                 sample_weight=None, steps=None, callbacks=None, return_dict: bool = False):
        """Loss (and metrics) on ``x, y``: a scalar, or ``[loss, *metrics]`` as Keras returns."""
        self._assert_compiled("evaluate")
        x, y, sample_weight = self._check_data(x, y, sample_weight, "evaluate")
        if y is None:
            raise ValueError("evaluate: y (the targets) is required; received None")
        batch_size = self._check_batch_size(batch_size, "evaluate")
        verbose = 1 if verbose == "auto" else int(verbose)
        self.reset_metrics()
        n = len(x)
        steps_n = max(1, math.ceil(n / batch_size))
        bar = callbacks_module.Progbar(steps_n) if verbose == 1 else None
        for step in range(steps_n):
            sl = slice(step * batch_size, (step + 1) * batch_size)
            sw = None if sample_weight is None else sample_weight[sl]
            self._test_step(x[sl], y[sl], sw)
            if bar is not None:
                bar.update(step + 1, self._logs(), finalize=step + 1 == steps_n)
        logs = self._logs()
        if return_dict:
            return logs
        values = [logs["loss"]] + [logs[m.name] for m in self._metrics]
        return values[0] if len(values) == 1 else values

    # ------------------------------------------------------------------ predict
    def predict(self, x, batch_size: int | None = None, verbose="auto", steps=None, callbacks=None):
        """Outputs for ``x``, computed ``batch_size`` samples at a time (inference mode)."""
        x = np.asarray(x)
        batch_size = self._check_batch_size(batch_size, "predict")
        if len(x) == 0:
            raise ValueError("predict: x has no samples")
        outs = [self.call(x[i:i + batch_size], training=False) for i in range(0, len(x), batch_size)]
        if isinstance(outs[0], list):
            return [np.concatenate(parts) for parts in zip(*outs)]
        return np.concatenate(outs)

    def predict_on_batch(self, x):
        return self.call(np.asarray(x), training=False)

    # ----------------------------------------------------------------- on_batch
    def train_on_batch(self, x, y=None, sample_weight=None, class_weight=None, return_dict=False):
        """One optimizer step on one batch; returns its loss (or ``[loss, *metrics]``).

        As in Keras 3, the values are this batch's alone (metrics are reset per call).
        """
        self._assert_compiled("train_on_batch")
        x, y, sample_weight = self._check_data(x, y, sample_weight, "train_on_batch")
        if class_weight is not None:
            cw = self._class_weights(y, class_weight)
            sample_weight = cw if sample_weight is None else sample_weight * cw
        self.reset_metrics()
        self._train_step(x, y, sample_weight)
        return self._batch_result(return_dict)

    def test_on_batch(self, x, y=None, sample_weight=None, return_dict=False):
        self._assert_compiled("test_on_batch")
        x, y, sample_weight = self._check_data(x, y, sample_weight, "test_on_batch")
        self.reset_metrics()
        self._test_step(x, y, sample_weight)
        return self._batch_result(return_dict)

    def _batch_result(self, return_dict):
        logs = self._logs()
        if return_dict:
            return logs
        values = [logs["loss"]] + [logs[m.name] for m in self._metrics]
        return values[0] if len(values) == 1 else values

    # ------------------------------------------------------------------- saving
    def save(self, filepath, overwrite: bool = True, include_optimizer: bool = True, **kwargs) -> None:
        """Write the model (architecture, weights, optimizer state, metadata) to one ``.keras`` zip."""
        from ..saving import save_model

        save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer, **kwargs)

    def save_weights(self, filepath, overwrite: bool = True) -> None:
        from ..saving import save_weights

        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath) -> None:
        from ..saving import load_weights

        load_weights(self, filepath)
