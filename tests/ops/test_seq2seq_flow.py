"""The keras-io ``lstm_seq2seq`` example end to end, on a tiny synthetic corpus.

Train a character-level encoder-decoder, save and reload it, then cut the inference
encoder and decoder out of the trained model with ``model.input[i]`` and
``model.layers[i].output``, and decode greedily, as the example does (imports changed
to ``rnnkit.keras``).
"""
from __future__ import annotations

import os

import numpy as np

from rnnkit import backend
from rnnkit import keras


def corpus():
    # "translation": the input word reversed, between tab (start) and newline (end).
    words = ["abc", "bca", "cab", "acb", "bac", "cba", "aab", "bba", "cca", "abb", "bcc", "caa"]
    return words, ["\t" + w[::-1] + "\n" for w in words]


def test_lstm_seq2seq_train_then_build_inference_models_and_decode(tmp_path):
    backend.clear_session()
    backend.set_random_seed(3)
    input_texts, target_texts = corpus()
    input_characters = sorted(set("".join(input_texts)))
    target_characters = sorted(set("".join(target_texts)))
    num_encoder_tokens, num_decoder_tokens = len(input_characters), len(target_characters)
    max_encoder_seq_length = max(len(t) for t in input_texts)
    max_decoder_seq_length = max(len(t) for t in target_texts)
    input_token_index = {c: i for i, c in enumerate(input_characters)}
    target_token_index = {c: i for i, c in enumerate(target_characters)}
    n = len(input_texts)
    encoder_input_data = np.zeros((n, max_encoder_seq_length, num_encoder_tokens), dtype="float32")
    decoder_input_data = np.zeros((n, max_decoder_seq_length, num_decoder_tokens), dtype="float32")
    decoder_target_data = np.zeros((n, max_decoder_seq_length, num_decoder_tokens), dtype="float32")
    for i, (input_text, target_text) in enumerate(zip(input_texts, target_texts)):
        for t, char in enumerate(input_text):
            encoder_input_data[i, t, input_token_index[char]] = 1.0
        for t, char in enumerate(target_text):
            decoder_input_data[i, t, target_token_index[char]] = 1.0
            if t > 0:
                decoder_target_data[i, t - 1, target_token_index[char]] = 1.0

    latent_dim = 32
    encoder_inputs = keras.Input(shape=(None, num_encoder_tokens))
    encoder = keras.layers.LSTM(latent_dim, return_state=True, use_cudnn=False) \
        if _accepts_use_cudnn() else keras.layers.LSTM(latent_dim, return_state=True)
    encoder_outputs, state_h, state_c = encoder(encoder_inputs)
    encoder_states = [state_h, state_c]
    decoder_inputs = keras.Input(shape=(None, num_decoder_tokens))
    decoder_lstm = keras.layers.LSTM(latent_dim, return_sequences=True, return_state=True)
    decoder_outputs, _, _ = decoder_lstm(decoder_inputs, initial_state=encoder_states)
    decoder_dense = keras.layers.Dense(num_decoder_tokens, activation="softmax")
    decoder_outputs = decoder_dense(decoder_outputs)
    model = keras.Model([encoder_inputs, decoder_inputs], decoder_outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.02), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    hist = model.fit([encoder_input_data, decoder_input_data], decoder_target_data,
                     batch_size=4, epochs=60, verbose=0)
    assert hist.history["loss"][-1] < 0.2 * hist.history["loss"][0]
    path = os.path.join(tmp_path, "s2s_model.keras")
    model.save(path)

    # ---- inference, as in the example
    model = keras.models.load_model(path)
    encoder_inputs = model.input[0]  # input_1
    encoder_outputs, state_h_enc, state_c_enc = model.layers[2].output  # lstm_1
    encoder_states = [state_h_enc, state_c_enc]
    encoder_model = keras.Model(encoder_inputs, encoder_states)

    decoder_inputs = model.input[1]  # input_2
    decoder_state_input_h = keras.Input(shape=(latent_dim,))
    decoder_state_input_c = keras.Input(shape=(latent_dim,))
    decoder_states_inputs = [decoder_state_input_h, decoder_state_input_c]
    decoder_lstm = model.layers[3]
    decoder_outputs, state_h_dec, state_c_dec = decoder_lstm(decoder_inputs, initial_state=decoder_states_inputs)
    decoder_states = [state_h_dec, state_c_dec]
    decoder_dense = model.layers[4]
    decoder_outputs = decoder_dense(decoder_outputs)
    decoder_model = keras.Model([decoder_inputs] + decoder_states_inputs, [decoder_outputs] + decoder_states)
    assert model.layers[2].output[0].shape == (None, latent_dim)
    assert model.layers[4].input_shape == (None, None, latent_dim)

    reverse_target_char_index = {i: c for c, i in target_token_index.items()}

    def decode_sequence(input_seq):
        states_value = encoder_model.predict(input_seq, verbose=0)
        target_seq = np.zeros((1, 1, num_decoder_tokens))
        target_seq[0, 0, target_token_index["\t"]] = 1.0
        decoded = ""
        while True:
            output_tokens, h, c = decoder_model.predict([target_seq] + states_value, verbose=0)
            sampled_token_index = int(np.argmax(output_tokens[0, -1, :]))
            sampled_char = reverse_target_char_index[sampled_token_index]
            decoded += sampled_char
            if sampled_char == "\n" or len(decoded) > max_decoder_seq_length:
                break
            target_seq = np.zeros((1, 1, num_decoder_tokens))
            target_seq[0, 0, sampled_token_index] = 1.0
            states_value = [h, c]
        return decoded

    correct = sum(decode_sequence(encoder_input_data[i:i + 1]) == target_texts[i][1:] for i in range(n))
    assert correct >= n - 2, f"{correct}/{n} decoded correctly"
    # The inference pieces reuse the trained layers: one step of the decoder model equals the
    # trained model's first output step.
    states = encoder_model.predict(encoder_input_data[:3], verbose=0)
    step, _, _ = decoder_model.predict([decoder_input_data[:3, :1]] + states, verbose=0)
    full = model.predict([encoder_input_data[:3], decoder_input_data[:3]], verbose=0)
    np.testing.assert_allclose(step[:, 0], full[:, 0], rtol=1e-5, atol=1e-6)


def _accepts_use_cudnn() -> bool:
    try:
        keras.layers.LSTM(2, use_cudnn=False)
        return True
    except TypeError:
        return False
