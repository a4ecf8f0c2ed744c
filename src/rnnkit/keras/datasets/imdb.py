"""``keras.datasets.imdb``."""
from ...datasets.imdb import *  # noqa: F401,F403
