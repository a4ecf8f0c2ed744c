"""``keras.activations``."""
from ..activations import *  # noqa: F401,F403
