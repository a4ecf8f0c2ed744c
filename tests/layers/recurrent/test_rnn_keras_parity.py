"""RNN(cell) against real Keras 3: outputs and gradients for the same weights, the cell
configs, and a ``.keras`` file written by Keras. Fixtures: tests/fixtures/keras_cells/, made
by tests/fixtures/make_keras_cell_fixtures.py."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rnnkit import saving
from rnnkit.keras import layers, ops

DIR = Path(__file__).resolve().parents[2] / "fixtures" / "keras_cells"
CASES = sorted(p.stem for p in DIR.glob("rnn_*.npz") if not p.stem.endswith("_pred"))


class MinimalRNNCell(layers.Layer):
    """The same class body as in the fixture script (Keras' guide), on rnnkit.keras."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.state_size = units

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_uniform",
                                      name="kernel")
        self.recurrent_kernel = self.add_weight(shape=(self.units, self.units),
                                                initializer="random_uniform", name="recurrent_kernel")

    def call(self, inputs, states):
        prev_output = states[0]
        output = ops.tanh(ops.matmul(inputs, self.kernel) + ops.matmul(prev_output, self.recurrent_kernel))
        return output, [output]


def _cell(spec, dtype):
    kind, units, extra = spec
    cls = {"LSTMCell": layers.LSTMCell, "GRUCell": layers.GRUCell, "SimpleRNNCell": layers.SimpleRNNCell,
           "MinimalRNNCell": MinimalRNNCell}[kind]
    return cls(units, dtype=dtype, **extra)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES)
def test_rnn_cell_matches_keras(case, dtype):
    with np.load(DIR / f"{case}.npz", allow_pickle=False) as d:
        data = {k: d[k] for k in d.files}
    spec = json.loads(str(data["spec"]))
    cells = [_cell(c, dtype) for c in spec["cells"]]
    rnn = layers.RNN(cells[0] if len(cells) == 1 else layers.StackedRNNCells(cells), **spec["kwargs"])
    x = data["x"].astype(dtype)
    mask = data.get("mask")
    rnn.build((None, *x.shape[1:]))
    n_w = sum(k.startswith("w") for k in data)
    rnn.set_weights([data[f"w{i}"] for i in range(n_w)])
    out, cache = rnn.forward(x, mask=mask, training=True)
    outs = out if isinstance(out, list) else [out]
    n_out = sum(k.startswith("out") for k in data)
    assert len(outs) == n_out
    tol = 2e-5 if dtype == "float32" else 1e-5
    for i, o in enumerate(outs):
        np.testing.assert_allclose(o, data[f"out{i}"], rtol=tol, atol=tol)
    ups = [data[f"up{i}"].astype(dtype) for i in range(n_out)]
    dx = rnn.backward(ups if n_out > 1 else ups[0], cache)
    for i, g in enumerate(rnn.grads):
        ref = data[f"gw{i}"]
        np.testing.assert_allclose(g, ref, rtol=1e-4, atol=1e-4 * max(1.0, np.abs(ref).max()))
    np.testing.assert_allclose(dx, data["gx"], rtol=1e-4, atol=1e-4 * max(1.0, np.abs(data["gx"]).max()))


@pytest.mark.parametrize("case", [c for c in CASES if c != "rnn_minimal"])
def test_get_config_has_keras_keys(case):
    with np.load(DIR / f"{case}.npz", allow_pickle=False) as d:
        keras_cfg = json.loads(str(d["config"]))
        spec = json.loads(str(d["spec"]))
    cells = [_cell(c, "float32") for c in spec["cells"]]
    rnn = layers.RNN(cells[0] if len(cells) == 1 else layers.StackedRNNCells(cells), **spec["kwargs"])
    ours = rnn.get_config()
    assert set(keras_cfg) == set(ours)
    for key in ("return_sequences", "return_state", "go_backwards", "stateful", "unroll", "zero_output_for_mask"):
        assert ours[key] == keras_cfg[key]
    kc, oc = keras_cfg["cell"], ours["cell"]
    assert kc["class_name"] == oc["class_name"]
    pairs = list(zip(kc["config"]["cells"], oc["config"]["cells"])) if "cells" in kc["config"] else [(kc, oc)]
    for k, o in pairs:
        assert k["class_name"] == o["class_name"]
        missing = {n for n in k["config"] if not n.endswith(("_regularizer", "_constraint"))} - set(o["config"])
        assert not missing, missing
        for n in ("units", "activation", "use_bias", "dropout", "recurrent_dropout", "reset_after",
                  "unit_forget_bias", "recurrent_activation"):
            if n in k["config"]:
                assert o["config"][n] == k["config"][n], n


def test_loads_a_keras_file_with_rnn_of_lstm_cell():
    model = saving.load_model(str(DIR / "rnn_lstm_cell.keras"))
    rnn = model.layers[0]
    assert type(rnn).__name__ == "RNN" and type(rnn.cell).__name__ == "LSTMCell"
    with np.load(DIR / "rnn_lstm_cell_pred.npz") as d:
        np.testing.assert_allclose(model.predict(d["x"], verbose=0), d["y"], rtol=1e-5, atol=1e-6)
