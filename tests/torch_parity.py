"""Checks of rnnkit's SimpleRNN / LSTM / GRU against PyTorch's nn.RNN / nn.LSTM / nn.GRU (float64),
run per cell by ``layers/recurrent/test_<cell>.py``.

Weight layouts (torch -> Keras/rnnkit), per layer and direction:

* SimpleRNN / LSTM: ``kernel = weight_ih.T``, ``recurrent_kernel = weight_hh.T``,
  ``bias = bias_ih + bias_hh``; torch's LSTM gate order i, f, g, o is Keras' i, f, c, o.
* GRU: torch's gate order is r, z, n, Keras' is z, r, h; torch's GRU is Keras' GRU with
  ``reset_after=True`` and ``bias`` of shape ``(2, 3 * units)`` = ``[input bias, recurrent bias]``.

Gradients are compared under a random upstream gradient on the output sequence *and* the final
states, for the input, every weight (torch's gradients mapped to Keras' layout) and h0 / c0.
"""
from __future__ import annotations

import zlib

import numpy as np

import torch  # callers skip where torch is missing

from rnnkit.keras import layers  # noqa: E402

B, T, F, U = 3, 6, 4, 5
TOL = 1e-10
TORCH_CLS = {"rnn": "RNN", "lstm": "LSTM", "gru": "GRU"}


def _rnnkit_layer(kind: str, **kwargs):
    kwargs.setdefault("dtype", "float64")
    if kind == "rnn":
        return layers.SimpleRNN(U, activation="tanh", **kwargs)
    if kind == "lstm":
        return layers.LSTM(U, **kwargs)
    return layers.GRU(U, reset_after=True, **kwargs)


def _torch_module(kind: str, rng, num_layers=1, bidirectional=False):
    kwargs = dict(input_size=F, hidden_size=U, num_layers=num_layers, batch_first=True,
                  bidirectional=bidirectional)
    if kind == "rnn":
        kwargs["nonlinearity"] = "tanh"
    mod = getattr(torch.nn, TORCH_CLS[kind])(**kwargs).double()
    with torch.no_grad():
        for p in mod.parameters():
            p.copy_(torch.from_numpy(rng.normal(0.0, 0.5, tuple(p.shape))))
    return mod


def _gru_perm() -> np.ndarray:
    idx = np.arange(3 * U)
    return np.concatenate([idx[U:2 * U], idx[:U], idx[2 * U:]])  # (r, z, n) -> (z, r, n)


def _keras_layout(kind, w_ih, w_hh, b_ih, b_hh, grads=False):
    if kind == "gru":
        p = _gru_perm()
        return [w_ih[p].T, w_hh[p].T, np.stack([b_ih[p], b_hh[p]])]
    if grads:  # d(b_ih + b_hh): both torch biases get the same gradient
        np.testing.assert_allclose(b_ih, b_hh, rtol=0, atol=1e-12)
        return [w_ih.T, w_hh.T, b_ih]
    return [w_ih.T, w_hh.T, b_ih + b_hh]


def torch_weights(kind, mod, suffix, grads=False) -> list[np.ndarray]:
    names = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"]
    ps = [getattr(mod, f"{n}{suffix}") for n in names]
    arrs = [(p.grad if grads else p).detach().numpy().copy() for p in ps]
    return _keras_layout(kind, *arrs, grads=grads)


def assert_close(got, want, what, tol=TOL):
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape, f"{what}: shape {got.shape} != torch {want.shape}"
    scale = max(1.0, np.abs(want).max())
    err = np.abs(got - want).max() / scale
    assert err <= tol, f"{what}: max error {err:.3e} > {tol:.0e}\nrnnkit:\n{got}\ntorch:\n{want}"


def _as_list(y):
    return list(y) if isinstance(y, (list, tuple)) else [y]


