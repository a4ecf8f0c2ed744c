"""``keras.ops`` (see :mod:`rnnkit.ops`)."""
from ..ops import *  # noqa: F401,F403
from ..ops import __all__, nn  # noqa: F401
