"""Where ``fit`` is: epoch, step, and the random state that orders each epoch's batches.

:class:`~rnnkit.backup.BackupAndRestore` saves :meth:`FitState.position` and hands it back
with :meth:`FitState.resume_at`, so that a resumed ``fit`` starts at the same epoch and
step and draws the same batch order as the run it continues.
"""
from __future__ import annotations

import copy
from typing import Any, Mapping

import numpy as np


class FitState:
    """Kept on the model as ``model._fit_state`` while ``fit`` runs.

    Args:
        rng: the generator that shuffles each epoch (one permutation per epoch).
        steps: batches per epoch.
    """

    def __init__(self, rng: np.random.Generator, steps: int):
        self.rng = rng
        self.steps = steps
        self.epoch = 0
        self.step = -1  # last finished step of ``epoch``
        self.interrupted = False  # set when Ctrl-C stopped the run
        self._epoch_rng_state: Mapping[str, Any] | None = None
        self._resume: tuple[int, int, Mapping[str, Any] | None] | None = None

    def resume_at(self, epoch: int, step: int, rng_state: Mapping[str, Any] | None) -> None:
        """Start the run at ``epoch``/``step``; ``rng_state`` is the shuffling generator's
        state just before that epoch's permutation was drawn."""
        self._resume = (int(epoch), int(step), rng_state)

    def start(self, initial_epoch: int) -> tuple[int, int]:
        """The (epoch, step) the run starts at."""
        return (self._resume[0], self._resume[1]) if self._resume is not None else (initial_epoch, 0)

    def epoch_order(self, epoch: int, n: int, shuffle: bool) -> np.ndarray:
        """Sample order for ``epoch`` (restoring the saved generator when resuming into it)."""
        if self._resume is not None and epoch == self._resume[0] and self._resume[2] is not None:
            self.rng.bit_generator.state = self._resume[2]
        self._resume = None
        self._epoch_rng_state = copy.deepcopy(self.rng.bit_generator.state)
        self.epoch, self.step = epoch, -1
        return self.rng.permutation(n) if shuffle else np.arange(n)

    def batch_done(self, step: int) -> None:
        self.step = step

    def position(self) -> tuple[int, int, Mapping[str, Any] | None]:
        """(epoch, step, rng state) where a run resumed from here must start."""
        if self.step + 1 < self.steps:
            return self.epoch, self.step + 1, copy.deepcopy(self._epoch_rng_state)
        return self.epoch + 1, 0, copy.deepcopy(self.rng.bit_generator.state)
