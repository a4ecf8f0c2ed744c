"""Saving and loading models: Keras 3's ``.keras`` (native), HDF5 ``.h5``, weights files.

``load_model`` accepts, told apart by content rather than by name:

- ``.keras`` archives written by Keras 3 or by rnnkit (``config.json``, ``metadata.json``,
  ``model.weights.h5``), and the archives older rnnkit versions wrote (``.npz`` weights);
- full-model HDF5 files written by Keras 3 or tf.keras 2.x (``model.save("m.h5")``).

``load_weights`` also accepts ``.weights.h5`` (Keras 3) and legacy HDF5 weight files
(layers matched by name), and old rnnkit ``.npz`` weights.

Nothing in a file is executed or unpickled; see :mod:`rnnkit.saving.safety` for the
checks. Writing goes to a temporary file that replaces the target at the end, so a crash
mid-save leaves the previous file intact.
"""
from __future__ import annotations

import os
import tempfile

from .. import saving_registry
from . import build, checks, hdf5, keras_archive, layout, legacy_h5, rnnkit_v1, safety
from .registry import register_model_class

__all__ = ["save_model", "load_model", "save_weights", "load_weights", "register_model_class"]

_ACCEPTED = ("a .keras archive (Keras 3 or rnnkit) or a full-model .h5 file (Keras 3 or tf.keras 2.x)")


def _target(path: str, what: str, overwrite: bool) -> str:
    return checks.save_target(path, what, overwrite)


def _atomic_write(path: str, directory: str, write) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".rnnkit-", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _is_h5_name(path: str) -> bool:
    return path.endswith((".h5", ".hdf5")) and not path.endswith(".weights.h5")


