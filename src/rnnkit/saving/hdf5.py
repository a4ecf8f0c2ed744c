"""HDF5 weight files through h5py: Keras 3's ``vars`` layout and the legacy layer-name layout.

Before any array is read, :func:`checked_file` sums the declared size of every dataset
and compares it with the file's size, and each array's shape is compared with the
model's; datasets are only then read, each exactly once.
"""
from __future__ import annotations

import contextlib
import io
import math
from typing import Any

import numpy as np

from . import safety
from .layout import Entry, legacy_groups

MAX_OBJECTS = 200_000


def _h5py():
    try:
        import h5py
    except ImportError as exc:  # pragma: no cover - h5py is a dependency
        raise ImportError("reading and writing Keras weight files needs h5py: pip install h5py") from exc
    return h5py


def text(value: Any) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def text_list(value: Any) -> list[str]:
    if value is None:
        return []
    return [text(v) for v in np.asarray(value).reshape(-1).tolist()]


@contextlib.contextmanager
def checked_file(source, path: str, size: int):
    """Open ``source`` (a path or bytes) read-only; refuse it if its datasets declare more
    bytes than ``size`` plausibly holds, or it has too many objects."""
    h5py = _h5py()
    obj = io.BytesIO(source) if isinstance(source, (bytes, bytearray)) else source
    try:
        f = h5py.File(obj, "r")
    except Exception as exc:
        raise safety.fail(path, f"not a readable HDF5 file, or truncated ({exc})") from None
    try:
        declared, count, problem = [0], [0], []

        # Callbacks stop the walk by returning a value (an exception raised inside one comes
        # back wrapped by h5py), so they record the problem and return True.
        def visit(name, item):
            count[0] += 1
            if count[0] > MAX_OBJECTS:
                problem.append(f"the HDF5 file holds more than {MAX_OBJECTS:,} objects")
            elif isinstance(item, h5py.Dataset):
                if item.external or item.is_virtual:
                    problem.append(f"dataset {name!r} takes its data from other files (external or "
                                   "virtual storage); refusing it")
                elif item.dtype.kind not in "biuf":
                    problem.append(f"dataset {name!r} has dtype {item.dtype}; only numbers are accepted")
                else:
                    # Python ints: a product of huge dims must not wrap around in int64.
                    declared[0] += math.prod(int(d) for d in item.shape) * item.dtype.itemsize
            return True if problem else None

        def visit_link(name, link):
            if isinstance(link, h5py.ExternalLink):
                problem.append(f"{name!r} links to another file ({link.filename}); refusing it")
            return True if problem else None

        try:
            f.visititems_links(visit_link)
            if not problem:
                f.visititems(visit)
        except Exception as exc:
            raise safety.fail(path, f"the HDF5 file is corrupt ({exc})") from None
        if problem:
            raise safety.fail(path, problem[0])
        safety.check_declared_bytes(path, declared[0], size)
        yield f
    finally:
        f.close()


@contextlib.contextmanager
def guard(path: str):
    """Inside the block, what h5py raises on a damaged or oddly laid out file (``OSError``,
    ``KeyError``, ``RuntimeError``, its own ``ValueError``s, ...) becomes a ValueError naming
    ``path``. Only reading code runs inside it, so every such error is the file's fault."""
    try:
        yield
    except ValueError as exc:
        if str(exc).startswith(path):
            raise
        raise safety.fail(path, f"the HDF5 weights are corrupt ({exc})") from None
    except (OSError, KeyError, RuntimeError, TypeError, AttributeError, IndexError, OverflowError) as exc:
        raise safety.fail(path, f"the HDF5 weights are corrupt or not laid out as Keras writes them "
                                f"({type(exc).__name__}: {exc})") from None


def _is_dataset(item) -> bool:
    return isinstance(item, _h5py().Dataset)


def _is_group(item) -> bool:
    return isinstance(item, _h5py().Group)


def read_dataset(ds, path: str, expected: tuple | None = None) -> np.ndarray:
    if not _is_dataset(ds):
        raise safety.fail(path, f"{getattr(ds, 'name', ds)!r} must be a dataset (an array); the file "
                                f"has a {type(ds).__name__}")
    if expected is not None and tuple(ds.shape) != tuple(expected):
        raise safety.fail(path, f"weight {ds.name} has shape {tuple(ds.shape)}; the model expects "
                                f"{tuple(expected)}")
    try:
        return np.asarray(ds[()])
    except Exception as exc:
        raise safety.fail(path, f"weight {ds.name} cannot be read: the file is corrupt or "
                                f"truncated ({exc})") from None


def _group(f, key: str, path: str, what: str):
    try:
        g = f.get(key)
    except Exception as exc:
        raise safety.fail(path, f"{what} {key!r} cannot be read ({exc})") from None
    return g


def declared_values(f, path: str, prefix: str = "") -> int:
    """How many values the numeric datasets under ``prefix`` declare (for allocation limits)."""
    h5py = _h5py()
    total = [0]

    def visit(_, item):
        if isinstance(item, h5py.Dataset):
            total[0] += math.prod(int(d) for d in item.shape)

    with guard(path):
        root = f[prefix] if prefix else f
        if isinstance(root, h5py.Group):
            root.visititems(visit)
    return total[0]


def read_vars(f, entries: list[Entry], shapes: list[tuple], path: str) -> list[np.ndarray]:
    """Read the Keras 3 ``vars`` groups of ``entries``; ``shapes``: the model's weight shapes."""
    with guard(path):
        return _read_vars(f, entries, shapes, path)


