"""``model.summary()`` in Keras 3's layout: a box-drawn table, then the parameter counts with
their sizes in bytes (``Total params: 328,353 (1.25 MB)``) and, once the optimizer has state,
its parameters too. ``summary(style="keras2")`` keeps the underscore table of ``summary.py``.

The geometry follows Keras 3: columns get ``positions`` of ``line_length``, each cell has
one space of padding on either side, and the widths shrink evenly so that the borders fit
inside ``line_length``.
"""
from __future__ import annotations

import shutil
import textwrap
from typing import Any, Callable, Sequence

import numpy as np

from .summary import format_shape, layer_output_shape, param_formula

# (left, fill, junction, right) for each kind of horizontal rule.
_TOP = ("\u250f", "\u2501", "\u2533", "\u2513")        # ┏━┳┓
_HEAD_END = ("\u2521", "\u2501", "\u2547", "\u2529")   # ┡━╇┩
_BETWEEN = ("\u251c", "\u2500", "\u253c", "\u2524")    # ├─┼┤
_BOTTOM = ("\u2514", "\u2500", "\u2534", "\u2518")     # └─┴┘
_HEAD_BAR = "\u2503"                                   # ┃
_BAR = "\u2502"                                        # │

# Keras 3 keeps its learning rate in a float32 variable; rnnkit holds a Python float.
_LEARNING_RATE_BYTES = 4


STYLES = ("keras3", "keras2")


def check_style(style: Any) -> str:
    """Validate ``summary(style=...)``: ``"keras3"`` (box table) or ``"keras2"`` (underscores)."""
    if style not in STYLES:
        raise ValueError(f"Argument `style` must be 'keras3' or 'keras2'; received style={style!r}")
    return style


def readable_size(num_bytes: float) -> str:
    """``1313412`` -> ``"1.25 MB"``: powers of 1024, two decimals, as Keras 3 prints sizes."""
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if num_bytes < 1024:
            return f"{num_bytes:.2f} {unit}"
        num_bytes /= 1024
    return f"{num_bytes:.2f} PB"


def column_widths(line_length: int, positions: Sequence[float]) -> list[int]:
    """Cell widths (padding included) for a table ``line_length`` characters wide.

    Args:
        line_length: the width of the whole table, borders included.
        positions: right edges of the columns as fractions of ``line_length`` (or absolute
            columns when the last one is above 1).

    Raises:
        ValueError: when a column would be narrower than 4 characters.
    """
    if positions[-1] > 1:
        positions = [p / positions[-1] for p in positions]
    widths, left = [], 0
    for pos in positions:
        right = int(pos * line_length)
        if right - left < 4:
            raise ValueError(f"Argument `line_length`={line_length} is too narrow for the summary's "
                             f"columns at positions {list(positions)}; use a larger line_length")
        widths.append(right - left + 2)
        left = right
    # Borders take one character per column plus one; take the excess evenly off each
    # column, rounding half to even, as Keras 3's table renderer does.
    excess = sum(widths) - (line_length - len(widths) - 1)
    remaining_cols = len(widths)
    for i in range(len(widths)):
        cut = min(widths[i], round(excess / remaining_cols)) if excess > 0 else 0
        widths[i] -= cut
        excess -= cut
        remaining_cols -= 1
    return widths


def _rule(kind: tuple[str, str, str, str], widths: Sequence[int]) -> str:
    left, fill, junction, right = kind
    return left + junction.join(fill * w for w in widths) + right


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width, break_on_hyphens=False) or [""]


def _table_row(cells: Sequence[str], widths: Sequence[int], right_aligned: Sequence[bool],
               bar: str = _BAR) -> list[str]:
    """One table row, each cell word-wrapped to its width; several lines if any cell wraps."""
    wrapped = [_wrap(c, w - 2) for c, w in zip(cells, widths)]
    lines = []
    for k in range(max(len(w) for w in wrapped)):
        parts = []
        for lines_of_cell, w, right in zip(wrapped, widths, right_aligned):
            text = lines_of_cell[k] if k < len(lines_of_cell) else ""
            parts.append(" " + (text.rjust(w - 2) if right else text.ljust(w - 2)) + " ")
        lines.append(bar + bar.join(parts) + bar)
    return lines


def _spanning_line(text: str, widths: Sequence[int]) -> list[str]:
    """A line across the whole row (no inner bars), used for ``explain``'s formulas."""
    inner = sum(widths) + len(widths) - 1
    return [_BAR + (" " + t).ljust(inner) + _BAR for t in _wrap(text, inner - 2)]


def _weights_size(weights: Sequence[np.ndarray]) -> tuple[int, int]:
    unique = {id(w): w for w in weights}.values()
    return sum(int(w.size) for w in unique), sum(int(w.nbytes) for w in unique)


