"""The messages (and Keras' empty results) behind the counts of tests/bad_inputs.py."""
from __future__ import annotations

import io
import json
import os
import warnings
import zipfile

import numpy as np
import pytest

from rnnkit import layers as L
from rnnkit import optimizers
from rnnkit.layers import Input
from rnnkit.models import Model, Sequential
from rnnkit.saving import load_model, load_weights


def x_(*shape):
    return np.random.default_rng(0).standard_normal(shape).astype("float32")


def compiled(**kw):
    model = Sequential([L.Input(shape=(4, 3)), L.LSTM(2), L.Dense(1)])
    model.compile(optimizer="sgd", loss="mse", **kw)
    return model


# ------------------------------------------------------------------ empty batch / zero steps
@pytest.mark.parametrize("make,kw,shapes", [
    (L.SimpleRNN, {}, [(0, 2)]),
    (L.LSTM, {"return_sequences": True}, [(0, 4, 2)]),
    (L.GRU, {"return_state": True}, [(0, 2), (0, 2)]),
    (L.LSTM, {"return_state": True, "return_sequences": True}, [(0, 4, 2), (0, 2), (0, 2)]),
    (lambda u, **k: L.Bidirectional(L.GRU(u, **k)), {}, [(0, 4)]),
    (lambda u, **k: L.Bidirectional(L.LSTM(u, **k), merge_mode=None), {"return_sequences": True},
     [(0, 4, 2), (0, 4, 2)]),
])
def test_empty_batch_returns_empty_result_with_keras_shape(make, kw, shapes):
    out = make(2, **kw)(x_(0, 4, 3))
    outs = out if isinstance(out, list) else [out]
    assert [o.shape for o in outs] == shapes
    assert all(o.dtype == np.float32 for o in outs)


def test_empty_batch_with_mask_and_initial_state():
    out = L.LSTM(2)(x_(0, 4, 3), mask=np.ones((0, 4), bool),
                    initial_state=[np.zeros((0, 2)), np.zeros((0, 2))])
    assert out.shape == (0, 2)


def test_empty_batch_through_models():
    model = compiled()
    assert model(x_(0, 4, 3)).shape == (0, 1)
    inp = Input(shape=(4, 3))
    fmodel = Model(inp, L.Dense(3)(L.GRU(2)(inp)))
    assert fmodel(x_(0, 4, 3)).shape == (0, 3)


def test_empty_batch_forward_is_a_clear_error():
    layer = L.LSTM(2)
    layer(x_(1, 4, 3))
    with pytest.raises(ValueError, match=r"LSTM 'lstm\w*'.forward/call needs at least one sample; "
                                         r"received input of shape \(0, 4, 3\)"):
        layer.forward(x_(0, 4, 3))


@pytest.mark.parametrize("make", [L.SimpleRNN, L.LSTM, L.GRU, lambda u: L.Bidirectional(L.LSTM(u))])
def test_zero_timesteps_is_a_clear_error(make):
    with pytest.raises(ValueError, match=r"needs at least one timestep; received input of shape "
                                         r"\(2, 0, 3\) \(timesteps=0\)"):
        make(2)(x_(2, 0, 3))


@pytest.mark.parametrize("method", ["fit", "evaluate", "train_on_batch", "test_on_batch"])
def test_empty_data_to_training_methods(method):
    model = compiled()
    kwargs = {"verbose": 0} if method in ("fit", "evaluate") else {}
    with pytest.raises(ValueError, match=rf"{method}: x has no samples; received x of shape \(0, 4, 3\)"):
        getattr(model, method)(x_(0, 4, 3), x_(0, 1), **kwargs)


# ------------------------------------------------------------------------ types and options
def test_string_labels_and_weights():
    with pytest.raises(TypeError, match=r"fit: y must be a numeric array; received dtype <U3 \(encode "
                                        r"string labels"):
        compiled().fit(x_(6, 4, 3), np.array(["cat"] * 6), verbose=0)
    with pytest.raises(TypeError, match="fit: sample_weight must be a numeric array"):
        compiled().fit(x_(6, 4, 3), x_(6, 1), sample_weight=["a"] * 6, verbose=0)


