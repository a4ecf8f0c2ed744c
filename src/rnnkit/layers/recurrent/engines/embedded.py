"""``Embedding -> RNN`` at inference without forming the embedded sequence.

``embedding(ids) @ kernel + bias`` is a row gather from ``embeddings @ kernel +
bias``: a product over the vocabulary instead of over every step of the batch,
which the compiled engine reads by id. Both model kinds (``Sequential`` and the
functional ``Model``) ask :func:`fused_call` before running such a pair; it
returns None where the fusion does not apply, and the layers then run one by one.
"""
from __future__ import annotations

import numpy as np

from .... import config
from ...layer_utils import check_mask
from ...embedding import Embedding
from ..base import RecurrentLayer
from . import COMPILED, engine_name
from .base import Run
from .threads import blas_single_threaded


def fused_call(embedding, rnn, ids, mask, memo: dict | None = None):
    """``rnn(embedding(ids))`` at inference, or None where the fusion does not apply.

    Applies to the compiled engine only, when the vocabulary has fewer rows than the
    batch has steps, for a plain ``Embedding`` feeding a recurrent layer whose
    ``call`` is rnnkit's own. ``memo`` (a dict, or None) keeps the projected table
    for later calls while the weights stay as they are (``Model.predict`` passes one
    per call). Returns ``(outputs, output mask)``.

    Shapes: ``ids (B, T)`` integers; outputs as ``rnn``'s.
    """
    if type(embedding) is not Embedding or not isinstance(rnn, RecurrentLayer):
        return None
    if type(rnn).call is not RecurrentLayer.call:  # a subclass' own call would be skipped
        return None
    # Whether it applies first: where it does not, the Embedding runs as usual and
    # checks the ids itself.
    shape = np.shape(ids)
    E = embedding.embeddings if embedding.built else None
    if (E is None or len(shape) != 2 or not rnn.built or E.shape[1] != rnn.input_dim
            or E.shape[0] > shape[0] * shape[1] or E.dtype != rnn.dtype):
        return None
    s = config.settings()
    name = engine_name(rnn)
    if s.jit is False or name not in ("auto", "jit"):
        return None
    dp, rdp = rnn._dropout_masks(shape[0], False)
    probe = Run(np.empty((*shape, 0), E.dtype), None, None, [], dp, rdp)  # shape and dtype only
    if not COMPILED.applies(rnn, probe, s, forced=name == "jit"):
        return None
    ids = embedding._convert_input(ids)
    emb_mask = embedding.compute_mask(ids, mask)
    m = check_mask(rnn, emb_mask, *ids.shape)
    run = Run(np.ascontiguousarray(ids, np.int64), m, rnn._time_major_mask(m),
              rnn._initial_states(ids.shape[0], None), None, None, rnn.go_backwards)
    key = ("embedded", id(embedding), id(rnn))
    table = None if memo is None else memo.get(key)
    if table is None:
        with blas_single_threaded():  # the kernels' threads follow (see threads.py)
            table = E @ rnn.kernel
        bias = COMPILED.input_bias(rnn)
        if bias is not None:
            table += bias
        if memo is not None:
            memo[key] = table
    out = COMPILED.forward(rnn, run, False, table)
    return rnn._outputs(out.seq, out.finals, rnn._output_mask(run.mt), owned=True), \
        rnn.compute_mask(ids, emb_mask)
