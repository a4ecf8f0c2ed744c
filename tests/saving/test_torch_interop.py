"""rnnkit.interop: PyTorch nn.RNN/LSTM/GRU -> rnnkit and back, for every option torch has."""
from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from rnnkit.interop import from_torch, to_torch, to_torch_state_dict  # noqa: E402
from rnnkit.keras import layers  # noqa: E402
from rnnkit.keras.models import Sequential  # noqa: E402

F, U, B, T = 3, 4, 2, 5


def _module(mode, rng, **kwargs):
    extra = {"nonlinearity": kwargs.pop("nonlinearity", "tanh")} if mode == "RNN" else {}
    mod = getattr(torch.nn, mode)(F, U, **kwargs, **extra)
    with torch.no_grad():
        for p in mod.parameters():
            p.copy_(torch.from_numpy(rng.normal(0, 0.5, tuple(p.shape)).astype("float32")))
    return mod.eval()


def _torch_out(mod, x, batch_first):
    xt = torch.from_numpy(x if batch_first else x.transpose(1, 0, 2).copy())
    with torch.no_grad():
        y = mod(xt)[0].numpy()
    return y if batch_first else y.transpose(1, 0, 2)


OPTIONS = [dict(), dict(batch_first=True), dict(num_layers=2), dict(bidirectional=True),
           dict(bias=False), dict(num_layers=3, bidirectional=True, batch_first=True, bias=False)]


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()) or "default")
@pytest.mark.parametrize("source", ["module", "state_dict"])
def test_from_torch_matches_module(mode, opts, source, rng):
    mod = _module(mode, rng, **opts)
    x = rng.normal(size=(B, T, F)).astype("float32")
    if source == "module":
        layer = from_torch(mod)
    else:  # NumPy arrays, no torch needed
        layer = from_torch({k: v.numpy() for k, v in mod.state_dict().items()}, mode=mode)
    expected = _torch_out(mod, x, opts.get("batch_first", False))
    np.testing.assert_allclose(layer.predict(x, verbose=0) if hasattr(layer, "predict") else layer(x),
                               expected, atol=1e-5, rtol=0)
    if opts.get("num_layers", 1) > 1:
        assert isinstance(layer, Sequential)
    elif opts.get("bidirectional"):
        assert isinstance(layer, layers.Bidirectional)


def test_from_torch_relu_rnn_and_dropout_stack(rng):
    mod = _module("RNN", rng, nonlinearity="relu", num_layers=2, dropout=0.25)
    model = from_torch(mod)
    assert [type(lay).__name__ for lay in model.layers] == ["SimpleRNN", "Dropout", "SimpleRNN"]
    x = rng.normal(size=(B, T, F)).astype("float32")
    np.testing.assert_allclose(model.predict(x, verbose=0), _torch_out(mod, x, False), atol=1e-5)


@pytest.mark.parametrize("mode", ["RNN", "LSTM", "GRU"])
@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()) or "default")
def test_to_torch_round_trip(mode, opts, rng):
    mod = _module(mode, rng, **opts)
    layer = from_torch(mod)
    back = to_torch(layer)
    x = rng.normal(size=(B, T, F)).astype("float32")
    expected = layer.predict(x, verbose=0) if hasattr(layer, "predict") else layer(x)
    np.testing.assert_allclose(_torch_out(back, x, True), expected, atol=1e-5, rtol=0)
    state = to_torch_state_dict(layer)
    assert set(state) == set(mod.state_dict())
    assert all(isinstance(v, np.ndarray) for v in state.values())


def test_to_torch_from_keras_style_layers(rng):
    """Layers made in rnnkit (Keras' single LSTM bias) export with bias_hh = 0."""
    for layer in (layers.LSTM(U, return_sequences=True), layers.GRU(U, return_sequences=True),
                  layers.Bidirectional(layers.SimpleRNN(U, return_sequences=True))):
        layer.build((None, None, F))
        layer.set_weights([rng.normal(0, 0.5, w.shape).astype("float32") for w in layer.weights])
        x = rng.normal(size=(B, T, F)).astype("float32")
        np.testing.assert_allclose(_torch_out(to_torch(layer), x, True), layer(x), atol=1e-5)


@pytest.mark.parametrize("layer,match", [
    (lambda: layers.GRU(U, reset_after=False), "reset_after=False"),
    (lambda: layers.LSTM(U, activation="relu"), "activation='relu'"),
    (lambda: layers.SimpleRNN(U, activation="sigmoid"), "activation='sigmoid'"),
    (lambda: layers.GRU(U, recurrent_activation="hard_sigmoid"), "recurrent_activation='hard_sigmoid'"),
    (lambda: layers.LSTM(U, go_backwards=True), "go_backwards=True"),
    (lambda: layers.LSTM(U, recurrent_dropout=0.2), "recurrent_dropout"),
    (lambda: layers.Bidirectional(layers.LSTM(U), merge_mode="sum"), "merge_mode='sum'"),
])
def test_to_torch_refuses_what_torch_cannot_compute(layer, match):
    lay = layer()
    lay.build((None, None, F))
    with pytest.raises(ValueError, match=match):
        to_torch_state_dict(lay)


def test_to_torch_refuses_masks_and_bad_input():
    model = Sequential([layers.Input(shape=(T,)), layers.Embedding(9, F, mask_zero=True), layers.LSTM(U)])
    with pytest.raises(ValueError, match="Embedding.*mask"):
        to_torch_state_dict(model)
    with pytest.raises(ValueError, match="mode="):
        from_torch({"weight_ih_l0": np.zeros((4, F))})
    with pytest.raises(ValueError, match="unexpected state_dict keys"):
        from_torch({"foo": np.zeros(3)}, mode="LSTM")
