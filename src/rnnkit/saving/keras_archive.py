"""Keras 3's ``.keras`` archive: ``config.json``, ``metadata.json``, ``model.weights.h5``.

This is rnnkit's native format: what ``model.save("m.keras")`` writes is what real
Keras 3 writes and reads, and files written by Keras 3 load here with the same
predictions, compile configuration and optimizer state. rnnkit's own extras (its
version and ``model.metadata``) travel in ``metadata.json`` under ``rnnkit``.
"""
from __future__ import annotations

import datetime
import io
import json
import zipfile

from .._version import __version__
from . import build, checks, config_out, hdf5, layout, safety

KERAS_VERSION = "3.0.0"  # the oldest Keras whose loader reads what we write


def model_config(model) -> dict:
    """``model``'s config as Keras 3 writes it (with ``compile_config`` when compiled)."""
    cfg = model.get_config()
    if type(model).__name__ == "Sequential":
        entry = config_out.sequential(cfg, getattr(model, "_input_dtype", None))
    else:
        entry = config_out.functional(cfg, config_out.tensor_specs(model))
    cc = config_out.compile_config(getattr(model, "_compile_config", None))
    if cc is not None:
        entry["compile_config"] = cc
    return entry


def weights_h5(model, include_optimizer: bool) -> bytes:
    """The ``model.weights.h5`` member (also what ``save_weights("x.weights.h5")`` writes)."""
    h5py = hdf5._h5py()
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        hdf5.write_vars(f, layout.model_entries(model), model.weights)
        opt = getattr(model, "optimizer", None)
        if include_optimizer and opt is not None and getattr(model, "_compiled", False):
            params = list(model.trainable_weights)
            hdf5.write_list(f, "optimizer/vars", opt.name, layout.optimizer_vars(opt, params))
    return buf.getvalue()


def archive_members(model, include_optimizer: bool, metadata: dict) -> dict[str, bytes]:
    meta = {"keras_version": KERAS_VERSION,
            "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
            "rnnkit": {"version": __version__, "metadata": metadata}}
    return {"metadata.json": json.dumps(meta).encode(),
            "config.json": json.dumps(model_config(model)).encode(),
            "model.weights.h5": weights_h5(model, include_optimizer)}


def write_archive(fh, members: dict[str, bytes]) -> None:
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)


def load(path: str, zf: safety.SafeZip, compile: bool, safe_mode: bool):
    """Build the model of a Keras 3 archive (already opened as ``zf``)."""
    names = set(zf.names())
    missing = [m for m in ("config.json", "model.weights.h5") if m not in names]
    if missing:
        raise safety.fail(path, f"not a Keras model archive: missing {missing}")
    config = safety.parse_json(zf.read("config.json"), path, "config.json")
    meta = safety.parse_json(zf.read("metadata.json"), path, "metadata.json") \
        if "metadata.json" in names else {}
    safety.refuse_code(config, path, safe_mode)
    if not isinstance(config, dict):
        raise safety.fail(path, f"config.json must be a JSON object (a model config); received "
                                f"{type(config).__name__}")
    user = checks.keras_metadata(meta, path)
    weights = zf.read("model.weights.h5")
    with hdf5.checked_file(weights, path, len(weights)) as f:
        with hdf5.guard(path):
            has_layers, has_optimizer = "layers" in f, "optimizer" in f
        budget = hdf5.declared_values(f, path, "layers") if has_layers else 0
        model, order = build.model_from_keras_config(config, path, budget)
        entries = layout.model_entries(model, order=order)
        build.set_weights(model, hdf5.read_vars(f, entries, [w.shape for w in model.weights], path), path)
        if compile:
            build.compile_from_keras(model, config.get("compile_config"), path)
            if getattr(model, "_compiled", False) and has_optimizer:
                arrays = hdf5.read_list(f, "optimizer/vars", path)
                build.restore_optimizer(model, arrays, path)
    model.metadata = user
    return model
