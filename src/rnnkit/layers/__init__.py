"""rnnkit layers, with Keras' names and arguments."""
from __future__ import annotations

from . import registry
from .base import Input, InputLayer, KerasTensor, Layer
from .bidirectional import Bidirectional
from .core import Activation, Dense, Dropout, Flatten, Masking
from .embedding import Embedding
from .index_lookup import IntegerLookup, StringLookup
from .merge import (Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract, add, average,
                    concatenate, maximum, minimum, multiply, subtract)
from .recurrent import GRU, LSTM, RecurrentLayer, SimpleRNN, gru_step, lstm_step, simple_rnn_step
from .text_vectorization import TextVectorization
from .wrappers import TimeDistributed

for _cls in (InputLayer, Dense, Activation, Dropout, Flatten, Masking, Embedding, SimpleRNN, LSTM, GRU,
             Bidirectional, TimeDistributed, Concatenate, Add, Subtract, Multiply, Average, Maximum,
             Minimum, TextVectorization, StringLookup, IntegerLookup):
    registry.register(_cls)
deserialize, serialize = registry.deserialize, registry.serialize


__all__ = ["Layer", "Input", "InputLayer", "KerasTensor", "Dense", "Activation", "Dropout",
           "Flatten", "Masking", "Embedding", "SimpleRNN", "LSTM", "GRU", "Bidirectional",
           "TimeDistributed", "RecurrentLayer", "simple_rnn_step", "lstm_step", "gru_step",
           "Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum",
           "concatenate", "add", "subtract", "multiply", "average", "maximum", "minimum",
           "deserialize", "serialize", "TextVectorization", "StringLookup", "IntegerLookup"]
