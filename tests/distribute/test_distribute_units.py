"""rnnkit.distribute pieces that need no MPI: shards, global-batch random draws, metric
state sums, launcher detection; and that a plain run never imports mpi4py."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from rnnkit import metrics
from rnnkit.distribute import launched_by_mpi, world_from_env
from rnnkit.distribute.metrics_sync import pack, state_names, unpack
from rnnkit.distribute.sharding import ShardedGenerator, Step, StepHolder, shard_bounds

from mpi_run import env, require_mpi


@pytest.mark.parametrize("n,size", [(16, 2), (16, 3), (9, 3), (2, 3), (1, 4), (0, 2)])
def test_shards_cover_the_batch_in_order(n, size):
    bounds = [shard_bounds(n, size, r) for r in range(size)]
    assert bounds[0][0] == 0 and bounds[-1][1] == n
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:]))
    sizes = [b - a for a, b in bounds]
    assert max(sizes) - min(sizes) <= 1 and sizes == sorted(sizes, reverse=True)


def test_sharded_generator_draws_this_ranks_rows_of_the_global_draw():
    holder = StepHolder()
    gen = ShardedGenerator(np.random.default_rng(5).bit_generator, holder)
    plain = np.random.default_rng(5)
    holder.step = Step(n_global=10, offset=3, n_run=4, weight=0.4)
    np.testing.assert_array_equal(gen.random((4, 5)), plain.random((10, 5))[3:7])
    # a TimeDistributed reshape: (rows x timesteps, features)
    np.testing.assert_array_equal(gen.random((12, 2)), plain.random((30, 2))[9:21])
    np.testing.assert_array_equal(gen.normal(0, 1, (4, 3)), plain.normal(0, 1, (10, 3))[3:7])
    # a noise_shape with batch dimension 1 is shared by all rows: drawn as one process does
    np.testing.assert_array_equal(gen.random((1, 5)), plain.random((1, 5)))
    holder.step = None  # between steps: plain draws
    np.testing.assert_array_equal(gen.random((4, 5)), plain.random((4, 5)))


def test_a_stand_in_row_keeps_the_generator_in_step():
    holder = StepHolder()
    gen = ShardedGenerator(np.random.default_rng(2).bit_generator, holder)
    plain = np.random.default_rng(2)
    holder.step = Step(n_global=2, offset=0, n_run=1, weight=0.0, stand_in=True)
    gen.random((1, 3))
    plain.random((2, 3))
    holder.step = None
    np.testing.assert_array_equal(gen.random(4), plain.random(4))


def test_summed_metric_states_equal_one_metric_on_all_the_data():
    r = np.random.default_rng(0)
    y = (r.random((40, 1)) > 0.5).astype("float32")
    p = r.random((40, 1)).astype("float32")
    make = [lambda: metrics.Mean(), lambda: metrics.BinaryAccuracy(), lambda: metrics.Precision(),
            lambda: metrics.AUC()]
    for factory in make:
        whole, a, b = factory(), factory(), factory()
        if isinstance(whole, metrics.Mean) and not hasattr(whole, "_fn"):
            whole.update_state(p[:, 0]), a.update_state(p[:25, 0]), b.update_state(p[25:, 0])
        else:
            whole.update_state(y, p), a.update_state(y[:25], p[:25]), b.update_state(y[25:], p[25:])
        va, layout = pack([a])
        vb, _ = pack([b])
        (summed,) = unpack(va + vb, layout, [a])
        assert summed.result() == pytest.approx(whole.result(), abs=1e-12), type(whole).__name__
        assert a.result() != pytest.approx(whole.result(), abs=1e-9) or factory is make[3]


def test_state_names_are_what_reset_state_assigns():
    assert state_names(metrics.Mean()) == ("total", "count")
    assert set(state_names(metrics.AUC())) == {"tp", "fp", "tn", "fn"}


def test_launcher_detection_reads_the_environment_only():
    assert world_from_env({}) == (1, 0)
    assert world_from_env({"PMI_SIZE": "4", "PMI_RANK": "2"}) == (4, 2)
    assert world_from_env({"OMPI_COMM_WORLD_SIZE": "3", "OMPI_COMM_WORLD_RANK": "1"}) == (3, 1)
    assert not launched_by_mpi({"PMI_SIZE": "1", "PMI_RANK": "0"})
    assert launched_by_mpi({"MPI_LOCALNRANKS": "2", "MPI_LOCALRANKID": "0"})


def test_plain_runs_never_import_mpi4py():
    code = ("import sys, rnnkit, rnnkit.distribute, rnnkit.cli; "
            "from rnnkit.models import Sequential; "
            "print('mpi4py' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env(),
                         timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@pytest.mark.slow
def test_one_process_strategy_is_plain_training():
    """Without mpirun the world has one rank: fit under the strategy is bit-identical."""
    require_mpi()
    code = """
import numpy as np, mpi_cases
from rnnkit.distribute import MPIStrategy
ref = mpi_cases.run_single('rmsprop')
strategy = MPIStrategy()
model = mpi_cases.build()
with strategy.scope():
    mpi_cases.compile_model(model, 'rmsprop')
mpi_cases.train(model)
assert strategy.size == 1
assert all(np.array_equal(a, b) for a, b in zip(model.get_weights(), ref['weights']))
x, y = mpi_cases.data()
np.testing.assert_array_equal(model.predict(x, batch_size=10, verbose=0), ref['predict'])
try:
    model.fit(x, y, batch_size=0)
except ValueError as exc:  # one rank: errors are raised as usual, no abort
    print('ok', exc)
"""
    from mpi_run import HERE

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env(),
                         timeout=60, cwd=HERE)
    assert out.returncode == 0, out.stdout + out.stderr
    assert out.stdout.startswith("ok fit: batch_size")


def test_bench_paper_model_arithmetic():
    """bench/mpi_scaling.py's cluster model: ring allreduce vs compute of B/P samples."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parents[2] / "bench" / "mpi_scaling.py"
    spec = importlib.util.spec_from_file_location("mpi_scaling", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    (row,) = mod.paper_model(1e-3, 1_000_000, {"net": (1e9, 10e-6)}, ranks=(4,), batches=(64,))
    comm = 2 * 3 / 4 * 1e6 / 1e9 + 2 * 3 * 10e-6  # 1.5 ms + 0.06 ms
    assert row["allreduce_ms"] == pytest.approx(1e3 * comm)
    assert row["compute_ms"] == pytest.approx(16.0)
    assert row["crossover_batch"] == pytest.approx(comm / 1e-3 * 4)  # 6.24 samples
