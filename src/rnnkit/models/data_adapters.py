"""``fit``/``evaluate``/``predict`` on iterables of batches (Keras 3 behaviour).

Accepted as ``x`` (and as ``validation_data``): a :class:`~rnnkit.utils.PyDataset` or Keras 2
``Sequence`` (indexed, re-read every epoch), a Python generator or iterator (read once), or
any other iterable (re-iterated every epoch), yielding ``x``, ``(x,)``, ``(x, y)`` or
``(x, y, sample_weight)`` batches of NumPy arrays. Batches may differ in size and in
``timesteps``: each is checked and run on its own.

Epochs follow Keras 3's ``EpochIterator``: without ``steps_per_epoch`` an epoch is one
pass over the data. With it, an epoch is that many batches, taken from a stream that
continues across epochs and restarts (a new pass) once a dataset of known length is used
up; a stream that runs dry early (a finite generator) stops training with a warning.
A dataset with no end (``num_batches`` None, or a generator read for several epochs)
needs ``steps_per_epoch``; without it fit raises a ValueError before training.
"""
from __future__ import annotations

import math
import warnings
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Iterator

import numpy as np

from .. import backend
from .. import callbacks as callbacks_module
from ..utils.py_dataset import PyDataset
from .data_checks import _num_samples


def is_iterable_data(x: Any) -> bool:
    """True for data that this module handles: a dataset, generator or other iterable of
    batches; False for arrays, lists/tuples/dicts of arrays and strings."""
    if x is None or isinstance(x, (np.ndarray, list, tuple, dict, str, bytes)) or hasattr(x, "__array__"):
        return False
    return isinstance(x, PyDataset) or hasattr(x, "__iter__") or hasattr(x, "__next__")


def unpack_batch(batch: Any) -> tuple[Any, Any, Any]:
    """``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` -> ``(x, y, sample_weight)``."""
    if isinstance(batch, list):
        batch = tuple(batch)
    if not isinstance(batch, tuple):
        return batch, None, None
    if len(batch) == 1:
        return batch[0], None, None
    if len(batch) == 2:
        return batch[0], batch[1], None
    if len(batch) == 3:
        return batch
    raise ValueError("A batch must be x, (x,), (x, y) or (x, y, sample_weight); received a tuple of "
                     f"{len(batch)} elements")


