"""SimpleRNN (layers/recurrent/simple_rnn.py): gradients, consistency, engines, Keras and
PyTorch parity (the checks are in cell_checks.py)."""
from __future__ import annotations

import pytest

from cell_checks import *  # noqa: F401,F403  (the shared checks, run for this cell)
from cell_checks import pytest_generate_tests  # noqa: F401  (parametrizes them)

KINDS = ["simple"]
VARIANTS = [("simple", {"activation": "relu"}), ("simple", {"activation": "swish"}),
            ("simple", {"use_bias": False})]
KERAS_FILES = ("simplernn_",)
TORCH_KIND = "rnn"


@pytest.fixture
def torch_kind():
    return TORCH_KIND
