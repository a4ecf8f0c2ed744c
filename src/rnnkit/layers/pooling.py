"""Pooling along the time axis: MaxPooling1D, AveragePooling1D, GlobalMaxPooling1D,
GlobalAveragePooling1D.

Inputs ``(batch, steps, channels)`` (or ``(batch, channels, steps)`` with
``data_format="channels_first"``). Windowed pooling reads a strided window view of the
input (no loop over positions). Only GlobalAveragePooling1D reads the mask (it averages
the unmasked steps); as in Keras, no pooling layer passes a mask on.
"""
from __future__ import annotations

import numpy as np

from . import _windows as W
from ._args import choice, int_tuple
from ._args import data_format as _data_format
from .base import Layer


class _Pooling1D(Layer):
    supports_masking = False

    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        self.pool_size = int_tuple(pool_size, 1, "pool_size", owner)
        self.strides = self.pool_size if strides is None else int_tuple(strides, 1, "strides", owner)
        self.padding = choice(padding, ("valid", "same"), "padding", owner)
        self.data_format = _data_format(data_format, owner)

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{type(self).__name__} '{self.name}' expects input of shape "
                             f"(batch, steps, channels); received {tuple(input_shape)}")
        super().build(input_shape)

    def _out(self, steps):
        n = W.out_length(steps, self.pool_size[0], self.strides[0], self.padding)
        if n <= 0:
            raise ValueError(f"{type(self).__name__} '{self.name}': {steps} steps are fewer than "
                             f"pool_size={self.pool_size[0]} with padding='valid'")
        return n

    def compute_output_shape(self, input_shape):
        last = self.data_format == "channels_last"
        steps = input_shape[1] if last else input_shape[2]
        n = None if steps is None else self._out(steps)
        return (input_shape[0], n, input_shape[2]) if last else (input_shape[0], input_shape[1], n)

    def forward(self, inputs, mask=None, training=False, **kwargs):
        x = self._convert_input(inputs)
        if x.ndim != 3:
            self._check_rank(x, 3, "(batch, steps, channels)")
        if self.data_format == "channels_first":
            x = x.transpose(0, 2, 1)
        steps = x.shape[1]
        n = self._out(steps)
        k, s = self.pool_size[0], self.strides[0]
        before, after = W.pad_amounts(steps, k, s, self.padding)
        y, extra = self._pool(x, before, after, n)
        if self.data_format == "channels_first":
            y = y.transpose(0, 2, 1)
        return y, (extra, (steps + before + after, before, steps))

    def backward(self, grad_outputs, cache):
        extra, (padded, before, steps) = cache
        g = np.asarray(grad_outputs)
        if self.data_format == "channels_first":
            g = g.transpose(0, 2, 1)
        dcols = self._unpool(g, extra)
        dx = W.fold(dcols, padded, 1, self.strides[0])[:, before:before + steps]
        self._set_grads([])
        return dx if self.data_format == "channels_last" else dx.transpose(0, 2, 1)

    def get_config(self):
        return {**super().get_config(), "pool_size": list(self.pool_size), "padding": self.padding,
                "strides": list(self.strides), "data_format": self.data_format}


class MaxPooling1D(_Pooling1D):
    """Maximum over windows of ``pool_size`` steps, every ``strides`` steps (default: pool_size)."""

    def _pool(self, x, before, after, n):
        xp = np.pad(x, ((0, 0), (before, after), (0, 0)), constant_values=-np.inf) if before or after else x
        cols = W.windows(xp, self.pool_size[0], 1, self.strides[0], n)  # (b, n, k, c)
        which = cols.argmax(axis=2)[:, :, None]
        return np.take_along_axis(cols, which, axis=2)[:, :, 0], which

    def _unpool(self, g, which):
        b, n, c = g.shape
        dcols = np.zeros((b, n, self.pool_size[0], c), g.dtype)
        np.put_along_axis(dcols, which, g[:, :, None], axis=2)
        return dcols


