"""``tensorflow.keras`` import paths over rnnkit: change only the import root.

    from rnnkit.keras.models import Sequential
    from rnnkit.keras import Input, Model          # the functional API
    from rnnkit.keras.layers import Embedding, LSTM, Dense
    from rnnkit.keras.preprocessing.sequence import pad_sequences
    from rnnkit.keras.datasets import imdb
"""
from __future__ import annotations

import importlib

from ..layers import Input
from ..models import Model, Sequential
from ..ops import GradientTape, Variable

_SUBMODULES = ("layers", "models", "optimizers", "losses", "metrics", "callbacks", "utils",
               "preprocessing", "datasets", "initializers", "activations", "backend", "regularizers",
               "constraints", "ops", "saving")


def __getattr__(name):
    # Submodules load on first use, so `import rnnkit.keras` stays cheap.
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'rnnkit.keras' has no attribute {name!r}")


__all__ = ["Input", "Model", "Sequential", "Variable", "GradientTape", *_SUBMODULES]
