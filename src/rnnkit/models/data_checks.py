"""Checking what users pass to fit/evaluate/predict: clear errors that name the
argument, what was expected and what was received."""
from __future__ import annotations

import numpy as np

from . import guards


def _num_samples(x) -> int:
    """Samples in ``x``: one array, or a list of arrays (several model inputs)."""
    return len(x[0]) if isinstance(x, list) else len(x)


class DataChecksMixin:
    """The data checks of :class:`~rnnkit.models.training.TrainingMixin`; need its hooks
    ``_input_spec``, ``_standardize_single_input``, ``_output_names_for_training`` and
    ``input_shape``."""

    def _check_data(self, x, y, sample_weight=None, what="fit"):
        if x is None:
            raise ValueError(f"{what}: x is required; received None")
        spec = self._input_spec()
        if spec is not None:
            x = self._check_input_list(x, spec, what)
        else:
            x = self._as_input_array(x)
            if x.dtype == object:
                raise ValueError(
                    f"{what}: x must be a rectangular array; received a ragged object array of "
                    f"{len(x)} sequences (pad them with pad_sequences first)"
                )
        n = _num_samples(x)
        if n == 0:
            raise ValueError(f"{what}: x has no samples; received x of shape {np.shape(x[0] if isinstance(x, list) else x)}")
        out_names = self._output_names_for_training()
        if y is not None and out_names is not None:
            y = self._check_target_list(y, out_names, n, what)
        elif y is not None:
            y = np.asarray(y)
            if len(y) != n:
                raise ValueError(
                    f"{what}: x and y must have the same number of samples; received x with "
                    f"{n} and y with {len(y)}"
                )
        for j, a in enumerate(y if isinstance(y, list) else [y]):
            if a is not None:
                guards.check_numeric(a, what, f"y[{j}]" if isinstance(y, list) else "y")
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight)
            guards.check_numeric(sample_weight, what, "sample_weight")
            sample_weight = sample_weight.astype(np.float64)
            if len(sample_weight) != n:
                raise ValueError(
                    f"{what}: sample_weight must have one entry per sample ({n}); received "
                    f"{len(sample_weight)}"
                )
        if self.check_finite:
            guards.check_finite(what, x=x, y=y, sample_weight=sample_weight)
        if spec is not None:
            return x, y, sample_weight
        exp = self.input_shape
        if exp is not None and len(exp) != x.ndim:
            raise ValueError(
                f"{what}: the model expects x of shape {exp}; received x of shape {x.shape}"
            )
        if exp is not None and any(e is not None and e != s for e, s in zip(exp[1:], x.shape[1:])):
            raise ValueError(
                f"{what}: the model expects x of shape {exp}; received x of shape {x.shape}"
            )
        return x, y, sample_weight

    def _as_input_array(self, x) -> np.ndarray:
        """One input as an array; an object array of Python strings (text for a
        TextVectorization or StringLookup first layer) becomes a ``str`` array."""
        x = np.asarray(self._standardize_single_input(x))
        if x.dtype == object and x.size and all(isinstance(v, str) for v in x.flat):
            x = x.astype(str)
        exp = self.input_shape if x.dtype.kind in "US" else None
        if exp is not None and len(exp) == x.ndim + 1 and exp[-1] == 1:
            x = x[..., None]  # (batch,) texts for an Input(shape=(1,), dtype="string"), as Keras 3
        return x

    def _check_input_list(self, x, spec, what) -> list[np.ndarray]:
        """x for a model with several inputs: a list (or a dict by input name) of arrays."""
        names = [name for name, _ in spec]
        expected = ", ".join(f"{name} {tuple(shape)}" for name, shape in spec)
        if isinstance(x, dict):
            if sorted(x) != sorted(names):
                raise ValueError(
                    f"{what}: the model's inputs are {names}; received a dict with keys {sorted(x)}"
                )
            x = [x[k] for k in names]
        if not isinstance(x, (list, tuple)) or len(x) != len(spec):
            got = (f"a list of {len(x)} array(s)" if isinstance(x, (list, tuple))
                   else f"one array of shape {np.shape(x)}")
            raise ValueError(
                f"{what}: the model has {len(spec)} inputs ({expected}), so x must be a list of "
                f"{len(spec)} arrays; received {got}"
            )
        out = []
        for i, (a, (name, shape)) in enumerate(zip(x, spec)):
            a = np.asarray(a)
            if a.dtype == object:
                raise ValueError(
                    f"{what}: x[{i}] ({name}) must be a rectangular array; received a ragged object "
                    "array (pad sequences with pad_sequences first)"
                )
            if a.ndim != len(shape) or any(e is not None and e != d for e, d in zip(shape[1:], a.shape[1:])):
                raise ValueError(
                    f"{what}: x[{i}] ({name}) must have shape {tuple(shape)}; received {a.shape}"
                )
            out.append(a)
        if len({len(a) for a in out}) > 1:
            raise ValueError(
                f"{what}: all input arrays must have the same number of samples; received "
                f"{[len(a) for a in out]}"
            )
        return out

    @staticmethod
    def _check_target_list(y, names, n, what) -> list[np.ndarray]:
        """y for a model returning a list: a list (or a dict by output name) of arrays."""
        if isinstance(y, dict):
            if sorted(y) != sorted(names):
                raise ValueError(f"{what}: the model's outputs are {names}; received y with keys {sorted(y)}")
            y = [y[k] for k in names]
        if len(names) == 1 and not (isinstance(y, (list, tuple)) and len(y) == 1
                                    and isinstance(y[0], np.ndarray)):
            y = [y]
        if not isinstance(y, (list, tuple)) or len(y) != len(names):
            got = f"a list of {len(y)}" if isinstance(y, (list, tuple)) else f"one array of shape {np.shape(y)}"
            raise ValueError(
                f"{what}: the model has {len(names)} outputs {names}, so y must be a list of "
                f"{len(names)} arrays; received {got}"
            )
        out = [np.asarray(a) for a in y]
        for name, a in zip(names, out):
            if len(a) != n:
                raise ValueError(
                    f"{what}: x and y must have the same number of samples; received x with {n} and "
                    f"y for output '{name}' with {len(a)}"
                )
        return out

    @staticmethod
    def _class_weights(y, class_weight) -> np.ndarray:
        if not isinstance(class_weight, dict):
            raise TypeError("class_weight must be a dict {class index: weight}; received "
                            f"{type(class_weight).__name__}")
        if isinstance(y, list):
            if len(y) != 1:
                raise ValueError(
                    f"class_weight is supported for a model with one output; this one has {len(y)} "
                    "(use sample_weight instead)"
                )
            y = y[0]
        y = np.asarray(y)
        labels = y.argmax(axis=-1) if y.ndim > 1 and y.shape[-1] > 1 else np.rint(y.reshape(len(y), -1)[:, 0])
        out = np.ones(len(y))
        for cls, w in class_weight.items():
            out[labels == int(cls)] = float(w)
        return out
