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
from . import data_adapters
from ..distribute.hooks import collective
from ..layers.layer_utils import run_backward
from .. import saving
from . import guards
from ..ops import layer_autodiff as _autodiff
from .compiling import CompileMixin
from .custom_steps import CustomStepsMixin
from .data_checks import DataChecksMixin, _num_samples
from .fit_state import FitState


def _take(x, idx):
    """``x[idx]`` for one array or for each array of a list."""
    if x is None:  # fit(x) without targets, for an overridden train_step
        return None
    return [a[idx] for a in x] if isinstance(x, list) else x[idx]


def _added_losses(model) -> float:
    """Sum of the losses layers added during the latest forward pass (``model.losses``);
    their gradients come from the layers' own backward passes."""
    extra = model._builtin_losses()
    return float(sum(extra)) if extra else 0.0


class TrainingMixin(CompileMixin, DataChecksMixin, CustomStepsMixin):
    """Mixed into :class:`Sequential` and :class:`Model` (what they share: training, saving,
    ``get_layer``); needs ``forward``, ``backward``, ``call``, ``_layers``, weights.

    A model with several inputs takes ``x`` as a list of arrays (:meth:`_input_spec`);
    one returning a list takes ``y`` as a list, one loss per output
    (:meth:`_output_names_for_training`).
    """

    _compiled = False
    stop_training = False
    _predict_memo: dict | None = None  # see predict
    _output_loss_trackers: list = []
    _strategy = None  # the rnnkit.distribute strategy whose scope compile() ran in
    check_finite = True  # refuse NaN/inf data (see guards); compile(check_finite=False) allows it
    _fit_state: FitState | None = None  # while fit runs (BackupAndRestore reads it)

    # Hooks (the functional Model overrides them).
    def _input_spec(self):
        """``[(name, batch_shape)]`` when the model takes a list of inputs, else None."""
        return None

    def _output_names_for_training(self):
        """The output names when the model returns a list, else None."""
        return None

    def _standardize_single_input(self, x):
        return x

    # --------------------------------------------------------------- one step
    def _output_losses(self, y, y_pred, sw, need_grad):
        """Per-output (unweighted) losses, their weighted sum, and d(sum)/d(outputs)."""
        per, grads, total = [], [], 0.0
        for fn, w, yt, yp in zip(self._loss_fns, self._loss_weights, y, y_pred):
            if fn is None:
                per.append(0.0)
                grads.append(None)
                continue
            if need_grad:
                value, d = fn.value_and_gradient(yt, yp, sample_weight=sw)
                grads.append(d if w == 1.0 else d * d.dtype.type(w))
            else:
                value = float(fn(yt, yp, sample_weight=sw))
            per.append(value)
            total += w * value
        return total, per, grads

    def _train_step(self, x, y, sw):
        if self._custom_train:
            return self._run_custom_step(self.train_step, x, y, sw)
        y_pred, cache = self.forward(x, training=True)
        self._resolve_metrics(y, y_pred)
        if self._output_names_for_training() is not None:
            loss, per, dys = self._output_losses(y, y_pred, sw, need_grad=True)
            loss += _added_losses(self)
            if _autodiff.CONTEXT.losses_seen:
                loss += _autodiff.added_loss_total(self)
            run_backward(self, dys, cache, input_grad=False)  # nobody reads dL/d(inputs)
            self._apply_gradients()
            self._update_metrics(loss, y, y_pred, sw, _num_samples(x), per)
            return loss
        loss, dy = self._loss_fn.value_and_gradient(y, y_pred, sample_weight=sw)
        if self._loss_weight != 1.0:
            loss, dy = loss * self._loss_weight, dy * self._loss_weight
        loss += _added_losses(self)
        if _autodiff.CONTEXT.losses_seen:  # custom layers' add_loss (their backward adds it)
            loss += _autodiff.added_loss_total(self)
        run_backward(self, dy, cache, input_grad=False)
        self._apply_gradients()
        self._update_metrics(loss, y, y_pred, sw, len(x))
        return loss

    def _apply_gradients(self):
        params, grads, updated, all_grads = [], [], [], self.grads
        if self._strategy is not None:  # summed over the ranks (rnnkit.distribute)
            all_grads = self._strategy.reduce_gradients(self, all_grads)
        for (lay, i, t), g in zip(self._entries(), all_grads):
            if t and g is not None:
                params.append(lay._params[i][1])
                grads.append(lay._penalized_grad(i, g))  # + weight regularizer gradients
                updated.append((lay, i))
        self.optimizer.apply(grads, params)
        for lay, i in updated:
            lay._apply_constraint(i)

    def _test_step(self, x, y, sw):
        if self._custom_test or (self._custom_train and getattr(self, "_loss_fn", 0) is None):
            return self._run_custom_step(self.test_step, x, y, sw)  # Keras' test_step
        if _autodiff.CONTEXT.losses_seen:
            _autodiff.clear_losses(self)
        y_pred = self.call(x, training=False)
        self._resolve_metrics(y, y_pred)
        if self._output_names_for_training() is not None:
            loss, per, _ = self._output_losses(y, y_pred, sw, need_grad=False)
            loss += _added_losses(self)
            self._update_metrics(loss, y, y_pred, sw, _num_samples(x), per)
            return loss
        loss = float(self._loss_fn(y, y_pred, sample_weight=sw)) * self._loss_weight
        loss += _added_losses(self)
        if _autodiff.CONTEXT.losses_seen:
            loss += _autodiff.added_loss_total(self)
        self._update_metrics(loss, y, y_pred, sw, len(x))
        return loss

    def _update_metrics(self, loss, y, y_pred, sw, n, per_output=None):
        self._loss_tracker.update_state(loss, sample_weight=n)
        if per_output is None:
            for m in self._metrics:
                m.update_state(y, y_pred, sample_weight=sw)
            return
        values = [v for v, fn in zip(per_output, self._loss_fns) if fn is not None]
        for tracker, value in zip(self._output_loss_trackers, values):
            tracker.update_state(value, sample_weight=n)
        for ms, yt, yp in zip(self._output_metrics, y, y_pred):
            for m in ms:
                m.update_state(yt, yp, sample_weight=sw)

    # ---------------------------------------------------------------------- fit
    @collective
    def fit(self, x=None, y=None, batch_size: int | None = None, epochs: int = 1, verbose="auto",
            callbacks: Sequence | None = None, validation_split: float = 0.0, validation_data=None,
            shuffle: bool = True, class_weight: dict | None = None, sample_weight=None,
            initial_epoch: int = 0, steps_per_epoch=None, validation_steps=None,
            validation_batch_size: int | None = None, validation_freq: int = 1):
        """Train for ``epochs`` epochs; returns a :class:`History` (``history.history["loss"]`` ...)."""
        self._assert_compiled("fit")
        if data_adapters.is_iterable_data(x) or data_adapters.is_iterable_data(validation_data):
            return data_adapters.run_fit(  # datasets, generators: models/data_adapters.py
                self, x, y, batch_size=batch_size, epochs=epochs, verbose=verbose, callbacks=callbacks,
                validation_split=validation_split, validation_data=validation_data, shuffle=shuffle,
                class_weight=class_weight, sample_weight=sample_weight, initial_epoch=initial_epoch,
                steps_per_epoch=steps_per_epoch, validation_steps=validation_steps,
                validation_batch_size=validation_batch_size, validation_freq=validation_freq)
        x, y, sample_weight = self._check_data(x, y, sample_weight, "fit")
        if y is None and not self._custom_train:
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
            n_all = _num_samples(x)
            split = int(math.floor(n_all * (1.0 - validation_split)))
            if split == 0 or split == n_all:
                raise ValueError(
                    f"fit: validation_split={validation_split} leaves no training or no validation "
                    f"samples out of {n_all}"
                )
            tail, head = slice(split, None), slice(None, split)
            validation_data = (_take(x, tail), _take(y, tail)) if sample_weight is None else \
                (_take(x, tail), _take(y, tail), sample_weight[split:])
            x, y = _take(x, head), _take(y, head)
            sample_weight = None if sample_weight is None else sample_weight[:split]
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                raise ValueError("fit: validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
                                 f"sample_weight); received {type(validation_data).__name__}")
        guards.check_fit_args("fit", initial_epoch, shuffle, callbacks, class_weight)
        verbose = callbacks_module.resolve_verbose(verbose, "fit")
        n = _num_samples(x)
        steps = max(1, math.ceil(n / batch_size))
        history = callbacks_module.History()
        cbs = callbacks_module.CallbackList(
            list(callbacks or []), add_history=history, add_progbar=verbose != 0, model=self,
            verbose=verbose, epochs=epochs, steps=steps)
        state = self._fit_state = FitState(backend.make_rng(None), steps)
        if self._strategy is not None:  # data-parallel: broadcast, checks, rank-0-only output
            cbs = self._strategy.begin_fit(self, x, y, sample_weight, state.rng, cbs)
        nan_watch = guards.NaNLossWatch("fit")
        self.stop_training = False
        self.history = history
        # Ctrl-C: stop after the current batch (see guards.InterruptGuard).
        with guards.InterruptGuard() as interrupt:
            cbs.on_train_begin({})
            logs: dict[str, Any] = {}
            start_epoch, start_step = state.start(initial_epoch)
            for epoch in range(start_epoch, epochs):
                self.reset_metrics()
                cbs.on_epoch_begin(epoch, {})
                order = state.epoch_order(epoch, n, shuffle)
                for step in range(start_step if epoch == start_epoch else 0, steps):
                    idx = order[step * batch_size:(step + 1) * batch_size]
                    cbs.on_train_batch_begin(step, {})
                    sw = None if sample_weight is None else sample_weight[idx]
                    if self._strategy is not None:  # this rank's shard of the global batch
                        idx, sw = self._strategy.shard(idx, sw)
                    nan_watch.after_batch(self._train_step(_take(x, idx), _take(y, idx), sw), step, epoch)
                    state.batch_done(step)
                    logs = self._logs()
                    cbs.on_train_batch_end(step, logs)
                    if self.stop_training or interrupt.requested:
                        break
                if interrupt.requested:
                    break
                epoch_logs = dict(logs)
                if validation_data is not None and (epoch + 1) % validation_freq == 0:
                    val = self.evaluate(*validation_data[:2], sample_weight=(
                        validation_data[2] if len(validation_data) == 3 else None),
                        batch_size=validation_batch_size or batch_size, verbose=0, return_dict=True)
                    epoch_logs.update({f"val_{k}": v for k, v in val.items()})
                    epoch_logs = dict(sorted(epoch_logs.items()))  # Keras 3 logs keys in sorted order
                cbs.on_epoch_end(epoch, epoch_logs)
                if self.stop_training:
                    break
            state.interrupted = interrupt.requested
            cbs.on_train_end(logs)
        self._fit_state = None
        history.params = {"verbose": verbose, "epochs": epochs, "steps": steps}
        history.model = self
        if state.interrupted:
            # As in Keras Ctrl-C ends the script, but only once the callbacks have closed their files.
            raise KeyboardInterrupt(f"fit interrupted at epoch {state.epoch + 1}, after batch {state.step}")
        return history

    @staticmethod
    def _check_batch_size(batch_size, what):
        if batch_size is None:
            return 32
        if not isinstance(batch_size, (int, np.integer)) or isinstance(batch_size, bool) or batch_size <= 0:
            raise ValueError(f"{what}: batch_size must be a positive integer; received {batch_size!r}")
        return int(batch_size)

    # ----------------------------------------------------------------- evaluate
    @collective
    def evaluate(self, x=None, y=None, batch_size: int | None = None, verbose="auto",
                 sample_weight=None, steps=None, callbacks=None, return_dict: bool = False):
        """Loss (and metrics) on ``x, y``: a scalar, or ``[loss, *metrics]`` as Keras returns."""
        self._assert_compiled("evaluate")
        if data_adapters.is_iterable_data(x):
            return data_adapters.run_evaluate(self, x, y=y, sample_weight=sample_weight, steps=steps,
                                              verbose=verbose, return_dict=return_dict)
        x, y, sample_weight = self._check_data(x, y, sample_weight, "evaluate")
        if y is None and not self._custom_test:
            raise ValueError("evaluate: y (the targets) is required; received None")
        batch_size = self._check_batch_size(batch_size, "evaluate")
        verbose = callbacks_module.resolve_verbose(verbose, "evaluate")
        self.reset_metrics()
        n = _num_samples(x)
        steps_n = max(1, math.ceil(n / batch_size))
        bar = callbacks_module.Progbar(steps_n) if verbose == 1 else None
        for step in range(steps_n):
            sl = slice(step * batch_size, (step + 1) * batch_size)
            sw = None if sample_weight is None else sample_weight[sl]
            self._test_step(_take(x, sl), _take(y, sl), sw)
            if bar is not None:
                bar.update(step + 1, self._logs(), finalize=step + 1 == steps_n)
        logs = self._logs()
        if return_dict:
            return logs
        return self._values(logs)

    def _values(self, logs):
        if self._user_logs is not None:  # an overridden step's logs, in their order
            values = list(logs.values())
            return values[0] if len(values) == 1 else values
        values = [logs["loss"]] + [logs[t.name] for t in self._output_loss_trackers] \
            + [logs[m.name] for m in self._metrics]
        return values[0] if len(values) == 1 else values

    # ------------------------------------------------------------------ predict
    @collective
    def predict(self, x, batch_size: int | None = None, verbose="auto", steps=None, callbacks=None):
        """Outputs for ``x``, computed ``batch_size`` samples at a time (inference mode)."""
        verbose = callbacks_module.resolve_verbose(verbose, "predict")
        if data_adapters.is_iterable_data(x):
            return data_adapters.run_predict(self, x, steps=steps, verbose=verbose)
        spec = self._input_spec()
        x = self._check_input_list(x, spec, "predict") if spec is not None else self._as_input_array(x)
        batch_size = self._check_batch_size(batch_size, "predict")
        n = _num_samples(x)
        if n == 0:
            raise ValueError("predict: x has no samples")
        if self.check_finite:
            guards.check_finite("predict", x=x)
        # Values that depend on the weights alone, kept from one batch to the next
        # (the weights do not change while predict runs); see Sequential.
        self._predict_memo = {}
        # Keras 3 shows a progress bar for predict too (verbose="auto" is 1).
        bar = callbacks_module.Progbar(math.ceil(n / batch_size), verbose=verbose) if verbose else None
        try:
            outs = []
            for i in range(0, n, batch_size):
                outs.append(self.call(_take(x, slice(i, i + batch_size)), training=False))
                if bar is not None:
                    bar.update(len(outs), finalize=i + batch_size >= n)
        finally:
            self._predict_memo = None
        if isinstance(outs[0], list):
            return [np.concatenate(parts) for parts in zip(*outs)]
        return np.concatenate(outs)

    def predict_on_batch(self, x):
        spec = self._input_spec()
        if spec is not None:
            return self.call(self._check_input_list(x, spec, "predict_on_batch"), training=False)
        return self.call(np.asarray(self._standardize_single_input(x)), training=False)

    # ----------------------------------------------------------------- on_batch
    @collective
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
        guards.NaNLossWatch("train_on_batch").after_batch(self._train_step(x, y, sample_weight), 0)
        return self._batch_result(return_dict)

    @collective
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
        return self._values(logs)

    # ------------------------------------------------------------------- saving
    def get_layer(self, name: str | None = None, index: int | None = None):
        """A layer of the model by ``name`` or by ``index`` (as in Keras)."""
        if index is not None:
            if not -len(self._layers) <= index < len(self._layers):
                raise ValueError(
                    f"get_layer: index {index} out of range for a model with {len(self._layers)} layers"
                )
            return self._layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ValueError(
            f"No such layer: {name!r}. Existing layers are: {[lay.name for lay in self._layers]}"
        )

    def save(self, filepath, overwrite: bool = True, include_optimizer: bool = True, **kwargs) -> None:
        """Write the model: a Keras 3 ``.keras`` archive (``.h5``: full-model HDF5); see
        :mod:`rnnkit.saving`."""
        saving.save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer, **kwargs)

    def save_weights(self, filepath, overwrite: bool = True) -> None:
        """Write the weights (``.weights.h5``: Keras 3's layout; ``.h5``: legacy layout)."""
        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath, skip_mismatch: bool = False) -> None:
        """Load weights from a ``.weights.h5``, ``.h5``, ``.keras`` or old rnnkit file."""
        saving.load_weights(self, filepath, skip_mismatch=skip_mismatch)

    def export(self, filepath, format: str = "onnx", **kwargs) -> None:
        """Export for serving; ``format="onnx"`` (needs ``rnnkit[onnx]``) writes an ONNX graph
        with native LSTM/GRU/RNN operators (see :mod:`rnnkit.interop.onnx_export`)."""
        if format != "onnx":
            raise ValueError(f"export: format must be 'onnx'; received {format!r}")
        if kwargs:
            raise TypeError(f"export() got unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
        from ..interop import onnx_export  # interop imports models: loaded on first export

        onnx_export.export_onnx(self, filepath)
