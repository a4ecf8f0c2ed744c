"""Where data files live, and how missing ones are fetched.

Lookup order for a data file, used by every loader:

1. an explicit ``path=`` that exists;
2. the data directory ``$RNNKIT_DATA`` (may list several, separated by ``os.pathsep``);
3. the cache directory ``$RNNKIT_CACHE``, default ``~/.rnnkit/datasets``;
4. a download into the cache (``urllib``; checksum-verified; written to a temporary
   file and renamed, so an interrupted download never leaves a half file behind).
   ``RNNKIT_OFFLINE=1`` or ``download=False`` skips this step.

When everything fails the error says where it looked and where to put the file.
"""
from __future__ import annotations

import hashlib
import os
import sys
import tempfile
import urllib.request
from pathlib import Path
from typing import Iterable

from .. import config

DATA_ENV = "RNNKIT_DATA"
CACHE_ENV = "RNNKIT_CACHE"
OFFLINE_ENV = "RNNKIT_OFFLINE"
DEFAULT_CACHE = "~/.rnnkit/datasets"

_CHUNK = 1 << 20


def cache_dir() -> Path:
    """The cache directory (``$RNNKIT_CACHE`` or ``~/.rnnkit/datasets``); not created here."""
    return config.cache_dir()


def data_dirs() -> list[Path]:
    """Directories searched for data files: ``$RNNKIT_DATA`` entries, then the cache."""
    return [*config.data_dirs(), cache_dir()]


def offline() -> bool:
    """True when ``$RNNKIT_OFFLINE`` asks loaders never to touch the network."""
    return config.offline()


def find_in_data_dirs(name: str, dirs: Iterable[Path] | None = None) -> Path | None:
    """First ``dir / name`` that exists (file or folder), else ``None``."""
    for d in data_dirs() if dirs is None else dirs:
        candidate = d / name
        if candidate.exists():
            return candidate
    return None


def describe_search(name: str, explicit: str | os.PathLike | None = None) -> str:
    """Human-readable list of the places a file was looked for (for error messages)."""
    lines = []
    if explicit is not None:
        lines.append(f"  - path={str(explicit)!r} (does not exist)")
    if not config.data_dirs():
        lines.append(f"  - ${DATA_ENV} (not set)")
    for d in data_dirs():
        lines.append(f"  - {d / name}")
    return "\n".join(lines)


def sha256_of(path: str | os.PathLike) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _progress(done: int, total: int | None, label: str) -> None:
    if total:
        pct = 100.0 * done / total
        msg = f"\rDownloading {label}: {pct:5.1f}% ({done / 1e6:.1f}/{total / 1e6:.1f} MB)"
    else:
        msg = f"\rDownloading {label}: {done / 1e6:.1f} MB"
    sys.stderr.write(msg)
    sys.stderr.flush()


def download(
    url: str,
    dest: str | os.PathLike,
    sha256: str | None = None,
    progress: bool = True,
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``dest`` atomically, verifying ``sha256`` when given.

    The bytes go to a temporary file next to ``dest``, are hashed while written,
    and are renamed onto ``dest`` only after the checksum matches.

    Raises:
        OSError: network or file-system failure (``urllib.error.URLError`` included).
        ValueError: checksum mismatch (the partial file is removed).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=dest.name + ".", suffix=".part", dir=dest.parent)
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            length = response.headers.get("Content-Length") if getattr(response, "headers", None) else None
            total = int(length) if length and str(length).isdigit() else None
            done = 0
            while True:
                block = response.read(_CHUNK)
                if not block:
                    break
                out.write(block)
                digest.update(block)
                done += len(block)
                if progress:
                    _progress(done, total, dest.name)
        if progress:
            sys.stderr.write("\n")
        if sha256 is not None and digest.hexdigest() != sha256.lower():
            raise ValueError(
                f"download of {url}: sha256 mismatch; expected {sha256}, received {digest.hexdigest()} "
                "(the file was discarded; try again, or place a good copy by hand)"
            )
        os.replace(tmp_name, dest)
    except BaseException:
        if os.path.exists(tmp_name):
            os.remove(tmp_name)
        raise
    return dest


def resolve(
    name: str,
    path: str | os.PathLike | None = None,
    url: str | None = None,
    sha256: str | None = None,
    allow_download: bool = True,
    hint: str = "",
) -> Path:
    """Locate data file ``name``: explicit ``path``, data dirs, cache, then download.

    Args:
        name: file name looked up in the data directories (and used in the cache).
        path: explicit location; used when it exists. A missing explicit path
            falls back to looking ``basename(path)`` up in the data directories.
        url, sha256: where to download from, and the expected checksum.
        allow_download: False never touches the network.
        hint: extra sentence for the error message (e.g. alternative sources).

    Raises:
        FileNotFoundError: nothing found and no download possible; the message
            lists every place looked at and where to put the file.
    """
    if path is not None:
        explicit = Path(path).expanduser()
        if explicit.exists():
            return explicit
        name = explicit.name
    found = find_in_data_dirs(name)
    if found is not None:
        return found
    reason = "downloading is disabled"
    if url is not None and allow_download and not offline():
        target = cache_dir() / name
        try:
            return download(url, target, sha256=sha256)
        except (OSError, ValueError) as exc:
            reason = f"download from {url} failed: {exc}"
    elif url is not None and offline():
        reason = f"${OFFLINE_ENV} is set"
    raise FileNotFoundError(
        f"{name} not found. Looked in:\n{describe_search(name, path)}\n"
        f"and {reason}. Put {name} into ${DATA_ENV} (or {cache_dir()})"
        + (f", or download it from {url}" if url else "")
        + "."
        + (f" {hint}" if hint else "")
    )
