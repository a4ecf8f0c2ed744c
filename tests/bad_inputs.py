"""Bad inputs a new user might try, and how rnnkit answers each one.

Each case is classified as

- ``clear``: a ``ValueError``/``TypeError`` (or ``FileNotFoundError``/``FileExistsError`` for
  a path, ``RuntimeError`` for fit-before-compile) raised by rnnkit's own code;
- ``correct``: no exception, and the result passes the case's check (e.g. Keras' empty
  result for an empty batch);
- ``deep``: any other exception type, or one raised from inside NumPy, zlib, json, zipfile
  or the standard library (a traceback the user has to dig through);
- ``silent``: no exception where one was expected, or a result that fails the check.

The save/load cases live in tests/bad_inputs_saving.py. ``python tests/bad_inputs.py``
prints the counts per group (``-v`` lists every case);
``tests/test_reliability_bad_inputs.py`` asserts that every case is clear or correct.
"""
from __future__ import annotations

import os
import sys
import traceback
import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
if __name__ == "__main__":
    sys.path.insert(0, os.path.join(HERE, "..", "src"))

from rnnkit import layers as L  # noqa: E402
from rnnkit import optimizers  # noqa: E402
from rnnkit.models import Model, Sequential  # noqa: E402

import rnnkit  # noqa: E402

RNNKIT_DIR = os.path.dirname(os.path.abspath(rnnkit.__file__))
CLEAR_TYPES = (ValueError, TypeError, FileNotFoundError, FileExistsError, RuntimeError)


@dataclass
class Case:
    group: str  # "layers" or "saving"
    name: str
    fn: Callable
    check: Callable | None = None  # None: an error is expected; else check(result) -> bool


