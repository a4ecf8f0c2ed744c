"""``keras.datasets``."""
from ...datasets import imdb  # noqa: F401
