"""MultiHeadAttention, with Keras 3's call signature and weight layout.

``mha(query, value, key=None, attention_mask=None, return_attention_scores=False,
use_causal_mask=False)``: ``query (batch, T, dq)``, ``value (batch, S, dv)``, ``key (batch,
S, dk)`` (``value`` when absent). Output ``(batch, T, dq)`` (or ``output_shape``), plus the
``(batch, heads, T, S)`` attention weights with ``return_attention_scores=True``.

Weights, in Keras' order: ``query/kernel (dq, heads, key_dim)``, ``query/bias (heads,
key_dim)``, the same for ``key`` and for ``value`` (``value_dim``), then
``attention_output/kernel (heads, value_dim, dq)`` and ``attention_output/bias (dq,)``.

Masks: the query's, value's and key's masks (passed along the graph, or ``mask=[...]``),
``attention_mask (batch, T, S)`` and the causal mask combine with AND; a query step whose
whole row is masked gets zero weights (its output is the output bias).
"""
from __future__ import annotations

import math

import numpy as np

from .. import backend, initializers
from .attention import _NEG, _ListInputLayer, causal_mask, softmax, softmax_backward


def _positive(value, arg, allow_none=False):
    if value is None and allow_none:
        return None
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value <= 0:
        raise ValueError(f"MultiHeadAttention: {arg} must be a positive integer; received {value!r}")
    return int(value)


