"""``keras.callbacks``."""
from ..backup import BackupAndRestore  # noqa: F401
from ..callbacks import *  # noqa: F401,F403
from ..callbacks_plot import PlotHistory  # noqa: F401,E402
