"""Embedding: integer ids -> dense vectors, with a scatter-add backward."""
from __future__ import annotations

import numpy as np

from .. import backend, initializers
from .base import Layer
from .recurrent.engines import compiled


def scatter_add_rows(ids: np.ndarray, grads: np.ndarray, n_rows: int) -> np.ndarray:
    """``out[ids[k]] += grads[k]`` for every k, as a dense ``(n_rows, dim)`` array.

    Sorting the ids once and summing runs with ``np.add.reduceat`` is several times
    faster than ``np.add.at`` for the many repeated ids (padding, common words) of
    text; runs of 256 rows or more (the padding id's) are summed along contiguous rows.
    Ids below 65536 are sorted as uint16, which NumPy's stable sort does by radix sort
    (~15x faster than sorting intp); the order, and so the sums, are the same.
    """
    out = np.zeros((n_rows, grads.shape[-1]), dtype=grads.dtype)
    if ids.size == 0:
        return out
    kernels = compiled.kernels()
    if kernels is not None and 0 <= ids.min() and ids.max() < n_rows:
        # Compiled: one pass in order, ~10x faster here.
        kernels.scatter_add_rows(ids, np.ascontiguousarray(grads), out)
        return out
    keys = ids.astype(np.uint16) if n_rows <= 1 << 16 else ids
    order = np.argsort(keys, kind="stable")
    sorted_ids = keys[order]
    new_run = np.empty(sorted_ids.size, bool)
    new_run[0] = True
    np.not_equal(sorted_ids[1:], sorted_ids[:-1], out=new_run[1:])
    starts = np.flatnonzero(new_run)
    lengths = np.diff(np.append(starts, sorted_ids.size))
    long = lengths >= _LONG_RUN
    if long.any():
        # The padding id's run and other long ones: summed along contiguous rows, as
        # reduceat sums a run (pairwise), at several times its speed on (N, D) rows.
        for i in np.flatnonzero(long):
            rows = order[starts[i]:starts[i] + lengths[i]]
            block = np.ascontiguousarray(np.take(grads, rows, axis=0).T)
            out[sorted_ids[starts[i]]] = np.add.reduce(block, axis=1)
        short = np.repeat(~long, lengths)
        order, sorted_ids, lengths = order[short], sorted_ids[short], lengths[~long]
        if order.size == 0:
            return out
        starts = np.concatenate([[0], np.cumsum(lengths[:-1])])
    out[sorted_ids[starts]] = np.add.reduceat(np.take(grads, order, axis=0), starts, axis=0)
    return out


# Rows of one id from which scatter_add_rows sums them with np.add.reduce.
_LONG_RUN = 256