def save_model(model, filepath, overwrite: bool = True, include_optimizer: bool = True,
               metadata: dict | None = None, **kwargs) -> None:
    """Write ``model``: a Keras 3 ``.keras`` archive, or full-model HDF5 for ``.h5``/``.hdf5``.

    ``metadata``: a JSON-able dict stored with the model (merged over ``model.metadata``)
    and given back as ``load_model(...).metadata``.
    """
    path = checks.fspath(filepath, "save")
    save_format = kwargs.pop("save_format", None)
    if save_format not in (None, "keras", "h5", "tf"):
        raise ValueError(f"save: save_format must be 'keras' or 'h5'; received {save_format!r}")
    if kwargs:
        raise TypeError(f"save() got unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
    directory = _target(path, "save", overwrite)
    if not model.built:
        raise ValueError("save: the model is not built yet; call build() or fit() first")
    user = checks.user_metadata(getattr(model, "metadata", None), "save (model.metadata)")
    user.update(checks.user_metadata(metadata, "save"))
    if _is_h5_name(path):
        _atomic_write(path, directory, lambda fh: legacy_h5.write_model(fh, model, include_optimizer))
        return
    members = keras_archive.archive_members(model, include_optimizer, user)
    _atomic_write(path, directory, lambda fh: keras_archive.write_archive(fh, members))


def _existing(path: str, what: str) -> None:
    checks.existing_file(path, what, _ACCEPTED)


def load_model(filepath, compile: bool = True, safe_mode: bool = True, custom_objects=None):
    """Rebuild a saved model with its weights (and, when ``compile``, its optimizer state).

    ``safe_mode``: refuse files holding Python code (``Lambda`` layers) — the default.
    ``custom_objects``: ``{"name": class or function}`` for custom layers, losses and metrics
    not registered with ``keras.saving.register_keras_serializable``. Classes are looked up
    by name only: nothing in the file is imported or run.
    """
    with saving_registry.custom_object_scope(custom_objects):
        return _load_model(filepath, compile, safe_mode)


def _load_model(filepath, compile: bool, safe_mode: bool):
    path = checks.fspath(filepath, "load_model")
    _existing(path, "load_model")
    kind = safety.sniff(path)
    if kind == "zip":
        with safety.SafeZip(path) as zf:
            names = set(zf.names())
            if "model.weights.h5" in names:
                return keras_archive.load(path, zf, compile, safe_mode)
            if "model.weights.npz" in names:
                return rnnkit_v1.load(path, zf, compile, safe_mode)
            if names and all(n.endswith(".npy") for n in names):
                raise safety.fail(path, "a weights-only .npz file; build the model and call "
                                        "model.load_weights() on it")
            raise safety.fail(path, f"a zip archive but not a model file (members: {sorted(names)[:5]}); "
                                    f"expected {_ACCEPTED}")
    if kind == "hdf5":
        return legacy_h5.load(path, compile, safe_mode)
    raise safety.fail(path, f"unknown file type ({_describe(kind)}); expected {_ACCEPTED}")


def _describe(kind: str) -> str:
    return {"pickle": "a Python pickle, which rnnkit never loads", "npy": "a single .npy array",
            "json": "JSON text (an architecture only? use model_from_json)",
            "unknown": "not a zip archive nor HDF5"}.get(kind, kind)


def save_weights(model, filepath, overwrite: bool = True) -> None:
    """Write only the weights: Keras 3's layout for ``.weights.h5`` (and other names),
    the legacy layer-name layout for ``.h5``/``.hdf5``."""
    path = checks.fspath(filepath, "save_weights")
    directory = _target(path, "save_weights", overwrite)
    if _is_h5_name(path):
        _atomic_write(path, directory, lambda fh: legacy_h5.write_weights(fh, model))
        return
    data = keras_archive.weights_h5(model, include_optimizer=False)
    _atomic_write(path, directory, lambda fh: fh.write(data))


def load_weights(model, filepath, skip_mismatch: bool = False) -> None:
    """Load weights from any file :func:`load_model` reads, a ``.weights.h5`` (Keras 3),
    a legacy ``.h5`` weights file (layers matched by name), or an old rnnkit ``.npz``."""
    path = checks.fspath(filepath, "load_weights")
    if skip_mismatch:
        raise ValueError("load_weights: skip_mismatch=True is not supported by rnnkit; every weight in "
                         "the file must match the model")
    _existing(path, "load_weights")
    if not getattr(model, "built", True):
        raise ValueError(f"load_weights: the model is not built yet, so it has no weights to receive "
                         f"those of {path}; call build() or call the model on data first")
    kind = safety.sniff(path)
    shapes = [w.shape for w in model.weights]
    if kind == "hdf5":
        with hdf5.checked_file(path, path, os.path.getsize(path)) as f:
            build.set_weights(model, _h5_weights(f, model, shapes, path), path)
        return
    if kind != "zip":
        raise safety.fail(path, f"unknown weights file type ({_describe(kind)}); expected a .weights.h5, "
                                f".h5 or .keras file")
    with safety.SafeZip(path) as zf:
        names = set(zf.names())
        if "model.weights.h5" in names:
            data = zf.read("model.weights.h5")
            with hdf5.checked_file(data, path, len(data)) as f:
                build.set_weights(model, _h5_weights(f, model, shapes, path), path)
            return
        data = zf.read("model.weights.npz") if "model.weights.npz" in names else None
    if data is None:
        with open(path, "rb") as fh:
            data = fh.read()
    rnnkit_v1.set_weights_checked(model, rnnkit_v1.read_npz(data, path, "weights"), path, "weights")


def _h5_weights(f, model, shapes, path):
    with hdf5.guard(path):
        kind = ("vars" if "layers" in f or ("vars" in f and "model_weights" not in f) else
                "model_weights" if "model_weights" in f else
                "legacy" if "layer_names" in f.attrs else None)
    if kind == "vars":
        return hdf5.read_vars(f, layout.model_entries(model), shapes, path)
    if kind == "model_weights":
        with hdf5.guard(path):
            group = f["model_weights"]
        return hdf5.read_legacy(group, model, path)
    if kind == "legacy":
        return hdf5.read_legacy(f, model, path)
    raise safety.fail(path, "an HDF5 file without Keras weights (no 'layers' group, 'model_weights' group "
                            "or 'layer_names' attribute)")


