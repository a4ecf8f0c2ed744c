"""Bad input raises a clear error naming the layer, the argument, the expectation and the value."""
from __future__ import annotations

import numpy as np
import pytest

from rnnkit import layers as L
from rnnkit.models import Sequential


def test_wrong_rank_names_expected_shape():
    with pytest.raises(ValueError, match=r"LSTM 'lstm\w*' expects input of shape \(batch, timesteps, "
                                         r"features\).*; received \(32, 10\)"):
        L.LSTM(4)(np.zeros((32, 10)))


def test_feature_size_differs_from_built():
    layer = L.GRU(3)
    layer(np.zeros((2, 4, 5)))
    with pytest.raises(ValueError, match=r"built for features=5; received input of shape \(2, 4, 6\)"):
        layer(np.zeros((2, 4, 6)))


@pytest.mark.parametrize("ids,msg", [
    (np.array([[1, 10]]), r"ids in \[0, input_dim=10\); received id 10"),
    (np.array([[-1, 2]]), r"received id -1"),
    (np.array([[1.5, 2.0]]), r"expects integer ids; received float input with non-integer value 1.5"),
])
def test_embedding_bad_ids(ids, msg):
    with pytest.raises(ValueError, match=msg):
        L.Embedding(10, 3)(ids)


def test_embedding_accepts_integral_floats():
    layer = L.Embedding(10, 3)
    np.testing.assert_array_equal(layer(np.array([[1.0, 2.0]])), layer(np.array([[1, 2]])))


def test_embedding_rejects_strings_and_ragged():
    with pytest.raises(TypeError, match="expects integer ids; received dtype"):
        L.Embedding(10, 3)(np.array([["a", "b"]]))
    with pytest.raises(ValueError, match="pad_sequences"):
        L.Embedding(10, 3)(np.array([[1, 2], [3]], dtype=object))


@pytest.mark.parametrize("make,msg", [
    (lambda: L.LSTM(3, activation="tanhh"), r"Unknown activation 'tanhh'; expected one of"),
    (lambda: L.SimpleRNN(3, kernel_initializer="glorot"), r"Unknown initializer 'glorot'"),
    (lambda: L.Bidirectional(L.LSTM(3), merge_mode="max"), r"merge_mode must be one of .*received 'max'"),
    (lambda: L.Bidirectional(L.Dense(3)), r"expects a recurrent layer .* received Dense"),
    (lambda: L.LSTM(0), r"LSTM: units must be a positive integer; received 0"),
    (lambda: L.GRU(3, dropout=1.5), r"GRU: dropout must be a float in \[0, 1\); received 1.5"),
    (lambda: L.Dense(-2), r"Dense: units must be a positive integer; received -2"),
    (lambda: L.Dropout(1.0), r"Dropout: rate must be a float in \[0, 1\); received 1.0"),
    (lambda: L.Embedding(0, 3), r"Embedding: input_dim must be a positive integer; received 0"),
])
def test_bad_constructor_arguments(make, msg):
    with pytest.raises(ValueError, match=msg):
        make()


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError, match=r"LSTM\(\) got unexpected keyword argument\(s\): unitz"):
        L.LSTM(3, unitz=4)


def test_stateful_needs_fixed_batch_size():
    with pytest.raises(ValueError, match=r"stateful, so it needs a fixed batch size.*received input "
                                         r"shape \(None, 5, 4\)"):
        Sequential([L.LSTM(3, stateful=True, input_shape=(5, 4))])


def test_stateful_wrong_batch_size():
    layer = L.SimpleRNN(3, stateful=True, batch_input_shape=(4, 5, 2))
    layer.build((4, 5, 2))
    with pytest.raises(ValueError, match=r"stateful with batch size 4; received a batch of 3"):
        layer(np.zeros((3, 5, 2)))


def test_set_weights_wrong_count_and_shape():
    layer = L.LSTM(3)
    layer.build((None, 5, 4))
    with pytest.raises(ValueError, match=r"expects 3 weight arrays .* received 2"):
        layer.set_weights(layer.get_weights()[:2])
    bad = layer.get_weights()
    bad[1] = np.zeros((3, 3))
    with pytest.raises(ValueError, match=r"weight 'lstm\w*/recurrent_kernel' expects shape \(3, 12\); "
                                         r"received \(3, 3\)"):
        layer.set_weights(bad)
    unbuilt = L.GRU(2)
    with pytest.raises(ValueError, match="has no weights yet"):
        unbuilt.set_weights([])


def test_bad_mask_and_initial_state_shapes():
    layer = L.LSTM(3)
    x = np.zeros((2, 5, 4))
    with pytest.raises(ValueError, match=r"mask of shape \(batch, timesteps\) = \(2, 5\); received \(2, 4\)"):
        layer(x, mask=np.ones((2, 4), bool))
    with pytest.raises(ValueError, match=r"initial_state to be a list of 2 array\(s\) \(h, c\).*received 1"):
        layer(x, initial_state=[np.zeros((2, 3))])
    with pytest.raises(ValueError, match=r"initial_state array of shape \(batch, units\) = \(2, 3\); "
                                         r"received \(2, 4\)"):
        layer(x, initial_state=[np.zeros((2, 4)), np.zeros((2, 3))])


def test_object_and_string_inputs():
    with pytest.raises(ValueError, match="ragged or object array"):
        L.SimpleRNN(2)(np.array([[[1.0]], [[1.0], [2.0]]], dtype=object))
    with pytest.raises(TypeError, match="expects a numeric array; received dtype <U1"):
        L.SimpleRNN(2)(np.array([[["a"]]]))
