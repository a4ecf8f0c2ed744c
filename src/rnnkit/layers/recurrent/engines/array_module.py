"""The cells' equations on any NumPy-like array module: the GPU engine (CuPy).

``ArrayEngine(xp)`` runs SimpleRNN (tanh), LSTM and GRU (``reset_after=True``;
tanh/sigmoid) on the array module ``xp``: with ``xp = cupy`` (``pip install
"rnnkit[gpu]"``) every product is a cuBLAS GEMM, each step's gates are one fused
elementwise kernel (``cupy.fuse``), and the whole time loop stays on the device; only
the inputs, the outputs and the gradients cross the bus. With ``xp = numpy`` the same
code runs on the CPU, which is how the tests hold it equal to the reference engine on
machines without a GPU.

Layout: time-major and batch-major, ``(T, B, ...)``, gate blocks in Keras' column order
(the cell modules' ``CellSpec``). Per call: one GEMM for every input projection, the
recurrent product ``h @ U`` per step, and after the loop one GEMM each for the weight
gradients. The equations are those of the cell modules (``lstm.py``, ``gru.py``,
``simple_rnn.py``), written here once more on ``xp``.
"""
from __future__ import annotations

import numpy as np

from .base import Engine, Output, Run, fast_supported


def _sig(z, xp):
    return 0.5 * xp.tanh(0.5 * z) + 0.5


def _fused(xp):
    """The per-step gate functions, fused into one kernel each where ``xp`` can (CuPy)."""
    def lstm_gates(zi, zf, zc, zo, c_prev):
        i, f, g, o = _sig(zi, xp), _sig(zf, xp), xp.tanh(zc), _sig(zo, xp)
        c = f * c_prev + i * g
        return i, f, g, o, c, xp.tanh(c)

    def gru_gates(xz, xr, xh, mz, mr, mh, h_prev):
        z, r = _sig(xz + mz, xp), _sig(xr + mr, xp)
        hh = xp.tanh(xh + r * mh)
        return z, r, hh, z * h_prev + (1 - z) * hh

    fuse = getattr(xp, "fuse", None)
    if fuse is not None:  # CuPy: one elementwise kernel per call
        return fuse()(lstm_gates), fuse()(gru_gates)
    return lstm_gates, gru_gates


