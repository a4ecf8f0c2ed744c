"""Render :func:`rnnkit.inspect.explain`'s result: one self-contained HTML file, or a PNG.

The HTML needs nothing beyond the standard library: inline CSS, one inline SVG
figure (running prediction, attributions, gate heatmaps on a shared token axis), and
each heatmap as a small PNG written here and embedded as a data URI. The PNG report
uses matplotlib (the ``plot`` extra).
"""
from __future__ import annotations

import base64
import html
import os
import struct
import zlib

import numpy as np

# Sequential colormap for values in [0, 1] (light to dark), and the two ends of the
# diverging one used for signed values.
_SEQ = np.array([[247, 252, 240], [204, 235, 197], [123, 204, 196], [43, 140, 190], [8, 64, 129]], float)
_POS, _NEG, _MID = np.array([33, 102, 172.]), np.array([178, 24, 43.]), np.array([247, 247, 247.])


def png_bytes(rgb: np.ndarray) -> bytes:
    """A truecolor PNG of ``rgb (H, W, 3)`` uint8, with no dependency beyond zlib."""
    rgb = np.ascontiguousarray(rgb, np.uint8)
    h, w, _ = rgb.shape
    raw = b"".join(b"\x00" + rgb[i].tobytes() for i in range(h))

    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def value_range(values):
    """``(lo, hi, signed)`` for a heatmap: gates and other values in [0, 1] get the
    sequential colormap stretched over their own range (a briefly trained model's
    gates vary over a few hundredths); anything signed gets a diverging one
    symmetric around 0."""
    finite = values[np.isfinite(values)]
    if not finite.size:
        return 0.0, 1.0, False
    lo, hi = float(finite.min()), float(finite.max())
    if lo >= 0 and hi <= 1:
        if hi - lo < 1e-6:
            lo, hi = max(0.0, lo - 0.5e-6), min(1.0, hi + 0.5e-6)
        return lo, hi, False
    top = max(abs(lo), abs(hi)) or 1.0
    return -top, top, True


def colorize(values: np.ndarray, lo=None, hi=None, signed=None) -> np.ndarray:
    """``(H, W)`` values -> ``(H, W, 3)`` uint8 over :func:`value_range` (or ``lo``/``hi``):
    light-to-dark blue for [0, 1] values, red-white-blue for signed ones; NaN
    (masked steps) light grey."""
    if lo is None:
        lo, hi, signed = value_range(values)
    v = np.nan_to_num((values - lo) / (hi - lo), nan=0.0).clip(0, 1)
    if not signed:
        pos = v * (len(_SEQ) - 1)
        k = np.minimum(pos.astype(int), len(_SEQ) - 2)
        frac = (pos - k)[..., None]
        rgb = _SEQ[k] * (1 - frac) + _SEQ[k + 1] * frac
    else:
        s = (2 * v - 1)[..., None]
        rgb = np.where(s >= 0, _MID + s * (_POS - _MID), _MID - s * (_NEG - _MID))
    rgb[np.isnan(values)] = 220
    return rgb.round().astype(np.uint8)


def _attr_color(a, top):
    alpha = 0.0 if top == 0 else min(1.0, abs(a) / top)
    c = _POS if a >= 0 else _NEG
    return f"rgba({int(c[0])},{int(c[1])},{int(c[2])},{alpha * 0.85:.3f})"


def _fmt(v):
    return f"{v:.3g}"