class _BatchSource:
    """One data argument as a stream of batches; see the module docstring for the rules.

    ``steps`` (per epoch, or None) and the epoch's batch count once known; ``epoch()``
    yields the batches of one epoch.
    """

    def __init__(self, data: Any, what: str, steps: int | None, shuffle: bool = False):
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, (int, np.integer))
                                  or steps <= 0):
            raise ValueError(f"{what}: the number of steps must be a positive integer or None; "
                             f"received {steps!r}")
        self.what, self.steps, self.shuffle = what, None if steps is None else int(steps), shuffle
        self.dataset: Any = data if isinstance(data, PyDataset) or (
            hasattr(data, "__getitem__") and hasattr(data, "__len__")) else None
        self.one_shot = self.dataset is None and (iter(data) is data if hasattr(data, "__iter__") else True)
        self.data = data
        self.rng = backend.make_rng(None)
        self._stream: Iterator | None = None
        self._seen = 0
        self.exhausted = False

    def num_batches(self) -> int | None:
        if self.dataset is None:
            return None
        n = getattr(self.dataset, "num_batches", None) if isinstance(self.dataset, PyDataset) \
            else len(self.dataset)
        return None if n is None else int(n)

    def known_steps(self) -> int | None:
        """Batches in one epoch, when known in advance."""
        if self.steps is not None:
            return self.steps
        return self.num_batches()

    def check_finite(self, epochs: int, arg: str) -> None:
        """Raise when an epoch would never end, or when a one-shot stream must serve several."""
        if self.steps is not None:
            return
        if self.dataset is not None and self.num_batches() is None:
            raise ValueError(f"{self.what}: the dataset has no end (num_batches is None), so pass "
                             f"{arg}= (how many batches make one epoch)")
        if self.one_shot and epochs > 1:
            raise ValueError(
                f"{self.what}: {type(self.data).__name__} is a generator or iterator, which can be read only "
                f"once and may never end, so with {epochs} epochs pass {arg}= (batches per epoch), or "
                "pass a re-iterable dataset (keras.utils.PyDataset, or an object whose __iter__ "
                "starts over)")

    # ------------------------------------------------------------------ streams
    def _indexed_pass(self) -> Iterator:
        """One pass over a PyDataset/Sequence, in shuffled order when asked, fetched ahead by
        ``workers`` threads."""
        ds, n = self.dataset, self.num_batches()
        if n is None:
            order: Any = _count()
        else:
            order = self.rng.permutation(n) if self.shuffle else range(n)
        workers = getattr(ds, "workers", 1) if isinstance(ds, PyDataset) else 1
        if workers <= 1:
            for i in order:
                yield ds[int(i)]
            return
        ahead = max(workers, getattr(ds, "max_queue_size", 10))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            pending: list = []
            it = iter(order)
            for i in it:
                pending.append(pool.submit(ds.__getitem__, int(i)))
                if len(pending) >= ahead:
                    break
            while pending:
                batch = pending.pop(0).result()
                nxt = next(it, None)
                if nxt is not None:
                    pending.append(pool.submit(ds.__getitem__, int(nxt)))
                yield batch

    def _new_pass(self) -> Iterator:
        if self.dataset is not None:
            return self._indexed_pass()
        if self.one_shot:
            if self._stream is not None or self.exhausted:
                return iter(())  # a generator is read once
            return self.data if hasattr(self.data, "__next__") else iter(self.data)
        return iter(self.data)

    def epoch(self) -> Iterator:
        """The batches of one epoch."""
        n = self.num_batches()
        if self.steps is None:
            stream = self._new_pass()
            self._stream = stream
            count = 0
            for batch in stream:
                count += 1
                yield batch
            if count == 0:
                self.exhausted = True
            return
        for _ in range(self.steps):
            if self._stream is None or (n is not None and self._seen >= n):
                if self._stream is not None and self.dataset is not None:
                    self._stream = None
                    self._warn_short()
                    return
                self._stream, self._seen = self._new_pass(), 0
            try:
                batch = next(self._stream)
            except StopIteration:
                self.exhausted = True
                self._warn_short()
                return
            self._seen += 1
            yield batch
        if n is not None and self._seen >= n:
            self._stream = None  # the next epoch starts a new pass

    def _warn_short(self) -> None:
        warnings.warn(f"{self.what}: the data ran out before the requested number of steps "
                      f"({self.steps}); make sure it can produce at least steps * epochs batches",
                      stacklevel=4)

    def on_epoch_begin(self) -> None:
        if isinstance(self.dataset, PyDataset):
            self.dataset.on_epoch_begin()

    def on_epoch_end(self) -> None:
        if hasattr(self.dataset, "on_epoch_end"):
            self.dataset.on_epoch_end()


def _count() -> Iterator[int]:
    i = 0
    while True:
        yield i
        i += 1


class _ArraySource(_BatchSource):
    """Arrays ``(x, y, sample_weight)`` cut into batches, for a fit whose validation data
    (but not x) is an iterable."""

    def __init__(self, x, y, sample_weight, batch_size: int, shuffle: bool, steps):
        self._n = _num_samples(x)
        self.arrays, self.batch_size = (x, y, sample_weight), batch_size
        super().__init__(self, "fit", steps, shuffle)
        self.dataset, self.one_shot = self, False

    def num_batches(self) -> int:
        return max(1, math.ceil(self._n / self.batch_size))

    def __len__(self) -> int:
        return self.num_batches()

    def on_epoch_begin(self) -> None:
        pass

    def on_epoch_end(self) -> None:
        pass

    def _indexed_pass(self) -> Iterator:
        order = self.rng.permutation(self._n) if self.shuffle else np.arange(self._n)
        x, y, sw = self.arrays
        for s in range(0, self._n, self.batch_size):
            idx = order[s:s + self.batch_size]
            yield _take(x, idx), _take(y, idx), None if sw is None else sw[idx]


