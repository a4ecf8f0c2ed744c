"""Read ``.npz`` archives whose object arrays are pickled, without trusting the pickle.

Keras' ``imdb.npz`` stores each split as a 1-D ``dtype=object`` array of Python
``list[int]``; NumPy can only save such ragged arrays as a pickle stream, and
``np.load`` with pickling allowed would execute whatever a tampered file asks
for. Here:

* numeric members are read with pickling disabled;
* object members are unpickled by :class:`_RestrictedUnpickler`, whose
  ``find_class`` resolves only the NumPy array-reconstruction globals, each
  through a wrapper that checks its arguments (only integer / bool / object
  dtypes, only ``ndarray`` subtypes);
* the rebuilt array is validated: every element must be a list, tuple or 1-D
  array of integers.

Anything else (``os.system``, ``builtins.eval``, ...) raises ``ValueError`` naming
the file and the member.
"""
from __future__ import annotations

import ast
import io
import itertools
import os
import pickle
import zipfile
from typing import Any

import numpy as np

__all__ = ["load_npz", "read_npy"]

_MAGIC = b"\x93NUMPY"
# Integer, bool and object dtypes are all an int-sequence array needs.
_SAFE_KINDS = frozenset("biuO")
_NUMERIC_KINDS = frozenset("biuf")


class _NdarrayToken:
    """Stands in for ``numpy.ndarray`` in the pickle: a valid ``_reconstruct``
    argument, but not callable, so the pickle cannot call ``ndarray(...)`` itself."""


_NDARRAY = _NdarrayToken()


def _checked_dtype(spec: Any, align: Any = False, copy: Any = True) -> np.dtype:
    # Pickled dtypes arrive as dtype('O8', False, True) and are then BUILD-ed with
    # __setstate__; always copying keeps that from mutating NumPy's shared dtypes.
    if not isinstance(spec, str) or len(spec) > 8:
        raise pickle.UnpicklingError(f"dtype spec {spec!r} is not allowed")
    dt = np.dtype(spec, False, True)
    if dt.kind not in _SAFE_KINDS or dt.fields is not None or dt.subdtype is not None:
        raise pickle.UnpicklingError(f"dtype {dt} is not allowed")
    return dt


def _checked_reconstruct(subtype: Any, shape: Any, dtype_code: Any) -> np.ndarray:
    # ndarray.__reduce__ emits _reconstruct(ndarray, (0,), b'b'); ndarray.__setstate__
    # (called by the BUILD opcode afterwards) then fills in shape, dtype and data.
    if subtype is not _NDARRAY:
        raise pickle.UnpicklingError(f"array subtype {subtype!r} is not allowed")
    if not isinstance(shape, tuple) or not all(isinstance(s, int) and 0 <= s <= 1 for s in shape):
        raise pickle.UnpicklingError(f"initial array shape {shape!r} is not allowed")
    return np.ndarray.__new__(np.ndarray, shape, "b")


def _checked_scalar(dtype: Any, data: Any = None) -> Any:
    # NumPy integer scalars pickle as multiarray.scalar(dtype('i8'), b'...').
    if not isinstance(dtype, np.dtype) or dtype.kind not in "biu" or not isinstance(data, bytes):
        raise pickle.UnpicklingError("only integer NumPy scalars are allowed")
    if len(data) != dtype.itemsize:
        raise pickle.UnpicklingError("malformed NumPy scalar")
    return np.frombuffer(data, dtype=dtype)[0]


_ALLOWED = {
    ("numpy", "ndarray"): _NDARRAY,
    ("numpy", "dtype"): _checked_dtype,
    ("numpy.core.multiarray", "_reconstruct"): _checked_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _checked_reconstruct,
    ("numpy.core.multiarray", "scalar"): _checked_scalar,
    ("numpy._core.multiarray", "scalar"): _checked_scalar,
}


class _RestrictedUnpickler(pickle.Unpickler):
    """Unpickler that can build NumPy arrays of Python objects and nothing more."""

    def find_class(self, module: str, name: str) -> Any:
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"global '{module}.{name}' is not allowed") from None

    def persistent_load(self, pid: Any) -> Any:
        raise pickle.UnpicklingError("persistent ids are not allowed")


