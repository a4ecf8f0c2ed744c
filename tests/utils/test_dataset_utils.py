"""keras.utils.timeseries_dataset_from_array and text_dataset_from_directory."""
from __future__ import annotations

import numpy as np
import pytest

from rnnkit.keras.utils import PyDataset, text_dataset_from_directory, timeseries_dataset_from_array


def test_timeseries_windows_targets_and_batches():
    data = np.arange(100)
    ds = timeseries_dataset_from_array(data, data[10:], sequence_length=10, batch_size=16)
    assert isinstance(ds, PyDataset)
    x, y = ds[0]
    np.testing.assert_array_equal(x[0], data[:10])
    assert y[0] == 10 and x.shape == (16, 10)
    xs = np.concatenate([b[0] for b in ds])
    ys = np.concatenate([b[1] for b in ds])
    assert len(xs) == 90 and len(ds) == 6 and ds[-1][0].shape == (90 - 80, 10)
    np.testing.assert_array_equal(ys, data[10:])
    np.testing.assert_array_equal(xs[:, 0], data[:90])


def test_timeseries_stride_sampling_rate_and_index_range():
    data = np.arange(50)[:, None] * np.array([[1, -1]])  # (time, features)
    ds = timeseries_dataset_from_array(data, None, sequence_length=4, sequence_stride=3, sampling_rate=2,
                                       batch_size=None, start_index=5, end_index=40)
    first = ds[0]
    np.testing.assert_array_equal(first[:, 0], [5, 7, 9, 11])
    assert first.shape == (4, 2)
    starts = [ds[i][0, 0] for i in range(len(ds))]
    assert starts == list(range(5, 5 + 3 * len(ds), 3)) and starts[-1] + 6 < 40
    assert (40 - 5 - 3 * 2 - 1) // 3 + 1 == len(ds)


def test_timeseries_shuffle_is_repeatable_with_a_seed():
    data = np.arange(60)
    a = timeseries_dataset_from_array(data, data, sequence_length=5, batch_size=8, shuffle=True, seed=3)
    b = timeseries_dataset_from_array(data, data, sequence_length=5, batch_size=8, shuffle=True, seed=3)
    xa = np.concatenate([x for x, _ in a])
    np.testing.assert_array_equal(xa, np.concatenate([x for x, _ in b]))
    assert not np.array_equal(xa[:, 0], np.sort(xa[:, 0]))
    np.testing.assert_array_equal(np.sort(xa[:, 0]), np.arange(56))
    # targets travel with their window
    for x, y in a:
        np.testing.assert_array_equal(y, x[:, 0])


@pytest.mark.parametrize("kwargs,msg", [
    (dict(sequence_length=0), "sequence_length"), (dict(sequence_length=5, sampling_rate=0), "sampling_rate"),
    (dict(sequence_length=5, sequence_stride=100), "sequence_stride"),
    (dict(sequence_length=5, start_index=100), "start_index"),
    (dict(sequence_length=5, start_index=10, end_index=5), "end_index"),
    (dict(sequence_length=50), "too short"), (dict(sequence_length=5, batch_size=0), "batch_size")])