class ArrayEngine(Engine):
    """The cells on the array module ``xp`` (see the module)."""

    def __init__(self, xp, name: str):
        self.xp, self.name = xp, name
        self._lstm_gates, self._gru_gates = _fused(xp)

    def supports(self, layer) -> bool:
        return fast_supported(layer)

    # -------------------------------------------------------------- transfers
    def _dev(self, a, dtype=None):
        return None if a is None else self.xp.asarray(a, dtype=dtype)

    def _host(self, a):
        xp = self.xp
        return a if xp is np else xp.asnumpy(a)

    # ---------------------------------------------------------------- forward
    def forward(self, layer, run: Run, train: bool) -> Output:
        xp, dt = self.xp, layer.dtype
        x = run.x[:, ::-1] if run.reverse else run.x
        xs = self._dev(np.ascontiguousarray(x.transpose(1, 0, 2)), dt)  # (T, B, D)
        if run.dp is not None:
            xs = xs * self._dev(run.dp, dt)
        steps, batch, dim = xs.shape
        units, name = layer.units, layer.cell_spec.name
        W, U = self._dev(layer.kernel, dt), self._dev(layer.recurrent_kernel, dt)
        bias = self._dev(layer.bias, dt)
        b_in = None if bias is None else (bias[0] if name == "gru" else bias)
        G = (xs.reshape(steps * batch, dim) @ W).reshape(steps, batch, -1)
        if b_in is not None:
            G += b_in
        mt = None if run.mt is None else self._dev(run.mt)
        rd = self._dev(run.rdp, dt)
        states = [self._dev(s, dt) for s in run.states0]
        H = xp.empty((steps, batch, units), dt)
        keep = {}
        if name == "lstm":
            I, F, Gc, O, C, TC = (xp.empty((steps, batch, units), dt) for _ in range(6))
            h, c = states
            for t in range(steps):
                z = G[t] + (h if rd is None else h * rd) @ U
                i, f, g, o, c_new, tc = self._lstm_gates(z[:, :units], z[:, units:2 * units],
                                                         z[:, 2 * units:3 * units], z[:, 3 * units:], c)
                h_new = o * tc
                if mt is not None:
                    h_new, c_new = xp.where(mt[t], h_new, h), xp.where(mt[t], c_new, c)
                I[t], F[t], Gc[t], O[t], C[t], TC[t], H[t] = i, f, g, o, c_new, tc, h_new
                h, c = H[t], C[t]
            finals = [h, c]
            keep = dict(I=I, F=F, Gc=Gc, O=O, C=C, TC=TC)
        elif name == "gru":
            b_rec = None if bias is None else bias[1]
            Z, R, HH, MH = (xp.empty((steps, batch, units), dt) for _ in range(4))
            h = states[0]
            for t in range(steps):
                m = (h if rd is None else h * rd) @ U
                if b_rec is not None:
                    m = m + b_rec
                g = G[t]
                z, r, hh, h_new = self._gru_gates(g[:, :units], g[:, units:2 * units], g[:, 2 * units:],
                                                  m[:, :units], m[:, units:2 * units], m[:, 2 * units:], h)
                if mt is not None:
                    h_new = xp.where(mt[t], h_new, h)
                Z[t], R[t], HH[t], MH[t], H[t] = z, r, hh, m[:, 2 * units:], h_new
                h = H[t]
            finals = [h]
            keep = dict(Z=Z, R=R, HH=HH, MH=MH)
        else:
            h = states[0]
            for t in range(steps):
                h_new = xp.tanh(G[t] + (h if rd is None else h * rd) @ U)
                if mt is not None:
                    h_new = xp.where(mt[t], h_new, h)
                H[t] = h_new
                h = H[t]
            finals = [h]
        seq = self._host(H).transpose(1, 0, 2) if layer.return_sequences else np.empty((0, 0, 0), dt)
        state = None
        if train:
            state = dict(keep, xs=xs, H=H, h0=states[0], c0=states[1] if name == "lstm" else None,
                         mt=mt, rd=rd, dp=run.dp, reverse=run.reverse, W=W, U=U)
        # NumPy: H is kept for backward, so the caller gets a copy; CuPy: already a copy.
        return Output(seq, [self._host(f).copy() for f in finals], xp is not np, state)

    # --------------------------------------------------------------- backward
    def backward(self, layer, state, dseq, out_mask, dfinals, input_grad=True):
        xp, dt = self.xp, layer.dtype
        s = state
        xs, H, mt, rd, W, U = s["xs"], s["H"], s["mt"], s["rd"], s["W"], s["U"]
        steps, batch, dim = xs.shape
        units, name = layer.units, layer.cell_spec.name
        dH = None
        if dseq is not None:
            dH = self._dev(np.ascontiguousarray(dseq.transpose(1, 0, 2)), dt)
            if out_mask is not None:
                dH = dH * self._dev(out_mask, dt)
        zero = xp.zeros((batch, units), dt)
        dh = zero.copy() if dfinals[0] is None else self._dev(dfinals[0], dt).copy()
        n_gates = len(layer.cell_spec.gates)
        dX = xp.empty((steps, batch, n_gates * units), dt)   # dL/d(input projections)
        dM = dX if name != "gru" else xp.empty_like(dX)       # dL/d(recurrent products)
        if name == "lstm":
            dc = zero.copy() if dfinals[1] is None else self._dev(dfinals[1], dt).copy()
        for t in range(steps - 1, -1, -1):
            if dH is not None:
                dh = dh + dH[t]
            if mt is not None:
                m = mt[t]
                h_pass = xp.where(m, 0, dh)
                dh = xp.where(m, dh, 0)
                if name == "lstm":
                    c_pass = xp.where(m, 0, dc)
                    dc = xp.where(m, dc, 0)
            h_prev = s["h0"] if t == 0 else H[t - 1]
            if name == "lstm":
                i, f, g, o, tc = s["I"][t], s["F"][t], s["Gc"][t], s["O"][t], s["TC"][t]
                c_prev = s["c0"] if t == 0 else s["C"][t - 1]
                dc = dc + dh * o * (1 - tc * tc)
                d = dX[t]
                d[:, :units] = dc * g * i * (1 - i)
                d[:, units:2 * units] = dc * c_prev * f * (1 - f)
                d[:, 2 * units:3 * units] = dc * i * (1 - g * g)
                d[:, 3 * units:] = dh * tc * o * (1 - o)
                dc = dc * f
                dh = d @ U.T
            elif name == "gru":
                z, r, hh, mh = s["Z"][t], s["R"][t], s["HH"][t], s["MH"][t]
                dzh = dh * (1 - z) * (1 - hh * hh)
                d, dm = dX[t], dM[t]
                d[:, :units] = dh * (h_prev - hh) * z * (1 - z)
                d[:, units:2 * units] = dzh * mh * r * (1 - r)
                d[:, 2 * units:] = dzh
                dm[:, :2 * units] = d[:, :2 * units]
                dm[:, 2 * units:] = dzh * r
                direct = dh * z
                dh = dm @ U.T
            else:
                d = dX[t]
                d[...] = dh * (1 - H[t] * H[t])
                dh = d @ U.T
            if rd is not None:
                dh = dh * rd
            if name == "gru":
                dh = dh + direct
            if mt is not None:
                dh = dh + h_pass
                if name == "lstm":
                    dc = dc + c_pass
        n = steps * batch
        flat, mflat = dX.reshape(n, -1), dM.reshape(n, -1)
        hp = xp.concatenate([s["h0"][None], H[:-1]], axis=0)
        if rd is not None:
            hp = hp * rd
        grads = [xs.reshape(n, dim).T @ flat, hp.reshape(n, units).T @ mflat]
        if layer.use_bias:
            grads.append(xp.stack([flat.sum(0), mflat.sum(0)]) if name == "gru" else flat.sum(0))
        dxs = (flat @ W.T).reshape(steps, batch, dim)
        if s["dp"] is not None:
            dxs = dxs * self._dev(s["dp"], dt)
        dx = self._host(dxs).transpose(1, 0, 2)
        if s["reverse"]:
            dx = dx[:, ::-1]
        dstates = [self._host(dh)] + ([self._host(dc)] if name == "lstm" else [])
        return np.ascontiguousarray(dx), dstates, [self._host(g) for g in grads]


_GPU: ArrayEngine | None = None


def gpu_engine() -> ArrayEngine:
    """The CuPy engine; a clear error where CuPy or a CUDA device is missing."""
    global _GPU
    if _GPU is None:
        try:
            import cupy
        except ImportError as exc:
            raise ValueError("engine 'gpu' needs CuPy and an NVIDIA GPU: pip install "
                             "\"rnnkit[gpu]\" (cupy-cuda12x); CuPy is not installed") from exc
        try:
            cupy.cuda.runtime.getDeviceCount()
        except Exception as exc:  # CUDARuntimeError without a driver or device
            raise ValueError(f"engine 'gpu' needs a CUDA device; CuPy found none ({exc})") from exc
        _GPU = ArrayEngine(cupy, "gpu")
    return _GPU
