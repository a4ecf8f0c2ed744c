"""Checks on what ``save``/``load`` are given and on the JSON and arrays inside model files.

:mod:`rnnkit.saving.safety` guards against hostile files (bombs, code, lying sizes);
this module makes every *wrong* argument or member a ``ValueError``/``TypeError`` that
names the argument or the file and member, what was expected and what was received,
instead of an ``IsADirectoryError``, ``KeyError``, ``json`` or ``zipfile`` error raised
from deep inside. Weights saved with NaN/inf load with a ``RuntimeWarning``.
"""
from __future__ import annotations

import io
import json
import math
import os
import warnings
import zipfile
from typing import Any

import numpy as np

from .safety import BASE_BYTES, MAX_RATIO, fail


# ------------------------------------------------------------------------------ arguments
def fspath(path: Any, what: str) -> str:
    """``path`` as a ``str``; a TypeError naming ``filepath`` for anything else."""
    try:
        out = os.fspath(path)
    except TypeError:
        shown = repr(path)
        raise TypeError(f"{what}: filepath must be a str or os.PathLike; received "
                        f"{type(path).__name__} ({shown[:60]})") from None
    return os.fsdecode(out) if isinstance(out, bytes) else out


def save_target(path: str, what: str, overwrite: bool) -> str:
    """The directory to write ``path`` in, after checking that ``path`` can be written."""
    if not isinstance(overwrite, bool):
        raise TypeError(f"{what}: overwrite must be True or False; received {overwrite!r}")
    if os.path.isdir(path):
        raise ValueError(f"{what}: {path} is a directory; expected a file path such as "
                         f"{os.path.join(path, 'model.keras')}")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{what}: cannot write {path}: the directory {directory} does not "
                                "exist (create it first, e.g. with os.makedirs)")
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{what}: {path} exists and overwrite=False")
    return directory


def existing_file(path: str, what: str, accepted: str) -> None:
    """``path`` must name an existing file (not a directory)."""
    if os.path.isdir(path):
        raise ValueError(f"{what}: {path} is a directory (a TensorFlow SavedModel?); expected {accepted}")
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what}: no such file: {path}")


def user_metadata(metadata: Any, what: str) -> dict:
    """``model.metadata`` (and ``save(metadata=)``) must be a dict of JSON values."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise TypeError(f"{what}: metadata must be a dict of JSON values; received "
                        f"{type(metadata).__name__}")
    try:
        json.dumps(metadata, allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise TypeError(f"{what}: metadata must hold only JSON values (str, finite numbers, bools, "
                        f"None, lists, dicts with str keys); {exc}") from None
    return dict(metadata)


# ------------------------------------------------------------------------------ JSON members
def _expect(ok: bool, path: str, where: str, expected: str, value: Any) -> None:
    if not ok:
        shown = repr(value)
        shown = shown if len(shown) <= 80 else shown[:77] + "..."
        raise fail(path, f"{where} must be {expected}; received {type(value).__name__} {shown}")


def keras_metadata(meta: Any, path: str) -> dict:
    """``metadata.json`` of a Keras 3 archive; returns rnnkit's user metadata (``{}`` if none)."""
    _expect(isinstance(meta, dict), path, "metadata.json", "a JSON object", meta)
    for key in ("keras_version", "date_saved"):
        if key in meta:
            _expect(isinstance(meta[key], str), path, f"metadata.json '{key}'", "a string", meta[key])
    extra = meta.get("rnnkit")
    if extra is None:
        return {}
    _expect(isinstance(extra, dict), path, "metadata.json 'rnnkit'", "a JSON object", extra)
    if "version" in extra:
        _expect(isinstance(extra["version"], str), path, "metadata.json 'rnnkit.version'", "a string",
                extra["version"])
    user = extra.get("metadata")
    _expect(user is None or isinstance(user, dict), path, "metadata.json 'rnnkit.metadata'",
            "a JSON object (the model.metadata dict)", user)
    return dict(user or {})


