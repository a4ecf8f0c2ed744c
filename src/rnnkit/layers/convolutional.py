"""Convolutions along the time axis: Conv1D and SeparableConv1D.

Inputs ``(batch, steps, channels)`` (``data_format="channels_last"``, the default) or
``(batch, channels, steps)``. Each call is an im2col product: a strided window view of
the padded input and one matrix product (one per group), no loop over positions.

Weight layouts are Keras': Conv1D ``kernel (kernel_size, channels // groups, filters)``,
``bias (filters,)``; SeparableConv1D ``depthwise_kernel (kernel_size, channels,
depth_multiplier)``, ``pointwise_kernel (1, channels * depth_multiplier, filters)``,
``bias (filters,)``.
"""
from __future__ import annotations

import numpy as np

from .. import activations, backend, constraints, initializers, regularizers
from . import _windows as W
from ._args import choice, int_tuple
from ._args import data_format as _data_format
from .base import Layer
from .core import weight_rules_config


def _set_rules(layer, activity_regularizer, **given):
    """Resolve ``<weight>_regularizer``/``<weight>_constraint`` arguments onto ``layer``."""
    if activity_regularizer is not None:
        raise NotImplementedError(f"{type(layer).__name__}: activity_regularizer is not supported by rnnkit "
                                  f"yet (add an ActivityRegularization layer); received {activity_regularizer!r}")
    for arg, val in given.items():
        module = regularizers if arg.endswith("_regularizer") else constraints
        setattr(layer, arg, module.get(val))


class _Conv1DBase(Layer):
    supports_masking = False  # Keras drops the mask: steps no longer line up

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, activation=None, use_bias=True, **kwargs):
        super().__init__(**kwargs)
        owner = type(self).__name__
        if not isinstance(filters, (int, np.integer)) or isinstance(filters, bool) or filters <= 0:
            raise ValueError(f"{owner}: filters must be a positive integer; received {filters!r}")
        self.filters = int(filters)
        self.kernel_size = int_tuple(kernel_size, 1, "kernel_size", owner)
        self.strides = int_tuple(strides, 1, "strides", owner)
        self.padding = choice(padding, ("valid", "same", "causal"), "padding", owner)
        self.data_format = _data_format(data_format, owner)
        self.dilation_rate = int_tuple(dilation_rate, 1, "dilation_rate", owner)
        if self.strides[0] > 1 and self.dilation_rate[0] > 1:
            raise ValueError(f"{owner}: strides > 1 cannot be combined with dilation_rate > 1; received "
                             f"strides={self.strides}, dilation_rate={self.dilation_rate}")
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)

    @property
    def _span(self):
        return (self.kernel_size[0] - 1) * self.dilation_rate[0] + 1

    def _channels(self, shape):
        return shape[-1] if self.data_format == "channels_last" else shape[1]

    def _check_build_shape(self, input_shape):
        if len(input_shape) != 3 or self._channels(input_shape) is None:
            raise ValueError(
                f"{type(self).__name__} '{self.name}' expects input of shape (batch, steps, channels) "
                f"with a known channel size; received {tuple(input_shape)}")

    def compute_output_shape(self, input_shape):
        steps = input_shape[1] if self.data_format == "channels_last" else input_shape[2]
        out = None if steps is None else W.out_length(steps, self._span, self.strides[0], self.padding)
        if out is not None and out <= 0:
            raise ValueError(f"{type(self).__name__} '{self.name}': {steps} steps are fewer than the "
                             f"kernel's span {self._span} with padding='valid'")
        if self.data_format == "channels_last":
            return (input_shape[0], out, self.filters)
        return (input_shape[0], self.filters, out)

    def _columns(self, inputs, channels):
        """(x as channels_last, windows (batch, out, k, channels), padded steps)."""
        x = self._convert_input(inputs)
        if x.ndim != 3:
            self._check_rank(x, 3, "(batch, steps, channels)")
        if self.data_format == "channels_first":
            x = x.transpose(0, 2, 1)
        self._check_last_dim(x, channels, "channels")
        steps = x.shape[1]
        n_out = W.out_length(steps, self._span, self.strides[0], self.padding)
        if n_out <= 0:
            raise ValueError(f"{type(self).__name__} '{self.name}': {steps} steps are fewer than the "
                             f"kernel's span {self._span} with padding='valid'; received {x.shape}")
        before, after = W.pad_amounts(steps, self._span, self.strides[0], self.padding)
        xp = np.pad(x, ((0, 0), (before, after), (0, 0))) if before or after else x
        cols = W.windows(xp, self.kernel_size[0], self.dilation_rate[0], self.strides[0], n_out)
        return cols, (xp.shape[1], before, steps)

    def _finish(self, z):
        y = self.activation(z)
        out = y if self.data_format == "channels_last" else y.transpose(0, 2, 1)
        return out, y

    def _grad_z(self, grad_outputs, z, y):
        g = np.asarray(grad_outputs)
        if self.data_format == "channels_first":
            g = g.transpose(0, 2, 1)
        return self.activation.backward(z, y, g)

    def _unfold(self, dcols, geometry):
        padded, before, steps = geometry
        dxp = W.fold(dcols, padded, self.dilation_rate[0], self.strides[0])
        dx = dxp[:, before:before + steps]
        return dx if self.data_format == "channels_last" else dx.transpose(0, 2, 1)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": list(self.kernel_size),
                "strides": list(self.strides), "padding": self.padding, "data_format": self.data_format,
                "dilation_rate": list(self.dilation_rate), "activation": self.activation.name,
                "use_bias": self.use_bias}


