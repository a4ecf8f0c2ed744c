"""``PlotHistory``: the training curves as a PNG that is redrawn after every epoch."""
from __future__ import annotations

import os

from .callbacks import Callback


class PlotHistory(Callback):
    """Rewrite ``path`` with the loss and metric curves after every epoch, so the file
    is correct (and can be watched) while training runs.

    Each write goes to a temporary file in the same directory that then replaces
    ``path`` in one step (``os.replace``), so a reader never sees a half-written
    image. Needs matplotlib (the ``plot`` extra).

    Args:
        path: where the figure goes; the extension picks the format (``.png``, ``.pdf``, ``.svg``).
        metrics: names to plot (default: every logged name without ``val_``; each
            with its ``val_`` twin when there is one).
        dpi: resolution of raster formats.
    """

    chief_only = True  # under MPI, rank 0 alone writes the file

    def __init__(self, path, metrics=None, dpi: int = 110):
        super().__init__()
        path = os.fspath(path)
        if not isinstance(path, str) or not os.path.splitext(path)[1]:
            raise ValueError(f"PlotHistory: path must be a file name with an extension such as .png; "
                             f"received {path!r}")
        try:
            import matplotlib  # noqa: F401
        except ImportError as exc:
            raise ImportError("PlotHistory needs matplotlib: pip install 'rnnkit[plot]' "
                              "(or pip install matplotlib)") from exc
        self.path = path
        self.metrics = list(metrics) if metrics is not None else None
        self.dpi = int(dpi)
        self.history: dict[str, list[float]] = {}
        self.writes = 0

    def on_train_begin(self, logs=None):
        self.history = {}

    def on_epoch_end(self, epoch, logs=None):
        for k, v in (logs or {}).items():
            self.history.setdefault(k, []).append(float(v))
        self.write()

    def write(self) -> None:
        """Draw the curves recorded so far and atomically replace the file."""
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from .utils.plotting import plot_history

        folder, name = os.path.split(os.path.abspath(self.path))
        root, ext = os.path.splitext(name)
        tmp = os.path.join(folder, f".{root}.{os.getpid()}.partial{ext}")
        fig = plot_history(self.history, None, self.metrics)
        try:
            fig.savefig(tmp, dpi=self.dpi)
            os.replace(tmp, self.path)
        finally:
            plt.close(fig)
            if os.path.exists(tmp):
                os.remove(tmp)
        self.writes += 1
