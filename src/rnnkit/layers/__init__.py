"""rnnkit layers, with Keras' names and arguments."""
from __future__ import annotations

from .base import Input, InputLayer, KerasTensor, Layer
from .bidirectional import Bidirectional
from .core import Activation, Dense, Dropout, Flatten, Masking
from .embedding import Embedding
from .gru import GRU, gru_step
from .lambda_layer import Lambda
from .op_layer import OpLayer
from .lstm import LSTM, lstm_step
from .merge import (Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract, add, average,
                    concatenate, maximum, minimum, multiply, subtract)
from .recurrent import RecurrentLayer
from .simple_rnn import SimpleRNN, simple_rnn_step
from .wrappers import TimeDistributed

_CLASSES = {c.__name__: c for c in (
    InputLayer, Dense, Activation, Dropout, Flatten, Masking, Embedding, SimpleRNN, LSTM, GRU,
    Bidirectional, TimeDistributed, Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum,
    Lambda, OpLayer)}


def deserialize(config: dict) -> Layer:
    """Rebuild a layer from ``{"class_name": ..., "config": {...}}`` (only rnnkit's own classes)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"Layer config must be a dict with 'class_name' and 'config'; received {config!r}")
    cls = _CLASSES.get(config["class_name"])
    if cls is None:  # a custom layer: registered, or in load_model's custom_objects
        from ..saving_registry import lookup
        cls = lookup(config["class_name"], config.get("registered_name"))
        cls = cls if isinstance(cls, type) and issubclass(cls, Layer) else None
    if cls is None:
        raise ValueError(
            f"Unknown layer class {config['class_name']!r}; expected one of {sorted(_CLASSES)}, "
            "or a custom layer registered with keras.saving.register_keras_serializable() or "
            "passed in custom_objects="
        )
    return cls.from_config(dict(config.get("config", {})))


def serialize(layer: Layer) -> dict:
    from ..saving_registry import registered_name_of
    out = {"class_name": type(layer).__name__, "config": layer.get_config()}
    registered = None if type(layer).__name__ in _CLASSES else registered_name_of(type(layer))
    if registered:
        out["registered_name"] = registered
    return out


__all__ = ["Layer", "Input", "InputLayer", "KerasTensor", "Dense", "Activation", "Dropout",
           "Flatten", "Masking", "Embedding", "SimpleRNN", "LSTM", "GRU", "Bidirectional",
           "TimeDistributed", "Lambda", "RecurrentLayer", "simple_rnn_step", "lstm_step", "gru_step",
           "Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
           "concatenate", "add", "subtract", "multiply", "average", "maximum", "minimum",
           "deserialize", "serialize"]
