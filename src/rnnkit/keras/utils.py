"""``keras.utils``: array helpers and seeding."""
from ..utils import *  # noqa: F401,F403
