"""`rnnkit explain` end to end on a small saved model."""
from __future__ import annotations

import numpy as np
import pytest

import reference as ref
from rnnkit.cli import build_imdb_model, main
from rnnkit.inspect import explain

WORDS = ["great", "movie", "bad", "acting", "wonderful", "boring"]


@pytest.fixture
def saved(tmp_path, monkeypatch, rng):
    monkeypatch.chdir(tmp_path)
    model = build_imdb_model("gru", 6, 5, 20, 12)
    for lay in model.layers:
        ref.randomize(lay, rng, scale=0.7)
    model.metadata = {"task": "imdb", "num_words": 20, "maxlen": 12, "index_from": 3, "start_char": 1,
                      "oov_char": 2, "word_index": {w: i + 1 for i, w in enumerate(WORDS)}}
    model.save("m.keras")
    return model


@pytest.mark.slow
def test_explain_command_prints_and_writes_reports(saved, capsys, tmp_path):
    text = "A great movie, wonderful acting. Not boring!"
    assert main(["explain", "m.keras", text, "--out", "r.html"]) == 0
    out = capsys.readouterr().out.splitlines()
    want = explain(saved, text)
    assert out[0].startswith(f"P(positive) = {want['prediction']:.4f}")
    assert "(6 tokens)" in out[0]  # <start> great movie wonderful acting boring
    assert out[1].startswith("integrated gradients from all-zero embeddings")
    assert out[-1] == "report: r.html" and (tmp_path / "r.html").read_text().startswith("<!DOCTYPE html>")

    (tmp_path / "review.txt").write_text(text)
    assert main(["explain", "m.keras", "--file", "review.txt", "--baseline", "pad", "--steps", "8",
                 "--gates", "update_gate,hidden_state", "--out", "r.png"]) == 0
    assert "padding token" in capsys.readouterr().out
    assert (tmp_path / "r.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.parametrize("argv,msg", [
    (["explain", "m.keras", "great", "--out", "r.txt"], "must end in .html or .png"),
    (["explain", "m.keras"], "give a text"),
    (["explain", "m.keras", "great", "--gates", "forget_gate"], "not in layer"),
    (["explain", "m.keras", "--file", "missing.txt"], "cannot read missing.txt"),
])
def test_explain_command_errors_are_one_line(saved, capsys, argv, msg):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("rnnkit: error: ") and msg in err[0]
    assert np.isfinite(saved.predict(np.ones((1, 12), int), verbose=0)).all()
