"""The documentation: every ```python block in docs/ runs, the site builds strictly, and the
API pages render every public name.

Blocks on one page run in order in one namespace, in a temporary directory, after
``rnnkit.set_seed(0)``. HTML comments right above a block adjust it:

* ``<!-- test: skip -->``: not run (full-size training, output-only listings).
* ``<!-- test: needs-data -->``: run only when ``$RNNKIT_DATA`` is set.
* ``<!-- test: replace "OLD" "NEW" -->``: run with ``OLD`` replaced by ``NEW`` (small data or
  few epochs); the block must contain ``OLD``, so a stale replacement fails.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
DATA = os.environ.get("RNNKIT_DATA")
FENCE = re.compile(r"((?:^<!-- test: .*? -->\n)*)^```python\n(.*?)^```", re.S | re.M)
DIRECTIVE = re.compile(r"<!-- test: (skip|needs-data|replace \"(.*?)\" \"(.*?)\") -->")


def blocks(page: Path) -> list[tuple[str, set[str], int]]:
    """``[(code, flags, line)]`` for each python block of ``page``, replacements applied."""
    text = page.read_text(encoding="utf-8")
    out = []
    for m in FENCE.finditer(text):
        code, flags = m.group(2), set()
        line = text.count("\n", 0, m.start(2)) + 1
        for d in DIRECTIVE.finditer(m.group(1)):
            if d.group(1).startswith("replace"):
                old, new = d.group(2), d.group(3)
                assert old in code, f"{page.name}:{line}: replace target {old!r} not in the block"
                code = code.replace(old, new)
            else:
                flags.add(d.group(1))
        out.append((code, flags, line))
    return out


PAGES = [pytest.param(p, id=str(p.relative_to(DOCS)),
                      # pages that train on the real data sets take several seconds
                      marks=[pytest.mark.slow] if any("needs-data" in f for _, f, _ in blocks(p)) else [])
         for p in sorted(DOCS.rglob("*.md")) if blocks(p)]


@pytest.mark.parametrize("page", PAGES)
def test_code_blocks_run(page, tmp_path, monkeypatch):
    import rnnkit
    from rnnkit import backend

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("RNNKIT_CACHE", os.environ.get("RNNKIT_CACHE", str(tmp_path / "cache")))
    backend.clear_session()
    rnnkit.set_seed(0)
    scope: dict = {"__name__": "__docs__"}
    ran = 0
    for code, flags, line in blocks(page):
        if "skip" in flags or ("needs-data" in flags and not DATA):
            continue
        with contextlib.redirect_stdout(io.StringIO()):
            exec(compile(code, f"{page.relative_to(ROOT)}:{line}", "exec"), scope)
        ran += 1
    if ran == 0:
        pytest.skip("every block on this page needs RNNKIT_DATA or is marked skip")


def test_directives_are_well_formed():
    for page in DOCS.rglob("*.md"):
        for n, line in enumerate(page.read_text(encoding="utf-8").splitlines(), 1):
            if line.startswith("<!-- test:"):
                assert DIRECTIVE.fullmatch(line), f"{page}:{n}: unknown directive {line!r}"


def test_main_job_snippet_matches_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    snippet = (DOCS / "snippets" / "main-job.txt").read_text(encoding="utf-8")
    assert "```\n" + snippet + "```" in readme


def _public_names(module_name: str, members: list[str] | None) -> list[str]:
    import importlib

    module = importlib.import_module(module_name)
    if members:
        return members
    if hasattr(module, "__all__"):
        return [n for n in module.__all__ if not n.startswith("_") and not isinstance(
            getattr(module, n), type(module))]
    return [n for n, obj in vars(module).items() if not n.startswith("_")
            and getattr(obj, "__module__", None) == module_name]


# Not marked slow (about 15 s): CI must build the site strictly on every run.
def test_site_builds_strictly_and_documents_every_public_name(tmp_path):
    pytest.importorskip("mkdocs")
    pytest.importorskip("mkdocstrings")
    site = tmp_path / "site"
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONPATH": str(ROOT / "src")}
    run = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "-d", str(site)],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
    directive = re.compile(r"^::: ([\w.]+)\n(?:    options:\n      members: \[(.*?)\]\n)?", re.M)
    ids = set()
    for html in (site / "api").rglob("index.html"):
        ids.update(re.findall(r'id="(rnnkit\.[\w.]+)"', html.read_text(encoding="utf-8")))
    missing = []
    for page in sorted((DOCS / "api").glob("*.md")):
        for m in directive.finditer(page.read_text(encoding="utf-8")):
            members = [s.strip() for s in m.group(2).split(",")] if m.group(2) else None
            for name in _public_names(m.group(1), members):
                # re-exported names may be documented where they are defined
                if f"{m.group(1)}.{name}" not in ids and not any(i.endswith(f".{name}") for i in ids):
                    missing.append(f"{m.group(1)}.{name} ({page.name})")
    assert not missing, "public names missing from the API reference:\n" + "\n".join(missing)
    shutil.rmtree(site)
