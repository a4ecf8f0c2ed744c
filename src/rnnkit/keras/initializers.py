"""``keras.initializers``."""
from ..initializers import *  # noqa: F401,F403
