"""Optimizers and learning-rate schedules: Keras 3 golden steps, state, config, errors."""
from __future__ import annotations

import json
import math
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from rnnkit import optimizers
from rnnkit.optimizers import SGD, Adagrad, Adam, AdamW, RMSprop, schedules

FIXTURES = Path(__file__).parent / "fixtures" / "training" / "optimizers.npz"
DATA = np.load(FIXTURES)
SHAPES = [tuple(s) for s in json.loads(str(DATA["_shapes"]))]
CASES = sorted({k.split("/")[0] for k in DATA.files if not k.startswith(("_", "schedule_"))})
SCHEDULE_CASES = sorted({k.split("/")[0] for k in DATA.files if k.startswith("schedule_")})


def _split(flat: np.ndarray) -> list[np.ndarray]:
    out, offset = [], 0
    for shape in SHAPES:
        n = math.prod(shape)
        out.append(flat[offset:offset + n].reshape(shape).copy())
        offset += n
    return out


def _build(spec: dict) -> optimizers.Optimizer:
    kwargs = dict(spec["kwargs"])
    if isinstance(kwargs.get("learning_rate"), dict):
        kwargs["learning_rate"] = schedules.deserialize(kwargs["learning_rate"])
    return getattr(optimizers, spec["class_name"])(**kwargs)


# Every optimizer kind with every clipping mode, plus schedules and weight decay.
ALL_KINDS = [
    (SGD, {}), (SGD, {"momentum": 0.9}), (SGD, {"momentum": 0.9, "nesterov": True}),
    (RMSprop, {}), (RMSprop, {"momentum": 0.5, "centered": True}),
    (Adam, {}), (Adam, {"amsgrad": True}), (Adagrad, {}), (AdamW, {}),
]
CLIPS = [{}, {"clipnorm": 0.5}, {"clipvalue": 0.1}, {"global_clipnorm": 0.5}]


def _random_problem(seed: int, dtype=np.float32):
    rng = np.random.default_rng(seed)
    params = [rng.normal(size=s).astype(dtype) for s in SHAPES]
    grads = [[rng.normal(size=s).astype(dtype) for s in SHAPES] for _ in range(6)]
    return params, grads


def test_fixture_covers_every_optimizer_and_clip_mode():
    for name in ["sgd", "sgd_momentum", "sgd_nesterov", "rmsprop", "rmsprop_momentum",
                 "rmsprop_centered", "adam", "adam_amsgrad", "adagrad", "adamw"]:
        for clip in ["noclip", "clipnorm", "clipvalue", "global_clipnorm"]:
            assert f"{name}-{clip}" in CASES
    assert any("expdecay" in c for c in CASES)


@pytest.mark.parametrize("case", CASES)
def test_matches_keras_step_by_step(case):
    opt = _build(json.loads(str(DATA[f"{case}/spec"])))
    params = _split(DATA[f"{case}/init"])
    for step, (grads, expected) in enumerate(zip(DATA[f"{case}/grads"], DATA[f"{case}/after"])):
        opt.apply(_split(grads), params)
        got = np.concatenate([p.ravel() for p in params])
        assert got.dtype == np.float32
        # ~1e-6 relative; the absolute floor covers elements that pass near zero.
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max(),
                                   err_msg=f"{case}, step {step}")
    assert opt.iterations == DATA[f"{case}/grads"].shape[0]


@pytest.mark.parametrize("cls,kwargs", ALL_KINDS)
def test_float64_params_follow_float32_path(cls, kwargs):
    p32, grads = _random_problem(1)
    p64 = [p.astype(np.float64) for p in p32]
    o32, o64 = cls(learning_rate=0.01, **kwargs), cls(learning_rate=0.01, **kwargs)
    for g in grads:
        o32.apply(g, p32)
        o64.apply([x.astype(np.float64) for x in g], p64)
    for a, b in zip(p32, p64):
        assert b.dtype == np.float64
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert all(s.dtype == np.float64 for slots in o64._slots.values() for s in slots)


