"""Gradient averaging over MPI ranks, in buckets on contiguous buffers.

Each rank scales its gradients by its share of the global loss normalizer (``n_rank / N``
for the default ``sum_over_batch_size`` reduction) while packing them into one contiguous
buffer per bucket (float32 for a float32 model), and the buckets are summed with
``Iallreduce``. The sum is the gradient one process computes on the joined batch.

Buckets follow the layers in backward order (last layer first); consecutive layers are
merged until a bucket holds at least ``bucket_bytes``. For a ``Sequential`` model with
``overlap=True``, a bucket's ``Iallreduce`` starts as soon as the backward pass of its
layers has finished, while the earlier layers' backward still runs; every later layer end
calls ``Testall`` so that MPI makes progress on it (MPICH has no progress thread by default).
"""
from __future__ import annotations

import time
from typing import Sequence

import numpy as np


class Bucket:
    def __init__(self, layer_ids: set[int], indices: list[int], shapes: list[tuple], dtype):
        self.layer_ids = layer_ids
        self.indices = indices  # positions in model.weights
        self.shapes = shapes
        self.sizes = [int(np.prod(s)) for s in shapes]
        self.dtype = dtype
        self.nbytes = sum(self.sizes) * np.dtype(dtype).itemsize
        self.buffer: np.ndarray | None = None
        self.request = None
        self.none: list[bool] = []


class GradientReducer:
    """Sums the scaled gradients of one model over ``comm``; one instance per model and fit."""

    def __init__(self, comm, mpi, model, bucket_bytes: int = 1 << 18, overlap: bool = True,
                 stats: dict | None = None):
        from ..models import Sequential

        self.comm, self.mpi = comm, mpi
        self.stats = stats if stats is not None else {}
        weights, trainable = model.weights, model.trainable_mask
        groups: list[tuple[list, list[int]]] = []
        layers = model.layers if isinstance(model, Sequential) else []
        if layers and sum(len(lay.weights) for lay in layers) == len(weights):
            pos = 0
            for lay in layers:
                k = len(lay.weights)
                groups.append(([lay], list(range(pos, pos + k))))
                pos += k
            self.layers = layers
        else:  # no per-layer hook: one group, reduced after the whole backward pass
            groups.append(([], list(range(len(weights)))))
            self.layers = []
            overlap = False
        self.overlap = overlap
        self.buckets: list[Bucket] = []
        cur_layers: list = []
        cur_idx: list[int] = []
        cur_bytes = 0
        for lays, idx in reversed(groups):
            cur_layers += lays
            live = [i for i in idx if trainable[i]]
            cur_idx += live
            cur_bytes += sum(weights[i].nbytes for i in live)
            if cur_bytes >= bucket_bytes:
                self._add_bucket(cur_layers, cur_idx, weights)
                cur_layers, cur_idx, cur_bytes = [], [], 0
        if cur_idx:
            self._add_bucket(cur_layers, cur_idx, weights)
        elif cur_layers and self.buckets:  # trailing weightless layers join the last bucket
            self.buckets[-1].layer_ids |= {id(lay) for lay in cur_layers}
        self.scale: float | None = None
        self._done: set[int] = set()

    def _add_bucket(self, layers, indices, weights):
        if not indices:
            return
        dtype = np.result_type(*[weights[i].dtype for i in indices])
        self.buckets.append(Bucket({id(lay) for lay in layers}, list(indices),
                                   [weights[i].shape for i in indices], dtype))

    # ------------------------------------------------------------- one step
    def begin_step(self, scale: float) -> None:
        self.scale = float(scale)
        self._done = set()
        for b in self.buckets:
            b.buffer, b.request, b.none = None, None, []

    def layer_done(self, layer) -> None:
        """Called after ``layer.backward``: start every bucket whose layers are all done."""
        if self.scale is None or not self.overlap:
            return
        t0 = time.perf_counter()
        self._done.add(id(layer))
        started = False
        for b in self.buckets:
            if b.request is None and b.layer_ids and b.layer_ids <= self._done:
                grads = self._layer_grads(b)
                self._start(b, grads)
                started = True
                self.stats["overlapped_buckets"] = self.stats.get("overlapped_buckets", 0) + 1
        live = [b.request for b in self.buckets if b.request is not None]
        if live and not started:
            self.mpi.Request.Testall(live)  # let MPI progress the buckets already in flight
        self.stats["allreduce_s"] = self.stats.get("allreduce_s", 0.0) + time.perf_counter() - t0

    def _layer_grads(self, bucket: Bucket) -> list:
        by_index = {}
        pos = 0
        for lay in self.layers:
            k = len(lay.weights)
            if id(lay) in bucket.layer_ids:
                for j, g in enumerate(lay.grads):
                    by_index[pos + j] = g
            pos += k
        return [by_index.get(i) for i in bucket.indices]

    def _start(self, bucket: Bucket, grads: Sequence) -> None:
        buf = np.empty(sum(bucket.sizes), dtype=bucket.dtype)
        scale = bucket.dtype.type(self.scale)
        pos = 0
        for g, size, shape in zip(grads, bucket.sizes, bucket.shapes):
            out = buf[pos:pos + size]
            if g is None:
                out[...] = 0
                bucket.none.append(True)
            else:
                if np.shape(g) != shape:
                    raise ValueError(f"gradient of shape {np.shape(g)} for a weight of shape {shape}")
                np.multiply(np.asarray(g).reshape(-1), scale, out=out)
                bucket.none.append(False)
            pos += size
        bucket.buffer = buf
        bucket.request = self.comm.Iallreduce(self.mpi.IN_PLACE, buf, op=self.mpi.SUM)
        self.stats["allreduce_bytes"] = self.stats.get("allreduce_bytes", 0) + buf.nbytes

    def finish(self, grads: list) -> list:
        """``grads`` aligned with ``model.weights`` -> the summed gradients (None stays None)."""
        if self.scale is None:
            raise RuntimeError("GradientReducer.finish called outside a training step")
        t0 = time.perf_counter()
        for b in self.buckets:
            if b.request is None:
                self._start(b, [grads[i] for i in b.indices])
        self.mpi.Request.Waitall([b.request for b in self.buckets])
        out = list(grads)
        for b in self.buckets:
            pos, buf = 0, b.buffer
            assert buf is not None
            for i, size, shape, none in zip(b.indices, b.sizes, b.shapes, b.none):
                out[i] = None if none else buf[pos:pos + size].reshape(shape)
                pos += size
            b.buffer, b.request = None, None
        self.scale = None
        self.stats["allreduce_s"] = self.stats.get("allreduce_s", 0.0) + time.perf_counter() - t0
        self.stats["steps"] = self.stats.get("steps", 0) + 1
        return out

    # ---------------------------------------------------------- the hooks
    def install(self) -> list:
        """Wrap each layer's ``backward`` (on the instance) to call :meth:`layer_done`;
        returns the layers wrapped, for :meth:`uninstall`."""
        if not self.overlap:
            return []
        wrapped = []
        for lay in self.layers:
            if "backward" in vars(lay):
                continue
            original = lay.backward

            def backward(grad_outputs, cache, _orig=original, _lay=lay):
                result = _orig(grad_outputs, cache)
                self.layer_done(_lay)
                return result
            lay.backward = backward  # type: ignore[method-assign]  # an instance attribute, see uninstall
            wrapped.append(lay)
        return wrapped

    @staticmethod
    def uninstall(layers) -> None:
        for lay in layers:
            vars(lay).pop("backward", None)
