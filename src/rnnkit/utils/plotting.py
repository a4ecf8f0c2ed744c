"""Training curves with matplotlib (the optional ``plot`` extra)."""
from __future__ import annotations


def plot_history(history, path: str | None = None, metrics=None):
    """Plot each metric of a ``History`` (or its ``.history`` dict) with its ``val_`` twin.

    Args:
        history: what ``fit`` returned, or a ``{"loss": [...], ...}`` dict.
        path: save the figure there (PNG, PDF, ... by extension); else return it only.
        metrics: names to plot (default: every non-``val_`` key).

    Returns:
        The matplotlib ``Figure``.
    """
    try:
        import matplotlib
        if path is not None:
            matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "plot_history needs matplotlib: pip install 'rnnkit[plot]' (or pip install matplotlib)"
        ) from exc
    logs = getattr(history, "history", history)
    if not isinstance(logs, dict) or not logs:
        raise ValueError(f"plot_history expects a History or a non-empty dict of lists; received {history!r}")
    # Logs come in Keras 3's sorted order; the loss panel still goes first.
    names = metrics or sorted((k for k in logs if not k.startswith("val_")), key=lambda k: k != "loss")
    missing = [m for m in names if m not in logs]
    if missing:
        raise ValueError(f"plot_history: no such metric(s) {missing}; available: {sorted(logs)}")
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.6), squeeze=False)
    for ax, name in zip(axes[0], names):
        epochs = range(1, len(logs[name]) + 1)
        ax.plot(epochs, logs[name], "o-", label=f"training {name}")
        if f"val_{name}" in logs:
            ax.plot(epochs, logs[f"val_{name}"], "s--", label=f"validation {name}")
        ax.set_xlabel("epoch")
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=110)
        plt.close(fig)
    return fig