def _figure_svg(ex) -> str:
    """Running prediction, attribution bars and gate heatmaps over a shared token axis."""
    toks, n = ex["tokens"], len(ex["tokens"])
    w = float(np.clip(900 / max(n, 1), 9, 40))
    left, span = 20, n * w
    width = left + span + 70
    out = []
    y = 6

    def title(text, y0):
        out.append(f'<text x="{left}" y="{y0 + 11}" class="ttl">{html.escape(text)}</text>')
        return y0 + 17

    def image(values, x0, y0, wd, ht):
        png = base64.b64encode(png_bytes(colorize(values))).decode("ascii")
        out.append(f'<image x="{x0}" y="{y0}" width="{wd}" height="{ht}" preserveAspectRatio="none" '
                   f'style="image-rendering:pixelated" href="data:image/png;base64,{png}"/>')

    # Running prediction: 0..1 with the 0.5 line.
    h = 120
    y = title(f"{ex['target_name']} after each token (the model's output on every prefix)", y)
    out.append(f'<rect x="{left}" y="{y}" width="{span}" height="{h}" class="frame"/>')
    out.append(f'<line x1="{left}" x2="{left + span}" y1="{y + h / 2}" y2="{y + h / 2}" class="half"/>')
    pts = " ".join(f"{left + (i + 0.5) * w:.1f},{y + h * (1 - p):.1f}" for i, p in enumerate(ex["running"]))
    out.append(f'<polyline points="{pts}" class="run"/>')
    for i, p in enumerate(ex["running"]):
        out.append(f'<circle cx="{left + (i + 0.5) * w:.1f}" cy="{y + h * (1 - p):.1f}" r="2.4" class="dot">'
                   f'<title>{html.escape(toks[i])}: {p:.3f}</title></circle>')
    for v in (0, 0.5, 1):
        out.append(f'<text x="{left + span + 4}" y="{y + h * (1 - v) + 4:.1f}" class="tick">{v}</text>')
    y += h + 12
    # Attributions: bars up (towards the target) and down.
    h = 90
    attr = np.asarray(ex["attributions"], float)
    top = float(np.abs(attr).max()) or 1.0
    y = title("attribution of each token (integrated gradients)", y)
    out.append(f'<rect x="{left}" y="{y}" width="{span}" height="{h}" class="frame"/>')
    mid = y + h / 2
    for i, a in enumerate(attr):
        bh = abs(a) / top * (h / 2 - 2)
        cls = "pos" if a >= 0 else "neg"
        out.append(f'<rect x="{left + i * w + 1:.1f}" y="{mid - bh if a >= 0 else mid:.1f}" width="{w - 2:.1f}" '
                   f'height="{bh:.1f}" class="{cls}"><title>{html.escape(toks[i])}: {a:+.4f}</title></rect>')
    for tick, yy in ((f"{top:+.2g}", y + 4), ("0", mid), (f"{-top:+.2g}", y + h - 4)):
        out.append(f'<text x="{left + span + 4}" y="{yy + 4:.1f}" class="tick">{tick}</text>')
    y += h + 12
    # Gate heatmaps: units x tokens, one pixel per value, scaled without smoothing;
    # a color scale to the right.
    for name, values in ex["gates"].items():
        units = values.shape[0]
        h = max(48, min(4 * units, 160))
        lo, hi, signed = value_range(values)
        y = title(f"{name} of layer {ex['layer']}: {units} units (rows) by token", y)
        image(values, left, y, span, h)
        out.append(f'<rect x="{left}" y="{y}" width="{span}" height="{h}" class="frame"/>')
        png = base64.b64encode(png_bytes(colorize(np.linspace(hi, lo, 64)[:, None], lo, hi, signed)))
        out.append(f'<image x="{left + span + 6}" y="{y}" width="10" height="{h}" preserveAspectRatio="none" '
                   f'href="data:image/png;base64,{png.decode("ascii")}"/>')
        out.append(f'<text x="{left + span + 20}" y="{y + 9}" class="tick">{_fmt(hi)}</text>')
        out.append(f'<text x="{left + span + 20}" y="{y + h}" class="tick">{_fmt(lo)}</text>')
        y += h + 10
    # Token labels, rotated, under every column.
    for i, t in enumerate(toks):
        x = left + (i + 0.5) * w - 3
        out.append(f'<text transform="translate({x:.1f},{y + 2}) rotate({60 if w >= 16 else 80})" class="tok">'
                   f'{html.escape(t)}</text>')
    y += 80
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width:.0f}" height="{y}" '
            f'viewBox="0 0 {width:.0f} {y}">' + "".join(out) + "</svg>")


