"""MkDocs hook: docstrings here use Sphinx roles (``:class:`Progbar```), which Markdown renders
as ``:class:`` followed by code; drop the role prefix so only the code remains."""
from __future__ import annotations

import re

_ROLE = re.compile(r":(?:class|meth|func|attr|mod|data|obj|exc):(?=<code)")


def on_page_content(html: str, **kwargs) -> str:
    return _ROLE.sub("", html)
