"""rnnkit.inspect.explain: integrated gradients, running predictions, gate maps, reports."""
from __future__ import annotations

import os
import shutil
import subprocess

import numpy as np
import pytest

import reference as ref
from rnnkit import inspect as ri
from rnnkit import layers as L
from rnnkit.inspect.explain import _running_from_trace, decode_ids, gauss_legendre
from rnnkit.inspect.report import colorize, png_bytes
from rnnkit.models import Model, Sequential

V, D, U, T = 30, 4, 5, 9


def model_of(rnn, mask_zero=False, rng=None, dtype="float64", classes=1):
    act = "sigmoid" if classes == 1 else "softmax"
    model = Sequential([L.Embedding(V, D, mask_zero=mask_zero, dtype=dtype), *rnn,
                        L.Dense(classes, activation=act, dtype=dtype)])
    model.build((None, T))
    for lay in model.layers:
        ref.randomize(lay, rng, scale=0.8)
    return model


def ids_of(rng, pad=3):
    ids = rng.integers(3, V, size=T)
    ids[:pad] = 0
    ids[pad] = 1
    return ids


MODELS = {
    "lstm": lambda: [L.LSTM(U, dtype="float64")],
    "gru_stack": lambda: [L.GRU(U, return_sequences=True, dtype="float64"), L.SimpleRNN(U, dtype="float64")],
    "bidirectional": lambda: [L.Bidirectional(L.LSTM(U, dtype="float64"), dtype="float64")],
    "go_backwards": lambda: [L.GRU(U, go_backwards=True, dtype="float64")],
}


@pytest.mark.parametrize("kind,mask_zero,baseline", [
    ("lstm", False, "zero"), ("lstm", True, "pad"), ("gru_stack", True, "zero"),
    ("bidirectional", False, "pad"), ("go_backwards", True, "zero")])
def test_integrated_gradients_completeness_and_finite_differences(kind, mask_zero, baseline, rng):
    model = model_of(MODELS[kind](), mask_zero, rng)
    ids = ids_of(rng)
    attr, f_x, f_0 = ri.integrated_gradients(model, ids, baseline=baseline, steps=32)
    np.testing.assert_allclose(f_x, model.predict(ids[None], verbose=0)[0, 0], atol=1e-12)
    assert abs(attr.sum() - (f_x - f_0)) < 1e-8  # completeness
    attr, _, _ = ri.integrated_gradients(model, ids, baseline=baseline, steps=12)
    if baseline == "pad":
        assert np.all(attr[:3] == 0)  # padding positions equal the baseline

    # Independent: the same path integral with finite-difference gradients of model.predict.
    emb = model.layers[0]
    E = emb(ids[None])[0]
    E0 = np.zeros_like(E) if baseline == "zero" else emb(np.zeros((1, T), int))[0]
    mask = None if not mask_zero else (ids != 0)[None]
    rest = Sequential(model.layers[1:])

    def f(Z):
        return float(rest(Z[None], mask=mask)[0, 0])

    alphas, weights = gauss_legendre(12)
    grad = np.zeros_like(E)
    eps = 1e-6
    for a, w in zip(alphas, weights):
        Z = E0 + a * (E - E0)
        for t in range(T):
            for d in range(D):
                Zp, Zm = Z.copy(), Z.copy()
                Zp[t, d] += eps
                Zm[t, d] -= eps
                grad[t, d] += w * (f(Zp) - f(Zm)) / (2 * eps)
    np.testing.assert_allclose(attr, ((E - E0) * grad).sum(-1), atol=1e-7)


def test_integrated_gradients_of_a_float32_model_and_a_softmax_target(rng):
    model = model_of([L.GRU(U)], rng=rng, dtype="float32", classes=3)
    ids = ids_of(rng)
    for target in range(3):
        attr, f_x, f_0 = ri.integrated_gradients(model, ids, target=target)
        assert abs(attr.sum() - (f_x - f_0)) < 1e-4


@pytest.mark.parametrize("kind,mask_zero", [("lstm", False), ("lstm", True), ("gru_stack", True),
                                            ("bidirectional", False), ("go_backwards", False)])
def test_running_predictions_are_the_predictions_on_every_prefix(kind, mask_zero, rng):
    model = model_of(MODELS[kind](), mask_zero, rng)
    ids = ids_of(rng)
    ids[5] = 0  # padding inside the text: masked with mask_zero
    run = ri.running_predictions(model, ids)
    want = [model.predict(ids[None, :t + 1], verbose=0)[0, 0] for t in range(T)]
    np.testing.assert_allclose(run, want, atol=1e-12)
    uses_trace = _running_from_trace(model.layers, ids) is not None
    assert uses_trace == (kind in ("lstm", "gru_stack"))


