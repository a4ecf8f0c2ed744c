"""``rnnkit.ops`` (also ``rnnkit.keras.ops``): Keras 3's ``keras.ops`` over NumPy, differentiable.

    from rnnkit.keras import ops
    y = ops.tanh(ops.matmul(x, kernel) + bias)       # NumPy in, NumPy out

    with rnnkit.GradientTape() as tape:              # recorded while a tape is active
        loss = ops.mean(ops.square(model(x) - y))
    grads = tape.gradient(loss, model.trainable_weights)

Outside a tape (or a training step of a model with custom layers) the ops are plain
NumPy and record nothing. Inside one, results are :class:`Tensor` objects carrying
their gradient rule; see :mod:`rnnkit.ops.tape`.
"""
from __future__ import annotations

import functools
import sys

from . import creation, nn
from .array_ops import (argsort, broadcast_to, concatenate, expand_dims, flip, getitem, hstack,
                        moveaxis, pad, ravel, repeat, reshape, roll, slice, sort, split, squeeze,
                        stack, swapaxes, take, take_along_axis, tile, top_k, transpose, tril, triu,
                        unstack, vstack, where)
from .control_flow import cond, fori_loop, map, scan, slice_update, vectorized_map, while_loop
from .core import (abs, absolute, add, all, amax, amin, any, argmax, argmin, ceil, clip, cos,
                   cumprod, cumsum, divide, divide_no_nan, equal, exp, expm1, floor, floor_divide,
                   greater, greater_equal, isfinite, isnan, less, less_equal, log, log1p, log2,
                   log10, logical_and, logical_not, logical_or, logsumexp, max, maximum, mean, min,
                   minimum, mod, multiply, negative, norm, not_equal, power, prod, reciprocal,
                   round, rsqrt, sigmoid, sign, sin, sqrt, square, std, subtract, sum, tanh,
                   true_divide, var)
from .creation import (arange, cast, convert_to_numpy, convert_to_tensor, dtype, eye, full,
                       full_like, identity, is_tensor, linspace, ndim, ones, ones_like, shape, size,
                       stop_gradient, zeros, zeros_like)
from .gradient_tape import GradientTape
from .products import dot, einsum, matmul, outer, tensordot
from .nn import (binary_crossentropy, categorical_crossentropy, elu, gelu, hard_sigmoid,
                 hard_silu, hard_swish, leaky_relu, log_sigmoid, log_softmax, moments, one_hot,
                 relu, relu6, selu, silu, softmax, softplus, softsign,
                 sparse_categorical_crossentropy, swish)
from . import tape as _tape
from .tape import Tensor, Variable

# NumPy ufuncs and functions that Tensors and Variables route through the ops (so that
# `array * tensor` or `np.tanh(tensor)` keep their gradient).
UFUNC_OPS = {
    "add": add, "subtract": subtract, "multiply": multiply, "divide": divide,
    "true_divide": divide, "power": power, "negative": negative, "absolute": abs,
    "square": square, "sqrt": sqrt, "exp": exp, "expm1": expm1, "log": log, "log1p": log1p,
    "tanh": tanh, "sin": sin, "cos": cos, "maximum": maximum, "minimum": minimum,
    "matmul": matmul, "reciprocal": reciprocal, "equal": equal, "not_equal": not_equal,
    "greater": greater, "greater_equal": greater_equal, "less": less, "less_equal": less_equal,
    "sign": sign, "floor": floor, "ceil": ceil, "floor_divide": floor_divide,
    "remainder": mod, "logical_and": logical_and, "logical_or": logical_or,
    "logical_not": logical_not, "isnan": isnan, "isfinite": isfinite,
}
FUNCTION_OPS = {
    "sum": sum, "mean": mean, "max": max, "amax": max, "min": min, "amin": min, "prod": prod,
    "std": std, "var": var, "dot": dot, "matmul": matmul, "einsum": einsum,
    "tensordot": tensordot, "concatenate": concatenate, "stack": stack, "reshape": reshape,
    "transpose": transpose, "expand_dims": expand_dims, "squeeze": squeeze, "where": where,
    "clip": clip, "take": take, "take_along_axis": take_along_axis, "cumsum": cumsum,
    "split": split, "tile": tile, "repeat": repeat, "swapaxes": swapaxes, "moveaxis": moveaxis,
    "broadcast_to": broadcast_to, "flip": flip, "pad": pad, "ravel": ravel, "outer": outer,
    "argmax": argmax, "argmin": argmin, "shape": shape, "ndim": ndim, "size": size,
    "zeros_like": zeros_like, "ones_like": ones_like, "full_like": full_like, "sort": sort,
    "argsort": argsort, "copy": identity, "abs": abs, "exp": exp, "log": log, "tanh": tanh,
    "sqrt": sqrt, "square": square, "maximum": maximum, "minimum": minimum, "cumprod": cumprod,
    "logsumexp": logsumexp, "roll": roll, "triu": triu, "tril": tril, "stack": stack,
}


