"""Isolation for data-set tests: a temporary cache, no data dir, and no network.

Every test gets ``RNNKIT_CACHE`` pointing into its own ``tmp_path`` and no
``RNNKIT_DATA`` (tests that want the real data read it from ``REAL_DATA`` and set
it themselves). ``urllib.request.urlopen`` only serves ``file://`` URLs, so a bug
can never reach the internet or write into the home directory.
"""
from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path

import pytest

# Captured before the autouse fixture clears it, for the tests that use real data.
# Without the variable, fall back to the shared folder beside the project checkout.
_SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "data"
REAL_DATA = os.environ.get("RNNKIT_DATA") or (str(_SHARED) if _SHARED.is_dir() else None)

_real_urlopen = urllib.request.urlopen


def _local_only_urlopen(url, *args, **kwargs):
    target = url if isinstance(url, str) else url.get_full_url()
    if not target.startswith("file:"):
        raise urllib.error.URLError(f"network disabled in tests (asked for {target})")
    return _real_urlopen(url, *args, **kwargs)


@pytest.fixture(autouse=True)
def isolated_data_env(tmp_path, monkeypatch):
    cache = tmp_path / "rnnkit-cache"
    monkeypatch.setenv("RNNKIT_CACHE", str(cache))
    monkeypatch.delenv("RNNKIT_DATA", raising=False)
    monkeypatch.delenv("RNNKIT_OFFLINE", raising=False)
    monkeypatch.setattr(urllib.request, "urlopen", _local_only_urlopen)
    return cache


@pytest.fixture
def real_data():
    """Path of the real data folder (imdb_reviews.csv.gz, ...), or skip with the reason."""
    if not REAL_DATA:
        pytest.skip("real data not available: RNNKIT_DATA is not set and ../shared/data does not exist")
    return Path(REAL_DATA)
