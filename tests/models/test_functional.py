"""The functional API: Model(inputs, outputs) graphs, their gradients, training, summary,
saving and error messages."""
from __future__ import annotations

import glob
import importlib.util
import json
import os

import numpy as np
import pytest

import rnnkit.keras

from gradcheck import numeric
from rnnkit import backend
from rnnkit.keras import Input, Model
from rnnkit.keras.layers import (GRU, LSTM, Bidirectional, Concatenate, Dense, Dropout, Embedding,
                                 KerasTensor, SimpleRNN, TimeDistributed)
from rnnkit.keras.models import Sequential, load_model

F64 = {"dtype": "float64"}
B = 3


@pytest.fixture(autouse=True)
def fresh_names():
    backend.clear_session()


def randomize(model, rng, scale=0.5):
    model.set_weights([rng.normal(0, scale, w.shape) for w in model.get_weights()])


def as_list(v):
    return list(v) if isinstance(v, (list, tuple)) else [v]


def check_model_gradients(model, xs, ups, check_inputs=(), tol=1e-6, entries=20):
    """Central differences of L = sum_i <out_i, up_i> against model.backward, for every
    weight and the inputs listed in ``check_inputs``."""
    outs, cache = model.forward(xs)
    dxs = as_list(model.backward(ups if isinstance(outs, list) else ups[0], cache))
    wgrads = [None if g is None else g.copy() for g in model.grads]
    assert len(wgrads) == len(model.get_weights())

    def f():
        o, _ = model.forward(xs)
        return float(sum(np.sum(a * u) for a, u in zip(as_list(o), ups)))

    targets = list(zip(model.weight_names, model.weights, wgrads))
    targets += [(f"input {i}", as_list(xs)[i], dxs[i]) for i in check_inputs]
    for name, arr, grad in targets:
        assert grad is not None, f"{name}: no gradient"
        assert grad.shape == arr.shape, name
        idx, num = numeric(f, arr, max_entries=entries)
        ana = grad.reshape(-1)[idx]
        err = np.abs(ana - num).max() / max(1.0, np.abs(num).max())
        assert err < tol, f"{name}: max error {err:.2e}\nanalytic {ana[:5]}\nnumeric  {num[:5]}"


def upstream(model, xs, rng):
    outs, _ = model.forward(xs)
    return [rng.normal(size=o.shape) for o in as_list(outs)]


def summary_text(model, **kw):
    """Keras 2's table, which these exact-text checks were written against."""
    lines = []
    model.summary(print_fn=lines.append, **{"style": "keras2", **kw})
    return "\n".join(lines)


def seq2seq(dtype=None, units=32, enc_dim=10, dec_dim=12):
    kw = {} if dtype is None else {"dtype": dtype}
    encoder_inputs = Input(shape=(None, enc_dim))
    _, state_h, state_c = LSTM(units, return_state=True, **kw)(encoder_inputs)
    decoder_inputs = Input(shape=(None, dec_dim))
    decoder_outputs, _, _ = LSTM(units, return_sequences=True, return_state=True, **kw)(
        decoder_inputs, initial_state=[state_h, state_c])
    decoder_outputs = Dense(dec_dim, activation="softmax", **kw)(decoder_outputs)
    return Model([encoder_inputs, decoder_inputs], decoder_outputs)


# ------------------------------------------------------------------ gradients
def test_encoder_decoder_states_gradients(rng):
    model = seq2seq("float64", units=4, enc_dim=3, dec_dim=5)
    randomize(model, rng)
    xs = [rng.normal(size=(B, 6, 3)), rng.normal(size=(B, 4, 5))]
    check_model_gradients(model, xs, upstream(model, xs, rng), check_inputs=(0, 1))
    # The encoder's weights get gradient only through the decoder's initial state.
    assert np.abs(model.get_layer("lstm").grads[0]).sum() > 0


@pytest.mark.parametrize("cell", [GRU, SimpleRNN])
def test_single_state_passed_as_a_tensor_and_final_states_as_outputs(cell, rng):
    enc_in, dec_in = Input(shape=(5, 3)), Input(shape=(4, 2))
    _, state = cell(4, return_state=True, **F64)(enc_in)
    seq, final = cell(4, return_sequences=True, return_state=True, **F64)(dec_in, initial_state=state)
    model = Model([enc_in, dec_in], [Dense(2, **F64)(seq), final])
    randomize(model, rng)
    xs = [rng.normal(size=(B, 5, 3)), rng.normal(size=(B, 4, 2))]
    check_model_gradients(model, xs, upstream(model, xs, rng), check_inputs=(0, 1))


