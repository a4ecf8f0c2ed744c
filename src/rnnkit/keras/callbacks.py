"""``keras.callbacks``."""
from ..callbacks import *  # noqa: F401,F403
from ..callbacks_plot import PlotHistory  # noqa: F401,E402
