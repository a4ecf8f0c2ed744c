"""The progress bar of ``fit``/``evaluate``/``predict`` and the ``verbose`` argument, as
Keras 3 prints them (``ProgbarLogger`` is the callback that drives it)."""
from __future__ import annotations

import sys
import time
from typing import Any

import numpy as np


def _fmt_time(seconds: float) -> str:
    if seconds >= 3600:
        return f"{int(seconds // 3600)}:{int(seconds % 3600 // 60):02d}:{int(seconds % 60):02d}"
    if seconds >= 60:
        return f"{int(seconds // 60)}:{int(seconds % 60):02d}"
    return f"{int(round(seconds))}s"


def _fmt_per_step(seconds: float) -> str:
    if seconds >= 1:
        return f"{seconds:.0f}s/step"
    if seconds >= 1e-3:
        return f"{seconds * 1e3:.0f}ms/step"
    return f"{seconds * 1e6:.0f}us/step"


def _fmt_value(value: Any) -> str:
    """A logged value as Keras 3 prints it: 4 decimals, or 4 significant digits below 1e-3."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{v:.4f}" if abs(v) > 1e-3 else f"{v:.4e}"


def resolve_verbose(verbose: object, what: str) -> int:
    """``verbose`` as Keras 3 reads it: ``"auto"`` is 1 (a progress bar), else 0, 1 or 2.

    Raises:
        ValueError: for any other value, naming ``what`` (``"fit"``, ``"evaluate"``, ...).
    """
    if verbose == "auto":
        return 1
    if isinstance(verbose, (bool, int, np.integer)) and int(verbose) in (0, 1, 2):
        return int(verbose)
    raise ValueError(f"{what}: verbose must be 'auto', 0, 1 or 2; received {verbose!r}")


class Progbar:
    """Keras-style progress bar: ``12/196 ━━━━━━━━━━━━━━━━━━━━ 8s 45ms/step - loss: 0.6931``.

    On a terminal (or in a notebook) the line redraws in place at most every ``interval``
    seconds, so it costs nothing measurable. Elsewhere (a pipe, a CI log) a new line would
    be written per redraw, so the bar prints a full line at most every ``log_interval``
    seconds and always the final one: one line per epoch unless the epoch is long.

    Args:
        target: number of steps in the epoch.
        width: characters in the bar.
        verbose: 1 for the bar, 2 for the final line alone.
        interval: seconds between redraws on a terminal.
        stream: where to write (default ``sys.stdout``).
        log_interval: seconds between lines when ``stream`` is not a terminal.
    """

    def __init__(self, target: int, width: int = 20, verbose: int = 1, interval: float = 0.05,
                 stream=None, log_interval: float = 10.0):
        self.target = target
        self.width = width
        self.verbose = verbose
        self.stream = stream or sys.stdout
        self._start = time.perf_counter()
        self._last = self._start
        self._dynamic = (hasattr(self.stream, "isatty") and self.stream.isatty()) \
            or "ipykernel" in sys.modules
        self.interval = interval if self._dynamic else log_interval
        self._prev_len = 0

    def _values(self, logs: dict[str, Any] | None) -> str:
        return "".join(f" - {k}: {_fmt_value(v)}" for k, v in (logs or {}).items())

    def update(self, current: int, logs=None, finalize: bool = False) -> None:
        """Report progress after step ``current``.

        Args:
            current: steps done so far (1-based).
            logs: ``{name: value}`` to show after the timing, in their order.
            finalize: the epoch is over: always write, and end the line.
        """
        now = time.perf_counter()
        if not finalize and now - self._last < self.interval:
            return
        if self.target is None:  # length unknown (a generator's first epoch): Keras' "n/Unknown"
            if finalize or (self.verbose == 1 and self._dynamic):
                start, end = ("\r" if self._dynamic else ""), ("\n" if finalize else "")
                self.stream.write(f"{start}{current}/Unknown {_fmt_time(now - self._start)}"
                                  f"{self._values(logs)}{end}")
                self.stream.flush()
            return
        self._last = now
        elapsed = now - self._start
        per_step = elapsed / max(current, 1)
        digits = len(str(self.target))
        if self.verbose == 2:
            if finalize:
                self.stream.write(f"{current}/{self.target} - {_fmt_time(elapsed)} - "
                                  f"{_fmt_per_step(per_step)}{self._values(logs)}\n")
                self.stream.flush()
            return
        filled = int(self.width * current / max(self.target, 1))
        if finalize:
            filled = self.width
        bar = "\u2501" * filled + "\u2500" * (self.width - filled)
        timing = _fmt_time(elapsed) if finalize else _fmt_time(per_step * (self.target - current))
        line = f"{current:>{digits}}/{self.target} {bar} {timing} {_fmt_per_step(per_step)}{self._values(logs)}"
        pad = " " * max(0, self._prev_len - len(line))
        self._prev_len = len(line)
        if self._dynamic:
            self.stream.write("\r" + line + pad + ("\n" if finalize else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
