"""``mpirun -n 2 rnnkit train imdb`` trains data-parallel and prints what one process prints."""
from __future__ import annotations

import os

import pytest

from mpi_run import mpirun, require_mpi

DATA = os.environ.get("RNNKIT_DATA")
ARGS = ["train", "imdb", "--limit", "400", "--epochs", "1", "--maxlen", "30", "--verbose", "2"]


@pytest.mark.slow
@pytest.mark.skipif(not DATA or not os.path.isdir(DATA),
                    reason="set RNNKIT_DATA to the shared data directory (CI does)")
def test_cli_under_mpirun_prints_once_and_matches_one_process(tmp_path, capsys, monkeypatch):
    require_mpi()
    proc = mpirun(2, ["-m", "rnnkit", *ARGS, "--data", DATA, "--out", str(tmp_path / "mpi.keras")],
                  timeout=180, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert lines[0] == "MPI: 2 ranks train data-parallel; --batch-size 128 is the global batch"
    assert sum(line.startswith("test accuracy:") for line in lines) == 1
    assert lines[-1].startswith("test accuracy:")
    # one epoch: Keras 3 prints no "Epoch 1/1" line; the epoch's line comes once (rank 0)
    assert sum(line.startswith("Epoch ") for line in lines) == 0
    assert sum("/step" in line for line in lines) == 1
    assert (tmp_path / "mpi.keras").exists()

    from rnnkit.cli import main

    monkeypatch.chdir(tmp_path)
    assert main([*ARGS, "--data", DATA, "--out", str(tmp_path / "one.keras")]) == 0
    one = capsys.readouterr().out.strip().splitlines()
    assert lines[-2:] == one[-2:]  # test loss and accuracy, to 4 decimals
