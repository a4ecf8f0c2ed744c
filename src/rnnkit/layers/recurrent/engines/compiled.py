"""Optional compiled kernels (``pip install "rnnkit[jit]"``, Numba).

NumPy pays ~0.5-1 us per call, and a recurrent step is ~10 calls: with small
layers or batches (the seeds' 32 units, one review scored from the CLI, a served
model) that overhead is most of the cost. Three uses, all float32 with the
standard activations:

- Inference, the whole recurrence in one compiled call (:func:`run_batched`), four
  samples at a time, every step's products and gates fused::

      z = P[b, t] + h @ RKT          # P: the input projections (one GEMM, NumPy),
      (gate equations of the cell)   # or rows of Embedding @ kernel

  for layers of at most ``settings.small_units`` units at any batch size, and for
  wider ones while ``batch * units`` per core is at most the cell's crossover
  (``settings.crossover(cell)``, measured: beyond it BLAS' products win). With two cores both
  threads take chunks of the batch (the kernels release the GIL).
- Elsewhere (training, and wide layers at inference), the NumPy feature-major
  kernels keep BLAS for the products, and :func:`gate_pass` gives them one compiled
  pass for each step's gates instead of ~10 NumPy calls.
- An Embedding's gradient: a compiled scatter-add.

The NumPy kernels are the reference and the tests hold these equal to them.
When they run is decided in :func:`..select` from :mod:`rnnkit.config` (``RNNKIT_JIT=0``
turns them off); without Numba they are never used. The first use
in a process imports Numba and loads the kernels from its on-disk cache (~0.5 s;
the very first, compiling them, ~1.5 s per cell), so they pay off from the second call on.

Gate nonlinearities: a rational approximation of ``tanh`` evaluated in float32
(plain arithmetic, so it vectorizes, which the library ``tanh``/``exp`` do not),
within 6 ulp of the exact value (0.9 ulp on average), ``sigmoid(x) = 0.5 *
tanh(x / 2) + 0.5``; see :mod:`.compiled_kernels`. The outputs differ from the NumPy
kernels' by float32 rounding only (a few 1e-7), and are as close to the exact
(float64) values as theirs (tests/layers/recurrent/test_compiled_engine.py).
"""
from __future__ import annotations

import numpy as np

from .... import config
from . import threads
from .base import Engine, Output, Run, fast_supported

# The compiled kernels read the projection of sample b, step t from row b * T + t.
_NO_IDS = np.empty((0, 0), np.int64)

_kernels = None
_failed = False


def kernels():
    """The compiled kernels (a module), or None when Numba is missing or the settings
    turn them off (``RNNKIT_JIT=0``). The first call imports Numba (~0.5 s)."""
    global _kernels, _failed
    if config.settings().jit is False:
        return None
    if _kernels is not None or _failed:
        return _kernels
    try:
        from . import compiled_kernels  # imports Numba; ImportError without it

        _kernels = compiled_kernels
    except ImportError:
        _failed = True
    return _kernels


def gate_pass(name: str):
    """The compiled gate pass ``name`` (``lstm_fm_gates``, ...) for the step loop of the
    feature-major kernels, or None (no name, or Numba missing or disabled)."""
    k = None if name is None else kernels()
    return None if k is None else getattr(k, name)


def _threads(s) -> int:
    return max(1, min(2, s.threads))


def _cell_kernel(layer):
    """``(kernel(table, ids, steps, *states, mask, reverse, H), input bias or None)``
    for ``layer``'s cell: the compiled recurrence with this layer's weights bound."""
    k, rk, name = kernels(), layer.recurrent_kernel, layer.cell_spec.name
    if name == "gru":
        bias = None if layer.bias is None else layer.bias[0]
        rbias = np.zeros(rk.shape[1], np.float32) if layer.bias is None else layer.bias[1]
        return (lambda table, ids, steps, *rest: k.gru(table, ids, steps, rk, rbias, *rest)), bias
    fn = k.lstm if name == "lstm" else k.simple_rnn
    return (lambda table, ids, steps, *rest: fn(table, ids, steps, rk, *rest)), layer.bias


