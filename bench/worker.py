"""One benchmark cell for one framework, in its own process; prints one JSON line.

Run by ``bench/run.py`` (which alternates frameworks and prints ratios); by hand::

    python bench/worker.py --framework rnnkit --cell LSTM --units 32 --embed 32 --steps 500

Phases, in order: import (timed first, in a fresh process), build, training
(``--epochs`` epochs after one warm-up epoch; median seconds per 1,000 samples;
peak RSS read right after it), batch predict (median of ``--repeats``), and
single-sample latency (``predict`` on one sequence, and the framework's fastest
direct call; medians). Every framework gets the same synthetic IMDB-like data:
Zipf-distributed word ids below the vocabulary size, pre-padded with 0 to
``--steps``, random 0/1 labels.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time

VOCAB = 10000


def make_data(n, steps, seed=0):
    import numpy as np

    rng = np.random.default_rng(seed)
    x = np.zeros((n, steps), np.int32)
    # Review lengths like IMDB's (median ~175 words), pre-padded like pad_sequences.
    lengths = np.clip(rng.lognormal(5.2, 0.6, n).astype(int), 10, steps)
    words = np.minimum(rng.zipf(1.3, (n, steps)), VOCAB - 1).astype(np.int32)
    for i, n_words in enumerate(lengths):
        x[i, steps - n_words:] = words[i, :n_words]
    y = rng.integers(0, 2, (n, 1)).astype(np.float32)
    return x, y


def peak_rss_mb():
    # ru_maxrss is KiB on Linux, bytes on macOS.
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return rss / (1 << 20) if sys.platform == "darwin" else rss / 1024


def timed(fn, repeats):
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


# ----------------------------------------------------------------- frameworks
def _keras_style(model, a, x, y, direct):
    """``epoch, predict, one_predict, one_direct`` for a model with Keras' API (rnnkit's
    or Keras'), compiled here; ``direct(one)`` is the framework's fastest call."""
    model.compile(optimizer="rmsprop", loss="binary_crossentropy")

    def epoch():
        model.fit(x, y, batch_size=a.batch, epochs=1, verbose=0)

    def predict():
        model.predict(x, batch_size=a.batch, verbose=0)

    one = x[:1]
    return epoch, predict, (lambda: model.predict(one, verbose=0)), (lambda: direct(one))


def run_rnnkit(a, x, y):
    t = time.perf_counter()
    from rnnkit.keras import layers, models
    import_s = time.perf_counter() - t
    import numpy as np

    cell = getattr(layers, a.cell)
    if a.functional:  # the same network in the functional API
        ids = layers.Input((a.steps,), dtype="int32")
        h = cell(a.units)(layers.Embedding(VOCAB, a.embed)(ids))
        model = models.Model(ids, layers.Dense(1, activation="sigmoid")(h))
    else:
        model = models.Sequential([layers.Embedding(VOCAB, a.embed, input_length=a.steps),
                                   cell(a.units), layers.Dense(1, activation="sigmoid")])
    return (import_s, *_keras_style(model, a, x, y, direct=lambda one: model(one)), np)


def run_torch(a, x, y):
    t = time.perf_counter()
    import torch
    from torch import nn
    import_s = time.perf_counter() - t

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, a.embed)
            rnn = {"SimpleRNN": nn.RNN, "LSTM": nn.LSTM, "GRU": nn.GRU}[a.cell]
            self.rnn = rnn(a.embed, a.units, batch_first=True)
            self.out = nn.Linear(a.units, 1)

        def forward(self, ids):
            seq, _ = self.rnn(self.embed(ids))
            return torch.sigmoid(self.out(seq[:, -1]))

    net = Net()
    # Keras' RMSprop defaults (rho=0.9, lr=1e-3), as the other frameworks use.
    opt = torch.optim.RMSprop(net.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)
    loss_fn = nn.BCELoss()
    xt, yt = torch.from_numpy(x.astype("int64")), torch.from_numpy(y)

    def epoch():
        net.train()
        order = torch.randperm(len(xt))
        for i in range(0, len(xt), a.batch):
            idx = order[i:i + a.batch]
            opt.zero_grad()
            loss = loss_fn(net(xt[idx]), yt[idx])
            loss.backward()
            opt.step()

    def predict():
        net.eval()
        with torch.inference_mode():
            for i in range(0, len(xt), a.batch):
                net(xt[i:i + a.batch])

    one = xt[:1]

    def direct():
        with torch.inference_mode():
            net(one)

    net.eval()
    return import_s, epoch, predict, direct, direct, None


def run_keras(a, x, y):
    t = time.perf_counter()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    import_s = time.perf_counter() - t

    cell = getattr(keras.layers, a.cell)
    model = keras.Sequential([keras.Input((a.steps,), dtype="int32"),
                              keras.layers.Embedding(VOCAB, a.embed), cell(a.units),
                              keras.layers.Dense(1, activation="sigmoid")])
    return (import_s, *_keras_style(model, a, x, y, direct=lambda one: model(one, training=False)),
            None)


def _rnnkit_jit() -> bool:
    """Whether rnnkit ran its compiled small-batch kernels (rnnkit[jit]); asked after the
    RSS reading, since it imports Numba."""
    try:
        from rnnkit.layers.recurrent.engines import compiled
    except ImportError:  # an rnnkit from before the engines package (--baseline-src)
        from rnnkit.layers import _jit as compiled
    return compiled.kernels() is not None


RUNNERS = {"rnnkit": run_rnnkit, "torch": run_torch, "keras": run_keras}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--framework", choices=sorted(RUNNERS), required=True)
    p.add_argument("--cell", choices=["SimpleRNN", "LSTM", "GRU"], required=True)
    p.add_argument("--units", type=int, default=32)
    p.add_argument("--embed", type=int, default=32)
    p.add_argument("--steps", type=int, default=500)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--samples", type=int, default=1280)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--latency-repeats", type=int, default=20)
    p.add_argument("--functional", action="store_true",
                   help="rnnkit: build the model with the functional API instead of Sequential")
    a = p.parse_args(argv)
    x, y = make_data(a.samples, a.steps)
    import_s, epoch, predict, one_predict, one_direct, _ = RUNNERS[a.framework](a, x, y)
    epoch()  # warm-up: graph tracing, workspace allocation, lazy init
    train = [timed(epoch, 1) for _ in range(a.epochs)]
    rss = peak_rss_mb()
    predict()
    pred = timed(predict, a.repeats)
    one_predict()
    one_direct()
    lat_predict = timed(one_predict, a.latency_repeats)
    lat_direct = timed(one_direct, a.latency_repeats)
    per_k = 1000.0 / a.samples
    print(json.dumps({
        "framework": a.framework, "cell": a.cell, "units": a.units, "embed": a.embed,
        "steps": a.steps, "batch": a.batch, "samples": a.samples,
        "import_s": import_s, "train_s_per_1k": statistics.median(train) * per_k,
        "train_epochs_s_per_1k": [t * per_k for t in train],
        "predict_s_per_1k": pred * per_k, "latency_predict_s": lat_predict,
        "latency_direct_s": min(lat_direct, lat_predict), "peak_rss_mb": rss,
        "jit": _rnnkit_jit() if a.framework == "rnnkit" else None,
    }))


if __name__ == "__main__":
    main()
