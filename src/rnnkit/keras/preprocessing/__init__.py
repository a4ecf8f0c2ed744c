"""``keras.preprocessing`` (``text`` and ``sequence``)."""
from . import sequence, text  # noqa: F401
