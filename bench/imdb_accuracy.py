"""The seeds' IMDB experiment in rnnkit, Keras 3 or PyTorch, on identical arrays.

    python bench/imdb_accuracy.py --framework rnnkit --cell lstm [--epochs 10] [--maxlen 500]
    /path/to/tf/python bench/imdb_accuracy.py --framework keras --cell lstm
    python bench/imdb_accuracy.py --framework torch --cell simple

Model: Embedding(10000, 32) -> SimpleRNN(32) or LSTM(32) -> Dense(1, sigmoid); RMSprop
(Keras defaults), binary cross-entropy, batch 128, the last 20% of the training set for
validation. The data come from rnnkit's IMDB loader (``$RNNKIT_DATA``), so all three
frameworks see the same arrays. Prints one JSON line per epoch and a final line with
the test accuracy; run each framework in its own process.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))


def load(num_words, maxlen, limit):
    from rnnkit.datasets import imdb
    from rnnkit.preprocessing.sequence import pad_sequences

    (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=num_words)
    if limit:
        x_train, y_train, x_test, y_test = x_train[:limit], y_train[:limit], x_test[:limit], y_test[:limit]
    x_train = pad_sequences(x_train, maxlen=maxlen)
    x_test = pad_sequences(x_test, maxlen=maxlen)
    split = int(len(x_train) * 0.8)
    return ((x_train[:split], y_train[:split].astype("float32")),
            (x_train[split:], y_train[split:].astype("float32")),
            (x_test, y_test.astype("float32")))


def report(**kw):
    print(json.dumps(kw), flush=True)


def fit_keras_style(model, args, train, val, test):
    """Compile, train epoch by epoch (reporting each) and return the test accuracy:
    the same code for rnnkit and Keras, whose APIs agree."""
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
    for epoch in range(args.epochs):
        t0 = time.perf_counter()
        h = model.fit(*train, epochs=1, batch_size=128, verbose=0)
        dt = time.perf_counter() - t0
        val_loss, val_acc = model.evaluate(*val, batch_size=128, verbose=0)
        report(epoch=epoch + 1, seconds=round(dt, 2), loss=float(h.history["loss"][0]),
               acc=float(h.history["acc"][0]), val_loss=float(val_loss), val_acc=float(val_acc))
    return float(model.evaluate(*test, batch_size=128, verbose=0)[1])


def run_rnnkit(args, train, val, test):
    import rnnkit
    from rnnkit.keras.layers import LSTM, Dense, Embedding, SimpleRNN
    from rnnkit.keras.models import Sequential

    rnnkit.set_seed(args.seed)
    cell = SimpleRNN if args.cell == "simple" else LSTM
    model = Sequential([Embedding(args.num_words, 32), cell(32), Dense(1, activation="sigmoid")])
    return fit_keras_style(model, args, train, val, test)


def run_keras(args, train, val, test):
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import keras

    keras.utils.set_random_seed(args.seed)
    cell = keras.layers.SimpleRNN if args.cell == "simple" else keras.layers.LSTM
    model = keras.Sequential([keras.Input(shape=(args.maxlen,)), keras.layers.Embedding(args.num_words, 32),
                              cell(32), keras.layers.Dense(1, activation="sigmoid")])
    return fit_keras_style(model, args, train, val, test)


def run_torch(args, train, val, test):
    import torch
    from torch import nn

    torch.manual_seed(args.seed)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(args.num_words, 32)
            self.rnn = (nn.RNN if args.cell == "simple" else nn.LSTM)(32, 32, batch_first=True)
            self.out = nn.Linear(32, 1)

        def forward(self, x):
            seq, _ = self.rnn(self.emb(x))
            return torch.sigmoid(self.out(seq[:, -1])).squeeze(-1)

    net = Net()
    opt = torch.optim.RMSprop(net.parameters(), lr=1e-3, alpha=0.9, eps=1e-7)  # Keras' RMSprop
    loss_fn = nn.BCELoss()
    gen = np.random.default_rng(args.seed)

    def evaluate(x, y):
        net.eval()
        with torch.no_grad():
            p = torch.cat([net(torch.from_numpy(x[i:i + 128]).long()) for i in range(0, len(x), 128)])
        y_t = torch.from_numpy(y)
        return float(loss_fn(p.clamp(1e-7, 1 - 1e-7), y_t)), float(((p > 0.5).float() == y_t).float().mean())

    x, y = train
    for epoch in range(args.epochs):
        net.train()
        t0 = time.perf_counter()
        order = gen.permutation(len(x))
        total, correct = 0.0, 0.0
        for i in range(0, len(x), 128):
            idx = order[i:i + 128]
            xb, yb = torch.from_numpy(x[idx]).long(), torch.from_numpy(y[idx])
            opt.zero_grad()
            p = net(xb)
            loss = loss_fn(p, yb)
            loss.backward()
            opt.step()
            total += float(loss) * len(idx)
            correct += float(((p > 0.5).float() == yb).sum())
        dt = time.perf_counter() - t0
        val_loss, val_acc = evaluate(*val)
        report(epoch=epoch + 1, seconds=round(dt, 2), loss=total / len(x), acc=correct / len(x),
               val_loss=val_loss, val_acc=val_acc)
    return evaluate(*test)[1]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--framework", choices=["rnnkit", "keras", "torch"], required=True)
    p.add_argument("--cell", choices=["simple", "lstm"], default="lstm")
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--maxlen", type=int, default=500)
    p.add_argument("--num-words", type=int, default=10000)
    p.add_argument("--limit", type=int, default=None, help="first N reviews only (smoke runs)")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    train, val, test = load(args.num_words, args.maxlen, args.limit)
    run = {"rnnkit": run_rnnkit, "keras": run_keras, "torch": run_torch}[args.framework]
    test_acc = run(args, train, val, test)
    report(framework=args.framework, cell=args.cell, maxlen=args.maxlen, epochs=args.epochs,
           test_acc=round(float(test_acc), 4))


if __name__ == "__main__":
    main()
