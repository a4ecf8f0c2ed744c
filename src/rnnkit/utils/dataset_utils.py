"""``keras.utils.timeseries_dataset_from_array`` and ``text_dataset_from_directory``.

Both return an :class:`ArrayBatches`: a :class:`~rnnkit.utils.PyDataset` of NumPy batches
that ``fit``/``evaluate``/``predict`` take directly and that can be iterated any number of
times (``for x, y in ds: ...``). Where Keras returns a ``tf.data.Dataset``, this is the
NumPy stand-in: same batches, same shapes and dtypes (text comes as ``str`` arrays).
"""
from __future__ import annotations

import os
from typing import Any, Sequence

import numpy as np

from .. import backend
from .py_dataset import PyDataset

__all__ = ["ArrayBatches", "timeseries_dataset_from_array", "text_dataset_from_directory"]


class ArrayBatches(PyDataset):
    """Batches cut from aligned arrays: ``ds[i]`` is ``arrays[0][rows]`` (one array) or the
    tuple of every array's rows, for ``rows = order[i * batch_size:(i + 1) * batch_size]``.

    ``order`` (sample indices, default all in order) picks and orders the samples; a
    ``take`` callable, when given, builds a batch from its row indices instead of indexing.
    ``text_dataset_from_directory`` sets ``class_names`` and ``file_paths``.
    """

    class_names: list[str]
    file_paths: list[str]

    def __init__(self, arrays: Sequence[Any], batch_size: int | None, order: np.ndarray | None = None,
                 take=None, **kwargs: Any):
        super().__init__(**kwargs)
        self.arrays = list(arrays)
        n = len(order) if order is not None else len(self.arrays[0])
        self.order = np.arange(n) if order is None else np.asarray(order)
        self.batch_size = batch_size
        self._take = take

    def __len__(self) -> int:
        n = len(self.order)
        if self.batch_size is None:
            return n
        return -(-n // self.batch_size)

    def __getitem__(self, index: int):
        if not -len(self) <= index < len(self):
            raise IndexError(f"batch index {index} out of range for {len(self)} batches")
        index %= len(self)
        if self.batch_size is None:  # unbatched: one sample per item, as Keras' batch_size=None
            rows = self.order[index:index + 1]
            out = self._batch(rows)
            return tuple(a[0] for a in out) if isinstance(out, tuple) else out[0]
        return self._batch(self.order[index * self.batch_size:(index + 1) * self.batch_size])

    def _batch(self, rows: np.ndarray):
        if self._take is not None:
            return self._take(rows)
        parts = tuple(np.asarray(a)[rows] for a in self.arrays)
        return parts[0] if len(parts) == 1 else parts

    @property
    def cardinality(self) -> int:
        return len(self)


def _int_arg(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"`{name}` must be an integer >= {low}; received {name}={value!r}")
    return int(value)


def timeseries_dataset_from_array(data, targets, sequence_length: int, sequence_stride: int = 1,
                                  sampling_rate: int = 1, batch_size: int | None = 128,
                                  shuffle: bool = False, seed: int | None = None,
                                  start_index: int | None = None, end_index: int | None = None
                                  ) -> ArrayBatches:
    """Sliding windows over ``data`` (shape ``(time, ...)``) as batches.

    Window ``i`` starts at ``p_i = start_index + i * sequence_stride`` and holds the rows
    ``p_i, p_i + sampling_rate, ..., p_i + (sequence_length - 1) * sampling_rate``; its target
    is ``targets[p_i]`` (so for forecasting pass ``targets = data[sequence_length:]``). Only
    rows ``start_index <= t < end_index`` are used, and there are no more windows than
    targets. Batches are ``x`` of shape ``(batch, sequence_length, ...)`` (and ``y``, shape
    ``(batch, ...)``, when ``targets`` is given); ``shuffle`` permutes the windows once,
    repeatably for a given ``seed``.
    """
    data = np.asarray(data)
    if data.ndim == 0:
        raise ValueError(f"`data` must be an array with a time axis first; received a scalar {data!r}")
    n = len(data)
    sequence_length = _int_arg("sequence_length", sequence_length, 1)
    sampling_rate = _int_arg("sampling_rate", sampling_rate, 1)
    sequence_stride = _int_arg("sequence_stride", sequence_stride, 1)
    if batch_size is not None:
        batch_size = _int_arg("batch_size", batch_size, 1)
    if sampling_rate >= n or sequence_stride >= n:
        raise ValueError(f"`sampling_rate` ({sampling_rate}) and `sequence_stride` ({sequence_stride}) "
                         f"must be lower than the length of the data ({n})")
    start = 0 if start_index is None else _int_arg("start_index", start_index, 0)
    if start >= n:
        raise ValueError(f"`start_index` must be lower than the length of the data ({n}); received "
                         f"start_index={start_index}")
    end = n if end_index is None else _int_arg("end_index", end_index, 1)
    if end_index is not None and (end <= start or end >= n):
        raise ValueError(f"`end_index` must be higher than start_index ({start}) and lower than the "
                         f"length of the data ({n}); received end_index={end_index}")
    num = end - start - (sequence_length - 1) * sampling_rate
    if targets is not None:
        targets = np.asarray(targets)
        num = min(num, len(targets) - start if len(targets) > start else 0)
    if num <= 0:
        raise ValueError(f"the data between start_index={start} and end_index={end} is too short for one "
                         f"window of sequence_length={sequence_length} at sampling_rate={sampling_rate}")
    starts = np.arange(0, num, sequence_stride)
    if shuffle:
        backend.make_rng(seed).shuffle(starts)
    offsets = np.arange(sequence_length) * sampling_rate
    window_data = data[start:end]
    window_targets = None if targets is None else targets[start:]

    def take(rows):
        s = starts[rows]
        x = window_data[s[:, None] + offsets]
        return x if window_targets is None else (x, window_targets[s])

    return ArrayBatches([starts], batch_size, take=take)


def _list_text_files(directory: str, follow_links: bool) -> list[str]:
    out = []
    for root, dirs, files in os.walk(directory, followlinks=follow_links):
        dirs.sort()
        out += [os.path.join(root, f) for f in sorted(files) if f.lower().endswith(".txt")]
    return out


def text_dataset_from_directory(directory, labels="inferred", label_mode: str | None = "int",
                                class_names: Sequence[str] | None = None, batch_size: int | None = 32,
                                max_length: int | None = None, shuffle: bool = True,
                                seed: int | None = None, validation_split: float | None = None,
                                subset: str | None = None, follow_links: bool = False,
                                verbose: bool = True, **kwargs: Any):
    """The ``.txt`` files under ``directory`` as batches of ``(texts, labels)``.

    With ``labels="inferred"`` each subfolder is a class (an ``aclImdb/train`` tree: ``neg/``,
    ``pos/``), classes ordered alphabetically (or as ``class_names``). ``labels`` may instead
    be a list of labels, one per file in sorted path order, or None (texts only).

    Batches: ``texts`` a ``str`` array ``(batch,)``; labels ``int32 (batch,)``
    (``label_mode="int"``), ``float32 (batch, 1)`` (``"binary"``, two classes) or
    ``float32 (batch, num_classes)`` (``"categorical"``). ``shuffle`` permutes the files once
    (repeatably given ``seed``); ``validation_split`` with ``subset="training"``,
    ``"validation"`` or ``"both"`` (a list of two datasets) holds out the last fraction.
    The result has ``class_names`` and ``file_paths``. ``max_length`` truncates each text to
    that many characters.
    """
    for k in kwargs:
        if k != "format":
            raise TypeError(f"text_dataset_from_directory() got an unexpected keyword argument {k!r}")
    directory = os.fspath(directory)
    if not os.path.isdir(directory):
        raise ValueError(f"text_dataset_from_directory: `directory` must be an existing folder; "
                         f"received {directory!r}")
    if label_mode not in ("int", "binary", "categorical", None):
        raise ValueError("`label_mode` must be one of 'int', 'binary', 'categorical' or None; received "
                         f"label_mode={label_mode!r}")
    if batch_size is not None:
        batch_size = _int_arg("batch_size", batch_size, 1)
    if max_length is not None:
        max_length = _int_arg("max_length", max_length, 1)
    if validation_split is not None and not 0 < validation_split < 1:
        raise ValueError(f"`validation_split` must be in (0, 1); received {validation_split!r}")
    if (validation_split is None) != (subset is None):
        raise ValueError("`validation_split` and `subset` go together: pass both or neither; received "
                         f"validation_split={validation_split!r}, subset={subset!r}")
    if subset not in (None, "training", "validation", "both"):
        raise ValueError(f"`subset` must be 'training', 'validation' or 'both'; received {subset!r}")
    if validation_split is not None and shuffle and seed is None:
        raise ValueError("with validation_split and shuffle=True pass a `seed`, so that the training and "
                         "validation subsets do not overlap")
    if labels is None:
        label_mode = None

    if labels == "inferred":
        found = sorted(d for d in os.listdir(directory) if os.path.isdir(os.path.join(directory, d)))
        if class_names is not None:
            if sorted(class_names) != found:
                raise ValueError(f"`class_names` {list(class_names)} must name exactly the subfolders of "
                                 f"{directory!r}: {found}")
            found = list(class_names)
        names = found
        paths, label_ids = [], []
        for i, name in enumerate(names):
            files = _list_text_files(os.path.join(directory, name), follow_links)
            paths += files
            label_ids += [i] * len(files)
    else:
        paths = _list_text_files(directory, follow_links)
        if labels is None:
            label_ids, names = [0] * len(paths), []
        else:
            if isinstance(labels, str) or len(labels) != len(paths):
                raise ValueError(f"`labels` must be 'inferred', None, or a list with one label per .txt "
                                 f"file ({len(paths)} found); received {labels!r:.80}")
            label_ids = [int(v) for v in labels]
            names = list(class_names) if class_names is not None else \
                [str(i) for i in range(max(label_ids) + 1 if label_ids else 0)]
    if not paths:
        raise ValueError(f"text_dataset_from_directory: no .txt files found under {directory!r}")
    if label_mode == "binary" and len(names) != 2:
        raise ValueError(f"label_mode='binary' needs exactly 2 classes; found {len(names)}: {names}")
    paths_arr, ids = np.array(paths), np.asarray(label_ids, dtype=np.int64)
    if shuffle:
        perm = backend.make_rng(seed).permutation(len(paths_arr))
        paths_arr, ids = paths_arr[perm], ids[perm]
    subsets = {"all": np.arange(len(paths_arr))}
    if validation_split is not None:
        n_val = int(validation_split * len(paths_arr))
        subsets = {"training": np.arange(len(paths_arr) - n_val),
                   "validation": np.arange(len(paths_arr) - n_val, len(paths_arr))}
    if verbose:
        print(f"Found {len(paths_arr)} files belonging to {len(names)} classes.")
        if validation_split is not None:
            for key in (("training", "validation") if subset == "both" else (str(subset),)):
                print(f"Using {len(subsets[key])} files for {key}.")

    def make(rows: np.ndarray) -> ArrayBatches:
        texts = np.array([_read_text(p, max_length) for p in paths_arr[rows]], dtype=str)
        y = _encode_labels(ids[rows], label_mode, len(names))
        ds = ArrayBatches([texts] if y is None else [texts, y], batch_size)
        ds.class_names, ds.file_paths = list(names), [str(p) for p in paths_arr[rows]]
        return ds

    if subset == "both":
        return [make(subsets["training"]), make(subsets["validation"])]
    return make(subsets[subset] if subset else subsets["all"])


def _read_text(path: str, max_length: int | None) -> str:
    with open(path, "rb") as fh:
        # Reading a bounded prefix keeps a huge stray file from filling memory when truncating.
        raw = fh.read(4 * max_length) if max_length is not None else fh.read()
    text = raw.decode("utf-8", errors="replace")
    return text[:max_length] if max_length is not None else text


def _encode_labels(ids: np.ndarray, label_mode: str | None, num_classes: int):
    if label_mode is None:
        return None
    if label_mode == "int":
        return ids.astype(np.int32)
    if label_mode == "binary":
        return ids.astype(np.float32)[:, None]
    out = np.zeros((len(ids), num_classes), dtype=np.float32)
    out[np.arange(len(ids)), ids] = 1.0
    return out
