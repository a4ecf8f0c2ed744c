"""LayerNormalization and BatchNormalization.

Both pass the mask on unchanged. Weight layouts are Keras': LayerNormalization
``gamma, beta`` (shaped like the normalized axes); BatchNormalization ``gamma, beta,
moving_mean, moving_variance`` (``(channels,)`` each; the last two are non-trainable,
updated by every ``training=True`` call and saved with ``get_weights``).
"""
from __future__ import annotations

import numpy as np

from .. import constraints, initializers, regularizers
from .base import Layer
from .core import weight_rules_config

_KERAS_EPSILON = 1e-7  # keras.backend.epsilon(): keeps masked means finite


def _rules(layer, beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint):
    layer.beta_regularizer = regularizers.get(beta_regularizer)
    layer.gamma_regularizer = regularizers.get(gamma_regularizer)
    layer.beta_constraint = constraints.get(beta_constraint)
    layer.gamma_constraint = constraints.get(gamma_constraint)


def _unsupported(owner, **given):
    for arg, val in given.items():
        if val is not None and val is not False:
            raise NotImplementedError(f"{owner}: {arg} is not supported by rnnkit yet; received {val!r}")


def _axes(axis, ndim, owner, name):
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    out = []
    for a in axes:
        if not isinstance(a, (int, np.integer)) or not -ndim <= a < ndim:
            raise ValueError(f"{owner} '{name}': axis {axis!r} is out of range for inputs of rank {ndim}")
        out.append(int(a) % ndim)
    if len(set(out)) != len(out) or 0 in out:
        raise ValueError(f"{owner} '{name}': axis must name distinct non-batch axes; received {axis!r}")
    return sorted(out)


class LayerNormalization(Layer):
    """Normalize each sample over ``axis`` (the features by default):
    ``y = (x - mean) / sqrt(var + epsilon) * gamma + beta``.

    With ``rms_scaling=True`` (deprecated in Keras 3, kept for parity): ``y = x / sqrt(var + epsilon)
    * gamma`` (the input is not centred; no beta).
    """

    def __init__(self, axis=-1, epsilon: float = 1e-3, center: bool = True, scale: bool = True,
                 rms_scaling: bool = False, beta_initializer="zeros", gamma_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None,
                 gamma_constraint=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, (int, np.integer, list, tuple)) or isinstance(axis, bool):
            raise TypeError(f"LayerNormalization: axis must be an integer or a list of them; received {axis!r}")
        self.axis = int(axis) if isinstance(axis, (int, np.integer)) else [int(a) for a in axis]
        self.epsilon = float(epsilon)
        self.center, self.scale, self.rms_scaling = bool(center), bool(scale), bool(rms_scaling)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        _rules(self, beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint)

    def build(self, input_shape):
        self._axes = _axes(self.axis, len(input_shape), "LayerNormalization", self.name)
        shape = tuple(input_shape[a] for a in self._axes)
        if any(d is None for d in shape):
            raise ValueError(f"LayerNormalization '{self.name}' needs known sizes on axis {self.axis}; "
                             f"received input shape {tuple(input_shape)}")
        self._ndim = len(input_shape)
        self.gamma = self.beta = None
        if self.scale or self.rms_scaling:
            self.gamma = self.add_weight("gamma", shape, self.gamma_initializer,
                                         regularizer=self.gamma_regularizer, constraint=self.gamma_constraint)
        if self.center and not self.rms_scaling:
            self.beta = self.add_weight("beta", shape, self.beta_initializer,
                                        regularizer=self.beta_regularizer, constraint=self.beta_constraint)
        super().build(input_shape)

    def _bcast(self, w, ndim):
        shape = [1] * ndim
        for a, d in zip(self._axes, w.shape):
            shape[a] = d
        return w.reshape(shape)

    def forward(self, inputs, mask=None, training=False, **kwargs):
        x = self._convert_input(inputs)
        if x.ndim != self._ndim:
            raise ValueError(f"LayerNormalization '{self.name}' was built for inputs of rank {self._ndim}; "
                             f"received shape {x.shape}")
        axes = tuple(self._axes)
        xc = x - x.mean(axis=axes, keepdims=True)
        s = 1.0 / np.sqrt(np.mean(xc * xc, axis=axes, keepdims=True) + self.epsilon)
        centred = xc * s
        # Keras 3's (deprecated) rms_scaling divides the uncentred input by the std.
        xhat = x * s if self.rms_scaling else centred
        y = xhat * self._bcast(self.gamma, x.ndim) if self.gamma is not None else xhat.copy()
        if self.beta is not None:
            y += self._bcast(self.beta, x.ndim)
        return y, (xhat, s, centred)

    def backward(self, grad_outputs, cache):
        xhat, s, centred = cache
        g = np.asarray(grad_outputs)
        axes = tuple(self._axes)
        others = tuple(a for a in range(g.ndim) if a not in axes)
        grads = []
        if self.gamma is not None:
            grads.append((g * xhat).sum(axis=others).reshape(self.gamma.shape))
            a = g * self._bcast(self.gamma, g.ndim)
        else:
            a = g
        if self.beta is not None:
            grads.append(g.sum(axis=others).reshape(self.beta.shape))
        self._set_grads(grads)
        proj = centred * np.mean(a * xhat, axis=axes, keepdims=True)
        if self.rms_scaling:
            return s * (a - proj)
        return s * (a - a.mean(axis=axes, keepdims=True) - proj)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale, "rms_scaling": self.rms_scaling,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                **weight_rules_config(self, "gamma", "beta")}