def _read_vars(f, entries: list[Entry], shapes: list[tuple], path: str) -> list[np.ndarray]:
    out: list[np.ndarray] = []
    k = 0
    for e in entries:
        g = _group(f, e.path, path, "group")
        if e.count == 0:
            continue
        if g is None:
            raise safety.fail(path, f"the file has no weights for {e.name!r} (group {e.path!r}); it does "
                                    "not match this model")
        if not _is_group(g):
            raise safety.fail(path, f"{e.path!r} ({e.name!r}) must be a group of arrays; the file has a "
                                    f"{type(g).__name__}")
        keys = sorted(g.keys(), key=lambda s: int(s) if s.isdigit() else -1)
        if keys != [str(i) for i in range(e.count)]:
            raise safety.fail(path, f"group {e.path!r} ({e.name!r}) must hold arrays named 0 .. {e.count - 1} "
                                    f"(the layer's {e.count} weights); the file has {sorted(keys)[:8]}")
        for i in range(e.count):
            out.append(read_dataset(g[str(i)], path, shapes[k]))
            k += 1
    return out


def write_vars(f, entries: list[Entry], weights: list[np.ndarray]) -> None:
    k = 0
    for e in entries:
        g = f.require_group(e.path)
        g.attrs["name"] = e.name
        for i in range(e.count):
            g.create_dataset(str(i), data=np.asarray(weights[k]))
            k += 1


def write_list(f, key: str, name: str, arrays: list[np.ndarray]) -> None:
    g = f.require_group(key)
    g.attrs["name"] = name
    for i, a in enumerate(arrays):
        g.create_dataset(str(i), data=np.asarray(a))


def read_list(f, key: str, path: str) -> list[np.ndarray] | None:
    """The arrays ``<key>/0, 1, ...`` (None when there is no such group)."""
    with guard(path):
        return _read_list(f, key, path)


def _read_list(f, key: str, path: str) -> list[np.ndarray] | None:
    g = _group(f, key, path, "group")
    if g is None:
        return None
    if not _is_group(g):
        raise safety.fail(path, f"{key!r} must be a group of arrays; the file has a {type(g).__name__}")
    keys = list(g.keys())
    if sorted(keys, key=lambda s: int(s) if s.isdigit() else -1) != [str(i) for i in range(len(keys))]:
        raise safety.fail(path, f"group {key!r} must hold arrays named 0 .. {len(keys) - 1}; the file has "
                                f"{sorted(keys)[:8]}")
    return [read_dataset(g[str(i)], path) for i in range(len(keys))]


# ---------------------------------------------------------------- legacy .h5
def read_legacy(group, model, path: str) -> list[np.ndarray]:
    """Weights of ``model`` from a legacy group (``layer_names``/``weight_names`` attributes).

    Layers are matched by name when every weighted layer's name is in the file (Keras'
    ``by_name`` rule), else in order among layers that have weights (Keras' default rule).
    """
    with guard(path):
        return _read_legacy(group, model, path)


def _read_legacy(group, model, path: str) -> list[np.ndarray]:
    names = text_list(group.attrs.get("layer_names"))
    stored = []
    for n in names:
        g = group.get(n)
        if g is None:
            raise safety.fail(path, f"layer group {n!r} is listed in layer_names but missing")
        if not _is_group(g):
            raise safety.fail(path, f"layer {n!r} must be a group; the file has a {type(g).__name__}")
        wnames = text_list(g.attrs.get("weight_names"))
        if wnames:
            stored.append((n, g, wnames))
    weighted = [(lay, wn) for lay, wn in legacy_groups(model) if wn]
    by_name = {n: (g, w) for n, g, w in stored}
    if all(lay.name in by_name for lay, _ in weighted):
        pairs = [(lay, by_name[lay.name]) for lay, _ in weighted]
    elif len(stored) == len(weighted):
        pairs = [(lay, (g, w)) for (lay, _), (_, g, w) in zip(weighted, stored)]
    else:
        raise safety.fail(path, f"the file holds weights for {len(stored)} layers "
                                f"({[n for n, _, _ in stored]}); the model has {len(weighted)} layers with "
                                f"weights ({[lay.name for lay, _ in weighted]})")
    out = []
    for lay, (g, wnames) in pairs:
        shapes = [w.shape for w in lay.weights]
        if len(wnames) != len(shapes):
            raise safety.fail(path, f"layer {lay.name!r}: the file holds {len(wnames)} weights; the layer "
                                    f"has {len(shapes)}")
        for wn, shape in zip(wnames, shapes):
            ds = g.get(wn)
            if ds is None:
                raise safety.fail(path, f"layer {lay.name!r}: weight {wn!r} is listed but missing")
            out.append(read_dataset(ds, path, shape))
    return out


def write_legacy(group, model, keras_version: str) -> None:
    """Keras' legacy layout: ``layer_names``, then ``<layer>/weight_names`` and datasets."""
    groups = legacy_groups(model)
    group.attrs["layer_names"] = np.array([lay.name.encode() for lay, _ in groups])
    group.attrs["backend"] = b"tensorflow"
    group.attrs["keras_version"] = keras_version.encode()
    for lay, wnames in groups:
        g = group.create_group(lay.name)
        g.attrs["weight_names"] = np.array([w.encode() for w in wnames])
        for wn, w in zip(wnames, lay.weights):
            g.create_dataset(wn, data=np.asarray(w))