@pytest.mark.parametrize("method", ["fit", "evaluate", "predict"])
def test_verbose_must_be_auto_0_1_2(method):
    args = (x_(6, 4, 3),) if method == "predict" else (x_(6, 4, 3), x_(6, 1))
    with pytest.raises(ValueError, match=rf"{method}: verbose must be 'auto', 0, 1 or 2; received 'loud'"):
        getattr(compiled(), method)(*args, verbose="loud")


def test_set_weights_strings_and_objects():
    layer = L.Dense(2)
    layer(x_(1, 3))
    with pytest.raises(TypeError, match=r"weight 'dense\w*/kernel' expects a numeric array; received dtype <U1"):
        layer.set_weights([np.full((3, 2), "a"), np.zeros(2)])
    with pytest.raises(TypeError, match="received dtype object"):
        layer.set_weights([np.array([[None] * 2] * 3), np.zeros(2)])


def test_string_mask_and_ragged_input():
    with pytest.raises(TypeError, match=r"expects a boolean mask of shape \(batch, timesteps\); received dtype <U1"):
        L.GRU(2)(x_(2, 4, 3), mask=np.full((2, 4), "x"))
    with pytest.raises(ValueError, match="rectangular numeric array; received ragged"):
        L.GRU(2)([[[1.0]], [[1.0], [2.0]]])


def test_fit_arguments():
    m = compiled()
    with pytest.raises(ValueError, match="initial_epoch must be a non-negative integer; received -1"):
        m.fit(x_(6, 4, 3), x_(6, 1), initial_epoch=-1, verbose=0)
    with pytest.raises(ValueError, match="shuffle must be True or False; received 'x'"):
        m.fit(x_(6, 4, 3), x_(6, 1), shuffle="x", verbose=0)
    with pytest.raises(TypeError, match="callbacks must be a list of Callback instances; received int"):
        m.fit(x_(6, 4, 3), x_(6, 1), callbacks=3, verbose=0)
    with pytest.raises(TypeError, match="class_weight must be a dict"):
        m.fit(x_(6, 4, 3), x_(6, 1), class_weight=[1, 2], verbose=0)


def test_compile_checks_losses_and_metric_names():
    with pytest.raises(ValueError, match=r"compile: the model has one output, so loss takes one value; "
                                         r"received a list of 2"):
        compiled().compile(optimizer="sgd", loss=["mse", "mae"])
    model = compiled()
    model.compile(optimizer="sgd", loss=["mse"])  # one loss in a list is fine
    assert model.loss == "mse"
    model.compile(optimizer="sgd", loss="mse", metrics=["nope"])  # as Keras: found at the first batch
    with pytest.raises(ValueError, match="Unknown metric 'nope'"):
        model.fit(x_(6, 4, 3), x_(6, 1), verbose=0)


# ------------------------------------------------------------------------------ optimizers
def test_optimizer_iterations_and_learning_rate():
    opt = optimizers.SGD()
    with pytest.raises(ValueError, match="`iterations` must be a non-negative integer; received -5"):
        opt.iterations = -5
    opt.iterations = 7
    assert opt.iterations == 7
    with pytest.raises(ValueError, match="`learning_rate` must be a finite number >= 0.*received learning_rate=nan"):
        optimizers.SGD(learning_rate=float("nan"))
    with pytest.raises(ValueError, match="received learning_rate='0.1'"):
        optimizers.SGD(learning_rate="0.1")
    with pytest.raises(ValueError, match="Argument\\(s\\) not recognized by SGD: {'iterations': -5}"):
        optimizers.SGD(iterations=-5)


