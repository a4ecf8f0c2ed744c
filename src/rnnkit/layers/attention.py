"""Attention over sequences: Attention (Luong), AdditiveAttention (Bahdanau), and the
Dot and Softmax layers they are often written with.

``Attention()([query, value])`` or ``([query, value, key])``: ``query (batch, Tq, dim)``,
``value (batch, Tv, dim)``, ``key (batch, Tv, dim)`` (``value`` when absent). Output
``(batch, Tq, dim)``, plus the ``(batch, Tq, Tv)`` weights with
``return_attention_scores=True``. Masks ``[query_mask, value_mask]`` work as in Keras:
masked values get no weight (a score bias of -1e9), masked queries give zero outputs,
and the output carries the query's mask.
"""
from __future__ import annotations

import numpy as np

from .. import backend
from .base import KerasTensor, Layer

_NEG = 1e9  # Keras' score bias for masked positions (float32 and float64)


def softmax(z: np.ndarray, axis=-1) -> np.ndarray:
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_backward(y: np.ndarray, dy: np.ndarray, axis=-1) -> np.ndarray:
    return y * (dy - (dy * y).sum(axis=axis, keepdims=True))


def causal_mask(tq: int, tv: int) -> np.ndarray:
    """``(1, tq, tv)``: query step i may look at steps j <= i."""
    return np.tril(np.ones((tq, tv), bool))[None]


class _ListInputLayer(Layer):
    """A layer called on a list of tensors (eagerly or symbolically)."""

    _n_inputs = (2, 3)

    def _check_list(self, inputs):
        lo, hi = self._n_inputs
        if not isinstance(inputs, (list, tuple)) or not lo <= len(inputs) <= hi:
            got = f"a list of {len(inputs)}" if isinstance(inputs, (list, tuple)) else type(inputs).__name__
            want = f"{lo}" if lo == hi else f"{lo} or {hi}"
            raise ValueError(f"{type(self).__name__} '{self.name}' must be called on a list of {want} "
                             f"inputs{self._input_names}; received {got}")

    _input_names = ""

    def _symbolic_input_shape(self, inputs):
        self._check_list(inputs)
        return [t.shape for t in inputs]

    def __call__(self, inputs, *args, **kwargs):
        if isinstance(inputs, (list, tuple)) and any(isinstance(t, KerasTensor) for t in inputs):
            return self._call_symbolic(list(inputs), **kwargs)
        if args:
            raise TypeError(f"{type(self).__name__} takes the list of inputs as its only positional argument")
        self._check_list(inputs)
        xs = [self._convert_input(x) for x in inputs]
        self._maybe_build([x.shape for x in xs])
        return self.call(xs, **kwargs)

    def _call_symbolic(self, inputs, **kwargs):
        # compute_output_shape reads this to promise the scores as a second output.
        self._symbolic_scores = bool(kwargs.get("return_attention_scores", False))
        try:
            return super()._call_symbolic(inputs, **kwargs)
        finally:
            self._symbolic_scores = False

    _symbolic_scores = False


