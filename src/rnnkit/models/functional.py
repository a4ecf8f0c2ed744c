"""The functional API: ``Model(inputs, outputs)``, a graph of layer calls.

Calling a layer on KerasTensors records a *node*: the layer, the tensors it was called
on, its keyword arguments (``initial_state=``, ``mask=``, ``training=``) and the
KerasTensor(s) it returned (``layer._inbound_nodes``; each output's ``_history``
points back at the call). ``Model`` walks these from the outputs back to the inputs,
as Keras does, and then:

- ``forward`` runs the nodes in topological order, each with its own cache, passing
  masks along the edges (``Embedding(mask_zero=True)`` -> ``LSTM``): a node receives
  the masks of the tensors it was called on unless the call passed ``mask=``;
- ``backward`` runs the nodes in reverse: the gradient of a tensor consumed several
  times (or a model output also used inside) is the sum over its consumers; a
  recurrent node given ``initial_state`` returns ``[dx, *dstates]`` and the state
  gradients flow to the tensors the states came from;
- a layer called several times (shared layer) runs ``backward`` once per call;
  after each call the model reads that call's ``layer.grads`` and adds them up, then
  writes the sums back into the layer, so ``model.grads`` (aligned with
  ``model.get_weights()``, each weight once) holds the total over every call.
"""
from __future__ import annotations

from collections import defaultdict
from typing import Callable

import numpy as np

from ..layers import InputLayer, KerasTensor, Layer
from ..layers.layer_utils import empty_batch_call, has_stateful, is_empty_batch, run_backward, run_layer
from ..ops import tape as _tape
from ..ops.layer_autodiff import call_layer, is_operand
from .functional_config import FunctionalConfigMixin
from .graph import (_describe, _describe_arrays, _fill, _locate, _Node, _tensors, fusable_pairs, order_graph,
                    run_fused_pair)
from .subclassing import Model as _ModelBase
from .summary import format_shape, print_functional_summary
from .summary_box import check_style, print_box_summary

