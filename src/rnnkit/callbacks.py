"""Training callbacks with Keras' names, arguments and hook order."""
from __future__ import annotations

import csv
import math
import os
from typing import Callable

import numpy as np

from .progress import Progbar, resolve_verbose  # noqa: F401  (re-exported: Keras' names)


class Callback:
    """Base class: override any of Keras' hooks. ``self.model`` is set by ``fit``."""

    def __init__(self):
        self.model = None
        self.params: dict = {}

    def set_model(self, model) -> None:
        """Attach the model being trained (``fit`` calls this)."""
        self.model = model

    def set_params(self, params: dict) -> None:
        """Receive ``fit``'s parameters: ``verbose``, ``epochs`` and ``steps`` per epoch."""
        self.params = params

    def on_train_begin(self, logs=None):
        """Called once before the first epoch. ``logs`` is empty."""

    def on_train_end(self, logs=None):
        """Called once after training; ``logs`` are the last batch's."""

    def on_epoch_begin(self, epoch, logs=None):
        """Called before epoch ``epoch`` (0-based)."""

    def on_epoch_end(self, epoch, logs=None):
        """Called after each epoch with its logs.

        The logs hold the training metrics and, when validating, the ``val_`` ones, in Keras 3's
        sorted order. Set ``self.model.stop_training = True`` to stop after this epoch.
        """

    def on_train_batch_begin(self, batch, logs=None):
        """Called before training batch ``batch`` (0-based within the epoch)."""

    def on_train_batch_end(self, batch, logs=None):
        """Called after each training batch with the running (epoch-average) metrics."""

    def on_test_begin(self, logs=None):
        """Called before ``evaluate`` runs."""

    def on_test_end(self, logs=None):
        """Called after ``evaluate`` with its logs."""

    def on_test_batch_begin(self, batch, logs=None):
        """Called before each ``evaluate`` batch."""

    def on_test_batch_end(self, batch, logs=None):
        """Called after each ``evaluate`` batch."""

    def on_predict_begin(self, logs=None):
        """Called before ``predict`` runs."""

    def on_predict_end(self, logs=None):
        """Called after ``predict``."""

    def on_predict_batch_begin(self, batch, logs=None):
        """Called before each ``predict`` batch."""

    def on_predict_batch_end(self, batch, logs=None):
        """Called after each ``predict`` batch."""


class History(Callback):
    """Records every epoch's logs in ``history`` (``{"loss": [...], "val_loss": [...]}``)."""

    def __init__(self):
        super().__init__()
        self.epoch: list[int] = []
        self.history: dict[str, list[float]] = {}

    def on_train_begin(self, logs=None):
        """Start a new record of epochs (the history dict keeps growing across ``fit`` calls)."""
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        """Append each log value to ``history[key]``."""
        self.epoch.append(epoch)
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(v)


class ProgbarLogger(Callback):
    """Prints ``Epoch i/n`` and a :class:`Progbar` per epoch (``verbose=1``) or one line (``2``)."""

    def __init__(self, verbose: int = 1):
        super().__init__()
        self.verbose = verbose
        self._bar = None

    def on_epoch_begin(self, epoch, logs=None):
        """Print ``Epoch i/n`` (when ``n > 1``) and start a new bar."""
        epochs = self.params.get("epochs", 1)
        if self.verbose and epochs > 1:  # Keras 3 leaves the line out for a single epoch
            print(f"Epoch {epoch + 1}/{epochs}")
        self._bar = Progbar(self.params.get("steps", 1), verbose=self.verbose)
        self._seen = 0

    def on_train_batch_end(self, batch, logs=None):
        """Advance the bar (it redraws at most every ``interval`` seconds)."""
        self._seen = batch + 1
        self._bar.update(batch + 1, logs)

    def on_epoch_end(self, epoch, logs=None):
        """Write the epoch's final line, validation metrics included."""
        self._bar.update(self._seen, logs, finalize=True)