def _optimizer_size(model: Any) -> tuple[int, int] | None:
    """Count and bytes of the optimizer's state (iterations, learning rate, slots), or None
    before the optimizer has built its slots, when Keras 3 leaves the line out."""
    optimizer = getattr(model, "optimizer", None)
    if optimizer is None or not getattr(optimizer, "built", False):
        return None
    count = nbytes = 0
    for key, value in optimizer.get_state().items():
        count += int(np.size(value))
        nbytes += _LEARNING_RATE_BYTES if key == "learning_rate" else int(np.asarray(value).nbytes)
    return count, nbytes


def _class_name(layer: Any) -> str:
    # The functional Model class itself (not a subclass) shows as Keras' "Functional".
    return "Functional" if type(layer).__dict__.get("_keras_class_name") == "Functional" \
        else type(layer).__name__


def _rows(model: Any) -> tuple[list[tuple[Any, str]], bool]:
    """``[(layer, output shape text)]`` and whether the table needs a ``Connected to`` column."""
    from ..layers import InputLayer

    if hasattr(model, "_summary_rows"):  # Sequential
        if not model.built:
            return [(layer, "?") for layer in model.layers], False
        return [(layer, format_shape(shape)) for layer, shape in model._summary_rows()], False
    rows = []
    for layer in model.layers:
        if isinstance(layer, InputLayer):
            rows.append((layer, format_shape(layer._inbound_nodes[0].shape)))
        else:
            rows.append((layer, layer_output_shape(layer)))
    return rows, not model._is_sequential_like()


def _param_cell(layer: Any) -> str:
    if not getattr(layer, "built", True):
        return "0 (unbuilt)"
    return f"{layer.count_params():,}"


def print_box_summary(model: Any, line_length: int | None = None,
                      positions: Sequence[float] | None = None,
                      print_fn: Callable[[str], None] | None = None, explain: bool = False) -> None:
    """Print Keras 3's summary of a Sequential or functional model, one line per call.

    Args:
        model: a built or unbuilt ``Sequential``, or a functional ``Model``.
        line_length: table width; by default 88 (108 with a ``Connected to`` column),
            or the terminal's width minus 4 when that is smaller, as in Keras 3.
        positions: right edges of the columns as fractions of ``line_length``.
        print_fn: called with each line (default ``print``). Keras 3 calls it once with the
            whole text; lines are easier to filter and join.
        explain: under each layer with weights, a line showing how its count is derived.
    """
    print_fn = print_fn or print
    rows, connected = _rows(model)
    header = ["Layer (type)", "Output Shape", "Param #"]
    aligned_right = [False, False, True]
    if connected:
        header.append("Connected to")
        aligned_right.append(False)
        default_length, default_positions = 108, [0.3, 0.56, 0.74, 1.0]
    else:
        default_length, default_positions = 88, [0.45, 0.80, 1.0]
    if line_length is None:
        line_length = min(default_length, shutil.get_terminal_size().columns - 4)
    widths = column_widths(line_length, positions or default_positions)

    print_fn(f'Model: "{model.name}"')
    print_fn(_rule(_TOP, widths))
    for line in _table_row(header, widths, aligned_right, bar=_HEAD_BAR):
        print_fn(line)
    print_fn(_rule(_HEAD_END, widths))
    for i, (layer, shape) in enumerate(rows):
        cells = [f"{layer.name} ({_class_name(layer)})", shape, _param_cell(layer)]
        if connected:
            cells.append(", ".join(model._connections(layer)) or "-")
        for line in _table_row(cells, widths, aligned_right):
            print_fn(line)
        formula = param_formula(layer) if explain and getattr(layer, "built", True) else None
        if formula and layer.count_params():
            for line in _spanning_line(f"  {layer.count_params():,} = {formula}", widths):
                print_fn(line)
        print_fn(_rule(_BETWEEN if i < len(rows) - 1 else _BOTTOM, widths))
    if not rows:
        print_fn(_rule(_BOTTOM, widths))

    trainable, trainable_bytes = _weights_size(model.trainable_weights)
    frozen, frozen_bytes = _weights_size(model.non_trainable_weights)
    optimizer = _optimizer_size(model)
    opt_count, opt_bytes = optimizer or (0, 0)
    total, total_bytes = trainable + frozen + opt_count, trainable_bytes + frozen_bytes + opt_bytes
    print_fn(f" Total params: {total:,} ({readable_size(total_bytes)})")
    print_fn(f" Trainable params: {trainable:,} ({readable_size(trainable_bytes)})")
    print_fn(f" Non-trainable params: {frozen:,} ({readable_size(frozen_bytes)})")
    if optimizer is not None:
        print_fn(f" Optimizer params: {opt_count:,} ({readable_size(opt_bytes)})")
