"""Full-model HDF5 files (``model.save("m.h5")`` in Keras 3 and tf.keras 2.x) and legacy
HDF5 weight files: the architecture in the ``model_config`` attribute, compile arguments
in ``training_config``, weights by layer name under ``model_weights``, and the
optimizer's variables under ``optimizer_weights``."""
from __future__ import annotations

import json
import os

import numpy as np

from . import build, hdf5, keras_archive, layout, safety


def _training_config(tc) -> dict | None:
    """tf.keras/Keras ``training_config`` -> a Keras 3 style ``compile_config``."""
    if not isinstance(tc, dict) or "optimizer_config" not in tc:
        return None

    def metric(m):
        if isinstance(m, dict):
            cfg = m.get("config") or {}
            return cfg.get("name") or m.get("class_name")
        if isinstance(m, list):
            return [metric(x) for x in m]
        return m

    metrics = metric(tc.get("metrics"))
    if isinstance(metrics, list) and len(metrics) == 1 and isinstance(metrics[0], list):
        metrics = metrics[0]  # Keras 2 nests metrics per output
    return {"optimizer": tc["optimizer_config"], "loss": tc.get("loss"), "metrics": metrics,
            "loss_weights": tc.get("loss_weights")}


def _json_attr(f, key: str, path: str, safe_mode: bool):
    """The JSON text in attribute ``key`` (None when absent), parsed and checked for code."""
    with hdf5.guard(path):
        raw = f.attrs.get(key)
        if raw is not None and not isinstance(raw, (bytes, str)):
            raw = bytes(raw)
    if raw is None:
        return None
    value = safety.parse_json(raw, path, key)
    safety.refuse_code(value, path, safe_mode)
    return value


def _optimizer_arrays(f, path: str) -> list[np.ndarray] | None:
    with hdf5.guard(path):
        if "optimizer_weights" not in f:
            return None
        g = f["optimizer_weights"]
        arrays = []
        for n in hdf5.text_list(g.attrs.get("weight_names")):
            ds = g.get(n)
            if ds is None:
                raise safety.fail(path, f"optimizer weight {n!r} is listed but missing")
            arrays.append(hdf5.read_dataset(ds, path))
    return arrays


def load(path: str, compile: bool, safe_mode: bool):
    size = os.path.getsize(path)
    with hdf5.checked_file(path, path, size) as f:
        config = _json_attr(f, "model_config", path, safe_mode)
        if config is None:
            raise safety.fail(path, "an HDF5 weights file without a model config; build the model and "
                                    "call model.load_weights() on it instead")
        if not isinstance(config, dict):
            raise safety.fail(path, f"model_config must be a JSON object (a model config); received "
                                    f"{type(config).__name__}")
        with hdf5.guard(path):
            weights = f.get("model_weights")
        if weights is None:
            raise safety.fail(path, "the HDF5 file has a model config but no 'model_weights' group")
        budget = hdf5.declared_values(f, path, "model_weights")
        model, _ = build.model_from_keras_config(config, path, budget)
        build.set_weights(model, hdf5.read_legacy(weights, model, path), path)
        tc = _json_attr(f, "training_config", path, safe_mode) if compile else None
        if tc is not None:
            build.compile_from_keras(model, _training_config(tc), path)
            if getattr(model, "_compiled", False):
                build.restore_optimizer(model, _optimizer_arrays(f, path), path)
    model.metadata = {}
    return model


def write_model(fh, model, include_optimizer: bool) -> None:
    """Write ``model`` as a full-model HDF5 file that Keras 3 and rnnkit read."""
    h5py = hdf5._h5py()
    cfg = keras_archive.model_config(model)
    cc = cfg.pop("compile_config", None)
    with h5py.File(fh, "w") as f:
        f.attrs["keras_version"] = keras_archive.KERAS_VERSION
        f.attrs["backend"] = "tensorflow"
        f.attrs["model_config"] = json.dumps(cfg)
        hdf5.write_legacy(f.create_group("model_weights"), model, keras_archive.KERAS_VERSION)
        if cc is None:
            return
        f.attrs["training_config"] = json.dumps(
            {"loss": _full_loss_names(cc["loss"]), "metrics": cc["metrics"], "weighted_metrics": None,
             "loss_weights": cc["loss_weights"], "optimizer_config": cc["optimizer"]})
        opt = model.optimizer
        if include_optimizer and opt is not None:
            arrays = layout.optimizer_vars(opt, list(model.trainable_weights))
            g = f.create_group("optimizer_weights")
            names = [f"{opt.name}/var_{i}" for i in range(len(arrays))]
            g.attrs["weight_names"] = np.array([n.encode() for n in names])
            for n, a in zip(names, arrays):
                g.create_dataset(n, data=a)


# Keras 3's HDF5 loader resolves these short loss names as metrics and fails; the long
# names load everywhere.
_LOSS_ALIASES = {"mse": "mean_squared_error", "mae": "mean_absolute_error",
                 "mape": "mean_absolute_percentage_error", "msle": "mean_squared_logarithmic_error",
                 "kld": "kl_divergence", "kullback_leibler_divergence": "kl_divergence"}


def _full_loss_names(loss):
    if isinstance(loss, list):
        return [_full_loss_names(x) for x in loss]
    return _LOSS_ALIASES.get(loss, loss) if isinstance(loss, str) else loss


def write_weights(fh, model) -> None:
    """Legacy ``save_weights("m.h5")``: the ``model_weights`` layout at the file's root."""
    h5py = hdf5._h5py()
    with h5py.File(fh, "w") as f:
        hdf5.write_legacy(f, model, keras_archive.KERAS_VERSION)

