"""Checks on what ``save``/``load`` are given and on the contents of rnnkit archives.

Every failure is a ``ValueError``/``TypeError`` (``FileNotFoundError`` for a missing
path) that names the file, the member or argument, what was expected and what was
found, instead of a zlib, json, zipfile or ``KeyError`` traceback from deep inside.
:mod:`rnnkit.saving` calls these at its entry points.
"""
from __future__ import annotations

import json
import math
import os
import warnings
import zipfile
import zlib

import numpy as np

__all__ = ["check_save_path", "check_load_path", "read_members", "parse_json", "check_config",
           "check_metadata", "check_user_metadata", "check_weight_keys", "check_optimizer_state",
           "warn_non_finite", "check_npz_headers"]

# What zipfile raises on a damaged archive (bad headers, unsupported "versions" or an
# "encrypted" flag made up by flipped bits, bad CRCs, corrupt deflate streams, data cut short).
ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, NotImplementedError, EOFError, RuntimeError)


def _fspath(path, what: str) -> str:
    try:
        return os.fspath(path)
    except TypeError:
        raise TypeError(f"{what}: filepath must be a str or os.PathLike; received "
                        f"{type(path).__name__} ({path!r})") from None


def check_save_path(path, what: str = "save") -> str:
    """The path to write, checked: a str/PathLike, not a directory, in an existing directory."""
    path = _fspath(path, what)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if os.path.isdir(path):
        raise ValueError(f"{what}: {path} is a directory; expected a file path such as "
                         f"{os.path.join(path, 'model.keras')}")
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        raise FileNotFoundError(f"{what}: cannot write {path}: the directory {directory} does not "
                                "exist (create it first, e.g. with os.makedirs)")
    return path


def check_load_path(path, what: str = "load_model") -> str:
    """The path to read, checked: a str/PathLike naming an existing regular file."""
    path = _fspath(path, what)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"{what}: no such file: {path}")
    if os.path.isdir(path):
        raise ValueError(f"{what}: {path} is a directory; expected an rnnkit model file "
                         "(.keras) or weights file")
    return path


def read_members(zf: zipfile.ZipFile, names, path: str, what: str = "load_model") -> dict[str, bytes]:
    """Read ``names`` from an open archive; corrupt data is a ValueError naming the member."""
    out = {}
    for name in names:
        try:
            out[name] = zf.read(name)
        except (*ZIP_ERRORS, OSError) as exc:
            raise ValueError(f"{what}: {path}: member {name} is corrupt or truncated ({exc}); the "
                             "file was damaged after it was written") from exc
    return out


def parse_json(data: bytes, path: str, member: str, what: str = "load_model"):
    """``json.loads`` with every failure (bad UTF-8, bad JSON, nesting too deep) a ValueError."""
    try:
        return json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{what}: {path}: {member} is not valid JSON ({exc})") from exc
    except RecursionError:
        raise ValueError(f"{what}: {path}: {member} is nested too deeply to be an rnnkit "
                         "config") from None


def _expect(ok: bool, path: str, where: str, expected: str, value, what: str) -> None:
    if not ok:
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        raise ValueError(f"{what}: {path}: {where} must be {expected}; received "
                         f"{type(value).__name__} {shown}")


def _depth(obj, limit: int) -> int:
    """Nesting depth of a parsed JSON value, stopping at ``limit``."""
    stack, deepest = [(obj, 1)], 0
    while stack:
        value, d = stack.pop()
        deepest = max(deepest, d)
        if deepest >= limit:
            return deepest
        if isinstance(value, dict):
            stack.extend((v, d + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, d + 1) for v in value)
    return deepest


def check_config(config, path: str, fmt: str, what: str = "load_model") -> None:
    """The shape of ``config.json``: the format tag, model class, config and compile config."""
    _expect(isinstance(config, dict), path, "config.json", "a JSON object", config, what)
    # Real configs nest a few levels (model > layers > layer > config > initializer);
    # a deeper one would only make from_config recurse.
    _expect(_depth(config, 64) < 64, path, "config.json", "nested at most 64 levels deep",
            "a deeper structure", what)
    _expect(config.get("format") == fmt, path, "config.json 'format'", repr(fmt),
            config.get("format"), what)
    _expect(isinstance(config.get("class_name"), str), path, "config.json 'class_name'",
            "a string such as 'Sequential'", config.get("class_name"), what)
    _expect(isinstance(config.get("config"), dict), path, "config.json 'config'",
            "a JSON object (the model's get_config())", config.get("config"), what)
    cc = config.get("compile_config")
    if cc is None:
        return
    _expect(isinstance(cc, dict), path, "config.json 'compile_config'", "a JSON object or null", cc, what)
    for key in ("optimizer", "loss"):
        _expect(key in cc, path, f"compile_config.{key}", "present", "nothing", what)
    opt = cc["optimizer"]
    _expect(isinstance(opt, (str, dict)), path, "compile_config.optimizer",
            "an optimizer name or {'class_name', 'config'}", opt, what)
    loss = cc["loss"]
    ok_one = (lambda v: v is None or isinstance(v, (str, dict)))
    _expect(ok_one(loss) or (isinstance(loss, list) and all(ok_one(v) for v in loss)), path,
            "compile_config.loss", "a loss name, a loss config or a list of them", loss, what)
    metrics = cc.get("metrics")
    _expect(metrics is None or isinstance(metrics, list), path, "compile_config.metrics",
            "a list or null", metrics, what)
    # compile() accepts unknown metric names until the first batch (as Keras does); a file
    # naming one is refused at load instead of at the next fit.
    from .metrics import get as get_metric

    for m in (metrics or []):
        for name in (m if isinstance(m, list) else [m]):
            if isinstance(name, str) and name.lower() not in ("accuracy", "acc"):
                try:
                    get_metric(name)
                except ValueError as exc:
                    raise ValueError(f"{what}: {path}: compile_config.metrics: {exc}") from None
    lw = cc.get("loss_weights")
    number = (lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v))
    _expect(lw is None or number(lw) or (isinstance(lw, list) and all(number(v) for v in lw)),
            path, "compile_config.loss_weights", "a finite number, a list of them, or null", lw, what)