class CompiledEngine(Engine):
    """Inference through the compiled recurrence (small batches or layers, float32)."""

    name = "compiled"

    def applies(self, layer, run: Run, s: config.Settings, forced: bool = False) -> bool:
        """Whether this call should run here: no dropout, float32, a configuration
        the kernels implement, and (unless ``forced``) a size where they win."""
        batch, steps = run.x.shape[:2]
        if run.dp is not None or run.rdp is not None or steps == 0 or batch == 0:
            return False
        if layer.dtype != np.float32 or run.x.dtype not in (np.float32, np.int64) or not fast_supported(layer):
            return False
        units = layer.units
        if not forced:
            small = units <= s.small_units and s.max_work_override is None
            if not small and batch * units > s.crossover(layer.cell_spec.name) * _threads(s):
                return False
        return kernels() is not None

    def forward(self, layer, run: Run, train: bool = False, table=None) -> Output:
        """``run.x`` is ``(B, T, D)``, or with ``table`` ``(B, T)`` ids of the rows of
        ``table`` that hold each step's input projection (see :mod:`.embedded`)."""
        x = run.x
        batch, steps = x.shape[:2]
        kernel, bias = _cell_kernel(layer)
        if table is None:
            def source(rows):
                """Every step's input projection: one matrix product, ``(b * T, G)``."""
                xs = x[rows]
                P = xs.reshape(-1, xs.shape[2]) @ layer.kernel
                if bias is not None:
                    P += bias
                return P, _NO_IDS
        else:
            def source(rows):
                return table, x[rows]

        states = [np.array(s, np.float32, order="C") for s in run.states0]
        H = np.empty((batch, steps, layer.units) if layer.return_sequences else (0, 0, 0), np.float32)
        mask = np.empty((0, 0), np.bool_) if run.mask is None else np.ascontiguousarray(run.mask, np.bool_)
        gates = layer.recurrent_kernel.shape[1]
        inputs = 0 if table is not None else x.shape[2]
        run_batched(kernel, source, states, mask, run.reverse, H, steps,
                    steps * gates * (layer.units + inputs))
        return Output(H, states, True, None)

    def backward(self, layer, state, dseq, out_mask, dfinals, input_grad=True):  # pragma: no cover - never selected
        raise RuntimeError("the compiled engine runs inference only; it keeps nothing for backward")

    @staticmethod
    def input_bias(layer):
        """The bias added to the input projections before the compiled recurrence."""
        return _cell_kernel(layer)[1]


def run_batched(kernel, source, states, mask, reverse, H, steps: int, macs_per_sample: int) -> None:
    """``kernel(table, ids, steps, *states, mask, reverse, H)`` over the batch, where
    ``source(rows)`` gives ``(table, ids)`` for a slice of the batch.

    With two cores and enough work, two threads take chunks of the batch (row
    blocks, views) in turn until none is left: the kernels release the GIL and
    samples are independent, so the results are the same. (Two fixed halves
    finished up to 30% apart here.) Each chunk gets its own inputs (projections)
    with BLAS single-threaded meanwhile, since BLAS' idle worker threads would take
    a core.
    """
    s = config.settings()
    batch = states[0].shape[0]

    def part(rows):
        kernel(*source(rows), steps, *[st[rows] for st in states], mask if mask.shape[0] == 0 else mask[rows],
               reverse, H if H.shape[0] == 0 else H[rows])

    if _threads(s) < 2 or batch < 2 or macs_per_sample * (batch // 2) < s.min_split_macs:
        part(slice(0, batch))
        return
    # About 8 chunks per thread, in whole groups of the kernels' samples.
    group = _kernels.G
    chunk = max(group, -(-batch // (8 * _threads(s) * group)) * group)
    starts = iter(range(0, batch, chunk))  # shared: next() is atomic under the GIL

    def worker():
        for lo in starts:
            part(slice(lo, min(lo + chunk, batch)))

    with threads.blas_single_threaded():
        fut = threads.executor().submit(worker)
        try:
            worker()
        finally:
            fut.result()  # the other thread is done before anything goes on (or raises)
