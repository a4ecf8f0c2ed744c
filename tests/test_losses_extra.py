"""KLDivergence, CosineSimilarity, Poisson, LogCosh, CategoricalHinge: values and gradients
against Keras 3 fixtures and float64 finite differences."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rnnkit import losses
from rnnkit.keras import losses as keras_losses

DATA = np.load(Path(__file__).parent / "fixtures" / "training" / "extra.npz")
NAMES = ["KLDivergence", "CosineSimilarity", "Poisson", "LogCosh", "CategoricalHinge"]
FUNCS = {"KLDivergence": "kl_divergence", "CosineSimilarity": "cosine_similarity", "Poisson": "poisson",
         "LogCosh": "log_cosh", "CategoricalHinge": "categorical_hinge"}


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("name", NAMES)
def test_value_and_gradient_match_keras(name, weighted):
    tag = f"loss/{name}/{'w' if weighted else 'u'}"
    yt, yp = DATA[f"{tag}/y_true"], DATA[f"{tag}/y_pred"]
    loss = getattr(losses, name)()
    sw = DATA["loss/sample_weight"] if weighted else None
    value, grad = loss.value_and_gradient(yt, yp, sample_weight=sw)
    np.testing.assert_allclose(value, DATA[f"{tag}/value"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grad, DATA[f"{tag}/grad"], rtol=1e-4, atol=1e-6)
    assert grad.dtype == np.float32


@pytest.mark.parametrize("name", NAMES)
def test_function_forms_match_keras(name):
    tag = f"loss/{name}/u"
    fn = getattr(keras_losses, FUNCS[name])
    np.testing.assert_allclose(fn(DATA[f"{tag}/y_true"], DATA[f"{tag}/y_pred"]), DATA[f"loss/{name}/fn"],
                               rtol=1e-5, atol=1e-6)


def _fd_inputs(name, rng):
    if name == "KLDivergence":
        return rng.dirichlet(np.ones(4), size=(3, 2)), rng.dirichlet(np.ones(4), size=(3, 2))
    if name == "Poisson":
        return rng.poisson(2.0, size=(3, 2, 4)).astype(float), rng.uniform(0.3, 3.0, size=(3, 2, 4))
    if name == "CategoricalHinge":
        return np.eye(4)[rng.integers(0, 4, size=(3, 2))], rng.normal(size=(3, 2, 4)) * 0.3
    return rng.normal(size=(3, 2, 4)), rng.normal(size=(3, 2, 4))


@pytest.mark.parametrize("reduction", ["sum_over_batch_size", "sum"])
@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_finite_differences_float64(name, reduction):
    rng = np.random.default_rng(3)
    yt, yp = _fd_inputs(name, rng)
    sw = rng.uniform(0.2, 2.0, size=(3,))
    loss = getattr(losses, name)(reduction=reduction)
    _, grad = loss.value_and_gradient(yt, yp, sample_weight=sw)
    eps = 1e-6
    num = np.zeros_like(yp)
    for idx in np.ndindex(yp.shape):
        old = yp[idx]
        yp[idx] = old + eps
        fp = loss(yt, yp, sample_weight=sw)
        yp[idx] = old - eps
        fm = loss(yt, yp, sample_weight=sw)
        yp[idx] = old
        num[idx] = (fp - fm) / (2 * eps)
    np.testing.assert_allclose(grad, num, rtol=1e-5, atol=1e-8)


@pytest.mark.parametrize("identifier,cls", [("kld", "KLDivergence"), ("KLD", "KLDivergence"),
                                            ("kl_divergence", "KLDivergence"), ("cosine_similarity", "CosineSimilarity"),
                                            ("poisson", "Poisson"), ("logcosh", "LogCosh"), ("log_cosh", "LogCosh"),
                                            ("categorical_hinge", "CategoricalHinge"), ("Poisson", "Poisson")])
def test_resolved_by_name(identifier, cls):
    assert type(losses.get(identifier)).__name__ == cls


def test_function_identifiers_train_with_gradients():
    loss = losses.get(keras_losses.log_cosh)
    assert isinstance(loss, losses.LogCosh)
    assert losses.deserialize(losses.serialize(losses.CosineSimilarity())).get_config()["axis"] == -1
    with pytest.raises(ValueError, match="axis"):
        losses.CosineSimilarity(axis=0)


def test_cosine_similarity_of_parallel_vectors_is_minus_one():
    v = np.array([[1.0, 2.0, 2.0]])
    assert losses.CosineSimilarity()(v, 3 * v) == pytest.approx(-1.0)
    assert losses.CosineSimilarity()(v, -v) == pytest.approx(1.0)
    # a zero prediction: Keras' norm floor gives 0, not nan
    assert losses.CosineSimilarity()(v, np.zeros((1, 3))) == 0.0


def test_model_trains_with_new_losses():
    from rnnkit import set_seed
    from rnnkit.keras.layers import Dense
    from rnnkit.keras.models import Sequential

    rng = np.random.default_rng(0)
    x = rng.normal(size=(128, 4)).astype("float32")
    counts = np.exp(x @ np.array([0.3, -0.2, 0.1, 0.4], dtype="float32"))[:, None]
    set_seed(0)
    model = Sequential([Dense(1, activation="softplus", input_shape=(4,))])
    model.compile(optimizer="adam", loss="poisson")
    model.optimizer.learning_rate = 0.05
    before = model.evaluate(x, counts, verbose=0)
    model.fit(x, counts, epochs=30, batch_size=32, verbose=0)
    assert model.evaluate(x, counts, verbose=0) < before
