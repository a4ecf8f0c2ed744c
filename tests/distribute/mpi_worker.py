"""Run under mpirun by test_mpi_training.py: ``mpi_worker.py CASE OUTDIR``.

Rank 0 writes its results to OUTDIR as .npz/.json files; every rank writes the checks
that concern it (weights equal on all ranks, messages of errors raised).
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import mpi_cases

from rnnkit.distribute import DistributedError, MPIStrategy


def save(path, arrays) -> None:
    np.savez(path, *arrays)


def case_equality(strategy, out) -> None:
    """SGD, Adam, RMSprop: weights, history, evaluate, predict of the distributed run."""
    x, y = mpi_cases.data()
    report = {}
    for opt_name in mpi_cases.OPTIMIZERS:
        # Other ranks start from other weights and dropout generators: fit must broadcast
        # rank 0's weights and generator states.
        model = mpi_cases.build(seed=7 if strategy.is_chief else 100 + strategy.rank)
        with strategy.scope():
            mpi_cases.compile_model(model, opt_name)
        history = mpi_cases.train(model)
        ev = model.evaluate(x, y, batch_size=10, verbose=0)
        pred = model.predict(x, batch_size=10, verbose=0)
        gathered = strategy.comm.gather([w.copy() for w in model.get_weights()], root=0)
        if strategy.is_chief:
            same = all(all(np.array_equal(a, b) for a, b in zip(gathered[0], g)) for g in gathered)
            save(os.path.join(out, f"{opt_name}_weights.npz"), model.get_weights())
            np.save(os.path.join(out, f"{opt_name}_predict.npy"), pred)
            report[opt_name] = {"history": history.history, "evaluate": ev, "ranks_equal": same,
                                "predict_rows": len(pred)}
    for reduction in mpi_cases.REDUCTIONS:
        weights = mpi_cases.run_weighted(reduction, strategy)
        if strategy.is_chief:
            save(os.path.join(out, f"weighted_{reduction}.npz"), weights)
    if strategy.is_chief:
        report["stats"] = dict(strategy.stats)
        with open(os.path.join(out, "report.json"), "w") as f:
            json.dump(report, f)


def case_fault(strategy, out) -> None:
    """Rank 1 raises in the middle of the second epoch; every rank must stop, none hang."""
    from rnnkit.callbacks import LambdaCallback

    def boom(batch, logs):
        if strategy.rank == 1 and batch == 1:
            raise RuntimeError("injected failure on rank 1")

    model = mpi_cases.build()
    with strategy.scope():
        mpi_cases.compile_model(model, "adam")
    x, y = mpi_cases.data()
    model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[LambdaCallback(on_batch_end=boom)])
    with open(os.path.join(out, f"finished_{strategy.rank}"), "w") as f:
        f.write("fit returned although a rank failed\n")


def case_callbacks(strategy, out) -> None:
    """Writers run on rank 0 only; a stop decided on one rank stops every rank."""
    from rnnkit.callbacks import CSVLogger, LambdaCallback, ModelCheckpoint

    model = mpi_cases.build()
    with strategy.scope():
        mpi_cases.compile_model(model, "adam")
    x, y = mpi_cases.data()

    def stop_on_rank_1(epoch, logs):
        if strategy.rank == 1 and epoch == 1:
            model.stop_training = True

    r = strategy.rank
    history = model.fit(x, y, batch_size=8, epochs=5, verbose=1, callbacks=[
        CSVLogger(os.path.join(out, f"log_{r}.csv")),
        ModelCheckpoint(os.path.join(out, f"ckpt_{r}.keras"), monitor="loss"),
        LambdaCallback(on_epoch_end=stop_on_rank_1)])
    with open(os.path.join(out, f"epochs_{r}.txt"), "w") as f:
        f.write(str(len(history.history["loss"])))


def case_straggler(strategy, out) -> None:
    """Rank 1 skips the evaluate that rank 0 makes: the timeout reports it, nobody hangs."""
    strategy.timeout = 2.0
    model = mpi_cases.build()
    with strategy.scope():
        mpi_cases.compile_model(model, "sgd")
    x, y = mpi_cases.data()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    if strategy.rank == 0:
        model.evaluate(x, y, verbose=0)
    else:
        import time
        time.sleep(30)  # a rank busy elsewhere (or stuck) instead of evaluating


def case_mismatch(strategy, out) -> None:
    """Rank 1 passes fewer samples: every rank raises the same clear error, nobody hangs."""
    model = mpi_cases.build()
    with strategy.scope():
        mpi_cases.compile_model(model, "sgd")
    x, y = mpi_cases.data()
    if strategy.rank == 1:
        x, y = x[:-4], y[:-4]
    try:
        model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    except DistributedError as exc:
        with open(os.path.join(out, f"error_{strategy.rank}.txt"), "w") as f:
            f.write(str(exc))


def case_resume(strategy, out) -> None:
    """Checkpoints cross between one process and MPI in both directions.

    in: OUTDIR/single.keras (written by one process after one epoch); continue it for one
    epoch here. Also train from scratch here for one epoch and save mpi.keras for one
    process to continue. A checkpoint holds no generator states, so the seed is set
    before loading, as the test does in one process.
    """
    import rnnkit
    from rnnkit.saving import load_model

    x, y = mpi_cases.data()
    rnnkit.set_seed(11)
    with strategy.scope():
        model = load_model(os.path.join(out, "single.keras"))
    model.fit(x, y, batch_size=mpi_cases.BATCH, epochs=1, shuffle=False, verbose=0)
    if strategy.is_chief:
        save(os.path.join(out, "resumed_under_mpi.npz"), model.get_weights())
    model = mpi_cases.build()
    with strategy.scope():
        mpi_cases.compile_model(model, "adam")
    model.fit(x, y, batch_size=mpi_cases.BATCH, epochs=1, shuffle=False, verbose=0)
    if strategy.is_chief:
        model.save(os.path.join(out, "mpi.keras"))


def main() -> None:
    case, out = sys.argv[1], sys.argv[2]
    strategy = MPIStrategy()
    globals()[f"case_{case}"](strategy, out)


if __name__ == "__main__":
    main()