class MultiHeadAttention(_ListInputLayer):
    """Scaled dot-product attention with ``num_heads`` heads of size ``key_dim``."""

    _input_names = " [query, value] or [query, value, key]"

    def __init__(self, num_heads: int, key_dim: int, value_dim: int | None = None, dropout: float = 0.0,
                 use_bias: bool = True, output_shape=None, attention_axes=None, sliding_window=None,
                 flash_attention=None, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, use_gate: bool = False, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = _positive(num_heads, "num_heads")
        self.key_dim = _positive(key_dim, "key_dim")
        self.value_dim = _positive(value_dim, "value_dim", allow_none=True) or self.key_dim
        if not isinstance(dropout, (int, float)) or isinstance(dropout, bool) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"MultiHeadAttention: dropout must be a float in [0, 1); received {dropout!r}")
        self.dropout = float(dropout)
        self.use_bias = bool(use_bias)
        if isinstance(output_shape, (int, np.integer)):
            output_shape = (int(output_shape),)
        if output_shape is not None and (not isinstance(output_shape, (list, tuple)) or len(output_shape) != 1):
            raise NotImplementedError("MultiHeadAttention: output_shape must be an integer (one output "
                                      f"dimension) in rnnkit; received {output_shape!r}")
        self.output_shape_arg = None if output_shape is None else (int(output_shape[0]),)
        for arg, val in (("attention_axes", attention_axes), ("sliding_window", sliding_window),
                         ("kernel_regularizer", kernel_regularizer), ("bias_regularizer", bias_regularizer),
                         ("activity_regularizer", activity_regularizer), ("kernel_constraint", kernel_constraint),
                         ("bias_constraint", bias_constraint)):
            if val is not None:
                raise NotImplementedError(f"MultiHeadAttention: {arg} is not supported by rnnkit yet; "
                                          f"received {val!r}")
        if use_gate:
            raise NotImplementedError("MultiHeadAttention: use_gate=True is not supported by rnnkit yet")
        self.flash_attention = flash_attention
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.seed = seed
        self._rng = backend.make_rng(seed)
        self._scale = 1.0 / math.sqrt(float(self.key_dim))

    # ------------------------------------------------------------------ calling
    def __call__(self, query=None, value=None, key=None, **kwargs):
        if isinstance(query, (list, tuple)) and value is None:
            inputs = list(query)  # mha([query, value(, key)]), as models call it
        else:
            if query is None or value is None:
                raise ValueError("MultiHeadAttention must be called as mha(query, value) or "
                                 "mha(query, value, key)")
            inputs = [query, value] + ([] if key is None else [key])
        explicit = [kwargs.pop(k, None) for k in ("query_mask", "value_mask", "key_mask")]
        if any(m is not None for m in explicit):
            kwargs["mask"] = explicit[:len(inputs)]
        return super().__call__(inputs, **kwargs)

    # ------------------------------------------------------------------- shapes
    def build(self, input_shape):
        self._check_list(input_shape)
        q, v = input_shape[0], input_shape[1]
        k = input_shape[2] if len(input_shape) > 2 else v
        for s in (q, v, k):
            if len(s) != 3 or s[-1] is None:
                raise ValueError(f"MultiHeadAttention '{self.name}' expects inputs of shape (batch, steps, "
                                 f"dim) with known dims; received {[tuple(t) for t in input_shape]}")
        if v[1] is not None and k[1] is not None and v[1] != k[1]:
            raise ValueError(f"MultiHeadAttention '{self.name}': value and key must have the same number of "
                             f"steps; received value {tuple(v)} and key {tuple(k)}")
        n, h, hv = self.num_heads, self.key_dim, self.value_dim
        out_dim = self.output_shape_arg[0] if self.output_shape_arg else q[-1]
        rng = backend.make_rng(self.seed)
        for name, dim, size in (("query", q[-1], h), ("key", k[-1], h), ("value", v[-1], hv)):
            # Initialize as the 2-D (dim, heads * size) projection it is, so fans match Keras'.
            kern = self.kernel_initializer((dim, n * size), self.dtype, rng).reshape(dim, n, size)
            self._add_array(f"{name}/kernel", kern)
            if self.use_bias:
                self._add_array(f"{name}/bias", self.bias_initializer((n, size), self.dtype, rng))
        kern = self.kernel_initializer((n * hv, out_dim), self.dtype, rng).reshape(n, hv, out_dim)
        self._add_array("attention_output/kernel", kern)
        if self.use_bias:
            self._add_array("attention_output/bias", self.bias_initializer((out_dim,), self.dtype, rng))
        super().build(input_shape)

    def _add_array(self, name, value):
        self._params.append((name, np.ascontiguousarray(value, dtype=self.dtype), True))
        self._grads.append(None)

    def _proj(self, name):
        """(kernel, bias or None) of one projection."""
        kern = self._param(f"{name}/kernel")
        return kern, (self._param(f"{name}/bias") if self.use_bias else None)

    def compute_output_shape(self, input_shape):
        q, v = input_shape[0], input_shape[1]
        out = tuple(q[:-1]) + ((self.output_shape_arg[0],) if self.output_shape_arg else (q[-1],))
        if self._symbolic_scores:
            return [out, (q[0], self.num_heads, q[1], v[1])]
        return out

    def compute_mask(self, inputs, mask):
        if mask is None or not isinstance(mask, (list, tuple)) or mask[0] is None:
            return None
        return np.asarray(mask[0], bool)

    # ------------------------------------------------------------------ running
    def _keep(self, mask, attention_mask, use_causal_mask, b, t, s, n_in):
        keep = None

        def both(a, m):
            return m if a is None else a & m

        if mask is not None:
            if not isinstance(mask, (list, tuple)):
                raise ValueError(f"MultiHeadAttention '{self.name}': mask must be a list [query_mask, "
                                 f"value_mask(, key_mask)]; received {type(mask).__name__}")
            for i, (m, steps, what) in enumerate(zip(mask, (t, s, s), ("query", "value", "key"))):
                if m is None or i >= n_in:
                    continue
                m = np.asarray(m, bool)
                if m.shape != (b, steps):
                    raise ValueError(f"MultiHeadAttention '{self.name}': the {what} mask must have shape "
                                     f"({b}, {steps}); received {m.shape}")
                keep = both(keep, m[:, :, None] if i == 0 else m[:, None, :])
        if use_causal_mask:
            keep = both(keep, causal_mask(t, s))
        if attention_mask is not None:
            am = np.asarray(attention_mask)
            try:
                am = np.broadcast_to(am.astype(bool), (b, t, s))
            except ValueError:
                raise ValueError(f"MultiHeadAttention '{self.name}': attention_mask must broadcast to "
                                 f"(batch, T, S) = ({b}, {t}, {s}); received {am.shape}") from None
            keep = both(keep, am)
        return None if keep is None else np.broadcast_to(keep, (b, t, s))[:, None]

    def forward(self, inputs, mask=None, training=False, attention_mask=None, return_attention_scores=False,
                use_causal_mask=False, **kwargs):
        if kwargs:
            raise TypeError(f"MultiHeadAttention.forward got unexpected argument(s) {sorted(kwargs)}")
        self._check_list(inputs)
        xs = [self._convert_input(x) for x in inputs]
        for x in xs:
            if x.ndim != 3:
                self._check_rank(x, 3, "(batch, steps, dim)")
        q_in, v_in = xs[0], xs[1]
        k_in = xs[2] if len(xs) > 2 else v_in
        b, t, s = q_in.shape[0], q_in.shape[1], v_in.shape[1]
        if k_in.shape[:2] != v_in.shape[:2] or q_in.shape[0] != b:
            raise ValueError(f"MultiHeadAttention '{self.name}': incompatible shapes query {q_in.shape}, "
                             f"value {v_in.shape}, key {k_in.shape}")
        n, h, hv = self.num_heads, self.key_dim, self.value_dim
        projected = []
        for name, x, size in (("query", q_in, h), ("key", k_in, h), ("value", v_in, hv)):
            kern, bias = self._proj(name)
            self._check_last_dim(x, kern.shape[0], f"{name} dim")
            p = x.reshape(-1, x.shape[-1]) @ kern.reshape(kern.shape[0], -1)
            if bias is not None:
                p += bias.reshape(-1)
            projected.append(p.reshape(b, x.shape[1], n, size).transpose(0, 2, 1, 3))  # (b, n, steps, size)
        qh, kh, vh = projected
        scores = (qh * self._scale) @ kh.transpose(0, 1, 3, 2)  # (b, n, t, s)
        keep = self._keep(mask, attention_mask, use_causal_mask, b, t, s, len(xs))
        if keep is not None:
            scores = np.where(keep, scores, scores.dtype.type(-_NEG))
        p = softmax(scores)
        if keep is not None:
            p = np.where(keep, p, p.dtype.type(0))
        drop = None
        if training and self.dropout > 0:
            drop = (self._rng.random(p.shape) >= self.dropout).astype(p.dtype) / (1.0 - self.dropout)
        pd = p if drop is None else p * drop
        o = (pd @ vh).transpose(0, 2, 1, 3).reshape(b * t, n * hv)
        okern, obias = self._proj("attention_output")
        y = o @ okern.reshape(n * hv, -1)
        if obias is not None:
            y += obias
        y = y.reshape(b, t, -1)
        cache = (xs, qh, kh, vh, p, drop, pd, keep, o)
        return ([y, p] if return_attention_scores else y), cache

    def backward(self, grad_outputs, cache):
        xs, qh, kh, vh, p, drop, pd, keep, o = cache
        if isinstance(grad_outputs, (list, tuple)):
            g, g_scores = grad_outputs[0], grad_outputs[1]
        else:
            g, g_scores = grad_outputs, None
        n, hv = self.num_heads, self.value_dim
        b, t = qh.shape[0], qh.shape[2]
        okern, obias = self._proj("attention_output")
        out_dim = okern.shape[-1]
        g2 = np.zeros((b * t, out_dim), o.dtype) if g is None else np.asarray(g).reshape(b * t, out_dim)
        grads = {"attention_output/kernel": (o.T @ g2).reshape(okern.shape)}
        if obias is not None:
            grads["attention_output/bias"] = g2.sum(axis=0)
        do = (g2 @ okern.reshape(n * hv, -1).T).reshape(b, t, n, hv).transpose(0, 2, 1, 3)
        dvh = pd.transpose(0, 1, 3, 2) @ do
        dp = do @ vh.transpose(0, 1, 3, 2)
        if drop is not None:
            dp = dp * drop
        if g_scores is not None:
            dp = dp + np.asarray(g_scores)
        ds = softmax_backward(p, dp)
        if keep is not None:
            ds = np.where(keep, ds, ds.dtype.type(0))
        dqh = (ds @ kh) * self._scale
        dkh = ds.transpose(0, 1, 3, 2) @ (qh * self._scale)
        dxs = {}
        for name, x, d in (("query", xs[0], dqh), ("key", xs[2] if len(xs) > 2 else xs[1], dkh),
                           ("value", xs[1], dvh)):
            kern, bias = self._proj(name)
            d2 = d.transpose(0, 2, 1, 3).reshape(-1, kern.shape[1] * kern.shape[2])
            grads[f"{name}/kernel"] = (x.reshape(-1, x.shape[-1]).T @ d2).reshape(kern.shape)
            if bias is not None:
                grads[f"{name}/bias"] = d2.sum(axis=0).reshape(bias.shape)
            dxs[name] = (d2 @ kern.reshape(kern.shape[0], -1).T).reshape(x.shape)
        self._set_grads([grads[name] for name, _, _ in self._params])
        if len(xs) > 2:
            return [dxs["query"], dxs["value"], dxs["key"]]
        return [dxs["query"], dxs["value"] + dxs["key"]]

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout, "use_bias": self.use_bias,
                "output_shape": None if self.output_shape_arg is None else list(self.output_shape_arg),
                "attention_axes": None, "sliding_window": None, "flash_attention": self.flash_attention,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "use_gate": False, "seed": self.seed}

