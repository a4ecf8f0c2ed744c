"""Hostile, corrupt and truncated model files: a clear ValueError naming the file and the
problem, nothing executed, and bounded memory (peak RSS measured in a subprocess)."""
from __future__ import annotations

import json
import pickle
import subprocess
import sys
import zipfile

import h5py
import numpy as np
import pytest

from rnnkit.keras import layers
from rnnkit.keras.models import Sequential, load_model


def _model():
    return Sequential([layers.Input(shape=(4,), dtype="int32"), layers.Embedding(10, 3), layers.LSTM(2),
                       layers.Dense(1)])


def _members(tmp_path):
    path = tmp_path / "good.keras"
    _model().save(path)
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _write(path, members):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for n, d in members.items():
            zf.writestr(n, d)
    return path


def _config(members):
    return json.loads(members["config.json"])


def _zip_bomb(path, member_bytes=128 << 20):
    """A ~130 KB archive whose weights member inflates to 128 MB (written in 1 MB chunks)."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("config.json", "{}")
        zf.writestr("metadata.json", "{}")
        with zf.open("model.weights.h5", "w", force_zip64=True) as fh:
            chunk = bytes(1 << 20)
            for _ in range(member_bytes >> 20):
                fh.write(chunk)
    return path


def _config_bomb(tmp_path, members):
    cfg = _config(members)
    emb = next(e for e in cfg["config"]["layers"] if e["class_name"] == "Embedding")
    emb["config"]["input_dim"] = 10 ** 8  # 12.8 GB of float32 if allocated
    return _write(tmp_path / "config_bomb.keras", {**members, "config.json": json.dumps(cfg).encode()})


def _lying_h5(tmp_path, members):
    """Weights that declare 4 GB (unallocated storage) in a file of a few KB."""
    lying = tmp_path / "lying.h5"
    with h5py.File(lying, "w") as f:
        f.create_dataset("layers/embedding/vars/0", shape=(10 ** 9,), dtype="f4")
    return _write(tmp_path / "lying.keras", {**members, "model.weights.h5": lying.read_bytes()})


def test_zip_bomb_is_refused_before_inflating(tmp_path):
    path = _zip_bomb(tmp_path / "bomb.keras")
    assert path.stat().st_size < 1 << 20
    with pytest.raises(ValueError, match=r"bomb.keras: .*decompression bomb"):
        load_model(path)


def test_lying_sizes(tmp_path):
    members = _members(tmp_path)
    with pytest.raises(ValueError, match=r"lying.keras: the weights declare 4,000,000,000 bytes"):
        load_model(_lying_h5(tmp_path, members))
    # A zip member whose header says 10 bytes but holds more.
    path = _write(tmp_path / "liar.keras", members)
    raw = bytearray(path.read_bytes())
    size = len(members["config.json"]).to_bytes(4, "little")
    for sig, off in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        i = raw.find(sig)
        while i >= 0:
            name_len = int.from_bytes(raw[i + (26 if sig == b"PK\x03\x04" else 28):][:2], "little")
            name_at = i + (30 if sig == b"PK\x03\x04" else 46)
            if raw[name_at:name_at + name_len] == b"config.json":
                assert raw[i + off:i + off + 4] == size
                raw[i + off:i + off + 4] = (10).to_bytes(4, "little")
            i = raw.find(sig, i + 4)
    path.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match=r"liar.keras: archive member 'config.json'"):
        load_model(path)


@pytest.mark.parametrize("name", ["../evil.txt", "/etc/passwd", "a\\..\\b", "x/../../y"])
def test_path_traversal_member_names(tmp_path, name):
    path = _write(tmp_path / "trav.keras", {**_members(tmp_path), name: b"x"})
    with pytest.raises(ValueError, match=r"trav.keras: archive member name"):
        load_model(path)


def test_deep_json_nesting(tmp_path):
    members = _members(tmp_path)
    deep = ("[" * 200_000 + "]" * 200_000).encode()
    with pytest.raises(ValueError, match=r"deep.keras: config.json nests deeper than 100 levels"):
        load_model(_write(tmp_path / "deep.keras", {**members, "config.json": deep}))
    with pytest.raises(ValueError, match=r"bad.keras: config.json is not valid JSON"):
        load_model(_write(tmp_path / "bad.keras", {**members, "config.json": b"{\"a\": "}))


def test_config_bomb_allocates_nothing(tmp_path):
    with pytest.raises(ValueError, match=r"config_bomb.keras: the config asks layer 'embedding[_0-9]*' for weight "
                                         r"'embeddings' of shape \(100000000, 3\)"):
        load_model(_config_bomb(tmp_path, _members(tmp_path)))


def test_pickles_never_load(tmp_path):
    class Evil:
        def __reduce__(self):
            return (exec, ("raise SystemExit('pwned')",))

    path = tmp_path / "evil.keras"
    path.write_bytes(pickle.dumps(Evil()))
    with pytest.raises(ValueError, match=r"evil.keras: unknown file type \(a Python pickle"):
        load_model(path)
    with pytest.raises(ValueError, match=r"evil.keras: unknown weights file type"):
        _model().load_weights(path)


@pytest.mark.parametrize("where", ["keras", "h5"])
def test_lambda_layers_are_refused_by_default(tmp_path, where):
    members = _members(tmp_path)
    cfg = _config(members)
    cfg["config"]["layers"].insert(2, {
        "module": "keras.layers", "class_name": "Lambda", "registered_name": None,
        "config": {"name": "sneaky", "function": {"class_name": "__lambda__", "config": {
            "code": "4wEAAAAAAAAAAAAAAAEAAAADAAAA8wQAAACXAHwAUwApAU6pAKkB2gF4cwEAAAAg", "defaults": None,
            "closure": None}}}})
    if where == "keras":
        path = _write(tmp_path / "lam.keras", {**members, "config.json": json.dumps(cfg).encode()})
    else:
        path = tmp_path / "lam.h5"
        with h5py.File(path, "w") as f:
            f.attrs["model_config"] = json.dumps(cfg)
            f.create_group("model_weights")
    with pytest.raises(ValueError, match=r"lam.(keras|h5): layer 'sneaky' \(Lambda\) holds serialized Python "
                                         r"code.*pass safe_mode=False"):
        load_model(path)
    with pytest.raises(ValueError, match=r"layer 'sneaky' \(Lambda\) holds Python code; rnnkit has no layer"):
        load_model(path, safe_mode=False)


def test_unknown_classes_truncation_and_foreign_files(tmp_path):
    members = _members(tmp_path)
    cfg = _config(members)
    cfg["config"]["layers"][1]["class_name"] = "os.system"
    with pytest.raises(ValueError, match=r"cls.keras: layer 'embedding[_0-9]*' has class 'os.system', which rnnkit "
                                         "does not have"):
        load_model(_write(tmp_path / "cls.keras", {**members, "config.json": json.dumps(cfg).encode()}))
    h5 = members["model.weights.h5"]
    with pytest.raises(ValueError, match=r"cut.keras: not a readable HDF5 file, or truncated"):
        load_model(_write(tmp_path / "cut.keras", {**members, "model.weights.h5": h5[: len(h5) // 2]}))
    good = _write(tmp_path / "whole.keras", members).read_bytes()
    (tmp_path / "half.keras").write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match=r"half.keras: not a valid zip archive, or truncated"):
        load_model(tmp_path / "half.keras")
    (tmp_path / "w.npy").write_bytes(b"\x93NUMPY" + bytes(100))
    with pytest.raises(ValueError, match=r"w.npy: unknown file type \(a single .npy array\); expected"):
        load_model(tmp_path / "w.npy")
    (tmp_path / "saved_model").mkdir()
    with pytest.raises(ValueError, match="is a directory"):
        load_model(tmp_path / "saved_model")
    with h5py.File(tmp_path / "weights_only.h5", "w") as f:
        f.create_group("layers")
    with pytest.raises(ValueError, match="weights file without a model config; build the model"):
        load_model(tmp_path / "weights_only.h5")


def test_wrong_weights_for_model(tmp_path):
    path = tmp_path / "other.weights.h5"
    Sequential([layers.Input(shape=(4,)), layers.Dense(3)]).save_weights(path)
    with pytest.raises(ValueError, match=r"other.weights.h5: .*(does not match|holds)"):
        _model().load_weights(path)


def test_save_into_missing_directory_says_so(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"directory .*nowhere does not exist"):
        _model().save(tmp_path / "nowhere" / "m.keras")
    with pytest.raises(FileNotFoundError, match=r"directory .*nowhere does not exist"):
        _model().save_weights(tmp_path / "nowhere" / "m.weights.h5")


_MEASURE = """
import resource, sys
from rnnkit.keras.models import load_model
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for path in sys.argv[1:]:
    try:
        load_model(path)
        print("LOADED", path)
    except ValueError as exc:
        print("REFUSED", str(exc)[:60])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print("GROWTH_KB", peak - base)
