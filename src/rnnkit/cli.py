"""The ``rnnkit`` command: train and use IMDB sentiment and character language models.

    rnnkit train imdb --cell lstm --epochs 2 --maxlen 200
    rnnkit predict imdb.keras "This movie was wonderful"
    rnnkit train shakespeare --epochs 20
    rnnkit generate shakespeare.keras --seed-text "ROMEO:" --length 400

Errors (missing data, a file that is not an rnnkit model, bad option values) print
one line and exit with status 2, never a traceback.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from . import config
from .datasets.imdb import encode_reviews
from .distribute.launch import is_chief, mpi_scope

IMDB_MODEL = "imdb.keras"
CHAR_MODEL = "shakespeare.keras"


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status 2."""


def _positive(kind):
    def parse(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}; received {text!r}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}; received {text!r}")
        return value
    return parse


def _fraction(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1); received {text!r}") from None
    if not 0.0 <= value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1); received {text!r}")
    return value


def _use_data_dir(path):
    """``--data DIR`` is searched before ``$RNNKIT_DATA`` and the cache."""
    if path is None:
        return
    if not os.path.isdir(path):
        raise CLIError(f"--data: no such directory: {path}")
    config.prepend_data_dir(path)


# --------------------------------------------------------------------- IMDB
def build_imdb_model(cell: str, units: int, embed_dim: int, num_words: int, maxlen: int,
                     layers_n: int = 1, bidirectional: bool = False):
    from .keras import layers
    from .keras.models import Sequential

    cls = {"simple": layers.SimpleRNN, "lstm": layers.LSTM, "gru": layers.GRU}[cell]
    model = Sequential(name=f"imdb_{cell}")
    model.add(layers.Input(shape=(maxlen,), dtype="int32"))
    model.add(layers.Embedding(num_words, embed_dim))
    for i in range(layers_n):
        rnn = cls(units, return_sequences=i < layers_n - 1)
        model.add(layers.Bidirectional(rnn) if bidirectional else rnn)
    model.add(layers.Dense(1, activation="sigmoid"))
    return model


def _plot_callbacks(path) -> list:
    """``--plot PATH``: the curves are redrawn after every epoch (PlotHistory)."""
    if not path:
        return []
    from .callbacks_plot import PlotHistory
    try:
        return [PlotHistory(path)]
    except ImportError as exc:
        raise CLIError(f"--plot: {exc}") from None


def cmd_train_imdb(args) -> None:
    import rnnkit
    from .datasets import imdb
    from .preprocessing.sequence import pad_sequences

    _use_data_dir(args.data)
    rnnkit.set_seed(args.seed)
    rnnkit.backend.clear_session()  # layer names as in a fresh process: embedding, lstm, dense
    t0 = time.perf_counter()
    (x_train, y_train), (x_test, y_test) = imdb.load_data(num_words=args.num_words)
    if args.limit:
        x_train, y_train = x_train[: args.limit], y_train[: args.limit]
        x_test, y_test = x_test[: args.limit], y_test[: args.limit]
    x_train = pad_sequences(x_train, maxlen=args.maxlen)
    x_test = pad_sequences(x_test, maxlen=args.maxlen)
    print(f"IMDB: {len(x_train)} train / {len(x_test)} test reviews, {args.num_words} words, "
          f"padded to {args.maxlen} ({time.perf_counter() - t0:.1f}s)")
    model = build_imdb_model(args.cell, args.units, args.embed_dim, args.num_words, args.maxlen,
                             args.layers, args.bidirectional)
    model.summary(explain=args.explain)
    model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
    model.fit(x_train, y_train, epochs=args.epochs, batch_size=args.batch_size,
              validation_split=args.validation_split, verbose=args.verbose,
              callbacks=_plot_callbacks(args.plot))
    if args.plot:
        print(f"training curves: {args.plot}")
    word_index = imdb.get_word_index()
    keep = args.num_words - 3
    model.metadata = {
        "task": "imdb", "num_words": args.num_words, "maxlen": args.maxlen, "index_from": 3,
        "start_char": 1, "oov_char": 2,
        "word_index": {w: r for w, r in word_index.items() if r < keep},
    }
    if is_chief():  # under mpirun, rank 0 alone writes the file
        model.save(args.out)
    print(f"saved model: {args.out}")
    loss, acc = model.evaluate(x_test, y_test, batch_size=args.batch_size, verbose=0)
    print(f"test loss: {loss:.4f}")
    print(f"test accuracy: {acc:.4f}")


