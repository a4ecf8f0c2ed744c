"""Models: Sequential, the functional Model, their training loop, and loading saved models.

``Model`` is Keras' ``keras.Model``: called with inputs and outputs it returns a functional
model (``Functional``); subclassed, it is a model with a custom ``call``.
"""
from ..saving import load_model
from .functional import Model as Functional
from .sequential import Sequential
from .subclassing import Model

__all__ = ["Sequential", "Model", "Functional", "load_model"]
