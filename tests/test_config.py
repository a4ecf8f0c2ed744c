"""rnnkit.config: the one settings object, read from the environment once."""
from __future__ import annotations

import pytest

from rnnkit import config


def _from(monkeypatch, **env):
    for k in ("RNNKIT_ENGINE", "RNNKIT_REFERENCE_KERNELS", "RNNKIT_JIT", "RNNKIT_NUM_THREADS",
              "RNNKIT_JIT_MAX_WORK", "OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return config._from_env()


def test_defaults(monkeypatch):
    s = _from(monkeypatch)
    assert s.engine == "auto" and s.jit is None and 1 <= s.threads <= 2
    assert s.crossover("lstm") == 2048 and s.crossover("gru") == 6144 and s.crossover("simple_rnn") == 4096
    assert s.jit_allowed


def test_environment(monkeypatch):
    s = _from(monkeypatch, RNNKIT_ENGINE="numpy", RNNKIT_JIT="0", RNNKIT_NUM_THREADS="1",
              RNNKIT_JIT_MAX_WORK="77", OPENBLAS_NUM_THREADS="1")
    assert (s.engine, s.jit, s.threads, s.blas_single) == ("numpy", False, 1, True)
    assert s.crossover("lstm") == 77 and not s.jit_allowed
    assert _from(monkeypatch, RNNKIT_REFERENCE_KERNELS="1").engine == "reference"
    assert _from(monkeypatch, RNNKIT_JIT="1").jit is True


def test_bad_environment_values_are_named(monkeypatch):
    with pytest.raises(ValueError, match=r"\$RNNKIT_ENGINE must be one of .*received 'fast'"):
        _from(monkeypatch, RNNKIT_ENGINE="fast")
    with pytest.raises(ValueError, match=r"\$RNNKIT_JIT must be 0 or 1; received 'maybe'"):
        _from(monkeypatch, RNNKIT_JIT="maybe")


def test_set_engine_and_blocks_restore():
    before = config.get_engine()
    with config.use_engine("reference"):
        assert config.get_engine() == "reference"
        with config.override(threads=1, chunk=3) as s:
            assert s.threads == 1 and config.settings().chunk == 3 and config.get_engine() == "reference"
        assert config.settings().chunk == 32
    assert config.get_engine() == before
    try:
        config.set_engine("numpy")
        assert config.get_engine() == "numpy"
    finally:
        config.set_engine(before)


def test_errors_name_the_setting():
    with pytest.raises(ValueError, match=r"engine must be one of .*received 'tpu'"):
        config.set_engine("tpu")
    with pytest.raises(TypeError, match=r"unknown setting\(s\) \['thread'\]"):
        with config.override(thread=1):
            pass
    with pytest.raises(ValueError):
        with config.use_engine("cudnn"):
            pass


def test_settings_are_immutable():
    with pytest.raises(AttributeError):
        config.settings().engine = "numpy"


def test_data_locations(monkeypatch, tmp_path):
    monkeypatch.setenv("RNNKIT_DATA", f"{tmp_path / 'a'}:{tmp_path / 'b'}")
    monkeypatch.setenv("RNNKIT_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("RNNKIT_OFFLINE", "1")
    assert config.data_dirs() == [tmp_path / "a", tmp_path / "b"]
    assert config.cache_dir() == tmp_path / "cache" and config.offline()
    config.prepend_data_dir(tmp_path / "c")
    assert config.data_dirs()[0] == tmp_path / "c"
