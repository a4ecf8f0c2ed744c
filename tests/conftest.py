"""Shared test helpers: finite-difference gradient checks in float64."""
from __future__ import annotations

import contextlib
import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

# The README runs the tests with a relative RNNKIT_DATA; tests that chdir into a
# temporary directory need it absolute.
if os.environ.get("RNNKIT_DATA"):
    os.environ["RNNKIT_DATA"] = os.path.abspath(os.environ["RNNKIT_DATA"])


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture
def settings():
    """``settings(**changes)`` overrides :mod:`rnnkit.config` until the test ends."""
    from rnnkit import config

    stack = contextlib.ExitStack()
    yield lambda **changes: stack.enter_context(config.override(**changes))
    stack.close()


# Hypothesis profiles for tests/property: "ci" (loaded by default) keeps the whole property
# suite well under a minute; `pytest --hypothesis-profile=long` runs many more examples.
try:
    from hypothesis import HealthCheck
    from hypothesis import settings as hypothesis_settings
except ImportError:  # hypothesis is in the test extra; without it tests/property is skipped
    pass
else:
    _quiet = [HealthCheck.too_slow, HealthCheck.data_too_large]
    hypothesis_settings.register_profile("ci", max_examples=20, deadline=None, suppress_health_check=_quiet,
                              derandomize=True, database=None, print_blob=True)
    hypothesis_settings.register_profile("long", max_examples=600, deadline=None, suppress_health_check=_quiet,
                              print_blob=True)
    hypothesis_settings.load_profile(os.environ.get("RNNKIT_HYPOTHESIS_PROFILE", "ci"))


def pytest_collection_modifyitems(config, items):
    """``RNNKIT_SLOW_SAMPLE=N`` (CI sets it) runs N of the tests marked ``slow``, a sample that
    changes from day to day (``RNNKIT_SLOW_SEED`` fixes it); without it every test runs."""
    import datetime
    import random

    n = os.environ.get("RNNKIT_SLOW_SAMPLE")
    if not n:
        return
    slow = [it for it in items if it.get_closest_marker("slow") is not None]
    seed = os.environ.get("RNNKIT_SLOW_SEED") or datetime.date.today().isoformat()
    keep = set(random.Random(seed).sample(range(len(slow)), min(int(n), len(slow))))
    dropped = [it for i, it in enumerate(slow) if i not in keep]
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        gone = set(map(id, dropped))
        items[:] = [it for it in items if id(it) not in gone]