def test_bidirectional_states_into_decoder(rng):
    enc_in, dec_in = Input(shape=(5, 3)), Input(shape=(4, 2))
    _, fh, fc, bh, bc = Bidirectional(LSTM(3, return_state=True, **F64), **F64)(enc_in)
    state_h = Concatenate(**F64)([fh, bh])
    state_c = Concatenate(**F64)([fc, bc])
    out = LSTM(6, return_sequences=True, **F64)(dec_in, initial_state=[state_h, state_c])
    model = Model([enc_in, dec_in], out)
    randomize(model, rng)
    xs = [rng.normal(size=(B, 5, 3)), rng.normal(size=(B, 4, 2))]
    check_model_gradients(model, xs, upstream(model, xs, rng), check_inputs=(0, 1))


def test_shared_layers_accumulate_gradients(rng):
    a, b = Input(shape=(4, 3)), Input(shape=(4, 3))
    encoder = LSTM(5, **F64)            # the same LSTM reads both sequences
    square = Dense(5, activation="tanh", **F64)  # and this Dense is applied twice in a row
    merged = Concatenate(**F64)([square(square(encoder(a))), encoder(b)])
    model = Model([a, b], Dense(2, **F64)(merged))
    assert [w.shape for w in model.get_weights()] == [(3, 20), (5, 20), (20,), (5, 5), (5,), (10, 2), (2,)]
    assert model.count_params() == 60 + 100 + 20 + 30 + 22
    randomize(model, rng)
    xs = [rng.normal(size=(B, 4, 3)), rng.normal(size=(B, 4, 3))]
    check_model_gradients(model, xs, upstream(model, xs, rng), check_inputs=(0, 1))


def test_shared_layer_grads_are_the_sum_of_each_call(rng):
    x1, x2 = Input(shape=(3,)), Input(shape=(3,))
    shared = Dense(2, **F64)
    model = Model([x1, x2], [shared(x1), shared(x2)])
    randomize(model, rng)
    xs = [rng.normal(size=(B, 3)), rng.normal(size=(B, 3))]
    ups = upstream(model, xs, rng)
    _, cache = model.forward(xs)
    model.backward(ups, cache)
    np.testing.assert_allclose(model.grads[0], xs[0].T @ ups[0] + xs[1].T @ ups[1])
    np.testing.assert_allclose(model.grads[1], ups[0].sum(0) + ups[1].sum(0))
    # Only the first output has a gradient: the second call contributes nothing.
    model.backward([ups[0], None], cache)
    np.testing.assert_allclose(model.grads[0], xs[0].T @ ups[0])


def test_two_inputs_two_outputs_and_an_output_used_inside(rng):
    seq_in, vec_in = Input(shape=(5, 3), name="seq"), Input(shape=(4,), name="vec")
    h = GRU(4, **F64)(seq_in)
    first = Dense(4, activation="tanh", name="first", **F64)(h)   # an output, also consumed below
    joined = Concatenate(**F64)([first, Dense(3, **F64)(vec_in)])
    second = Dense(2, activation="sigmoid", name="second", **F64)(joined)
    model = Model([seq_in, vec_in], [first, second])
    assert model.output_names == ["first", "second"]
    randomize(model, rng)
    xs = [rng.normal(size=(B, 5, 3)), rng.normal(size=(B, 4))]
    check_model_gradients(model, xs, upstream(model, xs, rng), check_inputs=(0, 1))


def test_masked_embedding_branch(rng):
    ids_in, feat_in = Input(shape=(6,), dtype="int32"), Input(shape=(2,))
    emb = Embedding(9, 4, mask_zero=True, **F64)(ids_in)
    seq = LSTM(3, return_sequences=True, **F64)(emb)   # the mask flows along every edge
    h = GRU(3, **F64)(seq)
    out = Dense(1, **F64)(Concatenate(**F64)([h, Dense(2, **F64)(feat_in)]))
    model = Model([ids_in, feat_in], out)
    randomize(model, rng)
    ids = np.array([[0, 0, 3, 4, 5, 1], [2, 7, 8, 0, 0, 0], [1, 2, 3, 4, 5, 6]])
    xs = [ids, rng.normal(size=(B, 2))]
    check_model_gradients(model, xs, upstream(model, xs, rng), check_inputs=(1,))
    # The masked steps do not matter: changing the padded ids' embeddings changes nothing
    # for rows whose non-padded ids are the same.
    before = model.predict(xs, verbose=0)
    model.get_layer("embedding").embeddings[0] += 5.0
    np.testing.assert_allclose(model.predict(xs, verbose=0), before)


