"""Stateful metrics with Keras 3 semantics (see :mod:`rnnkit.metrics.base`)."""
from .base import *  # noqa: F401,F403
from .base import __all__  # noqa: F401
