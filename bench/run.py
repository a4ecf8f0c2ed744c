"""rnnkit against PyTorch and Keras 3 (TensorFlow) on the CPU: one command, ratios.

    python bench/run.py            # full run (~10 min on 2 cores)
    python bench/run.py --quick    # ~2 min: fewer samples, epochs and repeats
    python bench/run.py --markdown bench/RESULTS.md

Each (framework, cell) runs in its own process (``bench/worker.py``), so import
time and peak memory are each framework's own; within a round the frameworks
run in turn, alternating their order from cell to cell and round to round. A
peer that cannot be imported is skipped and said so. Keras may live in another
environment: ``--keras-python /path/to/python`` (or ``RNNKIT_BENCH_KERAS_PYTHON``),
likewise ``--torch-python``.

Ratios are peer / rnnkit (above 1: rnnkit is faster or smaller). Only ratios from
one run mean anything on a shared machine; absolute seconds are noise.
"""
from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORKER = HERE / "worker.py"
FRAMEWORKS = ("rnnkit", "torch", "keras")
# Also available: "rnnkit-numpy", rnnkit with its optional compiled kernels off
# (RNNKIT_JIT=0), i.e. what a plain `pip install rnnkit` gives.
NUMPY_ONLY = "rnnkit-numpy"
# "rnnkit-functional": the same network as a functional Model(Input -> ... -> Dense);
# "rnnkit-base": rnnkit from another source tree (--baseline-src), e.g. the commit
# before a change, measured in the same alternating rounds.
FUNCTIONAL = "rnnkit-functional"
BASELINE = "rnnkit-base"
VARIANTS = (NUMPY_ONLY, FUNCTIONAL, BASELINE)
IMPORT_CHECK = {"rnnkit": "import rnnkit", "torch": "import torch", "keras": "import keras, tensorflow",
                **{v: "import rnnkit" for v in VARIANTS}}
# Distributions whose versions the report gives, and those whose size (with their
# required dependencies) is each framework's footprint.
REQUIRED = {"rnnkit": ["rnnkit"], "torch": ["torch"], "keras": ["keras", "tensorflow"],
            **{v: ["rnnkit"] for v in VARIANTS}}
DISTS = {"rnnkit": ["rnnkit", "numba"], NUMPY_ONLY: ["rnnkit"], "torch": ["torch"],
         "keras": ["keras", "tensorflow"], FUNCTIONAL: ["rnnkit", "numba"],
         BASELINE: ["rnnkit", "numba"]}
BASELINE_SRC: list = []  # set from --baseline-src
# (cell, units, embed, steps): the seeds' model, then the compute-bound one.
SEEDS = [("SimpleRNN", 32, 32, 500), ("LSTM", 32, 32, 500), ("GRU", 32, 32, 500)]
COMPUTE = [("LSTM", 256, 128, 100), ("GRU", 256, 128, 100)]
GATES = {"SimpleRNN": 1, "LSTM": 4, "GRU": 3}


def recurrent_gflop_per_1k(cell, units, embed, steps):
    """Multiply-adds x2 of the recurrent layer per 1,000 training samples.

    Forward: ``steps * G * (embed + units)`` per sample (input and recurrent
    products, G = gates * units); backward: twice that (input-side and weight
    gradients). Elementwise work is not counted.
    """
    g = GATES[cell] * units
    return 1000 * 3 * 2 * steps * g * (embed + units) / 1e9


def python_for(fw, args):
    exe = {"keras": args.keras_python or os.environ.get("RNNKIT_BENCH_KERAS_PYTHON"),
           "torch": args.torch_python or os.environ.get("RNNKIT_BENCH_TORCH_PYTHON")}.get(fw)
    return exe or sys.executable


def available(fw, exe):
    r = subprocess.run([exe, "-c", IMPORT_CHECK[fw]], capture_output=True, text=True,
                       env=_env(fw))
    return r.returncode == 0, (r.stderr.strip().splitlines() or [""])[-1]


def _env(fw=None):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    if fw == NUMPY_ONLY:
        env["RNNKIT_JIT"] = "0"
    src = HERE.parent / "src"
    if fw == BASELINE and BASELINE_SRC:
        src = Path(BASELINE_SRC[0])
    if src.is_dir():  # run from a checkout without installing
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(src), env.get("PYTHONPATH")]))
    return env