def test_masks_match_sequential_and_explicit_mask_none_overrides(rng):
    ids_in = Input(shape=(5,))
    emb_layer, lstm = Embedding(7, 3, mask_zero=True, **F64), LSTM(2, **F64)
    model = Model(ids_in, lstm(emb_layer(ids_in)))
    randomize(model, rng)
    seq = Sequential([Embedding(7, 3, mask_zero=True, input_length=5, **F64), LSTM(2, **F64)])
    seq.set_weights(model.get_weights())
    ids = np.array([[0, 0, 1, 2, 3], [4, 5, 6, 0, 0], [1, 1, 1, 1, 1]])
    np.testing.assert_allclose(model.predict(ids, verbose=0), seq.predict(ids, verbose=0))
    # mask=None passed explicitly: the LSTM reads the padding (as in Keras).
    unmasked = Model(ids_in, lstm(emb_layer(ids_in), mask=None))
    plain = Sequential([Embedding(7, 3, input_length=5, **F64), LSTM(2, **F64)])
    plain.set_weights(model.get_weights())
    np.testing.assert_allclose(unmasked.predict(ids, verbose=0), plain.predict(ids, verbose=0))
    assert not np.allclose(unmasked.predict(ids, verbose=0), model.predict(ids, verbose=0))


def test_mask_given_as_a_tensor(rng):
    x_in, m_in = Input(shape=(4, 2)), Input(shape=(4,), dtype="bool")
    model = Model([x_in, m_in], SimpleRNN(3, **F64)(x_in, mask=m_in))
    randomize(model, rng)
    x = rng.normal(size=(B, 4, 2))
    m = np.array([[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]], bool)
    got = model.predict([x, m], verbose=0)
    layer = model.layers[-1]
    np.testing.assert_allclose(got, layer(x, mask=m))
    check_model_gradients(model, [x, m], upstream(model, [x, m], rng), check_inputs=(0,))


def test_training_kwarg_on_a_node_wins(rng):
    x_in = Input(shape=(50,))
    always = Dropout(0.5, seed=1)(x_in, training=True)   # Monte Carlo dropout
    never = Dropout(0.5, seed=1)(x_in, training=False)
    model = Model(x_in, [always, never])
    x = np.ones((2, 50))
    a, n = model.predict(x, verbose=0)
    assert (a == 0).any() and not (n == 0).any()
    a, n = model(x, training=True)
    assert (a == 0).any() and not (n == 0).any()


def test_nested_model_as_a_layer_shares_weights(rng):
    inner_in = Input(shape=(4, 3))
    encoder = Model(inner_in, LSTM(3, **F64)(inner_in), name="encoder")
    a, b = Input(shape=(4, 3)), Input(shape=(4, 3))
    model = Model([a, b], Dense(1, **F64)(Concatenate(**F64)([encoder(a), encoder(b)])))
    assert len(model.get_weights()) == 5
    randomize(model, rng)
    xs = [rng.normal(size=(B, 4, 3)), rng.normal(size=(B, 4, 3))]
    check_model_gradients(model, xs, upstream(model, xs, rng), check_inputs=(0, 1))
    text = summary_text(model)
    # As tf_keras 2.21 prints it:
    assert " encoder (Functional)        (None, 3)                    84        ['input_2[0][0]',  " in text
    assert "'input_3[0][0]']" in text and "['encoder[0][0]',  " in text and "'encoder[1][0]']" in text


