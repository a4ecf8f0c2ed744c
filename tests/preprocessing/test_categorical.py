"""to_categorical and normalize (rnnkit.utils.numerical) against Keras 3 outputs."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rnnkit.utils.numerical import normalize, to_categorical

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "text" / "sequence_utils.npz"

with np.load(FIXTURE, allow_pickle=False) as _f:
    PAYLOAD = json.loads(_f["payload"].tobytes().decode("utf-8"))


@pytest.mark.parametrize("case", PAYLOAD["to_categorical"], ids=lambda c: f"{c['y']}-{c['num_classes']}")
def test_to_categorical_matches_keras(case):
    got = to_categorical(case["y"], num_classes=case["num_classes"])
    assert got.shape == tuple(case["shape"])
    assert got.dtype == np.float64
    np.testing.assert_array_equal(got, case["out"])


def test_to_categorical_column_vector_and_dtype():
    y = np.array([[2], [0], [1]])
    got = to_categorical(y, 3, dtype="float32")
    assert got.shape == (3, 3) and got.dtype == np.float32
    np.testing.assert_array_equal(got.argmax(-1), [2, 0, 1])
    assert to_categorical(np.array([1, 0]), num_classes=0).shape == (2, 2)  # 0 means infer, as Keras


def test_to_categorical_errors():
    with pytest.raises(ValueError, match=r"labels must be in \[0, 3\).*received label 3"):
        to_categorical([0, 3], num_classes=3)
    with pytest.raises(ValueError, match="received label -1"):
        to_categorical([-1, 1])
    with pytest.raises(ValueError, match="num_classes is required when y is empty"):
        to_categorical([])
    with pytest.raises(ValueError, match="num_classes must be .*received 2.5"):
        to_categorical([1], num_classes=2.5)
    assert to_categorical([], num_classes=4).shape == (0, 4)


@pytest.mark.parametrize("case", PAYLOAD["normalize"], ids=lambda c: f"axis{c['axis']}-ord{c['order']}")
def test_normalize_matches_keras(case):
    order = np.inf if case["order"] == "inf" else case["order"]
    got = normalize(np.array(case["x"]), axis=case["axis"], order=order)
    np.testing.assert_allclose(got, case["out"], rtol=1e-12, atol=0)


def test_normalize_axis0_and_1d_keep_shape():
    x = np.array([[3.0, 1.0], [4.0, 0.0]])
    got = normalize(x, axis=0)
    np.testing.assert_allclose(got, [[0.6, 1.0], [0.8, 0.0]])
    np.testing.assert_allclose(normalize([3, 4]), [0.6, 0.8])
    with pytest.raises(ValueError, match="axis must be an integer"):
        normalize(x, axis=None)