class _BaseAttention(_ListInputLayer):
    _input_names = " [query, value] or [query, value, key]"

    def __init__(self, use_scale: bool, dropout: float = 0.0, seed=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"{type(self).__name__}: dropout must be a float in [0, 1); received {dropout!r}")
        self.use_scale = bool(use_scale)
        self.dropout = float(dropout)
        self.seed = seed
        self._rng = backend.make_rng(seed)

    def build(self, input_shape):
        self._check_list(input_shape)
        for s in input_shape:
            if len(s) != 3:
                raise ValueError(f"{type(self).__name__} '{self.name}' expects inputs of shape "
                                 f"(batch, steps, dim); received shapes {[tuple(t) for t in input_shape]}")
        q, v = input_shape[0], input_shape[1]
        k = input_shape[2] if len(input_shape) > 2 else v
        if q[-1] is not None and k[-1] is not None and q[-1] != k[-1]:
            raise ValueError(f"{type(self).__name__} '{self.name}': query and key must have the same last "
                             f"dimension; received query {tuple(q)} and key {tuple(k)}")
        self._build_weights(q[-1])
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        q, v = input_shape[0], input_shape[1]
        out = tuple(q[:-1]) + (v[-1],)
        if self._symbolic_scores:
            k = input_shape[2] if len(input_shape) > 2 else v
            return [out, tuple(q[:-1]) + (k[1],)]
        return out

    def num_outputs(self) -> int:
        return 1

    def compute_mask(self, inputs, mask):
        if mask is None or not isinstance(mask, (list, tuple)) or mask[0] is None:
            return None
        return np.asarray(mask[0], bool)

    def _masks(self, mask, b, tq, tv):
        if mask is None:
            return None, None
        if not isinstance(mask, (list, tuple)) or not 2 <= len(mask) <= 3:
            raise ValueError(f"{type(self).__name__} '{self.name}': mask must be a list [query_mask, "
                             f"value_mask]; received {type(mask).__name__}")
        out = []
        for m, t, what in ((mask[0], tq, "query_mask"), (mask[1], tv, "value_mask")):
            if m is not None:
                m = np.asarray(m, bool)
                if m.shape != (b, t):
                    raise ValueError(f"{type(self).__name__} '{self.name}': {what} must have shape "
                                     f"({b}, {t}); received {m.shape}")
            out.append(m)
        return out[0], out[1]

    def forward(self, inputs, mask=None, training=False, return_attention_scores=False,
                use_causal_mask=False, **kwargs):
        if kwargs:
            raise TypeError(f"{type(self).__name__}.forward got unexpected argument(s) {sorted(kwargs)}")
        self._check_list(inputs)
        xs = [self._convert_input(x) for x in inputs]
        for x in xs:
            if x.ndim != 3:
                self._check_rank(x, 3, "(batch, steps, dim)")
        q, v = xs[0], xs[1]
        k = xs[2] if len(xs) > 2 else v
        if k.shape[:2] != v.shape[:2] or q.shape[0] != v.shape[0] or q.shape[-1] != k.shape[-1]:
            raise ValueError(f"{type(self).__name__} '{self.name}': incompatible shapes query {q.shape}, "
                             f"value {v.shape}, key {k.shape}")
        b, tq, tv = q.shape[0], q.shape[1], v.shape[1]
        q_mask, v_mask = self._masks(mask, b, tq, tv)
        scores, score_cache = self._scores(q, k)
        keep = None if v_mask is None else v_mask[:, None, :]
        if use_causal_mask:
            keep = causal_mask(tq, tv) if keep is None else keep & causal_mask(tq, tv)
        if keep is not None:
            scores = np.where(keep, scores, scores - _NEG)
        w = softmax(scores)
        drop = None
        if training and self.dropout > 0:
            drop = (self._rng.random(w.shape) >= self.dropout).astype(w.dtype) / (1.0 - self.dropout)
        wd = w if drop is None else w * drop
        out = wd @ v
        if q_mask is not None:
            out = out * q_mask[:, :, None]
        cache = (q, v, k, len(xs), q_mask, w, drop, wd, score_cache)
        return ([out, wd] if return_attention_scores else out), cache

    def backward(self, grad_outputs, cache):
        q, v, k, n_in, q_mask, w, drop, wd, score_cache = cache
        if isinstance(grad_outputs, (list, tuple)):
            g_out, g_w = grad_outputs[0], grad_outputs[1]
        else:
            g_out, g_w = grad_outputs, None
        g_out = np.zeros((q.shape[0], q.shape[1], v.shape[2]), q.dtype) if g_out is None else np.asarray(g_out)
        if q_mask is not None:
            g_out = g_out * q_mask[:, :, None]
        d_wd = g_out @ v.transpose(0, 2, 1)
        if g_w is not None:
            d_wd = d_wd + np.asarray(g_w)
        dv = wd.transpose(0, 2, 1) @ g_out
        d_w = d_wd if drop is None else d_wd * drop
        d_scores = softmax_backward(w, d_w)
        dq, dk, wgrads = self._scores_backward(d_scores, q, k, score_cache)
        self._set_grads(wgrads)
        if n_in == 2:
            return [dq, dv + dk]
        return [dq, dv, dk]

    def get_config(self):
        return {**super().get_config(), "use_scale": self.use_scale, "dropout": self.dropout,
                "seed": self.seed}


