"""``rnnkit explain model.keras "text ..." [--out report.html|.png]``: the command's logic."""
from __future__ import annotations

import os

import numpy as np

from .explain import explain
from .report import save_report


def _top(tokens, attributions, sign, k=5):
    order = np.argsort(attributions)
    picks = order[::-1][:k] if sign > 0 else order[:k]
    return ", ".join(f"{tokens[i]} ({attributions[i]:+.3f})" for i in picks if sign * attributions[i] > 0) or "-"


def run_explain(model, meta: dict, args) -> dict:
    """Explain ``args.text`` (or the text in ``args.file``), print a summary, write ``args.out``."""
    if args.out and os.path.splitext(args.out)[1].lower() not in (".html", ".htm", ".png"):
        raise ValueError(f"explain: --out must end in .html or .png; received {args.out!r}")
    text = args.text
    if args.file:
        try:
            with open(args.file, encoding="utf-8") as fh:
                text = fh.read()
        except OSError as exc:
            raise ValueError(f"--file: cannot read {args.file}: {exc.strerror}") from None
    if not text or not text.strip():
        raise ValueError("explain: give a text, or --file with the text")
    gates = None if not args.gates else [g.strip() for g in args.gates.split(",") if g.strip()]
    ex = explain(model, text, meta=meta, baseline=args.baseline, steps=args.steps, gates=gates)
    p = ex["prediction"]
    label = "positive" if p >= 0.5 else "negative"
    print(f"{ex['target_name']} = {p:.4f}  {label}  ({len(ex['tokens'])} tokens)")
    print(f"integrated gradients from {ex['baseline']}: f(baseline) = {ex['baseline_prediction']:.4f}, "
          f"completeness error {ex['completeness_error']:.1e}")
    print("most positive: " + _top(ex["tokens"], ex["attributions"], +1))
    print("most negative: " + _top(ex["tokens"], ex["attributions"], -1))
    running = ex["running"]
    swing = int(np.argmax(np.abs(np.diff(running, prepend=running[0])))) if len(running) else 0
    if len(running) > 1:
        print(f"running prediction: {running[0]:.3f} after '{ex['tokens'][0]}' -> {running[-1]:.3f} at the end; "
              f"largest change at '{ex['tokens'][swing]}' ({running[swing] - running[max(swing - 1, 0)]:+.3f})")
    if args.out:
        try:
            save_report(ex, args.out)
        except ImportError as exc:
            raise ValueError(str(exc)) from None
        print(f"report: {args.out}")
    return ex
