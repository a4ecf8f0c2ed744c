"""Sliding windows over the time axis (im2col) and their adjoint, for Conv1D and pooling.

A window view costs no copy; the convolution then is one matrix product over
``(batch * out_steps, kernel_size * channels)``. The adjoint loops over the kernel taps
(a handful), never over time positions.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def out_length(length: int, span: int, stride: int, padding: str) -> int:
    """Output steps for ``length`` input steps and a window covering ``span`` steps."""
    if padding == "same":
        return math.ceil(length / stride)
    if padding == "causal":
        return (length - 1) // stride + 1
    return max((length - span) // stride + 1, 0)


def pad_amounts(length: int, span: int, stride: int, padding: str) -> tuple[int, int]:
    """(before, after) steps of padding (TensorFlow's split for ``same``: the extra one after)."""
    if padding == "causal":
        return span - 1, 0
    if padding == "same":
        total = max((math.ceil(length / stride) - 1) * stride + span - length, 0)
        return total // 2, total - total // 2
    return 0, 0


def windows(xp: np.ndarray, k: int, dilation: int, stride: int, n_out: int) -> np.ndarray:
    """View ``(batch, n_out, k, channels)`` of a padded ``(batch, steps, channels)`` input.

    Window ``i`` holds steps ``i * stride + j * dilation`` for ``j < k``.
    """
    span = (k - 1) * dilation + 1
    v = sliding_window_view(xp, span, axis=1)  # (batch, steps - span + 1, channels, span)
    v = v[:, ::stride][:, :n_out, :, ::dilation]
    return v.transpose(0, 1, 3, 2)


def fold(dcols: np.ndarray, steps: int, dilation: int, stride: int) -> np.ndarray:
    """Adjoint of :func:`windows`: add ``(batch, n_out, k, channels)`` back onto the steps."""
    b, n_out, k, c = dcols.shape
    out = np.zeros((b, steps, c), dcols.dtype)
    if n_out == 0:
        return out
    last = stride * (n_out - 1) + 1
    for j in range(k):
        out[:, j * dilation:j * dilation + last:stride] += dcols[:, :, j]
    return out
