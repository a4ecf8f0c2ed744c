"""``keras.utils.PyDataset`` (and Keras 2's ``Sequence``): a dataset of batches, indexed.

Subclass it, implement ``__len__`` (or the ``num_batches`` property; ``None`` means
infinite) and ``__getitem__(index) -> batch``, where a batch is ``x``, ``(x,)``,
``(x, y)`` or ``(x, y, sample_weight)`` of NumPy arrays::

    class Batches(PyDataset):
        def __init__(self, x, y, batch_size, **kwargs):
            super().__init__(**kwargs)          # workers=, use_multiprocessing=, max_queue_size=
            self.x, self.y, self.batch_size = x, y, batch_size

        def __len__(self):
            return -(-len(self.x) // self.batch_size)

        def __getitem__(self, i):
            s = slice(i * self.batch_size, (i + 1) * self.batch_size)
            return self.x[s], self.y[s]

``model.fit(Batches(x, y, 32), epochs=3)`` then reads batches ``0 .. len - 1`` each epoch
(in a shuffled order when ``fit(shuffle=True)``, as Keras 3 does) and calls
``on_epoch_end()`` after each epoch. With ``workers > 1`` the batches of an epoch are
fetched ahead by that many threads, which pays off when ``__getitem__`` waits on files or
releases the GIL (decoding, NumPy work on large arrays); ``use_multiprocessing`` is
accepted for Keras compatibility and also runs threads (rnnkit never pickles a dataset).
"""
from __future__ import annotations

import itertools
import warnings
from typing import Any, Iterator


class PyDataset:
    """Base class for indexed datasets of batches (see the module docstring).

    Args:
        workers: threads fetching batches ahead during ``fit``/``evaluate``/``predict``
            (1: fetch in the training thread).
        use_multiprocessing: accepted for compatibility; threads are used either way.
        max_queue_size: at most this many batches fetched ahead.
    """

    def __init__(self, workers: int = 1, use_multiprocessing: bool = False, max_queue_size: int = 10):
        for arg, value, low in (("workers", workers, 1), ("max_queue_size", max_queue_size, 1)):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ValueError(f"PyDataset: {arg} must be an integer >= {low}; received {value!r}")
        self._workers = workers
        self._use_multiprocessing = bool(use_multiprocessing)
        self._max_queue_size = max_queue_size

    def _defaults_if_super_not_called(self) -> None:
        if not hasattr(self, "_workers"):
            warnings.warn(f"{type(self).__name__} should call super().__init__(**kwargs) in its "
                          "constructor (kwargs may hold workers, use_multiprocessing, max_queue_size)",
                          stacklevel=3)
            self._workers, self._use_multiprocessing, self._max_queue_size = 1, False, 10

    @property
    def workers(self) -> int:
        self._defaults_if_super_not_called()
        return self._workers

    @workers.setter
    def workers(self, value: int) -> None:
        self._workers = value

    @property
    def use_multiprocessing(self) -> bool:
        self._defaults_if_super_not_called()
        return self._use_multiprocessing

    @use_multiprocessing.setter
    def use_multiprocessing(self, value: bool) -> None:
        self._use_multiprocessing = value

    @property
    def max_queue_size(self) -> int:
        self._defaults_if_super_not_called()
        return self._max_queue_size

    @max_queue_size.setter
    def max_queue_size(self, value: int) -> None:
        self._max_queue_size = value

    def __getitem__(self, index: int) -> Any:
        """The batch at position ``index``."""
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index)")

    @property
    def num_batches(self) -> int | None:
        """Batches per epoch (``len(self)`` by default); ``None`` for an infinite dataset."""
        if hasattr(type(self), "__len__"):
            return len(self)  # type: ignore[arg-type]
        raise NotImplementedError(
            f"{type(self).__name__} must implement __len__ or the num_batches property "
            "(return None for an infinite dataset)")

    def __iter__(self) -> Iterator:
        n = self.num_batches
        for i in (range(n) if n is not None else itertools.count()):
            yield self[i]

    def on_epoch_begin(self) -> None:
        """Called at the start of every epoch of ``fit``."""

    def on_epoch_end(self) -> None:
        """Called at the end of every epoch of ``fit`` (e.g. to reshuffle samples)."""


class Sequence(PyDataset):
    """Keras 2's ``keras.utils.Sequence``: a :class:`PyDataset` whose subclasses need not call
    ``super().__init__()`` (Keras 2's had no arguments)."""

    _workers, _use_multiprocessing, _max_queue_size = 1, False, 10

__all__ = ["PyDataset", "Sequence"]
