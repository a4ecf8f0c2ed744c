"""rnnkit: Keras-compatible recurrent neural networks in readable NumPy.

    import rnnkit
    from rnnkit.keras.models import Sequential
    from rnnkit.keras.layers import Embedding, LSTM, Dense
"""
from __future__ import annotations

from ._version import __version__

from . import activations, backend, config, initializers, layers, models, ops
from .backend import set_random_seed
from .layers import (GRU, LSTM, Activation, Bidirectional, Dense, Dropout, Embedding, Flatten,
                     Input, Masking, SimpleRNN, TimeDistributed)
from .models import Model, Sequential
from .ops import GradientTape, Variable

set_seed = set_random_seed

__all__ = ["__version__", "set_seed", "set_random_seed", "Sequential", "Model", "Input", "Dense", "Activation",
           "Dropout", "Flatten", "Masking", "Embedding", "SimpleRNN", "LSTM", "GRU", "Bidirectional",
           "TimeDistributed", "layers", "models", "activations", "initializers", "backend", "ops",
           "GradientTape", "Variable"]