def versions(exe, fw):
    code = ("import importlib.metadata as m, json, platform, numpy\n"
            f"names = {DISTS[fw] + ['numpy']!r}\n"
            "out = {}\n"
            "for n in names:\n"
            "    try: out[n] = m.version(n)\n"
            "    except Exception: pass\n"
            "out['python'] = platform.python_version()\n"
            "print(json.dumps(out))")
    r = subprocess.run([exe, "-c", code], capture_output=True, text=True, env=_env())
    return json.loads(r.stdout) if r.returncode == 0 else {}


def installed_mb(exe, fw, names=None, skip=()):
    """Size on disk of the framework's distributions and their required dependencies."""
    code = r'''
import importlib.metadata as m, json, os, re
seen, total, todo = set(%r), 0, %r
while todo:
    name = re.split(r"[\s<>=!~;\[(]", todo.pop())[0].lower().replace("_", "-")
    if not name or name in seen:
        continue
    seen.add(name)
    try:
        dist = m.distribution(name)
    except m.PackageNotFoundError:
        continue
    for f in dist.files or []:
        p = f.locate()
        if os.path.isfile(p):
            total += os.path.getsize(p)
    for req in dist.requires or []:
        if "extra ==" not in req:
            todo.append(req)
print(json.dumps({"mb": total / 2**20, "dists": len(seen)}))
''' % (set(skip), names or REQUIRED[fw])
    r = subprocess.run([exe, "-c", code], capture_output=True, text=True, env=_env())
    return json.loads(r.stdout) if r.returncode == 0 else {"mb": float("nan"), "dists": 0}


def roofline_gflops(exe):
    """NumPy's float32 GFLOP/s on a 2048^3 matmul (best of 5), all cores: the roofline."""
    code = ("import numpy as np, time\n"
            "a = np.random.rand(2048, 2048).astype('f4'); b = a.copy(); a @ b\n"
            "best = min((lambda t: (a @ b, time.perf_counter() - t)[1])(time.perf_counter())"
            " for _ in range(5))\n"
            "print(2 * 2048**3 / best / 1e9)")
    r = subprocess.run([exe, "-c", code], capture_output=True, text=True, env=_env())
    return float(r.stdout) if r.returncode == 0 else float("nan")


def _cpu_busy_s():
    """Seconds of CPU time spent by all processes so far (/proc/stat), or None."""
    try:
        with open("/proc/stat") as f:
            fields = [int(v) for v in f.readline().split()[1:]]
    except OSError:
        return None
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def wait_idle(limit_s, threshold=0.15):
    """Wait (up to ``limit_s``) until other processes use under ``threshold`` cores."""
    deadline = time.time() + limit_s
    while time.time() < deadline:
        a = _cpu_busy_s()
        if a is None:
            return
        time.sleep(1.0)
        if _cpu_busy_s() - a < threshold:
            return


