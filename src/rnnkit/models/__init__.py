"""Models: Sequential, the functional Model, their training loop, and loading saved models."""
from ..saving import load_model
from .functional import Model
from .sequential import Sequential

__all__ = ["Sequential", "Model", "load_model"]
