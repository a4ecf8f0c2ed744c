"""Optional compiled inference kernels (``pip install "rnnkit[jit]"``, Numba).

NumPy pays ~0.5-1 us per call, and a recurrent step is ~10 calls: with small
batches (one review scored from the CLI, a served model) that overhead is the
whole cost. These kernels run the recurrence of a whole batch in one compiled
call, one sample at a time, every step's products and gates fused:

    z = P[b, t] + h @ RKT          # P: the input projections (one GEMM, NumPy)
    (gate equations of the cell)   # in float64, see _tanh

They are used for inference only (no caches, no dropout), float32, standard
activations, while ``batch * units`` per core is at most ``MAX_WORK`` (the measured
crossover: beyond it the NumPy kernels' wide vector calls win). With two cores the
batch is split in two halves run at once (the kernels release the GIL). The NumPy kernels are the reference and the tests hold these equal to them.
``RNNKIT_JIT=0`` turns them off; without Numba they are never used.

Gate nonlinearities: ``_tanh`` is a rational approximation evaluated in float64,
``x * P(x^2) / Q(x^2)`` on ``|x| <= 9.1`` (beyond it float32 tanh is +-1), with
relative error below 1.5e-9, so its float32 result is within 0.52 ulp of the
exact tanh (as good as ``np.tanh``). Being plain arithmetic it vectorizes, which
the library ``tanh``/``exp`` do not. ``sigmoid(x) = 0.5 * tanh(x / 2) + 0.5``.
The coefficients were fitted for rnnkit by iteratively reweighted least squares.
"""
from __future__ import annotations

import os

import numpy as np

# batch * units per core up to which the compiled kernels beat the NumPy ones; the
# cells set their own (measured here, 2 cores: SimpleRNN and LSTM ~1536, GRU ~3072).
MAX_WORK = int(os.environ.get("RNNKIT_JIT_MAX_WORK", "1024"))
# Below this many multiply-adds per half batch, a second thread costs more than it saves.
_MIN_SPLIT_MACS = 1 << 18
ENABLED = os.environ.get("RNNKIT_JIT", "1") not in ("0", "false", "False")

_kernels = None
_failed = False


def kernels():
    """The compiled kernels (a namespace), or None when Numba is missing or disabled."""
    global _kernels, _failed
    if _kernels is not None or _failed or not ENABLED:
        return _kernels
    try:
        _kernels = _build()
    except ImportError:
        _failed = True
    return _kernels


def _threads() -> int:
    from . import _fm
    return max(1, min(2, _fm.THREADS))


def usable(dtype, batch: int, units: int, max_work: int | None = None) -> bool:
    """Whether the compiled kernels should run this call; ``max_work`` is the cell's
    own crossover (``batch * units`` per core), ``MAX_WORK`` when None."""
    limit = MAX_WORK if max_work is None or "RNNKIT_JIT_MAX_WORK" in os.environ else max_work
    return (ENABLED and not _failed and np.dtype(dtype) == np.float32 and batch > 0
            and batch * units <= limit * _threads() and kernels() is not None)


def run(kernel, project, x, states, mask, reverse, H, macs_per_sample: int) -> None:
    """``kernel(project(x), *states, mask, reverse, H)`` over the batch.

    With two cores and enough work the batch runs as two halves (row blocks, views)
    on two threads at once: the kernels release the GIL and samples are independent,
    so the results are the same. Each half projects its own inputs with BLAS
    single-threaded meanwhile, since BLAS' idle worker threads would take a core.
    """
    from . import _fm

    batch = x.shape[0]
    half = batch // 2
    if _threads() < 2 or half == 0 or macs_per_sample * half < _MIN_SPLIT_MACS:
        kernel(project(x), *states, mask, reverse, H)
        return

    def part(sl):
        kernel(project(x[sl]), *[s[sl] for s in states], mask if mask.shape[0] == 0 else mask[sl],
               reverse, H if H.shape[0] == 0 else H[sl])

    saved = _fm._blas.get() if _fm._blas.ok else 0
    if saved > 1:
        _fm._blas.set(1)
    try:
        fut = _fm._executor().submit(part, slice(half, batch))
        part(slice(0, half))
        fut.result()
    finally:
        if saved > 1:
            _fm._blas.set(saved)


