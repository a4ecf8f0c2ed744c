"""Failures under mpirun: no hang, a clear error, checkpoints that cross over."""
from __future__ import annotations

import time

import numpy as np
import pytest

import mpi_cases
from mpi_run import require_mpi, worker

pytestmark = pytest.mark.slow  # each mpirun launch takes 1-5 s


def test_a_rank_that_raises_stops_every_rank(tmp_path):
    require_mpi()
    t0 = time.perf_counter()
    proc = worker(2, "fault", tmp_path, timeout=60)
    assert proc.returncode != 0
    assert "injected failure on rank 1" in proc.stderr
    assert "rank 1 of 2 raised RuntimeError" in proc.stderr
    assert not list(tmp_path.glob("finished_*")), "a rank went on after another failed"
    assert time.perf_counter() - t0 < 30


def test_a_rank_missing_a_collective_is_reported_after_the_timeout(tmp_path):
    require_mpi()
    t0 = time.perf_counter()
    proc = worker(2, "straggler", tmp_path, timeout=60)
    assert proc.returncode != 0
    assert "rank 0 of 2 waited 2 s for the other ranks at evaluate" in proc.stderr
    assert time.perf_counter() - t0 < 25  # well before rank 1's 30 s sleep ends


def test_writers_run_on_rank_0_and_a_stop_stops_every_rank(tmp_path):
    require_mpi()
    proc = worker(2, "callbacks", tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert [(tmp_path / f"epochs_{r}.txt").read_text() for r in range(2)] == ["2", "2"]
    assert (tmp_path / "log_0.csv").exists() and (tmp_path / "ckpt_0.keras").exists()
    assert not (tmp_path / "log_1.csv").exists() and not (tmp_path / "ckpt_1.keras").exists()
    assert proc.stdout.count("Epoch 2/5") == 1  # one progress bar, rank 0's


def test_mismatched_data_is_a_clear_error_on_every_rank(tmp_path):
    require_mpi()
    proc = worker(2, "mismatch", tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    messages = [(tmp_path / f"error_{r}.txt").read_text() for r in range(2)]
    assert messages[0] == messages[1]
    assert "number of samples (rank 0: 52; rank 1: 48)" in messages[0]


def test_checkpoints_cross_between_mpi_and_one_process(tmp_path):
    """A checkpoint written by one process continues under MPI as it does in one process,
    and one written under MPI (by rank 0) holds what one process would have written."""
    require_mpi()
    import rnnkit
    from rnnkit.saving import load_model

    x, y = mpi_cases.data()

    def one_epoch(model):
        model.fit(x, y, batch_size=mpi_cases.BATCH, epochs=1, shuffle=False, verbose=0)

    def continued(path):
        rnnkit.set_seed(11)  # the dropout generators are not part of a checkpoint
        model = load_model(path)
        one_epoch(model)
        return model.get_weights()

    model = mpi_cases.build()
    mpi_cases.compile_model(model, "adam")
    one_epoch(model)
    model.save(tmp_path / "single.keras")
    after_one = model.get_weights()
    want = continued(tmp_path / "single.keras")

    proc = worker(2, "resume", tmp_path, timeout=60)
    assert proc.returncode == 0, proc.stdout + proc.stderr

    resumed = np.load(tmp_path / "resumed_under_mpi.npz")  # one process -> MPI
    for i, w in enumerate(want):
        np.testing.assert_allclose(resumed[f"arr_{i}"], w, rtol=0, atol=1e-5)

    from_mpi = load_model(tmp_path / "mpi.keras")  # MPI -> one process
    assert from_mpi.optimizer.iterations == model.optimizer.iterations == 4
    for got, w in zip(from_mpi.get_weights(), after_one):
        np.testing.assert_allclose(got, w, rtol=0, atol=1e-5)
    for got, w in zip(continued(tmp_path / "mpi.keras"), want):
        np.testing.assert_allclose(got, w, rtol=0, atol=1e-5)
