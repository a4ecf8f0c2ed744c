"""Models: Sequential, the functional Model, their training loop, and loading saved models."""
from ..layers import registry
from ..saving import load_model
from .functional import Model
from .sequential import Sequential

registry.register(Sequential)
registry.register(Model, "Functional")

__all__ = ["Sequential", "Model", "load_model"]
