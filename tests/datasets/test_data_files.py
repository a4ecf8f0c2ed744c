"""Data-file lookup order and the atomic, checksum-verified download."""
from __future__ import annotations

import hashlib
import io
import urllib.request

import pytest

from rnnkit.datasets import _files


def test_lookup_order(tmp_path, isolated_data_env, monkeypatch):
    data = tmp_path / "data"
    data.mkdir()
    isolated_data_env.mkdir()
    (data / "f.txt").write_text("data")
    (isolated_data_env / "f.txt").write_text("cache")
    explicit = tmp_path / "mine.txt"
    explicit.write_text("explicit")
    assert _files.resolve("f.txt") == isolated_data_env / "f.txt"
    monkeypatch.setenv("RNNKIT_DATA", str(data))
    assert _files.data_dirs() == [data, isolated_data_env]
    assert _files.resolve("f.txt") == data / "f.txt"
    assert _files.resolve("f.txt", path=explicit) == explicit
    assert _files.resolve("f.txt", path=tmp_path / "nope" / "f.txt") == data / "f.txt"


def test_default_cache_is_under_home(monkeypatch, tmp_path):
    monkeypatch.delenv("RNNKIT_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert _files.cache_dir() == tmp_path / ".rnnkit" / "datasets"


def test_download_file_url_is_atomic_and_checked(tmp_path, capsys):
    src = tmp_path / "src.bin"
    src.write_bytes(b"x" * 3_000_000)
    digest = hashlib.sha256(src.read_bytes()).hexdigest()
    dest = tmp_path / "cache" / "got.bin"
    assert _files.download(src.as_uri(), dest, sha256=digest) == dest
    assert dest.read_bytes() == src.read_bytes()
    assert "100.0%" in capsys.readouterr().err
    with pytest.raises(ValueError, match="sha256 mismatch"):
        _files.download(src.as_uri(), tmp_path / "cache" / "bad.bin", sha256="f" * 64)
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == ["got.bin"]


def test_interrupted_download_leaves_no_partial_file(tmp_path, monkeypatch):
    class Broken(io.BytesIO):
        headers = {"Content-Length": "100"}

        def read(self, n=-1):
            data = super().read(10)
            if not data:
                raise ConnectionResetError("connection dropped")
            return data

    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout=None: Broken(b"y" * 30))
    with pytest.raises(ConnectionResetError):
        _files.download("https://example.invalid/f", tmp_path / "c" / "f.bin", progress=False)
    assert list((tmp_path / "c").iterdir()) == []


def test_missing_file_message(isolated_data_env, monkeypatch, tmp_path):
    monkeypatch.setenv("RNNKIT_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError) as err:
        _files.resolve("thing.bin", url="https://example.invalid/thing.bin")
    msg = str(err.value)
    assert str(tmp_path / "thing.bin") in msg and str(isolated_data_env / "thing.bin") in msg
    assert "download from https://example.invalid/thing.bin failed" in msg
