"""Utilities: seeding, label/sequence helpers and plotting."""
from __future__ import annotations

import importlib

from ..backend import set_random_seed

_LAZY = {
    "to_categorical": ("..utils.numerical", "to_categorical"),
    "normalize": ("..utils.numerical", "normalize"),
    "pad_sequences": ("..preprocessing.sequence", "pad_sequences"),
    "plot_history": ("..utils.plotting", "plot_history"),
    "PyDataset": ("..utils.py_dataset", "PyDataset"),
    "Sequence": ("..utils.py_dataset", "Sequence"),
    "timeseries_dataset_from_array": ("..utils.dataset_utils", "timeseries_dataset_from_array"),
    "text_dataset_from_directory": ("..utils.dataset_utils", "text_dataset_from_directory"),
    "unpack_x_y_sample_weight": ("..models.custom_steps", "unpack_x_y_sample_weight"),
    "register_keras_serializable": ("..saving_registry", "register_keras_serializable"),
    "custom_object_scope": ("..saving_registry", "custom_object_scope"),
    "get_registered_name": ("..saving_registry", "get_registered_name"),
    "get_registered_object": ("..saving_registry", "get_registered_object"),
}


def __getattr__(name):
    # Imported on first use so that `import rnnkit` does not load text or plotting code.
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module, __name__), attr)
    raise AttributeError(f"module 'rnnkit.utils' has no attribute {name!r}")


__all__ = ["set_random_seed", *_LAZY]
