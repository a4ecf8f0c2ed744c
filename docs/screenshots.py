"""Rebuild docs/images/site-*.png: build the site, then shoot three pages in headless Chromium.

    python docs/screenshots.py            # needs the docs extra, Pillow and Debian's `chromium`

The API shot is cut out of a tall screenshot at the ``Dense`` heading (Chromium's headless
screenshot does not follow a URL fragment), under the site's header bar.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "docs" / "images"
WIDTH, HEIGHT, HEADER = 1280, 860, 48


def chromium(*args: str) -> str:
    cmd = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120).stdout


def shoot(url: str, path: Path, height: int = HEIGHT) -> Image.Image:
    chromium(f"--window-size={WIDTH},{height}", f"--screenshot={path}", url)
    return Image.open(path).convert("RGB")


def anchor_top(page: Path, anchor: str) -> int:
    probe = page.with_name("probe.html")
    script = (f'<script>addEventListener("load",()=>document.body.setAttribute("data-y",'
              f'document.getElementById("{anchor}").getBoundingClientRect().top+scrollY))</script>')
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", script + "</body>"), encoding="utf-8")
    try:
        dom = chromium(f"--window-size={WIDTH},{HEIGHT}", "--virtual-time-budget=2000", "--dump-dom",
                       probe.as_uri())
    finally:
        probe.unlink()
    return int(float(re.search(r'data-y="([\d.]+)"', dom).group(1)))


def save(image: Image.Image, name: str) -> None:
    image.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(OUT / name, optimize=True)


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        site, shots = Path(tmp) / "site", Path(tmp)
        env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
        subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
                       cwd=ROOT, env=env, check=True)
        home = shoot((site / "index.html").as_uri(), shots / "home.png")
        save(home, "site-home.png")
        save(shoot((site / "guides/recurrence/index.html").as_uri(), shots / "guide.png"), "site-guide.png")
        api = site / "api/layers/index.html"
        y = anchor_top(api, "rnnkit.layers.Dense") - 70
        tall = shoot(api.as_uri(), shots / "api_tall.png", height=y + HEIGHT + 100)
        out = Image.new("RGB", (WIDTH, HEIGHT), "white")
        out.paste(home.crop((0, 0, WIDTH, HEADER)), (0, 0))
        out.paste(tall.crop((0, y, WIDTH, y + HEIGHT - HEADER)), (0, HEADER))
        save(out, "site-api.png")


if __name__ == "__main__":
    main()
