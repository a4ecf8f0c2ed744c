"""Losses with Keras 3 semantics, plus their analytic gradients (see :mod:`rnnkit.losses.base`)."""
from .base import *  # noqa: F401,F403
from .base import EPSILON, __all__, _sigmoid  # noqa: F401
