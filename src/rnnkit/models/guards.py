"""Guards around fit/evaluate/predict: argument checks, finite-value checks on the data,
a warning when the loss becomes NaN, and a Ctrl-C that stops after the current batch.

Finite checks: by default ``fit``, ``evaluate``, ``predict``, ``train_on_batch`` and
``test_on_batch`` refuse ``x``, ``y`` or ``sample_weight`` holding NaN or inf with a
``ValueError`` naming the argument and the first bad sample (Keras would train on them and
turn the weights into NaN). ``model.compile(..., check_finite=False)`` or
``model.check_finite = False`` lets such data through.
"""
from __future__ import annotations

import math
import signal
import threading
import warnings

import numpy as np

VERBOSE_VALUES = ("auto", 0, 1, 2)


def check_flag(value, what: str, arg: str) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{what}: {arg} must be True or False; received {value!r}")
    return bool(value)


def check_fit_args(what: str, initial_epoch, shuffle, callbacks, class_weight) -> None:
    """The fit arguments that Keras checks late (or not at all), checked up front."""
    if isinstance(initial_epoch, bool) or not isinstance(initial_epoch, (int, np.integer)) \
            or initial_epoch < 0:
        raise ValueError(f"{what}: initial_epoch must be a non-negative integer; received {initial_epoch!r}")
    if not isinstance(shuffle, (bool, np.bool_)):
        raise ValueError(f"{what}: shuffle must be True or False; received {shuffle!r}")
    if callbacks is not None and not isinstance(callbacks, (list, tuple)):
        raise TypeError(f"{what}: callbacks must be a list of Callback instances; received "
                        f"{type(callbacks).__name__}")
    if class_weight is not None and not isinstance(class_weight, dict):
        raise TypeError(f"{what}: class_weight must be a dict {{class index: weight}}; received "
                        f"{type(class_weight).__name__}")


def check_numeric(arr: np.ndarray, what: str, arg: str) -> None:
    """Targets and weights must be numbers (string labels need encoding first)."""
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{what}: {arg} must be a numeric array; received dtype {arr.dtype}"
            + (" (encode string labels as integers first, e.g. with a dict or np.unique(..., "
               "return_inverse=True))" if arr.dtype.kind in "USO" else "")
        )


def first_non_finite(arr: np.ndarray):
    """Index (a tuple) of the first NaN/inf in a float array, or None."""
    if arr.dtype.kind not in "fc" or arr.size == 0:
        return None
    bad = ~np.isfinite(arr)
    if not bad.any():
        return None
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(bad)), arr.shape))


def check_finite(what: str, **arrays) -> None:
    """ValueError naming the first argument holding NaN/inf, its sample and the value.

    Each keyword is an argument name mapped to an array, a list of arrays (several
    inputs/outputs) or None.
    """
    for arg, value in arrays.items():
        parts = value if isinstance(value, list) else [value]
        for j, a in enumerate(parts):
            if a is None:
                continue
            where = first_non_finite(np.asarray(a))
            if where is None:
                continue
            name = f"{arg}[{j}]" if isinstance(value, list) else arg
            raise ValueError(
                f"{what}: {name} contains {np.asarray(a)[where]} at sample {where[0]} (index "
                f"{where}); rnnkit refuses non-finite data by default. Clean the data, or pass "
                "check_finite=False to compile() (or set model.check_finite = False) to let it "
                "through"
            )


def single_loss(loss, what: str = "compile"):
    """A single-output model takes one loss; a list or tuple of exactly one is unwrapped."""
    if isinstance(loss, (list, tuple)):
        if len(loss) != 1:
            raise ValueError(f"{what}: the model has one output, so loss takes one value; received a "
                             f"{type(loss).__name__} of {len(loss)}: {list(loss)!r}")
        return loss[0]
    if isinstance(loss, dict) and "class_name" not in loss:
        if len(loss) != 1:
            raise ValueError(f"{what}: the model has one output, so loss takes one value; received "
                             f"a dict with keys {sorted(loss)}")
        return next(iter(loss.values()))
    return loss


class NaNLossWatch:
    """Warns once per run, with the epoch and batch, when the training loss is not finite."""

    def __init__(self, what: str):
        self.what = what
        self.warned = False

    def after_batch(self, loss, batch: int, epoch: int | None = None) -> None:
        if self.warned or loss is None or math.isfinite(float(loss)):
            return
        self.warned = True
        at = f"epoch {epoch + 1}, batch {batch}" if epoch is not None else f"batch {batch}"
        warnings.warn(
            f"{self.what}: the loss became {float(loss)} at {at}; the weights are probably no "
            "longer finite. Lower the learning rate, clip gradients (clipnorm=), or add the "
            "TerminateOnNaN callback to stop at once",
            RuntimeWarning, stacklevel=3)


class InterruptGuard:
    """While active (main thread only), Ctrl-C (SIGINT) sets :attr:`requested` instead of
    raising, so fit can finish the current batch and close down; a second Ctrl-C raises
    KeyboardInterrupt at once."""

    def __init__(self):
        self.requested = False
        self._previous = None

    def _handler(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self) -> "InterruptGuard":
        if threading.current_thread() is threading.main_thread():
            try:
                self._previous = signal.signal(signal.SIGINT, self._handler)
            except ValueError:  # not the main interpreter (e.g. a subinterpreter)
                self._previous = None
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