_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;color:#222;max-width:1400px}
h1{font-size:22px;margin:0 0 4px} h2{font-size:16px;margin:22px 0 8px}
.meta{color:#555;font-size:13px;line-height:1.5}
.text{line-height:2.0;font-size:15px}
.text span{padding:2px 3px;border-radius:3px}
.legend span{display:inline-block;padding:2px 8px;margin-right:6px;border-radius:3px;font-size:12px}
.fig{overflow-x:auto;border:1px solid #eee;padding:6px}
svg .ttl{font-size:12px;fill:#333} svg .tick{font-size:10px;fill:#777} svg .tok{font-size:10px;fill:#333}
svg .frame{fill:none;stroke:#bbb;stroke-width:1} svg .half{stroke:#999;stroke-dasharray:4 3}
svg .run{fill:none;stroke:#333;stroke-width:1.6} svg .dot{fill:#333}
svg .pos{fill:rgb(33,102,172)} svg .neg{fill:rgb(178,24,43)}
"""


def to_html(ex: dict, title: str | None = None) -> str:
    """The explanation as one self-contained HTML document (a string)."""
    attr = np.asarray(ex["attributions"], float)
    top = float(np.abs(attr).max()) if attr.size else 0.0
    spans = []
    for t, a, p in zip(ex["tokens"], attr, ex["running"]):
        spans.append(f'<span style="background:{_attr_color(a, top)}" title="attribution {a:+.4f}; '
                     f'{html.escape(ex["target_name"])} after it {p:.3f}">{html.escape(t)}</span>')
    total = float(attr.sum()) + ex.get("padding_attribution", 0.0)
    pad = ex.get("padding_attribution", 0.0)
    pad_note = (f" (of which {pad:+.4f} on the leading padding, not shown)" if abs(pad) > 0 else "")
    head = title or f"{ex['target_name']} = {ex['prediction']:.3f}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(head)} - rnnkit explain</title>
<style>{_CSS}</style></head><body>
<h1>{html.escape(head)}</h1>
<div class="meta">Attributions: integrated gradients on the embeddings, {ex['steps']}-point Gauss-Legendre
quadrature, baseline: {html.escape(ex['baseline'])}.<br>
Completeness: sum of attributions {total:+.4f}{pad_note} = f(input) {ex['prediction']:.4f} &minus;
f(baseline) {ex['baseline_prediction']:.4f} (error {ex['completeness_error']:.1e}).<br>
Gates: layer <b>{html.escape(ex['layer'])}</b>, rows are units, columns are tokens.</div>
<h2>The text, coloured by attribution</h2>
<div class="legend"><span style="background:{_attr_color(1, 1)};color:#fff">towards {html.escape(ex['target_name'])}</span>
<span style="background:{_attr_color(-1, 1)};color:#fff">against</span></div>
<div class="text">{' '.join(spans)}</div>
<h2>Running prediction, attributions and gates, token by token</h2>
<div class="fig">{_figure_svg(ex)}</div>
</body></html>
"""


def to_png(ex: dict, path: str, title: str | None = None, dpi: int = 100) -> None:
    """The explanation as a matplotlib figure saved to ``path``."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError("a PNG report needs matplotlib: pip install 'rnnkit[plot]' (or write .html, "
                          "which needs nothing)") from exc
    toks, n = ex["tokens"], len(ex["tokens"])
    gates = list(ex["gates"].items())
    ratios = [1.3, 1.0] + [1.3] * len(gates)
    fig = plt.figure(figsize=(max(8.0, 0.16 * n + 2), 1.6 * sum(ratios) + 1.2))
    # A narrow second column holds the heatmaps' colorbars, so every row shares one x axis.
    grid = fig.add_gridspec(len(ratios), 2, width_ratios=[80, 1], height_ratios=ratios, wspace=0.02)
    axes: list = []
    caxes: list = []
    for i in range(len(ratios)):
        axes.append(fig.add_subplot(grid[i, 0], sharex=axes[0] if axes else None))
        caxes.append(fig.add_subplot(grid[i, 1]))
    xs = np.arange(n)
    ax = axes[0]
    ax.plot(xs, ex["running"], "-o", ms=2.5, lw=1.4, color="#333")
    ax.axhline(0.5, color="#999", ls="--", lw=0.8)
    ax.set_ylim(-0.02, 1.02)
    ax.set_ylabel(f"{ex['target_name']}\nafter token", fontsize=9)
    ax.set_title(title or f"{ex['target_name']} = {ex['prediction']:.3f};  integrated gradients from "
                 f"{ex['baseline']} (completeness error {ex['completeness_error']:.1e})", fontsize=10)
    ax = axes[1]
    attr = np.asarray(ex["attributions"], float)
    ax.bar(xs, attr, color=np.where(attr >= 0, "#2166ac", "#b2182b"), width=0.8)
    ax.axhline(0, color="#555", lw=0.6)
    ax.set_ylabel("attribution", fontsize=9)
    for cax in caxes[:2]:
        cax.axis("off")
    for ax, cax, (name, values) in zip(axes[2:], caxes[2:], gates):
        lo, hi, signed = value_range(values)
        cmap = "RdBu" if signed else "YlGnBu"
        im = ax.imshow(values, aspect="auto", interpolation="nearest", cmap=cmap, vmin=lo, vmax=hi)
        ax.set_ylabel(f"{name}\n(units)", fontsize=9)
        fig.colorbar(im, cax=cax)
    for ax in axes[:-1]:
        ax.tick_params(labelbottom=False)
    axes[-1].set_xticks(xs)
    axes[-1].set_xticklabels(toks, rotation=90, fontsize=9 if n <= 60 else 7)
    axes[-1].set_xlim(-0.5, n - 0.5)
    fig.subplots_adjust(hspace=0.12)
    fig.savefig(path, dpi=dpi, bbox_inches="tight")
    plt.close(fig)


def save_report(ex: dict, path: str, title: str | None = None) -> str:
    """Write ``ex`` to ``path``: ``.html``/``.htm`` (self-contained) or ``.png`` (matplotlib)."""
    ext = os.path.splitext(str(path))[1].lower()
    if ext in (".html", ".htm"):
        with open(path, "w", encoding="utf-8") as fh:
            fh.write(to_html(ex, title))
    elif ext == ".png":
        to_png(ex, path, title)
    else:
        raise ValueError(f"explain: --out must end in .html or .png; received {path!r}")
    return str(path)
