"""Every case of tests/bad_inputs.py ends in a clear error or the correct (Keras) result."""
from __future__ import annotations

import pytest

from bad_inputs import all_cases, classify

CASES = all_cases()


@pytest.mark.parametrize("case", CASES, ids=[f"{c.group}: {c.name}" for c in CASES])
def test_no_deep_traceback_and_no_silent_acceptance(case):
    kind, detail = classify(case)
    assert kind in ("clear", "correct"), f"{kind}: {detail}"


def test_counts():
    kinds = [classify(c)[0] for c in CASES]
    assert len(CASES) >= 200
    assert kinds.count("deep") == 0 and kinds.count("silent") == 0
