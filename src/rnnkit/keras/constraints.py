"""``keras.constraints``."""
from ..constraints import (Constraint, MaxNorm, MinMaxNorm, NonNeg, UnitNorm, deserialize, get,  # noqa: F401
                           max_norm, min_max_norm, non_neg, serialize, unit_norm)
