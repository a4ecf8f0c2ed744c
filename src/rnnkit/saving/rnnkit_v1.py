"""Reading the archives rnnkit wrote before it adopted Keras 3's format (``rnnkit.keras/1``:
``config.json`` + ``model.weights.npz`` + optional ``optimizer.npz``)."""
from __future__ import annotations

import io

import numpy as np

from . import build, registry, safety

FORMAT = "rnnkit.keras/1"


def read_npz(data: bytes, path: str, member: str) -> dict[str, np.ndarray]:
    """Arrays of an ``.npz`` (never unpickled); member sizes were bounded by the zip reader."""
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object" in str(exc).lower():
            raise safety.fail(path, f"{member} holds pickled objects, which rnnkit refuses to load") from None
        raise safety.fail(path, f"{member} is not a valid .npz array file ({exc})") from None
    except Exception as exc:
        raise safety.fail(path, f"{member} is not a valid .npz array file ({exc})") from None


def set_weights_checked(model, arrays: dict[str, np.ndarray], path: str) -> None:
    expected = model.weights
    keys = sorted(arrays)
    if len(keys) != len(expected):
        raise safety.fail(path, f"holds {len(keys)} weight arrays; the model has {len(expected)}")
    for k, cur, name in zip(keys, expected, model.weight_names):
        if arrays[k].shape != cur.shape:
            raise safety.fail(path, f"weight {name} expects shape {cur.shape}; the file has {arrays[k].shape}")
    model.set_weights([arrays[k] for k in keys])


def load(path: str, zf: safety.SafeZip, compile: bool, safe_mode: bool):
    names = set(zf.names())
    missing = [m for m in ("config.json", "model.weights.npz", "metadata.json") if m not in names]
    if missing:
        raise safety.fail(path, f"not an rnnkit model file: missing {missing}")
    config = safety.parse_json(zf.read("config.json"), path, "config.json")
    meta = safety.parse_json(zf.read("metadata.json"), path, "metadata.json")
    safety.refuse_code(config, path, safe_mode)
    if not isinstance(config, dict) or config.get("format") != FORMAT:
        raise safety.fail(path, f"unknown format {config.get('format') if isinstance(config, dict) else None!r}; "
                                f"expected {FORMAT!r}")
    arrays = read_npz(zf.read("model.weights.npz"), path, "model.weights.npz")
    cls = registry.model_class(str(config.get("class_name")))
    if cls is None:
        raise safety.fail(path, f"unsupported model class {config.get('class_name')!r}; expected one of "
                                f"{registry.model_class_names()}")
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
    if not model.built:
        raise safety.fail(path, "the saved config has no input shape")
    set_weights_checked(model, arrays, path)
    model.metadata = dict(meta.get("user") or {}) if isinstance(meta, dict) else {}
    cc = config.get("compile_config")
    if compile and cc:
        model.compile(**build.compile_args(cc))
        if "optimizer.npz" in names:
            state = read_npz(zf.read("optimizer.npz"), path, "optimizer.npz")
            model.optimizer.set_state({k.replace("__", "/"): v for k, v in state.items()})
    return model