@pytest.mark.parametrize("key,value,msg", [
    ("iterations", np.array(-5), r"state\['iterations'\]` must be a non-negative integer"),
    ("iterations", np.array(2.5), r"state\['iterations'\]` must be a non-negative integer"),
    ("learning_rate", np.array(np.nan), "learning_rate=nan"),
    ("learning_rate", np.array("fast"), "learning_rate=array\\('fast'"),
    ("momentum/0", np.array([np.nan, 0.0]), r"state\['momentum/0'\] must be a finite floating-point array"),
])
def test_optimizer_set_state_refuses_bad_values(key, value, msg):
    opt = optimizers.SGD(momentum=0.9)
    p = np.zeros(2)
    opt.apply([np.ones(2)], [p])
    state = opt.get_state()
    before = {k: np.copy(v) for k, v in state.items()}
    state[key] = value
    with pytest.raises(ValueError, match=msg):
        opt.set_state(state)
    for k, v in opt.get_state().items():  # nothing changed
        np.testing.assert_array_equal(v, before[k])


# ------------------------------------------------------------------------------ numerical guards
def test_nan_in_inputs_names_argument_and_sample():
    x = x_(6, 4, 3)
    x[3, 2, 1] = np.nan
    with pytest.raises(ValueError, match=r"fit: x contains nan at sample 3 \(index \(3, 2, 1\)\); .*check_finite=False"):
        compiled().fit(x, x_(6, 1), verbose=0)
    y = x_(6, 1)
    y[4, 0] = np.inf
    with pytest.raises(ValueError, match=r"evaluate: y contains inf at sample 4"):
        compiled().evaluate(x_(6, 4, 3), y, verbose=0)
    with pytest.raises(ValueError, match=r"predict: x contains nan at sample 3"):
        compiled().predict(x, verbose=0)
    with pytest.raises(ValueError, match=r"train_on_batch: sample_weight contains nan at sample 0"):
        compiled().train_on_batch(x_(6, 4, 3), x_(6, 1), sample_weight=np.full(6, np.nan))


def test_nan_in_list_inputs_names_the_input():
    a, b = Input(shape=(3,)), Input(shape=(2,))
    model = Model([a, b], L.Dense(1)(L.Concatenate()([a, b])))
    model.compile(optimizer="sgd", loss="mse")
    xb = x_(4, 2)
    xb[2, 1] = -np.inf
    with pytest.raises(ValueError, match=r"fit: x\[1\] contains -inf at sample 2"):
        model.fit([x_(4, 3), xb], x_(4, 1), verbose=0)


