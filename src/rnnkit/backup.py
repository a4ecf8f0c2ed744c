"""``BackupAndRestore``: resume an interrupted ``fit`` where it stopped.

Keras' callback, with the same arguments. Every ``save_freq`` (each epoch, or every N
batches) it writes one file, ``<backup_dir>/training_state.npz``, atomically (a temporary
file renamed over the old one), holding

- the model's weights (``w0000``, ...), in ``get_weights()`` order;
- the optimizer's state (``opt/iterations``, ``opt/m/0``, ...), so Adam's moments and the
  step count (and any learning-rate schedule) carry on;
- ``fit_state``: a JSON string with the epoch and step to resume at, the shuffling
  generator's state for that epoch (so the resumed run sees the batches in the same order),
  and the random state of every layer that draws random numbers (dropout).

When ``fit`` starts with a backup present, the callback restores all of it and ``fit``
continues at that epoch and step: the resumed run ends with the same weights as one that
was never interrupted. The file holds only arrays and JSON: loading never unpickles.
When ``fit`` ends normally the file is deleted (``delete_checkpoint=True``); after Ctrl-C
it is kept.

The metrics' running averages are not saved: after resuming mid-epoch, that epoch's
logged loss and metrics average over the batches run since the resume.
"""
from __future__ import annotations

import json
import os
import tempfile

import numpy as np

from .callbacks import Callback

__all__ = ["BackupAndRestore"]

_FILE = "training_state.npz"


def _random_layers(model) -> list:
    """Every layer (once, in a fixed order) that owns a NumPy random generator."""
    out, seen = [], set()

    def visit(layer):
        if id(layer) in seen:
            return
        seen.add(id(layer))
        if isinstance(getattr(layer, "_rng", None), np.random.Generator):
            out.append(layer)
        for sub in list(getattr(layer, "_layers", None) or []) + list(getattr(layer, "_sublayers", None) or []):
            visit(sub)

    visit(model)
    return out


class BackupAndRestore(Callback):
    """Back up the training state to ``backup_dir`` and resume from it (see module docstring).

    Args:
        backup_dir: a directory (created if missing) used only for this backup.
        save_freq: ``"epoch"`` (after each epoch), an integer N (after every N batches), or
            False (never save; only restore).
        delete_checkpoint: delete the backup when ``fit`` finishes without interruption.
    """

    def __init__(self, backup_dir, save_freq="epoch", delete_checkpoint: bool = True):
        super().__init__()
        try:
            self.backup_dir = os.fspath(backup_dir)
        except TypeError:
            raise TypeError(f"BackupAndRestore: backup_dir must be a str or os.PathLike; received "
                            f"{type(backup_dir).__name__}") from None
        if not (save_freq == "epoch" or save_freq is False or (
                isinstance(save_freq, (int, np.integer)) and not isinstance(save_freq, bool)
                and save_freq > 0)):
            raise ValueError("BackupAndRestore: save_freq must be 'epoch', a positive integer "
                             f"(batches) or False; received {save_freq!r}")
        self.save_freq = save_freq
        self.delete_checkpoint = bool(delete_checkpoint)
        self._batches = 0

    @property
    def path(self) -> str:
        return os.path.join(self.backup_dir, _FILE)

    def _state(self):
        state = getattr(self.model, "_fit_state", None)
        if state is None:
            raise RuntimeError("BackupAndRestore works inside model.fit(callbacks=[...]) only")
        return state

    # -------------------------------------------------------------------- hooks
    def on_train_begin(self, logs=None):
        self._batches = 0
        os.makedirs(self.backup_dir, exist_ok=True)
        if os.path.exists(self.path):
            self._restore()

    def on_train_batch_end(self, batch, logs=None):
        self._batches += 1
        if self.save_freq not in ("epoch", False) and self._batches % int(self.save_freq) == 0:
            self._save()

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save()

    def on_train_end(self, logs=None):
        if self.delete_checkpoint and not self._state().interrupted and os.path.exists(self.path):
            os.remove(self.path)

    # -------------------------------------------------------------------- files
    def _save(self) -> None:
        model = self.model
        epoch, step, rng_state = self._state().position()
        meta = {"epoch": epoch, "step": step, "rng": rng_state,
                "layer_rngs": [lay._rng.bit_generator.state for lay in _random_layers(model)]}
        arrays = {f"w{i:04d}": w for i, w in enumerate(model.get_weights())}
        opt = getattr(model, "optimizer", None)
        if opt is not None:
            arrays.update({f"opt/{k}": np.asarray(v) for k, v in opt.get_state().items()})
        arrays["fit_state"] = np.array(json.dumps(meta))
        fd, tmp = tempfile.mkstemp(prefix=".backup-", suffix=".tmp", dir=self.backup_dir)
        try:
            with os.fdopen(fd, "wb") as fh:
                np.savez(fh, **{k.replace("/", "__"): v for k, v in arrays.items()})
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def _restore(self) -> None:
        model = self.model
        try:
            with np.load(self.path, allow_pickle=False) as z:
                arrays = {k.replace("__", "/"): z[k] for k in z.files}
            meta = json.loads(str(arrays.pop("fit_state")))
        except Exception as exc:  # any damage to the file: say which file, and how to proceed
            raise ValueError(f"BackupAndRestore: {self.path} is not a readable backup ({exc}); "
                             "delete it to start training from scratch") from exc
        weights = [arrays[k] for k in sorted(k for k in arrays if k.startswith("w"))]
        try:
            model.set_weights(weights)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"BackupAndRestore: {self.path} was written for a different model "
                             f"({exc}); delete it or use another backup_dir") from exc
        opt_state = {k[4:]: v for k, v in arrays.items() if k.startswith("opt/")}
        if opt_state and getattr(model, "optimizer", None) is not None:
            model.optimizer.set_state(opt_state)
        layers = _random_layers(model)
        for layer, rng_state in zip(layers, meta.get("layer_rngs", [])):
            layer._rng.bit_generator.state = rng_state
        self._state().resume_at(meta["epoch"], meta["step"], meta["rng"])