class AveragePooling1D(_Pooling1D):
    """Mean over windows of ``pool_size`` steps; with ``padding="same"`` a window at the border
    averages only the real steps it covers (padding is not counted), as in Keras."""

    def __init__(self, pool_size, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(pool_size, strides, padding, data_format, **kwargs)

    def _pool(self, x, before, after, n):
        xp = np.pad(x, ((0, 0), (before, after), (0, 0))) if before or after else x
        cols = W.windows(xp, self.pool_size[0], 1, self.strides[0], n)
        ones = np.pad(np.ones((1, x.shape[1], 1), x.dtype), ((0, 0), (before, after), (0, 0)))
        count = W.windows(ones, self.pool_size[0], 1, self.strides[0], n).sum(axis=2)  # (1, n, 1)
        return cols.sum(axis=2) / count, count

    def _unpool(self, g, count):
        b, n, c = g.shape
        share = (g / count)[:, :, None, :]
        return np.broadcast_to(share, (b, n, self.pool_size[0], c))


class _GlobalPooling1D(Layer):
    supports_masking = False

    def __init__(self, data_format=None, keepdims: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.data_format = _data_format(data_format, type(self).__name__)
        self.keepdims = bool(keepdims)
        self._axis = 1 if self.data_format == "channels_last" else 2

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{type(self).__name__} '{self.name}' expects input of shape "
                             f"(batch, steps, channels); received {tuple(input_shape)}")
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        if self.keepdims:
            out = list(input_shape)
            out[self._axis] = 1
            return tuple(out)
        return (input_shape[0], input_shape[3 - self._axis])

    def compute_mask(self, inputs, mask):
        return None

    def _input(self, inputs):
        x = self._convert_input(inputs)
        if x.ndim != 3:
            self._check_rank(x, 3, "(batch, steps, channels)")
        return x

    def _expand(self, g):
        return g if self.keepdims else np.expand_dims(g, self._axis)

    def get_config(self):
        return {**super().get_config(), "data_format": self.data_format, "keepdims": self.keepdims}


class GlobalMaxPooling1D(_GlobalPooling1D):
    """Maximum over all steps: ``(batch, steps, channels)`` -> ``(batch, channels)``.

    Like Keras, it ignores the mask (masked steps take part in the maximum).
    """

    def forward(self, inputs, mask=None, training=False, **kwargs):
        x = self._input(inputs)
        which = np.expand_dims(x.argmax(axis=self._axis), self._axis)
        y = np.take_along_axis(x, which, axis=self._axis)
        return (y if self.keepdims else y.squeeze(self._axis)), (which, x.shape)

    def backward(self, grad_outputs, cache):
        which, shape = cache
        dx = np.zeros(shape, np.asarray(grad_outputs).dtype)
        np.put_along_axis(dx, which, self._expand(np.asarray(grad_outputs)), axis=self._axis)
        self._set_grads([])
        return dx


class GlobalAveragePooling1D(_GlobalPooling1D):
    """Mean over the steps: ``(batch, steps, channels)`` -> ``(batch, channels)``.

    With a ``(batch, steps)`` mask it averages the unmasked steps only, as Keras does; a
    row with every step masked gives zeros (Keras divides 0 by 0 there and returns NaN).
    """

    supports_masking = True

    def forward(self, inputs, mask=None, training=False, **kwargs):
        x = self._input(inputs)
        b, steps = x.shape[0], x.shape[self._axis]
        if mask is None:
            w = np.full((b, steps), 1.0 / steps, x.dtype)
        else:
            m = np.asarray(mask)
            if m.shape != (b, steps):
                raise ValueError(f"GlobalAveragePooling1D '{self.name}' expects a mask of shape "
                                 f"(batch, steps) = ({b}, {steps}); received {m.shape}")
            m = m.astype(x.dtype)
            w = m / np.maximum(m.sum(axis=1, keepdims=True), 1.0)
        w = np.expand_dims(w, 2 if self._axis == 1 else 1)  # broadcast over channels
        y = (x * w).sum(axis=self._axis, keepdims=self.keepdims)
        return y, w

    def backward(self, grad_outputs, w):
        self._set_grads([])
        return self._expand(np.asarray(grad_outputs)) * w


# Keras' short names.
MaxPool1D = MaxPooling1D
"""Keras' short name of :class:`MaxPooling1D`."""
AvgPool1D = AveragePooling1D
"""Keras' short name of :class:`AveragePooling1D`."""
GlobalMaxPool1D = GlobalMaxPooling1D
"""Keras' short name of :class:`GlobalMaxPooling1D`."""
GlobalAvgPool1D = GlobalAveragePooling1D
"""Keras' short name of :class:`GlobalAveragePooling1D`."""
