"""Layers and the tape: custom layers traced through their ``call``, built-in layers as one op.

Two kinds of layers meet here:

- *built-in* layers (and Sequential/functional models) define ``forward``/``backward``
  (analytic, fused). Called while a recording is active, each call is ONE op on the
  tape (:func:`fused_call`): its vjp runs ``layer.backward`` and hands the weights'
  gradients to the tape under the weights' keys. Outside a recording nothing here runs.
- *traced* layers define only ``call`` (written with :mod:`rnnkit.ops`): custom layers,
  ``Lambda``, subclassed models. Their ``forward`` (used by ``fit``) records ``call`` on
  a private recording and keeps the output tensors as the cache; ``backward`` pushes the
  output gradient back through that graph and fills ``layer.grads`` (:func:`traced_forward`,
  :func:`traced_backward`). Their weights are :class:`~rnnkit.ops.tape.Variable` objects.

A recurrent cell written with ops fits the same scheme: each ``cell(inputs, states)`` call
inside a traced loop is recorded step by step, and the loop's backward is the tape's.
"""
from __future__ import annotations

import functools
import inspect

import numpy as np

from .gradient_tape import backprop
from .tape import STATE, Tensor, Variable, _flat, _Operand, leaf, make, make_multi, recording, \
    register_param, stop_recording, track, unwrap


class _Context:
    training = None  # the training flag of the enclosing layer call, as Keras propagates it
    depth = 0  # nesting of traced layer calls (losses are cleared at the outermost)
    losses_seen = False  # set by the first add_loss: fit's step then adds the layers' losses


CONTEXT = _Context()


# ----------------------------------------------------------------------------- helpers
def _map(fn, s):
    if isinstance(s, (list, tuple)):
        return [_map(fn, v) for v in s]
    if isinstance(s, dict):
        return {k: _map(fn, v) for k, v in s.items()}
    return fn(s)


def _shape_struct(x):
    if isinstance(x, (list, tuple)):
        return [_shape_struct(v) for v in x]
    return tuple(np.shape(unwrap(x)))


def is_operand(x) -> bool:
    if isinstance(x, (list, tuple)):
        return any(isinstance(v, _Operand) for v in x)
    return isinstance(x, _Operand)


# ------------------------------------------------------------------- user classes
_PASSED = ("mask", "training")


def _wrap_call(fn):
    """``call`` that drops ``mask=``/``training=`` when the user's signature lacks them
    (rnnkit's model loops always pass both; Keras passes only what ``call`` declares)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return fn
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return fn
    drop = [k for k in _PASSED if k not in params]
    if not drop:
        return fn

    @functools.wraps(fn)
    def call(self, inputs, *args, **kwargs):
        for k in drop:
            kwargs.pop(k, None)
        return fn(self, inputs, *args, **kwargs)

    call._rnnkit_user_call = fn
    return call


def _user_part(cls, base_modules=("rnnkit.",)):
    """The classes of ``cls``' MRO written outside rnnkit."""
    return [c for c in cls.__mro__ if not c.__module__.startswith(base_modules)
            and c.__module__ != "builtins"]


def prepare_user_class(cls) -> None:
    """Adapt a Layer subclass written by a user (Keras' conventions) when it is defined."""
    user = _user_part(cls)
    defines = set().union(*(vars(c) for c in user)) if user else set()
    if "call" in vars(cls):
        cls.call = _wrap_call(vars(cls)["call"])
    if not cls._traced:
        if "call" in defines and "forward" not in defines:
            builtin = next(c for c in cls.__mro__ if c.__module__.startswith("rnnkit."))
            raise TypeError(
                f"{cls.__name__} overrides call() of the built-in {builtin.__name__}, which trains "
                "through its own analytic forward/backward, so rnnkit cannot honor the override. "
                f"Subclass keras.layers.Layer and hold a {builtin.__name__} as an attribute instead "
                "(or define forward/backward)")
        return
    installed = {}
    if "compute_output_shape" not in defines:
        installed["compute_output_shape"] = infer_output_shape
    installed["_symbolic_input_shape"] = symbolic_input_shape
    if "supports_masking" not in defines and "compute_mask" not in defines:
        installed["supports_masking"] = False
    if "__setattr__" not in defines:
        installed["__setattr__"] = _tracking_setattr
    for name in ("compute_dtype", "variable_dtype"):  # Keras 3's dtype-policy names
        if name not in defines:
            installed[name] = property(lambda self: self.dtype.name)
    for k, v in installed.items():
        setattr(cls, k, v)
    cls._rnnkit_installed = tuple(installed)


