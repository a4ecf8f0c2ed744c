"""mypy over src/rnnkit, with the non-strict settings in pyproject's [tool.mypy]."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


# Not marked slow (about 10-20 s): mypy must pass on every CI run.
def test_mypy_passes(tmp_path, monkeypatch):
    api = pytest.importorskip("mypy.api", reason="mypy is in the test extra; install it to type-check")
    monkeypatch.chdir(ROOT)  # mypy finds [tool.mypy] in ./pyproject.toml
    stdout, stderr, status = api.run(["--cache-dir", str(tmp_path / "mypy_cache")])
    assert status == 0, f"mypy found problems:\n{stdout}{stderr}"
    assert "Success" in stdout


def test_package_is_marked_typed():
    assert (ROOT / "src" / "rnnkit" / "py.typed").is_file()
