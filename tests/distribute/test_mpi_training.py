"""Data-parallel training under mpirun equals one process on the joined batches.

Tolerance: every weight within 1e-5 (absolute) of the one-process run after 2 epochs
(6 optimizer steps), for SGD with momentum, Adam and RMSprop. The only difference allowed
is float32 summation order (the shards' gradients are summed by MPI instead of inside one
matrix product); the runs below differ by about 1e-7.

The model uses Embedding(mask_zero=True), Dropout and LSTM dropout/recurrent_dropout:
each rank draws the masks of the whole global batch from generators in the same state and
keeps its own rows, so the masks are those of one process (see rnnkit/distribute/sharding.py).
"""
from __future__ import annotations

import json

import numpy as np
import pytest

import mpi_cases
from mpi_run import require_mpi, worker

ATOL = 1e-5
pytestmark = pytest.mark.slow  # each mpirun launch takes 1-5 s


@pytest.fixture(scope="module")
def references():
    return {name: mpi_cases.run_single(name) for name in mpi_cases.OPTIMIZERS}


@pytest.fixture(scope="module", params=[2, 3], ids=["n2", "n3"])
def distributed(request, tmp_path_factory):
    require_mpi()
    out = tmp_path_factory.mktemp(f"mpi{request.param}")
    proc = worker(request.param, "equality", out)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with open(out / "report.json") as f:
        report = json.load(f)
    return request.param, out, report


@pytest.mark.parametrize("opt", sorted(mpi_cases.OPTIMIZERS))
def test_weights_equal_one_process(distributed, references, opt):
    n, out, report = distributed
    got = np.load(out / f"{opt}_weights.npz")
    want = references[opt]["weights"]
    assert len(got.files) == len(want)
    for i, w in enumerate(want):
        np.testing.assert_allclose(got[f"arr_{i}"], w, rtol=0, atol=ATOL,
                                   err_msg=f"{opt}, -n {n}, weight {i}")
    # and the run moved the weights well beyond the tolerance, so equality means something
    assert max(np.abs(got[f"arr_{i}"] - w0).max() for i, w0 in
               enumerate(mpi_cases.build().get_weights())) > 100 * ATOL
    assert report[opt]["ranks_equal"], "the ranks ended with different weights"


@pytest.mark.parametrize("opt", sorted(mpi_cases.OPTIMIZERS))
def test_history_evaluate_predict_are_global(distributed, references, opt):
    n, out, report = distributed
    ref = references[opt]
    for key, values in ref["history"].items():  # loss, acc, val_loss, val_acc per epoch
        np.testing.assert_allclose(report[opt]["history"][key], values, rtol=0, atol=ATOL, err_msg=key)
    np.testing.assert_allclose(report[opt]["evaluate"], ref["evaluate"], rtol=0, atol=ATOL)
    pred = np.load(out / f"{opt}_predict.npy")
    assert pred.shape == ref["predict"].shape  # the full result, gathered from every rank
    np.testing.assert_allclose(pred, ref["predict"], rtol=0, atol=ATOL)


@pytest.mark.parametrize("reduction", mpi_cases.REDUCTIONS)
def test_sample_and_class_weights_with_other_loss_reductions(distributed, reduction):
    _, out, _ = distributed
    got = np.load(out / f"weighted_{reduction}.npz")
    for i, w in enumerate(mpi_cases.run_weighted(reduction)):
        np.testing.assert_allclose(got[f"arr_{i}"], w, rtol=0, atol=ATOL, err_msg=f"{reduction}, weight {i}")


def test_gradients_went_through_buckets(distributed):
    _, _, report = distributed
    stats = report["stats"]
    # (optimizers x 3 steps + weighted runs x 5 steps) x 2 epochs
    assert stats["steps"] == (3 * 3 + 2 * 5) * 2
    assert stats["allreduce_bytes"] > 0 and stats["allreduce_s"] >= 0