def make_functional_subclass(cls, functional) -> None:
    """``class M(keras.Model)`` instantiated as ``M(inputs, outputs)``: as Keras does, put
    the functional class under ``M`` (in place of ``Model``) and undo the traced-layer
    adaptations, so M trains on the functional graph (and its train_step override)."""
    Layer = _LAYER[0]
    for c in _user_part(cls):
        if "call" in vars(c) or "forward" in vars(c):
            raise TypeError(
                f"{cls.__name__} defines call() and is built as {cls.__name__}(inputs, outputs): its "
                "functional graph would run instead of call(), so rnnkit cannot honor the override. "
                "Drop inputs/outputs (a subclassed model) or drop call()")
    base = functional.__mro__[1:]
    for c in _user_part(cls):
        if any(b is not functional and b in base and b.__name__ == "Model" for b in c.__bases__):
            c.__bases__ = tuple(functional if (b in base and b.__name__ == "Model") else b
                                for b in c.__bases__)
    for c in _user_part(cls):
        for k in c.__dict__.get("_rnnkit_installed", ()):
            delattr(c, k)
        c._rnnkit_installed = ()
        c._traced = c.forward is Layer.forward


def symbolic_input_shape(self, inputs):
    """The shape(s) build/compute_output_shape receive: a list of shapes for a list of inputs."""
    if isinstance(inputs, (list, tuple)):
        return [tuple(t.shape) for t in inputs]
    return inputs.shape


# rnnkit.layers.base.Layer, registered by that module when it is defined (it imports this
# one, so this one cannot import it back).
_LAYER: list = [None]


def set_layer_base(cls) -> None:
    _LAYER[0] = cls


def _tracking_setattr(self, name, value):
    """Keras tracks layers, variables and metrics assigned as attributes: so do we.

    A metric is recognized by the ``_rnnkit_metric`` marker of ``rnnkit.metrics.Metric``
    rather than by importing it: the metrics import the losses, which import this module.
    """
    Layer = _LAYER[0]

    if not name.startswith("_"):
        items = value if isinstance(value, (list, tuple)) else [value]
        layers = [v for v in items if isinstance(v, Layer)]
        if layers or any(isinstance(v, Variable) for v in items):
            if "_sublayers" not in self.__dict__:
                raise RuntimeError(
                    f"{type(self).__name__}: call super().__init__(**kwargs) at the start of "
                    f"__init__, before assigning layers or variables (here: self.{name})")
        subs = self.__dict__.get("_sublayers")
        for v in layers:
            if v is not self and not any(v is s for s in subs):
                subs.append(v)
        for v in items:
            if isinstance(v, Variable) and not any(v.value is p for _, p, _ in self._params):
                self._params.append((v.name, v.value, v.trainable))
                self._grads.append(None)
            elif getattr(type(v), "_rnnkit_metric", False) is True:
                tracked = self.__dict__.setdefault("_tracked_metrics", [])
                if not any(v is m for m in tracked):
                    tracked.append(v)
    object.__setattr__(self, name, value)


def wrap_weight(layer, value: np.ndarray, name: str, trainable: bool):
    """What ``add_weight`` returns: a Variable for traced layers, the array for built-ins."""
    if not layer._traced:
        register_param(value)
        return value
    return Variable(value=value, trainable=trainable, name=name)


# ------------------------------------------------------------------------ calling
def call_layer(layer, inputs, args, kwargs):
    """``layer(inputs, ...)`` on values (arrays, Tensors, Variables), eager or recorded."""
    training = kwargs.get("training")
    if training is None and CONTEXT.training is not None:
        kwargs["training"] = training = CONTEXT.training
    if layer._traced:
        _build_traced(layer, inputs)
        if layer._autocast and not isinstance(inputs, (list, tuple)) and isinstance(inputs, np.ndarray) \
                and inputs.dtype.kind == "f" and inputs.dtype != layer.dtype:
            inputs = inputs.astype(layer.dtype)
        saved = CONTEXT.training
        CONTEXT.training = saved if training is None else bool(training)
        if CONTEXT.depth == 0 and CONTEXT.losses_seen:
            clear_losses(layer)
        CONTEXT.depth += 1
        try:
            out = layer.call(inputs, *args, **kwargs)
        finally:
            CONTEXT.training = saved
            CONTEXT.depth -= 1
        return list(out) if isinstance(out, tuple) else out
    if args:
        raise TypeError(f"{type(layer).__name__} takes the input as its only positional argument; "
                        "pass mask=, training=, initial_state= by keyword")
    if STATE.recording:
        return fused_call(layer, inputs, kwargs)
    x = layer._convert_input(_map(unwrap, inputs))
    kwargs = {k: _map(unwrap, v) for k, v in kwargs.items()}
    if kwargs.get("training") is None:
        kwargs.pop("training", None)
    layer._maybe_build(np.shape(x) if not isinstance(x, list) else [np.shape(v) for v in x])
    return layer.call(x, **kwargs)


