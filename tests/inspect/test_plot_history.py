"""PlotHistory: the training-curve PNG is redrawn, atomically, after every epoch."""
from __future__ import annotations

import os

import numpy as np
import pytest

image = pytest.importorskip("matplotlib.image")

import rnnkit  # noqa: E402
from rnnkit import callbacks_plot  # noqa: E402
from rnnkit.cli import main  # noqa: E402
from rnnkit.keras.callbacks import LambdaCallback, PlotHistory  # noqa: E402
from rnnkit.keras.layers import GRU, Dense  # noqa: E402
from rnnkit.keras.models import Sequential  # noqa: E402
from rnnkit.utils.plotting import plot_history  # noqa: E402

DATA = os.environ.get("RNNKIT_DATA")


@pytest.mark.slow
def test_plot_history_writes_the_curves_so_far_after_every_epoch(tmp_path, rng, monkeypatch):
    replaced = []
    real_replace = os.replace

    def spy(src, dst):
        replaced.append((os.path.dirname(src), os.path.basename(src), dst))
        real_replace(src, dst)

    monkeypatch.setattr(callbacks_plot.os, "replace", spy)
    path = str(tmp_path / "curves.png")
    rnnkit.set_seed(0)
    model = Sequential([GRU(4, input_shape=(5, 3)), Dense(1, activation="sigmoid")])
    model.compile(loss="binary_crossentropy", metrics=["acc"])
    x, y = rng.normal(size=(40, 5, 3)), rng.integers(0, 2, (40, 1)).astype(float)
    seen = []
    logs_so_far: dict = {}

    def check(epoch, logs):
        for k, v in logs.items():
            logs_so_far.setdefault(k, []).append(v)
        # What the file holds now is exactly the figure of the epochs so far.
        want = str(tmp_path / f"want{epoch}.png")
        plot_history(logs_so_far, want)
        got = image.imread(path)
        seen.append(got.shape)
        np.testing.assert_array_equal(got, image.imread(want))

    plot = PlotHistory(path, dpi=110)
    model.fit(x, y, epochs=2, batch_size=20, validation_split=0.25, verbose=0,
              callbacks=[plot, LambdaCallback(on_epoch_end=check)])
    assert len(seen) == 2 and plot.writes == 2
    assert sorted(plot.history) == ["acc", "loss", "val_acc", "val_loss"]
    assert [len(v) for v in plot.history.values()] == [2, 2, 2, 2]
    # Each write went to a temporary file beside the target, then replaced it in one step.
    assert len(replaced) == 2
    assert all(d == str(tmp_path) and name.endswith(".png") and dst == path for d, name, dst in replaced)
    assert sorted(os.listdir(tmp_path)) == ["curves.png", "want0.png", "want1.png"]


def test_plot_history_arguments(tmp_path):
    with pytest.raises(ValueError, match="extension"):
        PlotHistory(str(tmp_path / "curves"))
    p = PlotHistory(tmp_path / "c.svg", metrics=["loss"])
    p.on_train_begin()
    p.on_epoch_end(0, {"loss": 0.5, "acc": 0.7})
    p.on_epoch_end(1, {"loss": 0.4, "acc": 0.8})
    assert open(tmp_path / "c.svg").read().lstrip().startswith("<?xml")


@pytest.mark.slow
@pytest.mark.skipif(not DATA, reason="set RNNKIT_DATA to the shared data directory (CI does)")
def test_cli_train_plot_is_redrawn_every_epoch(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RNNKIT_CACHE", os.environ.get("RNNKIT_CACHE", str(tmp_path / "cache")))
    shapes = []
    original = PlotHistory.on_epoch_end

    def spy(self, epoch, logs=None):
        original(self, epoch, logs)
        shapes.append((epoch, image.imread(self.path).shape))

    monkeypatch.setattr(PlotHistory, "on_epoch_end", spy)
    rc = main(["train", "imdb", "--cell", "simple", "--epochs", "2", "--maxlen", "30", "--limit", "200",
               "--units", "4", "--embed-dim", "4", "--verbose", "0", "--plot", "curves.png", "--data", DATA])
    assert rc == 0
    assert [e for e, _ in shapes] == [0, 1]
    assert "training curves: curves.png" in capsys.readouterr().out
