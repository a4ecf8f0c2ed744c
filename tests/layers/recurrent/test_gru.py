"""GRU (layers/recurrent/gru.py), ``reset_after`` True (``gru``) and False (``gru_v1``):
gradients, consistency, engines, Keras and PyTorch parity (the checks are in cell_checks.py)."""
from __future__ import annotations

import pytest

from cell_checks import *  # noqa: F401,F403  (the shared checks, run for this cell)
from cell_checks import pytest_generate_tests  # noqa: F401  (parametrizes them)

KINDS = ["gru", "gru_v1"]
VARIANTS = [("gru", {"recurrent_activation": "hard_sigmoid"}), ("gru", {"activation": "softsign"}),
            ("gru_v1", {"activation": "elu"}), ("gru", {"use_bias": False}),
            ("gru_v1", {"use_bias": False})]
KERAS_FILES = ("gru_", "grurb_")
TORCH_KIND = "gru"


@pytest.fixture
def torch_kind():
    return TORCH_KIND


def test_gate_order_is_declared_once():
    """The engines lay out their rows by the gate names GRU declares (z, r, h)."""
    from rnnkit.layers.recurrent import GRU_CELL
    from rnnkit.layers.recurrent.engines.feature_major import gru as fm_gru

    assert GRU_CELL.gates == ("z", "r", "h")
    assert GRU_CELL.blocks(*fm_gru.ROW_GATES) == (1, 0, 2)
    assert GRU_CELL.blocks(*fm_gru.GRAD_ROW_GATES) == (2, 1, 0)