@pytest.mark.parametrize("clip", CLIPS)
@pytest.mark.parametrize("cls,kwargs", ALL_KINDS)
def test_updates_in_place_and_leaves_gradients_alone(cls, kwargs, clip):
    params, grads = _random_problem(2)
    before = [p.copy() for p in params]
    ids = [id(p) for p in params]
    g_copy = [g.copy() for g in grads[0]]
    cls(learning_rate=0.05, **kwargs, **clip).apply(grads[0], params)
    assert [id(p) for p in params] == ids
    assert all(not np.array_equal(p, b) for p, b in zip(params, before))
    for g, c in zip(grads[0], g_copy):
        np.testing.assert_array_equal(g, c)


@pytest.mark.parametrize("cls,kwargs", ALL_KINDS)
def test_float64_gradients_for_float32_params(cls, kwargs):
    params, grads = _random_problem(3)
    ref = [p.copy() for p in params]
    cls(**kwargs).apply(grads[0], ref)
    cls(**kwargs).apply([g.astype(np.float64) for g in grads[0]], params)
    for p, r in zip(params, ref):
        assert p.dtype == np.float32
        np.testing.assert_allclose(p, r, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("clip", CLIPS + [{"weight_decay": 0.01}])
@pytest.mark.parametrize("cls,kwargs", ALL_KINDS)
def test_steps_do_not_allocate_parameter_sized_arrays(cls, kwargs, clip):
    rng = np.random.default_rng(0)
    params = [rng.normal(size=(1024, 512)).astype(np.float32), rng.normal(size=(512,)).astype(np.float32)]
    grads = [rng.normal(size=p.shape).astype(np.float32) for p in params]
    opt = cls(**kwargs, **clip)
    opt.apply(grads, params)  # builds the slots and scratch buffers
    tracemalloc.start()
    try:
        opt.apply(grads, params)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # Only small fixed-size temporaries (e.g. NumPy's 64 KiB casting buffer) are allowed.
    assert peak < params[0].nbytes / 8, f"a step allocated {peak} bytes (params are {params[0].nbytes} bytes)"


def test_apply_gradients_accepts_pairs_and_counts_iterations():
    params, grads = _random_problem(4)
    ref = [p.copy() for p in params]
    a, b = Adam(0.01), Adam(0.01)
    for g in grads[:3]:
        a.apply(g, ref)
        assert b.apply_gradients(zip(g, params)) == b.iterations
    assert b.iterations == 3
    for p, r in zip(params, ref):
        np.testing.assert_array_equal(p, r)


def test_none_gradient_skips_that_parameter():
    params, grads = _random_problem(5)
    frozen = params[1].copy()
    opt = AdamW(0.01)
    opt.apply([grads[0][0], None, grads[0][2]], params)
    np.testing.assert_array_equal(params[1], frozen)
    assert opt.iterations == 1
    with pytest.raises(ValueError, match="No gradients"):
        opt.apply([None, None, None], params)


def test_shape_and_count_mismatches_raise():
    params, grads = _random_problem(6)
    opt = RMSprop()
    opt.apply(grads[0], params)
    with pytest.raises(ValueError, match=r"params\[0\] must have shape \(3, 4\).*received shape \(4, 3\)"):
        opt.apply(grads[1], [params[0].reshape(4, 3)] + params[1:])
    with pytest.raises(ValueError, match=r"built for 3 parameter arrays; received 2"):
        opt.apply(grads[1][:2], params[:2])
    with pytest.raises(ValueError, match=r"grads\[1\] must have the shape of params\[1\]"):
        opt.apply([grads[1][0], np.zeros(5, np.float32), grads[1][2]], params)
    with pytest.raises(ValueError, match="same length"):
        opt.apply(grads[1][:2], params)
    with pytest.raises(TypeError, match=r"params\[0\] must be a floating-point np.ndarray"):
        SGD().apply([np.ones(3)], [np.ones(3, dtype=np.int64)])


def _schedule():
    return schedules.ExponentialDecay(0.05, decay_steps=2, decay_rate=0.5)


ROUND_TRIP = ALL_KINDS + [(SGD, {"learning_rate": _schedule(), "momentum": 0.9}),
                          (Adam, {"learning_rate": _schedule(), "clipnorm": 0.3, "weight_decay": 0.01}),
                          (Adagrad, {"learning_rate": schedules.CosineDecay(0.1, 10), "global_clipnorm": 1.0})]


@pytest.mark.parametrize("restore_before_build", [True, False])
@pytest.mark.parametrize("cls,kwargs", ROUND_TRIP)
def test_saved_state_and_config_continue_bit_identically(cls, kwargs, restore_before_build):
    params, grads = _random_problem(7)
    opt = cls(**kwargs)
    for g in grads[:3]:
        opt.apply(g, params)
    config = json.loads(json.dumps(optimizers.serialize(opt)))
    state = {k: v.copy() for k, v in opt.get_state().items()}
    saved_params = [p.copy() for p in params]

    clone = optimizers.deserialize(config)
    if not restore_before_build:
        clone.build(saved_params)
    clone.set_state(state)
    assert clone.iterations == 3
    for g in grads[3:]:
        opt.apply(g, params)
        clone.apply(g, saved_params)
    for p, q in zip(params, saved_params):
        np.testing.assert_array_equal(p, q)
    for key, value in opt.get_state().items():
        np.testing.assert_array_equal(value, clone.get_state()[key], err_msg=key)


def test_state_names_and_copies():
    params, grads = _random_problem(8)
    opt = Adam(amsgrad=True)
    opt.apply(grads[0], params)
    state = opt.get_state()
    assert set(state) == {"iterations", "learning_rate"} | {f"{s}/{i}" for s in ("m", "v", "v_hat") for i in range(3)}
    assert int(state["iterations"]) == 1
    opt.apply(grads[1], params)
    assert int(state["iterations"]) == 1 and not np.array_equal(state["m/0"], opt.get_state()["m/0"])
    assert set(SGD(momentum=0.5).get_state()) == {"iterations", "learning_rate"}


def test_set_state_validates_keys_and_shapes():
    params, grads = _random_problem(9)
    opt = Adam()
    opt.apply(grads[0], params)
    state = opt.get_state()
    with pytest.raises(ValueError, match="must contain 'iterations'"):
        Adam().set_state({k: v for k, v in state.items() if k != "iterations"})
    with pytest.raises(ValueError, match=r"expected keys .*'m/0'.*received"):
        Adam().set_state({k: v for k, v in state.items() if k != "v/2"})
    with pytest.raises(ValueError, match=r"expected keys"):
        RMSprop().set_state(state)
    bad = dict(state, **{"m/1": np.zeros(7, np.float32)})
    with pytest.raises(ValueError, match=r"state\['m/1'\] must have shape \(4,\); received \(7,\)"):
        opt.set_state(bad)
    fresh = Adam()
    fresh.set_state(state)
    with pytest.raises(ValueError, match=r"params\[2\] must have shape \(2, 3, 2\)"):
        fresh.apply(grads[1][:2] + [np.zeros((2, 6), np.float32)], params[:2] + [np.zeros((2, 6), np.float32)])


@pytest.mark.parametrize("cls,kwargs", ALL_KINDS)
def test_config_round_trip_is_json_and_complete(cls, kwargs):
    opt = cls(learning_rate=0.02, clipvalue=0.3, name="opt_x", **kwargs)
    config = opt.get_config()
    assert json.loads(json.dumps(config)) == config
    clone = cls.from_config(config)
    assert clone.get_config() == config
    assert config["learning_rate"] == 0.02 and config["clipvalue"] == 0.3 and config["name"] == "opt_x"


def test_defaults_match_keras():
    assert SGD().get_config() | {"name": None} == {
        "name": None, "learning_rate": 0.01, "momentum": 0.0, "nesterov": False, "weight_decay": None,
        "clipnorm": None, "global_clipnorm": None, "clipvalue": None}
    assert RMSprop().learning_rate == 0.001 and RMSprop().rho == 0.9 and RMSprop().epsilon == 1e-7
    adam = Adam()
    assert (adam.learning_rate, adam.beta_1, adam.beta_2, adam.epsilon, adam.amsgrad) == (0.001, 0.9, 0.999, 1e-7, False)
    assert (Adagrad().initial_accumulator_value, Adagrad().epsilon) == (0.1, 1e-7)
    assert AdamW().weight_decay == 0.004 and Adam().weight_decay is None


def test_keras_config_is_accepted():
    keras_config = {"name": "adam", "learning_rate": 0.002, "weight_decay": None, "clipnorm": None,
                    "global_clipnorm": None, "clipvalue": None, "use_ema": False, "ema_momentum": 0.99,
                    "ema_overwrite_frequency": None, "loss_scale_factor": None,
                    "gradient_accumulation_steps": None, "beta_1": 0.9, "beta_2": 0.999,
                    "epsilon": 1e-07, "amsgrad": False}
    opt = optimizers.deserialize({"module": "keras.optimizers", "class_name": "Adam",
                                  "config": keras_config, "registered_name": None})
    assert isinstance(opt, Adam) and opt.learning_rate == 0.002
    with pytest.raises(ValueError, match="`use_ema` is not supported.*received use_ema=True"):
        Adam.from_config(dict(keras_config, use_ema=True))


def test_get_resolves_names_dicts_and_instances():
    for name, cls in [("sgd", SGD), ("SGD", SGD), ("rmsprop", RMSprop), ("RMSprop", RMSprop),
                      ("adam", Adam), ("Adagrad", Adagrad), ("adamw", AdamW), ("ADAMW", AdamW)]:
        assert type(optimizers.get(name)) is cls
    opt = Adam(0.3)
    assert optimizers.get(opt) is opt
    assert optimizers.get(None) is None
    clone = optimizers.get(optimizers.serialize(RMSprop(0.2, centered=True)))
    assert isinstance(clone, RMSprop) and clone.centered and clone.learning_rate == 0.2
    with pytest.raises(ValueError) as err:
        optimizers.get("adamm")
    assert str(err.value) == ("Unknown optimizer 'adamm'; expected one of ['adadelta', 'adagrad', 'adam', 'adamax', "
                              "'adamw', 'ftrl', 'lion', 'nadam', 'rmsprop', 'sgd']")
    with pytest.raises(ValueError, match="Could not interpret optimizer identifier 3"):
        optimizers.get(3)


@pytest.mark.parametrize("cls,kwargs,arg", [
    (SGD, {"learning_rate": -0.1}, "learning_rate"),
    (Adam, {"learning_rate": "fast"}, "learning_rate"),
    (SGD, {"momentum": 1.5}, "momentum"),
    (RMSprop, {"rho": -0.1}, "rho"),
    (RMSprop, {"rho": 1.2}, "rho"),
    (RMSprop, {"epsilon": -1e-7}, "epsilon"),
    (Adam, {"beta_1": 1.0}, "beta_1"),
    (Adam, {"beta_2": -0.5}, "beta_2"),
    (Adagrad, {"initial_accumulator_value": -1.0}, "initial_accumulator_value"),
    (Adam, {"clipnorm": 0.0}, "clipnorm"),
    (Adam, {"clipvalue": -1.0}, "clipvalue"),
    (Adam, {"global_clipnorm": float("nan")}, "global_clipnorm"),
    (SGD, {"weight_decay": -0.1}, "weight_decay"),
    (AdamW, {"weight_decay": None}, "weight_decay"),
])
def test_bad_arguments_name_argument_expectation_and_value(cls, kwargs, arg):
    with pytest.raises(ValueError, match=rf"`{arg}` must be .*received {arg}="):
        cls(**kwargs)


def test_other_argument_errors():
    with pytest.raises(ValueError, match="Only one of `clipnorm`, `clipvalue` and `global_clipnorm`"):
        SGD(clipnorm=1.0, clipvalue=1.0)
    with pytest.raises(ValueError, match="not recognized by Adam: {'decay': 0.1}"):
        Adam(decay=0.1)


def test_learning_rate_property_and_schedules():
    opt = SGD(0.1)
    opt.learning_rate = 0.5
    assert opt.learning_rate == 0.5 and opt.get_config()["learning_rate"] == 0.5
    with pytest.raises(ValueError, match="`learning_rate` must be"):
        opt.learning_rate = -1.0
    opt.learning_rate = _schedule()
    assert opt.learning_rate == pytest.approx(0.05)
    params, grads = _random_problem(10)
    for g in grads[:4]:
        opt.apply(g, params)
    assert opt.learning_rate == pytest.approx(0.05 * 0.5 ** 2)  # evaluated at iterations == 4
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        opt.learning_rate = 0.1
    assert "learning_rate" not in opt.get_state()
    assert opt.get_config()["learning_rate"] == {"class_name": "ExponentialDecay", "config": {
        "initial_learning_rate": 0.05, "decay_steps": 2, "decay_rate": 0.5, "staircase": False,
        "name": "ExponentialDecay"}}


def test_weight_decay_is_decoupled_and_uses_the_scheduled_rate():
    p = [np.array([2.0], np.float32)]
    SGD(learning_rate=0.1, weight_decay=0.5).apply([np.array([0.0], np.float32)], p)
    np.testing.assert_allclose(p[0], [2.0 - 2.0 * 0.5 * 0.1], rtol=1e-7)  # not added to the gradient
    p = [np.array([2.0], np.float32)]
    opt = SGD(learning_rate=schedules.PiecewiseConstantDecay([0], [1.0, 0.25]), weight_decay=0.5)
    opt.apply([np.array([0.0], np.float32)], p)  # step 0 -> lr 1.0
    opt.apply([np.array([0.0], np.float32)], p)  # step 1 -> lr 0.25
    np.testing.assert_allclose(p[0], [2.0 * 0.5 * (1 - 0.125)], rtol=1e-7)


@pytest.mark.parametrize("case", SCHEDULE_CASES)
def test_schedules_match_keras(case):
    schedule = schedules.deserialize(json.loads(str(DATA[f"{case}/spec"])))
    expected = DATA[f"{case}/values"]
    # Keras evaluates in float32; rnnkit in float64.
    np.testing.assert_allclose([schedule(s) for s in range(len(expected))], expected, rtol=1e-6, atol=1e-7)
    clone = schedules.deserialize(json.loads(json.dumps(schedules.serialize(schedule))))
    assert type(clone) is type(schedule) and clone.get_config() == schedule.get_config()


def test_schedule_errors_and_access_path():
    assert optimizers.schedules.ExponentialDecay is schedules.ExponentialDecay
    with pytest.raises(ValueError, match=r"`decay_steps` must be a number > 0; received decay_steps=0"):
        schedules.ExponentialDecay(0.1, 0, 0.9)
    with pytest.raises(ValueError, match="one element fewer"):
        schedules.PiecewiseConstantDecay([1, 2], [0.1])
    with pytest.raises(ValueError, match="strictly increasing"):
        schedules.PiecewiseConstantDecay([2, 1], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="Unknown learning rate schedule 'Nope'"):
        schedules.deserialize({"class_name": "Nope", "config": {}})
