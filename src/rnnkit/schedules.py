"""Learning-rate schedules (Keras 3's ``keras.optimizers.schedules``).

A schedule is a callable ``schedule(step) -> float`` that an optimizer evaluates once
per update with ``step = optimizer.iterations`` (the number of updates already applied,
so the first update uses ``step = 0``). Schedules are serialized as
``{"class_name": "ExponentialDecay", "config": {...}}``.

Reachable both as ``rnnkit.schedules`` and ``rnnkit.optimizers.schedules``.
"""
from __future__ import annotations

import math
from typing import Any

__all__ = [
    "LearningRateSchedule",
    "ExponentialDecay",
    "InverseTimeDecay",
    "PiecewiseConstantDecay",
    "PolynomialDecay",
    "CosineDecay",
    "serialize",
    "deserialize",
    "get",
]


def _check_decay_steps(arg: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        raise ValueError(f"Argument `{arg}` must be a number > 0; received {arg}={value!r}")


def _check_number(arg: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"Argument `{arg}` must be a finite number; received {arg}={value!r}")


class LearningRateSchedule:
    """Base class: subclasses implement ``__call__(step) -> float`` and ``get_config``."""

    def __call__(self, step: int) -> float:
        raise NotImplementedError(f"Schedule '{type(self).__name__}' must implement __call__(step)")

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments (Keras' config of the schedule)."""
        raise NotImplementedError(f"Schedule '{type(self).__name__}' must implement get_config()")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "LearningRateSchedule":
        """Rebuild a schedule from :meth:`get_config`'s dict."""
        return cls(**config)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class _RateDecay(LearningRateSchedule):
    """Shared by the schedules of ``initial_learning_rate``, ``decay_steps``,
    ``decay_rate`` and ``staircase``: :meth:`_progress` is ``p = step / decay_steps``,
    ``floor``-ed when ``staircase=True``."""

    def __init__(self, initial_learning_rate: float, decay_steps: float, decay_rate: float,
                 staircase: bool, name: str):
        _check_number("initial_learning_rate", initial_learning_rate)
        _check_decay_steps("decay_steps", decay_steps)
        _check_number("decay_rate", decay_rate)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.decay_rate = decay_rate
        self.staircase = bool(staircase)
        self.name = name

    def _progress(self, step: int) -> float:
        p = step / self.decay_steps
        return math.floor(p) if self.staircase else p

    def get_config(self) -> dict[str, Any]:
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "decay_rate": self.decay_rate, "staircase": self.staircase, "name": self.name}


class ExponentialDecay(_RateDecay):
    """``lr = initial_learning_rate * decay_rate ** p`` with ``p = step / decay_steps``.

    With ``staircase=True``, ``p = floor(step / decay_steps)``. Keras equivalent:
    ``keras.optimizers.schedules.ExponentialDecay``.

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: steps over which the rate is multiplied by ``decay_rate`` once (> 0).
        decay_rate: the multiplier per ``decay_steps``.
        staircase: decay in whole steps of ``decay_steps``.
        name: the name stored in the config.

    Raises:
        ValueError: a non-finite number, or ``decay_steps <= 0``.

    Example:
        ```python
        from rnnkit.optimizers import Adam, schedules

        schedule = schedules.ExponentialDecay(0.01, decay_steps=100, decay_rate=0.5)
        assert abs(schedule(200) - 0.0025) < 1e-12
        optimizer = Adam(learning_rate=schedule)       # evaluated at optimizer.iterations
        ```
    """

    def __init__(self, initial_learning_rate: float, decay_steps: float, decay_rate: float,
                 staircase: bool = False, name: str = "ExponentialDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step: int) -> float:
        return self.initial_learning_rate * self.decay_rate ** self._progress(step)


class InverseTimeDecay(_RateDecay):
    """``lr = initial_learning_rate / (1 + decay_rate * p)`` with ``p = step / decay_steps``
    (``floor``-ed when ``staircase=True``).

    Args:
        initial_learning_rate: the rate at step 0.
        decay_steps: the step scale (> 0).
        decay_rate: how fast the rate falls.
        staircase: use ``floor(step / decay_steps)``.
        name: the name stored in the config.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: float, decay_rate: float,
                 staircase: bool = False, name: str = "InverseTimeDecay"):
        super().__init__(initial_learning_rate, decay_steps, decay_rate, staircase, name)

    def __call__(self, step: int) -> float:
        return self.initial_learning_rate / (1.0 + self.decay_rate * self._progress(step))


class PiecewiseConstantDecay(LearningRateSchedule):
    """``values[0]`` while ``step <= boundaries[0]``, ``values[i]`` while
    ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]`` after ``boundaries[-1]``.

    Args:
        boundaries: strictly increasing steps, one fewer than ``values``.
        values: the rate in each interval.
        name: the name stored in the config.

    Raises:
        ValueError: the lengths do not fit, or the boundaries do not increase.
    """

    def __init__(self, boundaries: list, values: list, name: str = "PiecewiseConstant"):
        boundaries, values = list(boundaries), list(values)
        if len(boundaries) != len(values) - 1:
            raise ValueError(
                "Argument `boundaries` must have one element fewer than `values`; received "
                f"boundaries={boundaries} (length {len(boundaries)}) and values={values} "
                f"(length {len(values)})")
        if any(later <= earlier for earlier, later in zip(boundaries, boundaries[1:])):
            raise ValueError(
                f"Argument `boundaries` must be strictly increasing; received boundaries={boundaries}")
        self.boundaries = boundaries
        self.values = values
        self.name = name

    def __call__(self, step: int) -> float:
        for boundary, value in zip(self.boundaries, self.values):
            if step <= boundary:
                return value
        return self.values[-1]

    def get_config(self) -> dict[str, Any]:
        """``boundaries``, ``values`` and ``name``."""
        return {"boundaries": self.boundaries, "values": self.values, "name": self.name}


class PolynomialDecay(LearningRateSchedule):
    """``lr = (initial - end) * (1 - s / decay_steps) ** power + end`` with
    ``s = min(step, decay_steps)``; with ``cycle=True`` ``decay_steps`` is multiplied by
    ``ceil(step / decay_steps)`` (1 at step 0) instead of clamping ``step``."""

    def __init__(self, initial_learning_rate: float, decay_steps: float,
                 end_learning_rate: float = 0.0001, power: float = 1.0, cycle: bool = False,
                 name: str = "PolynomialDecay"):
        _check_number("initial_learning_rate", initial_learning_rate)
        _check_decay_steps("decay_steps", decay_steps)
        _check_number("end_learning_rate", end_learning_rate)
        _check_number("power", power)
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.end_learning_rate = end_learning_rate
        self.power = power
        self.cycle = bool(cycle)
        self.name = name

    def __call__(self, step: float) -> float:
        decay_steps = self.decay_steps
        if self.cycle:
            decay_steps = decay_steps * (1.0 if step == 0 else math.ceil(step / decay_steps))
        else:
            step = min(step, decay_steps)
        p = step / decay_steps
        return (self.initial_learning_rate - self.end_learning_rate) * (1 - p) ** self.power \
            + self.end_learning_rate

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments."""
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "end_learning_rate": self.end_learning_rate, "power": self.power,
                "cycle": self.cycle, "name": self.name}


