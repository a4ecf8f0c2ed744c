"""The GPU engine against PyTorch's cuDNN LSTM, on a machine with an NVIDIA GPU.

    pip install "rnnkit[gpu]" torch && python bench/gpu.py

The seeds' model (Embedding(10000, 32) -> LSTM(32) -> Dense(1), 500 steps, batch 128)
and the compute-bound one (LSTM(256), 100 steps): seconds per 1,000 training samples
and for predict, rnnkit with ``engine="gpu"`` vs ``torch.nn.LSTM`` on CUDA (cuDNN), both
synchronized before the clock stops. Prints the ratios (torch / rnnkit: above 1 means
rnnkit is faster). Without CuPy or a GPU it says so and exits 0. ``--json``: one
JSON line, for ``bench/run.py``.
"""
from __future__ import annotations

import json
import statistics
import sys
import time

import numpy as np

CASES = [(32, 32, 500), (256, 128, 100)]  # units, embed, steps
VOCAB, BATCH, SAMPLES = 10000, 128, 1280


def _timed(fn, sync, repeats=3):
    out = []
    for _ in range(repeats):
        sync()
        t = time.perf_counter()
        fn()
        sync()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def rnnkit_case(units, embed, steps, x, y):
    import cupy

    from rnnkit import config
    from rnnkit.keras import layers, models

    config.set_engine("gpu")
    m = models.Sequential([layers.Embedding(VOCAB, embed), layers.LSTM(units), layers.Dense(1, activation="sigmoid")])
    m.compile(optimizer="rmsprop", loss="binary_crossentropy")
    fit = lambda: m.fit(x, y, batch_size=BATCH, epochs=1, verbose=0)  # noqa: E731
    pred = lambda: m.predict(x, batch_size=BATCH, verbose=0)  # noqa: E731
    fit()
    sync = cupy.cuda.Device().synchronize
    return _timed(fit, sync), _timed(pred, sync)


def torch_case(units, embed, steps, x, y):
    import torch
    from torch import nn

    dev = torch.device("cuda")
    emb, lstm, out = nn.Embedding(VOCAB, embed).to(dev), nn.LSTM(embed, units, batch_first=True).to(dev), \
        nn.Linear(units, 1).to(dev)
    params = [*emb.parameters(), *lstm.parameters(), *out.parameters()]
    opt = torch.optim.RMSprop(params, lr=1e-3, alpha=0.9, eps=1e-7)
    xt, yt = torch.from_numpy(x.astype("int64")).to(dev), torch.from_numpy(y).to(dev)

    def forward(ids):
        seq, _ = lstm(emb(ids))
        return torch.sigmoid(out(seq[:, -1]))

    def fit():
        for i in range(0, len(xt), BATCH):
            opt.zero_grad()
            nn.functional.binary_cross_entropy(forward(xt[i:i + BATCH]), yt[i:i + BATCH]).backward()
            opt.step()

    def pred():
        with torch.inference_mode():
            for i in range(0, len(xt), BATCH):
                forward(xt[i:i + BATCH])

    fit()
    return _timed(fit, torch.cuda.synchronize), _timed(pred, torch.cuda.synchronize)


def measure():
    """``(rows, None)``: one dict per case; or ``(None, why)`` without CuPy or a GPU."""
    try:
        import cupy
        cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # no CuPy or no device
        return None, f"no GPU engine here ({type(exc).__name__}: {exc})"
    rng = np.random.default_rng(0)
    rows = []
    for units, embed, steps in CASES:
        x = rng.integers(1, VOCAB, (SAMPLES, steps)).astype(np.int32)
        y = rng.integers(0, 2, (SAMPLES, 1)).astype(np.float32)
        rt, rp = rnnkit_case(units, embed, steps, x, y)
        tt, tp = torch_case(units, embed, steps, x, y)
        k = 1000 / SAMPLES
        rows.append({"model": f"LSTM({units}) T{steps}", "rnnkit_train": rt * k, "torch_train": tt * k,
                     "rnnkit_predict": rp * k, "torch_predict": tp * k})
    return rows, None


def table(rows):
    lines = ["| model | rnnkit gpu train s/1k | torch cuDNN train s/1k | ratio | rnnkit predict s/1k "
             "| torch predict s/1k | ratio |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['model']} | {r['rnnkit_train']:.3f} | {r['torch_train']:.3f} | "
                     f"{r['torch_train'] / r['rnnkit_train']:.2f} | {r['rnnkit_predict']:.3f} | "
                     f"{r['torch_predict']:.3f} | {r['torch_predict'] / r['rnnkit_predict']:.2f} |")
    return lines


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    rows, why = measure()
    if "--json" in argv:
        print(json.dumps({"rows": rows, "why": why}))
    elif rows is None:
        print(f"{why}; nothing measured")
    else:
        print("\n".join(table(rows)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
