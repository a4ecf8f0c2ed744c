"""The README's "Custom layers and models" example runs and learns its task."""
from __future__ import annotations

import os
import re

from rnnkit import backend

README = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")


def test_readme_custom_example_trains(capsys):
    text = open(README, encoding="utf-8").read()
    section = text.split("## Custom layers and models", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    backend.clear_session()
    scope: dict = {}
    exec(compile(code, "<README>", "exec"), scope)
    loss, acc = scope["model"].evaluate(scope["x"], scope["y"], verbose=0)
    assert acc > 0.9 and loss < 0.3