class CosineDecay(LearningRateSchedule):
    """Cosine decay with optional linear warmup.

    Without ``warmup_target``: ``s = min(step, decay_steps)`` and
    ``lr = initial * ((1 - alpha) * 0.5 * (1 + cos(pi * s / decay_steps)) + alpha)``.
    With ``warmup_target``: for ``step < warmup_steps``,
    ``lr = initial + (warmup_target - initial) * step / warmup_steps``; afterwards the
    cosine decay above runs from ``warmup_target`` on ``step - warmup_steps``.
    """

    def __init__(self, initial_learning_rate: float, decay_steps: float, alpha: float = 0.0,
                 name: str = "CosineDecay", warmup_target: float | None = None,
                 warmup_steps: float = 0):
        _check_number("initial_learning_rate", initial_learning_rate)
        _check_decay_steps("decay_steps", decay_steps)
        _check_number("alpha", alpha)
        if warmup_target is not None:
            _check_number("warmup_target", warmup_target)
        if isinstance(warmup_steps, bool) or not isinstance(warmup_steps, (int, float)) or warmup_steps < 0:
            raise ValueError(f"Argument `warmup_steps` must be a number >= 0; received warmup_steps={warmup_steps!r}")
        self.initial_learning_rate = initial_learning_rate
        self.decay_steps = decay_steps
        self.alpha = alpha
        self.name = name
        self.warmup_target = warmup_target
        self.warmup_steps = warmup_steps

    def _decay(self, step: float, start_lr: float) -> float:
        cosine = 0.5 * (1.0 + math.cos(math.pi * step / self.decay_steps))
        return start_lr * ((1 - self.alpha) * cosine + self.alpha)

    def __call__(self, step: float) -> float:
        if self.warmup_target is None:
            return self._decay(min(step, self.decay_steps), self.initial_learning_rate)
        step = min(step, self.decay_steps + self.warmup_steps)
        if step < self.warmup_steps:
            delta = self.warmup_target - self.initial_learning_rate
            return delta * (step / self.warmup_steps) + self.initial_learning_rate
        return self._decay(step - self.warmup_steps, self.warmup_target)

    def get_config(self) -> dict[str, Any]:
        """The constructor arguments, warmup included."""
        return {"initial_learning_rate": self.initial_learning_rate, "decay_steps": self.decay_steps,
                "alpha": self.alpha, "name": self.name, "warmup_target": self.warmup_target,
                "warmup_steps": self.warmup_steps}


_SCHEDULES = {cls.__name__: cls for cls in (
    ExponentialDecay, InverseTimeDecay, PiecewiseConstantDecay, PolynomialDecay, CosineDecay)}


def serialize(schedule: LearningRateSchedule) -> dict[str, Any]:
    """``{"class_name": ..., "config": ...}`` (JSON-serializable)."""
    if not isinstance(schedule, LearningRateSchedule):
        raise TypeError(f"serialize expects a LearningRateSchedule; received {schedule!r}")
    return {"class_name": type(schedule).__name__, "config": schedule.get_config()}


def deserialize(config: dict[str, Any],
                custom_objects: dict[str, type] | None = None) -> LearningRateSchedule:
    """Inverse of :func:`serialize`; also reads Keras' form (extra ``module`` keys are ignored)."""
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError("Argument `config` must be a dict with 'class_name' and 'config' keys; "
                         f"received {config!r}")
    table: dict[str, Any] = dict(_SCHEDULES, **(custom_objects or {}))
    name = config["class_name"]
    if name not in table:
        raise ValueError(f"Unknown learning rate schedule {name!r}; expected one of {sorted(table)}")
    return table[name].from_config(dict(config.get("config", {})))


def get(identifier) -> LearningRateSchedule:
    """Resolve a schedule instance or a serialized dict."""
    if isinstance(identifier, LearningRateSchedule):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    raise ValueError(f"Could not interpret learning rate schedule identifier: {identifier!r}")
