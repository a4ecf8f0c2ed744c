"""Weight initializers with Keras' names, arguments and distributions.

An initializer is called as ``init(shape, dtype, rng)`` with an explicit
``np.random.Generator``; fan-in/fan-out follow Keras (for a 2-D kernel
``(fan_in, fan_out) = shape``).
"""
from __future__ import annotations

import math

import numpy as np


def _fans(shape) -> tuple[float, float]:
    if len(shape) == 0:
        return 1.0, 1.0
    if len(shape) == 1:
        return float(shape[0]), float(shape[0])
    if len(shape) == 2:
        return float(shape[0]), float(shape[1])
    receptive = math.prod(shape[:-2])
    return float(shape[-2] * receptive), float(shape[-1] * receptive)


class Initializer:
    """Base class: subclasses implement ``__call__(shape, dtype, rng)``.

    Calling an initializer returns a new array of ``shape`` and ``dtype`` drawn with ``rng``
    (an ``np.random.Generator``; see ``rnnkit.backend.make_rng``), so seeding is explicit.

    Example:
        ```python
        import numpy as np
        from rnnkit.initializers import GlorotUniform

        w = GlorotUniform()((3, 4), "float32", np.random.default_rng(0))   # shape (3, 4)
        ```
    """

    def __call__(self, shape, dtype, rng: np.random.Generator) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def get_config(self) -> dict:
        """The constructor arguments, as Keras stores them in a layer's config."""
        return {}

    @classmethod
    def from_config(cls, config: dict) -> "Initializer":
        """Rebuild an initializer from :meth:`get_config`'s dict."""
        return cls(**config)


class Zeros(Initializer):
    """All zeros (Keras ``"zeros"``); the default bias initializer."""

    def __call__(self, shape, dtype, rng):
        return np.zeros(shape, dtype)


class Ones(Initializer):
    """All ones (Keras ``"ones"``)."""

    def __call__(self, shape, dtype, rng):
        return np.ones(shape, dtype)


class Constant(Initializer):
    """Every entry equal to ``value``.

    Args:
        value: the constant.
    """

    def __init__(self, value: float = 0.0):
        self.value = float(value)

    def __call__(self, shape, dtype, rng):
        return np.full(shape, self.value, dtype)

    def get_config(self):
        """The constructor arguments, for the layer config."""
        return {"value": self.value}


class RandomUniform(Initializer):
    """Uniform on ``[minval, maxval)``.

    Args:
        minval: lower bound.
        maxval: upper bound.
        seed: kept in the config for Keras; draws come from the ``rng`` passed at call time.
    """

    def __init__(self, minval: float = -0.05, maxval: float = 0.05, seed=None):
        self.minval, self.maxval, self.seed = float(minval), float(maxval), seed

    def __call__(self, shape, dtype, rng):
        return rng.uniform(self.minval, self.maxval, size=shape).astype(dtype)

    def get_config(self):
        """The constructor arguments, for the layer config."""
        return {"minval": self.minval, "maxval": self.maxval, "seed": self.seed}


class RandomNormal(Initializer):
    """Normal with the given ``mean`` and ``stddev``.

    Args:
        mean: mean of the distribution.
        stddev: standard deviation.
        seed: kept in the config for Keras; draws come from the ``rng`` passed at call time.
    """

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed=None):
        self.mean, self.stddev, self.seed = float(mean), float(stddev), seed

    def __call__(self, shape, dtype, rng):
        return rng.normal(self.mean, self.stddev, size=shape).astype(dtype)

    def get_config(self):
        """The constructor arguments, for the layer config."""
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


def _truncated_normal(rng, shape, stddev):
    # Resample values outside two standard deviations, as Keras does.
    out = rng.normal(0.0, stddev, size=shape)
    bad = np.abs(out) > 2 * stddev
    while bad.any():
        out[bad] = rng.normal(0.0, stddev, size=int(bad.sum()))
        bad = np.abs(out) > 2 * stddev
    return out


