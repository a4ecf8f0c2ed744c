"""ONNX export: native RNN/LSTM/GRU operators, checked in onnxruntime against predict."""
from __future__ import annotations

import numpy as np
import pytest

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from rnnkit.cli import main  # noqa: E402
from rnnkit.keras import layers  # noqa: E402
from rnnkit.keras.models import Sequential  # noqa: E402

CELLS = {"rnn": lambda **k: layers.SimpleRNN(4, **k), "lstm": lambda **k: layers.LSTM(4, **k),
         "gru": lambda **k: layers.GRU(4, **k), "gru_rb": lambda **k: layers.GRU(4, reset_after=False, **k)}


def _randomize(model, rng):
    model.set_weights([rng.normal(0, 0.5, w.shape).astype(w.dtype) for w in model.weights])
    return model


def _check(model, path, xs):
    model.export(path, format="onnx")
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for x in xs:  # different batch sizes and sequence lengths: dynamic axes
        feed = x.astype(np.int64) if x.dtype.kind == "i" else x
        got = sess.run(None, {"input": feed})[0]
        np.testing.assert_allclose(got, model.predict(x, verbose=0), atol=1e-5, rtol=0)
    return onnx.load(str(path))


def _ops(proto):
    return {n.op_type for n in proto.graph.node}


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("opts", [dict(), dict(return_sequences=True), dict(go_backwards=True),
                                  dict(use_bias=False, return_sequences=True)],
                         ids=["last", "seq", "backwards", "nobias"])
def test_recurrent_layers(tmp_path, rng, cell, opts):
    model = _randomize(Sequential([layers.Input(shape=(None, 3)), CELLS[cell](**opts), layers.Dense(2)]), rng)
    xs = [rng.normal(size=(b, t, 3)).astype("float32") for b, t in ((2, 5), (7, 9), (1, 1))]
    proto = _check(model, tmp_path / "m.onnx", xs)
    assert {"RNN": "rnn", "LSTM": "lstm", "GRU": "gru"}.keys() & _ops(proto)
    if cell.startswith("gru"):
        gru = next(n for n in proto.graph.node if n.op_type == "GRU")
        lbr = {a.name: a.i for a in gru.attribute}["linear_before_reset"]
        assert lbr == (0 if cell == "gru_rb" else 1)


@pytest.mark.parametrize("cell", sorted(CELLS))
@pytest.mark.parametrize("merge", ["concat", "sum", "ave", "mul"])
@pytest.mark.parametrize("seq", [True, False])
def test_bidirectional(tmp_path, rng, cell, merge, seq):
    model = _randomize(Sequential([layers.Input(shape=(None,), dtype="int32"), layers.Embedding(20, 3),
                                   layers.Bidirectional(CELLS[cell](return_sequences=seq), merge_mode=merge),
                                   layers.Dense(2, activation="softmax")]), rng)
    xs = [rng.integers(0, 20, size=(b, t)) for b, t in ((3, 6), (5, 2))]
    proto = _check(model, tmp_path / "m.onnx", xs)
    assert "Gather" in _ops(proto)
    rec = next(n for n in proto.graph.node if n.op_type in ("RNN", "LSTM", "GRU"))
    assert {a.name: a.s for a in rec.attribute}["direction"] == b"bidirectional"


def test_stack_timedistributed_flatten_and_cli(tmp_path, rng):
    model = _randomize(Sequential([layers.Input(shape=(6, 3)), layers.LSTM(5, return_sequences=True),
                                   layers.Dropout(0.5), layers.GRU(4, return_sequences=True),
                                   layers.TimeDistributed(layers.Dense(3, activation="relu")),
                                   layers.Flatten(), layers.Dense(1, activation="sigmoid")]), rng)
    _check(model, tmp_path / "m.onnx", [rng.normal(size=(4, 6, 3)).astype("float32")])
    model.save(tmp_path / "m.keras")
    assert main(["export", str(tmp_path / "m.keras"), str(tmp_path / "cli.onnx")]) == 0
    sess = ort.InferenceSession(str(tmp_path / "cli.onnx"), providers=["CPUExecutionProvider"])
    x = rng.normal(size=(3, 6, 3)).astype("float32")
    np.testing.assert_allclose(sess.run(None, {"input": x})[0], model.predict(x, verbose=0), atol=1e-5)


def _padded(rng, vocab=20, b=6, t=8):
    ids = rng.integers(1, vocab, size=(b, t))
    ids[0, :5] = 0       # pre-padding
    ids[1, 3:] = 0       # post-padding
    ids[2, [1, 4, 5]] = 0  # holes
    ids[3, :] = 0        # all padding
    return ids


@pytest.mark.parametrize("stack", ["lstm", "gru", "gru_rb", "rnn", "backwards", "bi_concat", "bi_sum",
                                   "bi_ave", "bi_mul", "stacked"])