def test_explain_text_through_the_word_index(rng):
    model = model_of([L.LSTM(U, dtype="float64")], True, rng)
    words = ["great", "movie", "bad", "acting"]
    meta = {"task": "imdb", "num_words": V, "maxlen": T, "index_from": 3, "start_char": 1, "oov_char": 2,
            "word_index": {w: i + 1 for i, w in enumerate(words)}}
    ex = ri.explain(model, "Great movie, BAD acting!", meta=meta)
    assert ex["tokens"] == ["<start>", "great", "movie", "bad", "acting"]
    np.testing.assert_array_equal(ex["ids"], [1, 4, 5, 6, 7])
    np.testing.assert_array_equal(ex["positions"], [4, 5, 6, 7, 8])  # leading padding left out
    n = len(ex["tokens"])
    assert ex["running"].shape == ex["attributions"].shape == (n,)
    assert set(ex["gates"]) == {"input_gate", "forget_gate", "output_gate"}
    assert all(g.shape == (U, n) for g in ex["gates"].values())
    assert ex["running"][-1] == pytest.approx(ex["prediction"], abs=1e-12)
    assert ex["completeness_error"] < 1e-7
    full = ri.trace(model, ri.explain.__globals__["encode_text"]("Great movie, BAD acting!", meta))
    np.testing.assert_allclose(ex["gates"]["forget_gate"], full["lstm" if "lstm" in full else
                                                                 list(full)[0]]["forget_gate"][0, 4:].T)
    ex = ri.explain(model, [1, 4, 5], gates=["cell_state", "hidden_state"], baseline="pad")
    assert ex["tokens"] == ["1", "4", "5"] and set(ex["gates"]) == {"cell_state", "hidden_state"}
    assert decode_ids([0, 1, 2, 4, 99], meta) == ["<pad>", "<start>", "<oov>", "great", "#99"]
    assert decode_ids([0, 2], {"chars": "ab"}) == ["a", "#2"]


def test_explain_errors(rng):
    model = model_of([L.LSTM(U, dtype="float64")], rng=rng)
    with pytest.raises(ValueError, match="baseline must be"):
        ri.explain(model, [1, 2], baseline="mean")
    with pytest.raises(ValueError, match="word_index"):
        ri.explain(model, "some text")  # no metadata to encode it with
    with pytest.raises(ValueError, match=r"\[0, 30\)"):
        ri.explain(model, [1, 99])
    with pytest.raises(ValueError, match="1-D sequence of integer"):
        ri.explain(model, np.zeros((2, 3), int))
    with pytest.raises(ValueError, match="not in layer"):
        ri.explain(model, [1, 2], gates=["update_gate"])
    with pytest.raises(ValueError, match="first layer is an Embedding"):
        ri.explain(Sequential([L.LSTM(U), L.Dense(1)]), [1, 2])
    inp = L.Input(shape=(T,), dtype="int32")
    with pytest.raises(ValueError, match="Sequential"):
        ri.explain(Model(inp, L.Dense(1)(L.LSTM(U)(L.Embedding(V, D)(inp)))), [1, 2])


def test_png_encoder_round_trip(rng):
    plt_image = pytest.importorskip("matplotlib.image")
    rgb = rng.integers(0, 256, size=(7, 11, 3)).astype(np.uint8)
    import io
    back = plt_image.imread(io.BytesIO(png_bytes(rgb)), format="png")
    np.testing.assert_array_equal((back[..., :3] * 255).round().astype(np.uint8), rgb)
    c = colorize(np.array([[0.0, 1.0, np.nan]]))
    assert c[0, 2].tolist() == [220, 220, 220] and c[0, 0].sum() > c[0, 1].sum()
    signed = colorize(np.array([[-2.0, 0.0, 2.0]]))
    assert signed[0, 0, 0] > signed[0, 0, 2] and signed[0, 2, 2] > signed[0, 2, 0]


def explanation(rng):
    model = model_of([L.LSTM(U, dtype="float64")], rng=rng)
    return ri.explain(model, ids_of(rng))


def test_html_report_is_self_contained(rng, tmp_path):
    ex = explanation(rng)
    path = ri.save_report(ex, str(tmp_path / "r.html"))
    text = open(path, encoding="utf-8").read()
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert "data:image/png;base64," in text and "<svg" in text
    # Nothing is fetched: no scripts, no external stylesheets, images or fonts.
    assert "<script" not in text and "<link" not in text
    assert "src=\"http" not in text and "href=\"http" not in text and "url(" not in text
    body = text.split('<div class="text">')[1].split("</div>")[0]
    assert body.count("<span style=\"background:") == len(ex["tokens"])
    assert "completeness" in text.lower() and ex["baseline"] in text
    with pytest.raises(ValueError, match=".html or .png"):
        ri.save_report(ex, str(tmp_path / "r.pdf"))


def test_png_report(rng, tmp_path):
    image = pytest.importorskip("matplotlib.image")
    ex = explanation(rng)
    path = ri.save_report(ex, str(tmp_path / "r.png"))
    img = image.imread(path)
    assert img.shape[0] > 300 and img.shape[1] > 500
    assert (img[..., :3].std(axis=(0, 1)) > 0.05).all()  # a drawn figure, not a blank canvas


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs headless chromium (apt-get install chromium)")
def test_html_report_renders_in_headless_chromium(rng, tmp_path):
    image = pytest.importorskip("matplotlib.image")
    ex = explanation(rng)
    html_path = ri.save_report(ex, str(tmp_path / "r.html"))
    shot = tmp_path / "shot.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                    f"--screenshot={shot}", "--window-size=1000,900", f"file://{html_path}"],
                   capture_output=True, timeout=120, env={**os.environ, "HOME": str(tmp_path)})
    img = image.imread(str(shot))[..., :3]
    assert img.shape[:2] == (900, 1000)
    # The attribution colours and the heatmaps were drawn: strongly blue and red pixels.
    blue = (img[..., 2] > 0.5) & (img[..., 0] < 0.35)
    red = (img[..., 0] > 0.55) & (img[..., 2] < 0.35)
    assert blue.sum() > 200 and red.sum() > 50