class TruncatedNormal(Initializer):
    """Normal, with values beyond two standard deviations from the mean drawn again.

    Args:
        mean: mean of the distribution.
        stddev: standard deviation before truncation.
        seed: kept in the config for Keras; draws come from the ``rng`` passed at call time.
    """

    def __init__(self, mean: float = 0.0, stddev: float = 0.05, seed=None):
        self.mean, self.stddev, self.seed = float(mean), float(stddev), seed

    def __call__(self, shape, dtype, rng):
        return (self.mean + _truncated_normal(rng, shape, self.stddev)).astype(dtype)

    def get_config(self):
        """The constructor arguments, for the layer config."""
        return {"mean": self.mean, "stddev": self.stddev, "seed": self.seed}


class VarianceScaling(Initializer):
    """Draws with variance ``scale / n``, where ``n`` is the fan-in, fan-out or their mean.

    For a 2-D kernel of shape ``(fan_in, fan_out)``; for higher ranks the leading axes are the
    receptive field, as in Keras.

    Args:
        scale: the variance numerator.
        mode: ``"fan_in"``, ``"fan_out"`` or ``"fan_avg"``.
        distribution: ``"truncated_normal"`` (rescaled so the variance is exact),
            ``"untruncated_normal"`` (or ``"normal"``) or ``"uniform"`` (on ``+-sqrt(3 var)``).
        seed: kept in the config for Keras; draws come from the ``rng`` passed at call time.

    Raises:
        ValueError: for an unknown ``mode`` or ``distribution``.
    """

    def __init__(self, scale: float = 1.0, mode: str = "fan_in",
                 distribution: str = "truncated_normal", seed=None):
        if mode not in ("fan_in", "fan_out", "fan_avg"):
            raise ValueError(f"VarianceScaling: mode must be 'fan_in', 'fan_out' or 'fan_avg'; received {mode!r}")
        if distribution not in ("truncated_normal", "untruncated_normal", "uniform", "normal"):
            raise ValueError(
                "VarianceScaling: distribution must be 'truncated_normal', 'untruncated_normal' "
                f"or 'uniform'; received {distribution!r}"
            )
        self.scale, self.mode, self.distribution, self.seed = float(scale), mode, distribution, seed

    def __call__(self, shape, dtype, rng):
        fan_in, fan_out = _fans(shape)
        denom = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        var = self.scale / max(1.0, denom)
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * var)
            return rng.uniform(-limit, limit, size=shape).astype(dtype)
        if self.distribution in ("untruncated_normal", "normal"):
            return rng.normal(0.0, math.sqrt(var), size=shape).astype(dtype)
        # 0.8796... is the stddev of a standard normal truncated at +-2.
        return _truncated_normal(rng, shape, math.sqrt(var) / 0.87962566103423978).astype(dtype)

    def get_config(self):
        """The constructor arguments, for the layer config."""
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, "seed": self.seed}


def _vs(name, scale, mode, distribution, doc):
    def __init__(self, seed=None):
        VarianceScaling.__init__(self, scale, mode, distribution, seed)

    def get_config(self):
        """The constructor arguments, for the layer config."""
        return {"seed": self.seed}

    return type(name, (VarianceScaling,), {"__init__": __init__, "get_config": get_config, "__doc__": doc})


GlorotUniform = _vs("GlorotUniform", 1.0, "fan_avg", "uniform",
                    "Uniform on ``+-sqrt(6 / (fan_in + fan_out))``; the default kernel initializer.")
"""Uniform on ``+-sqrt(6 / (fan_in + fan_out))``; the default kernel initializer. Args: ``seed``."""
GlorotNormal = _vs("GlorotNormal", 1.0, "fan_avg", "truncated_normal",
                   "Truncated normal with variance ``2 / (fan_in + fan_out)``.")
"""Truncated normal with variance ``2 / (fan_in + fan_out)``. Args: ``seed``."""
HeUniform = _vs("HeUniform", 2.0, "fan_in", "uniform", "Uniform on ``+-sqrt(6 / fan_in)``.")
"""Uniform on ``+-sqrt(6 / fan_in)``. Args: ``seed``."""
HeNormal = _vs("HeNormal", 2.0, "fan_in", "truncated_normal",
               "Truncated normal with variance ``2 / fan_in``.")