def run_cell(exe, fw, cell, units, embed, steps, opts):
    cmd = [exe, str(WORKER), "--framework", "rnnkit" if fw in VARIANTS else fw, "--cell", cell, "--units", str(units),
           "--embed", str(embed), "--steps", str(steps), "--samples", str(opts["samples"]),
           "--epochs", str(opts["epochs"]), "--repeats", str(opts["repeats"]),
           "--latency-repeats", str(opts["latency"])]
    if fw == FUNCTIONAL:
        cmd.append("--functional")
    if opts.get("wait_idle"):
        wait_idle(opts["wait_idle"])
    busy0, kids0 = _cpu_busy_s(), resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    r = subprocess.run(cmd, capture_output=True, text=True, env=_env(fw))
    wall = time.perf_counter() - t
    kids1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    own = (kids1.ru_utime + kids1.ru_stime) - (kids0.ru_utime + kids0.ru_stime)
    # CPU that other processes took while this one ran, in cores: a noisy-machine flag.
    foreign = None if busy0 is None else max(0.0, (_cpu_busy_s() - busy0 - own) / wall)
    if r.returncode != 0:
        tail = "\n".join(r.stderr.strip().splitlines()[-5:])
        print(f"  ! {fw} {cell}({units}) failed:\n{tail}", file=sys.stderr)
        return None
    res = json.loads(r.stdout.strip().splitlines()[-1])
    res["wall_s"], res["foreign_cores"] = wall, foreign
    return res


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer samples/epochs/repeats (~2 min)")
    p.add_argument("--rounds", type=int, default=None, help="alternating rounds per cell")
    p.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    p.add_argument("--only", default="", help="comma list of cells to run, e.g. LSTM,GRU256")
    p.add_argument("--keras-python", default=None)
    p.add_argument("--torch-python", default=None)
    p.add_argument("--baseline-src", default=None,
                   help=f"src/ folder of another rnnkit checkout, run as '{BASELINE}'")
    p.add_argument("--markdown", default=None, help="also write the report to this file")
    p.add_argument("--json", default=None, help="write all raw results to this file")
    p.add_argument("--wait-idle", type=float, default=0.0, metavar="S",
                   help="before each run, wait up to S seconds for other processes to go quiet")
    p.add_argument("--long-steps", default=None,
                   help="sequence lengths of the long-sequence rows (default 2000,10000; quick: 2000; "
                        "'none' to skip)")
    args = p.parse_args(argv)
    if args.baseline_src:
        BASELINE_SRC[:] = [str(Path(args.baseline_src).resolve())]
    if args.quick:
        opts = {"samples": 512, "epochs": 2, "repeats": 2, "latency": 10, "compute_samples": 256}
        rounds = args.rounds or 1
    else:
        opts = {"samples": 1280, "epochs": 3, "repeats": 3, "latency": 30, "compute_samples": 768}
        rounds = args.rounds or 2
    opts["wait_idle"] = args.wait_idle
    wanted = [f for f in args.frameworks.split(",") if f]
    exes, skipped = {}, {}
    for fw in wanted:
        exe = python_for(fw, args)
        ok, why = available(fw, exe)
        if ok:
            exes[fw] = exe
        else:
            skipped[fw] = why or "not importable"
    if "rnnkit" not in exes:
        sys.exit(f"rnnkit itself cannot be imported: {skipped.get('rnnkit')}")
    cells = [(c, u, e, s, "seeds") for c, u, e, s in SEEDS] + [(c, u, e, s, "compute") for c, u, e, s in COMPUTE]
    if args.only:
        keep = {k.strip() for k in args.only.split(",")}
        cells = [c for c in cells if c[0] in keep or f"{c[0]}{c[1]}" in keep]
    print(f"frameworks: {', '.join(exes)}" + "".join(f"; skipped {k} ({v})" for k, v in skipped.items()))
    roof = roofline_gflops(exes["rnnkit"])
    print(f"roofline: NumPy float32 2048^3 matmul = {roof:.0f} GFLOP/s")
    results = {}
    order = list(exes)
    for r in range(rounds):
        for i, (cell, units, embed, steps, kind) in enumerate(cells):
            o = dict(opts)
            if kind == "compute":
                o["samples"] = opts["compute_samples"]
            # Alternate who goes first, cell to cell and round to round.
            k = (i + r) % len(order)
            for fw in order[k:] + order[:k]:
                res = run_cell(exes[fw], fw, cell, units, embed, steps, o)
                if res is not None:
                    results.setdefault((cell, units), {}).setdefault(fw, []).append(res)
                    print(f"  round {r + 1} {cell}({units}) {fw:12s} train {res['train_s_per_1k']:.3f} "
                          f"s/1k  predict {res['predict_s_per_1k']:.3f} s/1k  "
                          f"latency {res['latency_direct_s'] * 1e3:.2f} ms  rss {res['peak_rss_mb']:.0f} MB"
                          + ("" if res["foreign_cores"] is None else
                             f"  (others used {res['foreign_cores']:.1f} cores)"), flush=True)
    extra = {"long": None, "gpu": None}
    long_steps = args.long_steps or ("2000" if args.quick else "2000,10000")
    if long_steps != "none":
        import long_sequences

        steps_list = [int(t) for t in long_steps.split(",") if t]
        fws = ["rnnkit", "rnnkit-low"] + (["torch"] if "torch" in exes else [])
        print("long sequences: LSTM(64), batch 32, Adam")
        rows = long_sequences.measure(steps_list, fws, 2 if args.quick else 3,
                                      {"torch": exes.get("torch", sys.executable)},
                                      log=lambda m: print(m, flush=True))
        extra["long"] = long_sequences.table(rows, steps_list, fws)
    r = subprocess.run([exes["rnnkit"], str(HERE / "gpu.py"), "--json"], capture_output=True, text=True,
                       env=_env("rnnkit"))
    try:
        extra["gpu"] = json.loads(r.stdout.strip().splitlines()[-1])
    except (IndexError, ValueError):
        extra["gpu"] = {"rows": None, "why": f"bench/gpu.py failed: {r.stderr.strip().splitlines()[-1:]}"}
    # Best of two measurements, one before and one after: the roofline is a ceiling.
    roof = max(roof, roofline_gflops(exes["rnnkit"]))
    meta = {fw: {"versions": versions(exes[fw], fw), "installed": installed_mb(exes[fw], fw)}
            for fw in exes}
    meta["rnnkit"]["jit_extra"] = installed_mb(exes["rnnkit"], "rnnkit", ["numba"], skip=["numpy"])
    report = render(results, cells, exes, skipped, meta, roof, opts, rounds, argv, extra)
    print()
    print(report)
    if args.markdown:
        Path(args.markdown).write_text(report + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(
            {f"{c}{u}": v for (c, u), v in results.items()}, indent=1))


