"""Nadam, Adamax, Adadelta, Lion, Ftrl: step-equal to Keras 3 (fixtures from
tests/fixtures/make_keras_extra_training_fixtures.py), by name, config and state."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rnnkit import optimizers
from rnnkit.keras import optimizers as keras_optimizers

DATA = np.load(Path(__file__).parent / "fixtures" / "training" / "extra.npz")
META = json.loads(DATA["meta"].tobytes())


@pytest.mark.parametrize("key", sorted(META["optimizers"]))
def test_steps_match_keras(key):
    cls_name, cfg = META["optimizers"][key]
    opt = getattr(optimizers, cls_name)(**cfg)
    params = [DATA["opt/p0_0"].copy(), DATA["opt/p0_1"].copy()]
    for s in range(META["steps"]):
        opt.apply([DATA[f"opt/g{s}_0"], DATA[f"opt/g{s}_1"]], params)
        for j, p in enumerate(params):
            ref = DATA[f"opt/{key}/step{s}_{j}"]
            np.testing.assert_allclose(p, ref, rtol=2e-6, atol=2e-7, err_msg=f"{key} step {s} param {j}")


@pytest.mark.parametrize("name,cls", [("nadam", "Nadam"), ("Adamax", "Adamax"), ("adadelta", "Adadelta"),
                                      ("LION", "Lion"), ("ftrl", "Ftrl")])
def test_lookup_by_name_and_exports(name, cls):
    opt = optimizers.get(name)
    assert type(opt).__name__ == cls
    assert getattr(keras_optimizers, cls) is type(opt)
    again = optimizers.deserialize(optimizers.serialize(opt))
    assert type(again) is type(opt) and again.get_config() == opt.get_config()


@pytest.mark.parametrize("cls_name", ["Nadam", "Adamax", "Adadelta", "Lion", "Ftrl"])
def test_state_round_trip_continues_identically(cls_name):
    rng = np.random.default_rng(0)
    p = [rng.normal(size=(3, 2)), rng.normal(size=(2,))]
    grads = [[rng.normal(size=a.shape) for a in p] for _ in range(4)]
    a = getattr(optimizers, cls_name)(learning_rate=0.05)
    pa = [x.copy() for x in p]
    for g in grads[:2]:
        a.apply(g, pa)
    b = getattr(optimizers, cls_name)(learning_rate=0.05)
    b.set_state(a.get_state())
    pb = [x.copy() for x in pa]
    for g in grads[2:]:
        a.apply(g, pa)
        b.apply(g, pb)
    for x, y in zip(pa, pb):
        np.testing.assert_array_equal(x, y)


def test_optimizers_train_a_model():
    from rnnkit import set_seed
    from rnnkit.keras.layers import Dense
    from rnnkit.keras.models import Sequential

    rng = np.random.default_rng(1)
    x = rng.normal(size=(64, 3)).astype("float32")
    y = x @ np.array([[1.0], [-2.0], [0.5]], dtype="float32")
    for name in ("nadam", "adamax", "lion", "ftrl"):
        set_seed(0)
        model = Sequential([Dense(1, input_shape=(3,))])
        model.compile(optimizer=optimizers.get(name), loss="mse")
        model.optimizer.learning_rate = 0.05 if name != "ftrl" else 0.5
        first = model.evaluate(x, y, verbose=0)
        model.fit(x, y, epochs=20, batch_size=16, verbose=0)
        assert model.evaluate(x, y, verbose=0) < 0.5 * first, name
    model = Sequential([Dense(1, input_shape=(3,))])
    model.compile(optimizer="adadelta", loss="mse")
    assert isinstance(model.optimizer, optimizers.Adadelta)


@pytest.mark.parametrize("factory", [
    lambda: optimizers.Nadam(beta_1=1.5), lambda: optimizers.Adamax(epsilon=-1),
    lambda: optimizers.Adadelta(rho=2), lambda: optimizers.Lion(beta_1=0),
    lambda: optimizers.Ftrl(learning_rate_power=0.5), lambda: optimizers.Ftrl(l1_regularization_strength=-1)])
def test_bad_arguments_name_the_argument(factory):
    with pytest.raises(ValueError, match="Argument `"):
        factory()


def test_unknown_name_lists_the_new_ones():
    with pytest.raises(ValueError, match="nadam"):
        optimizers.get("nadamm")