class Attention(_BaseAttention):
    """Luong-style attention: ``scores = query @ key^T`` (times a learned scalar ``scale``
    with ``use_scale=True``); ``score_mode="concat"``: ``scores = concat_score_weight *
    sum(tanh(scale * (query_i + key_j)))``. Then softmax over the value steps and a weighted
    sum of the values. Weights (Keras order): ``scale ()`` if use_scale, then
    ``concat_score_weight ()`` if score_mode="concat"."""

    def __init__(self, use_scale: bool = False, score_mode: str = "dot", dropout: float = 0.0,
                 seed=None, **kwargs):
        super().__init__(use_scale, dropout, seed, **kwargs)
        if score_mode not in ("dot", "concat"):
            raise ValueError(f"Attention: score_mode must be 'dot' or 'concat'; received {score_mode!r}")
        self.score_mode = score_mode

    def _scalar(self, name):
        # add_weight would give shape (1,) (np.ascontiguousarray); Keras' scalars have shape ().
        value = np.ones((), self.dtype)
        self._params.append((name, value, True))
        self._grads.append(None)
        return value

    def _build_weights(self, dim):
        self.scale = self._scalar("scale") if self.use_scale else None
        self.concat_score_weight = self._scalar("concat_score_weight") if self.score_mode == "concat" else None

    def _scores(self, q, k):
        if self.score_mode == "dot":
            raw = q @ k.transpose(0, 2, 1)
            return (raw * self.scale if self.scale is not None else raw), raw
        u = q[:, :, None, :] + k[:, None, :, :]  # (batch, Tq, Tv, dim)
        if self.scale is not None:
            u = u * self.scale
        t = np.tanh(u)
        total = t.sum(axis=-1)
        return self.concat_score_weight * total, (t, total)

    def _scores_backward(self, ds, q, k, cache):
        if self.score_mode == "dot":
            raw = cache
            c = self.scale if self.scale is not None else 1.0
            dq = (ds @ k) * c
            dk = (ds.transpose(0, 2, 1) @ q) * c
            grads = [np.asarray((ds * raw).sum(), q.dtype)] if self.scale is not None else []
            return dq, dk, grads
        t, total = cache
        d_total = ds * self.concat_score_weight
        du = d_total[..., None] * (1.0 - t * t)
        grads = []
        if self.scale is not None:
            grads.append(np.asarray((du * (q[:, :, None, :] + k[:, None, :, :])).sum(), q.dtype))
            du = du * self.scale
        grads.append(np.asarray((ds * total).sum(), q.dtype))
        return du.sum(axis=2), du.sum(axis=1), grads

    def get_config(self):
        return {**super().get_config(), "score_mode": self.score_mode}


class AdditiveAttention(_BaseAttention):
    """Bahdanau-style attention: ``scores = sum(scale * tanh(query_i + key_j))`` with a
    learned ``scale (dim,)`` (``use_scale=True``, the default), then as :class:`Attention`."""

    def __init__(self, use_scale: bool = True, dropout: float = 0.0, seed=None, **kwargs):
        super().__init__(use_scale, dropout, seed, **kwargs)

    def _build_weights(self, dim):
        if dim is None:
            raise ValueError(f"AdditiveAttention '{self.name}' needs a known last dimension")
        self.scale = self.add_weight("scale", (dim,), "glorot_uniform") if self.use_scale else None

    def _scores(self, q, k):
        t = np.tanh(q[:, :, None, :] + k[:, None, :, :])
        return (t @ self.scale if self.scale is not None else t.sum(axis=-1)), t

    def _scores_backward(self, ds, q, k, t):
        grads = []
        if self.scale is not None:
            grads.append(np.einsum("bij,bijd->d", ds, t))
            dt = ds[..., None] * self.scale
        else:
            dt = np.broadcast_to(ds[..., None], t.shape)
        du = dt * (1.0 - t * t)
        return du.sum(axis=2), du.sum(axis=1), grads


