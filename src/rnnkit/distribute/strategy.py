"""``MPIStrategy``: synchronous data-parallel training over MPI ranks (the tf.distribute style).

    strategy = rnnkit.distribute.MPIStrategy()
    with strategy.scope():
        model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
    model.fit(x, y, batch_size=128, epochs=2)      # run with: mpirun -n 4 python train.py

Every rank runs the same script on the same full arrays. ``batch_size`` is the global batch:
each rank computes the gradient of its contiguous shard of every global batch, the shards'
gradients are summed with ``Iallreduce`` (each scaled by its share of the loss normalizer),
and every rank applies the same optimizer step. The result equals one process training on
the joined batches, up to floating-point summation order. See the README section
"Data-parallel training on MPI" for the design and the measured scaling.
"""
from __future__ import annotations

import contextlib
import inspect
import math
import os
import sys
import time
import traceback
import zlib
from typing import Any, Sequence

import numpy as np

from .. import config
from . import hooks
from .buckets import GradientReducer
from .callbacks_sync import SyncedCallbackList
from .metrics_sync import pack, unpack
from .sharding import Step, StepHolder, install_sharded_generators, iter_layers, shard_bounds


class DistributedError(ValueError):
    """Raised identically on every rank (a check all ranks took part in), so no abort is needed."""

    rnnkit_all_ranks = True


def _all_ranks_error(message: str) -> DistributedError:
    return DistributedError(message)


def _rows(x) -> int:
    if isinstance(x, (list, tuple)):
        return len(x[0]) if x else 0
    return len(x)


def _slice(x, start: int, stop: int):
    if x is None:
        return None
    if isinstance(x, (list, tuple)):
        return [np.asarray(a)[start:stop] for a in x]
    return np.asarray(x)[start:stop]


def _crc(arrays: Sequence) -> int:
    crc = 0
    for a in arrays:
        a = np.ascontiguousarray(a)
        crc = zlib.crc32(a.tobytes(), crc)
    return crc


def _flat(x) -> list:
    if x is None:
        return []
    return [np.asarray(a) for a in x] if isinstance(x, (list, tuple)) else [np.asarray(x)]


_HOOK_INSTALLED = False


def _install_excepthook(comm) -> None:
    """An exception nobody catches on one rank would leave the others waiting in a collective
    forever: print it, then abort the whole job (what ``python -m mpi4py`` does)."""
    global _HOOK_INSTALLED
    if _HOOK_INSTALLED:
        return
    previous = sys.excepthook

    def hook(exc_type, exc, tb):
        previous(exc_type, exc, tb)
        sys.stderr.flush()
        comm.Abort(1)
        os._exit(1)  # MPI_Abort may return before the launcher kills this process
    sys.excepthook = hook
    _HOOK_INSTALLED = True