def check_metadata(meta, path: str, fmt: str, what: str = "load_model") -> dict:
    """``metadata.json``: an object whose ``format``/``rnnkit_version`` are strings and whose
    ``user`` entry is an object; returns the user dict."""
    _expect(isinstance(meta, dict), path, "metadata.json", "a JSON object", meta, what)
    if "format" in meta:
        _expect(meta["format"] == fmt, path, "metadata.json 'format'", repr(fmt), meta["format"], what)
    for key in ("rnnkit_version", "date_saved"):
        if key in meta:
            _expect(isinstance(meta[key], str), path, f"metadata.json '{key}'", "a string", meta[key], what)
    user = meta.get("user")
    _expect(user is None or isinstance(user, dict), path, "metadata.json 'user'",
            "a JSON object (the model.metadata dict)", user, what)
    return dict(user or {})


def check_npz_headers(data: bytes, path: str, member: str, what: str = "load_model") -> None:
    """Read each ``.npy`` header of an ``.npz`` before NumPy does: refuse object (pickled)
    arrays, and arrays whose shape claims more bytes than the member holds (NumPy would
    allocate the claimed size before finding the data missing)."""
    import io

    headers = []
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for info in zf.infolist():
                with zf.open(info) as fh:
                    version = np.lib.format.read_magic(fh)
                    read = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                            else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = read(fh)
                    headers.append((info, shape, dtype, fh.tell()))
    except Exception as exc:  # bad zip, bad magic, bad header: the member is damaged
        raise ValueError(f"{what}: {path}: {member} is not a valid .npz array file ({exc})") from exc
    for info, shape, dtype, header in headers:
        if dtype.hasobject:
            raise ValueError(f"{what}: {path}: {member} array {info.filename} holds pickled "
                             "objects, which rnnkit refuses to load")
        need = int(np.prod(shape, dtype=object)) * dtype.itemsize
        if need > info.file_size - header:
            raise ValueError(f"{what}: {path}: {member} array {info.filename} claims shape "
                             f"{shape} ({need} bytes) but holds {info.file_size - header} bytes")


def check_user_metadata(metadata, what: str = "save") -> dict:
    """``model.metadata`` (and ``save(metadata=)``) must be a JSON-serializable dict."""
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise TypeError(f"{what}: metadata must be a dict of JSON values; received {type(metadata).__name__}")
    try:
        json.dumps(metadata, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{what}: metadata must hold only JSON values (str, numbers, bools, None, "
                        f"lists, dicts) and finite numbers; {exc}") from None
    return dict(metadata)


def check_weight_keys(arrays: dict, path: str, member: str, what: str = "load") -> list[str]:
    """The weight arrays' keys, in order: exactly ``w0000 .. w{n-1}`` as rnnkit writes them.

    A file whose keys were renamed would otherwise load in an unintended order.
    """
    keys = sorted(arrays)
    expected = [f"w{i:04d}" for i in range(len(keys))]
    if keys != expected:
        odd = [k for k in keys if k not in expected][:5]
        raise ValueError(f"{what}: {path}: {member} must hold arrays named w0000 .. "
                         f"w{len(keys) - 1:04d} (one per weight, in order); found {odd} "
                         f"among {len(keys)} keys")
    for k in keys:
        if arrays[k].dtype.kind not in "biuf":
            raise ValueError(f"{what}: {path}: {member} array {k} must be numeric; received "
                             f"dtype {arrays[k].dtype}")
    return keys


def warn_non_finite(arrays: dict, names: list[str], path: str) -> None:
    """Weights saved with NaN/inf (a diverged run) load, but say so."""
    bad = [name for k, name in zip(sorted(arrays), names)
           if arrays[k].dtype.kind == "f" and not np.isfinite(arrays[k]).all()]
    if bad:
        warnings.warn(f"load: {path}: weights {bad[:5]} hold NaN or inf values (non-finite); the "
                      "model will output NaN", RuntimeWarning, stacklevel=3)


def check_optimizer_state(state: dict, params: list, path: str, what: str = "load_model") -> None:
    """Slot arrays ``<slot>/<i>`` must match the shape of trainable weight ``i``."""
    for key, value in state.items():
        if key in ("iterations", "learning_rate"):
            continue
        slot, _, index = key.partition("/")
        if not index.isdigit() or int(index) >= len(params):
            raise ValueError(f"{what}: {path}: optimizer.npz has an unexpected array {key!r}; the "
                             f"model has {len(params)} trainable weights")
        if np.shape(value) != params[int(index)].shape:
            raise ValueError(f"{what}: {path}: optimizer.npz array {key!r} must have shape "
                             f"{params[int(index)].shape} (trainable weight {index}); received "
                             f"{np.shape(value)}")
