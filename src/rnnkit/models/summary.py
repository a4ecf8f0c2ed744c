"""``model.summary()``: the Keras 2 table, plus the parameter formulas with ``explain=True``."""
from __future__ import annotations

from typing import Callable


def format_shape(shape) -> str:
    if isinstance(shape, list):
        return "[" + ", ".join(format_shape(s) for s in shape) + "]"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def param_formula(layer) -> str | None:
    """The parameter count written as the seeds derive it (each layer's own
    :meth:`~rnnkit.layers.Layer.param_formula`), e.g. ``4 x ((32 + 1) x 32 + 32^2)``."""
    return layer.param_formula()


def _row(fields, positions) -> list[str]:
    """One table row, wrapping long fields onto continuation lines as Keras does."""
    left = [str(f) for f in fields]
    lines = []
    while True:
        line = " "
        for col, text in enumerate(left):
            start = 0 if col == 0 else positions[col - 1]
            last = col == len(positions) - 1
            cutoff = positions[col] - start - (0 if last else 2) - (1 if col == 0 else 0)
            line += text[:cutoff]
            left[col] = text[cutoff:]
            line += " " * (positions[col] - len(line))
        lines.append(line)
        if not any(left):
            return lines


def print_summary(model, line_length: int | None = None, positions=None,
                  print_fn: Callable[[str], None] | None = None, explain: bool = False) -> None:
    """Print the Keras 2 summary table of a :class:`Sequential` model.

    Args:
        line_length: total width (65 by default).
        positions: right edges of the columns, as fractions or absolute columns.
        print_fn: called with each line (default ``print``).
        explain: under each row with weights, show how its count is computed.
    """
    print_fn = print_fn or print
    line_length = line_length or 65
    positions = positions or [0.45, 0.85, 1.0]
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]
    rows = model._summary_rows()
    print_fn(f'Model: "{model.name}"')
    print_fn("_" * line_length)
    for line in _row(["Layer (type)", "Output Shape", "Param #"], positions):
        print_fn(line)
    print_fn("=" * line_length)
    for layer, shape in rows:
        count = layer.count_params()
        for line in _row([f"{layer.name} ({_class_name(layer)})", format_shape(shape), count], positions):
            print_fn(line)
        _print_row_end(layer, count, explain, line_length, print_fn)
    _print_totals(model, line_length, print_fn)


def _print_row_end(layer, count: int, explain: bool, line_length: int, print_fn) -> None:
    """The line under a layer's row: blank, or with ``explain`` its count's formula."""
    formula = param_formula(layer) if explain else None
    if formula and count:
        print_fn(f"{'':4}{count:,} = {formula}".ljust(line_length))
    else:
        print_fn(" " * line_length)


def _print_totals(model, line_length: int, print_fn) -> None:
    print_fn("=" * line_length)
    trainable = sum(w.size for w in model.trainable_weights)
    total = model.count_params()
    print_fn(f"Total params: {total:,}")
    print_fn(f"Trainable params: {trainable:,}")
    print_fn(f"Non-trainable params: {total - trainable:,}")
    print_fn("_" * line_length)


def _keras2_row(fields, positions) -> list[str]:
    """One row as Keras 2's functional summary prints it: columns wrap, breaking after
    ``),`` ``],`` ``},`` or ``',`` so each shape or connection gets its own line."""
    left = [str(f) for f in fields]
    lines = []
    while any(left):
        line = ""
        for col, text in enumerate(left):
            start = 0 if col == 0 else positions[col - 1]
            last = col == len(positions) - 1
            space = 0 if last else 2
            cutoff = positions[col] - start - space - (0 if last else 1)
            fit = text[:cutoff]
            breaks = [fit.find(b) + len(b) for b in ("),", "},", "],", "',") if fit.find(b) >= 0]
            if breaks:
                cutoff = min(breaks)
                fit = fit[:cutoff]
            if col == 0:
                line += " "
            line += fit + " " * space
            left[col] = text[cutoff:]
            line += " " * (positions[col] - len(line))
        lines.append(line)
    return lines


def _node_shapes(layer, entry):
    if type(layer).__name__ == "InputLayer":
        return [entry.shape]
    if isinstance(entry, list):
        return [t.shape for t in entry]
    return entry.shape


def layer_output_shape(layer) -> str:
    """Keras 2's ``layer.output_shape`` text: the shape(s) of its calls, or ``multiple``."""
    shapes = [_node_shapes(layer, e) for e in layer._inbound_nodes]
    if _is_functional(layer):
        shapes.insert(0, [t.shape for t in layer.outputs] if layer._outputs_as_list
                      else layer.outputs[0].shape)
    if not shapes or any(s != shapes[0] for s in shapes):
        return "multiple"
    return format_shape(shapes[0])


def _is_functional(layer) -> bool:
    """A functional ``Model`` (summary() shows it as Keras does: ``Functional``)."""
    return getattr(layer, "_keras_class_name", None) == "Functional"


def _class_name(layer) -> str:
    return "Functional" if _is_functional(layer) else type(layer).__name__


def print_functional_summary(model, line_length: int | None = None, positions=None,
                             print_fn: Callable[[str], None] | None = None, explain: bool = False) -> None:
    """Print Keras 2's summary of a functional :class:`Model`.

    A chain of single-input calls with no shared layer prints the Sequential table
    (with the InputLayer row); any other graph adds the ``Connected to`` column, where
    ``lstm[0][1]`` is output 1 of the first call of layer ``lstm``.
    """
    print_fn = print_fn or print
    sequential_like = model._is_sequential_like()
    if sequential_like:
        line_length = line_length or 65
        positions = positions or [0.45, 0.85, 1.0]
        header = ["Layer (type)", "Output Shape", "Param #"]
    else:
        line_length = line_length or 98
        positions = positions or [0.3, 0.6, 0.70, 1.0]
        header = ["Layer (type)", "Output Shape", "Param #", "Connected to"]
    if positions[-1] <= 1:
        positions = [int(line_length * p) for p in positions]
    print_fn(f'Model: "{model.name}"')
    print_fn("_" * line_length)
    for line in _keras2_row(header, positions):
        print_fn(line)
    print_fn("=" * line_length)
    for layer in model.layers:
        count = layer.count_params()
        fields = [f"{layer.name} ({_class_name(layer)})", layer_output_shape(layer), count]
        if not sequential_like:
            fields.append(model._connections(layer))
        for line in _keras2_row(fields, positions):
            print_fn(line)
        _print_row_end(layer, count, explain, line_length, print_fn)
    _print_totals(model, line_length, print_fn)
