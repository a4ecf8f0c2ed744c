"""compile / fit / evaluate / predict (filled in by the training issue)."""
from __future__ import annotations

import numpy as np


class TrainingMixin:
    """Keras' training API on top of ``forward``/``backward``."""

    def predict(self, x, batch_size: int | None = 32, verbose="auto", steps=None, callbacks=None):
        x = np.asarray(x)
        batch_size = batch_size or 32
        outs = [self.call(x[i:i + batch_size]) for i in range(0, len(x), batch_size)]
        if isinstance(outs[0], list):
            return [np.concatenate(parts) for parts in zip(*outs)]
        return np.concatenate(outs)

    def predict_on_batch(self, x):
        return self.call(np.asarray(x))
