"""Packaging metadata: one version string, the licence and py.typed ship with the package."""
from __future__ import annotations

import ast
import importlib.metadata
from pathlib import Path

import pytest

import rnnkit

ROOT = Path(__file__).resolve().parents[1]
INIT = ROOT / "src" / "rnnkit" / "_version.py"


def _pyproject() -> dict:
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def _literal_version() -> str:
    """The `__version__ = "..."` literal in src/rnnkit/_version.py, read without importing."""
    for node in ast.parse(INIT.read_text(encoding="utf-8")).body:
        if (isinstance(node, ast.Assign) and len(node.targets) == 1
                and getattr(node.targets[0], "id", None) == "__version__"):
            assert isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
            return node.value.value
    raise AssertionError("src/rnnkit/_version.py has no __version__ literal")


def test_version_has_one_source():
    project = _pyproject()["project"]
    assert "version" not in project, "pyproject must not repeat the version"
    assert "version" in project["dynamic"]
    dynamic = _pyproject()["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "rnnkit._version.__version__"}
    assert rnnkit.__version__ == _literal_version()
    parts = rnnkit.__version__.split(".")
    assert len(parts) >= 3 and all(p.isdigit() for p in parts[:3]), rnnkit.__version__


def test_installed_metadata_matches_version():
    try:
        installed = importlib.metadata.version("rnnkit")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("rnnkit is not installed (run from the source tree); "
                    "test_version_has_one_source checks pyproject instead")
    assert installed == rnnkit.__version__


def test_license_and_typing_marker_ship():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "rnnkit developers" in text
    assert (ROOT / "src" / "rnnkit" / "py.typed").is_file()
    pyproject = _pyproject()
    project = pyproject["project"]
    assert project["license"] == "MIT"
    assert project["license-files"] == ["LICENSE"]
    assert "py.typed" in pyproject["tool"]["setuptools"]["package-data"]["rnnkit"]
    assert project["authors"] and project["keywords"] and project["urls"]["Homepage"]
    assert "Typing :: Typed" in project["classifiers"]


def test_changelog_names_the_current_version():
    assert f"[{rnnkit.__version__}]" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