class Embedding(Layer):
    """Look up row ``ids[b, t]`` of ``embeddings (input_dim, output_dim)``.

    Input: integer ids ``(batch, timesteps)`` in ``[0, input_dim)``; output
    ``(batch, timesteps, output_dim)``. With ``mask_zero=True`` id 0 is padding and the
    mask ``ids != 0`` is passed to the next layer (then ``input_dim`` must count id 0).
    ``input_length`` (Keras 2) fixes the timesteps shown by ``summary()``.

    Keras equivalent: ``keras.layers.Embedding``. Parameters: ``input_dim x output_dim``. The
    gradient is dense, as on Keras 3's JAX and PyTorch backends.

    Args:
        input_dim: vocabulary size: ids run from 0 to ``input_dim - 1``.
        output_dim: size of each vector.
        embeddings_initializer: initializer of the table (uniform on +-0.05 by default).
        mask_zero: treat id 0 as padding and pass a mask on.
        input_length: Keras 2's fixed sequence length (optional).
        seed: seed for the initializer.
        **kwargs: ``name``, ``dtype``, ``trainable``, ``input_shape`` as for every layer.

    Raises:
        ValueError: ``input_dim`` or ``output_dim`` is not a positive integer; at call time,
            ids out of range or not integers.
        NotImplementedError: a regularizer or constraint is given.

    Example:
        ```python
        import numpy as np
        from rnnkit.keras.layers import Embedding

        emb = Embedding(1000, 8, mask_zero=True)
        vectors = emb(np.array([[5, 7, 0, 0]]))          # (1, 4, 8)
        mask = emb.compute_mask(np.array([[5, 7, 0, 0]]), None)   # [[True, True, False, False]]
        ```
    """

    _expected_ndim = 2

    def __init__(self, input_dim: int, output_dim: int, embeddings_initializer="uniform",
                 embeddings_regularizer=None, activity_regularizer=None, embeddings_constraint=None,
                 mask_zero: bool = False, input_length: int | None = None, seed=None, **kwargs):
        for arg, val in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not isinstance(val, (int, np.integer)) or isinstance(val, bool) or val <= 0:
                raise ValueError(f"Embedding: {arg} must be a positive integer; received {val!r}")
        for arg, val in (("embeddings_regularizer", embeddings_regularizer),
                         ("activity_regularizer", activity_regularizer),
                         ("embeddings_constraint", embeddings_constraint)):
            if val is not None:
                raise NotImplementedError(f"Embedding: {arg} is not supported by rnnkit yet")
        # Keras 2 gives an Embedding a known input shape so that Sequential builds at once.
        if "input_shape" not in kwargs and "batch_input_shape" not in kwargs:
            kwargs["input_shape"] = (input_length,)
        super().__init__(input_length=input_length, **kwargs)
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.mask_zero = bool(mask_zero)
        self.input_length = input_length
        self.seed = seed

    def build(self, input_shape=None):
        """Create ``embeddings (input_dim, output_dim)``; the input shape only sets the timesteps."""
        self.embeddings = self.add_weight(
            "embeddings", (self.input_dim, self.output_dim), self.embeddings_initializer,
            rng=backend.make_rng(self.seed))
        super().build(input_shape if input_shape is not None else (None, None))

    def compute_output_shape(self, input_shape):
        """``input_shape + (output_dim,)``: ``(batch, timesteps, output_dim)``."""
        return tuple(input_shape) + (self.output_dim,)

    def compute_mask(self, inputs, mask):
        """``ids != 0`` ``(batch, timesteps)`` with ``mask_zero=True``, else None."""
        if not self.mask_zero:
            return None
        return np.asarray(inputs) != 0

    def _convert_input(self, x):
        ids = np.asarray(x)
        if ids.dtype == object:
            raise ValueError(
                f"Embedding '{self.name}' expects integer ids of shape (batch, timesteps); received "
                "a ragged/object array (use pad_sequences first)"
            )
        if ids.dtype.kind == "f":
            if not np.all(np.isfinite(ids)) or np.any(ids != np.round(ids)):
                bad = ids[~np.isfinite(ids) | (ids != np.round(ids))].ravel()[0]
                raise ValueError(
                    f"Embedding '{self.name}' expects integer ids; received float input with "
                    f"non-integer value {float(bad)!r}"
                )
        elif ids.dtype.kind not in "iub":
            raise TypeError(f"Embedding '{self.name}' expects integer ids; received dtype {ids.dtype}")
        ids = ids.astype(np.intp, copy=False)
        if ids.size:
            lo, hi = ids.min(), ids.max()
            if lo < 0 or hi >= self.input_dim:
                bad = lo if lo < 0 else hi
                raise ValueError(
                    f"Embedding '{self.name}' expects ids in [0, input_dim={self.input_dim}); "
                    f"received id {int(bad)}"
                )
        return ids

    def forward(self, inputs, mask=None, training=False, **kwargs):
        """Run the layer.

        Args:
            inputs: integer ids ``(batch, timesteps)`` in ``[0, input_dim)``.
            mask: ignored here (masks pass through ``compute_mask``).
            training: unused.

        Returns:
            ``(outputs, cache)``: outputs ``(batch, timesteps, output_dim)``, and what :meth:`backward` needs.
        """
        ids = self._convert_input(inputs)
        # np.take is ~4x faster than fancy indexing for this row gather.
        return np.take(self.embeddings, ids, axis=0), ids

    def backward(self, grad_outputs, cache):
        """Accumulate the gradient of the table; ids have no gradient.

        Args:
            grad_outputs: ``dL/doutputs`` ``(batch, timesteps, output_dim)``.
            cache: the ids :meth:`forward` returned.

        Returns:
            None. ``grads`` holds ``[dL/dembeddings]`` ``(input_dim, output_dim)``, rows summed over
            repeated ids.
        """
        ids = cache
        g = np.asarray(grad_outputs, dtype=self.dtype)
        if g.ndim == 3 and not g.flags.c_contiguous and g.transpose(1, 0, 2).flags.c_contiguous:
            # Recurrent layers hand back (T, B, D) memory seen as (B, T, D): read it
            # time-major, with the ids in the same order, instead of copying it.
            ids, g = ids.T, g.transpose(1, 0, 2)
        g = g.reshape(-1, self.output_dim)
        self._set_grads([scatter_add_rows(ids.ravel(), g, self.input_dim)])
        return None

    def param_formula(self):
        """``input_dim x output_dim``: one row of weights per id."""
        return f"{self.input_dim} x {self.output_dim}" if self.built else None

    def get_config(self):
        """Keras' config: sizes, initializer, ``mask_zero``, ``input_length``."""
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                "mask_zero": self.mask_zero, "input_length": self.input_length}