class Dot(_ListInputLayer):
    """Batchwise dot product of two inputs along ``axes`` (an int, or one axis per input).

    ``Dot(axes=(2, 2))([a (b, n, d), c (b, m, d)])`` gives ``(b, n, m)``. With
    ``normalize=True`` both inputs are L2-normalized along their axes first (cosine
    similarity). A result with only the batch axis left has shape ``(b, 1)``.
    """

    _n_inputs = (2, 2)
    _input_names = " [x1, x2]"

    def __init__(self, axes, normalize: bool = False, **kwargs):
        super().__init__(**kwargs)
        ok_int = isinstance(axes, (int, np.integer)) and not isinstance(axes, bool)
        ok_pair = isinstance(axes, (list, tuple)) and len(axes) == 2 and all(
            isinstance(a, (int, np.integer)) and not isinstance(a, bool) for a in axes)
        if not (ok_int or ok_pair):
            raise ValueError(f"Dot: axes must be an integer or a list of two integers; received {axes!r}")
        self.axes = int(axes) if ok_int else [int(a) for a in axes]
        self.normalize = bool(normalize)

    def _resolve(self, r1, r2):
        pair = [self.axes, self.axes] if isinstance(self.axes, int) else self.axes
        out = [a % r if a < 0 else a for a, r in zip(pair, (r1, r2))]
        if not (1 <= out[0] < r1 and 1 <= out[1] < r2):
            raise ValueError(f"Dot '{self.name}': axes {self.axes} do not fit inputs of ranks {r1} and {r2} "
                             "(the batch axis 0 cannot be contracted)")
        return out

    def build(self, input_shape):
        self._check_list(input_shape)
        s1, s2 = input_shape
        a1, a2 = self._resolve(len(s1), len(s2))
        if s1[a1] is not None and s2[a2] is not None and s1[a1] != s2[a2]:
            raise ValueError(f"Dot '{self.name}': incompatible sizes {s1[a1]} (axis {a1}) and {s2[a2]} "
                             f"(axis {a2}); received shapes {tuple(s1)} and {tuple(s2)}")
        super().build(input_shape)

    def compute_output_shape(self, input_shape):
        s1, s2 = [list(s) for s in input_shape]
        a1, a2 = self._resolve(len(s1), len(s2))
        s1.pop(a1)
        s2.pop(a2)
        out = s1 + s2[1:]
        return tuple(out + [1] if len(out) == 1 else out)

    def compute_mask(self, inputs, mask):
        return None

    @staticmethod
    def _l2(x, axis):
        inv = 1.0 / np.sqrt(np.maximum((x * x).sum(axis=axis, keepdims=True), 1e-14))
        return x * inv, inv

    def forward(self, inputs, mask=None, training=False, **kwargs):
        self._check_list(inputs)
        x1, x2 = (self._convert_input(x) for x in inputs)
        a1, a2 = self._resolve(x1.ndim, x2.ndim)
        if x1.shape[a1] != x2.shape[a2] or x1.shape[0] != x2.shape[0]:
            raise ValueError(f"Dot '{self.name}': cannot contract axis {a1} of {x1.shape} with axis {a2} "
                             f"of {x2.shape}")
        norms = None
        if self.normalize:
            (x1, i1), (x2, i2) = self._l2(x1, a1), self._l2(x2, a2)
            norms = (x1, i1, x2, i2)
        m1 = np.moveaxis(x1, a1, -1)
        m2 = np.moveaxis(x2, a2, 1)
        b, kdim = x1.shape[0], x1.shape[a1]
        p1 = m1.reshape(b, -1, kdim)
        p2 = m2.reshape(b, kdim, -1)
        out = (p1 @ p2).reshape(m1.shape[:-1] + m2.shape[2:])
        if out.ndim == 1:
            out = out[:, None]
        return out, (p1, p2, m1.shape, m2.shape, (a1, a2), norms)

    def backward(self, grad_outputs, cache):
        p1, p2, sh1, sh2, (a1, a2), norms = cache
        g = np.asarray(grad_outputs).reshape(p1.shape[0], p1.shape[1], p2.shape[2])
        d1 = np.moveaxis((g @ p2.transpose(0, 2, 1)).reshape(sh1), -1, a1)
        d2 = np.moveaxis((p1.transpose(0, 2, 1) @ g).reshape(sh2), 1, a2)
        if norms is not None:
            n1, i1, n2, i2 = norms
            d1 = i1 * (d1 - n1 * (d1 * n1).sum(axis=a1, keepdims=True))
            d2 = i2 * (d2 - n2 * (d2 * n2).sum(axis=a2, keepdims=True))
        self._set_grads([])
        return [d1, d2]

    def get_config(self):
        return {**super().get_config(), "axes": self.axes, "normalize": self.normalize}


class Softmax(Layer):
    """Softmax over ``axis`` (an int or a tuple of axes).

    ``mask`` (broadcast against the input from the right, as in Keras): masked entries get
    no probability, and an all-masked slice gives zeros.
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, (list, tuple)):
            axis = tuple(int(a) for a in axis)
        elif not isinstance(axis, (int, np.integer)) or isinstance(axis, bool):
            raise TypeError(f"Softmax: axis must be an integer or a tuple of them; received {axis!r}")
        else:
            axis = int(axis)
        self.axis = axis

    def forward(self, inputs, mask=None, training=False, **kwargs):
        x = self._convert_input(inputs)
        keep = None
        if mask is not None:
            m = np.asarray(mask)
            if m.ndim > x.ndim or any(a != 1 and a != b for a, b in zip(m.shape[::-1], x.shape[::-1])):
                raise ValueError(f"Softmax '{self.name}': the mask must broadcast to the inputs {x.shape}; "
                                 f"received mask shape {m.shape}")
            keep = m > 0.5 if m.dtype != bool else m
            x = np.where(keep, x, x.dtype.type(-_NEG))
        y = softmax(x, axis=self.axis)
        if keep is not None:
            y = np.where(keep, y, y.dtype.type(0))
        return y, (y, keep)

    def backward(self, grad_outputs, cache):
        y, keep = cache
        self._set_grads([])
        dx = softmax_backward(y, np.asarray(grad_outputs), axis=self.axis)
        return dx if keep is None else np.where(keep, dx, dx.dtype.type(0))

    def get_config(self):
        return {**super().get_config(), "axis": list(self.axis) if isinstance(self.axis, tuple) else self.axis}