def _take(x, idx):
    return [a[idx] for a in x] if isinstance(x, list) else x[idx]


# ---------------------------------------------------------------------- running
def _checked(model, batch, what: str, need_y: bool, step: int, class_weight=None):
    x, y, sw = unpack_batch(batch)
    if need_y and y is None:
        raise ValueError(f"{what}: the batches must be (x, y) or (x, y, sample_weight) tuples; batch "
                         f"{step} has no y")
    x, y, sw = model._check_data(x, y, sw, what)
    if class_weight is not None and y is not None:
        cw = model._class_weights(y, class_weight)
        sw = cw if sw is None else sw * cw
    return x, y, sw


def run_fit(model, x, y, *, batch_size, epochs, verbose, callbacks, validation_split, validation_data,
            shuffle, class_weight, sample_weight, initial_epoch, steps_per_epoch, validation_steps,
            validation_batch_size, validation_freq):
    """``model.fit`` when ``x`` or ``validation_data`` is an iterable of batches."""
    if not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative integer; received {epochs!r}")
    if is_iterable_data(x):
        if y is not None or sample_weight is not None:
            raise ValueError(f"fit: x is a {type(x).__name__} of batches, so y and sample_weight come "
                             "from its batches; pass y=None and sample_weight=None")
        if validation_split:
            raise ValueError("fit: validation_split works on arrays only; with a dataset or generator "
                             "pass validation_data instead")
        train = _BatchSource(x, "fit", steps_per_epoch, shuffle)
    else:
        x, y, sample_weight = model._check_data(x, y, sample_weight, "fit")
        if y is None:
            raise ValueError("fit: y (the targets) is required; received None")
        if class_weight is not None:
            cw = model._class_weights(y, class_weight)
            sample_weight = cw if sample_weight is None else sample_weight * cw
            class_weight = None
        train = _ArraySource(x, y, sample_weight, model._check_batch_size(batch_size, "fit"), shuffle,
                             steps_per_epoch)
    train.check_finite(epochs - initial_epoch, "steps_per_epoch")
    val = None
    if validation_data is not None:
        if is_iterable_data(validation_data):
            val = _BatchSource(validation_data, "fit (validation_data)", validation_steps)
            runs = len(range(initial_epoch, epochs)[validation_freq - 1::validation_freq])
            val.check_finite(runs, "validation_steps")
        elif not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise ValueError("fit: validation_data must be a tuple (x_val, y_val) or (x_val, y_val, "
                             f"sample_weight), or an iterable of batches; received "
                             f"{type(validation_data).__name__}")
    verbose = 1 if verbose == "auto" else int(verbose)
    history = callbacks_module.History()
    params = {"verbose": verbose, "epochs": epochs, "steps": train.known_steps()}
    cbs = callbacks_module.CallbackList(list(callbacks or []), add_history=history,
                                        add_progbar=verbose != 0, model=model, **params)
    model.stop_training = False
    cbs.on_train_begin({})
    logs: dict[str, Any] = {}
    for epoch in range(initial_epoch, epochs):
        model.reset_metrics()
        train.on_epoch_begin()
        cbs.on_epoch_begin(epoch, {})
        step = -1
        for step, batch in enumerate(train.epoch()):
            bx, by, bsw = _checked(model, batch, "fit", True, step, class_weight)
            cbs.on_train_batch_begin(step, {})
            model._train_step(bx, by, bsw)
            logs = model._logs()
            cbs.on_train_batch_end(step, logs)
            if model.stop_training:
                break
        if step < 0:
            if epoch == initial_epoch:
                raise ValueError("fit: x produced no batches (an empty dataset, or a generator "
                                 "already read to its end)")
            model.stop_training = True  # a finite stream ran dry: Keras stops, with a warning
            break
        train.on_epoch_end()
        if cbs.callbacks and cbs.callbacks[0].params.get("steps") is None:
            cbs.callbacks[0].params["steps"] = step + 1  # shared dict: later epochs show n/N
        epoch_logs = dict(logs)
        if validation_data is not None and (epoch + 1) % validation_freq == 0:
            if val is not None:
                vlogs = run_evaluate(model, val, verbose=0, return_dict=True)
            else:
                vlogs = model.evaluate(*validation_data[:2], sample_weight=(
                    validation_data[2] if len(validation_data) == 3 else None),
                    batch_size=validation_batch_size or batch_size, verbose=0, return_dict=True)
            epoch_logs.update({f"val_{k}": v for k, v in vlogs.items()})
        cbs.on_epoch_end(epoch, epoch_logs)
        if model.stop_training or train.exhausted:
            break
    cbs.on_train_end(logs)
    history.params = dict(history.params)
    history.model = model
    return history


