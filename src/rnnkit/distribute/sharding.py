"""Which rows of a global batch a rank owns, and random draws that match one process.

A global batch of ``N`` rows is split into ``size`` contiguous shards whose sizes differ by
at most one (the first ``N % size`` ranks take one more row). A rank whose shard is empty
(``N < size``, e.g. a short last batch) still runs the step, on one stand-in row with
sample weight 0, so that every rank makes the same collective calls.

Dropout must draw, for the rows a rank owns, exactly the mask one process would draw for
those rows of the joined batch. Every rank keeps each layer's generator in the same state
(broadcast at the start of ``fit``); :class:`ShardedGenerator` then draws the whole global
batch's mask and keeps this rank's rows. That costs each rank the draws of the full batch,
which are cheap next to the forward pass, and makes the distributed run equal to one
process up to floating-point summation order.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np


def shard_bounds(n: int, size: int, rank: int) -> tuple[int, int]:
    """``(start, stop)`` of ``rank``'s contiguous share of ``n`` rows among ``size`` ranks."""
    base, extra = divmod(int(n), int(size))
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


@dataclass
class Step:
    """The shard layout of the current training step on this rank.

    ``n_global``: rows in the global batch; ``offset``: first global row of this rank;
    ``n_run``: rows this rank actually runs (1 for a stand-in row); ``weight``: this
    rank's factor in the gradient sum (its share of the loss normalizer); ``stand_in``:
    the rank runs a stand-in row with sample weight 0.
    """

    n_global: int
    offset: int
    n_run: int
    weight: float
    stand_in: bool = False


class StepHolder:
    """The step being run (None between steps); shared by a strategy and its generators."""

    def __init__(self) -> None:
        self.step: Step | None = None


class ShardedGenerator(np.random.Generator):
    """A Generator on the same bit generator as a layer's own, drawing global-batch masks.

    When a step is active and a draw's first dimension is ``k`` times this rank's rows
    (``k = 1`` for ``(batch, features)``, ``k = timesteps`` for a ``TimeDistributed``
    reshape), it draws for all ``N`` rows of the global batch and returns this rank's
    ``k``-row blocks. Any other draw (no step, a ``noise_shape`` with batch dimension 1
    while this rank runs more than one row) passes through unchanged, which is what one
    process would draw as well because every rank's generator is in the same state.
    """

    def __init__(self, bit_generator, holder: StepHolder):
        super().__init__(bit_generator)
        self.holder = holder

    def _expand(self, size):
        step = self.holder.step
        if step is None or size is None:
            return None
        shape = (int(size),) if np.ndim(size) == 0 else tuple(int(s) for s in size)
        if not shape or shape[0] % step.n_run:
            return None
        k = shape[0] // step.n_run
        rows = slice(step.offset * k, (step.offset + step.n_run) * k)
        return (step.n_global * k,) + shape[1:], rows

    def random(self, size=None, dtype=np.float64, out=None):
        plan = None if out is not None else self._expand(size)
        if plan is None:
            return super().random(size, dtype, out)
        return super().random(plan[0], dtype)[plan[1]]

    def standard_normal(self, size=None, dtype=np.float64, out=None):
        plan = None if out is not None else self._expand(size)
        if plan is None:
            return super().standard_normal(size, dtype, out)
        return super().standard_normal(plan[0], dtype)[plan[1]]

    def normal(self, loc=0.0, scale=1.0, size=None):
        plan = self._expand(size) if np.ndim(loc) == 0 and np.ndim(scale) == 0 else None
        if plan is None:
            return super().normal(loc, scale, size)
        return super().normal(loc, scale, plan[0])[plan[1]]

    def uniform(self, low=0.0, high=1.0, size=None):
        plan = self._expand(size) if np.ndim(low) == 0 and np.ndim(high) == 0 else None
        if plan is None:
            return super().uniform(low, high, size)
        return super().uniform(low, high, plan[0])[plan[1]]

    def binomial(self, n, p, size=None):
        plan = self._expand(size) if np.ndim(n) == 0 and np.ndim(p) == 0 else None
        if plan is None:
            return super().binomial(n, p, size)
        return super().binomial(n, p, plan[0])[plan[1]]


def iter_layers(root) -> Iterator:
    """``root`` and every layer reachable through its attributes (wrapped and nested layers)."""
    from ..layers import Layer

    seen: set[int] = set()
    stack = [root]
    while stack:
        layer = stack.pop(0)
        if id(layer) in seen:
            continue
        seen.add(id(layer))
        yield layer
        for value in vars(layer).values():
            items = value if isinstance(value, (list, tuple)) else (value,)
            stack.extend(v for v in items if isinstance(v, Layer))


def layer_generators(model) -> list[tuple[object, str, np.random.Generator]]:
    """``(layer, attribute, generator)`` for every random generator a layer of ``model`` owns,
    in a traversal order that is the same on every rank."""
    found = []
    for layer in iter_layers(model):
        for name, value in list(vars(layer).items()):
            if isinstance(value, np.random.Generator):
                found.append((layer, name, value))
    return found


def install_sharded_generators(model, holder: StepHolder) -> list[np.random.Generator]:
    """Give every layer generator the global-batch behaviour; returns them in traversal order."""
    gens: list[np.random.Generator] = []
    for layer, name, gen in layer_generators(model):
        if isinstance(gen, ShardedGenerator):
            gen.holder = holder
        else:
            gen = ShardedGenerator(gen.bit_generator, holder)
            setattr(layer, name, gen)
        gens.append(gen)
    return gens