def test_timeseries_bad_arguments(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        timeseries_dataset_from_array(np.arange(20), None, **kwargs)


@pytest.fixture
def imdb_tree(tmp_path):
    """An aclImdb-style tree: train/{neg,pos}/<id>_<rating>.txt plus files that must be ignored."""
    root = tmp_path / "aclImdb" / "train"
    texts = {}
    for label, words in (("neg", ["awful", "bad", "dull", "poor", "weak"]),
                         ("pos", ["great", "fine", "superb", "moving", "witty", "lovely"])):
        (root / label).mkdir(parents=True)
        for i, w in enumerate(words):
            name = f"{i}_{2 if label == 'neg' else 9}.txt"
            text = f"A {w} film.<br /><br />Review {label} {i}."
            (root / label / name).write_text(text, encoding="utf-8")
            texts[text] = label
    (root / "urls_pos.txt").write_text("not in a class folder")
    (root / "pos" / "notes.md").write_text("not a .txt file")
    return root, texts


def test_text_dataset_infers_labels_from_folders(imdb_tree, capsys):
    root, texts = imdb_tree
    ds = text_dataset_from_directory(root, batch_size=4, seed=1)
    assert "Found 11 files belonging to 2 classes." in capsys.readouterr().out
    assert ds.class_names == ["neg", "pos"] and len(ds) == 3
    got = {}
    for x, y in ds:
        assert x.dtype.kind == "U" and y.dtype == np.int32 and y.shape == (len(x),)
        got.update({t: ds.class_names[label] for t, label in zip(x, y)})
    assert got == texts
    # shuffled once, repeatably
    order = [t for x, _ in ds for t in x]
    again = text_dataset_from_directory(root, batch_size=4, seed=1, verbose=False)
    assert order == [t for x, _ in again for t in x]
    unshuffled = text_dataset_from_directory(root, batch_size=4, shuffle=False, verbose=False)
    assert [t for x, _ in unshuffled for t in x][:5] == [t for t, lab in texts.items() if lab == "neg"]


def test_text_dataset_label_modes_and_max_length(imdb_tree):
    root, _ = imdb_tree
    x, y = text_dataset_from_directory(root, label_mode="binary", batch_size=32, shuffle=False, verbose=False)[0]
    assert y.dtype == np.float32 and y.shape == (11, 1) and y[:5].sum() == 0 and y[5:].sum() == 6
    x, y = text_dataset_from_directory(root, label_mode="categorical", batch_size=32, shuffle=False,
                                       verbose=False, max_length=6)[0]
    assert y.shape == (11, 2) and (y.sum(axis=1) == 1).all() and all(len(t) <= 6 for t in x)
    only = text_dataset_from_directory(root, labels=None, batch_size=32, shuffle=False, verbose=False)[0]
    assert isinstance(only, np.ndarray) and only.shape == (12,)  # every .txt file, the stray one too


def test_text_dataset_validation_split(imdb_tree):
    root, texts = imdb_tree
    train, val = text_dataset_from_directory(root, validation_split=0.3, subset="both", seed=5, batch_size=4,
                                             verbose=False)
    tx = [t for x, _ in train for t in x]
    vx = [t for x, _ in val for t in x]
    assert len(vx) == 3 and len(tx) == 8 and not set(tx) & set(vx) and set(tx) | set(vx) == set(texts)
    only_val = text_dataset_from_directory(root, validation_split=0.3, subset="validation", seed=5, verbose=False)
    assert [t for x, _ in only_val for t in x] == vx


@pytest.mark.parametrize("kwargs,msg", [
    (dict(label_mode="sparse"), "label_mode"), (dict(validation_split=0.2), "subset"),
    (dict(validation_split=0.2, subset="training"), "seed"), (dict(subset="training"), "subset"),
    (dict(class_names=["a", "b"]), "class_names"), (dict(labels=[0, 1]), "labels")])
def test_text_dataset_bad_arguments(imdb_tree, kwargs, msg):
    root, _ = imdb_tree
    with pytest.raises(ValueError, match=msg):
        text_dataset_from_directory(root, verbose=False, **kwargs)


def test_text_dataset_missing_or_empty_directory(tmp_path):
    with pytest.raises(ValueError, match="existing folder"):
        text_dataset_from_directory(tmp_path / "nope")
    (tmp_path / "a").mkdir()
    with pytest.raises(ValueError, match="no .txt files"):
        text_dataset_from_directory(tmp_path, verbose=False)


def test_text_dataset_trains_a_text_model(imdb_tree):
    from rnnkit import set_seed
    from rnnkit.keras.layers import Dense, TextVectorization
    from rnnkit.keras.models import Sequential

    root, _ = imdb_tree
    ds = text_dataset_from_directory(root, label_mode="binary", batch_size=4, seed=0, verbose=False)
    tv = TextVectorization(output_mode="multi_hot")
    tv.adapt(ds)
    set_seed(0)
    model = Sequential([tv, Dense(1, activation="sigmoid")])
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["acc"])
    model.optimizer.learning_rate = 0.1
    hist = model.fit(ds, epochs=15, verbose=0)
    assert hist.history["loss"][-1] < 0.5 * hist.history["loss"][0]
    assert hist.history["acc"][-1] == 1.0
