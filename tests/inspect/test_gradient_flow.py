"""Gradient flow through time (rnnkit.inspect) against finite differences in float64."""
from __future__ import annotations

import itertools

import numpy as np
import pytest

import reference as ref
from rnnkit import inspect as ri
from rnnkit import layers as L
from rnnkit import losses
from rnnkit.inspect.cells import backprop_cell, run_cell
from rnnkit.inspect.gradients import hidden_state_gradients
from rnnkit.models import Sequential

B, T, D, U = 2, 5, 3, 4
EPS = 1e-6

CELLS = {
    "simple": lambda **k: L.SimpleRNN(U, dtype="float64", **k),
    "lstm": lambda **k: L.LSTM(U, dtype="float64", **k),
    "gru": lambda **k: L.GRU(U, dtype="float64", **k),
    "gru_v1": lambda **k: L.GRU(U, dtype="float64", reset_after=False, **k),
}
MASK = np.array([[True, True, True, False, False], [False, True, True, True, True]])


def built(cell, rng, **kw):
    layer = CELLS[cell](**kw)
    layer.build((None, T, D))
    ref.randomize(layer, rng)
    return layer


def as_list(v):
    return v if isinstance(v, list) else [v]


def fd_state_gradient(loss_of_perturbation, s):
    """Central differences of L with respect to the hidden state after processing step s."""
    g = np.zeros((B, U))
    for b in range(B):
        for k in range(U):
            d = np.zeros((B, U))
            d[b, k] = EPS
            g[b, k] = (loss_of_perturbation((s, d)) - loss_of_perturbation((s, -d))) / (2 * EPS)
    return g


@pytest.mark.parametrize("cell,rs,rst,gb,masked", [
    (c, rs, rst, gb, m) for c, (rs, rst, gb, m) in itertools.product(
        CELLS, [(False, False, False, False), (True, False, False, True), (False, True, True, True),
                (True, True, False, False), (False, False, True, True)])])
def test_layer_state_gradients_match_finite_differences(cell, rs, rst, gb, masked, rng):
    layer = built(cell, rng, return_sequences=rs, return_state=rst, go_backwards=gb)
    x = rng.normal(size=(B, T, D))
    m = MASK if masked else None
    up = [rng.normal(size=o.shape) for o in as_list(layer(x, mask=m))]

    def loss(perturb):
        outs = as_list(ref.keras_outputs(layer, x, m, None, perturb))
        return sum(float(np.sum(o * u)) for o, u in zip(outs, up))

    assert abs(loss(None) - sum(float(np.sum(o * u)) for o, u in zip(as_list(layer(x, mask=m)), up))) < 1e-10
    run = run_cell(layer, x, m)
    grads = hidden_state_gradients(run, up if rst else up[0])  # (B, T, U) by input position
    for s in range(T):
        t = T - 1 - s if gb else s
        np.testing.assert_allclose(grads[:, t], fd_state_gradient(loss, s), atol=1e-7, rtol=1e-6)


@pytest.mark.parametrize("cell,masked", list(itertools.product(CELLS, [False, True])))
def test_per_step_backward_agrees_with_the_layer_backward(cell, masked, rng):
    layer = built(cell, rng, return_sequences=True, return_state=True)
    x = rng.normal(size=(B, T, D))
    m = MASK if masked else None
    init = [rng.normal(size=(B, U)) for _ in range(ref.n_states(layer))]
    outs, cache = layer.forward(x, mask=m, initial_state=init)
    up = [rng.normal(size=o.shape) for o in outs]
    dx, *dstates = layer.backward(up, cache)
    run = run_cell(layer, x, m, init)
    from rnnkit.inspect.gradients import _upstream
    d_direct, d_final = _upstream(run, up)
    _, dxs, d0 = backprop_cell(run, d_direct, d_final)
    np.testing.assert_allclose(dxs.transpose(1, 0, 2), dx, atol=1e-12)
    for a, b in zip(d0, dstates):
        np.testing.assert_allclose(a, b, atol=1e-12)


