"""The save/load cases of tests/bad_inputs.py: bad arguments, and damaged or edited files.

Files are Keras 3 ``.keras`` archives (rnnkit's native format: ``config.json``,
``metadata.json``, ``model.weights.h5``) and, for the loader that still reads them,
archives in rnnkit's former format (``rnnkit.keras/1``: ``model.weights.npz`` and
``optimizer.npz``), written here by :func:`v1_members`.
"""
from __future__ import annotations

import io
import json
import os
import tempfile
import warnings
import zipfile
from typing import Callable

import h5py
import numpy as np

from rnnkit import layers as L
from rnnkit import optimizers
from rnnkit.models import Sequential
from rnnkit.saving import load_model, load_weights

TMP = tempfile.mkdtemp(prefix="rnnkit-bad-inputs-")
_VALID: dict[str, bytes] = {}
V1 = "rnnkit.keras/1"


def _x(*shape):
    return np.random.default_rng(0).standard_normal(shape).astype("float32")


def model():
    """A trained LSTM -> Dense model (Adam, mse, mae)."""
    m = Sequential([L.Input(shape=(4, 3)), L.LSTM(2), L.Dense(1)])
    m.compile(optimizer=optimizers.Adam(), loss="mse", metrics=["mae"])
    m.train_on_batch(_x(2, 4, 3), _x(2, 1))
    return m


def npz(arrays: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def v1_members(m) -> dict[str, bytes]:
    """``m`` as rnnkit wrote it before adopting Keras 3's format."""
    config = {"format": V1, "class_name": type(m).__name__, "config": m.get_config(),
              "compile_config": getattr(m, "_compile_config", None)}
    meta = {"format": V1, "rnnkit_version": "0.1.0", "date_saved": "2026-01-01T00:00:00+00:00",
            "user": {"task": "old"}}
    out = {"config.json": json.dumps(config).encode(), "metadata.json": json.dumps(meta).encode(),
           "model.weights.npz": npz({f"w{i:04d}": w for i, w in enumerate(m.weights)})}
    if getattr(m, "_compiled", False):
        out["optimizer.npz"] = npz({k.replace("/", "__"): v for k, v in m.optimizer.get_state().items()})
    return out


def zip_bytes(members: dict[str, bytes], compress: bool = True) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED) as zf:
        for k, v in members.items():
            zf.writestr(k, v)
    return buf.getvalue()


def _valid_bytes(kind: str = "keras") -> bytes:
    if kind not in _VALID:
        path = os.path.join(TMP, "valid.keras")
        m = model()
        m.save(path)
        with open(path, "rb") as fh:
            _VALID["keras"] = fh.read()
        _VALID["v1"] = zip_bytes(v1_members(m))
        _VALID["stored"] = zip_bytes(_members("keras"), compress=False)
    return _VALID[kind]


def _members(kind: str = "keras") -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(_valid_bytes(kind))) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _write(name: str, data: bytes) -> str:
    path = os.path.join(TMP, name)
    with open(path, "wb") as fh:
        fh.write(data)
    return path


def _archive(members: dict[str, bytes], name="case.keras") -> str:
    return _write(name, zip_bytes(members))


def _with_json(member: str, edit: Callable, kind: str = "keras") -> str:
    members = _members(kind)
    obj = edit(json.loads(members[member]))
    members[member] = obj if isinstance(obj, bytes) else json.dumps(obj).encode()
    return _archive(members)


def edit_h5(data: bytes, edit: Callable) -> bytes:
    """``data`` (an HDF5 file) after ``edit(h5py.File)``."""
    buf = io.BytesIO(data)
    with h5py.File(buf, "r+") as f:
        edit(f)
    return buf.getvalue()


def _with_h5(edit: Callable) -> str:
    members = _members()
    members["model.weights.h5"] = edit_h5(members["model.weights.h5"], edit)
    return _archive(members)


def _replace(key: str, value=None, **create) -> Callable:
    def edit(f):
        del f[key]
        if create:
            f.create_dataset(key, **create)
        elif value is not None:
            f[key] = value
    return edit