def run_torch(kind, mod, x, h0, c0, dout, dhn, dcn, lengths=None):
    xt = torch.tensor(x, requires_grad=True)
    h0t = torch.tensor(h0, requires_grad=True)
    c0t = torch.tensor(c0, requires_grad=True) if kind == "lstm" else None
    inp = xt
    if lengths is not None:
        inp = torch.nn.utils.rnn.pack_padded_sequence(xt, torch.tensor(lengths), batch_first=True,
                                                      enforce_sorted=False)
    out, hn = mod(inp, (h0t, c0t) if kind == "lstm" else h0t)
    if lengths is not None:
        out, _ = torch.nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=T)
    cn = None
    if kind == "lstm":
        hn, cn = hn
    loss = (out * torch.tensor(dout)).sum() + (hn * torch.tensor(dhn)).sum()
    if kind == "lstm":
        loss = loss + (cn * torch.tensor(dcn)).sum()
    loss.backward()
    res = {"out": out.detach().numpy(), "hn": hn.detach().numpy(), "dx": xt.grad.numpy(),
           "dh0": h0t.grad.numpy()}
    if kind == "lstm":
        res.update(cn=cn.detach().numpy(), dc0=c0t.grad.numpy())
    return res


def run_rnnkit(kind, mod, x, h0, c0, dout, dhn, dcn, num_layers, bidirectional, mask=None):
    """Stack of rnnkit layers equivalent to ``mod``; returns outputs and gradients in torch layout."""
    ndir = 2 if bidirectional else 1
    lstm = kind == "lstm"
    stack = []
    for l in range(num_layers):
        inner = _rnnkit_layer(kind, return_sequences=True, return_state=True)
        layer = layers.Bidirectional(inner, merge_mode="concat", dtype="float64") if bidirectional \
            else inner
        layer.build((None, T, F if l == 0 else ndir * U))
        ws = []
        for d in range(ndir):
            ws += torch_weights(kind, mod, f"_l{l}" + ("_reverse" if d else ""))
        layer.set_weights(ws)
        assert len(layer.get_weights()) == 3 * ndir
        stack.append(layer)

    def states_of(l, arrays_h, arrays_c):
        s = []
        for d in range(ndir):
            s.append(arrays_h[l * ndir + d])
            if lstm:
                s.append(arrays_c[l * ndir + d])
        return s

    hn = np.zeros_like(h0)
    cn = np.zeros_like(h0)
    caches = []
    seq = x
    for l, layer in enumerate(stack):
        init = states_of(l, h0, c0)
        kwargs = {"initial_state": init, "training": False}
        if mask is not None:
            kwargs["mask"] = mask
        eager = _as_list(layer(seq, **kwargs))
        outs, cache = layer.forward(seq, **kwargs)
        outs = _as_list(outs)
        assert len(outs) == 1 + len(init)
        for i, (a, b) in enumerate(zip(outs, eager)):
            np.testing.assert_array_equal(a, b, err_msg=f"layer {l}: forward output {i} != eager")
        caches.append(cache)
        states = outs[1:]
        per_dir = 2 if lstm else 1
        for d in range(ndir):
            hn[l * ndir + d] = states[d * per_dir]
            if lstm:
                cn[l * ndir + d] = states[d * per_dir + 1]
        seq = outs[0]
    out = seq

    dh0 = np.zeros_like(h0)
    dc0 = np.zeros_like(h0)
    grads = [None] * num_layers
    dseq = dout
    for l in reversed(range(num_layers)):
        g_out = [dseq] + states_of(l, dhn, dcn)
        res = stack[l].backward(g_out, caches[l])
        assert isinstance(res, (list, tuple)) and len(res) == len(g_out), \
            "with initial_state, backward must return [dx, d_state_0, ...]"
        dseq = res[0]
        per_dir = 2 if lstm else 1
        for d in range(ndir):
            dh0[l * ndir + d] = res[1 + d * per_dir]
            if lstm:
                dc0[l * ndir + d] = res[2 + d * per_dir]
        grads[l] = [np.asarray(g) for g in stack[l].grads]
    res = {"out": out, "hn": hn, "dx": dseq, "dh0": dh0, "grads": grads}
    if lstm:
        res.update(cn=cn, dc0=dc0)
    return res


def _compare(kind, mod, got, want, num_layers, bidirectional, out_mask=None):
    out = got["out"] if out_mask is None else got["out"] * out_mask[..., None]
    assert_close(out, want["out"], "output sequence")
    assert_close(got["hn"], want["hn"], "final h")
    assert_close(got["dx"], want["dx"], "dL/dx")
    assert_close(got["dh0"], want["dh0"], "dL/dh0")
    if kind == "lstm":
        assert_close(got["cn"], want["cn"], "final c")
        assert_close(got["dc0"], want["dc0"], "dL/dc0")
    for l in range(num_layers):
        want_g = []
        for d in range(2 if bidirectional else 1):
            want_g += torch_weights(kind, mod, f"_l{l}" + ("_reverse" if d else ""), grads=True)
        assert len(got["grads"][l]) == len(want_g)
        for i, (g, w) in enumerate(zip(got["grads"][l], want_g)):
            assert_close(g, w, f"layer {l}: dL/dweight[{i}]")