def test_model_gradient_norms_match_finite_differences(rng):
    """A model with Masking, a Bidirectional, go_backwards and a many-to-one layer."""
    model = Sequential([L.Masking(0.0, dtype="float64"),
                        L.Bidirectional(L.LSTM(U, return_sequences=True, dtype="float64"), dtype="float64"),
                        L.GRU(U, go_backwards=True, return_sequences=True, dtype="float64"),
                        L.SimpleRNN(U, dtype="float64"),
                        L.Dense(1, activation="sigmoid", dtype="float64")])
    model.build((None, T, D))
    for lay in model.layers:
        ref.randomize(lay, rng)
    model.compile(loss="binary_crossentropy")
    x = rng.normal(size=(B, T, D))
    x[0, 3:] = 0.0  # padding, masked by Masking
    y = np.array([[1.0], [0.0]])
    norms = ri.gradient_norms(model, x, y)
    grads = ri.gradient_norms(model, x, y, return_gradients=True)
    _, bi, gru, srnn, _ = model.layers
    assert list(norms) == [bi.name, gru.name, srnn.name]
    assert norms[gru.name].shape == (B, T)
    np.testing.assert_allclose(norms[gru.name], np.linalg.norm(grads[gru.name], axis=-1))
    fn = losses.get("binary_crossentropy")

    for target, key in ((bi.forward_layer, (bi.name, "forward")), (bi.backward_layer, (bi.name, "backward")),
                        (gru, (gru.name,)), (srnn, (srnn.name,))):
        g = grads
        for k in key:
            g = g[k]

        def loss(perturb, target=target):
            target.forward = ref.patched_forward(target, perturb)
            try:
                return float(fn(y, model.forward(x)[0]))
            finally:
                del target.forward

        assert abs(loss(None) - float(fn(y, model(x)))) < 1e-12
        for s in range(T):
            t = T - 1 - s if target.go_backwards else s
            np.testing.assert_allclose(g[:, t], fd_state_gradient(loss, s), atol=1e-8, rtol=1e-5,
                                       err_msg=f"{key} step {s}")


def test_model_gradient_norms_need_a_loss(rng):
    model = Sequential([L.LSTM(U), L.Dense(1)])
    x, y = rng.normal(size=(B, T, D)), np.zeros((B, 1))
    with pytest.raises(ValueError, match="not compiled"):
        ri.gradient_norms(model, x, y)
    out = ri.gradient_norms(model, x, y, loss="mse")
    assert out["lstm" if "lstm" in out else model.layers[0].name].shape == (B, T)
    with pytest.raises(TypeError, match="model"):
        ri.gradient_norms(model.layers[0], x, y, loss="mse")


def fd_jacobian(layer, x, m, s, b):
    """dh_T/dh_s of sample b by central differences on the state after processing step s."""
    J = np.zeros((U, U))
    for k in range(U):
        d = np.zeros((B, U))
        d[b, k] = EPS
        hp = ref.manual_run(layer, x, m, None, (s, d))[2][0][b]
        hm = ref.manual_run(layer, x, m, None, (s, -d))[2][0][b]
        J[:, k] = (hp - hm) / (2 * EPS)
    return J


@pytest.mark.parametrize("cell,gb,masked", list(itertools.product(CELLS, [False, True], [False, True])))
def test_jacobian_norms_match_finite_differences(cell, gb, masked, rng):
    layer = built(cell, rng, go_backwards=gb)
    x = rng.normal(size=(B, T, D))
    m = MASK if masked else None
    fro = ri.jacobian_norms(layer, x, mask=m)
    spec = ri.jacobian_norms(layer, x, mask=m, ord=2)
    assert fro.shape == spec.shape == (B, T)
    for s in range(T):
        t = T - 1 - s if gb else s
        for b in range(B):
            J = fd_jacobian(layer, x, m, s, b)
            np.testing.assert_allclose(fro[b, t], np.linalg.norm(J), rtol=1e-6, atol=1e-8)
            np.testing.assert_allclose(spec[b, t], np.linalg.norm(J, 2), rtol=1e-6, atol=1e-8)
    last = 0 if gb else T - 1
    np.testing.assert_allclose(fro[:, last], np.sqrt(U))


def test_jacobian_norms_of_a_model_and_a_bidirectional(rng):
    bi = L.Bidirectional(L.GRU(U, dtype="float64"), dtype="float64")
    model = Sequential([bi, L.Dense(1, dtype="float64")])
    model.build((None, T, D))
    ref.randomize(bi, rng)
    x = rng.normal(size=(B, T, D))
    got = ri.jacobian_norms(model, x)
    direct = ri.jacobian_norms(bi, x)
    assert set(got[bi.name]) == {"forward", "backward"}
    for k in ("forward", "backward"):
        np.testing.assert_allclose(got[bi.name][k], direct[k])
        np.testing.assert_allclose(direct[k], ri.jacobian_norms(getattr(bi, f"{k}_layer"), x))
    with pytest.raises(ValueError, match="ord"):
        ri.jacobian_norms(bi, x, ord=1)
