"""Callbacks in a data-parallel ``fit``: every rank decides, only the chief writes.

The logs callbacks see are global (summed over the ranks), so EarlyStopping,
ReduceLROnPlateau or TerminateOnNaN take the same decision on every rank. Callbacks that
write (ModelCheckpoint, CSVLogger, the progress bar, or any callback with a true
``chief_only`` attribute) run on rank 0 only; the others run everywhere, with their prints
silenced on the other ranks. After each batch and epoch the ranks agree on
``model.stop_training`` (one rank stopping stops all), so no rank runs a step the others
skip.
"""
from __future__ import annotations

import contextlib

from .. import callbacks as callbacks_module


def is_chief_only(cb) -> bool:
    explicit = getattr(cb, "chief_only", None)
    if explicit is not None:
        return bool(explicit)
    return isinstance(cb, (callbacks_module.ModelCheckpoint, callbacks_module.CSVLogger,
                           callbacks_module.ProgbarLogger))


class _Discard:
    """A text stream that drops what is written (stdout of the non-chief ranks)."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


class SyncedCallbackList:
    """Wraps the :class:`CallbackList` of one ``fit`` call on one rank."""

    def __init__(self, inner, strategy, model):
        self.inner = inner
        self.strategy, self.model = strategy, model
        self.callbacks = list(inner.callbacks) if strategy.is_chief else \
            [cb for cb in inner.callbacks if not is_chief_only(cb)]

    def _quiet(self):
        if self.strategy.is_chief:
            return contextlib.nullcontext()
        return contextlib.redirect_stdout(_Discard())

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        def call(*args, **kwargs):
            if hook == "on_epoch_end":
                self.strategy.sync_non_trainable(self.model)
            with self._quiet():
                for cb in self.callbacks:
                    getattr(cb, hook)(*args, **kwargs)
            if hook in ("on_train_batch_end", "on_epoch_end"):
                self.model.stop_training = self.strategy.any_rank(bool(self.model.stop_training))
        return call