def v1_config(config: Any, path: str, fmt: str) -> None:
    """``config.json`` of an old rnnkit archive: format tag, model class and config."""
    _expect(isinstance(config, dict), path, "config.json", "a JSON object", config)
    _expect(config.get("format") == fmt, path, "config.json 'format'", repr(fmt), config.get("format"))
    _expect(isinstance(config.get("class_name"), str), path, "config.json 'class_name'",
            "a string such as 'Sequential'", config.get("class_name"))
    _expect(isinstance(config.get("config"), dict), path, "config.json 'config'",
            "a JSON object (the model's get_config())", config.get("config"))


def v1_metadata(meta: Any, path: str, fmt: str) -> dict:
    """``metadata.json`` of an old rnnkit archive; returns the user dict."""
    _expect(isinstance(meta, dict), path, "metadata.json", "a JSON object", meta)
    if "format" in meta:
        _expect(meta["format"] == fmt, path, "metadata.json 'format'", repr(fmt), meta["format"])
    for key in ("rnnkit_version", "date_saved"):
        if key in meta:
            _expect(isinstance(meta[key], str), path, f"metadata.json '{key}'", "a string", meta[key])
    user = meta.get("user")
    _expect(user is None or isinstance(user, dict), path, "metadata.json 'user'",
            "a JSON object (the model.metadata dict)", user)
    return dict(user or {})


def _finite_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def compile_config(cc: Any, path: str, where: str = "compile_config") -> dict | None:
    """Check the shape of a compile config (Keras 3, tf.keras or rnnkit's own); None: not compiled.

    Keras writes ``"loss": null`` for a model compiled without a loss; rnnkit cannot
    train such a model, so it loads uncompiled, with a warning.
    """
    if cc is None or cc == {}:  # Keras writes {} for a model that was never compiled
        return None
    _expect(isinstance(cc, dict), path, where, "a JSON object or null", cc)
    for key in ("optimizer", "loss"):
        _expect(key in cc, path, f"{where}.{key}", "present", "nothing")
    opt = cc["optimizer"]
    _expect(isinstance(opt, (str, dict)), path, f"{where}.optimizer",
            "an optimizer name or {'class_name', 'config'}", opt)
    if isinstance(opt, dict):
        _expect(isinstance(opt.get("class_name"), str) and isinstance(opt.get("config", {}), dict),
                path, f"{where}.optimizer", "{'class_name': str, 'config': dict}", opt)
    loss = cc["loss"]
    if loss is None:
        warnings.warn(f"{path}: the model was compiled without a loss; it loads uncompiled (call "
                      "compile() yourself)", stacklevel=4)
        return None
    one = (lambda v: v is None or isinstance(v, str)
           or (isinstance(v, dict) and isinstance(v.get("class_name"), str)))
    ok = one(loss) or (isinstance(loss, list) and all(one(v) for v in loss)) or \
        (isinstance(loss, dict) and "class_name" not in loss and all(one(v) for v in loss.values()))
    _expect(ok, path, f"{where}.loss", "a loss name, a loss config, or a list/dict of them", loss)
    for key in ("metrics", "weighted_metrics"):
        value = cc.get(key)
        _expect(value is None or isinstance(value, (list, dict)), path, f"{where}.{key}",
                "a list or null", value)
    lw = cc.get("loss_weights")
    _expect(lw is None or _finite_number(lw)
            or (isinstance(lw, list) and all(_finite_number(v) for v in lw))
            or (isinstance(lw, dict) and all(_finite_number(v) for v in lw.values())),
            path, f"{where}.loss_weights", "a finite number, a list/dict of them, or null", lw)
    return cc


def known_metrics(metrics: Any, path: str, where: str = "compile_config.metrics") -> Any:
    """``metrics`` without the names rnnkit does not know, each dropped with a warning.

    ``compile()`` accepts any name until the first batch (as Keras does); a file naming an
    unknown metric would load and then fail in ``fit``, so the loader says so up front and
    keeps the metrics it can compute (metrics never change the weights).
    """
    from .. import metrics as metrics_module

    def clean(m):
        if isinstance(m, list):
            return [c for c in (clean(x) for x in m) if c is not _DROPPED]
        if isinstance(m, dict) and "class_name" not in m:
            return {k: clean(v) for k, v in m.items()}
        if isinstance(m, str) and m.lower() not in ("accuracy", "acc", "crossentropy", "ce"):
            try:
                metrics_module.get(m)
            except (ValueError, TypeError, KeyError):
                warnings.warn(f"{path}: {where} names metric {m[:80]!r}, which rnnkit does not have; "
                              "the model is compiled without it", stacklevel=5)
                return _DROPPED
        return m

    return clean(metrics)