def test_eager_calls_and_forward_structures(rng):
    model = seq2seq(units=4)
    x_enc, x_dec = rng.random((2, 3, 10)), rng.random((2, 5, 12))
    y = model([x_enc, x_dec])
    assert y.shape == (2, 5, 12)
    np.testing.assert_allclose(y.sum(-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(model((x_enc, x_dec)), model.predict([x_enc, x_dec], verbose=0), rtol=1e-6)
    out, cache = model.forward([x_enc, x_dec])
    grads = model.backward(np.ones_like(out), cache)
    assert isinstance(grads, list) and [g.shape for g in grads] == [x_enc.shape, x_dec.shape]
    inp = Input(shape=(3,))
    single = Model(inp, Dense(2)(inp))
    x = rng.random((4, 3))
    np.testing.assert_array_equal(single(x), single([x]))
    out, cache = single.forward(x)
    assert single.backward(np.ones_like(out), cache).shape == x.shape


def test_functional_equals_sequential(rng):
    layers_f = [Embedding(10, 4, **F64), LSTM(5, return_sequences=True, **F64), GRU(3, **F64),
                Dense(1, activation="sigmoid", **F64)]
    inp = Input(shape=(7,))
    x = inp
    for layer in layers_f:
        x = layer(x)
    model = Model(inp, x)
    seq = Sequential([Input(shape=(7,)), Embedding(10, 4, **F64), LSTM(5, return_sequences=True, **F64),
                      GRU(3, **F64), Dense(1, activation="sigmoid", **F64)])
    randomize(model, rng)
    seq.set_weights(model.get_weights())
    ids = rng.integers(0, 10, size=(16, 7))
    y = (ids == 3).any(1).astype("float64")
    np.testing.assert_array_equal(model.predict(ids, verbose=0), seq.predict(ids, verbose=0))
    out_f, cf = model.forward(ids)
    out_s, cs = seq.forward(ids)
    model.backward(out_f - 1, cf)
    seq.backward(out_s - 1, cs)
    for gf, gs in zip(model.grads, seq.grads):
        np.testing.assert_array_equal(gf, gs)
    for m in (model, seq):
        m.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])
    hf = model.fit(ids, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    hs = seq.fit(ids, y, epochs=2, batch_size=4, shuffle=False, verbose=0)
    assert hf.history == hs.history
    for wf, ws in zip(model.get_weights(), seq.get_weights()):
        np.testing.assert_array_equal(wf, ws)
    assert model.evaluate(ids, y, verbose=0) == seq.evaluate(ids, y, verbose=0)


# ------------------------------------------------------------- Keras goldens
FIXTURE_DIR = os.path.join(os.path.dirname(__file__), "..", "fixtures")
FUNCTIONAL_FIXTURES = sorted(glob.glob(os.path.join(FIXTURE_DIR, "functional", "*.npz")))


def fixture_builder():
    spec = importlib.util.spec_from_file_location(
        "make_keras_functional_fixtures", os.path.join(FIXTURE_DIR, "make_keras_functional_fixtures.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_functional_fixtures_exist():
    names = {os.path.basename(p)[:-4] for p in FUNCTIONAL_FIXTURES}
    assert names == set(fixture_builder().CASES)


@pytest.mark.parametrize("path", FUNCTIONAL_FIXTURES, ids=lambda p: os.path.basename(p)[:-4])
def test_matches_keras3_outputs_and_gradients(path):
    """Same code builds the model in Keras 3 (fixture script) and in rnnkit; same weights
    give the same outputs and the same gradients of sum(out * dout)."""
    data = np.load(path, allow_pickle=False)
    meta = json.loads(str(data["meta"]))
    model = fixture_builder().build(rnnkit.keras, meta["case"])
    for name, n in meta["layers"].items():
        model.get_layer(name).set_weights([data[f"w/{name}/{i}"] for i in range(n)])
    xs = [data[k] for k in sorted(k for k in data.files if k.startswith("x_"))]
    want = [data[k] for k in sorted(k for k in data.files if k.startswith("out_"))]
    got = as_list(model.predict(xs, verbose=0))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-4, atol=2e-5)
    outs, cache = model.forward(xs)
    douts = [data[f"dout_{i}"] for i in range(len(want))]
    dxs = as_list(model.backward(douts if isinstance(outs, list) else douts[0], cache))
    for name, n in meta["layers"].items():
        for i, g in enumerate(model.get_layer(name).grads):
            np.testing.assert_allclose(g, data[f"gw/{name}/{i}"], rtol=1e-3, atol=1e-4,
                                       err_msg=f"{name} weight {i}")
    for i, x in enumerate(xs):
        if f"gx_{i}" in data.files:
            np.testing.assert_allclose(dxs[i], data[f"gx_{i}"], rtol=1e-3, atol=1e-4)


# ------------------------------------------------------------------ training
def copy_task(n=320, seed=0):
    """Decoder target: the class of each decoder input step (learnable), encoder input noise."""
    rng = np.random.default_rng(seed)
    x_enc = rng.random((n, 6, 10)).astype("float32")
    cls = rng.integers(0, 12, size=(n, 5))
    x_dec = np.eye(12, dtype="float32")[cls] + rng.normal(0, 0.1, (n, 5, 12)).astype("float32")
    y = np.eye(12, dtype="float32")[cls]
    return x_enc, x_dec, y


def test_seq2seq_tutorial_trains():
    import rnnkit
    rnnkit.set_seed(0)
    x_enc, x_dec, y = copy_task(n=640)
    model = seq2seq()
    model.compile(optimizer="rmsprop", loss="categorical_crossentropy", metrics=["accuracy"])
    hist = model.fit([x_enc, x_dec], y, batch_size=64, epochs=20, validation_split=0.2, verbose=0)
    assert sorted(hist.history) == ["accuracy", "loss", "val_accuracy", "val_loss"]
    loss = hist.history["loss"]
    assert all(b < a for a, b in zip(loss, loss[1:]))
    assert loss[-1] < 0.75 * loss[0]
    assert hist.history["val_accuracy"][-1] > 0.8
    loss_e, acc_e = model.evaluate([x_enc, x_dec], y, verbose=0)
    assert loss_e < loss[0]
    p = model.predict([x_enc, x_dec], batch_size=100, verbose=0)
    assert p.shape == y.shape
    before = model.train_on_batch([x_enc[:32], x_dec[:32]], y[:32])
    assert isinstance(before, list) and len(before) == 2
    assert np.allclose(model.predict_on_batch([x_enc[:4], x_dec[:4]]), p[:4], atol=0.2)
    # dict inputs by input name work as well
    d = model.predict({"input_1": x_enc[:5], "input_2": x_dec[:5]}, verbose=0)
    assert d.shape == (5, 5, 12)


def test_two_outputs_losses_weights_and_logs():
    import rnnkit
    rnnkit.set_seed(3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 5, 2)).astype("float32")
    y_cls = (x[:, :, 0].sum(1) > 0).astype("float32")
    y_reg = x[:, :, 1].sum(1, keepdims=True).astype("float32")
    inp = Input(shape=(5, 2))
    h = LSTM(8)(inp)
    model = Model(inp, [Dense(1, activation="sigmoid", name="cls")(h), Dense(1, name="reg")(h)])
    model.compile(optimizer="adam", loss=["binary_crossentropy", "mse"], loss_weights=[1.0, 0.5],
                  metrics={"cls": ["accuracy"]})
    hist = model.fit(x, [y_cls, y_reg], epochs=6, batch_size=20, verbose=0, validation_split=0.1)
    # Keras 3 sorts the log keys, val_ ones included
    assert list(hist.history) == ["cls_accuracy", "cls_loss", "loss", "reg_loss", "val_cls_accuracy",
                                  "val_cls_loss", "val_loss", "val_reg_loss"]
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    logs = model.evaluate(x, {"cls": y_cls, "reg": y_reg}, verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(logs["cls_loss"] + 0.5 * logs["reg_loss"], rel=1e-5)
    values = model.evaluate(x, [y_cls, y_reg], verbose=0)
    assert values == pytest.approx([logs[k] for k in ["loss", "cls_loss", "reg_loss", "cls_accuracy"]])
    assert model.metrics_names == ["loss", "cls_loss", "reg_loss", "cls_accuracy"]
    # one loss for every output
    model.compile(optimizer="sgd", loss="mse")
    assert sorted(model.evaluate(x, [y_cls, y_reg], verbose=0, return_dict=True)) == \
        ["cls_loss", "loss", "reg_loss"]
    preds = model.predict(x, verbose=0)
    assert isinstance(preds, list) and [p.shape for p in preds] == [(200, 1), (200, 1)]
    # no loss for one output (it is only predicted); a list of metrics per output
    model.compile(optimizer="adam", loss=[None, "mse"], metrics=[["accuracy"], ["mae"]])
    hist = model.fit(x, [y_cls, y_reg], epochs=1, verbose=0)
    assert list(hist.history) == ["cls_accuracy", "loss", "reg_loss", "reg_mae"]
    assert hist.history["loss"] == hist.history["reg_loss"]
    # a model whose outputs are a list of one takes y as an array or a list of one
    one = Model(inp, [Dense(1)(h)])
    one.compile(optimizer="sgd", loss="mse", metrics=["mae"])
    assert one.evaluate(x, y_reg, verbose=0) == one.evaluate(x, [y_reg], verbose=0)
    assert list(one.fit(x, y_reg, verbose=0).history) == ["loss", "mae"]


# ------------------------------------------------------------------ summary
SEQ2SEQ_SUMMARY = """\
Model: "model"
__________________________________________________________________________________________________
 Layer (type)                Output Shape                 Param #   Connected to                  
==================================================================================================
 input_1 (InputLayer)        [(None, None, 10)]           0         []                            
                                                                                                  
 input_2 (InputLayer)        [(None, None, 12)]           0         []                            
                                                                                                  
 lstm (LSTM)                 [(None, 32),                 5504      ['input_1[0][0]']             
                              (None, 32),                                                         
                              (None, 32)]                                                         
                                                                                                  
 lstm_1 (LSTM)               [(None, None, 32),           5760      ['input_2[0][0]',             
                              (None, 32),                            'lstm[0][1]',                
                              (None, 32)]                            'lstm[0][2]']                
                                                                                                  
 dense (Dense)               (None, None, 12)             396       ['lstm_1[0][0]']              
                                                                                                  
==================================================================================================
Total params: 11,660
Trainable params: 11,660
Non-trainable params: 0
__________________________________________________________________________________________________"""


def test_summary_matches_keras2_functional_table():
    # The table body is tf_keras 2.21's output for the same model (the totals use
    # rnnkit's Keras 2.11 style, as Sequential does).
    model = seq2seq()
    assert [layer.name for layer in model.layers] == ["input_1", "input_2", "lstm", "lstm_1", "dense"]
    assert summary_text(model) == SEQ2SEQ_SUMMARY


GRAPH_SUMMARY = """\
Model: "model"
__________________________________________________________________________________________________
 Layer (type)                Output Shape                 Param #   Connected to                  
==================================================================================================
 input_3 (InputLayer)        [(None, None)]               0         []                            
                                                                                                  
 input_1 (InputLayer)        [(None, 4)]                  0         []                            
                                                                                                  
 embedding (Embedding)       (None, None, 8)              800       ['input_3[0][0]']             
                                                                                                  
 input_2 (InputLayer)        [(None, 6, 4)]               0         []                            
                                                                                                  
 shared (Dense)              multiple                     15        ['input_1[0][0]',             
                                                                     'input_2[0][0]']             
                                                                                                  
 lstm (LSTM)                 (None, 3)                    144       ['embedding[0][0]']           
                                                                                                  
 concatenate (Concatenate)   (None, 6)                    0         ['shared[0][0]',              
                                                                     'lstm[0][0]']                
                                                                                                  
 lstm_1 (LSTM)               (None, 2)                    48        ['shared[1][0]']              
                                                                                                  
==================================================================================================
Total params: 1,007
Trainable params: 1,007
Non-trainable params: 0
__________________________________________________________________________________________________"""


def test_summary_shared_layer_and_sequential_like_chain():
    # GRAPH_SUMMARY's table is tf_keras 2.21's output for the same code (layer order by
    # depth, then traversal; a shared layer with different output shapes is "multiple").
    a, b = Input(shape=(4,)), Input(shape=(6, 4))
    shared = Dense(3, name="shared")
    ids = Input(shape=(None,))
    h = LSTM(3)(Embedding(100, 8, mask_zero=True)(ids))
    model = Model([a, b, ids], [Concatenate()([shared(a), h]), LSTM(2)(shared(b))])
    assert summary_text(model) == GRAPH_SUMMARY
    i = Input(shape=(5, 3))
    chain = Model(i, Dense(1)(LSTM(4)(i)), name="chain")
    assert summary_text(chain) == "\n".join([
        'Model: "chain"',
        "_" * 65,
        " Layer (type)                Output Shape              Param #   ",
        "=" * 65,
        " input_4 (InputLayer)        [(None, 5, 3)]            0         ",
        " " * 65,
        " lstm_2 (LSTM)               (None, 4)                 128       ",
        " " * 65,
        " dense (Dense)               (None, 1)                 5         ",
        " " * 65,
        "=" * 65,
        "Total params: 133",
        "Trainable params: 133",
        "Non-trainable params: 0",
        "_" * 65,
    ])
    assert "    128 = 4 x ((3 + 1) x 4 + 4^2)" in summary_text(chain, explain=True)


# ------------------------------------------------------------------ saving
def test_config_round_trip_and_save_load(tmp_path, rng):
    model = seq2seq(units=6)
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    x_enc, x_dec, y = copy_task(n=40)
    model.fit([x_enc, x_dec], y, epochs=1, batch_size=8, verbose=0)
    cfg = json.loads(json.dumps(model.get_config()))
    assert cfg["input_layers"] == [["input_1", 0, 0], ["input_2", 0, 0]]
    assert cfg["output_layers"] == ["dense", 0, 0]
    lstm_1 = next(entry for entry in cfg["layers"] if entry["name"] == "lstm_1")
    state_refs = lstm_1["inbound_nodes"][0][0][3]["initial_state"]
    assert [r["config"]["keras_history"] for r in state_refs] == [["lstm", 0, 1], ["lstm", 0, 2]]
    clone = Model.from_config(cfg)
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone.predict([x_enc, x_dec], verbose=0),
                                  model.predict([x_enc, x_dec], verbose=0))
    path = tmp_path / "s2s.keras"
    model.save(path)
    loaded = load_model(path)
    assert isinstance(loaded, Model) and [lay.name for lay in loaded.layers] == \
        [lay.name for lay in model.layers]
    np.testing.assert_array_equal(loaded.predict([x_enc, x_dec], verbose=0),
                                  model.predict([x_enc, x_dec], verbose=0))
    # the optimizer state came back too: one more step gives the same weights
    model.train_on_batch([x_enc[:8], x_dec[:8]], y[:8])
    loaded.train_on_batch([x_enc[:8], x_dec[:8]], y[:8])
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_save_load_shared_layers_two_outputs_and_kwargs(tmp_path, rng):
    a, b = Input(shape=(4, 3)), Input(shape=(4, 3))
    enc = LSTM(5, return_sequences=True)
    ea = enc(a)
    eb = enc(b)
    drop = Dropout(0.3)(ea, training=False)
    out1 = Dense(2, name="o1")(Concatenate()([drop, eb]))
    out2 = TimeDistributed(Dense(1), name="o2")(eb)
    model = Model([a, b], [out1, out2], name="twins")
    model.compile(optimizer="sgd", loss=["mse", "mae"], loss_weights=[1.0, 2.0])
    path = tmp_path / "twins.keras"
    model.save(path)
    loaded = load_model(path)
    xs = [rng.normal(size=(5, 4, 3)).astype("float32"), rng.normal(size=(5, 4, 3)).astype("float32")]
    for p, q in zip(model.predict(xs, verbose=0), loaded.predict(xs, verbose=0)):
        np.testing.assert_array_equal(p, q)
    assert loaded.name == "twins" and loaded.output_names == ["o1", "o2"]
    assert loaded._loss_weights == [1.0, 2.0]
    assert summary_text(loaded) == summary_text(model)


# ------------------------------------------------------------------ errors
def test_error_outputs_not_reachable_from_inputs():
    a, b = Input(shape=(3,)), Input(shape=(3,))
    out = Dense(1)(Concatenate()([a, b]))
    with pytest.raises(ValueError, match=r"Graph disconnected: cannot obtain value for Input 'input_2'.*"
                                         r"layer 'concatenate'.*inputs are \['input_1'\]"):
        Model(a, out)
    with pytest.raises(ValueError, match=r"Graph disconnected: outputs\[0\].*Input 'input_2'"):
        Model(a, b)


def test_error_inputs_must_come_from_input():
    a = Input(shape=(5, 3))
    h = LSTM(2, return_sequences=True)(a)
    with pytest.raises(ValueError, match=r"inputs\[0\] must be a tensor returned by Input\(\.\.\.\), but it is "
                                         r"output 0 of layer 'lstm'"):
        Model(h, Dense(1)(h))
    stray = KerasTensor((None, 3))
    with pytest.raises(ValueError, match=r"inputs\[0\].*no layer history"):
        Model(stray, a)
    with pytest.raises(ValueError, match="a KerasTensor of shape \\(None, 3\\) with no layer history"):
        Model(a, Dense(1)(stray))
    with pytest.raises(TypeError, match=r"outputs\[0\] must be a KerasTensor.*received ndarray"):
        Model(a, np.zeros(3))
    with pytest.raises(TypeError, match="functional API"):
        Model()
    with pytest.raises(ValueError, match="passed twice"):
        Model([a, a], h)


def test_error_layer_called_on_a_list():
    x, h, c = Input(shape=(4, 3)), Input(shape=(2,)), Input(shape=(2,))
    with pytest.raises(ValueError, match=r"Layer 'lstm' \(LSTM\) takes one input tensor; it was called on a "
                                         r"list of 3\. Pass recurrent states as initial_state"):
        Model([x, h, c], LSTM(2)([x, h, c]))


def test_sequential_with_a_functional_model_inside(rng):
    inner_in = Input(shape=(4, 3))
    inner = Model(inner_in, GRU(3, return_sequences=True, **F64)(inner_in), name="inner")
    seq = Sequential([inner, LSTM(2, **F64), Dense(1, **F64)])
    assert seq.built and seq.output_shape == (None, 1)
    randomize(seq, rng)
    x = rng.normal(size=(B, 4, 3))
    check_model_gradients(seq, x, upstream(seq, x, rng), check_inputs=(0,))
    assert " inner (Functional)          (None, 4, 3)              72        " in summary_text(seq)


def test_error_duplicate_layer_names():
    a = Input(shape=(3,))
    with pytest.raises(ValueError, match='The name "d" is used 2 times in the model'):
        Model(a, Dense(1, name="d")(Dense(2, name="d")(a)))


def test_error_wrong_input_arrays():
    model = seq2seq(units=4)
    x_enc, x_dec = np.zeros((2, 3, 10)), np.zeros((2, 4, 12))
    with pytest.raises(ValueError, match=r"expects 2 input arrays \[input_1 \(None, None, 10\), input_2 "
                                         r"\(None, None, 12\)\], as a list; received one array of shape"):
        model(x_enc)
    with pytest.raises(ValueError, match=r"input 1 \('input_2'\) expects arrays of shape \(None, None, 12\); "
                                         r"received shape \(2, 4, 11\)"):
        model([x_enc, np.zeros((2, 4, 11))])
    with pytest.raises(ValueError, match="same number of samples"):
        model([x_enc, np.zeros((3, 4, 12))])
    model.compile(loss="categorical_crossentropy")
    y = np.zeros((2, 4, 12))
    with pytest.raises(ValueError, match=r"fit: the model has 2 inputs \(input_1 \(None, None, 10\), "
                                         r"input_2 \(None, None, 12\)\), so x must be a list of 2 arrays; "
                                         r"received a list of 3"):
        model.fit([x_enc, x_dec, x_dec], y, verbose=0)
    with pytest.raises(ValueError, match=r"fit: x\[1\] \(input_2\) must have shape \(None, None, 12\)"):
        model.fit([x_enc, np.zeros((2, 4))], y, verbose=0)
    with pytest.raises(ValueError, match="received x with 2 and y with 5"):
        model.fit([x_enc, x_dec], np.zeros((5, 4, 12)), verbose=0)
    with pytest.raises(ValueError, match=r"inputs are \['input_1', 'input_2'\]; received a dict with keys \['a'\]"):
        model.predict({"a": x_enc})


def test_error_wrong_targets_and_losses_for_two_outputs():
    inp = Input(shape=(3,))
    model = Model(inp, [Dense(1, name="a")(inp), Dense(1, name="b")(inp)])
    with pytest.raises(ValueError, match=r"2 outputs \['a', 'b'\], so loss needs 2 values"):
        model.compile(loss=["mse", "mse", "mse"])
    with pytest.raises(ValueError, match=r"keys \['c'\] that are not output names"):
        model.compile(loss={"c": "mse"})
    model.compile(loss="mse")
    with pytest.raises(ValueError, match=r"y must be a list of 2 arrays; received one array"):
        model.fit(np.zeros((4, 3)), np.zeros((4, 1)), verbose=0)
    with pytest.raises(ValueError, match="class_weight is supported for a model with one output"):
        model.fit(np.zeros((4, 3)), [np.zeros((4, 1))] * 2, class_weight={0: 1.0}, verbose=0)
    with pytest.raises(ValueError, match="backward expects a list of 2 gradients"):
        out, cache = model.forward(np.zeros((4, 3)))
        model.backward(out[0], cache)


@pytest.mark.parametrize("inner_kind", ["sequential", "functional"])
def test_nested_model_propagates_its_output_mask(inner_kind, rng):
    """Embedding(mask_zero) inside a nested model still masks the layers after it, as in Keras."""
    emb, rnn1, rnn2 = Embedding(20, 4, mask_zero=True, **F64), GRU(5, return_sequences=True, **F64), LSTM(3, **F64)
    if inner_kind == "sequential":
        inner = Sequential([Input(shape=(7,), dtype="int32"), emb, rnn1])
    else:
        ii = Input(shape=(7,), dtype="int32")
        inner = Model(ii, rnn1(emb(ii)))
    outer_in = Input(shape=(7,), dtype="int32")
    nested = Model(outer_in, rnn2(inner(outer_in)))
    flat = Sequential([Input(shape=(7,), dtype="int32"), emb, rnn1, rnn2])  # the same layer objects
    randomize(flat, rng)  # non-zero biases: padding steps change the state unless masked
    x = rng.integers(1, 20, (4, 7))
    x[0, :3] = 0
    x[1, 5:] = 0
    x[2, :] = 0
    want = flat(x)
    np.testing.assert_allclose(nested(x), want, rtol=0, atol=1e-12)
    np.testing.assert_allclose(nested.predict(x, verbose=0), want, rtol=0, atol=1e-12)
    unmasked = rnn2(inner(x))  # what the outer LSTM gives when it does not get the mask
    assert np.abs(unmasked[[0, 1, 2]] - want[[0, 1, 2]]).max(axis=1).min() > 1e-3
    np.testing.assert_array_equal(want[2], np.zeros(3))  # all padding: the initial state
    out, cache = nested.forward(x)
    g = rng.normal(size=out.shape)
    nested.backward(g, cache)
    got = [w.copy() for w in nested.grads]
    flat.forward(x)
    _, fcache = flat.forward(x)
    flat.backward(g, fcache)
    for a, b in zip(got, flat.grads):
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)


def test_training_step_skips_input_gradients_of_recurrent_layers_on_inputs(monkeypatch):
    """In a functional model's training step, a recurrent layer called on a model input
    does not form dL/d(inputs); the weights trained equal a hand-run full backward's."""
    import rnnkit
    from input_grad_checks import check_training_step_skips_input_gradient
    from rnnkit.keras import layers as KL
    from rnnkit.keras import models as KM

    def build():
        rnnkit.set_seed(5)
        inp = KL.Input((6, 3))
        m = KM.Model(inp, KL.Dense(1)(KL.GRU(4)(inp)))
        m.compile(optimizer="sgd", loss="mse")
        return m

    check_training_step_skips_input_gradient(build, monkeypatch, seed=1)