def test_masked_models_match_for_pre_and_post_padding(tmp_path, rng, stack):
    """Embedding(mask_zero=True): every padding layout gives rnnkit's answers."""
    if stack in CELLS:
        body = [CELLS[stack]()]
    elif stack == "backwards":
        body = [layers.LSTM(4, go_backwards=True)]
    elif stack.startswith("bi_"):
        body = [layers.Bidirectional(layers.GRU(4, return_sequences=True), merge_mode=stack[3:]),
                layers.Bidirectional(layers.LSTM(3), merge_mode=stack[3:])]
    else:
        body = [layers.LSTM(4, return_sequences=True), layers.TimeDistributed(layers.Dense(3)),
                layers.SimpleRNN(4, return_sequences=True, go_backwards=False), layers.GRU(3)]
    model = _randomize(Sequential([layers.Input(shape=(None,), dtype="int32"),
                                   layers.Embedding(20, 3, mask_zero=True), *body, layers.Dense(2)]), rng)
    _check(model, tmp_path / "m.onnx", [_padded(rng), _padded(rng, t=11)[:5]])


def test_masking_layer_exports(tmp_path, rng):
    model = _randomize(Sequential([layers.Input(shape=(None, 3)), layers.Masking(0.0),
                                   layers.Bidirectional(layers.LSTM(3)), layers.Dense(1)]), rng)
    x = rng.normal(size=(4, 7, 3)).astype("float32")
    x[0, :3] = 0.0
    x[1, 5:] = 0.0
    x[2, 2] = 0.0
    _check(model, tmp_path / "m.onnx", [x])


@pytest.mark.parametrize("make,match", [
    (lambda: [layers.Input(shape=(5,)), layers.Embedding(9, 3, mask_zero=True),
              layers.LSTM(2, return_sequences=True)], "must end in a non-sequence output"),
    (lambda: [layers.Input(shape=(5, 3)), layers.Masking(), layers.GRU(2, return_sequences=True),
              layers.Flatten(), layers.Dense(1)], "flattens a masked sequence"),
    (lambda: [layers.Input(shape=(5, 3)), layers.LSTM(2, activation="softsign")], "activation 'softsign'"),
    (lambda: [layers.Input(shape=(5, 3)), layers.Bidirectional(layers.LSTM(2), merge_mode=None)],
     "merge_mode=None"),
])
def test_refused_with_a_reason(tmp_path, make, match):
    with pytest.raises(ValueError, match=match):
        Sequential(make()).export(tmp_path / "m.onnx", format="onnx")


def _run(path, feeds):
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = [i.name for i in sess.get_inputs()]
    return sess.run(None, {n: (f.astype(np.int64) if f.dtype.kind == "i" else f) for n, f in zip(names, feeds)})


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
def test_functional_seq2seq_with_states(tmp_path, rng, cell):
    """initial_state= and return_state=True, an Embedding, two inputs: one ONNX node per layer."""
    from rnnkit.keras import Input, Model
    make = {"lstm": layers.LSTM, "gru": layers.GRU, "rnn": layers.SimpleRNN}[cell]
    ids = Input(shape=(None,), dtype="int32", name="ids")
    dec = Input(shape=(None, 3), name="dec")
    enc_out = make(5, return_state=True)(layers.Embedding(12, 4)(ids))
    seq = make(5, return_sequences=True)(dec, initial_state=enc_out[1:])
    model = _randomize(Model([ids, dec], layers.TimeDistributed(layers.Dense(2, activation="softmax"))(seq)), rng)
    model.export(tmp_path / "f.onnx", format="onnx")
    for b, t1, t2 in ((3, 6, 4), (1, 2, 7)):
        feeds = [rng.integers(0, 12, size=(b, t1)), rng.normal(size=(b, t2, 3)).astype("float32")]
        np.testing.assert_allclose(_run(tmp_path / "f.onnx", feeds)[0], model.predict(feeds, verbose=0),
                                   atol=1e-5, rtol=0)


def test_functional_merges_shared_layers_bidirectional_states_two_outputs(tmp_path, rng):
    from rnnkit.keras import Input, Model
    a, b = Input(shape=(6, 3), name="a"), Input(shape=(4, 3), name="b")
    gru = layers.GRU(5, name="shared")
    ha, hb = gru(a), gru(b)
    merged = [layers.Add()([ha, hb]), layers.Subtract()([ha, hb]), layers.Multiply()([ha, hb, ha]),
              layers.Average()([ha, hb]), layers.Maximum()([ha, hb]), layers.Minimum()([ha, hb])]
    fw, bw, h_f, c_f, h_b, c_b = layers.Bidirectional(
        layers.LSTM(3, return_sequences=True, return_state=True), merge_mode=None)(a)
    out1 = layers.Dense(2, activation="tanh")(layers.Concatenate()(merged + [h_f, c_b]))
    out2 = layers.Dense(1)(layers.Flatten()(layers.Concatenate()([fw, bw])))
    model = _randomize(Model([a, b], [out1, out2]), rng)
    model.export(tmp_path / "f.onnx", format="onnx")
    feeds = [rng.normal(size=(4, 6, 3)).astype("float32"), rng.normal(size=(4, 4, 3)).astype("float32")]
    for got, want in zip(_run(tmp_path / "f.onnx", feeds), model.predict(feeds, verbose=0), strict=True):
        np.testing.assert_allclose(got, want, atol=1e-5, rtol=0)


def test_functional_masks_refused(tmp_path):
    from rnnkit.keras import Input, Model
    ids = Input(shape=(5,), dtype="int32")
    model = Model(ids, layers.LSTM(2)(layers.Embedding(9, 3, mask_zero=True)(ids)))
    with pytest.raises(ValueError, match="makes a mask; masked functional models are not exported"):
        model.export(tmp_path / "m.onnx", format="onnx")