class BatchNormalization(Layer):
    """Normalize each channel (``axis``) with batch statistics while training and with the
    moving statistics otherwise.

    ``training=True`` (and ``trainable``): ``y = (x - mean_b) / sqrt(var_b + epsilon) * gamma
    + beta`` with the batch's mean and (biased) variance over every axis but ``axis``, and
    ``moving = moving * momentum + batch_stat * (1 - momentum)``. Otherwise the moving
    statistics replace the batch ones. With a ``(batch, steps)`` mask, the batch
    statistics use the unmasked steps only, as in Keras.
    """

    def __init__(self, axis: int = -1, momentum: float = 0.99, epsilon: float = 1e-3, center: bool = True,
                 scale: bool = True, beta_initializer="zeros", gamma_initializer="ones",
                 moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, beta_constraint=None, gamma_constraint=None,
                 renorm: bool = False, renorm_clipping=None, renorm_momentum: float = 0.99,
                 synchronized: bool = False, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
            raise TypeError(f"BatchNormalization: axis must be an integer; received {axis!r}")
        self.axis = int(axis)
        self.momentum, self.epsilon = float(momentum), float(epsilon)
        self.center, self.scale = bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)
        self.synchronized = bool(synchronized)
        self.renorm_momentum = float(renorm_momentum)
        _rules(self, beta_regularizer, gamma_regularizer, beta_constraint, gamma_constraint)
        _unsupported("BatchNormalization", renorm=renorm, renorm_clipping=renorm_clipping)

    def build(self, input_shape):
        ndim = len(input_shape)
        self._ax = _axes(self.axis, ndim, "BatchNormalization", self.name)[0]
        c = input_shape[self._ax]
        if c is None:
            raise ValueError(f"BatchNormalization '{self.name}' needs a known size on axis {self.axis}; "
                             f"received input shape {tuple(input_shape)}")
        self._ndim = ndim
        self.gamma = self.add_weight("gamma", (c,), self.gamma_initializer, regularizer=self.gamma_regularizer,
                                     constraint=self.gamma_constraint) if self.scale else None
        self.beta = self.add_weight("beta", (c,), self.beta_initializer, regularizer=self.beta_regularizer,
                                    constraint=self.beta_constraint) if self.center else None
        self.moving_mean = self.add_weight("moving_mean", (c,), self.moving_mean_initializer, trainable=False)
        self.moving_variance = self.add_weight("moving_variance", (c,), self.moving_variance_initializer,
                                               trainable=False)
        super().build(input_shape)

    def _shape(self, ndim):
        shape = [1] * ndim
        shape[self._ax] = -1
        return shape

    def forward(self, inputs, mask=None, training=False, **kwargs):
        x = self._convert_input(inputs)
        if x.ndim != self._ndim:
            raise ValueError(f"BatchNormalization '{self.name}' was built for inputs of rank {self._ndim}; "
                             f"received shape {x.shape}")
        shape = self._shape(x.ndim)
        red = tuple(a for a in range(x.ndim) if a != self._ax)
        gamma = self.gamma.reshape(shape) if self.gamma is not None else x.dtype.type(1)
        stats = None
        if training and self.trainable:
            if mask is None:
                m = None
                c = 1.0 / (x.size // x.shape[self._ax])
                mean = x.mean(axis=red, keepdims=True)
            else:
                m = np.asarray(mask)
                if m.shape != x.shape[:-1]:
                    raise ValueError(f"BatchNormalization '{self.name}' expects a mask of shape "
                                     f"{x.shape[:-1]} (the inputs' shape without the last axis); "
                                     f"received {m.shape}")
                m = np.broadcast_to(m.astype(x.dtype)[..., None], x.shape)
                c = 1.0 / (m.sum(axis=red, keepdims=True) + _KERAS_EPSILON)
                mean = (m * x).sum(axis=red, keepdims=True) * c
            xc = x - mean
            sq = xc * xc if m is None else m * xc * xc
            var = sq.sum(axis=red, keepdims=True) * c
            mom = self.momentum
            self.moving_mean[...] = self.moving_mean * mom + mean.reshape(-1) * (1.0 - mom)
            self.moving_variance[...] = self.moving_variance * mom + var.reshape(-1) * (1.0 - mom)
            stats = (m, c, xc)
        else:
            var = self.moving_variance.reshape(shape)
            xc = x - self.moving_mean.reshape(shape)
        s = 1.0 / np.sqrt(var + self.epsilon)
        xhat = xc * s
        y = xhat * gamma
        if self.beta is not None:
            y = y + self.beta.reshape(shape)
        return y, (xhat, s, gamma, stats)

    def backward(self, grad_outputs, cache):
        xhat, s, gamma, stats = cache
        g = np.asarray(grad_outputs)
        red = tuple(a for a in range(g.ndim) if a != self._ax)
        grads = []
        if self.gamma is not None:
            grads.append((g * xhat).sum(axis=red))
        if self.beta is not None:
            grads.append(g.sum(axis=red))
        grads += [None, None]  # the moving statistics are not trained by gradients
        self._set_grads(grads)
        a = g * gamma
        if stats is None:
            return a * s
        m, c, xc = stats
        # mean = c * sum(m x); var = c * sum(m (x - mean)^2); both feed every output.
        d_var = -0.5 * s ** 3 * (a * xc).sum(axis=red, keepdims=True)
        mxc = xc if m is None else m * xc
        d_mean = -s * a.sum(axis=red, keepdims=True) - 2.0 * c * d_var * mxc.sum(axis=red, keepdims=True)
        mm = 1.0 if m is None else m
        return a * s + c * mm * d_mean + 2.0 * c * d_var * mxc

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "momentum": self.momentum,
                "epsilon": self.epsilon, "center": self.center, "scale": self.scale,
                "beta_initializer": initializers.serialize(self.beta_initializer),
                "gamma_initializer": initializers.serialize(self.gamma_initializer),
                "moving_mean_initializer": initializers.serialize(self.moving_mean_initializer),
                "moving_variance_initializer": initializers.serialize(self.moving_variance_initializer),
                "synchronized": self.synchronized, "renorm": False, "renorm_clipping": None,
                "renorm_momentum": self.renorm_momentum, **weight_rules_config(self, "gamma", "beta")}