def _rename(old: str, new: str) -> Callable:
    def edit(f):
        f.move(old, new)
    return edit


def _with_npz(member: str, edit: Callable) -> str:
    members = _members("v1")
    with np.load(io.BytesIO(members[member])) as z:
        arrays = {k: z[k] for k in z.files}
    members[member] = npz(edit(arrays))
    return _archive(members)


def _setitem(d, keys, value):
    cur = d
    for k in keys[:-1]:
        cur = cur[k]
    cur[keys[-1]] = value
    return d


def _delitem(d, keys):
    cur = d
    for k in keys[:-1]:
        cur = cur[k]
    del cur[keys[-1]]
    return d


def _flip(offset_frac: float) -> str:
    data = bytearray(_valid_bytes())
    # Flip bytes inside the compressed payload of the first member (past its local header).
    i = 60 + int((len(data) // 2 - 60) * offset_frac)
    for j in range(i, i + 8):
        data[j] ^= 0xFF
    return _write("flipped.keras", bytes(data))


def _flip_member(member: str, kind: str = "keras", at: float = 0.5) -> bytes:
    data = bytearray(_valid_bytes(kind))
    with zipfile.ZipFile(io.BytesIO(bytes(data))) as zf:
        info = zf.getinfo(member)
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    mid = start + int(info.compress_size * at)
    for j in range(mid, mid + 8):
        data[j] ^= 0xFF
    return bytes(data)


def _flip_optimizer_data() -> bytes:
    """Flip bytes of an optimizer slot's data inside an uncompressed (stored) archive: only
    the zip's CRC-32 can tell."""
    h5 = _members("stored")["model.weights.h5"]
    with h5py.File(io.BytesIO(h5), "r") as f:
        offset = f["optimizer/vars/2"].id.get_offset()
    data = bytearray(_valid_bytes("stored"))
    start = bytes(data).index(h5[:64])
    for j in range(start + offset, start + offset + 8):
        data[j] ^= 0xFF
    return bytes(data)


def _npz_claiming(shape) -> bytes:
    """An .npz whose one array's header claims ``shape`` (float64) over 16 bytes of data."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "<f8", "fortran_order": False, "shape": shape})
    buf.write(b"\0" * 16)
    return zip_bytes({"w0000.npy": buf.getvalue()}, compress=False)


def _nested(depth: int) -> bytes:
    return ("[" * depth + "]" * depth).encode()


def _recorded(fn) -> list:
    """The warnings ``fn()`` emits (a warning is the documented answer for some cases)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn()
    return caught


def _warned(*words):
    return lambda caught: any(all(w in str(m.message) for w in words) for m in caught)


def _layer_edit(c, i, key, value):
    c["config"]["layers"][i][key] = value
    return c


def _layer_cfg(c, i, key, value):
    c["config"]["layers"][i]["config"][key] = value
    return c


def _opt_cfg(c, key, value):
    c["compile_config"]["optimizer"]["config"][key] = value
    return c


def _meta_attr(value):
    m = model()
    m.metadata = value
    return m.save(os.path.join(TMP, "m4.keras"))


def _weights_file(edit: Callable | None = None) -> str:
    path = os.path.join(TMP, "w.weights.h5")
    model().save_weights(path)
    if edit is not None:
        with h5py.File(path, "r+") as f:
            edit(f)
    return path


def _loads_like_original(m) -> bool:
    x = _x(3, 4, 3)
    return isinstance(m, Sequential) and np.array_equal(m.predict(x, verbose=0), _saved_predictions(x))


def _saved_predictions(x):
    return load_model(_write("ref.keras", _valid_bytes())).predict(x, verbose=0)


def add_cases(add: Callable) -> None:
    """Call ``add(name, fn, check=None)`` for every save/load case."""
    load = load_model
    # ------------------------------------------------------------- arguments and paths
    missing_dir = os.path.join(TMP, "no", "such", "dir", "m.keras")
    add("save into missing directory", lambda: model().save(missing_dir))
    add("save_weights into missing directory", lambda: model().save_weights(missing_dir))
    add("save onto a directory", lambda: model().save(TMP))
    add("save path None", lambda: model().save(None))
    add("save path int list", lambda: model().save([1, 2]))
    add("save overwrite=False existing", lambda: model().save(_write("exists.keras", b"x"), overwrite=False))
    add("save overwrite='no'", lambda: model().save(os.path.join(TMP, "o.keras"), overwrite="no"))
    add("save unbuilt", lambda: Sequential([L.LSTM(2)]).save(os.path.join(TMP, "u.keras")))
    add("save metadata not JSON", lambda: model().save(os.path.join(TMP, "m1.keras"), metadata={"a": object()}))
    add("save metadata NaN", lambda: model().save(os.path.join(TMP, "m5.keras"), metadata={"a": float("nan")}))
    add("save metadata not dict", lambda: model().save(os.path.join(TMP, "m2.keras"), metadata=[1, 2]))
    add("save model.metadata not dict", lambda: _meta_attr([1, 2]))
    add("save unknown kwarg", lambda: model().save(os.path.join(TMP, "m3.keras"), zip=False))
    add("save save_format unknown", lambda: model().save(os.path.join(TMP, "m6.keras"), save_format="tf2"))
    add("load missing file", lambda: load(os.path.join(TMP, "nothing.keras")))
    add("load a directory", lambda: load(TMP))
    add("load path None", lambda: load(None))
    add("load path int", lambda: load(3))
    # ------------------------------------------------------------- not an archive / damaged archive
    add("load empty file", lambda: load(_write("empty.keras", b"")))
    add("load random bytes", lambda: load(_write("random.keras", np.random.default_rng(0).bytes(500))))
    add("load text file", lambda: load(_write("text.keras", b"hello world\n" * 20)))
    add("load npz as model", lambda: load(_write("w.keras", npz({"a": np.zeros(2)}))))
    for frac in (0.1, 0.5, 0.9, 0.98):
        add(f"load truncated at {frac}", lambda f=frac: load(_write(
            "trunc.keras", _valid_bytes()[:int(len(_valid_bytes()) * f)])))
    for frac in (0.0, 0.05, 0.2, 0.4, 0.6, 0.8, 1.0, 1.3, 1.6, 1.9):
        add(f"load flipped bytes at {frac}", lambda f=frac: load(_flip(f)))
    for at in (0.1, 0.5, 0.9):
        add(f"load flipped bytes (model.weights.h5 at {at})",
            lambda a=at: load(_write("fw.keras", _flip_member("model.weights.h5", at=a))))
    add("load flipped bytes (optimizer slot, stored archive)", lambda: load(_write("fo.keras", _flip_optimizer_data())))
    add("load missing config.json", lambda: load(_archive({k: v for k, v in _members().items() if k != "config.json"})))
    add("load missing model.weights.h5", lambda: load(_archive({k: v for k, v in _members().items() if k != "model.weights.h5"})))
    add("load model.weights.h5 not HDF5", lambda: load(_archive({**_members(), "model.weights.h5": b"garbage" * 20})))
    add("load model.weights.h5 truncated", lambda: load(_archive(
        {**_members(), "model.weights.h5": _members()["model.weights.h5"][:3000]})))
    add("load model.weights.h5 empty HDF5", lambda: load(_with_h5(lambda f: [f.__delitem__(k) for k in list(f)])))
    add("load extra member", lambda: load(_archive({**_members(), "extra.txt": b"hi"})), _loads_like_original)
    # ------------------------------------------------------------- config.json
    cfg = (lambda edit: load(_with_json("config.json", edit)))
    add("load config not JSON", lambda: cfg(lambda c: b"{not json"))
    add("load config not UTF-8", lambda: cfg(lambda c: b"\xff\xfe\x00"))
    add("load config is a list", lambda: cfg(lambda c: [c]))
    add("load config is a string", lambda: cfg(lambda c: "abc"))
    add("load config class_name not a model", lambda: cfg(lambda c: _setitem(c, ["class_name"], "Dense")))
    add("load config class_name missing", lambda: cfg(lambda c: _delitem(c, ["class_name"])))
    add("load config class_name list", lambda: cfg(lambda c: _setitem(c, ["class_name"], [1])))
    add("load config.config missing", lambda: cfg(lambda c: _delitem(c, ["config"])))
    add("load config.config list", lambda: cfg(lambda c: _setitem(c, ["config"], [1])))
    add("load layers not list", lambda: cfg(lambda c: _setitem(c, ["config", "layers"], 3)))
    add("load layer entry int", lambda: cfg(lambda c: _setitem(c, ["config", "layers"], [3])))
    add("load layer class unknown", lambda: cfg(lambda c: _layer_edit(c, 1, "class_name", "Evil")))
    add("load layer class_name dict", lambda: cfg(lambda c: _layer_edit(c, 1, "class_name", {})))
    add("load layer config list", lambda: cfg(lambda c: _layer_edit(c, 1, "config", [1])))
    add("load layer units negative", lambda: cfg(lambda c: _layer_cfg(c, 1, "units", -2)))
    add("load layer units string", lambda: cfg(lambda c: _layer_cfg(c, 1, "units", "2")))
    add("load layer units changed", lambda: cfg(lambda c: _layer_cfg(c, 1, "units", 3)))
    add("load layer unknown kwarg", lambda: cfg(lambda c: _layer_cfg(c, 1, "evil", 1)))
    add("load layer activation unknown", lambda: cfg(lambda c: _layer_cfg(c, 1, "activation", "os.system")))
    add("load layer name int", lambda: cfg(lambda c: _layer_cfg(c, 1, "name", 5)))
    add("load batch shape string", lambda: cfg(lambda c: _layer_cfg(c, 0, "batch_shape", "abc")))
    add("load deeply nested config", lambda: cfg(lambda c: _nested(100000)))
    add("load deeply nested compile_config", lambda: cfg(
        lambda c: json.dumps(c).replace('"compile_config": {', '"compile_config": {"x": '
                                        + "[" * 50000 + "]" * 50000 + ", ").encode()))
    add("load compile_config.loss missing", lambda: cfg(lambda c: _delitem(c, ["compile_config", "loss"])))
    add("load compile_config.loss list", lambda: cfg(lambda c: _setitem(c, ["compile_config", "loss"], ["mse", "mae"])))
    add("load compile_config.loss int", lambda: cfg(lambda c: _setitem(c, ["compile_config", "loss"], 3)))
    add("load compile_config.loss unknown", lambda: cfg(lambda c: _setitem(c, ["compile_config", "loss"], "nope")))
    add("load compile_config.loss dict bad", lambda: cfg(lambda c: _setitem(c, ["compile_config", "loss"], {"x": 1})))
    add("load compile_config list", lambda: cfg(lambda c: _setitem(c, ["compile_config"], [1])))
    add("load compile_config.optimizer missing", lambda: cfg(lambda c: _delitem(c, ["compile_config", "optimizer"])))
    add("load compile_config.optimizer unknown", lambda: cfg(lambda c: _setitem(
        c, ["compile_config", "optimizer"], {"class_name": "Evil", "config": {}})))
    add("load compile_config.optimizer int", lambda: cfg(lambda c: _setitem(c, ["compile_config", "optimizer"], 3)))
    add("load optimizer lr NaN", lambda: cfg(lambda c: _opt_cfg(c, "learning_rate", float("nan"))))
    add("load optimizer lr string", lambda: cfg(lambda c: _opt_cfg(c, "learning_rate", "0.1")))
    add("load optimizer iterations kwarg", lambda: cfg(lambda c: _opt_cfg(c, "iterations", -5)))
    add("load optimizer beta_1 list", lambda: cfg(lambda c: _opt_cfg(c, "beta_1", [0.9])))
    add("load compile_config.metrics int", lambda: cfg(lambda c: _setitem(c, ["compile_config", "metrics"], 3)))
    add("load compile_config.metrics unknown (warns, compiled without it)", lambda: _recorded(
        lambda: cfg(lambda c: _setitem(c, ["compile_config", "metrics"], ["nope"])))
        , _warned("'nope'", "compiled without it"))
    add("load compile_config.loss_weights string", lambda: cfg(lambda c: _setitem(c, ["compile_config", "loss_weights"], "x")))
    add("load compile_config.loss_weights NaN", lambda: cfg(lambda c: _setitem(c, ["compile_config", "loss_weights"], float("nan"))))
    add("load compile_config.loss null (warns, uncompiled)", lambda: _recorded(
        lambda: cfg(lambda c: _setitem(c, ["compile_config", "loss"], None))), _warned("without a loss"))
    # ------------------------------------------------------------- metadata.json
    meta = (lambda edit: load(_with_json("metadata.json", edit)))
    add("load deeply nested metadata", lambda: meta(lambda c: _nested(100000)))
    add("load metadata not JSON", lambda: meta(lambda c: b"{"))
    add("load metadata is a list", lambda: meta(lambda c: [1]))
    add("load metadata keras_version int", lambda: meta(lambda c: _setitem(c, ["keras_version"], 3)))
    add("load metadata date_saved list", lambda: meta(lambda c: _setitem(c, ["date_saved"], [2026])))
    add("load metadata rnnkit is a list", lambda: meta(lambda c: _setitem(c, ["rnnkit"], [1, 2])))
    add("load metadata rnnkit.version int", lambda: meta(lambda c: _setitem(c, ["rnnkit", "version"], 3)))
    add("load metadata rnnkit.metadata is a list", lambda: meta(lambda c: _setitem(c, ["rnnkit", "metadata"], [1, 2])))
    add("load metadata rnnkit.metadata is a string", lambda: meta(lambda c: _setitem(c, ["rnnkit", "metadata"], "abc")))
    # ------------------------------------------------------------- model.weights.h5: weights
    h5 = (lambda edit: load(_with_h5(edit)))
    dense0, kernel = "layers/dense/vars/0", "layers/lstm/cell/vars/0"
    add("load weights renamed dataset", lambda: h5(_rename(dense0, "layers/dense/vars/x")))
    add("load weights renumbered dataset", lambda: h5(_rename("layers/dense/vars/1", "layers/dense/vars/2")))
    add("load weights renamed layer group", lambda: h5(_rename("layers/lstm", "layers/lstm_x")))
    add("load weights layer groups swapped", lambda: h5(lambda f: (f.move("layers/lstm", "layers/t"),
                                                                     f.move("layers/dense", "layers/lstm"),
                                                                     f.move("layers/t", "layers/dense"))))
    add("load weights one missing", lambda: h5(_replace("layers/dense/vars/1")))
    add("load weights one extra", lambda: h5(lambda f: f.create_dataset("layers/dense/vars/2", data=np.zeros(2))))
    add("load weights wrong shape", lambda: h5(_replace(dense0, np.zeros((1, 1), "float32"))))
    add("load weights transposed", lambda: h5(_replace(kernel, np.zeros((8, 3), "float32"))))
    add("load weights scalar", lambda: h5(_replace(dense0, np.float32(1))))
    add("load weights strings", lambda: h5(_replace(dense0, np.array([["a"], ["b"]], dtype="S1"))))
    add("load weights variable-length strings", lambda: h5(_replace(
        dense0, shape=(2, 1), dtype=h5py.string_dtype())))
    add("load weights complex", lambda: h5(_replace(dense0, np.zeros((2, 1), "complex64"))))
    add("load weights compound dtype", lambda: h5(_replace(dense0, np.zeros((2, 1), [("a", "f4"), ("b", "i4")]))))
    add("load weights ints", lambda: h5(_replace(dense0, np.ones((2, 1), "int64"))),
        lambda m: all(w.dtype == np.float32 for w in m.weights) and m.layers[-1].kernel.sum() == 2)
    add("load weights NaN (warns)", lambda: _recorded(lambda: h5(_replace(kernel, np.full((3, 8), np.nan, "float32")))),
        _warned("non-finite", "kernel"))
    add("load weights inf (warns)", lambda: _recorded(lambda: h5(_replace(dense0, np.full((2, 1), np.inf, "float32")))),
        _warned("non-finite"))
    add("load weights header claims 80 GB", lambda: h5(_replace(dense0, shape=(10**10,), dtype="f8")))
    add("load weights header claims 10^18 elements", lambda: h5(_replace(dense0, shape=(10**6,) * 3, dtype="f8")))
    add("load weights vars is a dataset", lambda: h5(_replace("layers/dense/vars", np.zeros(3))))
    add("load weights dataset is a group", lambda: h5(lambda f: (f.__delitem__(dense0), f.create_group(dense0))))
    # ------------------------------------------------------------- model.weights.h5: optimizer
    opt = (lambda i, value=None, **kw: h5(_replace(f"optimizer/vars/{i}", value, **kw)))
    add("load optimizer iterations=-5", lambda: opt(0, np.int64(-5)))
    add("load optimizer iterations=1.5", lambda: opt(0, np.float64(1.5)))
    add("load optimizer iterations string", lambda: opt(0, np.bytes_("x")))
    add("load optimizer iterations vector", lambda: opt(0, np.arange(3)))
    add("load optimizer lr NaN", lambda: opt(1, np.float32(np.nan)))
    add("load optimizer lr negative", lambda: opt(1, np.float32(-1)))
    add("load optimizer lr string", lambda: opt(1, np.bytes_("fast")))
    add("load optimizer lr vector", lambda: opt(1, np.ones(2, "float32")))
    add("load optimizer slot renamed", lambda: h5(_rename("optimizer/vars/2", "optimizer/vars/m")))
    add("load optimizer slot wrong shape", lambda: opt(2, np.zeros(7, "float32")))
    add("load optimizer slot strings", lambda: opt(2, np.full((3, 8), b"s")))
    add("load optimizer slot NaN", lambda: opt(3, np.full((3, 8), np.nan, "float32")))
    add("load optimizer slot ints", lambda: opt(3, np.zeros((3, 8), "int32")))
    add("load optimizer vars is a dataset", lambda: h5(_replace("optimizer/vars", np.zeros(3))))
    add("load optimizer variable count differs (warns, as Keras)", lambda: _recorded(
        lambda: h5(_replace("optimizer/vars/11"))), _warned("optimizer state", "starts fresh"))
    # ------------------------------------------------------------- rnnkit's former format (v1)
    v1 = (lambda edit: load(_with_json("config.json", edit, "v1")))
    add("load v1 archive", lambda: load(_write("v1.keras", _valid_bytes("v1"))),
        lambda m: _loads_like_original(m) and m.metadata == {"task": "old"} and m.optimizer.iterations == 1)
    add("load v1 config format wrong", lambda: v1(lambda c: _setitem(c, ["format"], "x/2")))
    add("load v1 config class_name unknown", lambda: v1(lambda c: _setitem(c, ["class_name"], "Evil")))
    add("load v1 compile_config.loss missing", lambda: v1(lambda c: _delitem(c, ["compile_config", "loss"])))
    add("load v1 metadata format wrong", lambda: load(_with_json("metadata.json", lambda c: _setitem(c, ["format"], 7), "v1")))
    add("load v1 metadata user is a list", lambda: load(_with_json("metadata.json", lambda c: _setitem(c, ["user"], [1]), "v1")))
    add("load v1 metadata version int", lambda: load(_with_json("metadata.json", lambda c: _setitem(c, ["rnnkit_version"], 3), "v1")))
    add("load v1 flipped bytes (weights)", lambda: load(_write("fv1.keras", _flip_member("model.weights.npz", "v1"))))
    add("load v1 weights renamed keys", lambda: load(_with_npz("model.weights.npz", lambda a: {k.replace("w", "x"): v for k, v in a.items()})))
    add("load v1 weights one missing", lambda: load(_with_npz("model.weights.npz", lambda a: dict(list(a.items())[1:]))))
    add("load v1 weights wrong shape", lambda: load(_with_npz("model.weights.npz", lambda a: {**a, "w0000": np.zeros((1, 1))})))
    add("load v1 weights strings", lambda: load(_with_npz("model.weights.npz", lambda a: {k: np.full(v.shape, "a") for k, v in a.items()})))
    add("load v1 weights pickled", lambda: load(_archive({**_members("v1"), "model.weights.npz": npz(
        {"w0000": np.array([None], dtype=object)})})))
    add("load v1 weights NaN (warns)", lambda: _recorded(lambda: load(_with_npz(
        "model.weights.npz", lambda a: {k: np.full(v.shape, np.nan, v.dtype) for k, v in a.items()}))),
        _warned("non-finite"))
    add("load v1 weights header claims 80 GB", lambda: load(_archive({**_members("v1"), "model.weights.npz": _npz_claiming((10**10,))})))
    add("load v1 weights header claims 10^30 elements", lambda: load(_archive(
        {**_members("v1"), "model.weights.npz": _npz_claiming((10**15, 10**15))})))
    add("load v1 optimizer iterations=-5", lambda: load(_with_npz("optimizer.npz", lambda a: {**a, "iterations": np.array(-5)})))
    add("load v1 optimizer lr NaN", lambda: load(_with_npz("optimizer.npz", lambda a: {**a, "learning_rate": np.array(np.nan)})))
    add("load v1 optimizer slot renamed", lambda: load(_with_npz("optimizer.npz", lambda a: {k.replace("__", "_x_"): v for k, v in a.items()})))
    add("load v1 optimizer slot wrong shape", lambda: load(_with_npz("optimizer.npz", lambda a: {k: (np.zeros(7) if "__0" in k else v) for k, v in a.items()})))
    add("load v1 optimizer.npz not npz", lambda: load(_archive({**_members("v1"), "optimizer.npz": b"garbage"})))
    # ------------------------------------------------------------- load_weights
    lw = (lambda path, m=None: load_weights(m or model(), path))
    weights = (lambda: {f"w{i:04d}": w for i, w in enumerate(model().weights)})
    add("load_weights missing file", lambda: lw(os.path.join(TMP, "nothing.npz")))
    add("load_weights directory", lambda: lw(TMP))
    add("load_weights path None", lambda: lw(None))
    add("load_weights random bytes", lambda: lw(_write("r.npz", b"\x00garbage" * 10)))
    add("load_weights skip_mismatch", lambda: load_weights(model(), _weights_file(), skip_mismatch=True))
    add("load_weights .weights.h5 renamed dataset", lambda: lw(_weights_file(_rename(dense0, "layers/dense/vars/x"))))
    add("load_weights .weights.h5 wrong shape", lambda: lw(_weights_file(_replace(dense0, np.zeros((3, 1), "float32")))))
    add("load_weights .weights.h5 strings", lambda: lw(_weights_file(_replace(dense0, np.full((2, 1), b"a")))))
    add("load_weights .weights.h5 NaN (warns)", lambda: _recorded(lambda: lw(_weights_file(
        _replace(dense0, np.full((2, 1), np.nan, "float32"))))), _warned("non-finite"))
    add("load_weights .weights.h5 into another model", lambda: lw(_weights_file(), Sequential(
        [L.Input(shape=(4, 3)), L.GRU(2), L.Dense(1)])))
    add("load_weights .h5 without Keras weights", lambda: lw(_weights_file(lambda f: [f.__delitem__(k) for k in list(f)])))
    add("load_weights npz renamed keys", lambda: lw(_write("ren.npz", npz({k.replace("w", "x"): v for k, v in weights().items()}))))
    add("load_weights npz wrong count", lambda: lw(_write("wc.npz", npz({"w0000": np.zeros(2)}))))
    add("load_weights unbuilt model", lambda: lw(_write("ok.npz", npz(weights())), Sequential([L.LSTM(2)])))
