"""The restricted npz reader: rebuilds integer-sequence object arrays, refuses the rest."""
from __future__ import annotations

import io
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from rnnkit.datasets import imdb
from rnnkit.datasets._safe_npz import load_npz

SRC = Path(imdb.__file__).resolve().parent


def obj_array(items):
    arr = np.empty(len(items), dtype=object)
    for i, item in enumerate(items):
        arr[i] = item
    return arr


def npz_with_member(path: Path, name: str, payload: bytes, shape=(1,)) -> Path:
    """Write an .npz whose member `name` is an object-array header + raw pickle bytes."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|O", "fortran_order": False, "shape": shape})
    buf.write(payload)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(name + ".npy", buf.getvalue())
    return path


def test_reads_official_layout(tmp_path):
    path = tmp_path / "ok.npz"
    x = obj_array([[1, 14, 22], [], [7] * 5])
    np.savez(path, x_train=x, y_train=np.array([1, 0, 1]))
    with pytest.raises(ValueError):  # really pickled: NumPy's safe mode refuses it
        np.load(path, allow_pickle=False)["x_train"]
    got = load_npz(path)
    assert got["x_train"].dtype == object and got["x_train"].shape == (3,)
    assert [list(s) for s in got["x_train"]] == [[1, 14, 22], [], [7] * 5]
    assert all(type(v) is int for v in got["x_train"][0])
    np.testing.assert_array_equal(got["y_train"], [1, 0, 1])


def test_reads_arrays_of_int_arrays_and_numpy_scalars(tmp_path):
    path = tmp_path / "ok2.npz"
    np.savez(path, a=obj_array([np.arange(3), np.array([5], np.int32)]), b=obj_array([[np.int64(4), 2]]))
    got = load_npz(path)
    assert [s.tolist() for s in got["a"]] == [[0, 1, 2], [5]]
    assert got["b"][0] == [4, 2]


class _Shell:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        import os

        return (os.system, (f"touch {self.marker}",))


def test_refuses_os_system_gadget(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.npz"
    np.savez(path, x_train=obj_array([[_Shell(marker)]]), y_train=np.array([0]))
    with pytest.raises(ValueError) as err:
        load_npz(path)
    msg = str(err.value)
    assert str(path) in msg and "x_train" in msg and "system" in msg
    assert not marker.exists()


def test_refuses_builtins_eval_in_handcrafted_pickle(tmp_path):
    # GLOBAL builtins.eval, push a string, call it: the classic minimal gadget.
    payload = b"cbuiltins\neval\n(S'__import__(\"os\").getcwd()'\ntR."
    path = npz_with_member(tmp_path / "eval.npz", "x_train", payload)
    with pytest.raises(ValueError, match=r"eval\.npz.*'builtins\.eval' is not allowed"):
        load_npz(path)


@pytest.mark.parametrize(
    "items, reason",
    [
        ([["a", "b"]], "str is not an integer"),
        ([[1.5]], "float is not an integer"),
        ([{"k": 1}], "dict is not a list of ints"),
        ([np.array([[1, 2]])], "not 1-D ints"),
    ],
)
def test_refuses_non_integer_content(tmp_path, items, reason):
    path = tmp_path / "odd.npz"
    np.savez(path, x=obj_array(items))
    with pytest.raises(ValueError, match=reason):
        load_npz(path)


def test_refuses_pickle_that_is_not_an_array(tmp_path):
    path = npz_with_member(tmp_path / "list.npz", "x", pickle.dumps([[1, 2]], protocol=2))
    with pytest.raises(ValueError, match="did not rebuild an object array"):
        load_npz(path)


def test_refuses_non_zip_file(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"not a zip at all")
    with pytest.raises(ValueError, match="not a valid .npz"):
        load_npz(path)


def test_imdb_load_data_rejects_tampered_file(tmp_path):
    path = tmp_path / "imdb.npz"
    marker = tmp_path / "pwned"
    np.savez(path, x_train=obj_array([[1, 2], [_Shell(marker)]]), y_train=np.array([0, 1]),
             x_test=obj_array([[3]]), y_test=np.array([1]))
    with pytest.raises(ValueError, match="imdb.npz"):
        imdb.load_data(path=path)
    assert not marker.exists()


def test_package_never_enables_pickle_loading():
    for py in SRC.glob("*.py"):
        assert "allow_pickle=True" not in py.read_text(), py.name
