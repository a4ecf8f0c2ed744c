"""rnnkit layers, with Keras' names and arguments."""
from __future__ import annotations

from . import registry
from .attention import AdditiveAttention, Attention, Dot, Softmax
from .base import Input, InputLayer, KerasTensor, Layer
from .bidirectional import Bidirectional
from .core import Activation, Dense, Dropout, Flatten, Masking
from .embedding import Embedding
from .convolutional import Conv1D, SeparableConv1D
from .index_lookup import IntegerLookup, StringLookup
from .lambda_layer import Lambda
from .op_layer import OpLayer
from .merge import (Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract, add, average,
                    concatenate, maximum, minimum, multiply, subtract)
from .multi_head_attention import MultiHeadAttention
from .normalization import BatchNormalization, LayerNormalization
from .pooling import (AveragePooling1D, AvgPool1D, GlobalAveragePooling1D, GlobalAvgPool1D,
                      GlobalMaxPool1D, GlobalMaxPooling1D, MaxPool1D, MaxPooling1D)
from .recurrent import (GRU, LSTM, RNN, GRUCell, LSTMCell, RecurrentLayer, SimpleRNN, SimpleRNNCell,
                        StackedRNNCells, gru_step, lstm_step, simple_rnn_step)
from .regularization import ActivityRegularization, GaussianDropout, GaussianNoise, SpatialDropout1D
from .reshaping import Cropping1D, Permute, RepeatVector, Reshape, UpSampling1D, ZeroPadding1D
from .text_vectorization import TextVectorization
from .wrappers import TimeDistributed

_NEW_LAYERS = (
    RepeatVector, Reshape, Permute, Cropping1D, ZeroPadding1D, UpSampling1D, Conv1D, SeparableConv1D,
    MaxPooling1D, AveragePooling1D, GlobalMaxPooling1D, GlobalAveragePooling1D, LayerNormalization,
    BatchNormalization, SpatialDropout1D, GaussianNoise, GaussianDropout, ActivityRegularization,
    Attention, AdditiveAttention, MultiHeadAttention, Dot, Softmax)
for _cls in (InputLayer, Dense, Activation, Dropout, Flatten, Masking, Embedding, SimpleRNN, LSTM, GRU,
             Bidirectional, TimeDistributed, Concatenate, Add, Subtract, Multiply, Average, Maximum,
             Minimum, TextVectorization, StringLookup, IntegerLookup, Lambda, OpLayer, *_NEW_LAYERS,
             RNN, SimpleRNNCell, LSTMCell, GRUCell, StackedRNNCells):
    registry.register(_cls)
deserialize, serialize = registry.deserialize, registry.serialize
get_class = registry.get_class


__all__ = ["Layer", "Input", "InputLayer", "KerasTensor", "Dense", "Activation", "Dropout",
           "Flatten", "Masking", "Embedding", "SimpleRNN", "LSTM", "GRU", "Bidirectional",
           "TimeDistributed", "Lambda", "RecurrentLayer", "RNN", "SimpleRNNCell", "LSTMCell",
           "GRUCell", "StackedRNNCells", "simple_rnn_step", "lstm_step",
           "gru_step", "Concatenate", "Add", "Subtract", "Multiply", "Average", "Maximum",
           "Minimum", "concatenate", "add", "subtract", "multiply", "average", "maximum",
           "minimum", "deserialize", "serialize", "TextVectorization", "StringLookup",
           "IntegerLookup", "RepeatVector", "Reshape", "Permute", "Cropping1D", "ZeroPadding1D",
           "UpSampling1D", "Conv1D", "SeparableConv1D", "MaxPooling1D", "AveragePooling1D",
           "GlobalMaxPooling1D", "GlobalAveragePooling1D", "LayerNormalization",
           "BatchNormalization", "SpatialDropout1D", "GaussianNoise", "GaussianDropout",
           "ActivityRegularization", "Attention", "AdditiveAttention", "MultiHeadAttention",
           "Dot", "Softmax", "MaxPool1D", "AvgPool1D", "GlobalMaxPool1D", "GlobalAvgPool1D",
           "get_class"]