def _agg(runs, key):
    return statistics.median(r[key] for r in runs)


def _cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def render(results, cells, exes, skipped, meta, roof, opts, rounds, argv, extra=None):
    peers = [fw for fw in exes if fw != "rnnkit"]
    cmd = "python bench/run.py" + ("".join(f" {a}" for a in argv) if argv else
                                   "".join(f" {a}" for a in sys.argv[1:]))
    lines = [
        "# rnnkit benchmark results", "",
        f"- date: {datetime.datetime.now().strftime('%Y-%m-%d %H:%M')}",
        f"- machine: {_cpu_name()}, {os.cpu_count()} logical CPUs, {platform.system()} "
        f"{platform.release()}",
        f"- command: `{cmd}`",
        f"- per cell: {opts['samples']} samples (compute-bound: {opts['compute_samples']}), batch 128, "
        f"{opts['epochs']} timed epochs after a warm-up, medians over {rounds} alternating round(s)",
    ]
    for fw in exes:
        v = meta[fw]["versions"]
        lines.append(f"- {fw}: " + ", ".join(f"{k} {val}" for k, val in v.items()))
    for fw, why in skipped.items():
        lines.append(f"- skipped {fw}: {why}")
    foreign = [r["foreign_cores"] for runs in results.values() for rs in runs.values() for r in rs
               if r.get("foreign_cores") is not None]
    if foreign:
        lines.append(f"- other processes' CPU use during the runs: median {statistics.median(foreign):.2f}, "
                     f"max {max(foreign):.2f} cores (0 = a quiet machine)")
    lines += ["", "Ratios are peer / rnnkit: above 1.0 means rnnkit is faster (or smaller).", ""]
    head = ["cell", "metric", "rnnkit"] + peers + [f"{p}/rnnkit" for p in peers]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    metrics = [("train_s_per_1k", "train s/1k", "{:.3f}"), ("predict_s_per_1k", "predict s/1k", "{:.3f}"),
               ("latency_predict_s", "1-sample predict ms", "{:.2f}"),
               ("latency_direct_s", "1-sample direct ms", "{:.2f}"), ("peak_rss_mb", "peak RSS MB", "{:.0f}")]
    for cell, units, embed, steps, kind in cells:
        runs = results.get((cell, units), {})
        if "rnnkit" not in runs:
            continue
        name = f"{cell}({units}) E{embed} T{steps}"
        for key, label, fmt in metrics:
            scale = 1e3 if key.startswith("latency") else 1.0
            mine = _agg(runs["rnnkit"], key) * scale
            row = [name, label, fmt.format(mine)]
            vals = []
            for p in peers:
                v = _agg(runs[p], key) * scale if p in runs else None
                row.append("—" if v is None else fmt.format(v))
                vals.append(v)
            row += ["—" if v is None else f"{v / mine:.2f}" for v in vals]
            lines.append("| " + " | ".join(row) + " |")
            name = ""
    lines += ["", "## Compute-bound cells against the roofline", "",
              f"Roofline: NumPy's float32 2048^3 matmul on all cores = {roof:.0f} GFLOP/s. "
              "GFLOP counts the recurrent layer's matrix products (forward, input and weight "
              "gradients); achieved = that / whole training-step time.", "",
              "| cell | GFLOP per 1k samples | " + " | ".join(f"{fw} GFLOP/s (% roofline)" for fw in exes) + " |",
              "|" + "---|" * (2 + len(exes))]
    for cell, units, embed, steps, kind in cells:
        runs = results.get((cell, units), {})
        if kind != "compute" or "rnnkit" not in runs:
            continue
        gf = recurrent_gflop_per_1k(cell, units, embed, steps)
        row = [f"{cell}({units}) E{embed} T{steps}", f"{gf:.0f}"]
        for fw in exes:
            if fw in runs:
                rate = gf / _agg(runs[fw], "train_s_per_1k")
                row.append(f"{rate:.0f} ({100 * rate / roof:.0f}%)")
            else:
                row.append("—")
        lines.append("| " + " | ".join(row) + " |")
    lines += summary(results, cells, exes)
    extra = extra or {}
    if extra.get("long"):
        lines += ["", "## Long sequences", "",
                  "`Input((T, 16)) -> LSTM(64) -> Dense(1)`, batch 32, Adam, MSE (`bench/long_sequences.py`): "
                  "seconds per training step and the process's peak RSS; `rnnkit-low` is "
                  "`LSTM(64, memory=\"low\")`.", "", *extra["long"]]
    gpu = extra.get("gpu")
    if gpu is not None:
        lines += ["", "## GPU", ""]
        if gpu.get("rows"):
            import gpu as gpu_bench

            lines += ["`engine=\"gpu\"` (CuPy) against PyTorch's cuDNN LSTM on CUDA (`bench/gpu.py`):",
                      "", *gpu_bench.table(gpu["rows"])]
        else:
            lines.append(f"Not measured in this run: {gpu.get('why')}.")
    lines += ["", "## Footprint", "", "| framework | import s | installed MB (with dependencies) |",
              "|---|---|---|"]
    for fw in exes:
        imp = [r["import_s"] for runs in results.values() for r in runs.get(fw, [])]
        inst = meta[fw]["installed"]
        lines.append(f"| {fw} | {statistics.median(imp):.2f} | {inst['mb']:.0f} ({inst['dists']} "
                     "distributions) |" if imp else f"| {fw} | — | {inst['mb']:.0f} |")
    extra = meta.get("rnnkit", {}).get("jit_extra", {})
    jit_used = any(r.get("jit") for runs in results.values() for r in runs.get("rnnkit", []))
    lines += ["", f"The optional `rnnkit[jit]` extra (Numba: the compiled recurrence for inference "
              f"up to 64 units and for wider layers at small batches, compiled gate passes in "
              f"training; {'used' if jit_used else 'NOT installed'} in this run) adds "
              f"{extra.get('mb', float('nan')):.0f} MB."]
    lines += ["", NOTES]
    return "\n".join(lines)


