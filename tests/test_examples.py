"""Every example script runs (small sizes via --quick) and prints what it promises."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.environ.get("RNNKIT_DATA")

CASES = {
    "numpy_loop_vs_simplernn.py": ["max |difference|:  ", "parameters: 6208 = 64 x (32 + 64 + 1)"],
    "return_sequences_and_state.py": ["-> (1, 4, 3), (1, 3)", "-> (1, 4, 6), (1, 3), (1, 3), (1, 3), (1, 3)",
                                      "last output == last state: True"],
    "stacked_rnn_summary.py": ["Total params: 328,320", "8,320 = 4 x ((32 + 1) x 32 + 32^2)"],
    "gate_equations.py": ["LSTM by hand == layer: True", "GRU by hand == layer:  True"],
    "airline_forecast.py": ["test MAE:", "1960-12  predicted"],
    "imdb_tokenizer.py": ["x_train: (600, 200)", "test accuracy: "],
    "char_generation.py": ["nats/char", "ROMEO:"],
    "long_sequences.py": ["truncated BPTT, chunks of 100: epoch 3 loss", "memory='low', all 400 steps"],
    "gradient_flow.py": ["SimpleRNN  ||dL/dh_0|| / ||dL/dh_99||", "GRU", "saved plot: gradient_flow.png"],
}
NEEDS_DATA = {"airline_forecast.py", "imdb_tokenizer.py", "char_generation.py"}


def test_every_example_is_covered():
    scripts = sorted(f for f in os.listdir(os.path.join(ROOT, "examples")) if f.endswith(".py"))
    assert scripts == sorted(CASES)


@pytest.mark.parametrize("script", sorted(CASES))
def test_example_runs(script, tmp_path):
    if script in NEEDS_DATA and not DATA:
        pytest.skip("set RNNKIT_DATA to the shared data directory (CI does)")
    env = {**os.environ, "RNNKIT_CACHE": os.environ.get("RNNKIT_CACHE", str(tmp_path))}
    out = subprocess.run([sys.executable, os.path.join(ROOT, "examples", script), "--quick"],
                         capture_output=True, text=True, env=env, timeout=300, cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    for expected in CASES[script]:
        assert expected in out.stdout, out.stdout[-2000:]
    if script == "numpy_loop_vs_simplernn.py":
        diff = float(out.stdout.split("max |difference|:")[1].split()[0])
        assert diff < 1e-12
