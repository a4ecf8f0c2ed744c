"""The optimizer base class: clipping, decoupled weight decay, learning rate, slots, state.

The update order every optimizer follows is described in :mod:`rnnkit.optimizers`; the
``_check_*`` helpers validate the arguments of every optimizer in this package.
"""
from __future__ import annotations

import math
from typing import Any, Iterable, Sequence

import numpy as np

from .. import backend, schedules
from ..ops.tape import Variable
from ..schedules import LearningRateSchedule

__all__ = ["Optimizer"]

# Keras-only arguments that appear in Keras configs; accepted by from_config only at
# their inactive values, since rnnkit implements none of them.
_KERAS_INACTIVE = {"use_ema": (False,), "ema_momentum": None, "ema_overwrite_frequency": (None,),
                   "loss_scale_factor": (None,), "gradient_accumulation_steps": (None,)}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)


def _check_range(arg: str, value: Any, low: float, high: float = math.inf,
                 low_open: bool = False, high_open: bool = False) -> float:
    """Return ``float(value)`` or raise a ValueError naming the argument and the range."""
    ok = _is_number(value) and math.isfinite(float(value))
    if ok:
        v = float(value)
        ok = (v > low if low_open else v >= low) and (v < high if high_open else v <= high)
    if not ok:
        lo = "(" if low_open else "["
        hi = ")" if high_open or high == math.inf else "]"
        raise ValueError(f"Argument `{arg}` must be a number in {lo}{low}, {high}{hi}; "
                         f"received {arg}={value!r}")
    return float(value)


def _check_iterations(value: Any, arg: str = "iterations") -> int:
    """A non-negative integer update count (a 0-d integer array is accepted, as saved)."""
    v = np.asarray(value) if not isinstance(value, (int, np.integer)) else value
    if isinstance(v, np.ndarray):
        v = v.item() if v.shape == () and v.dtype.kind in "iu" else None
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
        raise ValueError(f"Argument `{arg}` must be a non-negative integer; received {value!r}")
    return int(v)