def _load(path, task=None):
    from .saving import load_model

    try:
        model = load_model(path)
    except (ValueError, FileNotFoundError, OSError) as exc:
        raise CLIError(str(exc)) from None
    meta = getattr(model, "metadata", {}) or {}
    if task and meta.get("task") != task:
        raise CLIError(f"{path} is an rnnkit model but not a '{task}' model made by `rnnkit train {task}` "
                       f"(its task is {meta.get('task')!r})")
    return model, meta


def cmd_predict(args) -> None:
    model, meta = _load(args.model, "imdb")
    texts = list(args.texts)
    if args.file:
        try:
            with open(args.file, encoding="utf-8") as fh:
                texts += [line.strip() for line in fh if line.strip()]
        except OSError as exc:
            raise CLIError(f"--file: cannot read {args.file}: {exc.strerror}") from None
    if not texts:
        raise CLIError("predict: give at least one text, or --file with one text per line")
    probs = model.predict(encode_reviews(texts, meta), verbose=0).reshape(-1)
    for text, p in zip(texts, probs):
        short = text if len(text) <= 60 else text[:57] + "..."
        label = "positive" if p >= 0.5 else "negative"
        print(f"{p:.4f}  {label:<8}  {short}")


def cmd_evaluate(args) -> None:
    from .datasets import imdb
    from .preprocessing.sequence import pad_sequences

    _use_data_dir(args.data)
    model, meta = _load(args.model, "imdb")
    _, (x_test, y_test) = imdb.load_data(num_words=meta["num_words"])
    if args.limit:
        x_test, y_test = x_test[: args.limit], y_test[: args.limit]
    x_test = pad_sequences(x_test, maxlen=meta["maxlen"])
    loss, acc = model.evaluate(x_test, y_test, batch_size=args.batch_size, verbose=0)
    print(f"test loss: {loss:.4f}")
    print(f"test accuracy: {acc:.4f}")


def cmd_explain(args) -> None:
    from .inspect.command import run_explain

    model, meta = _load(args.model, "imdb")
    run_explain(model, meta, args)


def cmd_summary(args) -> None:
    model, _ = _load(args.model)
    model.summary(explain=args.explain, style=args.style)


# ------------------------------------------------------------- Shakespeare
def cmd_train_shakespeare(args) -> None:
    import rnnkit
    from .datasets.corpora import load_char_corpus
    from .keras import layers
    from .keras.models import Sequential

    _use_data_dir(args.data)
    rnnkit.set_seed(args.seed)
    rnnkit.backend.clear_session()
    try:
        corpus = load_char_corpus(args.text)
    except (FileNotFoundError, ValueError) as exc:
        raise CLIError(str(exc)) from None
    x, y = corpus.windows(args.seq_len, step=args.seq_len)
    if args.limit:
        x, y = x[: args.limit], y[: args.limit]
    print(f"corpus: {len(corpus)} characters, {corpus.vocab_size} distinct, "
          f"{len(x)} windows of {args.seq_len}")
    model = Sequential([layers.Input(shape=(None,), dtype="int32"),
                        layers.Embedding(corpus.vocab_size, args.embed_dim),
                        layers.LSTM(args.units, return_sequences=True),
                        layers.TimeDistributed(layers.Dense(corpus.vocab_size, activation="softmax"))],
                       name="char_lstm")
    model.summary(explain=args.explain)
    from .optimizers import Adam
    model.compile(optimizer=Adam(args.learning_rate, clipnorm=5.0),
                  loss="sparse_categorical_crossentropy")
    callbacks = []
    if args.validation_split > 0:
        # Halve the step size when the validation loss stalls: the model overfits
        # the ~1M characters after ~15 epochs at the full rate.
        from .callbacks import ReduceLROnPlateau
        callbacks.append(ReduceLROnPlateau("val_loss", factor=0.5, patience=1, min_delta=0.002,
                                           verbose=int(args.verbose > 0)))
    history = model.fit(x, y, epochs=args.epochs, batch_size=args.batch_size,
                        validation_split=args.validation_split, verbose=args.verbose,
                        callbacks=callbacks + _plot_callbacks(args.plot))
    model.metadata = {"task": "chars", "chars": "".join(corpus.vocab)}
    if is_chief():  # under mpirun, rank 0 alone writes the file
        model.save(args.out)
    print(f"saved model: {args.out}")
    h = history.history
    val = f" (validation: {h['val_loss'][-1]:.4f})" if "val_loss" in h else ""
    print(f"loss: {h['loss'][-1]:.4f} nats/char{val}")
    print(sample_text(model, model.metadata, "ROMEO:", 200, 0.8, args.seed))


