"""``keras.callbacks``."""
from ..backup import BackupAndRestore  # noqa: F401
from ..callbacks import *  # noqa: F401,F403
