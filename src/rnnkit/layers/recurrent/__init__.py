"""Recurrent layers: one module per cell, one base class, and the engines that run them.

========================  ===================================================
``cell.py``               :class:`CellSpec`: a cell's gate order and states
``base.py``               :class:`RecurrentLayer`: Keras' arguments, masks, outputs
``simple_rnn.py``         SimpleRNN: declaration, step, reference forward/backward
``lstm.py``               LSTM: the same
``gru.py``                GRU: the same
``cells.py``              SimpleRNNCell, LSTMCell, GRUCell: one step of each, same weights
``stacked_cells.py``      StackedRNNCells
``rnn.py``                RNN(cell): a built-in cell runs on the engines as its layer does;
                          any other cell on the generic loop of ``rnn_loop.py`` (the tape)
``engines/``              the reference, feature-major NumPy and compiled engines,
                          and :func:`engines.select`, which picks one per call
========================  ===================================================
"""
from __future__ import annotations

from .base import RecurrentLayer
from .cell import CellSpec
from .cells import GRUCell, LSTMCell, RecurrentCell, SimpleRNNCell
from .gru import GRU, GRU_CELL, gru_sequence_backward, gru_sequence_forward, gru_step
from .lstm import LSTM, LSTM_CELL, lstm_sequence_backward, lstm_sequence_forward, lstm_step
from .simple_rnn import (SIMPLE_RNN_CELL, SimpleRNN, simple_rnn_sequence_backward,
                         simple_rnn_sequence_forward, simple_rnn_step)
from .rnn import RNN
from .stacked_cells import StackedRNNCells

__all__ = ["RecurrentLayer", "CellSpec", "RNN", "RecurrentCell", "SimpleRNNCell", "LSTMCell", "GRUCell",
           "StackedRNNCells", "SimpleRNN", "LSTM", "GRU", "SIMPLE_RNN_CELL", "LSTM_CELL",
           "GRU_CELL", "simple_rnn_step", "lstm_step", "gru_step", "simple_rnn_sequence_forward",
           "simple_rnn_sequence_backward", "lstm_sequence_forward", "lstm_sequence_backward",
           "gru_sequence_forward", "gru_sequence_backward"]
