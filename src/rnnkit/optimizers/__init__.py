"""Optimizers with Keras 3's exact update rules (see :mod:`rnnkit.optimizers.base`)."""
from .base import *  # noqa: F401,F403
from .base import __all__  # noqa: F401