def _build():
    import numba
    from types import SimpleNamespace

    jit = numba.njit(cache=True, fastmath=False, nogil=True, error_model="numpy")

    @jit
    def _tanh(x):
        # x: float64. Odd rational approximation, clamped where tanh rounds to 1 in float32.
        a = min(max(x, -9.1), 9.1)
        s = a * a
        p = ((((-1.2034374273223651e-11 * s + 3.035658357202068e-08) * s + 2.7912395340753024e-05) * s
              + 0.0038636162400500274) * s + 0.13676155418448158) * s + 0.9999999985571804
        q = (((1.2807261421836785e-06 * s + 0.0003930323924127534) * s + 0.02722859656857935) * s
             + 0.4700948735718367) * s + 1.0
        return a * p / q

    @jit
    def _sigmoid(x):
        return 0.5 * _tanh(0.5 * x) + 0.5

    @jit
    def _add_h_rk(z, h, b, RKT, units, width):
        # z += h[b] @ RKT, four rows of RKT per pass (fewer loads and stores of z).
        k = 0
        while k + 4 <= units:
            h0, h1, h2, h3 = h[b, k], h[b, k + 1], h[b, k + 2], h[b, k + 3]
            for j in range(width):
                z[j] += h0 * RKT[k, j] + h1 * RKT[k + 1, j] + h2 * RKT[k + 2, j] + h3 * RKT[k + 3, j]
            k += 4
        while k < units:
            hk = h[b, k]
            for j in range(width):
                z[j] += hk * RKT[k, j]
            k += 1

    @jit
    def _project(z, P, b, t, h, RKT, units, width):
        # z = P[b, t] + h[b] @ RKT
        for j in range(width):
            z[j] = P[b, t, j]
        _add_h_rk(z, h, b, RKT, units, width)

    @jit
    def simple_rnn(P, RKT, h, mask, reverse, H):
        """h_t = tanh(P[b, t] + h_{t-1} @ RKT); P (B, T, U); h (B, U) in place; H (B, T, U) or empty."""
        batch, steps, units = P.shape
        z = np.empty(units, np.float32)
        for b in range(batch):
            for j in range(steps):
                t = steps - 1 - j if reverse else j
                if mask.shape[0] == 0 or mask[b, t]:
                    _project(z, P, b, t, h, RKT, units, units)
                    for u in range(units):
                        h[b, u] = _tanh(z[u])
                if H.shape[0] != 0:
                    for u in range(units):
                        H[b, j, u] = h[b, u]

    @jit
    def lstm(P, RKT, h, c, mask, reverse, H):
        """Keras gate order i, f, c, o in ``z = P[b, t] + h_{t-1} @ RKT`` (4U wide)::

            i, f, o = sigmoid(z_i), sigmoid(z_f), sigmoid(z_o);  g = tanh(z_c)
            c_t = f * c_{t-1} + i * g;  h_t = o * tanh(c_t)
        """
        batch, steps, width = P.shape
        units = width // 4
        z = np.empty(width, np.float32)
        # tanh of every gate row at once (sigmoid rows at half the argument): one
        # contiguous loop the compiler vectorizes; then the rows are combined.
        half = np.full(width, 0.5)
        half[2 * units:3 * units] = 1.0
        th = np.empty(width, np.float64)
        for b in range(batch):
            for j in range(steps):
                t = steps - 1 - j if reverse else j
                if mask.shape[0] == 0 or mask[b, t]:
                    _project(z, P, b, t, h, RKT, units, width)
                    for w in range(width):
                        th[w] = _tanh(half[w] * z[w])
                    for u in range(units):  # c_t = f * c + i * g, kept in th[:U]
                        cf = np.float32((0.5 * th[units + u] + 0.5) * c[b, u]
                                        + (0.5 * th[u] + 0.5) * th[2 * units + u])
                        c[b, u] = cf
                        th[u] = cf
                    for u in range(units):
                        th[units + u] = _tanh(th[u])
                    for u in range(units):  # h_t = o * tanh(c_t)
                        h[b, u] = (0.5 * th[3 * units + u] + 0.5) * th[units + u]
                if H.shape[0] != 0:
                    for u in range(units):
                        H[b, j, u] = h[b, u]

    @jit
    def gru(P, RKT, rbias, h, mask, reverse, H):
        """Keras GRU with ``reset_after=True``, gate order z, r, h; ``P`` holds
        ``x @ kernel + input_bias``, ``zr = h_{t-1} @ RKT + rbias``::

            z = sigmoid(P_z + zr_z);  r = sigmoid(P_r + zr_r)
            hh = tanh(P_h + r * zr_h);  h_t = z * h_{t-1} + (1 - z) * hh
        """
        batch, steps, width = P.shape
        units = width // 3
        zr = np.empty(width, np.float32)
        for b in range(batch):
            for j in range(steps):
                t = steps - 1 - j if reverse else j
                if mask.shape[0] == 0 or mask[b, t]:
                    for w in range(width):
                        zr[w] = rbias[w]
                    _add_h_rk(zr, h, b, RKT, units, width)
                    for u in range(units):
                        zg = _sigmoid(np.float32(P[b, t, u] + zr[u]))
                        rg = _sigmoid(np.float32(P[b, t, units + u] + zr[units + u]))
                        hh = _tanh(np.float32(P[b, t, 2 * units + u] + np.float32(rg) * zr[2 * units + u]))
                        h[b, u] = zg * h[b, u] + (1.0 - zg) * hh
                if H.shape[0] != 0:
                    for u in range(units):
                        H[b, j, u] = h[b, u]

    return SimpleNamespace(simple_rnn=simple_rnn, lstm=lstm, gru=gru, tanh=_tanh)