"""Truncated normal with variance ``2 / fan_in``. Args: ``seed``."""
LecunUniform = _vs("LecunUniform", 1.0, "fan_in", "uniform", "Uniform on ``+-sqrt(3 / fan_in)``.")
"""Uniform on ``+-sqrt(3 / fan_in)``. Args: ``seed``."""
LecunNormal = _vs("LecunNormal", 1.0, "fan_in", "truncated_normal",
                  "Truncated normal with variance ``1 / fan_in``.")
"""Truncated normal with variance ``1 / fan_in``. Args: ``seed``."""


class Orthogonal(Initializer):
    """Orthogonal matrix from the QR decomposition of a Gaussian matrix (Keras' recurrent default).

    For a shape ``(..., cols)`` the rows are the product of the leading axes; the result has
    orthonormal rows or columns, whichever are fewer, times ``gain``.

    Args:
        gain: multiplier of the orthogonal matrix.
        seed: kept in the config for Keras; draws come from the ``rng`` passed at call time.

    Raises:
        ValueError: at call time, for a shape of rank below 2.
    """

    def __init__(self, gain: float = 1.0, seed=None):
        self.gain, self.seed = float(gain), seed

    def __call__(self, shape, dtype, rng):
        if len(shape) < 2:
            raise ValueError(f"Orthogonal initializer needs a shape of rank >= 2; received {tuple(shape)}")
        rows = math.prod(shape[:-1])
        cols = shape[-1]
        a = rng.normal(0.0, 1.0, size=(max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))  # makes the distribution uniform over orthogonal matrices
        if rows < cols:
            q = q.T
        return (self.gain * q.reshape(shape)).astype(dtype)

    def get_config(self):
        """The constructor arguments, for the layer config."""
        return {"gain": self.gain, "seed": self.seed}


class Identity(Initializer):
    """``gain`` times the identity matrix (2-D shapes only; rectangular ones get ones on the diagonal).

    Args:
        gain: the diagonal value.
    """

    def __init__(self, gain: float = 1.0):
        self.gain = float(gain)

    def __call__(self, shape, dtype, rng):
        if len(shape) != 2:
            raise ValueError(f"Identity initializer needs a 2-D shape; received {tuple(shape)}")
        return (self.gain * np.eye(*shape)).astype(dtype)

    def get_config(self):
        """The constructor arguments, for the layer config."""
        return {"gain": self.gain}


_ALIASES = {
    "zeros": Zeros, "zero": Zeros, "ones": Ones, "one": Ones, "constant": Constant,
    "uniform": RandomUniform, "random_uniform": RandomUniform,
    "normal": RandomNormal, "random_normal": RandomNormal, "truncated_normal": TruncatedNormal,
    "glorot_uniform": GlorotUniform, "glorot_normal": GlorotNormal,
    "he_uniform": HeUniform, "he_normal": HeNormal,
    "lecun_uniform": LecunUniform, "lecun_normal": LecunNormal,
    "orthogonal": Orthogonal, "identity": Identity, "variance_scaling": VarianceScaling,
}
_CLASSES = {c.__name__: c for c in set(_ALIASES.values())}


def get(identifier) -> Initializer:
    """Resolve a Keras initializer name, a ``{"class_name", "config"}`` dict, or an instance."""
    if isinstance(identifier, Initializer):
        return identifier
    if isinstance(identifier, str):
        key = identifier.lower()
        if key in _ALIASES:
            return _ALIASES[key]()
        if identifier in _CLASSES:
            return _CLASSES[identifier]()
        raise ValueError(f"Unknown initializer {identifier!r}; expected one of {sorted(_ALIASES)}")
    if isinstance(identifier, dict) and "class_name" in identifier:
        cls = _CLASSES.get(identifier["class_name"]) or _ALIASES.get(str(identifier["class_name"]).lower())
        if cls is None:
            raise ValueError(f"Unknown initializer class {identifier['class_name']!r}")
        return cls(**identifier.get("config", {}))
    raise TypeError(
        f"initializer must be a name such as 'glorot_uniform' or an Initializer; received {identifier!r}"
    )


def serialize(init: Initializer) -> dict:
    """``{"class_name": ..., "config": ...}``, the form :func:`get` reads back."""
    return {"class_name": type(init).__name__, "config": init.get_config()}