def classify(case: Case) -> tuple[str, str]:
    """(kind, detail) for one case; see the module docstring."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                result = case.fn()
    except RecursionError as exc:
        return "deep", f"RecursionError: {exc}"
    except Exception as exc:  # noqa: BLE001 - classifying is the point
        frame = traceback.extract_tb(exc.__traceback__)[-1]
        where = f"{os.path.basename(frame.filename)}:{frame.lineno}"
        # rnnkit's own message: raised by a `raise` statement in rnnkit's source (not by a
        # NumPy method or a builtin such as int() called from rnnkit's code).
        own = (os.path.abspath(frame.filename).startswith(RNNKIT_DIR)
               and (frame.line or "").lstrip().startswith("raise"))
        text = f"{type(exc).__name__} at {where}: {str(exc)[:160]}"
        # Python's own message for a misspelled keyword names the argument: clear too.
        own = own or (isinstance(exc, TypeError) and "unexpected keyword argument" in str(exc))
        if isinstance(exc, CLEAR_TYPES) and own and str(exc):
            return "clear", text
        return "deep", text
    if case.check is None:
        return "silent", f"accepted, returned {type(result).__name__}"
    try:
        ok = bool(case.check(result))
    except Exception as exc:  # noqa: BLE001
        return "silent", f"check failed: {exc!r}"
    return ("correct", "ok") if ok else ("silent", "wrong result")


# ---------------------------------------------------------------------------- layers
def _x(*shape, dtype="float32"):
    return np.random.default_rng(0).standard_normal(shape).astype(dtype)


def _shape_is(*shapes):
    def check(out):
        outs = out if isinstance(out, list) else [out]
        return [o.shape for o in outs] == [tuple(s) for s in shapes]
    return check


def _built(layer, shape=(2, 4, 3)):
    layer(_x(*shape))
    return layer


def _compiled(layer=None, shape=(4, 3), loss="mse", out=1):
    model = Sequential([L.Input(shape=shape), layer or L.LSTM(2), L.Dense(out)])
    model.compile(optimizer="sgd", loss=loss)
    return model


def layer_cases() -> list[Case]:
    cases: list[Case] = []

    def add(name, fn, check=None):
        cases.append(Case("layers", name, fn, check))

    rnns = {"SimpleRNN": L.SimpleRNN, "LSTM": L.LSTM, "GRU": L.GRU,
            "Bidirectional": lambda units, **kw: L.Bidirectional(L.LSTM(units, **kw))}
    for cname, make in rnns.items():
        width = 4 if cname == "Bidirectional" else 2
        add(f"{cname} empty batch", lambda m=make: m(2)(_x(0, 4, 3)), _shape_is((0, width)))
        add(f"{cname} empty batch return_sequences",
            lambda m=make: m(2, return_sequences=True)(_x(0, 4, 3)), _shape_is((0, 4, width)))
        add(f"{cname} empty batch forward", lambda m=make: _built(m(2)).forward(_x(0, 4, 3)))
        add(f"{cname} zero timesteps", lambda m=make: m(2)(_x(2, 0, 3)))
        add(f"{cname} zero timesteps forward", lambda m=make: _built(m(2)).forward(_x(2, 0, 3)))
        add(f"{cname} rank 2", lambda m=make: m(2)(_x(2, 3)))
        add(f"{cname} rank 4", lambda m=make: m(2)(_x(2, 4, 3, 1)))
        add(f"{cname} strings", lambda m=make: m(2)(np.full((2, 4, 3), "a")))
        add(f"{cname} ragged", lambda m=make: m(2)([[[1.0]], [[1.0], [2.0]]]))
        add(f"{cname} None input", lambda m=make: m(2)(None))
        add(f"{cname} complex input", lambda m=make: m(2)(_x(2, 4, 3).astype(complex)))
        add(f"{cname} wrong features", lambda m=make: _built(m(2))(_x(2, 4, 5)))
        add(f"{cname} mask wrong shape", lambda m=make: m(2)(_x(2, 4, 3), mask=np.ones((2, 5), bool)))
        add(f"{cname} mask strings", lambda m=make: m(2)(_x(2, 4, 3), mask=np.full((2, 4), "x")))
        add(f"{cname} set_weights strings",
            lambda m=make: _built(m(2)).set_weights([np.full(w.shape, "a") for w in _built(m(2)).weights]))
        add(f"{cname} set_weights count", lambda m=make: _built(m(2)).set_weights([np.zeros(3)]))
        add(f"{cname} set_weights object", lambda m=make: _built(m(2)).set_weights(
            [np.array([None] * w.size).reshape(w.shape) for w in _built(m(2)).weights]))
        add(f"{cname} units=0", lambda m=make: m(0))
        add(f"{cname} units='3'", lambda m=make: m("3"))
        add(f"{cname} dropout=1.5", lambda m=make: m(2, dropout=1.5))
        add(f"{cname} activation unknown", lambda m=make: m(2, activation="nope"))
    for cname, make, n in (("SimpleRNN", L.SimpleRNN, 1), ("LSTM", L.LSTM, 2), ("GRU", L.GRU, 1)):
        add(f"{cname} initial_state wrong shape",
            lambda m=make, n=n: m(2)(_x(2, 4, 3), initial_state=[np.zeros((2, 5))] * n))
        add(f"{cname} initial_state wrong count",
            lambda m=make, n=n: m(2)(_x(2, 4, 3), initial_state=[np.zeros((2, 2))] * (n + 1)))
    add("Bidirectional merge_mode", lambda: L.Bidirectional(L.LSTM(2), merge_mode="nope"))
    add("Bidirectional of Dense", lambda: L.Bidirectional(L.Dense(2)))
    add("Dense units=0", lambda: L.Dense(0))
    add("Dense units=-1", lambda: L.Dense(-1))
    add("Dense rank 1", lambda: L.Dense(2)(_x(3)))
    add("Dense wrong features", lambda: _built(L.Dense(2), (2, 3))(_x(2, 4)))
    add("Dense strings", lambda: L.Dense(2)(np.full((2, 3), "a")))
    add("Dense empty batch", lambda: L.Dense(2)(_x(0, 3)), _shape_is((0, 2)))
    add("Dense set_weights strings", lambda: _built(L.Dense(2), (2, 3)).set_weights(
        [np.full((3, 2), "a"), np.full((2,), "b")]))
    add("Embedding id too large", lambda: L.Embedding(5, 2)(np.array([[1, 5]])))
    add("Embedding negative id", lambda: L.Embedding(5, 2)(np.array([[-1, 2]])))
    add("Embedding float ids", lambda: L.Embedding(5, 2)(np.array([[0.5, 2]])))
    add("Embedding string ids", lambda: L.Embedding(5, 2)(np.array([["a", "b"]])))
    add("Embedding input_dim=0", lambda: L.Embedding(0, 2))
    add("Embedding empty batch", lambda: L.Embedding(5, 2)(np.zeros((0, 3), int)), _shape_is((0, 3, 2)))

    # Models.
    y1 = _x(6, 1)
    add("fit empty x", lambda: _compiled().fit(_x(0, 4, 3), _x(0, 1), verbose=0))

    def fit_zero_t():
        m = Sequential([L.LSTM(2), L.Dense(1)])
        m.compile(optimizer="sgd", loss="mse")
        return m.fit(_x(6, 0, 3), y1, verbose=0)
    add("fit zero timesteps", fit_zero_t)
    add("evaluate empty x", lambda: _compiled().evaluate(_x(0, 4, 3), _x(0, 1), verbose=0))
    add("train_on_batch empty x", lambda: _compiled().train_on_batch(_x(0, 4, 3), _x(0, 1)))
    add("test_on_batch empty x", lambda: _compiled().test_on_batch(_x(0, 4, 3), _x(0, 1)))
    add("predict empty x", lambda: _compiled().predict(_x(0, 4, 3), verbose=0))
    add("model call empty batch", lambda: _compiled()(_x(0, 4, 3)), _shape_is((0, 1)))
    add("train_on_batch zero timesteps", lambda: _compiled(shape=(None, 3)).train_on_batch(_x(2, 0, 3), _x(2, 1)))
    add("fit string labels", lambda: _compiled().fit(_x(6, 4, 3), np.array(["a"] * 6), verbose=0))
    add("fit string labels bce", lambda: _compiled(loss="binary_crossentropy").fit(
        _x(6, 4, 3), np.array([["yes"]] * 6), verbose=0))
    add("fit string x", lambda: _compiled().fit(np.full((6, 4, 3), "a"), y1, verbose=0))
    add("fit verbose='loud'", lambda: _compiled().fit(_x(6, 4, 3), y1, verbose="loud"))
    add("evaluate verbose='loud'", lambda: _compiled().evaluate(_x(6, 4, 3), y1, verbose="loud"))
    add("predict verbose=[1]", lambda: _compiled().predict(_x(6, 4, 3), verbose=[1]))
    add("fit epochs=-1", lambda: _compiled().fit(_x(6, 4, 3), y1, epochs=-1, verbose=0))
    add("fit epochs='2'", lambda: _compiled().fit(_x(6, 4, 3), y1, epochs="2", verbose=0))
    add("fit batch_size=0", lambda: _compiled().fit(_x(6, 4, 3), y1, batch_size=0, verbose=0))
    add("fit validation_split=1.5", lambda: _compiled().fit(_x(6, 4, 3), y1, validation_split=1.5, verbose=0))
    add("fit x/y mismatch", lambda: _compiled().fit(_x(6, 4, 3), _x(5, 1), verbose=0))
    add("fit y None", lambda: _compiled().fit(_x(6, 4, 3), None, verbose=0))
    add("fit sample_weight length", lambda: _compiled().fit(_x(6, 4, 3), y1, sample_weight=np.ones(4), verbose=0))
    add("fit sample_weight strings", lambda: _compiled().fit(_x(6, 4, 3), y1, sample_weight=["a"] * 6, verbose=0))
    add("fit class_weight list", lambda: _compiled().fit(_x(6, 4, 3), y1, class_weight=[1, 2], verbose=0))
    add("fit initial_epoch=-1", lambda: _compiled().fit(_x(6, 4, 3), y1, initial_epoch=-1, verbose=0))
    add("fit shuffle='x'", lambda: _compiled().fit(_x(6, 4, 3), y1, shuffle="x", verbose=0))
    add("fit validation_data 1-tuple", lambda: _compiled().fit(_x(6, 4, 3), y1, validation_data=(1,), verbose=0))
    add("fit callbacks not list", lambda: _compiled().fit(_x(6, 4, 3), y1, callbacks=3, verbose=0))
    add("fit wrong x shape", lambda: _compiled().fit(_x(6, 5, 3), y1, verbose=0))
    add("fit NaN x", lambda: _compiled().fit(np.where(_x(6, 4, 3) > 1, np.nan, 0.0), y1, verbose=0))
    add("fit inf y", lambda: _compiled().fit(_x(6, 4, 3), np.full((6, 1), np.inf), verbose=0))
    add("evaluate NaN x", lambda: _compiled().evaluate(np.full((6, 4, 3), np.nan), y1, verbose=0))
    add("predict NaN x", lambda: _compiled().predict(np.full((6, 4, 3), np.nan), verbose=0))
    add("train_on_batch inf x", lambda: _compiled().train_on_batch(np.full((6, 4, 3), np.inf), y1))
    add("fit NaN sample_weight", lambda: _compiled().fit(_x(6, 4, 3), y1, sample_weight=np.full(6, np.nan), verbose=0))
    add("fit before compile", lambda: Sequential([L.Input(shape=(4, 3)), L.LSTM(2)]).fit(_x(6, 4, 3), _x(6, 2)))
    add("compile unknown loss", lambda: _compiled().compile(optimizer="sgd", loss="nope"))
    add("compile unknown optimizer", lambda: _compiled().compile(optimizer="nope", loss="mse"))
    add("compile metrics string", lambda: _compiled().compile(optimizer="sgd", loss="mse", metrics="acc"))
    add("compile unknown metric", _metric_nope)
    add("Sequential add int", lambda: Sequential([3]))
    add("Model inputs not tensors", lambda: Model(inputs=3, outputs=4))
    add("optimizer learning_rate=NaN", lambda: optimizers.SGD(learning_rate=float("nan")))
    add("optimizer learning_rate='0.1'", lambda: optimizers.SGD(learning_rate="0.1"))
    add("optimizer learning_rate=-1", lambda: optimizers.Adam(learning_rate=-1))
    add("optimizer iterations=-5", lambda: optimizers.SGD(iterations=-5))
    add("optimizer set iterations=-5", lambda: _set_iterations(-5))
    add("optimizer set_state iterations=-5", lambda: _opt_state(iterations=np.array(-5)))
    add("optimizer set_state iterations=1.5", lambda: _opt_state(iterations=np.array(1.5)))
    add("optimizer set_state lr=NaN", lambda: _opt_state(learning_rate=np.array(np.nan)))
    add("optimizer set_state lr string", lambda: _opt_state(learning_rate=np.array("fast")))
    add("optimizer set_state slot NaN", lambda: _opt_state(**{"momentum/0": np.full((2,), np.nan)}))
    add("optimizer assign lr string", lambda: setattr(optimizers.SGD(), "learning_rate", "fast"))
    add("optimizer assign lr NaN", lambda: setattr(optimizers.SGD(), "learning_rate", float("nan")))
    add("optimizer momentum=2", lambda: optimizers.SGD(momentum=2.0))
    add("optimizer clipnorm=-1", lambda: optimizers.SGD(clipnorm=-1))
    add("optimizer from_config lr string", lambda: optimizers.deserialize(
        {"class_name": "SGD", "config": {"learning_rate": "0.1"}}))
    return cases


def _metric_nope():
    model = _compiled()
    model.compile(optimizer="sgd", loss="mse", metrics=["nope"])
    return model.fit(_x(6, 4, 3), _x(6, 1), verbose=0)


def _set_iterations(value):
    opt = optimizers.SGD()
    opt.iterations = value
    return opt


def _opt_state(**override):
    opt = optimizers.SGD(momentum=0.9)
    p = np.zeros(2)
    opt.apply([np.ones(2)], [p])
    state = opt.get_state()
    state.update(override)
    opt.set_state(state)
    return opt


# ---------------------------------------------------------------------------- saving
def saving_cases() -> list[Case]:
    """See tests/bad_inputs_saving.py."""
    import bad_inputs_saving

    cases: list[Case] = []
    bad_inputs_saving.add_cases(lambda name, fn, check=None: cases.append(Case("saving", name, fn, check)))
    return cases


def all_cases() -> list[Case]:
    return layer_cases() + saving_cases()


def main() -> int:
    counts: dict[str, dict[str, int]] = {}
    bad = []
    for case in all_cases():
        kind, detail = classify(case)
        counts.setdefault(case.group, {"clear": 0, "correct": 0, "deep": 0, "silent": 0})[kind] += 1
        if kind in ("deep", "silent") or "-v" in sys.argv:
            bad.append(f"  [{kind}] {case.group}: {case.name}: {detail}")
    print("\n".join(bad))
    for group, c in counts.items():
        print(f"{group}: {sum(c.values())} cases: {c['clear']} clear errors, {c['correct']} correct "
              f"results, {c['deep']} deep tracebacks, {c['silent']} silent acceptances")
    return 0


if __name__ == "__main__":
    sys.exit(main())
