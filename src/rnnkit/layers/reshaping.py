"""Shape and sequence layers: RepeatVector, Reshape, Permute, Cropping1D, ZeroPadding1D,
UpSampling1D.

None of them has weights, and none passes a mask on (Keras 3 drops the mask at these
layers, since the time axis no longer lines up with it).
"""
from __future__ import annotations

import math

import numpy as np

from ._args import data_format as _data_format
from ._args import int_tuple
from .base import Layer


class _NoWeights(Layer):
    supports_masking = False

    def backward(self, grad_outputs, cache):
        self._set_grads([])
        return self._back(np.asarray(grad_outputs), cache)

    def _back(self, g, cache):  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_input_rank(self, x, ndim, what):
        if x.ndim != ndim:
            self._check_rank(x, ndim, what)


class RepeatVector(_NoWeights):
    """Repeat a ``(batch, features)`` input ``n`` times: ``(batch, n, features)``.

    The encoder-decoder bridge of the keras-io addition RNN: the encoder's last state
    becomes the decoder's input at every step.
    """

    def __init__(self, n: int, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n <= 0:
            raise ValueError(f"RepeatVector: n must be a positive integer; received {n!r}")
        self.n = int(n)

    def build(self, input_shape):
        if len(input_shape) != 2:
            raise ValueError(f"RepeatVector '{self.name}' expects input of shape (batch, features); "
                             f"received {tuple(input_shape)}")
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.n, input_shape[1])

    def forward(self, inputs, mask=None, training=False, **kwargs):
        x = self._convert_input(inputs)
        self._check_input_rank(x, 2, "(batch, features)")
        return np.repeat(x[:, None, :], self.n, axis=1), None

    def _back(self, g, cache):
        return g.sum(axis=1)

    def get_config(self):
        return {**super().get_config(), "n": self.n}


class Reshape(_NoWeights):
    """Reshape each sample to ``target_shape`` (one entry may be -1: inferred).

    Shapes: ``(batch, *any)`` -> ``(batch, *target_shape)``; the sample sizes must agree.
    """

    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        if isinstance(target_shape, (int, np.integer)):
            target_shape = (target_shape,)
        if not isinstance(target_shape, (list, tuple)) or not all(
                isinstance(d, (int, np.integer)) and not isinstance(d, bool) and (d > 0 or d == -1)
                for d in target_shape) or list(target_shape).count(-1) > 1:
            raise ValueError("Reshape: target_shape must be a tuple of positive integers with at most "
                             f"one -1; received {target_shape!r}")
        self.target_shape = tuple(int(d) for d in target_shape)

    def _resolve(self, input_shape, strict):
        rest = input_shape[1:]
        if any(d is None for d in rest):
            return tuple(None if d == -1 else d for d in self.target_shape)
        size = math.prod(rest)
        known = math.prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape:
            if known == 0 or size % known:
                raise ValueError(f"Reshape '{self.name}': cannot reshape samples of shape {tuple(rest)} "
                                 f"into target_shape {self.target_shape}")
            return tuple(size // known if d == -1 else d for d in self.target_shape)
        if known != size:
            raise ValueError(f"Reshape '{self.name}': total size of the new shape {self.target_shape} "
                             f"({known}) must equal the sample size of the input {tuple(rest)} ({size})")
        return self.target_shape

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + self._resolve(tuple(input_shape), False)

    def forward(self, inputs, mask=None, training=False, **kwargs):
        x = self._convert_input(inputs)
        return x.reshape((x.shape[0],) + self._resolve(x.shape, True)), x.shape

    def _back(self, g, shape):
        return g.reshape(shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Permute(_NoWeights):
    """Permute the non-batch axes: ``dims`` is a permutation of ``1..rank-1`` (1-indexed).

    ``Permute((2, 1))`` turns ``(batch, timesteps, features)`` into ``(batch, features, timesteps)``.
    """

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(dims, (list, tuple)) or sorted(dims) != list(range(1, len(dims) + 1)):
            raise ValueError("Permute: dims must be a permutation of the non-batch axes 1..n "
                             f"(e.g. (2, 1)); received {dims!r}")
        self.dims = tuple(int(d) for d in dims)
        self._axes = (0,) + self.dims
        self._inverse = tuple(int(i) for i in np.argsort(self._axes))

    def build(self, input_shape):
        if len(input_shape) != len(self.dims) + 1:
            raise ValueError(f"Permute '{self.name}' with dims={self.dims} expects inputs of rank "
                             f"{len(self.dims) + 1}; received shape {tuple(input_shape)}")
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[a] for a in self._axes)

    def forward(self, inputs, mask=None, training=False, **kwargs):
        x = self._convert_input(inputs)
        if x.ndim != len(self._axes):
            raise ValueError(f"Permute '{self.name}' with dims={self.dims} expects inputs of rank "
                             f"{len(self._axes)}; received shape {x.shape}")
        return x.transpose(self._axes), None

    def _back(self, g, cache):
        return g.transpose(self._inverse)

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}


