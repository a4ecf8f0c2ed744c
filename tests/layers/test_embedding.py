"""The Embedding table's gradient: the scatter-add of rows by id."""
from __future__ import annotations

import numpy as np
import pytest

from rnnkit.layers.embedding import scatter_add_rows


@pytest.mark.parametrize("jit", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_scatter_add_rows_long_and_short_runs(jit, dtype, settings, rng):
    """Runs of every length (a padding id's thousands of rows, common and single ids)
    sum to ``np.add.at``'s result; the long runs at least as accurately in float32."""
    if jit:
        pytest.importorskip("numba")
    settings(jit=jit)
    ids = np.concatenate([np.zeros(3000, np.int64), np.full(300, 7), rng.integers(0, 40, 500)])
    rng.shuffle(ids)
    g = rng.normal(size=(ids.size, 5))
    expect = np.zeros((40, 5))
    np.add.at(expect, ids, g)
    got = scatter_add_rows(ids, g.astype(dtype), 40)
    assert got.dtype == np.dtype(dtype) and got.shape == (40, 5)
    if dtype == "float64":
        np.testing.assert_allclose(got, expect, rtol=1e-12, atol=1e-12)
    else:
        np.testing.assert_allclose(got, expect, rtol=0, atol=5e-4)
    np.testing.assert_array_equal(got[np.setdiff1d(np.arange(40), ids)], 0)


def test_scatter_add_rows_only_long_runs(settings):
    settings(jit=False)
    ids = np.concatenate([np.full(400, 2), np.full(300, 0)])
    out = scatter_add_rows(ids, np.ones((700, 3), np.float32), 4)
    np.testing.assert_array_equal(out, [[300] * 3, [0] * 3, [400] * 3, [0] * 3])
