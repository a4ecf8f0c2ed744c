"""``keras.preprocessing.text``: the Keras Tokenizer, kept in rnnkit."""
from ...preprocessing.text import *  # noqa: F401,F403