def _symbolic_aware(name, fn):
    """Let ``fn`` take KerasTensors (a node of the functional graph, as in Keras 3)."""
    @functools.wraps(fn)
    def op(*args, **kwargs):
        for a in args:
            if type(a).__name__ == "KerasTensor" or (
                    isinstance(a, (list, tuple)) and a and type(a[0]).__name__ == "KerasTensor"):
                handler = _tape.symbolic_handler()  # rnnkit.layers.op_layer registers it
                return handler(name, args, kwargs)
        return fn(*args, **kwargs)

    return op


def _shape_of(x):
    return tuple(x.shape) if type(x).__name__ == "KerasTensor" else creation.shape(x)


for _name in ("abs", "absolute", "add", "all", "amax", "amin", "any", "argmax", "argmin", "argsort",
              "broadcast_to", "cast", "ceil", "clip", "concatenate", "cos", "cumprod", "cumsum",
              "divide", "divide_no_nan", "dot", "einsum", "equal", "exp", "expand_dims", "expm1",
              "flip", "floor", "getitem", "greater", "greater_equal", "hstack", "identity", "less",
              "less_equal", "log", "log1p", "log2", "log10", "logical_and", "logical_not",
              "logical_or", "logsumexp", "matmul", "max", "maximum", "mean", "min", "minimum",
              "moveaxis", "multiply", "negative", "norm", "not_equal", "outer", "pad", "power",
              "prod", "ravel", "reciprocal", "repeat", "reshape", "roll", "round", "rsqrt",
              "sigmoid", "sign", "sin", "slice", "sort", "split", "sqrt", "square", "squeeze",
              "stack", "std", "subtract", "sum", "swapaxes", "take", "take_along_axis", "tanh",
              "tensordot", "tile", "top_k", "transpose", "tril", "triu", "true_divide", "unstack",
              "var", "vstack", "where", "binary_crossentropy", "categorical_crossentropy", "elu",
              "gelu", "hard_sigmoid", "hard_silu", "hard_swish", "leaky_relu", "log_sigmoid",
              "log_softmax", "one_hot", "relu", "relu6", "selu", "silu", "softmax", "softplus",
              "softsign", "sparse_categorical_crossentropy", "swish"):
    globals()[_name] = _symbolic_aware(_name, globals()[_name])
    if hasattr(nn, _name):
        setattr(nn, _name, globals()[_name])
shape = _shape_of
del _name

_tape.register_ops(sys.modules[__name__], UFUNC_OPS, FUNCTION_OPS)  # see tape.register_ops

__all__ = sorted(n for n in dir() if not n.startswith("_") and n not in (
    "annotations", "array_ops", "core", "tape", "creation", "products", "gradient_tape",
    "layer_autodiff", "symbolic_access", "control_flow", "UFUNC_OPS", "FUNCTION_OPS"))
