"""``keras.preprocessing.sequence``."""
from ...preprocessing.sequence import *  # noqa: F401,F403
