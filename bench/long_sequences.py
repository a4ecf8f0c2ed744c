"""Long sequences: time per training step and peak memory, full storage vs recomputation.

    python bench/long_sequences.py                  # T = 2,000 and 10,000
    python bench/long_sequences.py --steps 2000 --repeats 2

Model: ``Input((T, 16)) -> LSTM(64) -> Dense(1)``, batch 32, Adam, MSE on random data.
Each (framework, T) runs in its own process, so peak RSS is its own:

- ``rnnkit``: full storage (every step's gates kept for backward);
- ``rnnkit-low``: ``LSTM(64, memory="low")``: every step's state kept, each segment's
  gates rebuilt in backward;
- ``torch``: ``nn.LSTM`` (batch_first) + ``nn.Linear``, ``torch.optim.Adam``.

Prints one table: seconds per training step (median after a warm-up step) and peak
RSS, with ratios against PyTorch and against full storage measured in the same run. Absolute numbers on a shared
machine are noise; the ratios are the result.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

FEATURES, UNITS, BATCH = 16, 64, 32
HERE = Path(__file__).resolve().parent


def _data(steps):
    import numpy as np

    rng = np.random.default_rng(0)
    return (rng.normal(size=(BATCH, steps, FEATURES)).astype("float32"),
            rng.normal(size=(BATCH, 1)).astype("float32"))


def _rss_mb():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_rnnkit(steps, repeats, memory):
    from rnnkit.keras import layers, models

    x, y = _data(steps)
    model = models.Sequential([layers.Input((steps, FEATURES)), layers.LSTM(UNITS, memory=memory),
                               layers.Dense(1)])
    model.compile(optimizer="adam", loss="mse")
    return [_timed(lambda: model.train_on_batch(x, y)) for _ in range(repeats + 1)][1:]


def run_torch(steps, repeats):
    import torch
    from torch import nn

    x, y = (torch.from_numpy(a) for a in _data(steps))
    lstm, out = nn.LSTM(FEATURES, UNITS, batch_first=True), nn.Linear(UNITS, 1)
    opt = torch.optim.Adam([*lstm.parameters(), *out.parameters()], lr=1e-3)

    def step():
        opt.zero_grad()
        seq, _ = lstm(x)
        loss = ((out(seq[:, -1]) - y) ** 2).mean()
        loss.backward()
        opt.step()

    return [_timed(step) for _ in range(repeats + 1)][1:]


def _timed(fn):
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def worker(args):
    if args.framework == "torch":
        times = run_torch(args.steps, args.repeats)
    else:
        times = run_rnnkit(args.steps, args.repeats, "low" if args.framework == "rnnkit-low" else "full")
    print(json.dumps({"s_per_step": statistics.median(times), "peak_rss_mb": _rss_mb()}))


def measure(steps_list, frameworks, repeats=3, exes=None, log=print):
    """``{(framework, T): {"s_per_step", "peak_rss_mb"}}``, each run in its own process
    (``exes`` maps a framework to its Python; default this one)."""
    env = dict(os.environ)
    src = HERE.parent / "src"
    if src.is_dir():
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
    rows = {}
    for steps in steps_list:
        for fw in frameworks:
            exe = (exes or {}).get(fw, sys.executable)
            r = subprocess.run([exe, __file__, "--worker", "--framework", fw, "--steps", str(steps),
                                "--repeats", str(repeats)], capture_output=True, text=True, env=env)
            if r.returncode != 0:
                log(f"  ! {fw} T={steps} failed: {r.stderr.strip().splitlines()[-1:]}")
                continue
            rows[(fw, steps)] = res = json.loads(r.stdout.strip().splitlines()[-1])
            log(f"  T={steps:6d} {fw:11s} {res['s_per_step']:.3f} s/step  {res['peak_rss_mb']:.0f} MB")
    return rows


def table(rows, steps_list, frameworks):
    """Markdown lines: time and memory per T, against PyTorch and against full storage."""
    lines = ["| T | framework | s per step | peak RSS MB | time vs torch | memory vs torch "
             "| time vs full storage |", "|---|---|---|---|---|---|---|"]
    for steps in steps_list:
        ref, full = rows.get(("torch", steps)), rows.get(("rnnkit", steps))
        for fw in frameworks:
            r = rows.get((fw, steps))
            if r is None:
                continue
            tr = "—" if ref is None else f"{r['s_per_step'] / ref['s_per_step']:.2f}"
            mr = "—" if ref is None else f"1/{ref['peak_rss_mb'] / r['peak_rss_mb']:.1f}"
            fr = ("—" if full is None or not fw.startswith("rnnkit")
                  else f"{r['s_per_step'] / full['s_per_step']:.2f}")
            lines.append(f"| {steps} | {fw} | {r['s_per_step']:.4f} | {r['peak_rss_mb']:.0f} | {tr} | {mr} | {fr} |")
    return lines


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--steps", type=int, nargs="*", default=[2000, 10000])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--frameworks", default="rnnkit,rnnkit-low,torch")
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--framework", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        args.steps = args.steps[0]
        return worker(args)
    fws = [f for f in args.frameworks.split(",") if f]
    rows = measure(args.steps, fws, args.repeats, log=lambda m: print(m, flush=True))
    print()
    print("\n".join(table(rows, args.steps, fws)))


if __name__ == "__main__":
    main()