def _read_header(fh: io.BufferedIOBase) -> tuple[tuple[int, ...], bool, np.dtype]:
    """Parse an ``.npy`` header; returns (shape, fortran_order, dtype)."""
    magic = fh.read(8)
    if len(magic) != 8 or magic[:6] != _MAGIC:
        raise ValueError("not an .npy stream (bad magic)")
    major = magic[6]
    if major == 1:
        size = int.from_bytes(fh.read(2), "little")
    elif major in (2, 3):
        size = int.from_bytes(fh.read(4), "little")
    else:
        raise ValueError(f"unsupported .npy format version {major}.{magic[7]}")
    if size > 1 << 20:
        raise ValueError("oversized .npy header")
    raw = fh.read(size)
    text = raw.decode("utf8" if major == 3 else "latin1")
    header = ast.literal_eval(text)  # literal_eval evaluates literals only, never code
    if not isinstance(header, dict) or set(header) != {"descr", "fortran_order", "shape"}:
        raise ValueError(f"malformed .npy header {text.strip()!r}")
    shape = header["shape"]
    if not isinstance(shape, tuple) or not all(isinstance(s, int) and s >= 0 for s in shape):
        raise ValueError(f"malformed .npy shape {shape!r}")
    dtype = np.lib.format.descr_to_dtype(header["descr"])
    return shape, bool(header["fortran_order"]), dtype


def _validate_int_sequences(arr: np.ndarray) -> None:
    """Check that every element of an object array is a 1-D sequence of integers."""
    for item in arr.flat:
        if isinstance(item, np.ndarray):
            if item.ndim != 1 or item.dtype.kind not in "iu":
                raise ValueError(f"element is an array of {item.dtype} with shape {item.shape}, not 1-D ints")
        elif not isinstance(item, (list, tuple)):
            raise ValueError(f"element of type {type(item).__name__} is not a list of ints")
    # One pass over all values in C (map/set) keeps a 12M-value file fast.
    kinds = set(map(type, itertools.chain.from_iterable(arr.flat)))
    for kind in kinds:
        if kind is not int and not issubclass(kind, np.integer):
            raise ValueError(f"sequence value of type {kind.__name__} is not an integer")


def read_npy(fh: io.BufferedIOBase) -> np.ndarray:
    """Read one ``.npy`` stream: numeric arrays directly, object arrays restricted.

    Raises:
        ValueError: malformed stream, disallowed pickle content, or an object array
            whose elements are not integer sequences.
    """
    start = fh.tell()
    shape, fortran, dtype = _read_header(fh)
    if not dtype.hasobject:
        if dtype.kind not in _NUMERIC_KINDS:
            raise ValueError(f"dtype {dtype} is not allowed (numeric arrays only)")
        fh.seek(start)
        return np.lib.format.read_array(fh, allow_pickle=False)
    if dtype.kind != "O" or dtype.fields is not None:
        raise ValueError(f"dtype {dtype} is not allowed (plain object arrays only)")
    try:
        arr = _RestrictedUnpickler(fh).load()
    except (pickle.UnpicklingError, EOFError, AttributeError, TypeError, IndexError, KeyError) as exc:
        raise ValueError(f"refused pickle content: {exc}") from exc
    if not isinstance(arr, np.ndarray) or type(arr) is not np.ndarray or arr.dtype != np.dtype(object):
        raise ValueError(f"pickle did not rebuild an object array (got {type(arr).__name__})")
    if arr.shape != shape:
        raise ValueError(f"array shape {arr.shape} differs from the header's {shape}")
    _validate_int_sequences(arr)
    return arr


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load every ``.npy`` member of an ``.npz`` archive safely.

    Returns:
        ``dict`` member name (without ``.npy``) -> array. Object arrays are 1-D
        (or n-D) ``dtype=object`` arrays of integer lists.

    Raises:
        ValueError: naming the file and member, for anything unsafe or malformed.
    """
    arrays: dict[str, np.ndarray] = {}
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise ValueError(f"{os.fspath(path)}: not a valid .npz (zip) file: {exc}") from exc
    with archive:
        for member in archive.namelist():
            if not member.endswith(".npy"):
                continue
            with archive.open(member) as raw:
                buffer = io.BytesIO(raw.read())
            try:
                arrays[member[: -len(".npy")]] = read_npy(buffer)
            except ValueError as exc:
                raise ValueError(
                    f"{os.fspath(path)}: refusing to load member {member!r}: {exc}. "
                    "The file is corrupted or has been tampered with."
                ) from exc
    return arrays
