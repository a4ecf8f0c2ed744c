"""Data-parallel scaling on this machine, and a paper model for a cluster.

    python bench/mpi_scaling.py [--steps 12] [--maxlen 200] [--batch 128] [--json out.json]

Trains the seeds' IMDB LSTM (Embedding(10000, 32) -> LSTM(32) -> Dense(1), 328,353
parameters) on random token ids for ``--steps`` global batches in each configuration:

- 1 process, 1 BLAS thread (the per-core baseline);
- 1 process, 2 BLAS threads;
- ``mpirun -n 2``, 1 thread per rank (with and without overlapping the gradient buckets
  with the backward pass);
- ``mpirun -n 4``, 1 thread per rank: 2x oversubscribed on 2 cores.

It reports samples/s, the scaling efficiency (samples/s over cores used x the per-core
baseline), the share of a step spent in the gradient allreduce, and the measured
``Allreduce`` bandwidth for a buffer the size of the gradients. From those it models 8 and
64 ranks on a cluster: per step, each rank computes ``B / P`` samples and sends a ring
allreduce of the gradients, ``2 (P - 1) / P x bytes / bandwidth + 2 (P - 1) x latency``.

On a shared 2-core machine the timings are noisy (other jobs run at the same time): read
the ratios, and rerun before trusting a difference under about 20%.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------ worker
def _best_time(fn, reps: int) -> float:
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def worker(args) -> None:
    import numpy as np

    import rnnkit
    from rnnkit.keras import layers
    from rnnkit.keras.models import Sequential

    strategy = None
    if args.mpi:
        from rnnkit.distribute import MPIStrategy
        strategy = MPIStrategy(overlap=not args.no_overlap, bucket_bytes=args.bucket_bytes)
    rnnkit.set_seed(0)
    model = Sequential([layers.Input(shape=(args.maxlen,), dtype="int32"), layers.Embedding(10000, 32),
                        layers.LSTM(32), layers.Dense(1, activation="sigmoid")])
    if strategy is not None:
        with strategy.scope():
            model.compile("rmsprop", "binary_crossentropy", metrics=["acc"])
    else:
        model.compile("rmsprop", "binary_crossentropy", metrics=["acc"])
    r = np.random.default_rng(0)
    n = args.batch * args.steps
    x = r.integers(1, 10000, (n, args.maxlen)).astype("int32")
    y = (r.random((n, 1)) > 0.5).astype("float32")
    warm = args.batch * 2
    model.fit(x[:warm], y[:warm], batch_size=args.batch, epochs=1, verbose=0)  # JIT, caches, buffers
    if strategy is not None:
        strategy.stats.clear()
        strategy.comm.Barrier()
    t0 = time.perf_counter()
    model.fit(x, y, batch_size=args.batch, epochs=1, verbose=0, shuffle=False)
    if strategy is not None:
        strategy.comm.Barrier()
    elapsed = time.perf_counter() - t0
    out = {"seconds": elapsed, "samples_per_s": n / elapsed, "steps": args.steps,
           "grad_bytes": int(sum(w.nbytes for w in model.trainable_weights))}
    if strategy is not None:
        from mpi4py import MPI

        comm = strategy.comm
        stats = comm.gather(dict(strategy.stats), root=0)
        buf = np.ones(out["grad_bytes"] // 4, dtype=np.float32)
        for _ in range(3):
            comm.Allreduce(MPI.IN_PLACE, buf)
        comm.Barrier()
        # Best of many: on a loaded machine most repetitions wait for a descheduled rank.
        t_ar = _best_time(lambda: comm.Allreduce(MPI.IN_PLACE, buf), 20)
        tiny = np.ones(1, dtype=np.float64)
        t_tiny = _best_time(lambda: comm.Allreduce(MPI.IN_PLACE, tiny), 200)
        if strategy.is_chief:
            out["allreduce_s"] = sum(s.get("allreduce_s", 0.0) for s in stats) / len(stats)
            out["metrics_s"] = sum(s.get("metrics_s", 0.0) for s in stats) / len(stats)
            out["allreduce_one_buffer_s"] = t_ar
            out["allreduce_latency_s"] = t_tiny
            out["ranks"] = strategy.size
    if strategy is None or strategy.is_chief:
        print("RESULT " + json.dumps(out), flush=True)


# ------------------------------------------------------------------ driver
def launch(ranks: int, threads: int, args, overlap: bool = False, bucket_bytes: int = 1 << 18) -> dict:
    """Best of ``args.repeats`` runs (the machine is shared: the best run is the least disturbed)."""
    runs = [_launch_once(ranks, threads, args, overlap, bucket_bytes) for _ in range(args.repeats)]
    return max(runs, key=lambda r: r["samples_per_s"])


def _launch_once(ranks: int, threads: int, args, overlap: bool, bucket_bytes: int) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src")] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env.update(OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--steps", str(args.steps),
           "--maxlen", str(args.maxlen), "--batch", str(args.batch)]
    if ranks > 1:
        mpirun = Path(sys.executable).parent / "mpirun"
        cmd = [str(mpirun) if mpirun.exists() else "mpirun", "-n", str(ranks)] + cmd + [
            "--mpi", "--bucket-bytes", str(bucket_bytes)]
        if not overlap:
            cmd.append("--no-overlap")
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=args.timeout)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")][-1]
    return json.loads(line[len("RESULT "):])


def paper_model(per_sample_s: float, grad_bytes: int, networks: dict, ranks=(8, 64),
                batches=(128, 1024)) -> list[dict]:
    """Step time = compute of B/P samples + ring allreduce of the gradients."""
    rows = []
    for name, (bandwidth, latency) in networks.items():
        for p in ranks:
            comm = 2 * (p - 1) / p * grad_bytes / bandwidth + 2 * (p - 1) * latency
            # communication dominates while B/P x per-sample compute < comm
            crossover = comm / per_sample_s * p
            for b in batches:
                compute = b / p * per_sample_s
                rows.append({"network": name, "ranks": p, "batch": b, "compute_ms": 1e3 * compute,
                             "allreduce_ms": 1e3 * comm, "comm_share": comm / (comm + compute),
                             "samples_per_s": b / (comm + compute), "crossover_batch": crossover})
    return rows


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=12)
    p.add_argument("--maxlen", type=int, default=200)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--repeats", type=int, default=2, help="best of this many runs per configuration")
    p.add_argument("--timeout", type=float, default=300)
    p.add_argument("--bucket-bytes", type=int, default=1 << 18, help=argparse.SUPPRESS)
    p.add_argument("--json", default=None)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--mpi", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--no-overlap", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        worker(args)
        return
    # With the default 256 KiB buckets this model's gradients form one bucket (the embedding
    # holds 97% of them), so nothing can overlap; one bucket per layer lets the LSTM's and
    # Dense's gradients travel while the Embedding's backward runs.
    configs = [("1 process x 1 thread", 1, 1, False, 1 << 18), ("1 process x 2 threads", 1, 2, False, 1 << 18),
               ("2 ranks x 1 thread", 2, 1, False, 1 << 18),
               ("2 ranks x 1 thread, a bucket per layer, overlapped", 2, 1, True, 1),
               ("4 ranks x 1 thread (2x oversubscribed)", 4, 1, False, 1 << 18)]
    results = {}
    for name, ranks, threads, overlap, bucket in configs:
        results[name] = dict(launch(ranks, threads, args, overlap, bucket), ranks=ranks, threads=threads)
        print(f"{name}: {results[name]['samples_per_s']:.0f} samples/s", file=sys.stderr, flush=True)
    base = results["1 process x 1 thread"]["samples_per_s"]
    print(f"IMDB LSTM, maxlen {args.maxlen}, global batch {args.batch}, {args.steps} steps, best of "
          f"{args.repeats} (noisy: shared 2-core machine)\n")
    print("| configuration | samples/s | vs 1 process x 2 threads | efficiency | allreduce share of step "
          "| one allreduce of the gradients (best of 20) |")
    print("|---|---|---|---|---|---|")
    two = results["1 process x 2 threads"]["samples_per_s"]
    for name, r in results.items():
        cores = min(2, r["ranks"] * r["threads"])
        eff = r["samples_per_s"] / (cores * base)
        share = f"{100 * r['allreduce_s'] / r['seconds']:.1f}%" if "allreduce_s" in r else "-"
        one = f"{1e3 * r['allreduce_one_buffer_s']:.2f} ms" if "allreduce_one_buffer_s" in r else "-"
        print(f"| {name} | {r['samples_per_s']:.0f} | {r['samples_per_s'] / two:.2f}x | {100 * eff:.0f}% "
              f"| {share} | {one} |")
    r2 = results["2 ranks x 1 thread"]
    grad_bytes = r2["grad_bytes"]
    local_bw = 2 * (1 / 2) * grad_bytes / r2["allreduce_one_buffer_s"]
    print(f"\ngradients: {grad_bytes / 1e6:.2f} MB per step; measured here (shared memory, 2 ranks): "
          f"allreduce {1e3 * r2['allreduce_one_buffer_s']:.2f} ms -> {local_bw / 1e9:.2f} GB/s bus "
          f"bandwidth, latency {1e6 * r2['allreduce_latency_s']:.0f} us (best of 20 and of 200)")
    per_sample = 1.0 / base  # one core's compute per sample (forward + backward + update)
    networks = {"measured shared memory": (local_bw, r2["allreduce_latency_s"]),
                "10 GbE (1.2 GB/s, 20 us)": (1.2e9, 20e-6),
                "InfiniBand HDR (12 GB/s, 2 us)": (12e9, 2e-6)}
    rows = paper_model(per_sample, grad_bytes, networks)
    print(f"\npaper model: {1e3 * per_sample:.3f} ms of compute per sample per core\n")
    print("| network | ranks | global batch | compute/step | allreduce/step | comm share | samples/s "
          "| comm dominates below batch |")
    print("|---|---|---|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['network']} | {row['ranks']} | {row['batch']} | {row['compute_ms']:.1f} ms "
              f"| {row['allreduce_ms']:.2f} ms | {100 * row['comm_share']:.0f}% | {row['samples_per_s']:.0f} "
              f"| {row['crossover_batch']:.0f} |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"results": results, "paper_model": rows}, f, indent=1)


if __name__ == "__main__":
    main()