class CallbackList:
    """Calls each hook on every callback, with ``model`` and ``params`` set."""

    def __init__(self, callbacks, add_history=None, add_progbar=False, model=None, **params):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"callbacks must be Callback instances; received {type(cb).__name__}")
        if add_progbar:
            self.callbacks.append(ProgbarLogger(params.get("verbose", 1)))
        if add_history is not None:
            self.callbacks.append(add_history)
        for cb in self.callbacks:
            cb.set_model(model)
            cb.set_params(params)

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        def call(*args, **kwargs):
            for cb in self.callbacks:
                getattr(cb, hook)(*args, **kwargs)
        return call


def _monitor_op(mode: str, monitor: str, owner: str):
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"{owner}: mode must be 'auto', 'min' or 'max'; received {mode!r}")
    if mode == "auto":
        mode = "max" if ("acc" in monitor or monitor.endswith("auc") or "precision" in monitor
                         or "recall" in monitor) else "min"
    return (np.less, np.inf) if mode == "min" else (np.greater, -np.inf)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by ``min_delta`` for ``patience`` epochs.

    With ``restore_best_weights=True`` the weights of the best epoch are put back
    when training stops (as in Keras, only if it stopped early, unless training ran
    to the end, where Keras also restores them).

    Args:
        monitor: the log key to watch, e.g. ``"val_loss"`` or ``"val_acc"``.
        min_delta: the smallest change that counts as an improvement.
        patience: epochs without improvement before stopping.
        verbose: 1 prints a line when stopping.
        mode: ``"min"``, ``"max"``, or ``"auto"`` (max for accuracy-like keys, else min).
        baseline: stop if ``monitor`` does not beat this value within ``patience`` epochs.
        restore_best_weights: put back the best epoch's weights at the end.
        start_from_epoch: epochs to wait before watching (warm-up).

    Example:
        ```python
        from rnnkit.keras.callbacks import EarlyStopping
        stop = EarlyStopping(monitor="val_acc", patience=2, restore_best_weights=True)
        # model.fit(x, y, validation_split=0.2, epochs=20, callbacks=[stop])
        ```
    """

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0,
                 verbose: int = 0, mode: str = "auto", baseline: float | None = None,
                 restore_best_weights: bool = False, start_from_epoch: int = 0):
        super().__init__()
        self.monitor, self.patience, self.verbose = monitor, int(patience), verbose
        self.min_delta = abs(float(min_delta))
        self.baseline, self.restore_best_weights = baseline, restore_best_weights
        self.start_from_epoch = start_from_epoch
        self.monitor_op, self._init = _monitor_op(mode, monitor, "EarlyStopping")
        if self.monitor_op is np.less:
            self.min_delta *= -1

    def on_train_begin(self, logs=None):
        """Reset the wait counter and the best value."""
        self.wait = 0
        self.stopped_epoch = 0
        self.best = self._init
        self.best_weights = None
        self.best_epoch = 0

    def _improved(self, current, reference):
        return bool(self.monitor_op(current - self.min_delta, reference))

    def on_epoch_end(self, epoch, logs=None):
        """Compare ``logs[monitor]`` with the best so far; stop after ``patience`` misses."""
        current = (logs or {}).get(self.monitor)
        if current is None:
            raise ValueError(
                f"EarlyStopping: monitor={self.monitor!r} is not in the logs; available: "
                f"{sorted((logs or {}))}"
            )
        if epoch < self.start_from_epoch:
            return
        if self.restore_best_weights and self.best_weights is None:
            self.best_weights = self.model.get_weights()
        self.wait += 1
        if self._improved(current, self.best):
            self.best, self.best_epoch = current, epoch
            if self.restore_best_weights:
                self.best_weights = self.model.get_weights()
            if self.baseline is None or self._improved(current, self.baseline):
                self.wait = 0
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        """Report the stop and, if asked, restore the best weights."""
        if self.stopped_epoch > 0 and self.verbose > 0:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose > 0:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.set_weights(self.best_weights)


class ModelCheckpoint(Callback):
    """Save the model (or only its weights) after every epoch, or only when ``monitor`` improves.

    ``filepath`` may contain ``{epoch}`` and log keys, e.g. ``"ckpt-{epoch:02d}-{val_loss:.2f}.keras"``.

    Args:
        filepath: where to save; formatted with ``epoch`` (1-based) and the epoch's logs.
        monitor: the log key that decides the best epoch.
        verbose: 1 prints a line at each save.
        save_best_only: save only when ``monitor`` improves.
        save_weights_only: save ``model.save_weights`` instead of the whole model.
        mode: ``"min"``, ``"max"`` or ``"auto"``.
        save_freq: only ``"epoch"``.
        initial_value_threshold: the value ``monitor`` must beat for the first save.

    Raises:
        NotImplementedError: for a ``save_freq`` other than ``"epoch"``.
    """

    def __init__(self, filepath, monitor: str = "val_loss", verbose: int = 0,
                 save_best_only: bool = False, save_weights_only: bool = False, mode: str = "auto",
                 save_freq="epoch", initial_value_threshold: float | None = None):
        super().__init__()
        if save_freq != "epoch":
            raise NotImplementedError("ModelCheckpoint: only save_freq='epoch' is supported")
        self.filepath, self.monitor, self.verbose = os.fspath(filepath), monitor, verbose
        self.save_best_only, self.save_weights_only = save_best_only, save_weights_only
        self.monitor_op, init = _monitor_op(mode, monitor, "ModelCheckpoint")
        self.best = init if initial_value_threshold is None else initial_value_threshold

    def on_epoch_end(self, epoch, logs=None):
        """Save to ``filepath`` formatted with this epoch, if it qualifies."""
        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            current = logs.get(self.monitor)
            if current is None:
                raise ValueError(
                    f"ModelCheckpoint: monitor={self.monitor!r} is not in the logs; available: {sorted(logs)}"
                )
            if not self.monitor_op(current, self.best):
                return
            if self.verbose > 0:
                print(f"\nEpoch {epoch + 1}: {self.monitor} improved from {self.best:.5f} to "
                      f"{current:.5f}, saving model to {path}")
            self.best = current
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)


class CSVLogger(Callback):
    """Append each epoch's logs as a CSV row (header ``epoch,<keys...>``).

    Args:
        filename: the CSV file.
        separator: the field separator.
        append: add to an existing file instead of starting a new one.
    """

    def __init__(self, filename, separator: str = ",", append: bool = False):
        super().__init__()
        self.filename, self.sep, self.append = os.fspath(filename), separator, append
        self._file = None
        self._writer = None

    def on_train_begin(self, logs=None):
        """Open the file (appending or truncating) for this run."""
        exists = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self._file = open(self.filename, "a" if self.append else "w", newline="")
        self._header_written = exists

    def on_epoch_end(self, epoch, logs=None):
        """Write one row: the epoch number and every log value."""
        logs = logs or {}
        keys = sorted(logs)
        if self._writer is None:
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch", *keys], delimiter=self.sep)
            if not self._header_written:
                self._writer.writeheader()
        self._writer.writerow({"epoch": epoch, **{k: logs[k] for k in keys}})
        self._file.flush()

    def on_train_end(self, logs=None):
        """Close the file."""
        if self._file is not None:
            self._file.close()
        self._file = self._writer = None


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate at each epoch start to ``schedule(epoch, lr)``.

    Args:
        schedule: ``f(epoch, lr) -> new_lr`` (or ``f(epoch)``), epochs counted from 0.
        verbose: 1 prints the new rate at each epoch.
    """

    def __init__(self, schedule: Callable, verbose: int = 0):
        super().__init__()
        self.schedule, self.verbose = schedule, verbose

    def on_epoch_begin(self, epoch, logs=None):
        """Set the optimizer's rate to ``schedule(epoch, lr)``.

        Raises:
            ValueError: when the schedule returns something other than a finite number.
        """
        lr = float(self.model.optimizer.learning_rate)
        try:
            new = self.schedule(epoch, lr)
        except TypeError:
            new = self.schedule(epoch)
        if not isinstance(new, (float, int, np.floating, np.integer)) or not math.isfinite(new):
            raise ValueError(f"LearningRateScheduler: schedule must return a finite float; received {new!r}")
        self.model.optimizer.learning_rate = float(new)
        if self.verbose > 0:
            print(f"\nEpoch {epoch + 1}: LearningRateScheduler setting learning rate to {float(new)}.")

    def on_epoch_end(self, epoch, logs=None):
        """Record the rate used in ``logs["learning_rate"]``, as Keras does."""
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` after ``patience`` epochs without improvement.

    Args:
        monitor: the log key to watch.
        factor: the multiplier, below 1.
        patience: epochs without improvement before reducing.
        verbose: 1 prints a line at each reduction.
        mode: ``"min"``, ``"max"`` or ``"auto"``.
        min_delta: the smallest change that counts as an improvement.
        cooldown: epochs to wait after a reduction before watching again.
        min_lr: the rate never goes below this.

    Raises:
        ValueError: when ``factor >= 1``.
    """

    def __init__(self, monitor: str = "val_loss", factor: float = 0.1, patience: int = 10,
                 verbose: int = 0, mode: str = "auto", min_delta: float = 1e-4, cooldown: int = 0,
                 min_lr: float = 0.0):
        super().__init__()
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau: factor must be < 1.0; received {factor!r}")
        self.monitor, self.factor, self.patience = monitor, float(factor), int(patience)
        self.verbose, self.min_delta, self.cooldown, self.min_lr = verbose, min_delta, cooldown, min_lr
        self.monitor_op, self._init = _monitor_op(mode, monitor, "ReduceLROnPlateau")

    def on_train_begin(self, logs=None):
        """Reset the wait and cooldown counters and the best value."""
        self.best, self.wait, self.cooldown_counter = self._init, 0, 0

    def _better(self, current):
        if self.monitor_op is np.less:
            return current < self.best - self.min_delta
        return current > self.best + self.min_delta

    def on_epoch_end(self, epoch, logs=None):
        """Reduce the rate when ``monitor`` has not improved for ``patience`` epochs; log ``learning_rate``."""
        logs = logs if logs is not None else {}
        current = logs.get(self.monitor)
        if current is None:
            raise ValueError(
                f"ReduceLROnPlateau: monitor={self.monitor!r} is not in the logs; available: {sorted(logs)}"
            )
        logs["learning_rate"] = float(self.model.optimizer.learning_rate)
        if self.cooldown_counter > 0:
            self.cooldown_counter -= 1
            self.wait = 0
        if self._better(current):
            self.best, self.wait = current, 0
        elif self.cooldown_counter <= 0:
            self.wait += 1
            if self.wait >= self.patience:
                old = float(self.model.optimizer.learning_rate)
                if old > self.min_lr:
                    new = max(old * self.factor, self.min_lr)
                    self.model.optimizer.learning_rate = new
                    if self.verbose > 0:
                        print(f"\nEpoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new}.")
                    self.cooldown_counter, self.wait = self.cooldown, 0


class TerminateOnNaN(Callback):
    """Stop training when the loss becomes NaN or infinite, saying at which batch."""

    def __init__(self):
        super().__init__()
        self.message: str | None = None

    def on_train_batch_end(self, batch, logs=None):
        """Stop training if this batch's loss is NaN or infinite."""
        loss = (logs or {}).get("loss")
        if loss is not None and not math.isfinite(loss):
            self.message = f"Batch {batch}: Invalid loss, terminating training"
            print(self.message)
            self.model.stop_training = True


class LambdaCallback(Callback):
    """A callback from plain functions: ``LambdaCallback(on_epoch_end=lambda epoch, logs: ...)``."""

    _HOOKS = ("on_epoch_begin", "on_epoch_end", "on_train_batch_begin", "on_train_batch_end",
              "on_train_begin", "on_train_end")

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None,
                 on_train_end=None, on_train_batch_begin=None, on_train_batch_end=None, **kwargs):
        super().__init__()
        fns = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end,
                   on_train_begin=on_train_begin, on_train_end=on_train_end,
                   on_train_batch_begin=on_train_batch_begin or kwargs.pop("on_batch_begin", None),
                   on_train_batch_end=on_train_batch_end or kwargs.pop("on_batch_end", None))
        if kwargs:
            raise TypeError(f"LambdaCallback got unexpected argument(s) {sorted(kwargs)}")
        for name, fn in fns.items():
            if fn is not None:
                setattr(self, name, fn)