def sample_text(model, meta, seed_text: str, length: int, temperature: float, seed: int) -> str:
    """Sample ``length`` characters after ``seed_text``, carrying the LSTM state one step at a time."""
    from .layers import Embedding, LSTM, TimeDistributed

    chars = meta["chars"]
    index = {c: i for i, c in enumerate(chars)}
    unknown = sorted({c for c in seed_text if c not in index})
    if unknown:
        raise CLIError(f"--seed-text has characters the model never saw: {''.join(unknown)!r}")
    if not seed_text:
        raise CLIError("--seed-text must not be empty")
    emb, lstm, head = model.layers
    if not (isinstance(emb, Embedding) and isinstance(lstm, LSTM) and isinstance(head, TimeDistributed)):
        raise CLIError("generate needs a model made by `rnnkit train shakespeare`")
    rng = np.random.default_rng(seed)
    sampler = _stateful_copy(lstm)
    ids = np.array([[index[c] for c in seed_text]])
    states = None
    out = []
    for _ in range(length):
        seq, h, c = sampler(emb(ids), initial_state=states)
        states = [h, c]
        probs = head(seq[:, -1:])[0, -1].astype(np.float64)
        logits = np.log(np.maximum(probs, 1e-12)) / max(temperature, 1e-6)
        p = np.exp(logits - logits.max())
        p /= p.sum()
        nxt = int(rng.choice(len(p), p=p))
        out.append(chars[nxt])
        ids = np.array([[nxt]])
    return seed_text + "".join(out)


def _stateful_copy(lstm):
    """The same LSTM, returning its states too, so sampling can carry them one character at a time."""
    cfg = {**lstm.get_config(), "return_state": True, "return_sequences": True, "name": None}
    cfg.pop("batch_input_shape", None)
    clone = type(lstm).from_config(cfg)
    clone.build((None, None, lstm.input_dim))
    clone.set_weights(lstm.get_weights())
    return clone


def cmd_generate(args) -> None:
    model, meta = _load(args.model, "chars")
    if args.temperature <= 0:
        raise CLIError(f"--temperature must be > 0; received {args.temperature}")
    print(sample_text(model, meta, args.seed_text, args.length, args.temperature, args.seed))


def cmd_export(args) -> None:
    if args.format != "onnx":
        raise CLIError(f"export: --format must be onnx; received {args.format!r}")
    model, _ = _load(args.model)
    model.export(args.output, format=args.format)
    print(f"exported {args.model} -> {args.output} (ONNX)")