def _build_traced(layer, inputs) -> None:
    if layer.built:
        return
    shape = _shape_struct(inputs)
    with stop_recording():
        layer.build(shape if isinstance(shape, list) else tuple(shape))
    layer.built = True
    if layer._built_input_shape is None:
        layer._built_input_shape = shape


def fused_call(layer, inputs, kwargs):
    """One recorded op for a built-in layer (or model): forward now, ``backward`` as its vjp."""
    training = kwargs.pop("training", None)
    training = False if training is None else bool(training)
    mask = _map(unwrap, kwargs.pop("mask", None))
    init = kwargs.pop("initial_state", None)
    multi_in = isinstance(inputs, (list, tuple))
    pairs = [track(v) for v in (inputs if multi_in else [inputs])]
    vals = [p[0] for p in pairs]
    x = layer._convert_input(vals if multi_in else vals[0])
    layer._maybe_build([np.shape(v) for v in x] if multi_in else np.shape(x))
    in_ts = [p[1] for p in pairs]
    if init is not None:
        init = list(init) if isinstance(init, (list, tuple)) else [init]
        spairs = [track(s) for s in init]
        kwargs["initial_state"] = [p[0] for p in spairs]
        in_ts += [p[1] for p in spairs]
    out, cache = layer.forward(x, mask=mask, training=training, **kwargs)
    entries = layer._entries()
    if not entries and all(t is None for t in in_ts):
        return out
    keys = [id(lay._params[i][1]) for lay, i, _ in entries]
    in_dtypes = [np.asarray(v).dtype for v in vals]
    n_x = len(vals)

    def vjp(g):
        ret = layer.backward(g, cache)
        if init is not None:
            dx, dstates = ret[0], list(ret[1:])
        else:
            dx, dstates = ret, []
        if multi_in:
            dxs = list(dx) if dx is not None else [None] * n_x
        else:
            dxs = [dx]
        dxs = [None if d is None or dt.kind != "f" else np.asarray(d).astype(dt, copy=False)
               for d, dt in zip(dxs, in_dtypes)]
        wg = [lay._grads[i] if i < len(lay._grads) else None for lay, i, _ in entries]
        return tuple(dxs) + tuple(dstates) + tuple(wg)

    if isinstance(out, (list, tuple)):
        return make_multi(list(out), tuple(in_ts), vjp, keys)
    t = make(out, tuple(in_ts), vjp)
    t.node.leaf_keys = tuple(keys)
    return t


# ---------------------------------------------------------------- traced forward/backward
def _check_call(layer) -> None:
    if type(layer).call is _LAYER[0].call:
        raise NotImplementedError(
            f"{type(layer).__name__} defines neither call() (written with keras.ops) nor "
            "forward()/backward(); a custom layer needs call()")


def traced_forward(layer, inputs, mask=None, training=False, **kwargs):
    """``(outputs, cache)``: ``layer.call`` recorded on a private recording."""
    _check_call(layer)
    _build_traced(layer, inputs)

    def as_leaf(a):
        a = np.asarray(a) if not isinstance(a, _Operand) else a
        if isinstance(a, np.ndarray) and a.dtype.kind == "f":
            if layer._autocast and a.dtype != layer.dtype:  # Keras casts float inputs
                a = a.astype(layer.dtype)
            return leaf(a)
        return a

    leaves = _map(as_leaf, inputs)
    saved = CONTEXT.training, CONTEXT.depth
    CONTEXT.training, CONTEXT.depth = bool(training), 1
    if CONTEXT.losses_seen:
        clear_losses(layer)
    try:
        with recording():
            out = layer.call(leaves, mask=mask, training=bool(training), **kwargs)
    finally:
        CONTEXT.training, CONTEXT.depth = saved
    if isinstance(out, tuple):
        out = list(out)
    added = [v for v in collect_losses(layer) if isinstance(v, Tensor)] if CONTEXT.losses_seen else []
    return _map(lambda v: np.asarray(unwrap(v)), out), (leaves, out, added)


def traced_backward(layer, grad_outputs, cache):
    """Fill ``layer.grads`` (and its sublayers') and return d loss / d inputs."""
    leaves, out, added = cache
    outs = out if isinstance(out, list) else [out]
    grads = list(grad_outputs) if isinstance(out, list) else [grad_outputs]
    targets, seeds = [], []
    for o, g in zip(_flat(outs), _flat(grads)):
        if isinstance(o, Tensor) and g is not None:
            targets.append(o)
            seeds.append(g)
    for v in added:  # losses added with add_loss count once each in the training loss
        targets.append(v)
        seeds.append(np.ones_like(v.value))
    with stop_recording():
        leaf_grads, _ = backprop(targets, seeds)
    for lay, i, _ in layer._entries():
        if len(lay._grads) < len(lay._params):
            lay._grads = list(lay._grads) + [None] * (len(lay._params) - len(lay._grads))
        g = leaf_grads.get(id(lay._params[i][1]))
        lay._grads[i] = g
    layer_grads_fix(layer)

    def dinput(t):
        if isinstance(t, Tensor) and t.node.key is not None:
            g = leaf_grads.get(t.node.key)
            return np.zeros_like(t.value) if g is None else np.asarray(g, dtype=t.value.dtype)
        return None

    return _map(dinput, leaves)


