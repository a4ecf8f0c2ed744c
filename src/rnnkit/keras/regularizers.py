"""``keras.regularizers``."""
from ..regularizers import (L1, L2, L1L2, Regularizer, deserialize, get, l1, l1_l2, l2,  # noqa: F401
                            serialize)