class _Temporal(_NoWeights):
    """Base of the layers acting on the time axis of ``(batch, timesteps, features)``."""

    def build(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{type(self).__name__} '{self.name}' expects input of shape "
                             f"(batch, timesteps, features); received {tuple(input_shape)}")
        super().build(input_shape)

    def _input3(self, inputs):
        x = self._convert_input(inputs)
        self._check_input_rank(x, 3, "(batch, timesteps, features)")
        return x


class Cropping1D(_Temporal):
    """Remove ``cropping = (start, end)`` steps from the two ends of the time axis."""

    def __init__(self, cropping=(1, 1), **kwargs):
        super().__init__(**kwargs)
        self.cropping = int_tuple(cropping, 2, "cropping", "Cropping1D", allow_zero=True)

    def _length(self, t):
        if t is None:
            return None
        out = t - sum(self.cropping)
        if out <= 0:
            raise ValueError(f"Cropping1D '{self.name}': cropping {self.cropping} must leave at least "
                             f"one of the {t} timesteps")
        return out

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self._length(input_shape[1]), input_shape[2])

    def forward(self, inputs, mask=None, training=False, **kwargs):
        x = self._input3(inputs)
        n = self._length(x.shape[1])
        a = self.cropping[0]
        return x[:, a:a + n], x.shape

    def _back(self, g, shape):
        dx = np.zeros(shape, g.dtype)
        a = self.cropping[0]
        dx[:, a:a + g.shape[1]] = g
        return dx

    def get_config(self):
        return {**super().get_config(), "cropping": list(self.cropping)}


class ZeroPadding1D(_Temporal):
    """Add ``padding = (start, end)`` zero steps at the two ends of the time axis."""

    def __init__(self, padding=1, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = int_tuple(padding, 2, "padding", "ZeroPadding1D", allow_zero=True)
        self.data_format = _data_format(data_format, "ZeroPadding1D")
        self._axis = 1 if self.data_format == "channels_last" else 2

    def compute_output_shape(self, input_shape):
        out = list(input_shape)
        t = out[self._axis]
        out[self._axis] = None if t is None else t + sum(self.padding)
        return tuple(out)

    def forward(self, inputs, mask=None, training=False, **kwargs):
        x = self._input3(inputs)
        pad = [(0, 0)] * 3
        pad[self._axis] = self.padding
        return np.pad(x, pad), x.shape[self._axis]

    def _back(self, g, t):
        a = self.padding[0]
        return g[:, a:a + t] if self._axis == 1 else g[:, :, a:a + t]

    def get_config(self):
        return {**super().get_config(), "padding": list(self.padding), "data_format": self.data_format}


class UpSampling1D(_Temporal):
    """Repeat every timestep ``size`` times: ``(batch, t, f)`` -> ``(batch, t * size, f)``."""

    def __init__(self, size: int = 2, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(size, (int, np.integer)) or isinstance(size, bool):
            raise TypeError(f"UpSampling1D: size must be an integer; received {size!r}")
        if size <= 0:
            raise ValueError(f"UpSampling1D: size must be a positive integer; received {size!r}")
        self.size = int(size)

    def compute_output_shape(self, input_shape):
        t = input_shape[1]
        return (input_shape[0], None if t is None else t * self.size, input_shape[2])

    def forward(self, inputs, mask=None, training=False, **kwargs):
        x = self._input3(inputs)
        return np.repeat(x, self.size, axis=1), None

    def _back(self, g, cache):
        b, t, f = g.shape
        return g.reshape(b, t // self.size, self.size, f).sum(axis=2)

    def get_config(self):
        return {**super().get_config(), "size": self.size}
