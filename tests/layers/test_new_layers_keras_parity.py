"""Parity of the issue-14 layers with real Keras 3: outputs, input and weight gradients,
and the moving statistics BatchNormalization leaves behind.

Fixtures: ``tests/fixtures/keras_new_layers/*.npz`` from
``tests/fixtures/make_keras_new_layer_fixtures.py`` (its docstring gives the format).
Each case runs in float32 and in float64 (compared with Keras' float32 numbers).
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rnnkit.keras import layers

FIXTURES = sorted((Path(__file__).resolve().parents[1] / "fixtures" / "keras_new_layers").glob("*.npz"))
TOL = {"float32": 1e-4, "float64": 1e-4}


def test_fixtures_present():
    assert len(FIXTURES) >= 60


def load(path):
    with np.load(path, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    return json.loads(str(arrays.pop("spec"))), arrays


def close(a, b, what, tol, floor=1e-2):
    """max |a - b| relative to max |b| (at least ``floor``: gradients that are zero in exact
    arithmetic, such as MultiHeadAttention's key bias, are float32 noise in Keras)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    assert a.shape == b.shape, f"{what}: shape {a.shape} != Keras {b.shape}"
    err = np.abs(a - b).max() / max(np.abs(b).max(), floor) if b.size else 0.0
    assert err < tol, f"{what}: relative error {err:.2e}"


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("path", FIXTURES, ids=[p.stem for p in FIXTURES])
def test_matches_keras(path, dtype):
    spec, a = load(path)
    layer = getattr(layers, spec["class_name"])(**spec["kwargs"], dtype=dtype)
    xs = [a[f"x_{i}"].astype(dtype) for i in range(spec["n_inputs"])]
    inputs = xs if spec["list_input"] else xs[0]
    layer._maybe_build([x.shape for x in xs] if spec["list_input"] else xs[0].shape)
    layer.set_weights([a[f"w_{i}"] for i in range(spec["n_weights"])])
    call = dict(spec["call"])
    if spec["masks"] is not None:
        ms = [a[f"mask_{i}"] if given else None for i, given in enumerate(spec["masks"])]
        call["mask"] = ms if spec["list_input"] else ms[0]
    if "attention_mask" in a:
        call["attention_mask"] = a["attention_mask"]
    out, cache = layer.forward(inputs, training=spec["training"], **call)
    outs = list(out) if isinstance(out, (list, tuple)) else [out]
    assert len(outs) == spec["n_outputs"]
    tol = TOL[dtype]
    for i, o in enumerate(outs):
        close(o, a[f"out_{i}"], f"output {i}", tol)
    for i, w in enumerate(layer.get_weights()):
        close(w, a[f"wpost_{i}"], f"weight {i} after the call", tol)
    close(sum(layer.losses), a["losses"], "added losses", tol)
    douts = [a[f"dout_{i}"].astype(dtype) for i in range(spec["n_outputs"])]
    if spec["n_outputs"] == 1:
        douts = douts[0]
    dx = layer.backward(douts, cache)
    dxs = dx if spec["list_input"] else [dx]
    for i, d in enumerate(dxs):
        close(d, a[f"gx_{i}"], f"input gradient {i}", tol)
    for i, (g, t) in enumerate(zip(layer.grads, spec["trainable"])):
        if t:
            close(g, a[f"gw_{i}"], f"weight gradient {i} ({layer.weight_names[i]})", tol, floor=0.1)