def check_matches_torch(kind, bidirectional, num_layers):
    rng = np.random.default_rng(zlib.crc32(f"{kind}-{bidirectional}-{num_layers}".encode()))
    mod = _torch_module(kind, rng, num_layers, bidirectional)
    ndir = 2 if bidirectional else 1
    x = rng.normal(0.0, 1.0, (B, T, F))
    h0 = rng.normal(0.0, 0.5, (num_layers * ndir, B, U))
    c0 = rng.normal(0.0, 0.5, (num_layers * ndir, B, U))
    dout = rng.normal(0.0, 1.0, (B, T, ndir * U))
    dhn = rng.normal(0.0, 1.0, h0.shape)
    dcn = rng.normal(0.0, 1.0, h0.shape)
    want = run_torch(kind, mod, x, h0, c0, dout, dhn, dcn)
    got = run_rnnkit(kind, mod, x, h0, c0, dout, dhn, dcn, num_layers, bidirectional)
    _compare(kind, mod, got, want, num_layers, bidirectional)


def check_post_padded_mask_matches_packed_sequence(kind, bidirectional):
    """Keras masks with post-padding == torch packed sequences (valid steps and final states).

    Plain Keras layers repeat the last valid output at padded steps (torch writes zeros), so
    for them only valid steps are compared and the upstream gradient is zero on padded steps;
    Bidirectional zeroes padded outputs like torch, so everything is compared there.
    """
    rng = np.random.default_rng(7 + 31 * bidirectional + len(kind))
    mod = _torch_module(kind, rng, 1, bidirectional)
    ndir = 2 if bidirectional else 1
    lengths = [T, 3, 1]
    mask = np.arange(T)[None, :] < np.array(lengths)[:, None]
    x = rng.normal(0.0, 1.0, (B, T, F))
    h0 = rng.normal(0.0, 0.5, (ndir, B, U))
    c0 = rng.normal(0.0, 0.5, (ndir, B, U))
    dout = rng.normal(0.0, 1.0, (B, T, ndir * U))
    if not bidirectional:
        dout = dout * mask[..., None]
    dhn = rng.normal(0.0, 1.0, h0.shape)
    dcn = rng.normal(0.0, 1.0, h0.shape)
    want = run_torch(kind, mod, x, h0, c0, dout, dhn, dcn, lengths=lengths)
    got = run_rnnkit(kind, mod, x, h0, c0, dout, dhn, dcn, 1, bidirectional, mask=mask)
    _compare(kind, mod, got, want, 1, bidirectional, out_mask=None if bidirectional else mask)
    assert np.all(got["dx"][~mask] == 0.0), "padded steps must get zero input gradient"


def check_last_output_only_matches_torch(kind):
    """return_sequences=False, default (zero) initial state, gradient only through out[:, -1]."""
    rng = np.random.default_rng(99 + len(kind))
    mod = _torch_module(kind, rng)
    x = rng.normal(0.0, 1.0, (B, T, F))
    dlast = rng.normal(0.0, 1.0, (B, U))
    xt = torch.tensor(x, requires_grad=True)
    out, _ = mod(xt)
    (out[:, -1] * torch.tensor(dlast)).sum().backward()

    layer = _rnnkit_layer(kind)
    layer.build((None, T, F))
    layer.set_weights(torch_weights(kind, mod, "_l0"))
    y = layer(x)
    assert_close(y, out[:, -1].detach().numpy(), "last output")
    y2, cache = layer.forward(x)
    np.testing.assert_array_equal(y2, y)
    dx = layer.backward(dlast, cache)
    assert_close(dx, xt.grad.numpy(), "dL/dx")
    for i, (g, w) in enumerate(zip(layer.grads, torch_weights(kind, mod, "_l0", grads=True))):
        assert_close(g, w, f"dL/dweight[{i}]")