class Conv1D(_Conv1DBase):
    """1-D convolution: ``y[b, i] = activation(sum_j x[b, i * s + j * d] @ kernel[j] + bias)``.

    Args:
        filters: output channels.
        kernel_size, strides, dilation_rate: integers (or 1-tuples).
        padding: ``"valid"`` (no padding), ``"same"`` (output steps = ceil(steps / strides)),
            or ``"causal"`` (pad in front only, so step ``i`` sees no later input).
        groups: split channels and filters into this many independent groups.
    """

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, groups=1, activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, seed=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, **kwargs)
        if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups <= 0 \
                or self.filters % groups:
            raise ValueError(f"Conv1D: groups must be a positive integer dividing filters={self.filters}; "
                             f"received {groups!r}")
        self.groups = int(groups)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.seed = seed
        _set_rules(self, activity_regularizer, kernel_regularizer=kernel_regularizer,
                   bias_regularizer=bias_regularizer, kernel_constraint=kernel_constraint,
                   bias_constraint=bias_constraint)

    def build(self, input_shape):
        self._check_build_shape(input_shape)
        channels = self._channels(input_shape)
        if channels % self.groups:
            raise ValueError(f"Conv1D '{self.name}': input channels ({channels}) must be divisible by "
                             f"groups={self.groups}")
        rng = backend.make_rng(self.seed)
        self.kernel = self.add_weight("kernel", (self.kernel_size[0], channels // self.groups, self.filters),
                                      self.kernel_initializer, rng=rng, regularizer=self.kernel_regularizer,
                                      constraint=self.kernel_constraint)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer, rng=rng,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        super().build(input_shape)

    def _grouped_kernel(self):
        """Kernel as (groups, k * channels_per_group, filters_per_group)."""
        k, cg, f = self.kernel.shape
        g = self.groups
        return self.kernel.reshape(k, cg, g, f // g).transpose(2, 0, 1, 3).reshape(g, k * cg, f // g)

    def forward(self, inputs, mask=None, training=False, **kwargs):
        k, cg, f = self.kernel.shape
        g = self.groups
        cols, geometry = self._columns(inputs, cg * g)
        b, n_out = cols.shape[:2]
        if g == 1:
            flat = cols.reshape(b * n_out, k * cg)  # copies the strided view once
            z = flat @ self.kernel.reshape(k * cg, f)
        else:
            flat = cols.reshape(b * n_out, k, g, cg).transpose(2, 0, 1, 3).reshape(g, b * n_out, k * cg)
            z = np.matmul(flat, self._grouped_kernel()).transpose(1, 0, 2).reshape(b * n_out, f)
        if self.use_bias:
            z += self.bias
        z = z.reshape(b, n_out, f)
        out, y = self._finish(z)
        return out, (flat, None if self.activation.from_output else z, y, geometry)

    def backward(self, grad_outputs, cache):
        flat, z, y, geometry = cache
        dz = self._grad_z(grad_outputs, z, y)
        b, n_out, f = dz.shape
        k, cg, _ = self.kernel.shape
        g = self.groups
        d2 = dz.reshape(b * n_out, f)
        if g == 1:
            grads = [(flat.T @ d2).reshape(self.kernel.shape)]
            dcols = (d2 @ self.kernel.reshape(k * cg, f).T).reshape(b, n_out, k, cg)
        else:
            dg = d2.reshape(b * n_out, g, f // g).transpose(1, 0, 2)
            dker = np.matmul(flat.transpose(0, 2, 1), dg)  # (g, k * cg, f // g)
            grads = [dker.reshape(g, k, cg, f // g).transpose(1, 2, 0, 3).reshape(k, cg, f)]
            dflat = np.matmul(dg, self._grouped_kernel().transpose(0, 2, 1))  # (g, b * n_out, k * cg)
            dcols = dflat.reshape(g, b, n_out, k, cg).transpose(1, 2, 3, 0, 4).reshape(b, n_out, k, g * cg)
        if self.use_bias:
            grads.append(d2.sum(axis=0))
        self._set_grads(grads)
        return self._unfold(dcols, geometry)

    def get_config(self):
        return {**super().get_config(), "groups": self.groups,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                **weight_rules_config(self, "kernel", "bias")}


class SeparableConv1D(_Conv1DBase):
    """Depthwise convolution (each channel alone, ``depth_multiplier`` filters each), then a
    pointwise ``(channels * depth_multiplier) -> filters`` projection, bias and activation."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None,
                 dilation_rate=1, depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None,
                 bias_regularizer=None, activity_regularizer=None, depthwise_constraint=None,
                 pointwise_constraint=None, bias_constraint=None, seed=None, **kwargs):
        super().__init__(filters, kernel_size, strides, padding, data_format, dilation_rate,
                         activation, use_bias, **kwargs)
        if not isinstance(depth_multiplier, (int, np.integer)) or isinstance(depth_multiplier, bool) \
                or depth_multiplier <= 0:
            raise ValueError("SeparableConv1D: depth_multiplier must be a positive integer; received "
                             f"{depth_multiplier!r}")
        self.depth_multiplier = int(depth_multiplier)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.pointwise_initializer = initializers.get(pointwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.seed = seed
        _set_rules(self, activity_regularizer, depthwise_regularizer=depthwise_regularizer,
                   pointwise_regularizer=pointwise_regularizer, bias_regularizer=bias_regularizer,
                   depthwise_constraint=depthwise_constraint, pointwise_constraint=pointwise_constraint,
                   bias_constraint=bias_constraint)

    def build(self, input_shape):
        self._check_build_shape(input_shape)
        c, m = self._channels(input_shape), self.depth_multiplier
        rng = backend.make_rng(self.seed)
        self.depthwise_kernel = self.add_weight("depthwise_kernel", (self.kernel_size[0], c, m),
                                                self.depthwise_initializer, rng=rng,
                                                regularizer=self.depthwise_regularizer,
                                                constraint=self.depthwise_constraint)
        self.pointwise_kernel = self.add_weight("pointwise_kernel", (1, c * m, self.filters),
                                                self.pointwise_initializer, rng=rng,
                                                regularizer=self.pointwise_regularizer,
                                                constraint=self.pointwise_constraint)
        if self.use_bias:
            self.bias = self.add_weight("bias", (self.filters,), self.bias_initializer, rng=rng,
                                        regularizer=self.bias_regularizer, constraint=self.bias_constraint)
        super().build(input_shape)

    def forward(self, inputs, mask=None, training=False, **kwargs):
        k, c, m = self.depthwise_kernel.shape
        cols, geometry = self._columns(inputs, c)
        b, n_out = cols.shape[:2]
        per_channel = cols.transpose(3, 0, 1, 2).reshape(c, b * n_out, k)
        h = np.matmul(per_channel, self.depthwise_kernel.transpose(1, 0, 2))  # (c, b * n_out, m)
        h = h.transpose(1, 0, 2).reshape(b * n_out, c * m)
        z = h @ self.pointwise_kernel[0]
        if self.use_bias:
            z += self.bias
        z = z.reshape(b, n_out, self.filters)
        out, y = self._finish(z)
        return out, (per_channel, h, None if self.activation.from_output else z, y, geometry)

    def backward(self, grad_outputs, cache):
        per_channel, h, z, y, geometry = cache
        dz = self._grad_z(grad_outputs, z, y)
        b, n_out, f = dz.shape
        k, c, m = self.depthwise_kernel.shape
        d2 = dz.reshape(b * n_out, f)
        dpoint = (h.T @ d2)[None]
        dh = (d2 @ self.pointwise_kernel[0].T).reshape(b * n_out, c, m).transpose(1, 0, 2)
        ddepth = np.matmul(per_channel.transpose(0, 2, 1), dh).transpose(1, 0, 2)  # (k, c, m)
        dper = np.matmul(dh, self.depthwise_kernel.transpose(1, 2, 0))  # (c, b * n_out, k)
        dcols = dper.reshape(c, b, n_out, k).transpose(1, 2, 3, 0)
        grads = [ddepth, dpoint]
        if self.use_bias:
            grads.append(d2.sum(axis=0))
        self._set_grads(grads)
        return self._unfold(dcols, geometry)

    def get_config(self):
        return {**super().get_config(), "depth_multiplier": self.depth_multiplier,
                "depthwise_initializer": initializers.serialize(self.depthwise_initializer),
                "pointwise_initializer": initializers.serialize(self.pointwise_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                **weight_rules_config(self, "depthwise", "pointwise", "bias")}
