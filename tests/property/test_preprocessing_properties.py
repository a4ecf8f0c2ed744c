"""pad_sequences and Tokenizer against small reference implementations, on random inputs."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from rnnkit.preprocessing.sequence import pad_sequences  # noqa: E402
from rnnkit.preprocessing.text import Tokenizer  # noqa: E402


def reference_pad(seqs, maxlen, padding, truncating, value):
    """One sequence at a time, written the obvious way."""
    target = max((len(s) for s in seqs), default=0) if maxlen is None else maxlen
    rows = []
    for s in seqs:
        s = list(s)
        if len(s) > target:
            s = s[len(s) - target:] if truncating == "pre" else s[:target]
        pad = [value] * (target - len(s))
        rows.append(pad + s if padding == "pre" else s + pad)
    return rows


@given(seqs=st.lists(st.lists(st.integers(-1000, 1000), max_size=12), max_size=8),
       maxlen=st.none() | st.integers(0, 15), padding=st.sampled_from(["pre", "post"]),
       truncating=st.sampled_from(["pre", "post"]), value=st.integers(-5, 5),
       as_arrays=st.booleans())
def test_pad_sequences_matches_reference(seqs, maxlen, padding, truncating, value, as_arrays):
    given_seqs = [np.asarray(s, dtype=np.int64) for s in seqs] if as_arrays else seqs
    out = pad_sequences(given_seqs, maxlen=maxlen, dtype="int64", padding=padding,
                        truncating=truncating, value=value)
    ref = reference_pad(seqs, maxlen, padding, truncating, value)
    target = max((len(s) for s in seqs), default=0) if maxlen is None else maxlen
    assert out.shape == (len(seqs), target)
    assert out.tolist() == ref


@given(seqs=st.lists(st.lists(st.floats(-1e3, 1e3), min_size=1, max_size=6), min_size=1, max_size=5),
       maxlen=st.integers(1, 8), padding=st.sampled_from(["pre", "post"]))
def test_pad_sequences_floats(seqs, maxlen, padding):
    out = pad_sequences(seqs, maxlen=maxlen, dtype="float64", padding=padding, value=-1.5)
    np.testing.assert_array_equal(out, np.array(reference_pad(seqs, maxlen, padding, "pre", -1.5)))


WORDS = st.text(alphabet="abcAB", min_size=1, max_size=3)
SEPARATORS = st.sampled_from([" ", "  ", ", ", ".", "!\n", "\t"])


@st.composite
def texts(draw):
    out = []
    for _ in range(draw(st.integers(0, 6))):
        words = draw(st.lists(WORDS, max_size=8))
        seps = draw(st.lists(SEPARATORS, min_size=len(words), max_size=len(words)))
        out.append("".join(w + s for w, s in zip(words, seps)))
    return out


def reference_tokenizer(train, test, num_words, oov):
    """Keras 2's rules: lower-case, split on punctuation/space, rank by count (ties: first seen)."""
    def tokens(text):
        for ch in '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n':
            text = text.replace(ch, " ")
        return text.lower().split()

    counts = Counter()
    first = {}
    for text in train:
        for w in tokens(text):
            counts[w] += 1
            first.setdefault(w, len(first))
    ranked = sorted(counts, key=lambda w: (-counts[w], first[w]))
    vocab = ([oov] if oov else []) + ranked
    index = {w: i + 1 for i, w in enumerate(vocab)}
    seqs = []
    for text in test:
        seq = []
        for w in tokens(text):
            i = index.get(w)
            if i is not None and (not num_words or i < num_words):
                seq.append(i)
            elif oov:
                seq.append(index[oov])
        seqs.append(seq)
    return index, seqs


@given(train=texts(), test=texts(), num_words=st.none() | st.integers(0, 8),
       oov=st.sampled_from([None, "<OOV>"]))
def test_tokenizer_matches_reference(train, test, num_words, oov):
    tok = Tokenizer(num_words=num_words, oov_token=oov)
    tok.fit_on_texts(train)
    index, seqs = reference_tokenizer(train, test, num_words, oov)
    assert tok.word_index == index
    assert tok.texts_to_sequences(test) == seqs
    # Round trip through JSON keeps the behaviour.
    from rnnkit.preprocessing.text import tokenizer_from_json

    assert tokenizer_from_json(tok.to_json()).texts_to_sequences(test) == seqs
