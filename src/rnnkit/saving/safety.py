"""Reading untrusted model files without running code or allocating without bound.

Every reader in :mod:`rnnkit.saving` goes through these checks:

- zip archives: member names (no absolute paths, ``..``, backslashes, NUL), member count,
  declared sizes against the archive's size (a zip bomb is refused before inflating),
  and reads that stop at the declared size (a member that lies about it is refused);
- JSON: a size cap, a nesting-depth cap, then a walk that refuses code (``Lambda``
  layers, marshalled functions) unless the caller passes ``safe_mode=False``;
- HDF5 datasets: declared bytes of every array are summed and compared with the file's
  size before anything is read (see :func:`check_declared_bytes`);
- building a model from a config: :func:`allocation_limit` caps how many weight values
  the config may create, so ``Embedding(input_dim=10**9)`` fails before allocating.

Every failure is a ``ValueError`` that names the file and the problem.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import zipfile
from typing import Any, Iterator

from ..layers import base as layers_base

# A legitimate weights file compresses poorly (float noise); configs and metadata compress
# ~10x. 64 MiB + 50x the archive's size covers both and refuses decompression bombs.
MAX_MEMBERS = 1000
BASE_BYTES = 64 << 20
MAX_RATIO = 50
MAX_JSON_BYTES = 64 << 20
MAX_JSON_DEPTH = 100
MAX_JSON_NODES = 2_000_000
# Declared HDF5 array bytes may exceed the file's size only by this factor (compressed
# datasets) plus BASE_BYTES.
MAX_H5_RATIO = 16

# Building a model may allocate this many weight values beyond what the file's weights
# hold: a missing or misshapen weight is then reported by name when the weights are
# read, while a config asking for far more than the file holds still fails first.
ALLOCATION_SLACK = 1 << 20

CODE_CLASSES = ("Lambda", "TFOpLambda", "SlicingOpLambda")
CODE_KEYS = ("__lambda__", "__python_function__")
MAX_LAYERS = 20_000


def fail(path: str, problem: str) -> ValueError:
    """The error every reader raises: ``ValueError("<path>: <problem>")``."""
    return ValueError(f"{path}: {problem}")


def _bad_member_name(name: str) -> str | None:
    if "\x00" in name:
        return "contains a NUL character"
    if "\\" in name:
        return "contains a backslash"
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return "is an absolute path"
    if any(part == ".." for part in name.split("/")):
        return "climbs out of the archive ('..')"
    return None


class SafeZip:
    """A zip archive whose members are checked before they are read.

    ``budget``: the most uncompressed bytes the whole archive may hold
    (``BASE_BYTES + MAX_RATIO * archive size`` by default).
    """

    def __init__(self, path: str, budget: int | None = None):
        self.path = path
        size = os.path.getsize(path)
        self.budget = BASE_BYTES + MAX_RATIO * size if budget is None else budget
        try:
            self._zf = zipfile.ZipFile(path)
        except zipfile.BadZipFile as exc:
            raise fail(path, f"not a valid zip archive, or truncated ({exc})") from None
        except (OSError, EOFError, ValueError) as exc:
            raise fail(path, f"cannot be read as a zip archive ({exc})") from None
        infos = self._zf.infolist()
        if len(infos) > MAX_MEMBERS:
            self.close()
            raise fail(path, f"the archive has {len(infos)} members; at most {MAX_MEMBERS} are accepted")
        total = 0
        self.infos: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            bad = _bad_member_name(info.filename)
            if bad:
                self.close()
                raise fail(path, f"archive member name {info.filename!r} {bad}; refusing the file")
            if info.filename in self.infos:
                self.close()
                raise fail(path, f"archive member {info.filename!r} appears twice")
            total += info.file_size
            self.infos[info.filename] = info
        if total > self.budget:
            self.close()
            raise fail(path, f"the archive declares {total:,} uncompressed bytes from a {size:,}-byte "
                             f"file (more than {self.budget:,}): a decompression bomb or a corrupt file")

    def names(self) -> list[str]:
        return list(self.infos)

    def read(self, name: str, limit: int | None = None) -> bytes:
        """Member ``name``, read in chunks and never past its declared size (or ``limit``)."""
        info = self.infos[name]
        cap = info.file_size if limit is None else min(limit, info.file_size)
        if limit is not None and info.file_size > limit:
            raise fail(self.path, f"archive member {name!r} declares {info.file_size:,} bytes; at most "
                                  f"{limit:,} are accepted")
        chunks, got = [], 0
        try:
            with self._zf.open(info) as fh:
                while True:
                    chunk = fh.read(min(1 << 20, cap + 1 - got))
                    if not chunk:
                        break
                    got += len(chunk)
                    if got > cap:
                        raise fail(self.path, f"archive member {name!r} holds more data than the "
                                              f"{info.file_size:,} bytes it declares")
                    chunks.append(chunk)
        except (zipfile.BadZipFile, EOFError, OSError, NotImplementedError, RuntimeError) as exc:
            raise fail(self.path, f"archive member {name!r} is corrupt or truncated ({exc})") from None
        except Exception as exc:  # zlib.error and friends: still the file's fault
            if isinstance(exc, ValueError) and str(exc).startswith(self.path):
                raise
            raise fail(self.path, f"archive member {name!r} cannot be decompressed ({exc})") from None
        if got != info.file_size:
            raise fail(self.path, f"archive member {name!r} holds {got:,} bytes but declares "
                                  f"{info.file_size:,} (truncated or lying)")
        return b"".join(chunks)

    def close(self) -> None:
        self._zf.close()

    def __enter__(self) -> "SafeZip":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _json_depth_ok(text: str) -> int:
    """Maximum nesting depth of brackets outside strings, stopping past MAX_JSON_DEPTH."""
    depth = deepest = 0
    in_str = esc = False
    # Only bracket and quote characters matter; scanning the string once is linear.
    for ch in text:
        if in_str:
            if esc:
                esc = False
            elif ch == "\\":
                esc = True
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
            if depth > deepest:
                deepest = depth
                if deepest > MAX_JSON_DEPTH:
                    return deepest
        elif ch in "]}":
            depth -= 1
    return deepest


def parse_json(data: bytes | str, path: str, what: str) -> Any:
    """Parse JSON from a file, with size and depth caps; ValueError naming ``path``/``what``."""
    if len(data) > MAX_JSON_BYTES:
        raise fail(path, f"{what} is {len(data):,} bytes; at most {MAX_JSON_BYTES:,} are accepted")
    try:
        text = data.decode("utf-8") if isinstance(data, bytes) else data
    except UnicodeDecodeError as exc:
        raise fail(path, f"{what} is not UTF-8 text ({exc})") from None
    if text.count("[") + text.count("{") > MAX_JSON_DEPTH and _json_depth_ok(text) > MAX_JSON_DEPTH:
        raise fail(path, f"{what} nests deeper than {MAX_JSON_DEPTH} levels; refusing it")
    try:
        return json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        raise fail(path, f"{what} is not valid JSON ({exc})") from None


def walk(obj: Any) -> Iterator[Any]:
    """Every dict and list inside ``obj`` (iteratively: no recursion limit to hit)."""
    stack, seen = [obj], 0
    while stack:
        item = stack.pop()
        seen += 1
        if seen > MAX_JSON_NODES:
            raise ValueError(f"the config has more than {MAX_JSON_NODES:,} entries")
        if isinstance(item, dict):
            yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            yield item
            stack.extend(item)


def _named_function(config: Any) -> bool:
    """A Lambda config whose ``function`` is only a name (rnnkit writes the registered
    name; Keras 3 writes ``{"class_name": "function", "config": "name"}``)."""
    fn = config.get("function") if isinstance(config, dict) else None
    if isinstance(fn, str):
        return True
    return (isinstance(fn, dict) and fn.get("class_name") == "function"
            and isinstance(fn.get("config"), str))


def refuse_code(config: Any, path: str, safe_mode: bool = True) -> None:
    """Raise if ``config`` holds a Lambda layer or serialized Python code (``safe_mode``)."""
    try:
        objects = 0
        for node in walk(config):
            if not isinstance(node, dict):
                continue
            cls = node.get("class_name")
            objects += cls is not None
            if objects > MAX_LAYERS:
                raise fail(path, f"the config names more than {MAX_LAYERS:,} objects (layers, "
                                 "initializers, ...); refusing it as a config bomb")
            code_key = next((k for k in CODE_KEYS if k in node or cls == k), None)
            if cls == "Lambda" and _named_function(node.get("config")):
                continue  # a function saved by its registered name, looked up at load: no code
            if cls in CODE_CLASSES or code_key:
                name = (node.get("config") or {}).get("name") if isinstance(node.get("config"), dict) else None
                name = name or node.get("name") or "?"
                if not safe_mode:
                    raise fail(path, f"layer {name!r} ({cls or code_key}) holds Python code; rnnkit has "
                                     "no layer that runs code from a file, so it cannot load it even "
                                     "with safe_mode=False")
                raise fail(path, f"layer {name!r} ({cls or code_key}) holds serialized Python code, which "
                                 "could run anything; refused by default. If you trust this file, pass "
                                 "safe_mode=False to load_model")
    except ValueError as exc:
        if str(exc).startswith(path):
            raise
        raise fail(path, str(exc)) from None


def check_declared_bytes(path: str, declared: int, file_size: int) -> None:
    """Refuse arrays whose declared total size the file cannot plausibly hold."""
    allowed = BASE_BYTES + MAX_H5_RATIO * file_size
    if declared > allowed:
        raise fail(path, f"the weights declare {declared:,} bytes of arrays in a {file_size:,}-byte file "
                         f"(more than {allowed:,}): lying sizes or a corrupt file")


@contextlib.contextmanager
def allocation_limit(path: str, max_values: int):
    """Within the block, layers may create at most ``max_values`` weight values in all
    (plus :data:`ALLOCATION_SLACK`).

    Used while building a model from a file's config, with the number of values that the
    file's weights hold, so a config asking for more fails before allocating it.
    """
    used = [0]

    def check(layer, name, shape):
        n = math.prod(int(s) for s in shape)
        used[0] += n
        if used[0] > max_values + ALLOCATION_SLACK:
            raise fail(path, f"the config asks layer {layer.name!r} for weight {name!r} of shape "
                             f"{tuple(int(s) for s in shape)} ({n:,} values), but the file's weights hold "
                             f"only {max_values:,} values in all; refusing to allocate it")

    previous = layers_base.set_weight_allocation_check(check)
    try:
        yield
    finally:
        layers_base.set_weight_allocation_check(previous)


def sniff(path: str) -> str:
    """``"zip"``, ``"hdf5"``, ``"npy"``, ``"pickle"``, ``"json"`` or ``"unknown"``, from the first bytes."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return "zip"
    if head == b"\x89HDF\r\n\x1a\n":
        return "hdf5"
    if head.startswith(b"\x93NUMPY"):
        return "npy"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "pickle"
    if head.lstrip()[:1] in (b"{", b"["):
        return "json"
    return "unknown"