def layer_grads_fix(layer) -> None:
    """A gradient that reached a weight with another dtype is cast to the weight's."""
    for lay, i, _ in layer._entries():
        g = lay._grads[i]
        w = lay._params[i][1]
        if g is not None and (np.shape(g) != w.shape or np.asarray(g).dtype != w.dtype):
            lay._grads[i] = np.broadcast_to(np.asarray(g, dtype=w.dtype), w.shape).copy()


# ----------------------------------------------------------------------- add_loss
_MAX_EAGER_LOSSES = 1000  # losses added outside training are kept for inspection, bounded


def add_loss(layer, loss) -> None:
    """Keras' ``layer.add_loss(value)``: a scalar added to the training loss of this pass."""
    CONTEXT.losses_seen = True
    lst = layer.__dict__.setdefault("_added_losses", [])
    lst.append(loss)
    if len(lst) > _MAX_EAGER_LOSSES:
        del lst[:-_MAX_EAGER_LOSSES]


def _tree(layer, seen=None):
    seen = set() if seen is None else seen
    if id(layer) in seen:
        return []
    seen.add(id(layer))
    out = [layer]
    for sub in layer.__dict__.get("_sublayers") or []:
        out += _tree(sub, seen)
    return out


def collect_losses(layer) -> list:
    """The losses added by ``layer`` and its sublayers during their latest call."""
    return [v for lay in _tree(layer) for v in lay.__dict__.get("_added_losses", [])]


def clear_losses(layer) -> None:
    for lay in _tree(layer):
        if lay.__dict__.get("_added_losses"):
            lay.__dict__["_added_losses"] = []


def added_loss_total(model) -> float:
    """Sum of the losses added during the model's latest pass (0.0 when none)."""
    if not CONTEXT.losses_seen:
        return 0.0
    return float(sum(float(np.sum(unwrap(v))) for v in collect_losses(model)))


# ----------------------------------------------------------------- symbolic shapes
def infer_output_shape(layer, input_shape):
    """Keras' symbolic run, with arrays: call the layer on zeros twice, with every unknown
    dimension set to 2 then 3; output dimensions that follow them are unknown (None)."""
    is_list = isinstance(input_shape, list) and input_shape and isinstance(input_shape[0], (tuple, list))
    shapes = input_shape if is_list else [input_shape]

    def run(fill):
        xs = [np.zeros([fill if d is None else d for d in s], dtype=layer.dtype) for s in shapes]
        with stop_recording():
            saved = CONTEXT.training
            CONTEXT.training = False
            try:
                out = layer.call(xs if is_list else xs[0], training=False)
            finally:
                CONTEXT.training = saved
        return out

    a, b = run(2), run(3)

    def merge(u, v):
        if isinstance(u, (list, tuple)):
            return [merge(p, q) for p, q in zip(u, v)]
        su, sv = np.shape(unwrap(u)), np.shape(unwrap(v))
        return tuple(None if p != q else p for p, q in zip(su, sv))

    return merge(a, b)


# -------------------------------------------------------------------- custom losses
def values_and_vjp(fn, y_true, y_pred, need_grad: bool):
    """``fn(y_true, y_pred)`` (written with ops) and, if asked, its vjp w.r.t. ``y_pred``."""
    if not need_grad:
        with stop_recording():
            return np.asarray(unwrap(fn(y_true, y_pred)), dtype=y_pred.dtype), None
    src = leaf(y_pred)
    with recording():
        out = fn(y_true, src)
    values = np.asarray(unwrap(out), dtype=y_pred.dtype)

    def backward(dv):
        if not isinstance(out, Tensor):
            return np.zeros_like(y_pred)
        with stop_recording():
            lg, _ = backprop([out], [np.asarray(dv).reshape(np.shape(out.value))])
        g = lg.get(src.node.key)
        return np.zeros_like(y_pred) if g is None else np.asarray(g, dtype=y_pred.dtype)

    return values, backward


__all__ = ["add_loss", "collect_losses", "clear_losses", "added_loss_total", "call_layer", "fused_call", "traced_forward", "traced_backward", "prepare_user_class",
           "wrap_weight", "infer_output_shape", "values_and_vjp", "is_operand", "CONTEXT"]
