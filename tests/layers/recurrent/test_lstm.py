"""LSTM (layers/recurrent/lstm.py): gradients, consistency, engines, Keras and PyTorch
parity (the checks are in cell_checks.py)."""
from __future__ import annotations

import pytest

from cell_checks import *  # noqa: F401,F403  (the shared checks, run for this cell)
from cell_checks import pytest_generate_tests  # noqa: F401  (parametrizes them)

KINDS = ["lstm"]
VARIANTS = [("lstm", {"recurrent_activation": "hard_sigmoid"}), ("lstm", {"activation": "relu"}),
            ("lstm", {"activation": "gelu"}), ("lstm", {"use_bias": False})]
KERAS_FILES = ("lstm_",)
TORCH_KIND = "lstm"


@pytest.fixture
def torch_kind():
    return TORCH_KIND


def test_lstm_unit_forget_bias_and_initializers():
    import numpy as np

    from rnnkit import layers as L

    lstm = L.LSTM(4)
    lstm.build((None, 3, 5))
    np.testing.assert_array_equal(lstm.bias, np.r_[np.zeros(4), np.ones(4), np.zeros(8)])
    r = lstm.recurrent_kernel
    np.testing.assert_allclose(r @ r.T, np.eye(4), atol=1e-5)  # orthogonal rows
    no = L.LSTM(4, unit_forget_bias=False)
    no.build((None, 3, 5))
    assert not no.bias.any()


def test_gate_order_is_declared_once():
    """The engines lay out their rows by the gate names LSTM declares (i, f, c, o)."""
    from rnnkit.layers.recurrent import LSTM_CELL
    from rnnkit.layers.recurrent.engines.feature_major import lstm as fm_lstm

    assert LSTM_CELL.gates == ("i", "f", "c", "o")
    assert LSTM_CELL.blocks(*fm_lstm.ROW_GATES) == (3, 0, 1, 2)
