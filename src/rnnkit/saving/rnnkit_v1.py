"""Reading the archives rnnkit wrote before it adopted Keras 3's format (``rnnkit.keras/1``:
``config.json`` + ``model.weights.npz`` + optional ``optimizer.npz``)."""
from __future__ import annotations

import io

import numpy as np

from . import build, checks, registry, safety

FORMAT = "rnnkit.keras/1"


def read_npz(data: bytes, path: str, member: str) -> dict[str, np.ndarray]:
    """Arrays of an ``.npz`` (never unpickled); headers are checked before NumPy allocates."""
    checks.npz_headers(data, path, member)
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except Exception as exc:  # zlib, zipfile, format errors: the member is damaged
        raise safety.fail(path, f"{member} is not a valid .npz array file ({exc})") from None


def set_weights_checked(model, arrays: dict[str, np.ndarray], path: str, member: str = "weights") -> None:
    """Weights ``w0000 .. w{n-1}`` in ``model.weights`` order, counts and shapes checked."""
    keys = checks.weight_keys(arrays, path, member)
    expected = model.weights
    if len(keys) != len(expected):
        raise safety.fail(path, f"{member} holds {len(keys)} weight arrays; the model has {len(expected)}")
    for k, cur, name in zip(keys, expected, model.weight_names):
        if arrays[k].shape != cur.shape:
            raise safety.fail(path, f"weight {name} ({member} array {k}) expects shape {cur.shape}; the "
                                    f"file has {arrays[k].shape}")
    build.set_weights(model, [arrays[k] for k in keys], path)


def _restore_optimizer(model, data: bytes, path: str) -> None:
    state = read_npz(data, path, "optimizer.npz")
    state = {k.replace("__", "/"): v for k, v in state.items()}
    checks.optimizer_npz(state, [w.shape for w in model.trainable_weights], path)
    try:
        model.optimizer.set_state(state)
    except (ValueError, TypeError) as exc:
        raise safety.fail(path, f"optimizer.npz is not a valid optimizer state ({exc}); pass "
                                "compile=False to load the model without it") from None


def load(path: str, zf: safety.SafeZip, compile: bool, safe_mode: bool):
    names = set(zf.names())
    missing = [m for m in ("config.json", "model.weights.npz", "metadata.json") if m not in names]
    if missing:
        raise safety.fail(path, f"not an rnnkit model file: missing {missing}")
    config = safety.parse_json(zf.read("config.json"), path, "config.json")
    meta = safety.parse_json(zf.read("metadata.json"), path, "metadata.json")
    safety.refuse_code(config, path, safe_mode)
    checks.v1_config(config, path, FORMAT)
    user = checks.v1_metadata(meta, path, FORMAT)
    cc = checks.compile_config(config.get("compile_config"), path) if compile else None
    arrays = read_npz(zf.read("model.weights.npz"), path, "model.weights.npz")
    cls = registry.model_class(config["class_name"])
    if cls is None:
        raise safety.fail(path, f"config.json 'class_name' must be one of {registry.model_class_names()}; "
                                f"received {config['class_name']!r}")
    budget = sum(int(a.size) for a in arrays.values())
    try:
        with safety.allocation_limit(path, budget):
            model = cls.from_config(config["config"])
    except ValueError as exc:
        if str(exc).startswith(path):
            raise
        raise safety.fail(path, f"invalid model config ({exc})") from None
    except (KeyError, TypeError, IndexError, NotImplementedError, AttributeError) as exc:
        raise safety.fail(path, f"invalid model config ({type(exc).__name__}: {exc})") from None
    except RecursionError:
        raise safety.fail(path, "the model config nests too deeply") from None
    if not model.built:
        raise safety.fail(path, "the saved config has no input shape")
    set_weights_checked(model, arrays, path, "model.weights.npz")
    model.metadata = user
    if cc is not None:
        build.compile_from_keras(model, cc, path)
        if "optimizer.npz" in names and getattr(model, "_compiled", False):
            _restore_optimizer(model, zf.read("optimizer.npz"), path)
    return model