"""


@pytest.mark.slow
def test_hostile_files_use_bounded_memory(tmp_path):
    """Zip bomb (128 MB inflated), lying HDF5 sizes (4 GB declared), a config asking for
    12.8 GB: all refused while peak RSS grows by under 64 MB."""
    members = _members(tmp_path)
    paths = [_zip_bomb(tmp_path / "bomb.keras"), _lying_h5(tmp_path, members),
             _config_bomb(tmp_path, members)]
    out = subprocess.run([sys.executable, "-c", _MEASURE, *map(str, paths)], capture_output=True,
                         text=True, timeout=120, env={"PYTHONPATH": sys.path[0], **__import__("os").environ})
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert sum(line.startswith("REFUSED") for line in lines) == 3, out.stdout
    growth_mb = int(lines[-1].split()[1]) / 1024
    assert growth_mb < 64, out.stdout


def test_hdf5_pointing_at_other_files_is_refused(tmp_path):
    """External links, external storage and virtual datasets would read other local files."""
    secret = tmp_path / "secret.bin"
    secret.write_bytes(bytes(range(256)) * 4)
    cases = {}
    with h5py.File(tmp_path / "link.weights.h5", "w") as f:
        f["layers"] = h5py.ExternalLink(str(tmp_path / "other.h5"), "/layers")
    cases["link"] = "links to another file"
    with h5py.File(tmp_path / "ext.weights.h5", "w") as f:
        f.create_dataset("layers/dense/vars/0", shape=(4, 2), dtype="f4", external=[(str(secret), 0, 32)])
    cases["ext"] = "external or virtual storage"
    for name, match in cases.items():
        model = Sequential([layers.Input(shape=(4,)), layers.Dense(2)])
        with pytest.raises(ValueError, match=rf"{name}.weights.h5: .*{match}"):
            model.load_weights(tmp_path / f"{name}.weights.h5")


def test_config_with_too_many_layers_is_refused(tmp_path):
    members = _members(tmp_path)
    cfg = _config(members)
    cfg["config"]["layers"] += [{"class_name": "Dropout", "config": {"rate": 0.1}}] * 30_000
    with pytest.raises(ValueError, match=r"many.keras: the config names more than 20,000 objects"):
        load_model(_write(tmp_path / "many.keras", {**members, "config.json": json.dumps(cfg).encode()}))
