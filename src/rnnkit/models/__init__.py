"""Models: Sequential, the functional Model, their training loop, and loading saved models.

``Model`` is Keras' ``keras.Model``: called with inputs and outputs it returns a functional
model (``Functional``); subclassed, it is a model with a custom ``call``.
"""
from ..layers import registry
from ..saving import load_model, register_model_class, save_model
from .functional import Model as Functional
from .sequential import Sequential
from .subclassing import Model

registry.register(Sequential)
registry.register(Functional, "Functional", "Model")
register_model_class("Sequential", Sequential)
register_model_class("Functional", Functional)
register_model_class("Model", Functional)

__all__ = ["Sequential", "Model", "Functional", "load_model", "save_model"]