def test_check_finite_opt_out():
    x = x_(6, 4, 3)
    x[0, 0, 0] = np.nan
    model = compiled(check_finite=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        model.fit(x, x_(6, 1), verbose=0)
    assert np.isnan(model.predict(x, verbose=0)).any()
    plain = Sequential([L.Input(shape=(4, 3)), L.Dense(1)])
    plain.check_finite = False  # predict without compile
    assert np.isnan(plain.predict(x, verbose=0)[0, 0]).all()
    with pytest.raises(TypeError, match="check_finite must be True or False; received 'no'"):
        compiled(check_finite="no")


def test_nan_loss_warns_with_batch_index():
    model = compiled()
    x, y = x_(64, 4, 3), x_(64, 1)
    model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    model.layers[-1].kernel[0, 0] = np.nan
    with pytest.warns(RuntimeWarning, match=r"fit: the loss became nan at epoch 1, batch 0"):
        model.fit(x, y, batch_size=16, epochs=2, verbose=0)
    with pytest.warns(RuntimeWarning, match=r"train_on_batch: the loss became nan at batch 0"):
        model.train_on_batch(x[:4], y[:4])


def test_terminate_on_nan_stops():
    from rnnkit.callbacks import TerminateOnNaN

    model = compiled()
    model.layers[0].kernel[...] = np.nan
    with pytest.warns(RuntimeWarning):
        hist = model.fit(x_(64, 4, 3), x_(64, 1), batch_size=16, epochs=3, verbose=0,
                         callbacks=[TerminateOnNaN()])
    assert hist.epoch == [0] and model.optimizer.iterations == 1


# ---------------------------------------------------------------------------------- saving
@pytest.fixture
def saved(tmp_path):
    model = compiled()
    model.train_on_batch(x_(2, 4, 3), x_(2, 1))
    path = tmp_path / "m.keras"
    model.save(path)
    return path


def rewrite(path, member, data):
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members[member] = data
    with zipfile.ZipFile(path, "w") as zf:
        for k, v in members.items():
            zf.writestr(k, v)


def test_save_paths(tmp_path):
    model = compiled()
    with pytest.raises(FileNotFoundError, match=r"save: cannot write .*m.keras: the directory .*nope does not exist"):
        model.save(tmp_path / "nope" / "m.keras")
    with pytest.raises(ValueError, match=r"save: .* is a directory; expected a file path"):
        model.save(tmp_path)
    with pytest.raises(TypeError, match="save: filepath must be a str or os.PathLike; received NoneType"):
        model.save(None)
    with pytest.raises(TypeError, match="save: metadata must hold only JSON values"):
        model.save(tmp_path / "m.keras", metadata={"a": object()})
    model.metadata = [1]
    with pytest.raises(TypeError, match=r"save \(model.metadata\): metadata must be a dict of JSON values; "
                                        "received list"):
        model.save(tmp_path / "m.keras")
    assert os.listdir(tmp_path) == []  # nothing half-written


def test_load_paths(tmp_path):
    with pytest.raises(ValueError, match=r"load_model: .* is a directory .*; expected a .keras archive"):
        load_model(tmp_path)
    with pytest.raises(ValueError, match=r"load_weights: .* is a directory"):
        load_weights(compiled(), tmp_path)
    with pytest.raises(TypeError, match="load_model: filepath must be a str or os.PathLike; received NoneType"):
        load_model(None)


def test_flipped_bytes_name_the_member(saved):
    data = bytearray(saved.read_bytes())
    with zipfile.ZipFile(saved) as zf:
        info = zf.getinfo("model.weights.h5")
    mid = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
    data[mid:mid + 8] = bytes(b ^ 0xFF for b in data[mid:mid + 8])
    saved.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"m.keras: archive member 'model.weights.h5' (is corrupt|cannot be "
                                         r"decompressed)"):
        load_model(saved)


@pytest.mark.parametrize("edit,msg", [
    (lambda c: c["compile_config"].pop("loss"), r"compile_config.loss must be present"),
    (lambda c: c["compile_config"].update(loss=["mse", "mae"]),
     r"compile_config cannot be applied \(compile: the model has one output, so loss takes one value"),
    (lambda c: c.update(config=[1]), r"layer entry 'Sequential' has no 'config' dict"),
    (lambda c: c["compile_config"].update(loss_weights="x"), r"compile_config.loss_weights must be a finite"),
    (lambda c: c["compile_config"]["optimizer"]["config"].update(learning_rate=float("nan")),
     r"compile_config cannot be applied \(Argument `learning_rate` must be a finite number.*pass compile=False"),
])
def test_bad_configs(saved, edit, msg):
    with zipfile.ZipFile(saved) as zf:
        config = json.loads(zf.read("config.json"))
    edit(config)
    rewrite(saved, "config.json", json.dumps(config).encode())
    with pytest.raises(ValueError, match=msg):
        load_model(saved)
    if "compile_config" in msg:
        assert not load_model(saved, compile=False)._compiled  # the way out the message gives


def test_unknown_metric_in_a_file_warns_and_is_dropped(saved):
    with zipfile.ZipFile(saved) as zf:
        config = json.loads(zf.read("config.json"))
    config["compile_config"]["metrics"] = ["nope", "mae"]
    rewrite(saved, "config.json", json.dumps(config).encode())
    with pytest.warns(UserWarning, match=r"compile_config.metrics names metric 'nope', which rnnkit does not"):
        model = load_model(saved)
    hist = model.fit(x_(4, 4, 3), x_(4, 1), verbose=0)
    assert sorted(hist.history) == ["loss", "mae"]