_DROPPED = object()


# ------------------------------------------------------------------------------ arrays
def warn_non_finite(arrays: list, names: list[str], path: str) -> None:
    """Weights saved with NaN/inf (a diverged run) load, but say so."""
    bad = [name for a, name in zip(arrays, names)
           if np.asarray(a).dtype.kind == "f" and not np.isfinite(a).all()]
    if bad:
        warnings.warn(f"{path}: weights {bad[:5]} hold NaN or inf values (non-finite); the model "
                      "will output NaN", RuntimeWarning, stacklevel=4)


def npz_headers(data: bytes, path: str, member: str) -> None:
    """Read each ``.npy`` header of an ``.npz`` before NumPy does: refuse object (pickled)
    arrays, members declaring more bytes than the data can hold (an inner zip bomb), and
    arrays whose shape claims more bytes than their member holds (NumPy would allocate the
    claimed size before finding the data missing)."""
    headers = []
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            infos = zf.infolist()
            total = sum(i.file_size for i in infos)
            if total > BASE_BYTES + MAX_RATIO * len(data):
                raise fail(path, f"{member} declares {total:,} uncompressed bytes in {len(data):,} "
                                 "bytes: a decompression bomb or a corrupt file")
            for info in infos:
                with zf.open(info) as fh:
                    version = np.lib.format.read_magic(fh)
                    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                            else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = read(fh)
                    headers.append((info, shape, dtype, fh.tell()))
    except Exception as exc:  # bad zip, bad magic, bad header: the member is damaged
        if isinstance(exc, ValueError) and str(exc).startswith(path):
            raise
        raise fail(path, f"{member} is not a valid .npz array file ({exc})") from None
    for info, shape, dtype, header in headers:
        if dtype.hasobject:
            raise fail(path, f"{member} array {info.filename} holds pickled objects, which rnnkit "
                             "refuses to load")
        need = math.prod(shape) * dtype.itemsize
        if need > info.file_size - header:
            raise fail(path, f"{member} array {info.filename} claims shape {shape} ({need:,} bytes) "
                             f"but holds {info.file_size - header:,} bytes")


def weight_keys(arrays: dict, path: str, member: str) -> list[str]:
    """The keys of an old rnnkit weights ``.npz``, in order: exactly ``w0000 .. w{n-1}``.

    A file whose keys were renamed would otherwise load in an unintended order.
    """
    keys = sorted(arrays)
    expected = [f"w{i:04d}" for i in range(len(keys))]
    if keys != expected:
        odd = [k for k in keys if k not in expected][:5]
        raise fail(path, f"{member} must hold arrays named w0000 .. w{max(len(keys) - 1, 0):04d} (one "
                         f"per weight, in order); found {odd} among {len(keys)} keys")
    for k in keys:
        if arrays[k].dtype.kind not in "biuf":
            raise fail(path, f"{member} array {k} must be numeric; received dtype {arrays[k].dtype}")
    return keys


def optimizer_npz(state: dict, shapes: list[tuple], path: str) -> None:
    """An old rnnkit ``optimizer.npz``: ``iterations``, ``learning_rate`` and ``<slot>__<i>``
    arrays shaped like trainable weight ``i`` (``shapes``)."""
    for key, value in state.items():
        if key in ("iterations", "learning_rate"):
            continue
        slot, _, index = key.partition("/")
        if not slot or not index.isdigit() or int(index) >= len(shapes):
            raise fail(path, f"optimizer.npz has an unexpected array {key!r}; expected iterations, "
                             f"learning_rate and <slot>__<i> for the model's {len(shapes)} trainable weights")
        if np.shape(value) != tuple(shapes[int(index)]):
            raise fail(path, f"optimizer.npz array {key!r} must have shape {tuple(shapes[int(index)])} "
                             f"(trainable weight {index}); received {np.shape(value)}")
