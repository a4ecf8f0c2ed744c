"""The benchmark harness (bench/run.py) runs end to end and reports what the README says.

Not a timing test: it checks that the harness works and that its numbers are
well-formed, on its smallest run (one cell, --quick, rnnkit and PyTorch).
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench"


def _load_run():
    spec = importlib.util.spec_from_file_location("bench_run", BENCH / "run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_recurrent_gflop_counts():
    run = _load_run()
    # The figure: LSTM(256) on 128-wide embeddings, 100 steps, ~236 GFLOP per 1,000 samples.
    assert run.recurrent_gflop_per_1k("LSTM", 256, 128, 100) == pytest.approx(235.93, abs=0.01)
    # SimpleRNN(32), E32, 500 steps: 3 passes x 2 flops x 500 x 32 x 64 per sample.
    assert run.recurrent_gflop_per_1k("SimpleRNN", 32, 32, 500) == pytest.approx(6.144, abs=1e-9)


def test_bench_quick_run_reports_ratios(tmp_path):
    pytest.importorskip("torch")
    md, js = tmp_path / "R.md", tmp_path / "r.json"
    r = subprocess.run([sys.executable, str(BENCH / "run.py"), "--quick", "--frameworks", "rnnkit,torch",
                        "--only", "SimpleRNN", "--long-steps", "96", "--markdown", str(md), "--json", str(js)],
                       capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, PYTHONWARNINGS="ignore"))
    assert r.returncode == 0, r.stderr[-2000:]
    results = json.loads(js.read_text())["SimpleRNN32"]
    assert set(results) == {"rnnkit", "torch"}
    for fw, runs in results.items():
        (res,) = runs
        assert res["framework"] == fw and res["steps"] == 500 and res["samples"] == 512
        for key in ("train_s_per_1k", "predict_s_per_1k", "latency_direct_s", "peak_rss_mb", "import_s"):
            assert res[key] > 0, (fw, key)
        assert res["latency_direct_s"] <= res["latency_predict_s"]
    text = md.read_text()
    row = next(line for line in text.splitlines() if line.startswith("| SimpleRNN(32) E32 T500 | train s/1k"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    mine, peer, ratio = float(cells[2]), float(cells[3]), float(cells[4])
    assert ratio == pytest.approx(peer / mine, rel=0.02)
    assert "## Footprint" in text and "| rnnkit |" in text
    # Against the fastest peer: torch's train time over rnnkit's, as in the table above.
    summary = next(line for line in text.splitlines() if line.startswith("| SimpleRNN(32) T500 |"))
    assert float(summary.strip("|").split("|")[1]) == pytest.approx(peer / mine, rel=0.02)
    # Long sequences: full storage, memory="low" and PyTorch, with ratios against PyTorch.
    long_rows = {c[1].strip(): c for c in (line.strip("|").split("|") for line in text.splitlines()
                                          if line.startswith("| 96 |"))}
    assert set(long_rows) == {"rnnkit", "rnnkit-low", "torch"}
    ref = float(long_rows["torch"][2])
    assert float(long_rows["rnnkit-low"][4]) == pytest.approx(float(long_rows["rnnkit-low"][2]) / ref, rel=0.03, abs=0.006)
    assert "## GPU" in text