def test_deeply_nested_json(saved):
    rewrite(saved, "config.json", b"[" * 100000 + b"]" * 100000)
    with pytest.raises(ValueError, match="config.json nests deeper than 100 levels"):
        load_model(saved)


@pytest.mark.parametrize("edit,msg", [
    (lambda m: [m], r"metadata.json must be a JSON object; received list"),
    (lambda m: {**m, "rnnkit": {"metadata": [1]}}, r"metadata.json 'rnnkit.metadata' must be a JSON object"),
    (lambda m: {**m, "keras_version": 3}, r"metadata.json 'keras_version' must be a string; received int 3"),
])
def test_bad_metadata(saved, edit, msg):
    with zipfile.ZipFile(saved) as zf:
        meta = json.loads(zf.read("metadata.json"))
    rewrite(saved, "metadata.json", json.dumps(edit(meta)).encode())
    with pytest.raises(ValueError, match=msg):
        load_model(saved)


def npz(arrays):
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def edit_h5(path, edit):
    import h5py

    with zipfile.ZipFile(path) as zf:
        buf = io.BytesIO(zf.read("model.weights.h5"))
    with h5py.File(buf, "r+") as f:
        edit(f)
    rewrite(path, "model.weights.h5", buf.getvalue())


def test_renamed_weights(saved, tmp_path):
    edit_h5(saved, lambda f: f.move("layers/dense/vars/0", "layers/dense/vars/k"))
    with pytest.raises(ValueError, match=r"m.keras: group 'layers/dense/vars' \('dense\w*'\) must hold arrays "
                                         r"named 0 .. 1 \(the layer's 2 weights\); the file has \['1', 'k'\]"):
        load_model(saved)
    weights = compiled().get_weights()
    (tmp_path / "w.npz").write_bytes(npz({f"x{i:04d}": w for i, w in enumerate(weights)}))
    with pytest.raises(ValueError, match="must hold arrays named w0000"):
        load_weights(compiled(), tmp_path / "w.npz")


@pytest.mark.parametrize("index,value,msg", [
    (0, np.int64(-5), r"invalid optimizer state: Argument `state\['iterations'\]` must be a non-negative integer"),
    (1, np.float32(np.nan), "invalid optimizer state: Argument `learning_rate` must be a finite number"),
    (2, np.zeros(7, "float32"), r"optimizer variable 2 \(momentum of trainable weight 0\) has shape \(7,\); "
                                r"expected \(3, 8\)"),
])
def test_bad_optimizer_state(tmp_path, index, value, msg):
    model = compiled()
    model.compile(optimizer=optimizers.SGD(momentum=0.9), loss="mse")
    model.train_on_batch(x_(2, 4, 3), x_(2, 1))
    path = tmp_path / "m.keras"
    model.save(path)

    def edit(f):
        del f[f"optimizer/vars/{index}"]
        f[f"optimizer/vars/{index}"] = value
    edit_h5(path, edit)
    with pytest.raises(ValueError, match=msg):
        load_model(path)
    load_model(path, compile=False)


def test_non_finite_weights_load_with_a_warning(saved):
    def edit(f):
        f["layers/lstm/cell/vars/0"][...] = np.nan
    edit_h5(saved, edit)
    with pytest.warns(RuntimeWarning, match=r"weights \['lstm\w*/kernel'.* hold NaN or inf"):
        load_model(saved)


def test_bidirectional_computes_in_the_wrapped_layers_dtype():
    """Found by the property tests: layer(x) cast float64 input to float32 in the wrapper."""
    layer = L.Bidirectional(L.GRU(2, dtype="float64"))
    x = np.random.default_rng(0).normal(size=(2, 3, 4))
    out = layer(x)
    assert layer.dtype == np.float64 and out.dtype == np.float64
    np.testing.assert_array_equal(out, layer.forward(x)[0])