# ------------------------------------------------------------------------- model
class Model(FunctionalConfigMixin, _ModelBase):
    """A model built from a graph of layer calls (Keras' functional API).

    ``Model(inputs, outputs)``: ``inputs`` is an ``Input(...)`` tensor or a list of them,
    ``outputs`` a KerasTensor computed from them or a list. The model is a layer: call
    it on arrays (``model(x)``, ``model([x1, x2])``) or on KerasTensors, and train it
    with ``compile``/``fit`` (several inputs: ``x`` is a list of arrays; several
    outputs: ``y`` is a list, with one loss for all or one per output).

    ``forward(inputs) -> (outputs, cache)`` and ``backward(grad_outputs, cache) ->
    grad_inputs`` use the structures given to the constructor (a list for a list);
    afterwards ``model.grads`` holds every weight's gradient in ``get_weights()`` order,
    summed over all calls of shared layers.
    """

    _keras_class_name = "Functional"  # what Keras names it in configs and summaries
    _is_model = True

    def __init__(self, inputs=None, outputs=None, name: str | None = None, trainable: bool = True,
                 **kwargs):
        if inputs is None or outputs is None:
            raise TypeError(
                "Model(inputs, outputs): rnnkit supports the functional API, e.g. "
                "Model(inputs=Input(shape=(None, 8)), outputs=Dense(1)(...)); received "
                f"inputs={'None' if inputs is None else type(inputs).__name__}, "
                f"outputs={'None' if outputs is None else type(outputs).__name__}. Subclassed models "
                "with a custom call() are not supported (there is no autograd tape); use Sequential "
                "or the functional API"
            )
        for arg, val in (("inputs", inputs), ("outputs", outputs)):
            if isinstance(val, dict):
                raise TypeError(f"Model: {arg} must be a KerasTensor or a list of them; received a dict")
        super().__init__(name=name, trainable=trainable, **kwargs)
        self._inputs_as_list = isinstance(inputs, (list, tuple))
        self._outputs_as_list = isinstance(outputs, (list, tuple))
        self._inputs = list(inputs) if self._inputs_as_list else [inputs]
        self._outputs = list(outputs) if self._outputs_as_list else [outputs]
        self._init_graph()
        if len(self._inputs) == 1:  # lets Sequential([model, ...]) build at once
            self._batch_input_shape = self._inputs[0].shape

    # ----------------------------------------------------------- graph building
    def _check_io(self):
        if not self._inputs:
            raise ValueError("Model: inputs is an empty list; pass at least one Input(...)")
        if not self._outputs:
            raise ValueError("Model: outputs is an empty list; pass at least one tensor")
        for i, t in enumerate(self._inputs):
            if not isinstance(t, KerasTensor):
                raise TypeError(
                    f"Model: inputs[{i}] must be a KerasTensor returned by Input(...); received "
                    f"{type(t).__name__}"
                )
            if t._history is None or not isinstance(t._history[0], InputLayer):
                where = ("it has no layer history" if t._history is None
                         else f"it is {_describe(t)}")
                raise ValueError(
                    f"Model: inputs[{i}] must be a tensor returned by Input(...), but {where}. Pass "
                    "the Input(...) tensors the outputs are computed from"
                )
        seen = set()
        for t in self._inputs:
            if id(t) in seen:
                raise ValueError(f"Model: the same input {_describe(t)} is passed twice in inputs")
            seen.add(id(t))
        for i, t in enumerate(self._outputs):
            if not isinstance(t, KerasTensor):
                raise TypeError(
                    f"Model: outputs[{i}] must be a KerasTensor computed from the inputs (by calling "
                    f"layers on them); received {type(t).__name__}"
                )

    def _init_graph(self) -> None:
        """Find the nodes between inputs and outputs; order them as Keras does."""
        self._check_io()
        run, nodes_by_depth, layers, nodes, node_depth = order_graph(self._inputs, self._outputs)
        self._nodes = run
        self._nodes_by_depth = dict(nodes_by_depth)
        self._layers = layers
        self._sublayers = [lay for lay in layers if not isinstance(lay, InputLayer)]
        self._layer_nodes: dict[int, list[_Node]] = defaultdict(list)
        for node in sorted(nodes.values(), key=lambda nd: nd.index):
            if node.key in node_depth:
                self._layer_nodes[id(node.layer)].append(node)
        self._relative_index = {node.key: k for lst in self._layer_nodes.values()
                                for k, node in enumerate(lst)}
        # How many calls read each weight: shared weights are summed over calls.
        self._weight_uses: dict[tuple, int] = defaultdict(int)
        for node in run:
            for lay, i, _ in node.layer._entries():
                self._weight_uses[(id(lay), i)] += 1
        self._pairs = fusable_pairs(run, self._outputs)
        self.built = True
        self._built_input_shape = self.input_shape

    # --------------------------------------------------------------- structure
    @property
    def layers(self) -> list[Layer]:
        """Every layer, InputLayers first, in Keras' order (by depth, then traversal)."""
        return list(self._layers)

    @property
    def inputs(self) -> list[KerasTensor]:
        return list(self._inputs)

    @property
    def outputs(self) -> list[KerasTensor]:
        return list(self._outputs)

    @property
    def input(self):
        return list(self._inputs) if self._inputs_as_list else self._inputs[0]

    @property
    def output(self):
        return list(self._outputs) if self._outputs_as_list else self._outputs[0]

    @property
    def input_names(self) -> list[str]:
        return [t._history[0].name for t in self._inputs]

    @property
    def output_names(self) -> list[str]:
        """Names of the layers producing the outputs (made unique with ``_1``, ``_2``...)."""
        names: list[str] = []
        for t in self._outputs:
            base = t._history[0].name
            name, k = base, 1
            while name in names:
                name, k = f"{base}_{k}", k + 1
            names.append(name)
        return names

    @property
    def input_shape(self):
        shapes = [t.shape for t in self._inputs]
        return shapes if len(shapes) > 1 else shapes[0]

    @property
    def output_shape(self):
        shapes = [t.shape for t in self._outputs]
        return shapes if self._outputs_as_list else shapes[0]

    def build(self, input_shape=None) -> None:
        """A functional model is built when it is created; this only checks nothing is missing."""
        self.built = True

    def num_outputs(self) -> int:
        return len(self._outputs) if self._outputs_as_list else 1

    def _entries(self):
        # A weight reached twice (a layer shared with a nested model) counts once.
        seen, out = set(), []
        for lay, i, t in super()._entries():
            if (id(lay), i) not in seen:
                seen.add((id(lay), i))
                out.append((lay, i, t))
        return out

    def _symbolic_input_shape(self, inputs):
        if isinstance(inputs, (list, tuple)):
            if len(inputs) != len(self._inputs):
                raise ValueError(
                    f"Model '{self.name}' expects {len(self._inputs)} input(s) {self._input_desc()}; "
                    f"received a list of {len(inputs)} tensor(s)"
                )
            return [t.shape for t in inputs]
        return inputs.shape

    def compute_output_shape(self, input_shape):
        if len(self._inputs) > 1 or (isinstance(input_shape, list) and input_shape
                                     and isinstance(input_shape[0], (tuple, list))):
            shapes = list(input_shape)
        else:
            shapes = [input_shape]
        if len(shapes) != len(self._inputs):
            raise ValueError(
                f"Model '{self.name}' expects {len(self._inputs)} input shape(s); received {input_shape}"
            )
        known = {id(t): tuple(s) for t, s in zip(self._inputs, shapes)}
        for node in self._nodes:
            out = node.layer.compute_output_shape(
                node.layer._symbolic_input_shape(_fill(node.args, lambda k: KerasTensor(known[k]))))
            outs = out if node.multi else [out]
            for t, s in zip(node.outputs, outs):
                known[id(t)] = tuple(s)
        result = [known[id(t)] for t in self._outputs]
        return result if self._outputs_as_list else result[0]

    def compute_mask(self, inputs, mask):
        # Only a run knows the masks its layers derive from the data; run_layer takes
        # a nested model's output masks from _run_masked.
        return None

    def reset_states(self) -> None:
        """Zero the states of every stateful layer, nested models included."""
        for layer in self._sublayers:
            if getattr(layer, "stateful", False) or isinstance(layer, Model):
                layer.reset_states()

    def summary(self, line_length: int | None = None, positions=None,
                print_fn: Callable[[str], None] | None = None, explain: bool = False,
                style: str = "keras3", **kwargs) -> None:
        """Print the table of layers, output shapes, parameters and connections: Keras 3's
        box table, or Keras 2's with ``style="keras2"``."""
        if check_style(style) == "keras3":
            print_box_summary(self, line_length=line_length, positions=positions, print_fn=print_fn,
                              explain=explain)
            return
        print_functional_summary(self, line_length=line_length, positions=positions,
                                 print_fn=print_fn, explain=explain)

    def _is_sequential_like(self) -> bool:
        """Keras prints a plain (Sequential) table for a chain of single-input, unshared calls."""
        for nodes in self._nodes_by_depth.values():
            if len(nodes) > 1 or (len(nodes) == 1 and len(nodes[0].in_tensors) > 1):
                return False
        return all(len(self._layer_nodes[id(lay)]) <= 1 for lay in self._layers)

    def _connections(self, layer) -> list[str]:
        out = []
        for node in self._layer_nodes[id(layer)]:
            for t in node.in_tensors:
                src, index = _locate(t, "summary")
                out.append(f"{src.name}[{index}][{t._history[3]}]")
        return out

    # ------------------------------------------------------------------ running
    def _input_desc(self) -> str:
        return "[" + ", ".join(f"{t._history[0].name} {format_shape(t.shape)}" for t in self._inputs) + "]"

    def _standardize_inputs(self, inputs) -> list[np.ndarray]:
        n = len(self._inputs)
        if isinstance(inputs, dict):
            names = self.input_names
            missing = [k for k in names if k not in inputs]
            extra = [k for k in inputs if k not in names]
            if missing or extra:
                raise ValueError(
                    f"Model '{self.name}' expects a dict with keys {names} (its input names); "
                    f"received keys {sorted(inputs)}"
                )
            xs = [inputs[k] for k in names]
        elif n > 1:
            if not isinstance(inputs, (list, tuple)) or len(inputs) != n:
                raise ValueError(
                    f"Model '{self.name}' expects {n} input arrays {self._input_desc()}, as a list; "
                    f"received {_describe_arrays(inputs)}"
                )
            xs = list(inputs)
        elif isinstance(inputs, (list, tuple)) and len(inputs) == 1 and isinstance(inputs[0], np.ndarray):
            xs = [inputs[0]]
        else:
            xs = [inputs]
        out = []
        for i, (t, x) in enumerate(zip(self._inputs, xs)):
            if isinstance(x, KerasTensor):
                raise TypeError(
                    f"Model '{self.name}': input {i} is a KerasTensor mixed with arrays; pass all "
                    "KerasTensors (to build a graph) or all arrays"
                )
            a = np.asarray(x)
            if a.dtype == object:
                raise ValueError(
                    f"Model '{self.name}': input {i} ('{t._history[0].name}') must be a rectangular "
                    "numeric array; received a ragged/object array (pad sequences first)"
                )
            if a.ndim != len(t.shape) or any(e is not None and e != s for e, s in zip(t.shape[1:], a.shape[1:])):
                raise ValueError(
                    f"Model '{self.name}': input {i} ('{t._history[0].name}') expects arrays of "
                    f"shape {format_shape(t.shape)}; received shape {a.shape}"
                )
            out.append(a)
        sizes = {a.shape[0] for a in out}
        if len(sizes) > 1:
            raise ValueError(
                f"Model '{self.name}': all input arrays must have the same number of samples; "
                f"received shapes {[a.shape for a in out]}"
            )
        return out

    def _run_masked(self, inputs, mask, training, keep_caches):
        """Outputs, the nodes' caches (None for inference) and the outputs' masks."""
        xs = self._standardize_inputs(inputs)
        values: dict[int, object] = {id(t): x for t, x in zip(self._inputs, xs)}
        masks: dict[int, object] = {}
        if mask is not None:
            ms = list(mask) if len(self._inputs) > 1 and isinstance(mask, (list, tuple)) else [mask]
            for t, m in zip(self._inputs, ms):
                if m is not None:
                    masks[id(t)] = m
        caches = []
        fused: set[int] = set()
        for k, node in enumerate(self._nodes):
            if k in fused:
                continue
            layer = node.layer
            if (not keep_caches and not training and k in self._pairs
                    and run_fused_pair(node, self._nodes[self._pairs[k]], values, masks,
                                       self._predict_memo)):
                fused.add(self._pairs[k])
                continue
            args = _fill(node.args, values.__getitem__)
            kwargs = {k: _fill(v, values.__getitem__) for k, v in node.kwargs.items()}
            if "mask" in kwargs:
                m = kwargs.pop("mask")
            else:
                m = _fill(node.args, masks.get)
                if isinstance(m, list) and all(v is None for v in m):
                    m = None
            node_training = kwargs.pop("training", None)
            node_training = training if node_training is None else bool(node_training)
            out, cache, out_mask = run_layer(layer, args, m, node_training, keep_caches, **kwargs)
            if keep_caches:
                caches.append(cache)
            if node.multi:
                if not isinstance(out, (list, tuple)) or len(out) != len(node.outputs):
                    got = len(out) if isinstance(out, (list, tuple)) else 1
                    raise RuntimeError(
                        f"Layer '{layer.name}' returned {got} output(s); its symbolic call promised "
                        f"{len(node.outputs)}"
                    )
                outs = list(out)
            else:
                outs = [out]
            if node.multi:
                oms = list(out_mask) if isinstance(out_mask, (list, tuple)) else [out_mask]
                oms = (oms + [None] * len(outs))[:len(outs)]
            else:
                oms = [out_mask]
            for t, o, om in zip(node.outputs, outs, oms):
                values[id(t)] = o
                if om is not None:
                    masks[id(t)] = om
        result = [values[id(t)] for t in self._outputs]
        out_masks = [masks.get(id(t)) for t in self._outputs]
        if not self._outputs_as_list:
            return result[0], (caches if keep_caches else None), out_masks[0]
        return result, (caches if keep_caches else None), out_masks

    def forward(self, inputs, mask=None, training: bool = False, **kwargs):
        if kwargs:
            raise TypeError(f"Model.forward got unexpected argument(s) {sorted(kwargs)}")
        out, caches, _ = self._run_masked(inputs, mask, training, True)
        return out, caches

    def call(self, inputs, mask=None, training: bool = False, **kwargs):
        if kwargs:
            raise TypeError(f"Model.call got unexpected argument(s) {sorted(kwargs)}")
        return self._run_masked(inputs, mask, training, False)[0]

    def __call__(self, inputs, *args, **kwargs):
        if _tensors(inputs):
            return self._call_symbolic(inputs, *args, **kwargs)
        if _tape.STATE.recording or is_operand(inputs):  # one op on the tape
            return call_layer(self, inputs, args, kwargs)
        if args:
            raise TypeError(f"Model '{self.name}' takes its input(s) as the only positional argument")
        if is_empty_batch(inputs) and not has_stateful(self):
            return empty_batch_call(self.call, inputs, kwargs)
        return self.call(inputs, **kwargs)

    def _convert_input(self, x):
        return x

    def backward(self, grad_outputs, cache, input_grad: bool = True):
        """Backpropagate through the graph: dL/d(inputs) (a list for list inputs).

        ``input_grad=False`` (a training step, where nobody reads dL/d(inputs)) lets a
        layer called on a model input skip it where its ``backward`` says it can
        (``takes_input_grad``: the recurrent layers); those inputs' gradients are then None.
        """
        caches = cache
        model_inputs = set() if input_grad else {id(t) for t in self._inputs}
        if self._outputs_as_list:
            if not isinstance(grad_outputs, (list, tuple)) or len(grad_outputs) != len(self._outputs):
                raise ValueError(
                    f"Model '{self.name}' has {len(self._outputs)} outputs; backward expects a list of "
                    f"{len(self._outputs)} gradients (None for unused ones)"
                )
            gl = list(grad_outputs)
        else:
            gl = [grad_outputs]
        grads: dict[int, np.ndarray] = {}

        def add(t, g):
            if g is None or not isinstance(t, KerasTensor):
                return
            prev = grads.get(id(t))
            grads[id(t)] = g if prev is None else prev + g

        for t, g in zip(self._outputs, gl):
            add(t, None if g is None else np.asarray(g))
        acc: dict[tuple, np.ndarray] = {}
        for node, c in zip(reversed(self._nodes), reversed(caches)):
            gouts = [grads.get(id(t)) for t in node.outputs]
            if all(g is None for g in gouts):
                continue  # nothing downstream depends on this call
            ret = run_backward(node.layer, gouts if node.multi else gouts[0], c,
                               input_grad=id(node.args) not in model_inputs)
            self._collect_weight_grads(node.layer, acc)
            if node.has_states:
                dx, dstates = ret[0], list(ret[1:])
                for t, d in zip(node.state_slots, dstates):
                    add(t, d)
            else:
                dx = ret
            if isinstance(node.args, (list, tuple)):
                if dx is not None:
                    for t, d in zip(node.args, dx):
                        add(t, d)
            else:
                add(node.args, dx)
        for lay, i, _ in self._entries():
            lay._grads[i] = acc.get((id(lay), i))
        self._set_grads([])
        gin = [grads.get(id(t)) for t in self._inputs]
        return gin if self._inputs_as_list else gin[0]

    backward.takes_input_grad = True  # type: ignore[attr-defined]

    def _collect_weight_grads(self, layer, acc) -> None:
        """Add the weight gradients of the call just run backward into ``acc``."""
        for lay, i, _ in layer._entries():
            g = lay._grads[i] if i < len(lay._grads) else None
            if g is None:
                continue
            key = (id(lay), i)
            if key not in acc:
                acc[key] = g if self._weight_uses.get(key, 1) <= 1 else np.array(g, copy=True)
            else:
                acc[key] += g

    # -------------------------------------------------------- training hooks
    def _input_spec(self):
        return [(t._history[0].name, t.shape) for t in self._inputs] if len(self._inputs) > 1 else None

    def _output_names_for_training(self):
        return self.output_names if self._outputs_as_list else None

    def _standardize_single_input(self, x):
        if isinstance(x, dict):
            return self._standardize_inputs(x)[0]
        if isinstance(x, (list, tuple)) and len(x) == 1 and isinstance(x[0], np.ndarray):
            return x[0]
        return x


Functional = Model


_ModelBase._functional_class = Model  # Model(inputs, outputs) builds this class
