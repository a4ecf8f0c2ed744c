"""Save and load models as one ``.keras`` zip archive, safely.

Archive members:

- ``config.json``: the architecture (``get_config``) and the compile arguments;
- ``model.weights.npz``: every weight array, in ``get_weights()`` order;
- ``optimizer.npz``: the optimizer's state (iterations and slots), when compiled;
- ``metadata.json``: rnnkit version, date, and the user's ``model.metadata`` dict.

Loading parses JSON and reads ``.npz`` with ``allow_pickle=False``: nothing in the
file is unpickled or executed. Layer classes come only from rnnkit's own registry.
Writing goes to a temporary file that replaces the target at the end, so a crash
mid-save leaves the previous file intact.
"""
from __future__ import annotations

import datetime
import io
import json
import os
import tempfile
import zipfile

import numpy as np

FORMAT = "rnnkit.keras/1"
_MEMBERS = ("config.json", "model.weights.npz", "metadata.json")


def _atomic_write(path: str, write) -> None:
    directory = os.path.dirname(os.path.abspath(path)) or "."
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


def _npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _weights_dict(model) -> dict[str, np.ndarray]:
    return {f"w{i:04d}": np.asarray(w) for i, w in enumerate(model.weights)}


def save_model(model, filepath, overwrite: bool = True, include_optimizer: bool = True,
               metadata: dict | None = None) -> None:
    """Write ``model`` to ``filepath`` (one zip archive, see the module docstring)."""
    from . import __version__

    path = os.fspath(filepath)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"save: {path} exists and overwrite=False")
    if not model.built:
        raise ValueError("save: the model is not built yet; call build() or fit() first")
    config = {"format": FORMAT, "class_name": type(model).__name__, "config": model.get_config(),
              "compile_config": getattr(model, "_compile_config", None)}
    user = dict(getattr(model, "metadata", None) or {})
    user.update(metadata or {})
    meta = {"format": FORMAT, "rnnkit_version": __version__,
            "date_saved": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "user": user}
    members = {
        "config.json": json.dumps(config, indent=1).encode(),
        "model.weights.npz": _npz_bytes(_weights_dict(model)),
        "metadata.json": json.dumps(meta, indent=1).encode(),
    }
    opt = getattr(model, "optimizer", None)
    if include_optimizer and opt is not None and getattr(model, "_compiled", False):
        members["optimizer.npz"] = _npz_bytes({k.replace("/", "__"): np.asarray(v)
                                               for k, v in opt.get_state().items()})

    def write(fh):
        with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name, data in members.items():
                zf.writestr(name, data)

    _atomic_write(path, write)


def _read_npz(data: bytes, path: str, member: str) -> dict[str, np.ndarray]:
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except ValueError as exc:
        raise ValueError(f"load_model: {path}: {member} holds pickled objects, which rnnkit refuses to "
                         "load") from exc
    except Exception as exc:
        raise ValueError(f"load_model: {path}: {member} is not a valid .npz array file ({exc})") from exc


def _read_archive(path: str) -> dict[str, bytes]:
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_model: no such file: {path}")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if "model.weights.h5" in names:
                raise ValueError(
                    f"load_model: {path} is a Keras-saved archive (HDF5 weights); rnnkit reads its own "
                    "format. Move weights with model.get_weights()/set_weights() instead"
                )
            missing = [m for m in _MEMBERS if m not in names]
            if missing:
                raise ValueError(f"load_model: {path} is not an rnnkit model file: missing {missing}")
            return {n: zf.read(n) for n in names}
    except zipfile.BadZipFile as exc:
        raise ValueError(
            f"load_model: {path} is not an rnnkit model file (not a zip archive, or truncated: {exc})"
        ) from exc


def _json(data: bytes, path: str, member: str):
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"load_model: {path}: {member} is not valid JSON ({exc})") from exc


def _set_weights_checked(model, arrays: dict[str, np.ndarray], path: str) -> None:
    expected = model.weights
    keys = sorted(arrays)
    if len(keys) != len(expected):
        raise ValueError(
            f"load: {path} holds {len(keys)} weight arrays; the model has {len(expected)}"
        )
    for k, cur, name in zip(keys, expected, model.weight_names):
        if arrays[k].shape != cur.shape:
            raise ValueError(
                f"load: {path}: weight {name} expects shape {cur.shape}; the file has {arrays[k].shape}"
            )
    model.set_weights([arrays[k] for k in keys])


def load_model(filepath, compile: bool = True, custom_objects: dict | None = None, safe_mode: bool = True):
    """Rebuild a model saved by :func:`save_model`, with its weights (and compiled, with its optimizer state).

    ``custom_objects``: ``{"name": class or function}`` for custom layers, losses and
    metrics that are not registered with ``keras.saving.register_keras_serializable``."""
    from .saving_registry import custom_object_scope
    with custom_object_scope(custom_objects):
        return _load_model(filepath, compile)


def _load_model(filepath, compile: bool):
    from . import losses, optimizers
    from .models import Model, Sequential

    path = os.fspath(filepath)
    members = _read_archive(path)
    config = _json(members["config.json"], path, "config.json")
    meta = _json(members["metadata.json"], path, "metadata.json")
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise ValueError(f"load_model: {path}: unknown format {config.get('format') if isinstance(config, dict) else config!r}; expected {FORMAT!r}")
    classes = {"Sequential": Sequential, "Model": Model, "Functional": Model}
    cls = classes.get(config.get("class_name"))
    if cls is None:
        raise ValueError(f"load_model: {path}: unsupported model class {config.get('class_name')!r}; "
                         f"expected one of {sorted(classes)}")
    try:
        model = cls.from_config(config["config"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"load_model: {path}: invalid model config ({exc})") from exc
    if not model.built:
        raise ValueError(f"load_model: {path}: the saved config has no input shape")
    _set_weights_checked(model, _read_npz(members["model.weights.npz"], path, "model.weights.npz"), path)
    model.metadata = dict(meta.get("user") or {})
    cc = config.get("compile_config")
    if compile and cc:
        def as_loss(v):
            return v if v is None or isinstance(v, str) else losses.deserialize(v)

        loss = [as_loss(v) for v in cc["loss"]] if isinstance(cc["loss"], list) else as_loss(cc["loss"])
        model.compile(optimizer=optimizers.deserialize(cc["optimizer"]), loss=loss,
                      metrics=cc.get("metrics") or None, loss_weights=cc.get("loss_weights"))
        if "optimizer.npz" in members:
            state = _read_npz(members["optimizer.npz"], path, "optimizer.npz")
            model.optimizer.set_state({k.replace("__", "/"): v for k, v in state.items()})
    return model


def save_weights(model, filepath, overwrite: bool = True) -> None:
    """Write only the weights (an ``.npz`` file, whatever the name's suffix)."""
    path = os.fspath(filepath)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"save_weights: {path} exists and overwrite=False")
    data = _npz_bytes(_weights_dict(model))
    _atomic_write(path, lambda fh: fh.write(data))


def load_weights(model, filepath) -> None:
    """Load weights written by :func:`save_weights` (or the weights of a full model file)."""
    path = os.fspath(filepath)
    if not os.path.exists(path):
        raise FileNotFoundError(f"load_weights: no such file: {path}")
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as zf:
            if "model.weights.npz" in zf.namelist() and "config.json" in zf.namelist():
                data = zf.read("model.weights.npz")
            else:
                data = open(path, "rb").read()
    else:
        data = open(path, "rb").read()
    _set_weights_checked(model, _read_npz(data, path, "weights"), path)