class Optimizer:
    """Base class. Subclasses define ``_slot_names()`` (with ``_slot_init``) and ``_update_step``.

    Args:
        learning_rate: float >= 0 or a :class:`~rnnkit.schedules.LearningRateSchedule`.
        weight_decay: decoupled decay factor (see :mod:`rnnkit.optimizers`), or None.
        clipnorm / clipvalue / global_clipnorm: at most one, each > 0, or None.
        name: defaults to the snake-case class name, made unique (``adam``, ``adam_1``).
    """

    def __init__(self, learning_rate: float | LearningRateSchedule, weight_decay: float | None = None,
                 clipnorm: float | None = None, clipvalue: float | None = None,
                 global_clipnorm: float | None = None, name: str | None = None, **kwargs: Any):
        if kwargs:
            raise ValueError(f"Argument(s) not recognized by {type(self).__name__}: {kwargs}")
        set_clips = {k: v for k, v in (("clipnorm", clipnorm), ("clipvalue", clipvalue),
                                       ("global_clipnorm", global_clipnorm)) if v is not None}
        if len(set_clips) > 1:
            raise ValueError("Only one of `clipnorm`, `clipvalue` and `global_clipnorm` can be set; "
                             f"received {set_clips}")
        for arg, value in set_clips.items():
            _check_range(arg, value, 0.0, low_open=True)
        self.clipnorm = None if clipnorm is None else float(clipnorm)
        self.clipvalue = None if clipvalue is None else float(clipvalue)
        self.global_clipnorm = None if global_clipnorm is None else float(global_clipnorm)
        self.weight_decay = None if weight_decay is None else _check_range("weight_decay", weight_decay, 0.0)
        self.name = name if name is not None else backend.unique_name(backend.to_snake_case(type(self).__name__))
        self._learning_rate: float | LearningRateSchedule = self._check_lr(learning_rate)
        self._iterations = 0
        self._slots: dict[str, list[np.ndarray]] = {}
        self._scratch: list[tuple[np.ndarray, ...]] = []
        self._shapes: list[tuple[int, ...]] | None = None

    # ------------------------------------------------------------------ learning rate
    @staticmethod
    def _check_lr(value: Any) -> float | LearningRateSchedule:
        if isinstance(value, LearningRateSchedule):
            return value
        if not _is_number(value) or not math.isfinite(float(value)) or value < 0:
            raise ValueError("Argument `learning_rate` must be a finite number >= 0 or a "
                             f"LearningRateSchedule; received learning_rate={value!r}")
        return float(value)

    @property
    def learning_rate(self) -> float:
        """The rate the next update will use (a schedule is evaluated at ``iterations``)."""
        if isinstance(self._learning_rate, LearningRateSchedule):
            return float(self._learning_rate(self._iterations))
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float | LearningRateSchedule) -> None:
        value = self._check_lr(value)
        if isinstance(self._learning_rate, LearningRateSchedule) and not isinstance(value, LearningRateSchedule):
            # Same rule as Keras: a schedule-driven optimizer has no settable scalar rate.
            raise TypeError("This optimizer was created with a LearningRateSchedule as its "
                            "`learning_rate`, so the rate cannot be set to a number; assign a "
                            f"schedule instead. Received learning_rate={value!r}")
        self._learning_rate = value

    @property
    def iterations(self) -> int:
        """Number of updates applied so far."""
        return self._iterations

    @iterations.setter
    def iterations(self, value: int) -> None:
        self._iterations = _check_iterations(value)

    @property
    def built(self) -> bool:
        return self._shapes is not None

    # ------------------------------------------------------------------ slots
    def _slot_names(self) -> tuple[str, ...]:
        return ()

    def _slot_init(self, slot: str) -> float:
        return 0.0

    def build(self, params: Sequence[np.ndarray]) -> None:
        """Create zero (or initial-value) slots shaped like ``params``; done by the first ``apply``."""
        params = list(params)
        for i, p in enumerate(params):
            self._check_param(i, p)
        self._shapes = [p.shape for p in params]
        self._slots = {s: [np.full(p.shape, self._slot_init(s), dtype=p.dtype) for p in params]
                       for s in self._slot_names()}
        self._scratch = [(np.empty_like(p), np.empty_like(p)) for p in params]

    @staticmethod
    def _check_param(i: int, p: Any) -> None:
        if not isinstance(p, np.ndarray) or p.dtype.kind != "f":
            raise TypeError(f"params[{i}] must be a floating-point np.ndarray; received "
                            f"{type(p).__name__} with dtype {getattr(p, 'dtype', None)}")
        if not p.flags.writeable:
            raise ValueError(f"params[{i}] must be writeable (it is updated in place)")

    def _check_shapes(self, grads: list, params: list) -> None:
        if len(params) != len(self._shapes):
            raise ValueError(f"This optimizer was built for {len(self._shapes)} parameter arrays; "
                             f"received {len(params)}. Create a new optimizer for a new model.")
        for i, (g, p) in enumerate(zip(grads, params)):
            self._check_param(i, p)
            if p.shape != self._shapes[i]:
                raise ValueError(f"params[{i}] must have shape {self._shapes[i]} (the shape the "
                                 f"optimizer state was built with); received shape {p.shape}")
            if g is not None and np.shape(g) != p.shape:
                raise ValueError(f"grads[{i}] must have the shape of params[{i}], {p.shape}; "
                                 f"received shape {np.shape(g)}")
            if self._scratch[i][0].dtype != p.dtype:
                # State restored by set_state before the params were seen (or a dtype change):
                # keep slots in the parameter's dtype so the update math matches Keras.
                for arrays in self._slots.values():
                    arrays[i] = arrays[i].astype(p.dtype)
                self._scratch[i] = (np.empty_like(p), np.empty_like(p))

    # ------------------------------------------------------------------ update
    def apply(self, grads: Sequence[np.ndarray | None], params: Sequence[np.ndarray]) -> None:
        """Update every ``params[i]`` in place from ``grads[i]`` (a None gradient skips that array).

        Args:
            grads: one array per parameter, same shape (any float dtype; cast to the param's).
            params: the float arrays to update; fixed in number and shapes after the first call.
        """
        grads, params = list(grads), list(params)
        params = [p.value if isinstance(p, Variable) else p for p in params]  # keras.Variable: its array
        if len(grads) != len(params):
            raise ValueError(f"Arguments `grads` and `params` must have the same length; received "
                             f"{len(grads)} gradients and {len(params)} params")
        if not params:
            return
        if not self.built:
            self.build(params)
        self._check_shapes(grads, params)
        live = [i for i, g in enumerate(grads) if g is not None]
        if not live:
            raise ValueError("No gradients provided for any parameter (all grads are None).")
        lr = self.learning_rate
        clipped = self._clip(grads, params, live)
        if self.weight_decay is not None:
            for i in live:
                p, tmp = params[i], self._scratch[i][0]
                np.multiply(p, p.dtype.type(self.weight_decay), out=tmp)
                tmp *= p.dtype.type(lr)
                p -= tmp
        for i in live:
            self._update_step(i, clipped[i], params[i], lr)
        self._iterations += 1

    def apply_gradients(self, grads_and_vars: Iterable[tuple[np.ndarray, np.ndarray]]) -> int:
        """Keras-style entry point: an iterable of ``(grad, param)`` pairs. Returns ``iterations``."""
        pairs = list(grads_and_vars)
        self.apply([g for g, _ in pairs], [p for _, p in pairs])
        return self._iterations

    def _clip(self, grads: list, params: list, live: list[int]) -> list:
        """Gradients cast to each param's dtype and clipped; new values go to the second scratch
        buffer, so caller-owned gradient arrays are never modified."""
        out: list = [None] * len(grads)
        if self.global_clipnorm is not None:
            sq = 0.0
            for i in live:
                buf = self._scratch[i][1]
                np.square(grads[i], out=buf, casting="same_kind")
                sq += float(buf.sum(dtype=np.float64))
            norm, c = math.sqrt(sq), self.global_clipnorm
            # Keras' form: the `+ (norm - norm)` turns an inf/nan norm into a nan scale.
            scale = c * min(1.0 / norm if norm else math.inf, 1.0 / c) + (norm - norm)
        for i in live:
            g, p = grads[i], params[i]
            dt = p.dtype.type
            buf = self._scratch[i][1]
            if self.clipnorm is not None:
                np.square(g, out=buf, casting="same_kind")
                norm = math.sqrt(float(buf.sum(dtype=np.float64)))
                np.multiply(g, dt(self.clipnorm), out=buf, casting="same_kind")
                buf /= dt(max(norm, self.clipnorm))
            elif self.global_clipnorm is not None:
                np.multiply(g, dt(scale), out=buf, casting="same_kind")
            elif self.clipvalue is not None:
                np.clip(g, -self.clipvalue, self.clipvalue, out=buf, casting="same_kind")
            elif np.asarray(g).dtype != p.dtype:
                np.copyto(buf, g, casting="same_kind")
            else:
                out[i] = g
                continue
            out[i] = buf
        return out

    def _update_step(self, i: int, g: np.ndarray, p: np.ndarray, lr: float) -> None:
        raise NotImplementedError

    def _buffers(self, i: int, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Position ``i``'s two scratch buffers, the first never aliasing ``g``; the second may
        be ``g`` itself (when ``g`` is a clipped copy), so it is written only once ``g`` is spent
        or by an elementwise op that reads ``g``."""
        a, b = self._scratch[i]
        return (b, a) if g is a else (a, b)

    # ------------------------------------------------------------------ saving
    def get_config(self) -> dict[str, Any]:
        """JSON-serializable constructor arguments (a schedule as ``{"class_name", "config"}``)."""
        lr = self._learning_rate
        return {"name": self.name,
                "learning_rate": schedules.serialize(lr) if isinstance(lr, LearningRateSchedule) else lr,
                "weight_decay": self.weight_decay, "clipnorm": self.clipnorm,
                "global_clipnorm": self.global_clipnorm, "clipvalue": self.clipvalue}

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "Optimizer":
        """Rebuild from :meth:`get_config` output (Keras configs are accepted too)."""
        config = dict(config)
        for key, inactive in _KERAS_INACTIVE.items():
            if key in config:
                value = config.pop(key)
                if inactive is not None and value not in inactive:
                    raise ValueError(f"Argument `{key}` is not supported by rnnkit; expected "
                                     f"{inactive[0]!r}, received {key}={value!r}")
        if isinstance(config.get("learning_rate"), dict):
            config["learning_rate"] = schedules.deserialize(config["learning_rate"])
        return cls(**config)

    def get_state(self) -> dict[str, np.ndarray]:
        """Copies of ``iterations``, the scalar ``learning_rate`` and every slot (``"m/0"``, ...)."""
        state = {"iterations": np.array(self._iterations, dtype=np.int64)}
        if not isinstance(self._learning_rate, LearningRateSchedule):
            state["learning_rate"] = np.array(self._learning_rate, dtype=np.float64)
        for slot, arrays in self._slots.items():
            for i, a in enumerate(arrays):
                state[f"{slot}/{i}"] = a.copy()
        return state

    def set_state(self, state: dict[str, np.ndarray]) -> None:
        """Restore :meth:`get_state` output exactly (builds the slots if not built yet)."""
        state = dict(state)
        if "iterations" not in state:
            raise ValueError(f"Argument `state` must contain 'iterations'; received keys {sorted(state)}")
        iterations = _check_iterations(state["iterations"], "state['iterations']")
        lr = None
        if "learning_rate" in state:
            value = np.asarray(state["learning_rate"])
            lr = self._check_lr(value.item() if value.shape == () and value.dtype.kind in "iuf" else value)
        slot_keys = {k: v for k, v in state.items() if k not in ("iterations", "learning_rate")}
        for key, value in slot_keys.items():
            value = np.asarray(value)
            if value.dtype.kind != "f" or not np.isfinite(value).all():
                raise ValueError(f"state[{key!r}] must be a finite floating-point array; received "
                                 f"dtype {value.dtype}" + (" with NaN/inf values" if value.dtype.kind == "f" else ""))
        names = self._slot_names()
        counts = {s: sum(1 for k in slot_keys if k.split("/")[0] == s) for s in names}
        n = len(self._shapes) if self.built else max(counts.values(), default=0)
        expected = {f"{s}/{i}" for s in names for i in range(n)}
        if set(slot_keys) != expected:
            raise ValueError(f"Argument `state` does not match {type(self).__name__}'s slots; expected "
                             f"keys {sorted(expected)}, received {sorted(slot_keys)}")
        if self.built:
            targets = {k: self._slots[k.split("/")[0]][int(k.split("/")[1])] for k in slot_keys}
            for key, value in slot_keys.items():  # validate everything before changing anything
                if np.shape(value) != targets[key].shape:
                    raise ValueError(f"state[{key!r}] must have shape {targets[key].shape}; "
                                     f"received {np.shape(value)}")
            for key, value in slot_keys.items():
                np.copyto(targets[key], value)
        elif names and n:
            self._slots = {s: [np.array(state[f"{s}/{i}"], copy=True) for i in range(n)] for s in names}
            self._shapes = [a.shape for a in self._slots[names[0]]]
            self._scratch = [(np.empty_like(a), np.empty_like(a)) for a in self._slots[names[0]]]
        self._iterations = iterations
        if lr is not None and not isinstance(self._learning_rate, LearningRateSchedule):
            self._learning_rate = lr

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name!r} iterations={self._iterations}>"
