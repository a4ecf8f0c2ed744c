"""layers/recurrent/engines/__init__.py: which engine runs a call, decided in one place."""
from __future__ import annotations

import numpy as np
import pytest

from rnnkit import config
from rnnkit import layers as L
from rnnkit.keras import Input, Model, layers, models
from rnnkit.layers.recurrent import engines
from rnnkit.layers.recurrent.engines import compiled

B, T, D, U = 4, 6, 3, 5
numba = compiled.kernels() is not None


def _run(layer, x):
    return engines.select(layer, layer._prepare(x, None, False, None), train=False)


def _layer(cls=L.LSTM, dtype="float32", **kw):
    layer = cls(U, dtype=dtype, **kw)
    layer.build((None, T, D))
    return layer


def test_reference_when_asked_or_unsupported():
    x = np.ones((B, T, D), "float32")
    with config.use_engine("reference"):
        assert _run(_layer(), x) is engines.REFERENCE
    assert _run(_layer(engine="reference"), x) is engines.REFERENCE
    for layer in (_layer(L.SimpleRNN, activation="relu"), _layer(L.GRU, reset_after=False),
                  _layer(L.LSTM, recurrent_activation="hard_sigmoid")):
        assert _run(layer, x) is engines.REFERENCE
        _, cache = layer.forward(x)
        assert cache.engine is engines.REFERENCE


def test_numpy_engine_never_compiles():
    x = np.ones((B, T, D), "float32")
    with config.use_engine("numpy"):
        assert _run(_layer(), x) is engines.FEATURE_MAJOR
        _, cache = _layer().forward(x)
        assert cache.engine is engines.FEATURE_MAJOR
    assert _run(_layer(engine="numpy"), x) is engines.FEATURE_MAJOR


def test_training_never_runs_the_inference_only_engine():
    layer = _layer()
    _, cache = layer.forward(np.ones((B, T, D), "float32"))
    assert cache.engine is not engines.COMPILED


@pytest.mark.skipif(not numba, reason="rnnkit[jit] (Numba) is not installed")
def test_auto_and_jit():
    x = np.ones((B, T, D), "float32")
    assert _run(_layer(), x) is engines.COMPILED
    assert _run(_layer(dtype="float64"), x.astype("float64")) is engines.FEATURE_MAJOR
    _, cache = _layer().forward(x)
    assert cache.engine is engines.FEATURE_MAJOR_COMPILED_GATES
    # past the measured crossover: BLAS' products win, unless "jit" forces the compiled one
    wide = L.LSTM(config.settings().small_units + 1)
    wide.build((None, T, D))
    big = np.ones((4096, T, D), "float32")
    assert _run(wide, big) is engines.FEATURE_MAJOR_COMPILED_GATES
    with config.use_engine("jit"):
        assert _run(wide, big) is engines.COMPILED
    with config.override(jit=False):
        assert _run(_layer(), x) is engines.FEATURE_MAJOR
        assert compiled.kernels() is None


def test_use_cudnn_is_accepted_and_changes_nothing(rng):
    a, b = _layer(dtype="float64"), _layer(dtype="float64", use_cudnn=False)
    b.set_weights(a.get_weights())
    x = rng.normal(size=(B, T, D))
    np.testing.assert_array_equal(a(x), b(x))
    with pytest.raises(ValueError, match=r"engine must be one of .*received 'cuda'"):
        L.GRU(3, engine="cuda")


@pytest.mark.skipif(not numba, reason="rnnkit[jit] (Numba) is not installed")
@pytest.mark.parametrize("kind", ["SimpleRNN", "LSTM", "GRU"])
def test_functional_model_uses_the_embedded_path_like_sequential(kind, rng, monkeypatch):
    """Input -> Embedding -> RNN -> Dense as a functional Model predicts through the same
    fused Embedding -> RNN path as the equal Sequential, with the same numbers."""
    from rnnkit.models import graph

    ids = Input((T,), dtype="int32")
    h = getattr(layers, kind)(U)(layers.Embedding(20, D, mask_zero=True)(ids))
    fm = Model(ids, layers.Dense(2)(h))
    seq = models.Sequential([layers.Embedding(20, D, mask_zero=True), getattr(layers, kind)(U),
                             layers.Dense(2)])
    seq.build((None, T))
    seq.set_weights(fm.get_weights())
    x = rng.integers(0, 20, (8, T))
    x[1, :3] = 0
    used = []
    real = graph.fused_call

    def spy(*a):
        out = real(*a)
        used.append(out is not None)
        return out

    monkeypatch.setattr(graph, "fused_call", spy)
    got = fm.predict(x, verbose=0)
    assert used == [True], "the functional model did not take the fused path"
    with config.use_engine("reference"):
        ref = seq.predict(x, verbose=0)
    np.testing.assert_allclose(got, ref, rtol=0, atol=2e-6)
    np.testing.assert_allclose(seq.predict(x, verbose=0), got, rtol=0, atol=2e-6)
