"""pad_sequences against keras.utils.pad_sequences for every option combination.

Fixture: tests/fixtures/text/sequence_utils.npz (tests/fixtures/make_text_fixtures.py).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rnnkit.preprocessing.sequence import pad_sequences

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "text" / "sequence_utils.npz"


def load_payload():
    with np.load(FIXTURE, allow_pickle=False) as f:
        return json.loads(f["payload"].tobytes().decode("utf-8"))


PAYLOAD = load_payload()


def case_id(c):
    return f"{c['input']}-{c['padding']}-{c['truncating']}-{c['maxlen']}-{c['dtype']}-{c['value']}"


@pytest.mark.parametrize("case", PAYLOAD["pad_sequences"], ids=case_id)
def test_matches_keras(case):
    seqs = PAYLOAD["inputs"][case["input"]]
    if case["input"] == "array":
        seqs = np.array(seqs)
    dtype = object if case["dtype"] == "object" else case["dtype"]
    got = pad_sequences(
        seqs, maxlen=case["maxlen"], dtype=dtype, padding=case["padding"],
        truncating=case["truncating"], value=case["value"],
    )
    assert got.shape == tuple(case["shape"])
    assert got.dtype.str == case["out_dtype"]
    assert got.tolist() == case["out"]


def test_fixture_covers_every_combination():
    combos = {(c["input"], c["padding"], c["truncating"], c["maxlen"]) for c in PAYLOAD["pad_sequences"]}
    assert len(combos) == 5 * 2 * 2 * 5


def test_readme_examples():
    seqs = [[1], [2, 3], [4, 5, 6]]
    np.testing.assert_array_equal(pad_sequences(seqs), [[0, 0, 1], [0, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(pad_sequences(seqs, value=-1), [[-1, -1, 1], [-1, 2, 3], [4, 5, 6]])
    np.testing.assert_array_equal(pad_sequences(seqs, padding="post"), [[1, 0, 0], [2, 3, 0], [4, 5, 6]])
    np.testing.assert_array_equal(pad_sequences(seqs, maxlen=2), [[0, 1], [2, 3], [5, 6]])
    assert pad_sequences(seqs).dtype == np.int32


def test_empty_inputs_and_zero_maxlen():
    assert pad_sequences([]).shape == (0, 0)
    assert pad_sequences([], maxlen=4).shape == (0, 4)
    np.testing.assert_array_equal(pad_sequences([[], []]), np.zeros((2, 0), np.int32))
    np.testing.assert_array_equal(pad_sequences([[], [1, 2]], maxlen=3), [[0, 0, 0], [0, 1, 2]])
    for trunc in ("pre", "post"):
        assert pad_sequences([[1, 2], [3]], maxlen=0, truncating=trunc).shape == (2, 0)


def test_generators_numpy_rows_and_numpy_maxlen():
    got = pad_sequences((np.arange(n) for n in (1, 3)), maxlen=np.int64(2), padding="post")
    np.testing.assert_array_equal(got, [[0, 0], [1, 2]])


def test_input_is_not_modified():
    seqs = [[1, 2, 3], [4]]
    pad_sequences(seqs, maxlen=2)
    assert seqs == [[1, 2, 3], [4]]


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError) as err:
        pad_sequences([[1]], padding="middle")
    assert str(err.value) == "pad_sequences: padding must be 'pre' or 'post'; received 'middle'"
    with pytest.raises(ValueError, match="truncating must be 'pre' or 'post'; received 'end'"):
        pad_sequences([[1]], truncating="end")
    for bad in (-1, 2.5, True, "3"):
        with pytest.raises(ValueError, match="maxlen must be None or an integer >= 0; received"):
            pad_sequences([[1]], maxlen=bad)
    with pytest.raises(ValueError, match="element 1 is int 5"):
        pad_sequences([[1, 2], 5])
    with pytest.raises(ValueError, match="element 0 is str"):
        pad_sequences(["abc"], dtype=object)
    with pytest.raises(ValueError, match="received a single str"):
        pad_sequences("abc")
    with pytest.raises(ValueError, match="sequences must be a list of sequences; received int"):
        pad_sequences(7)
    with pytest.raises(ValueError, match=r"shape \(2,\).*sequence 1 has \(3,\)"):
        pad_sequences([[[1, 2]], [[1, 2, 3]]])
    with pytest.raises(ValueError, match="string value needs dtype=object.*int32"):
        pad_sequences([["a"]], value="<pad>")


def test_string_padding_with_object_dtype_spellings():
    for dt in (object, "object", np.object_):
        got = pad_sequences([["a"], ["b", "c"]], dtype=dt, value="<pad>")
        assert got.tolist() == [["<pad>", "a"], ["b", "c"]]
