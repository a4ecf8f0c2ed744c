"""The rnnkit command end to end on small slices of the real data, and its error paths."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from rnnkit.cli import main

DATA = os.environ.get("RNNKIT_DATA")
needs_data = pytest.mark.skipif(
    not DATA or not os.path.exists(os.path.join(DATA, "imdb_reviews.csv.gz")),
    reason="set RNNKIT_DATA to the shared data directory (CI does)")


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RNNKIT_CACHE", os.environ.get("RNNKIT_CACHE", str(tmp_path / "cache")))
    return tmp_path


@needs_data
def test_train_imdb_predict_summary_evaluate(workdir, capsys):
    rc = main(["train", "imdb", "--cell", "gru", "--epochs", "1", "--maxlen", "40", "--limit", "300",
               "--units", "8", "--embed-dim", "8", "--batch-size", "64", "--verbose", "2",
               "--data", DATA])
    out = capsys.readouterr().out
    assert rc == 0
    assert "gru (GRU)" in out and "Total params:" in out and "Optimizer params" not in out
    assert "Epoch 1/1" not in out  # Keras 3 prints "Epoch i/n" only when n > 1
    last = out.strip().splitlines()[-1]
    assert last.startswith("test accuracy: ") and len(last.split(": ")[1]) == 6
    assert 0.0 <= float(last.split(": ")[1]) <= 1.0
    assert (workdir / "imdb.keras").exists()

    assert main(["predict", "imdb.keras", "A wonderful, moving film.", "Dull and awful."]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and all(0.0 <= float(ln.split()[0]) <= 1.0 for ln in lines)

    (workdir / "reviews.txt").write_text("great movie\nterrible movie\n")
    assert main(["predict", "imdb.keras", "--file", "reviews.txt"]) == 0
    assert len(capsys.readouterr().out.strip().splitlines()) == 2

    assert main(["summary", "imdb.keras", "--explain"]) == 0
    assert "= 3 x (8 x 8 + 8^2 + 2 x 8)" in capsys.readouterr().out
    assert main(["summary", "imdb.keras", "--style", "keras2"]) == 0
    out = capsys.readouterr().out
    assert "Trainable params: " in out and "_" * 65 in out and "\u2503" not in out

    assert main(["evaluate", "imdb.keras", "--limit", "200", "--data", DATA]) == 0
    assert capsys.readouterr().out.strip().splitlines()[-1].startswith("test accuracy: ")


@needs_data
def test_train_shakespeare_and_generate(workdir, capsys):
    rc = main(["train", "shakespeare", "--epochs", "1", "--limit", "40", "--units", "16",
               "--seq-len", "30", "--batch-size", "20", "--verbose", "0", "--data", DATA])
    assert rc == 0
    out = capsys.readouterr().out
    assert "nats/char" in out and "\u2502 time_distributed" in out and "(TimeDistributed)" in out
    assert main(["generate", "shakespeare.keras", "--seed-text", "JULIET:", "--length", "50"]) == 0
    text = capsys.readouterr().out.strip()
    assert text.startswith("JULIET:") and len(text) >= 57
    # Same seed, same text.
    main(["generate", "shakespeare.keras", "--seed-text", "JULIET:", "--length", "50"])
    assert capsys.readouterr().out.strip() == text


def test_errors_are_one_line_without_traceback(workdir, capsys, monkeypatch):
    assert main(["predict", "missing.keras", "hi"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "rnnkit: error: load_model: no such file: missing.keras"
    (workdir / "junk.keras").write_text("not a model")
    assert main(["summary", "junk.keras"]) == 2
    assert "junk.keras: unknown file type" in capsys.readouterr().err
    monkeypatch.setenv("RNNKIT_DATA", str(workdir / "empty"))
    monkeypatch.setenv("RNNKIT_OFFLINE", "1")
    assert main(["train", "imdb", "--data", str(workdir / "nowhere")]) == 2
    assert capsys.readouterr().err.strip() == f"rnnkit: error: --data: no such directory: {workdir / 'nowhere'}"
    os.makedirs(workdir / "empty")
    assert main(["train", "imdb", "--data", str(workdir / "empty")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "imdb" in err and str(workdir / "empty") in err


@pytest.mark.parametrize("argv,msg", [
    (["train", "imdb", "--epochs", "0"], "argument --epochs: expected a positive int; received '0'"),
    (["train", "imdb", "--cell", "rnn"], "argument --cell: invalid choice: 'rnn'"),
    (["train", "imdb", "--validation-split", "1.5"], "expected a number in [0, 1); received '1.5'"),
    (["generate", "x.keras", "--length", "abc"], "argument --length: expected a int; received 'abc'"),
])
def test_bad_options(argv, msg, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    assert msg in capsys.readouterr().err


def test_python_dash_m_entry_point():
    out = subprocess.run([sys.executable, "-m", "rnnkit", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.startswith("rnnkit ")


def test_cli_leaves_the_compiled_kernels_off_unless_asked(monkeypatch, settings):
    """One-shot commands skip loading the optional Numba kernels (~0.5 s), training uses
    them, and the setting is restored."""
    from rnnkit import config

    def allowed():
        return config.settings().jit is not False

    seen = []
    import rnnkit.cli as cli

    # make_parser binds the command functions when main() calls it.
    monkeypatch.setattr(cli, "cmd_summary", lambda args: seen.append(allowed()))
    settings(jit=None)  # RNNKIT_JIT unset
    assert main(["summary", "x.keras"]) == 0
    settings(jit=True)  # RNNKIT_JIT=1
    assert main(["summary", "x.keras"]) == 0
    assert seen == [False, True] and config.settings().jit is True
    # training commands use them unless RNNKIT_JIT=0
    monkeypatch.setattr(cli, "cmd_train_imdb", lambda args: seen.append(allowed()))
    settings(jit=None)
    assert main(["train", "imdb"]) == 0
    settings(jit=False)
    assert main(["train", "imdb"]) == 0
    assert seen == [False, True, True, False]
