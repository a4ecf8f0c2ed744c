"""Models: Sequential (and the training loop it uses)."""
from .sequential import Sequential

__all__ = ["Sequential"]
