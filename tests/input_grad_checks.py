"""Shared check: a model's training step does not form dL/d(inputs) for a recurrent
layer called on the model input, and trains to the weights of the full backward."""
from __future__ import annotations

import numpy as np


def check_training_step_skips_input_gradient(build, monkeypatch, seed: int = 0) -> None:
    """``build()`` returns a compiled model (sgd, mse) on inputs ``(batch, 6, 3)`` whose
    only recurrent layer is called on the model input, the same weights every call."""
    from rnnkit.layers.recurrent.base import RecurrentLayer

    rng = np.random.default_rng(seed)
    x = rng.normal(size=(4, 6, 3)).astype("float32")
    y = rng.normal(size=(4, 1)).astype("float32")
    seen = []
    real = RecurrentLayer.backward

    def spy(self, g, cache, input_grad=True):
        seen.append(input_grad)
        return real(self, g, cache, input_grad=input_grad)

    spy.takes_input_grad = True
    monkeypatch.setattr(RecurrentLayer, "backward", spy)
    a = build()
    a.train_on_batch(x, y)
    assert seen == [False]
    # The same step by hand, with the input gradient formed (model.backward's default).
    b = build()
    out, cache = b.forward(x, training=True)
    dx = b.backward(2 * (out - y) / out.size, cache)
    assert dx is not None and dx.shape == x.shape and seen[-1] is True
    b.set_weights([w - 0.01 * g for w, g in zip(b.get_weights(), b.grads)])
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=0, atol=1e-7)
    assert any(np.abs(wa - wb0).max() > 1e-4 for wa, wb0 in zip(a.get_weights(), build().get_weights()))
    assert b.backward(2 * (out - y) / out.size, b.forward(x, training=True)[1], input_grad=False) is None