# ------------------------------------------------------------------ parser
def make_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="rnnkit", description="Keras-compatible RNNs in NumPy.")
    from . import __version__
    p.add_argument("--version", action="version", version=f"rnnkit {__version__}")
    sub = p.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="train a model").add_subparsers(dest="task", required=True)
    ti = train.add_parser("imdb", help="IMDB sentiment: Embedding -> recurrent layer(s) -> Dense(sigmoid)")
    ti.add_argument("--cell", choices=["simple", "lstm", "gru"], default="lstm")
    ti.add_argument("--units", type=_positive(int), default=32)
    ti.add_argument("--embed-dim", type=_positive(int), default=32)
    ti.add_argument("--bidirectional", action="store_true")
    ti.add_argument("--layers", type=_positive(int), default=1)
    ti.add_argument("--epochs", type=_positive(int), default=10)
    ti.add_argument("--batch-size", type=_positive(int), default=128)
    ti.add_argument("--maxlen", type=_positive(int), default=500)
    ti.add_argument("--num-words", type=_positive(int), default=10000)
    ti.add_argument("--validation-split", type=_fraction, default=0.2)
    ti.add_argument("--limit", type=_positive(int), default=None,
                    help="use only the first N train and test reviews (quick runs)")
    ti.add_argument("--seed", type=int, default=0)
    ti.add_argument("--data", default=None, help="directory with imdb.npz or the raw reviews")
    ti.add_argument("--out", default=IMDB_MODEL)
    ti.add_argument("--plot", default=None, help="save loss/accuracy curves to this PNG")
    ti.add_argument("--explain", action="store_true", help="show parameter formulas in the summary")
    ti.add_argument("--verbose", type=int, choices=[0, 1, 2], default=1)
    ti.set_defaults(func=cmd_train_imdb)

    ts = train.add_parser("shakespeare", help="character-level LSTM language model")
    ts.add_argument("--text", default="tinyshakespeare.txt",
                    help="a text file (default: tinyshakespeare.txt from the data directory)")
    ts.add_argument("--units", type=_positive(int), default=256)
    ts.add_argument("--embed-dim", type=_positive(int), default=64)
    ts.add_argument("--seq-len", type=_positive(int), default=100)
    ts.add_argument("--epochs", type=_positive(int), default=20)
    ts.add_argument("--batch-size", type=_positive(int), default=64)
    ts.add_argument("--learning-rate", type=_positive(float), default=0.003)
    ts.add_argument("--validation-split", type=_fraction, default=0.05)
    ts.add_argument("--limit", type=_positive(int), default=None, help="use only N windows")
    ts.add_argument("--seed", type=int, default=0)
    ts.add_argument("--data", default=None)
    ts.add_argument("--out", default=CHAR_MODEL)
    ts.add_argument("--plot", default=None)
    ts.add_argument("--explain", action="store_true")
    ts.add_argument("--verbose", type=int, choices=[0, 1, 2], default=1)
    ts.set_defaults(func=cmd_train_shakespeare)

    pr = sub.add_parser("predict", help="probability that each text is a positive review")
    pr.add_argument("model")
    pr.add_argument("texts", nargs="*")
    pr.add_argument("--file", default=None, help="a file with one text per line")
    pr.set_defaults(func=cmd_predict)

    ev = sub.add_parser("evaluate", help="accuracy of an IMDB model on the 25,000 test reviews")
    ev.add_argument("model")
    ev.add_argument("--data", default=None)
    ev.add_argument("--batch-size", type=_positive(int), default=128)
    ev.add_argument("--limit", type=_positive(int), default=None)
    ev.set_defaults(func=cmd_evaluate)

    ex = sub.add_parser("explain", help="why an IMDB model predicts what it does: running prediction, "
                        "integrated-gradients attributions, gate heatmaps")
    ex.add_argument("model")
    ex.add_argument("text", nargs="?", default="")
    ex.add_argument("--file", default=None, help="read the text from this file")
    ex.add_argument("--out", default=None, help="write a report: .html (self-contained) or .png (matplotlib)")
    ex.add_argument("--baseline", choices=["zero", "pad"], default="zero",
                    help="integrated-gradients baseline: zero embeddings or the padding token")
    ex.add_argument("--steps", type=_positive(int), default=32, help="quadrature points of the integral")
    ex.add_argument("--gates", default=None, help="comma-separated, e.g. forget_gate,cell_state")
    ex.set_defaults(func=cmd_explain)

    sm = sub.add_parser("summary", help="print a saved model's summary table")
    sm.add_argument("model")
    sm.add_argument("--explain", action="store_true")
    sm.add_argument("--style", choices=["keras3", "keras2"], default="keras3",
                    help="Keras 3's box table (default) or Keras 2's underscore table")
    sm.set_defaults(func=cmd_summary)

    ex = sub.add_parser("export", help="export a saved model (.keras/.h5) to ONNX")
    ex.add_argument("model")
    ex.add_argument("output")
    ex.add_argument("--format", default="onnx")
    ex.set_defaults(func=cmd_export)

    ge = sub.add_parser("generate", help="sample text from a character model")
    ge.add_argument("model")
    ge.add_argument("--seed-text", default="ROMEO:")
    ge.add_argument("--length", type=_positive(int), default=400)
    ge.add_argument("--temperature", type=float, default=0.8)
    ge.add_argument("--seed", type=int, default=0)
    ge.set_defaults(func=cmd_generate)
    return p


def main(argv=None) -> int:
    args = make_parser().parse_args(argv)
    # A one-shot command would spend more on loading the optional compiled kernels
    # (~0.5 s) than they save, unless RNNKIT_JIT=1 asks for them; training uses
    # them (when installed) unless RNNKIT_JIT=0.
    training = args.func in (cmd_train_imdb, cmd_train_shakespeare)
    jit = config.settings().jit
    try:
        note = f"--batch-size {args.batch_size} is the global batch" if training else None
        # data-parallel when mpirun started several ranks
        with config.override(jit=jit if training else jit is True), mpi_scope(note):
            args.func(args)
    except CLIError as exc:
        print(f"rnnkit: error: {exc}", file=sys.stderr)
        return 2
    except (FileNotFoundError, ValueError, RuntimeError, OSError) as exc:
        print(f"rnnkit: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("rnnkit: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