def run_evaluate(model, x, *, y=None, sample_weight=None, steps=None, verbose="auto", return_dict=False):
    """``model.evaluate`` on an iterable of ``(x, y)``/``(x, y, sample_weight)`` batches."""
    if y is not None or sample_weight is not None:
        raise ValueError(f"evaluate: x is a {type(x).__name__} of batches, so y and sample_weight come from "
                         "its batches; pass y=None and sample_weight=None")
    source = x if isinstance(x, _BatchSource) else _BatchSource(x, "evaluate", steps)
    if not isinstance(x, _BatchSource):
        source.check_finite(1, "steps")
    verbose = 1 if verbose == "auto" else int(verbose)
    model.reset_metrics()
    bar = callbacks_module.Progbar(source.known_steps()) if verbose == 1 else None
    step = -1
    for step, batch in enumerate(source.epoch()):
        model._test_step(*_checked(model, batch, source.what, True, step))
        if bar is not None:
            bar.update(step + 1, model._logs())
    if step < 0:
        raise ValueError(f"{source.what}: the data produced no batches (an empty dataset, or a "
                         "generator already read to its end; pass validation_steps= to read a "
                         "generator a few batches at a time)")
    logs = model._logs()
    if bar is not None:
        bar.target = step + 1
        bar.update(step + 1, logs, finalize=True)
    return logs if return_dict else model._values(logs)


def run_predict(model, x, *, steps=None, verbose="auto"):
    """``model.predict`` on an iterable of batches (``x`` or tuples whose first item is x)."""
    source = _BatchSource(x, "predict", steps)
    source.check_finite(1, "steps")
    outs = []
    model._predict_memo = {}
    try:
        for step, batch in enumerate(source.epoch()):
            bx = unpack_batch(batch)[0]
            spec = model._input_spec()
            bx = model._check_input_list(bx, spec, "predict") if spec is not None else \
                model._as_input_array(bx)
            outs.append(model.call(bx, training=False))
    finally:
        model._predict_memo = None
    if not outs:
        raise ValueError("predict: x produced no batches (an empty dataset, or a generator already "
                         "read to its end)")
    if isinstance(outs[0], list):
        return [_concat(list(parts)) for parts in zip(*outs)]
    return _concat(outs)


def _concat(parts: list[np.ndarray]) -> np.ndarray:
    shapes = {p.shape[1:] for p in parts}
    if len(shapes) > 1:
        raise ValueError(
            "predict: the batches gave outputs of different shapes "
            f"{sorted(shapes, key=str)} (e.g. return_sequences=True on batches of different lengths), "
            "which cannot be joined into one array; call predict_on_batch on each batch instead")
    return np.concatenate(parts)
