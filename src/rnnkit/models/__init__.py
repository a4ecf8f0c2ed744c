"""Models: Sequential, its training loop, and loading saved models."""
from ..saving import load_model
from .sequential import Sequential

__all__ = ["Sequential", "load_model"]
