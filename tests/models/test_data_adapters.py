"""fit/evaluate/predict on generators, PyDataset/Sequence and other iterables of batches."""
from __future__ import annotations

import time
import warnings

import numpy as np
import pytest

from rnnkit import set_seed
from rnnkit.keras import Input, Model
from rnnkit.keras.callbacks import Callback
from rnnkit.keras.layers import LSTM, Dense, Embedding, SimpleRNN
from rnnkit.keras.models import Sequential
from rnnkit.keras.utils import PyDataset, Sequence


def _arrays(n=48, t=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, t, 2)).astype("float32")
    y = (x[:, :, 0].sum(axis=1) > 0).astype("float32")[:, None]
    return x, y


def _model(seed=0):
    set_seed(seed)
    model = Sequential([Input((None, 2)), SimpleRNN(4), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["acc"])
    return model


class Batches(PyDataset):
    def __init__(self, x, y, batch_size, sw=None, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.sw, self.batch_size = x, y, sw, batch_size
        self.epochs_ended = 0
        self.fetched = []

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, i):
        self.fetched.append(i)
        s = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return (self.x[s], self.y[s]) if self.sw is None else (self.x[s], self.y[s], self.sw[s])

    def on_epoch_end(self):
        self.epochs_ended += 1


def test_pydataset_fit_equals_array_fit_without_shuffle():
    x, y = _arrays()
    a = _model()
    ha = a.fit(x, y, batch_size=16, epochs=2, shuffle=False, verbose=0)
    b = _model()
    ds = Batches(x, y, 16)
    hb = b.fit(ds, epochs=2, shuffle=False, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert ha.history["loss"] == pytest.approx(hb.history["loss"], rel=1e-12)
    assert ds.epochs_ended == 2 and ds.fetched == [0, 1, 2, 0, 1, 2]
    assert b.evaluate(ds, verbose=0) == pytest.approx(b.evaluate(x, y, batch_size=16, verbose=0), rel=1e-6)
    np.testing.assert_allclose(b.predict(ds, verbose=0), b.predict(x, batch_size=16, verbose=0), rtol=1e-6)


def test_pydataset_shuffles_batch_order_and_keras2_sequence_works():
    x, y = _arrays()
    ds = Batches(x, y, 8)
    _model().fit(ds, epochs=3, verbose=0)  # shuffle=True by default
    orders = [ds.fetched[i:i + 6] for i in (0, 6, 12)]
    assert all(sorted(o) == list(range(6)) for o in orders)
    assert any(o != list(range(6)) for o in orders)

    class Old(Sequence):  # Keras 2 style: no super().__init__()
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return x[i * 16:(i + 1) * 16], y[i * 16:(i + 1) * 16]

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hist = _model().fit(Old(), epochs=1, verbose=0)
    assert len(hist.history["loss"]) == 1


def test_generator_with_steps_and_validation_generator_of_varying_lengths():
    rng = np.random.default_rng(0)

    def gen():
        while True:
            t = int(rng.integers(3, 9))  # every batch a different number of timesteps
            xb = rng.normal(size=(16, t, 2)).astype("float32")
            yield xb, (xb[:, :, 0].sum(axis=1) > 0).astype("float32")[:, None]

    model = _model()
    hist = model.fit(gen(), steps_per_epoch=15, epochs=4, validation_data=gen(), validation_steps=4, verbose=0)
    assert set(hist.history) == {"loss", "acc", "val_loss", "val_acc"}
    assert hist.history["loss"][-1] < hist.history["loss"][0]
    assert hist.params["steps"] == 15
    loss, acc = model.evaluate(gen(), steps=3, verbose=0)
    assert np.isfinite(loss) and 0 <= acc <= 1
    assert model.predict(gen(), steps=2, verbose=0).shape == (32, 1)


def test_infinite_generator_without_steps_is_a_clear_error():
    def forever():
        while True:
            yield _arrays(8)

    model = _model()
    with pytest.raises(ValueError, match="steps_per_epoch"):
        model.fit(forever(), epochs=2, verbose=0)

    class Endless(PyDataset):
        num_batches = None

        def __getitem__(self, i):
            return _arrays(8)

    with pytest.raises(ValueError, match="no end"):
        model.fit(Endless(), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="validation_steps"):
        model.fit(*_arrays(), epochs=2, validation_data=forever(), verbose=0)
    hist = model.fit(Endless(), steps_per_epoch=2, epochs=2, verbose=0)
    assert len(hist.history["loss"]) == 2


def test_finite_generator_one_epoch_and_running_out_with_steps():
    x, y = _arrays()
    model = _model()
    hist = model.fit(((x[i:i + 16], y[i:i + 16]) for i in range(0, 48, 16)), epochs=1, verbose=0)
    assert len(hist.history["loss"]) == 1
    with pytest.warns(UserWarning, match="ran out"):
        hist = model.fit(((x[i:i + 16], y[i:i + 16]) for i in range(0, 48, 16)), steps_per_epoch=2, epochs=3,
                         verbose=0)
    assert len(hist.history["loss"]) == 2  # stopped when the generator ran dry, as Keras does
    with pytest.raises(ValueError, match="no batches"):
        model.fit(iter([]), epochs=1, verbose=0)


def test_steps_per_epoch_continues_across_epochs_on_a_dataset():
    x, y = _arrays()
    ds = Batches(x, y, 8)  # 6 batches
    with pytest.warns(UserWarning, match="ran out"):
        _model().fit(ds, steps_per_epoch=4, epochs=3, shuffle=False, verbose=0)
    # epoch 1: 0-3; epoch 2: 4, 5 then the pass ends (Keras stops the epoch early, warning);
    # epoch 3 starts a new pass
    assert ds.fetched[:6] == [0, 1, 2, 3, 4, 5]
    assert ds.fetched[6:10] == [0, 1, 2, 3]


def test_reiterable_iterables_and_sample_weights_and_x_only_batches():
    x, y = _arrays()
    sw = np.linspace(0.1, 2.0, len(x))

    class Reiterable:
        def __iter__(self):
            for i in range(0, 48, 16):
                yield [x[i:i + 16], y[i:i + 16], sw[i:i + 16]]

    a = _model()
    a.fit(Reiterable(), epochs=2, shuffle=False, verbose=0)
    b = _model()
    b.fit(x, y, sample_weight=sw, batch_size=16, epochs=2, shuffle=False, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6)
    preds = a.predict((x[i:i + 10] for i in range(0, 48, 10)), verbose=0)
    np.testing.assert_allclose(preds, a.predict(x, verbose=0), rtol=1e-6)
    with pytest.raises(ValueError, match="has no y"):
        a.fit(((x[:4],) for _ in range(2)), epochs=1, verbose=0)


def test_class_weight_and_callbacks_with_a_dataset():
    x, y = _arrays()
    seen = []

    class Spy(Callback):
        def on_train_batch_end(self, batch, logs=None):
            seen.append(batch)

    a = _model()
    a.fit(Batches(x, y, 16), epochs=1, shuffle=False, class_weight={0: 1.0, 1: 3.0}, callbacks=[Spy()],
          verbose=0)
    b = _model()
    b.fit(x, y, batch_size=16, epochs=1, shuffle=False, class_weight={0: 1.0, 1: 3.0}, verbose=0)
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(wa, wb, rtol=1e-6)
    assert seen == [0, 1, 2]


def test_array_fit_with_iterable_validation_data():
    x, y = _arrays()
    model = _model()
    hist = model.fit(x, y, epochs=2, batch_size=16, validation_data=Batches(x[:16], y[:16], 8), verbose=0)
    assert len(hist.history["val_loss"]) == 2
    assert hist.history["val_loss"][-1] == pytest.approx(model.evaluate(x[:16], y[:16], verbose=0)[0], rel=1e-6)


def test_multi_input_functional_model_on_a_generator():
    set_seed(0)
    a, b = Input((4,)), Input((3,))
    from rnnkit.keras.layers import Concatenate

    out = Dense(1)(Concatenate()([a, b]))
    model = Model([a, b], out)
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(0)

    def gen():
        for _ in range(3):
            yield (rng.normal(size=(8, 4)), rng.normal(size=(8, 3))), rng.normal(size=(8, 1))

    hist = model.fit(gen(), epochs=1, verbose=0)
    assert np.isfinite(hist.history["loss"][0])


def test_bad_combinations_are_clear_errors():
    x, y = _arrays()
    model = _model()
    with pytest.raises(ValueError, match="y and sample_weight come from its batches"):
        model.fit(Batches(x, y, 8), y, verbose=0)
    with pytest.raises(ValueError, match="y and sample_weight come from its batches"):
        model.evaluate(Batches(x, y, 8), y, verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(Batches(x, y, 8), validation_split=0.2, verbose=0)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        model.fit(Batches(x, y, 8), steps_per_epoch=0, verbose=0)
    with pytest.raises(ValueError, match=r"x, \(x,\), \(x, y\) or \(x, y, sample_weight\)"):
        model.fit(iter([(x, y, y, y)]), verbose=0)
    with pytest.raises(ValueError, match="expects x of shape"):
        model.fit(iter([(x[:, :, :1], y)]), verbose=0)
    with pytest.raises(ValueError, match="workers"):
        Batches(x, y, 8, workers=0)


def test_predict_on_batches_of_different_lengths_with_sequences_out_is_a_clear_error():
    set_seed(0)
    model = Sequential([Input((None, 2)), SimpleRNN(3, return_sequences=True)])
    with pytest.raises(ValueError, match="different shapes"):
        model.predict(iter([np.zeros((2, 3, 2)), np.zeros((2, 4, 2))]), verbose=0)


class SlowBatches(Batches):
    def __getitem__(self, i):
        time.sleep(0.02)  # stands for reading a file
        return super().__getitem__(i)


def test_workers_prefetch_gives_the_same_training_and_saves_waiting():
    x, y = _arrays(96)
    a, b = _model(), _model()
    t0 = time.perf_counter()
    a.fit(SlowBatches(x, y, 8), epochs=1, shuffle=False, verbose=0)
    serial = time.perf_counter() - t0
    t0 = time.perf_counter()
    b.fit(SlowBatches(x, y, 8, workers=4, use_multiprocessing=True), epochs=1, shuffle=False, verbose=0)
    threaded = time.perf_counter() - t0
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)
    assert threaded < serial  # 12 sleeps of 20 ms overlap with 4 threads


def test_progress_bar_unknown_length_then_known(capsys):
    x, y = _arrays()
    model = _model()

    class TwoBatches:
        def __iter__(self):
            yield x[:16], y[:16]
            yield x[16:], y[16:]

    model.fit(TwoBatches(), epochs=2, verbose=2)
    out = capsys.readouterr().out
    assert "2/Unknown" in out and "\n2/2 - " in out  # the second epoch knows the length
    model.evaluate(TwoBatches(), verbose=1)
    assert "2/2" in capsys.readouterr().out


def test_embedding_lstm_on_a_token_generator():
    set_seed(0)
    rng = np.random.default_rng(0)
    model = Sequential([Embedding(20, 4), LSTM(4), Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy")

    def gen():
        while True:
            t = int(rng.integers(4, 10))
            ids = rng.integers(1, 20, size=(8, t))
            yield ids, (ids[:, 0] > 10).astype("float32")[:, None]

    hist = model.fit(gen(), steps_per_epoch=5, epochs=2, verbose=0)
    assert len(hist.history["loss"]) == 2
