"""``keras.saving``: save/load models and the registry of custom objects."""
from ..saving import load_model, save_model  # noqa: F401
from ..saving_registry import (CustomObjectScope, custom_object_scope,  # noqa: F401
                               get_registered_name, get_registered_object,
                               register_keras_serializable)

__all__ = ["load_model", "save_model", "register_keras_serializable", "get_registered_name",
           "get_registered_object", "custom_object_scope", "CustomObjectScope"]