class MPIStrategy:
    """Synchronous data parallelism over the ranks of an MPI communicator.

    Args:
        comm: an ``mpi4py`` communicator (default ``MPI.COMM_WORLD``).
        bucket_bytes: gradients are summed in buckets of at least this many bytes, one
            contiguous buffer each, following the layers in backward order.
        overlap: for ``Sequential`` models, start a bucket's ``Iallreduce`` as soon as its
            layers' backward pass is done (while the earlier layers' backward still runs).
        check_data: at the start of ``fit``, compare a CRC of ``x``/``y`` across ranks, so
            that ranks fed different data fail at once with a clear error.
        timeout: seconds a rank waits for the others at a collective call before it
            reports which call and stops every rank (``MPI_Abort``): for a rank that died
            without an exception, or a script that calls ``evaluate`` on one rank only.
            Default: ``$RNNKIT_MPI_TIMEOUT`` if set, else no limit (waiting costs nothing
            then; with a limit, each collective starts with a polled barrier).

    Models compiled inside :meth:`scope` run ``fit``, ``evaluate``, ``predict`` and
    ``*_on_batch`` as collective calls: every rank must make them, with the same arguments
    and the same full data. ``predict`` returns the full result on every rank. Only rank 0
    prints the progress bar and runs ModelCheckpoint/CSVLogger; see ``rnnkit.distribute``.

    If a rank raises inside one of these calls, it prints the error and calls
    ``MPI_Abort``, which stops every rank with a non-zero exit status (never a hang). An
    exception that escapes a script on any rank does the same.
    """

    def __init__(self, comm=None, *, bucket_bytes: int = 1 << 18, overlap: bool = True,
                 check_data: bool = True, timeout: float | None = None):
        try:
            from mpi4py import MPI
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("MPIStrategy needs mpi4py and an MPI library: pip install "
                              "'rnnkit[mpi]' (mpi4py and mpich)") from exc
        if not isinstance(bucket_bytes, (int, np.integer)) or bucket_bytes <= 0:
            raise ValueError(f"MPIStrategy: bucket_bytes must be a positive integer; received {bucket_bytes!r}")
        self._mpi = MPI
        self.comm = MPI.COMM_WORLD if comm is None else comm
        self.rank: int = self.comm.Get_rank()
        self.size: int = self.comm.Get_size()
        self.bucket_bytes = int(bucket_bytes)
        self.overlap = bool(overlap)
        self.check_data = bool(check_data)
        if timeout is None:
            timeout = config.settings().mpi_timeout
        if timeout is not None and not timeout > 0:
            raise ValueError(f"MPIStrategy: timeout must be a positive number of seconds; received {timeout!r}")
        self.timeout = timeout
        # Seconds and bytes spent communicating, summed over every collective call.
        self.stats: dict[str, float] = {}
        self._holder = StepHolder()
        self._depth = 0
        self._reducers: dict[int, GradientReducer] = {}
        self._wrapped: list = []
        self._reductions: dict[int, str] = {}
        self._stand_in_pending = False
        self._fit_args: dict[str, Any] = {}
        self._fit_reducer: GradientReducer | None = None
        self._fit_reduction = "sum_over_batch_size"
        self._prepared: set[int] = set()
        if self.size > 1:
            _install_excepthook(self.comm)

    # ------------------------------------------------------------ public API
    @property
    def num_replicas_in_sync(self) -> int:
        """The number of ranks (tf.distribute's name)."""
        return self.size

    @property
    def is_chief(self) -> bool:
        """True on rank 0, the rank that prints and writes files."""
        return self.rank == 0

    @contextlib.contextmanager
    def scope(self):
        """Models compiled inside this block train data-parallel."""
        hooks.push_scope(self)
        try:
            yield self
        finally:
            hooks.pop_scope(self)

    def __repr__(self) -> str:
        return f"MPIStrategy(rank={self.rank}, size={self.size})"

    # ------------------------------------------------------------ collectives
    def run_collective(self, model, method, args, kwargs):
        """Run ``method`` (fit, evaluate, predict, *_on_batch) of ``model`` on every rank."""
        name = method.__name__
        outer = self._depth == 0
        self._depth += 1
        try:
            if name == "evaluate":
                return self._evaluate(model, method, args, kwargs)
            if name == "predict":
                return self._predict(model, method, args, kwargs)
            if name == "fit":
                self._fit_args = self._bind(method, model, args, kwargs)
            elif name == "train_on_batch":
                self._begin_batch_step(model, method, args, kwargs)
            result = method(model, *args, **kwargs)
            if name == "fit":
                self._check_in_sync(model)
            return result
        except BaseException as exc:
            if outer:
                self._fail(exc)
            raise
        finally:
            self._depth -= 1
            if name in ("fit", "train_on_batch"):
                self._holder.step = None
            if name == "fit":
                GradientReducer.uninstall(self._wrapped)
                self._wrapped = []

    def _fail(self, exc: BaseException) -> None:
        if self.size == 1 or getattr(exc, "rnnkit_all_ranks", False):
            return
        print(f"rnnkit: rank {self.rank} of {self.size} raised {type(exc).__name__}: {exc}\n"
              "rnnkit: stopping every rank (MPI_Abort)", file=sys.stderr)
        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        sys.stderr.flush()
        sys.stdout.flush()
        self.comm.Abort(1)
        os._exit(1)  # MPI_Abort may return before the launcher kills this process

    def _arrive(self, what: str) -> None:
        """With a timeout: wait (polling) until every rank reaches this collective, or abort."""
        if self.timeout is None or self.size == 1:
            return
        request = self.comm.Ibarrier()
        deadline = time.monotonic() + self.timeout
        while not request.Test():
            if time.monotonic() > deadline:
                print(f"rnnkit: rank {self.rank} of {self.size} waited {self.timeout:g} s for the other "
                      f"ranks at {what}: a rank died, is stuck, or does not make the same calls (every "
                      "rank must call fit, evaluate and predict); stopping every rank (MPI_Abort)",
                      file=sys.stderr)
                sys.stderr.flush()
                self.comm.Abort(1)
                os._exit(1)
            time.sleep(2e-4)

    @staticmethod
    def _bind(method, model, args, kwargs) -> dict:
        bound = inspect.signature(method).bind(model, *args, **kwargs)
        bound.apply_defaults()
        out = dict(bound.arguments)
        out.pop("self", None)
        out.update(out.pop("kwargs", {}) or {})
        return out

    def _agree(self, what: str, values: dict) -> None:
        """Raise the same clear error on every rank unless ``values`` match rank 0's."""
        self._arrive(what)
        everyone = self.comm.allgather(values)
        problems = []
        for key, ref in everyone[0].items():
            bad = [r for r, v in enumerate(everyone) if v.get(key) != ref]
            if bad:
                shown = ", ".join(f"rank {r}: {everyone[r].get(key)!r}" for r in bad[:3])
                problems.append(f"{key} (rank 0: {ref!r}; {shown})")
        if problems:
            raise _all_ranks_error(
                f"{what}: the ranks disagree on {'; '.join(problems)}. Every rank must build the "
                "same model and pass the same full data and arguments (each rank takes its own "
                "shard of every global batch)"
            )

    def any_rank(self, flag: bool) -> bool:
        """True on every rank if ``flag`` is true on any rank."""
        if self.size == 1:
            return bool(flag)
        self._arrive("the stop_training agreement")
        return bool(self.comm.allreduce(int(bool(flag)), op=self._mpi.MAX))

    # ------------------------------------------------------------ fit hooks
    def _loss_reduction(self, model) -> str:
        from .. import losses as losses_module

        spec = model.loss
        items = spec.values() if isinstance(spec, dict) else spec if isinstance(spec, (list, tuple)) else [spec]
        kinds = set()
        for v in items:
            if v is None:
                continue
            red = getattr(losses_module.get(v), "reduction", "sum_over_batch_size")
            kinds.add("sum_over_batch_size" if red in ("mean", None) else red)
        if len(kinds) > 1:
            raise _all_ranks_error(
                f"MPIStrategy: every loss of the model must use the same reduction, so that the "
                f"shards' gradients can be combined; received {sorted(kinds)}")
        kind = kinds.pop() if kinds else "sum_over_batch_size"
        if kind == "none":
            raise _all_ranks_error("MPIStrategy: a loss with reduction='none' cannot be trained")
        return kind

    def _prepare(self, model, x, y, sample_weight, rngs, fit_args: dict) -> None:
        """Checks and broadcasts at the start of a collective training call."""
        stateful = [lay.name for lay in iter_layers(model) if getattr(lay, "stateful", False)]
        if stateful:
            raise _all_ranks_error(
                f"MPIStrategy: stateful layers {stateful} carry state from one batch to the next, "
                "which data parallelism splits across ranks; train them in one process")
        xs = _flat(x)
        if any(a.ndim == 0 or a.dtype == object for a in xs):
            raise _all_ranks_error(
                "MPIStrategy shards NumPy arrays (each rank takes rows of every global batch); "
                f"received x of type {type(x).__name__}")
        if not model.built:
            if len(xs) != 1:
                raise _all_ranks_error("MPIStrategy: build the model before fit (call it on a batch)")
            model.build((None,) + tuple(xs[0].shape[1:]))
        opt = model.optimizer
        opt_cfg = {k: v for k, v in opt.get_config().items() if k != "name"}
        reduction = self._loss_reduction(model)
        signature = {
            "weights": [(tuple(w.shape), str(w.dtype)) for w in model.weights],
            "trainable": list(model.trainable_mask),
            "optimizer": (type(opt).__name__, repr(opt_cfg), bool(opt.built), int(opt.iterations)),
            "loss reduction": reduction,
            "number of samples": _rows(x),
            "x shapes": [(tuple(a.shape[1:]), str(a.dtype)) for a in xs],
            "y shapes": [(tuple(a.shape[1:]), str(a.dtype)) for a in _flat(y)],
            "sample_weight": sample_weight is not None,
        }
        signature.update({f"fit argument {k}": repr(v) for k, v in fit_args.items()})
        if self.check_data:
            signature["data checksum"] = _crc(xs + _flat(y) + _flat(sample_weight))
        self._agree("MPIStrategy", signature)
        self._reductions[id(model)] = reduction
        for w in model.weights:  # every rank starts from rank 0's weights
            self.comm.Bcast(w, root=0)
        state = self.comm.bcast(opt.get_state() if self.is_chief and opt.built else None, root=0)
        if state is not None and not self.is_chief:
            opt.set_state(state)
        gens = install_sharded_generators(model, self._holder) + list(rngs)
        states = self.comm.bcast([g.bit_generator.state for g in gens] if self.is_chief else None, root=0)
        for g, s in zip(gens, states):
            g.bit_generator.state = s
        self._prepared.add(id(model))

    def _reducer(self, model, fresh: bool = False) -> GradientReducer:
        r = self._reducers.get(id(model))
        if fresh or r is None or sum(len(b.indices) for b in r.buckets) != sum(model.trainable_mask):
            r = GradientReducer(self.comm, self._mpi, model, self.bucket_bytes, self.overlap, self.stats)
            self._reducers[id(model)] = r
        return r

    def begin_fit(self, model, x, y, sample_weight, rng, callbacks):
        """Called by ``fit`` once the data is checked and the shuffling generator made."""
        keys = ("batch_size", "epochs", "initial_epoch", "shuffle", "validation_split",
                "validation_freq", "class_weight")
        fit_args = {k: self._fit_args.get(k) for k in keys}
        self._prepare(model, x, y, sample_weight, [rng], fit_args)
        reducer = self._reducer(model, fresh=True)
        self._fit_reducer, self._fit_reduction = reducer, self._reductions[id(model)]
        self._wrapped = reducer.install()
        return SyncedCallbackList(callbacks, self, model)

    def shard(self, idx: np.ndarray, sample_weight):
        """This rank's rows of one global batch ``idx`` (and their sample weights)."""
        n = len(idx)
        start, stop = shard_bounds(n, self.size, self.rank)
        reduction = self._fit_reduction
        if stop == start:  # nothing to do this step: run a stand-in row with weight 0
            self._stand_in_pending = True
            step = Step(n, 0, 1, 0.0, True)
            local = idx[:1]
            dtype = np.float32 if sample_weight is None else np.asarray(sample_weight).dtype
            local_sw: np.ndarray | None = np.zeros(1, dtype=dtype)
        else:
            if reduction == "sum":
                weight = 1.0
            elif reduction == "mean_with_sample_weight" and sample_weight is not None:
                total = float(np.sum(sample_weight))
                weight = float(np.sum(sample_weight[start:stop])) / total if total else 0.0
            else:
                weight = (stop - start) / n
            step = Step(n, start, stop - start, weight)
            local = idx[start:stop]
            local_sw = None if sample_weight is None else sample_weight[start:stop]
        self._holder.step = step
        if self._fit_reducer is None:
            raise RuntimeError("MPIStrategy.shard is called by fit, after begin_fit")
        self._fit_reducer.begin_step(step.weight)
        return local, local_sw

    def _begin_batch_step(self, model, method, args, kwargs) -> None:
        b = self._bind(method, model, args, kwargs)
        x, sw = b.get("x"), b.get("sample_weight")
        if id(model) not in self._prepared:
            self._prepare(model, x, b.get("y"), None, [], {})
            self._prepared.add(id(model))
        n_local = _rows(x)
        self._arrive("train_on_batch")
        counts = self.comm.allgather(n_local)
        if min(counts) == 0:
            raise _all_ranks_error(f"train_on_batch under MPIStrategy: every rank needs at least one "
                                   f"sample; the ranks hold {counts}")
        total = sum(counts)
        reduction = self._loss_reduction(model)
        if reduction == "sum":
            weight = 1.0
        elif reduction == "mean_with_sample_weight" and sw is not None:
            sums = self.comm.allgather(float(np.sum(sw)))
            weight = sums[self.rank] / sum(sums) if sum(sums) else 0.0
        else:
            weight = n_local / total
        self._holder.step = Step(total, sum(counts[:self.rank]), n_local, weight)
        self._reducer(model).begin_step(weight)

    def reduce_gradients(self, model, grads: list) -> list:
        """Called by ``_apply_gradients``: the sum over ranks of the scaled gradients."""
        self._arrive("the gradient allreduce")
        r = self._reducer(model)
        if r.scale is None:  # a custom loop without a known shard: plain average
            step = self._holder.step
            r.begin_step(step.weight if step is not None else 1.0 / self.size)
        out = r.finish(grads)
        self._holder.step = None
        return out

    def reduce_metrics(self, loss_trackers: list, metrics: list) -> tuple[list, list]:
        """Copies of the loss trackers and metrics holding their states summed over ranks."""
        if self._stand_in_pending:  # the stand-in row counted one sample in each loss tracker
            for t in loss_trackers:
                t.count -= 1
            self._stand_in_pending = False
        t0 = time.perf_counter()
        everything = list(loss_trackers) + list(metrics)
        vec, layout = pack(everything)
        self._arrive("the metric reduction")
        if self.size > 1:
            self.comm.Allreduce(self._mpi.IN_PLACE, vec, op=self._mpi.SUM)
        copies = unpack(vec, layout, everything)
        self.stats["metrics_s"] = self.stats.get("metrics_s", 0.0) + time.perf_counter() - t0
        k = len(loss_trackers)
        return copies[:k], copies[k:]

    def sync_non_trainable(self, model) -> None:
        """Rank 0's values of the weights training does not update by gradient (e.g. moving
        statistics a layer updates from its own shard), once per epoch."""
        self._arrive("the end of an epoch")
        for w, t in zip(model.weights, model.trainable_mask):
            if not t:
                self.comm.Bcast(w, root=0)

    def _check_in_sync(self, model) -> None:
        self._arrive("the end of fit")
        crcs = self.comm.allgather(_crc(model.weights))
        if len(set(crcs)) > 1:
            raise _all_ranks_error(
                "MPIStrategy: the ranks' weights differ after fit (the summed gradients were not "
                "bitwise identical on every rank); this is a bug, please report it")

    # ------------------------------------------------------------ evaluate / predict
    @contextlib.contextmanager
    def _local(self, model):
        saved = model._strategy
        model._strategy = None
        try:
            yield
        finally:
            model._strategy = saved

    def _local_part(self, what, x, y, sample_weight, batch_size):
        n = _rows(x)
        self._agree(what, {"number of samples": n})
        start, stop = shard_bounds(n, self.size, self.rank)
        local_bs = max(1, math.ceil((batch_size or 32) / self.size))
        if stop > start:
            return (_slice(x, start, stop), _slice(y, start, stop), _slice(sample_weight, start, stop),
                    local_bs, False, n)
        sw = np.zeros(1, dtype=np.float32)
        return _slice(x, 0, 1), _slice(y, 0, 1), sw, local_bs, True, n

    def _evaluate(self, model, method, args, kwargs):
        b = self._bind(method, model, args, kwargs)
        verbose = 1 if b.get("verbose", "auto") == "auto" else int(b.get("verbose"))
        x, y, sw, bs, stand_in, n = self._local_part(
            "evaluate", b.get("x"), b.get("y"), b.get("sample_weight"), b.get("batch_size"))
        with self._local(model):
            method(model, x, y, batch_size=bs, verbose=0, sample_weight=sw, return_dict=True)
        self._stand_in_pending = stand_in
        logs = model._logs()  # summed over the ranks through reduce_metrics
        if verbose and self.is_chief:
            from ..callbacks import Progbar

            steps = max(1, math.ceil(n / (b.get("batch_size") or 32)))
            Progbar(steps).update(steps, logs, finalize=True)
        if b.get("return_dict"):
            return logs
        return model._values(logs)  # Keras' list order: the loss, output losses, then metrics

    def _predict(self, model, method, args, kwargs):
        b = self._bind(method, model, args, kwargs)
        x, _, _, bs, stand_in, n = self._local_part("predict", b.get("x"), None, None, b.get("batch_size"))
        with self._local(model):
            out = method(model, x, batch_size=bs, verbose=0)
        outs = out if isinstance(out, list) else [out]
        if stand_in:
            outs = [o[:0] for o in outs]
        self._arrive("predict")
        counts = self.comm.allgather(0 if stand_in else _rows(outs[0]))
        full = []
        for o in outs:
            o = np.ascontiguousarray(o)
            row = int(np.prod(o.shape[1:]))
            recv = np.empty((n,) + o.shape[1:], dtype=o.dtype)
            self.comm.Allgatherv(o, [recv, [c * row for c in counts]])
            full.append(recv)
        return full if isinstance(out, list) else full[0]
