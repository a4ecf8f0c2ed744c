"""IMDB sentiment from raw review text: Tokenizer -> pad_sequences -> Embedding -> LSTM.

    python examples/imdb_tokenizer.py [--quick]

Reads the raw reviews (imdb_reviews.csv.gz in $RNNKIT_DATA, or the aclImdb/ folder).
"""
import sys

import numpy as np

import rnnkit
from rnnkit.datasets import imdb
from rnnkit.keras.layers import LSTM, Dense, Embedding
from rnnkit.keras.models import Sequential
from rnnkit.keras.preprocessing.sequence import pad_sequences
from rnnkit.keras.preprocessing.text import Tokenizer

quick = "--quick" in sys.argv
n = 600 if quick else 25000
rnnkit.set_seed(0)
train_texts, y_train = imdb.load_texts(split="train", strip_html=True, seed=1)
test_texts, y_test = imdb.load_texts(split="test", strip_html=True, seed=2)
train_texts, y_train = train_texts[:n], y_train[:n]
test_texts, y_test = test_texts[:n], y_test[:n]

max_words, maxlen = 10000, 200
tokenizer = Tokenizer(num_words=max_words)
tokenizer.fit_on_texts(train_texts)
print(f"{len(tokenizer.word_index)} distinct words; keeping the {max_words} most frequent")
x_train = pad_sequences(tokenizer.texts_to_sequences(train_texts), maxlen=maxlen)
x_test = pad_sequences(tokenizer.texts_to_sequences(test_texts), maxlen=maxlen)
print("x_train:", x_train.shape)

model = Sequential([Embedding(max_words, 32, input_length=maxlen), LSTM(32),
                    Dense(1, activation="sigmoid")])
model.compile(optimizer="rmsprop", loss="binary_crossentropy", metrics=["acc"])
model.fit(x_train, y_train, epochs=1 if quick else 3, batch_size=128, validation_split=0.2,
          verbose=2)
loss, acc = model.evaluate(x_test, y_test, verbose=0)
print(f"test accuracy: {acc:.4f}")
