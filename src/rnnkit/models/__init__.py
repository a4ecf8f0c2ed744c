"""Models: Sequential, the functional Model, their training loop, and loading saved models."""
from ..layers import registry
from ..saving import load_model, register_model_class, save_model
from .functional import Model
from .sequential import Sequential

registry.register(Sequential)
registry.register(Model, "Functional")
register_model_class("Sequential", Sequential)
register_model_class("Functional", Model)
register_model_class("Model", Model)

__all__ = ["Sequential", "Model", "load_model", "save_model"]