def summary(results, cells, exes):
    """Lines: rnnkit (and NumPy-only rnnkit) against the fastest peer per cell and metric."""
    peers = [fw for fw in ("torch", "keras") if fw in exes]
    mine = [fw for fw in ("rnnkit", NUMPY_ONLY) if fw in exes]
    if not peers:
        return []
    metrics = [("train_s_per_1k", "train"), ("predict_s_per_1k", "batch predict"),
               ("latency_direct_s", "one sample")]
    head = ["cell"] + [f"{fw} {label}" for fw in mine for _, label in metrics]
    lines = ["", "## Against the fastest peer", "",
             f"Fastest of {', '.join(peers)} / rnnkit, per metric (above 1.0: rnnkit is faster).", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for cell, units, embed, steps, kind in cells:
        runs = results.get((cell, units), {})
        row = [f"{cell}({units}) T{steps}"]
        for fw in mine:
            for key, _ in metrics:
                best = [_agg(runs[p], key) for p in peers if p in runs]
                row.append(f"{min(best) / _agg(runs[fw], key):.2f}" if best and fw in runs else "—")
        lines.append("| " + " | ".join(row) + " |")
    return lines


NOTES = """## How to read this

- Workload (all frameworks, same synthetic IMDB-like data: Zipf word ids, pre-padded
  reviews): `Embedding(10000, E) -> cell(U) -> Dense(1, sigmoid)`, RMSprop (Keras
  defaults), binary cross-entropy, batch 128. rnnkit and Keras train with `fit`,
  PyTorch with a plain loop over an `nn.Module` (`nn.RNN/LSTM/GRU`, batch_first).
- train: seconds per 1,000 samples, median of the timed epochs (after a warm-up epoch).
- predict: `predict(x, batch_size=128)` (PyTorch: the module under `inference_mode`,
  batches of 128), seconds per 1,000 samples.
- 1-sample: one 500-step review; "predict" is `model.predict(x[:1])`, "direct" the
  fastest call each framework has (rnnkit `model(x)`, Keras `model(x, training=False)`,
  PyTorch the module call).
- peak RSS: the worker process's maximum resident memory right after training
  (interpreter and framework included).
- installed MB: files of the framework's distributions and their required
  dependencies (rnnkit: rnnkit + NumPy).
- Threads: every framework runs with its defaults on this machine's cores. rnnkit
  runs the step loop on the calling thread and the bulk products on one helper
  thread (BLAS single-threaded meanwhile) when per-step products are small, and
  leaves BLAS its own threads when they are large; `RNNKIT_NUM_THREADS=1` turns the
  helper off.
"""


if __name__ == "__main__":
    main()
