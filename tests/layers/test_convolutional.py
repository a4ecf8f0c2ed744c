"""Conv1D and SeparableConv1D: values against a direct loop, float64 finite-difference
gradients (every padding, strides, dilation, groups, channels_first), shapes, errors, config."""
from __future__ import annotations

import math

import numpy as np
import pytest

from gradcheck_lists import check
from rnnkit import layers as L
from rnnkit.keras import Input

F64 = {"dtype": "float64"}
GEOMETRY = [(pad, s, d) for pad in ("valid", "same", "causal") for s, d in ((1, 1), (2, 1), (1, 2), (3, 1))]


def reference_conv(x, kernel, bias, stride, dilation, padding, groups=1):
    """Direct definition: a loop over output steps and taps."""
    b, t, c = x.shape
    k, cg, f = kernel.shape
    span = (k - 1) * dilation + 1
    if padding == "causal":
        before, after = span - 1, 0
    elif padding == "same":
        total = max((math.ceil(t / stride) - 1) * stride + span - t, 0)
        before, after = total // 2, total - total // 2
    else:
        before = after = 0
    xp = np.pad(x, ((0, 0), (before, after), (0, 0)))
    n_out = (xp.shape[1] - span) // stride + 1
    y = np.zeros((b, n_out, f))
    fg = f // groups
    for i in range(n_out):
        for j in range(k):
            step = xp[:, i * stride + j * dilation]
            for g in range(groups):
                y[:, i, g * fg:(g + 1) * fg] += step[:, g * cg:(g + 1) * cg] @ kernel[j, :, g * fg:(g + 1) * fg]
    return y + bias


@pytest.mark.parametrize("pad, s, d", GEOMETRY)
def test_conv1d_values_and_gradients(pad, s, d, rng):
    x = rng.normal(size=(3, 8, 4))
    layer = L.Conv1D(6, 3, strides=s, dilation_rate=d, padding=pad, activation="tanh",
                     bias_initializer="random_normal", **F64) if s * d <= 3 else None
    if layer is None:
        return
    y = layer(x)
    ref = np.tanh(reference_conv(x, layer.kernel, layer.bias, s, d, pad))
    np.testing.assert_allclose(y, ref, atol=1e-12)
    assert layer.compute_output_shape((None, 8, 4)) == (None,) + y.shape[1:]
    check(layer, x, rng)


def test_conv1d_groups_and_channels_first(rng):
    x = rng.normal(size=(2, 7, 6))
    layer = L.Conv1D(4, 3, groups=2, padding="same", bias_initializer="random_normal", **F64)
    y = layer(x)
    assert layer.kernel.shape == (3, 3, 4)
    np.testing.assert_allclose(y, reference_conv(x, layer.kernel, layer.bias, 1, 1, "same", groups=2),
                               atol=1e-12)
    check(layer, x, rng)
    cf = L.Conv1D(5, 2, data_format="channels_first", **F64)
    xc = np.ascontiguousarray(x.transpose(0, 2, 1))  # numeric() perturbs in place
    yc = cf(xc)
    np.testing.assert_allclose(yc, reference_conv(x, cf.kernel, cf.bias, 1, 1, "valid").transpose(0, 2, 1),
                               atol=1e-12)
    check(cf, xc, rng)


@pytest.mark.parametrize("pad, s, d", [("valid", 1, 1), ("same", 2, 1), ("causal", 1, 2)])
def test_separable_conv1d(pad, s, d, rng):
    x = rng.normal(size=(3, 8, 4))
    layer = L.SeparableConv1D(5, 3, strides=s, dilation_rate=d, padding=pad, depth_multiplier=2,
                              activation="relu", bias_initializer="random_normal", **F64)
    y = layer(x)
    k, c, m = layer.depthwise_kernel.shape
    # Depthwise = a grouped convolution with one group per channel (channel-major outputs).
    dw = np.zeros((k, 1, c * m))
    for ch in range(c):
        dw[:, 0, ch * m:(ch + 1) * m] = layer.depthwise_kernel[:, ch, :]
    h = reference_conv(x, dw, 0.0, s, d, pad, groups=c)
    ref = np.maximum(h @ layer.pointwise_kernel[0] + layer.bias, 0)
    np.testing.assert_allclose(y, ref, atol=1e-12)
    assert [w.shape for w in layer.get_weights()] == [(3, 4, 2), (1, 8, 5), (5,)]
    check(layer, x, rng)


def test_symbolic_shapes_params_and_config():
    x = Input(shape=(None, 8))
    assert L.Conv1D(16, 5, padding="same")(x).shape == (None, None, 16)
    y = L.Conv1D(16, 5, strides=2)(Input(shape=(20, 8)))
    assert y.shape == (None, 8, 16)
    layer = L.Conv1D(16, 5)
    layer.build((None, 20, 8))
    assert layer.count_params() == 5 * 8 * 16 + 16
    sep = L.SeparableConv1D(16, 5, depth_multiplier=3)
    sep.build((None, 20, 8))
    assert sep.count_params() == 5 * 8 * 3 + 24 * 16 + 16
    cfg = layer.get_config()
    assert cfg["kernel_size"] == [5] and cfg["padding"] == "valid" and cfg["groups"] == 1
    clone = L.deserialize(L.serialize(layer))
    clone.build((None, 20, 8))
    clone.set_weights(layer.get_weights())
    xs = np.random.default_rng(0).normal(size=(2, 20, 8)).astype("float32")
    np.testing.assert_allclose(clone(xs), layer(xs))


@pytest.mark.parametrize("make, match", [
    (lambda: L.Conv1D(0, 3), "filters"),
    (lambda: L.Conv1D(4, 0), "kernel_size"),
    (lambda: L.Conv1D(4, 3, padding="full"), "padding"),
    (lambda: L.Conv1D(4, 3, strides=2, dilation_rate=2), "strides"),
    (lambda: L.Conv1D(4, 3, groups=3), "groups"),
    (lambda: L.Conv1D(4, 3, activity_regularizer="l2"), "activity_regularizer"),
    (lambda: L.Conv1D(4, 3, kernel_regularizer="l3"), "regularizer"),
    (lambda: L.SeparableConv1D(4, 3, depth_multiplier=0), "depth_multiplier"),
])
def test_bad_arguments(make, match):
    with pytest.raises((ValueError, NotImplementedError), match=match):
        make()


def test_bad_inputs():
    layer = L.Conv1D(4, 3)
    layer(np.zeros((2, 6, 5)))
    with pytest.raises(ValueError, match="channels"):
        layer(np.zeros((2, 6, 3)))
    with pytest.raises(ValueError, match="fewer than"):
        layer(np.zeros((2, 2, 5)))
    with pytest.raises(ValueError, match="steps, channels"):
        layer(np.zeros((2, 5)))
    with pytest.raises(ValueError, match="divisible"):
        L.Conv1D(4, 3, groups=2).build((None, 6, 5))


def test_default_names_follow_keras():
    assert L.Conv1D(2, 2).name.startswith("conv1d")
    assert L.SeparableConv1D(2, 2).name.startswith("separable_conv1d")
    assert L.GlobalAveragePooling1D().name.startswith("global_average_pooling1d")
    assert L.MultiHeadAttention(1, 1).name.startswith("multi_head_attention")
