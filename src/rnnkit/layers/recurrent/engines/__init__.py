"""The engines that run a recurrent layer, and the one place that chooses among them.

Every engine runs the equations its cell module declares (``recurrent/lstm.py``
and so on), behind one interface::

    out = engine.forward(layer, run, train)          # -> Output(seq, finals, owned, state)
    dx, dstates0, grads = engine.backward(layer, out.state, dseq, out_mask, dfinals)

========================  =====================================  ==========================
engine                    where                                  runs
========================  =====================================  ==========================
``reference``             the cell modules' ``*_sequence_*``     any configuration
``feature_major``         ``feature_major/<cell>.py`` (NumPy)    tanh/sigmoid cells
``compiled``              ``compiled.py`` + ``compiled_kernels``  inference, float32, when
                          (``rnnkit[jit]``, Numba)                Numba is installed
``gpu``                   ``array_module.py`` on CuPy            ``engine="gpu"``
                          (``rnnkit[gpu]``)
``low_memory``            ``feature_major/low_memory.py``        LSTM training with
                          (states kept, gates recomputed)         ``memory="low"``
``recompute``             ``recompute.py``, around one of the    other training with
                          above                                   ``memory="low"``
========================  =====================================  ==========================

:func:`select` decides, from :func:`rnnkit.config.settings` and the layer's own
``engine=`` argument; nothing else does. ``Embedding -> RNN`` at inference has one
more path, :mod:`.embedded`, which feeds the compiled engine rows of
``embeddings @ kernel``; models ask it first (:func:`.embedded.fused_call`).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .... import config
from . import array_module, compiled, feature_major, recompute, reference
from .base import Engine, Output, Run

REFERENCE = reference.ReferenceEngine()
FEATURE_MAJOR = feature_major.FeatureMajorEngine(compiled_gates=False)
FEATURE_MAJOR_COMPILED_GATES = feature_major.FeatureMajorEngine(compiled_gates=True)
COMPILED = compiled.CompiledEngine()


class Cache(NamedTuple):
    """What a layer's ``forward`` hands its ``backward``, whichever engine ran.

    ``state`` is the engine's own; ``out_mask`` the ``(T, B, 1)`` output multipliers
    or None; ``had_initial`` whether ``initial_state`` was given (then backward also
    returns the states' gradients).
    """

    engine: Engine
    state: object
    out_mask: np.ndarray | None
    had_initial: bool


def engine_name(layer) -> str:
    """The engine asked for: the layer's own ``engine=`` unless ``"auto"``, else the setting."""
    own = getattr(layer, "engine", "auto")
    return config.settings().engine if own == "auto" else own


def select(layer, run: Run, train: bool) -> Engine:
    """The engine that runs this call of ``layer``.

    ``train`` is True when backward will follow (``forward``); the compiled engine
    is for inference only. Order: the reference kernels where asked for; else the
    compiled recurrence where it implements the configuration and wins (measured
    crossovers in the settings; ``"jit"`` ignores them); else the feature-major
    NumPy kernels (with compiled gate passes unless ``"numpy"``); else reference.
    """
    engine = _select(layer, run, train)
    if train and getattr(layer, "memory", "full") == "low":
        every = getattr(layer, "recompute_every", None)
        if engine in (FEATURE_MAJOR, FEATURE_MAJOR_COMPILED_GATES) and layer.cell_spec.name == "lstm":
            return feature_major.LowMemoryEngine(engine, every)
        return recompute.RecomputeEngine(engine, every)
    return engine


def _select(layer, run: Run, train: bool) -> Engine:
    s = config.settings()
    name = engine_name(layer)
    if name == "reference":
        return REFERENCE
    if name == "gpu":
        if not array_module.fast_supported(layer):
            raise ValueError(
                f"{type(layer).__name__} '{layer.name}': engine 'gpu' runs tanh/sigmoid cells (GRU with "
                "reset_after=True); this layer's configuration needs engine='reference'")
        return array_module.gpu_engine()
    jit_ok = s.jit is not False and name in ("auto", "jit")
    if not train and jit_ok and COMPILED.applies(layer, run, s, forced=name == "jit"):
        return COMPILED
    if run.x.shape[0] > 0 and run.x.shape[1] > 0 and feature_major.supports(layer):
        if jit_ok and run.x.dtype == np.float32 and compiled.kernels() is not None:
            return FEATURE_MAJOR_COMPILED_GATES
        return FEATURE_MAJOR
    return REFERENCE


__all__ = ["Cache", "Engine", "Output", "Run", "select", "engine_name", "REFERENCE", "FEATURE_MAJOR",
           "FEATURE_MAJOR_COMPILED_GATES", "COMPILED"]
