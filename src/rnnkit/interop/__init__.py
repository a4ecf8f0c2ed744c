"""Moving models between rnnkit and other frameworks.

- PyTorch: :func:`from_torch`, :func:`to_torch`, :func:`to_torch_state_dict`
  (``nn.RNN``/``nn.LSTM``/``nn.GRU``, see :mod:`.torch_weights`);
- ONNX: :func:`export_onnx` (native ``LSTM``/``GRU``/``RNN`` operators, see :mod:`.onnx_export`
  and, for functional models, :mod:`.onnx_functional`).

Keras files need nothing from here: ``rnnkit.keras.models.load_model`` reads them.
"""
from __future__ import annotations

from .onnx_export import export_onnx, to_onnx
from .torch_weights import from_torch, to_torch, to_torch_state_dict, torch_config

__all__ = ["from_torch", "to_torch", "to_torch_state_dict", "torch_config", "export_onnx", "to_onnx"]
